# gw_auth_jwt with RSA keys: RS256/384/512 (PKCS #1 v1.5) and PS256/384/512
# (PSS, MGF1 with the same hash, salt as long as the hash: RFC 7518 3.5), the
# keys as JWKs, as PEM public keys (SPKI and PKCS #1) and as an X.509
# certificate.  Keys are made for each run (the certificate with openssl).
#
# A refused request must not reach /_backend: its access log line "GET
# /_backend HTTP/1.0" is absent, or counted with --- hits.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;
use File::Temp qw(tempdir);

our $ka = rsa_key();
our $kb = rsa_key();

our $jwks_a = jwks(jwk($ka, kid => 'rsa-a'));
our $jwks_rs256 = jwks(jwk($ka, kid => 'rsa-a', alg => 'RS256'));

our $spki  = $ka->export_key_pem('public_x509');     # BEGIN PUBLIC KEY
our $pkcs1;                                          # BEGIN RSA PUBLIC KEY

# A self-signed certificate; the test signs with its private key.
our ($cert, $c);
{
    my $dir = tempdir(CLEANUP => 1);
    system("openssl req -x509 -newkey rsa:2048 -nodes -days 1"
           . " -subj /CN=gw-auth-test -keyout $dir/key.pem -out $dir/cert.pem"
           . " >$dir/log 2>&1") == 0
        or die "openssl req failed: " . `cat $dir/log`;
    $c = Crypt::PK::RSA->new("$dir/key.pem");
    open my $fh, '<', "$dir/cert.pem" or die;
    local $/;
    $cert = <$fh>;

    # PKCS #1 RSAPublicKey (CryptX's "public" PEM is SPKI under that label)
    write_file("$dir/spki.pem", $spki);
    $pkcs1 = `openssl rsa -pubin -in $dir/spki.pem -RSAPublicKey_out 2>/dev/null`;
    $pkcs1 =~ /^-----BEGIN RSA PUBLIC KEY-----\n/ or die "openssl rsa: $pkcs1";
}

our %claims = (sub => 'alice', exp => time + 3600);

sub bearer { 'Authorization: Bearer ' . $_[0] }

sub tok {
    my ($alg, $key, $kid, %c) = @_;
    return jwt($alg, $key, { %claims, %c }, defined $kid ? { kid => $kid } : {});
}

# RS256 header, hand-made signature over the same input
sub resigned {
    my ($header, $sigfn) = @_;
    my $payload = json(\%claims);
    my $input = sign_input($header, $payload);
    return "$input." . b64u($sigfn->($input));
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: RS256, RS384, RS512 with a 2048-bit RSA JWK chosen by kid
--- user_files eval
[["jwks.json", $::jwks_a]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_set_header X-Sub $gw_auth_subject;
        proxy_set_header X-Alg $gw_jwt_header_alg;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "$http_x_sub $http_x_alg";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[map { ::bearer(::tok($_, $::ka, 'rsa-a', sub => "u-$_")) } qw(RS256 RS384 RS512)]
--- response_body eval
["u-RS256 RS256\n", "u-RS384 RS384\n", "u-RS512 RS512\n"]
--- hits eval
{ '"GET /_backend ' => [1, 2, 3] }



=== TEST 2: PS256, PS384, PS512 with the same key
--- user_files eval
[["jwks.json", $::jwks_a]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "$gw_auth_subject $gw_jwt_header_alg";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[map { ::bearer(::tok($_, $::ka, 'rsa-a', sub => "u-$_")) } qw(PS256 PS384 PS512)]
--- response_body eval
["u-PS256 PS256\n", "u-PS384 PS384\n", "u-PS512 PS512\n"]



=== TEST 3: a PEM public key (SPKI): tokens without kid and with any kid, RS and PS
--- user_files eval
[["rsa.pem", $::spki]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/rsa.pem;
        echo "$gw_auth_subject";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok('RS256', $::ka, undef, sub => 'no-kid')),
 ::bearer(::tok('RS256', $::ka, 'issuer-key-7', sub => 'some-kid')),
 ::bearer(::tok('PS512', $::ka, undef, sub => 'pss'))]
--- response_body eval
["no-kid\n", "some-kid\n", "pss\n"]



=== TEST 4: a PKCS #1 "RSA PUBLIC KEY" PEM
--- user_files eval
[["rsa.pem", $::pkcs1]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/rsa.pem;
        echo "$gw_auth_subject";
    }
--- request
GET /t
--- more_headers eval
::bearer(::tok('RS384', $::ka, undef, sub => 'pkcs1'))
--- response_body
pkcs1



=== TEST 5: an X.509 certificate PEM, and a file of two PEM blocks (certificate and public key): every key is used
--- user_files eval
[["cert.pem", $::cert], ["both.pem", $::cert . $::spki]]
--- config
    location = /cert {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/cert.pem;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /both {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/both.pem;
        echo "$gw_auth_subject";
    }
--- request eval
["GET /cert", "GET /cert", "GET /both", "GET /both"]
--- more_headers eval
[::bearer(::tok('RS256', $::c, undef, sub => 'cert')),
 ::bearer(::tok('RS256', $::ka, undef, sub => 'not-cert')),
 ::bearer(::tok('RS256', $::c, undef, sub => 'both-cert')),
 ::bearer(::tok('PS256', $::ka, undef, sub => 'both-spki'))]
--- error_code eval
[200, 401, 200, 200]
--- response_body_like eval
["^cert\$", "401", "^both-cert\$", "^both-spki\$"]
--- response_headers eval
["", "X-Auth-Status: signature mismatch", "", ""]



=== TEST 6: signed by another RSA key: without kid "signature mismatch", with the known kid too, with an unknown kid "no key for kid"
--- user_files eval
[["jwks.json", $::jwks_a]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok('RS256', $::kb)), ::bearer(::tok('RS256', $::kb, 'rsa-a')),
 ::bearer(::tok('RS256', $::kb, 'rsa-b'))]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: signature mismatch", "X-Auth-Status: signature mismatch",
 "X-Auth-Status: no key for kid"]
--- no_access_log
"GET /_backend



=== TEST 7: a JWK with "alg": "RS256" verifies RS256 only: PS256 and RS512 by the same key are refused
--- user_files eval
[["jwks.json", $::jwks_rs256]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok('RS256', $::ka, 'rsa-a')), ::bearer(::tok('PS256', $::ka, 'rsa-a')),
 ::bearer(::tok('RS512', $::ka, 'rsa-a'))]
--- error_code eval
[200, 401, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no key for alg",
 "X-Auth-Status: no key for alg"]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1] }



=== TEST 8: signatures that do not follow RFC 7518: PSS with salt 0, PKCS #1 v1.5 under a PS256 header, an RS512 signature under RS256, a cut signature
--- user_files eval
[["jwks.json", $::jwks_a]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::resigned('{"alg":"PS256"}',
                     sub { $::ka->sign_message($_[0], 'SHA256', 'pss', 32) })),
 ::bearer(::resigned('{"alg":"PS256"}',
                     sub { $::ka->sign_message($_[0], 'SHA256', 'pss', 0) })),
 ::bearer(::resigned('{"alg":"PS256"}',
                     sub { $::ka->sign_message($_[0], 'SHA256', 'v1.5') })),
 ::bearer(::resigned('{"alg":"RS256"}',
                     sub { $::ka->sign_message($_[0], 'SHA512', 'v1.5') })),
 ::bearer(::resigned('{"alg":"RS256"}',
                     sub { substr $::ka->sign_message($_[0], 'SHA256', 'v1.5'), 0, 255 }))]
--- error_code eval
[200, 401, 401, 401, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: signature mismatch",
 "X-Auth-Status: signature mismatch", "X-Auth-Status: signature mismatch",
 "X-Auth-Status: signature mismatch"]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1, 1, 1] }
