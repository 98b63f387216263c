# gw_auth_jwt with elliptic-curve keys: ES256 (P-256), ES384 (P-384), ES512
# (P-521) with signatures as raw R || S of the curve's size (RFC 7518 3.4),
# and EdDSA with Ed25519 (RFC 8037); keys as JWKs and as PEM.  A key verifies
# the algorithm of its own curve only.  Keys are made for each run.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $p256 = ec_key('P-256');
our $p384 = ec_key('P-384');
our $p521 = ec_key('P-521');
our $ed   = ed_key();
our $p256b = ec_key('P-256');
our $k1   = ec_key('secp256k1');

our $keys = jwks(jwk($p256, kid => 'ec-256'), jwk($p384, kid => 'ec-384'),
                 jwk($p521, kid => 'ec-521'), jwk($ed, kid => 'ed'),
                 jwk($k1, kid => 'k1'));

our %claims = (sub => 'alice', exp => time + 3600);

sub bearer { 'Authorization: Bearer ' . $_[0] }

sub tok {
    my ($alg, $key, $kid, %c) = @_;
    return jwt($alg, $key, { %claims, %c }, defined $kid ? { kid => $kid } : {});
}

# the ES256 token of $key, its signature replaced by $fn->(raw signature)
sub resig {
    my ($tok, $fn) = @_;
    my ($h, $p, $s) = split /\./, $tok;
    return "$h.$p." . b64u($fn->(MIME::Base64::decode_base64url($s)));
}

our $es256 = tok('ES256', $p256, 'ec-256', sub => 'es256');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: ES256, ES384, ES512 and EdDSA from one JWKS (which also holds a secp256k1 key, skipped), chosen by kid
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_set_header X-Sub $gw_auth_subject;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "$http_x_sub";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer($::es256),
 ::bearer(::tok('ES384', $::p384, 'ec-384', sub => 'es384')),
 ::bearer(::tok('ES512', $::p521, 'ec-521', sub => 'es512')),
 ::bearer(::tok('EdDSA', $::ed, 'ed', sub => 'eddsa'))]
--- response_body eval
["es256\n", "es384\n", "es512\n", "eddsa\n"]
--- hits eval
{ '"GET /_backend ' => [1, 2, 3, 4] }



=== TEST 2: PEM public keys: P-256 (named curve) and Ed25519, tokens without kid
--- user_files eval
[["ec.pem", $::p256->export_key_pem('public_short')],
 ["ed.pem", $::ed->export_key_pem('public')]]
--- config
    location = /ec {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/ec.pem;
        echo "$gw_auth_subject";
    }
    location = /ed {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/ed.pem;
        echo "$gw_auth_subject";
    }
--- request eval
["GET /ec", "GET /ed"]
--- more_headers eval
[::bearer(::tok('ES256', $::p256, undef, sub => 'pem-ec')),
 ::bearer(::tok('EdDSA', $::ed, undef, sub => 'pem-ed'))]
--- response_body eval
["pem-ec\n", "pem-ed\n"]



=== TEST 3: ES256 signatures: DER (as OpenSSL makes them) is refused, raw R || S accepted, one byte short refused
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "backend";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::resig($::es256, \&::der_signature)),
 ::bearer(::resig($::es256, sub { $_[0] })),
 ::bearer(::resig($::es256, sub { substr $_[0], 0, 63 }))]
--- error_code eval
[401, 200, 401]
--- response_headers eval
["X-Auth-Status: signature mismatch", "X-Auth-Status: ",
 "X-Auth-Status: signature mismatch"]
--- hits eval
{ '"GET /_backend ' => [0, 1, 1] }



=== TEST 4: "psychic signatures" (CVE-2022-21449): R = S = 0, and R = S = the curve order, are refused
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "backend";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
my $n = pack 'H*', 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';
[::bearer(::resig($::es256, sub { "\0" x 64 })),
 ::bearer(::resig($::es256, sub { $n . $n })),
 ::bearer(::resig(::tok('ES256', $::p256, undef), sub { "\0" x 64 }))]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: signature mismatch", "X-Auth-Status: signature mismatch",
 "X-Auth-Status: signature mismatch"]
--- no_access_log
"GET /_backend



=== TEST 5: a key verifies its own curve only: ES384 under the P-256 kid, ES256 under the P-384 kid, EdDSA under an EC kid
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "backend";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok('ES384', $::p384, 'ec-256')),
 ::bearer(::tok('ES256', $::p256, 'ec-384')),
 ::bearer(::tok('EdDSA', $::ed, 'ec-256'))]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: no key for alg", "X-Auth-Status: no key for alg",
 "X-Auth-Status: no key for alg"]
--- no_access_log
"GET /_backend



=== TEST 6: signed by another P-256 key or with a changed Ed25519 signature; ES256K (secp256k1) is no supported algorithm
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "backend";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok('ES256', $::p256b)),
 ::bearer(::tok('ES256', $::p256b, 'ec-256')),
 ::bearer(::resig(::tok('EdDSA', $::ed, 'ed'),
                  sub { my $s = shift; substr($s, 10, 1) ^= "\x01"; $s })),
 ::bearer(::jws('{"alg":"ES256K","kid":"k1"}', '{"sub":"k1"}',
                $::k1->sign_message_rfc7518(
                    ::sign_input('{"alg":"ES256K","kid":"k1"}', '{"sub":"k1"}'),
                    'SHA256')))]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
["X-Auth-Status: signature mismatch", "X-Auth-Status: signature mismatch",
 "X-Auth-Status: signature mismatch",
 "X-Auth-Status: unsupported or disallowed alg"]
--- no_access_log
"GET /_backend



=== TEST 7: gw_auth_jwt_algorithms ES384 EdDSA: ES256 by a known key is refused, the others pass
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_algorithms ES384 EdDSA;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer($::es256),
 ::bearer(::tok('ES384', $::p384, 'ec-384', sub => 'es384')),
 ::bearer(::tok('EdDSA', $::ed, 'ed', sub => 'eddsa'))]
--- error_code eval
[401, 200, 200]
--- response_headers eval
["X-Auth-Status: unsupported or disallowed alg", "X-Auth-Status: ",
 "X-Auth-Status: "]
--- response_body_like eval
["401", "^es384\$", "^eddsa\$"]
