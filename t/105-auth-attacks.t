# Hostile tokens (RFC 8725, JSON Web Token Best Current Practices): "alg"
# none in any spelling, RS/HS key confusion, unknown "crit", unencoded
# payloads, "kid" used as a path or a URL, keys and key URLs carried in the
# token itself, JWE, malformed JSON, duplicate members, deep nesting,
# oversized tokens and non-canonical base64url.  Each must give 401, its
# reason in $gw_auth_status, and never reach /_backend (whose access log line
# "GET /_backend HTTP/1.0" is counted with --- hits or must be absent).

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $rsa  = rsa_key();
our $evil = rsa_key();
our $hs   = Crypt::PRNG::random_bytes(32);
our $pem  = $rsa->export_key_pem('public_x509');
our $jwk  = jwk($rsa, kid => 'r1');
our $keys = jwks($jwk, oct_jwk($hs, kid => 'h1'));

# what a "kid" naming a file would have the server use as its secret
our $passwd = do { open my $fh, '<', '/etc/passwd' or die; local $/; <$fh> };

our $claims = json({ sub => 'alice', exp => time + 3600 });
our %claims = (sub => 'alice', exp => time + 3600);

sub bearer { 'Authorization: Bearer ' . $_[0] }

# a token with exactly this header text, signed with HS256 by $key
sub hs_raw {
    my ($header, $payload, $key) = @_;
    return jws($header, $payload // $::claims, ['HS256', $key // $::hs]);
}

# a valid HS256 token (kid h1) of exactly $len bytes: the "pad" claim is
# sized from a first token, then tried a few bytes either way (base64url
# lengths go in steps of 4/3; the header's "typ" moves them by one)
sub sized_token {
    my ($len) = @_;
    my $mk = sub {
        my ($pad, $extra) = @_;
        return jwt('HS256', $::hs, { %claims, pad => 'x' x $pad },
                   { kid => 'h1', typ => 'JWT' . (' ' x $extra) });
    };
    my $guess = int(($len - length $mk->(0, 0)) * 3 / 4);
    for my $pad ($guess - 8 .. $guess + 8) {
        for my $extra (0 .. 3) {
            my $t = $mk->($pad, $extra);
            return $t if length $t == $len;
        }
    }
    die "no token of $len bytes\n";
}

# JSON nested $n deep: {"sub":"alice","n":[[...]]}, the object counting one
sub nested {
    my ($n) = @_;
    return '{"sub":"alice","n":' . ('[' x ($n - 1)) . (']' x ($n - 1)) . '}';
}

# Spellings of one valid token that base64url does not allow: "=" padding,
# "+" and "/" for "-" and "_", a space, and the last character of the
# signature with its unused low bits set (43 characters carry 32 bytes and
# 2 spare bits): the last one decodes to the same bytes.  Then the token.
our @b64cases;
{
    my ($t, $n);
    do {
        $t = jwt('HS256', $hs, { %claims, n => $n++ }, { kid => 'h1' });
    } until $t =~ /[-_]/;
    my ($h, $p, $s) = split /\./, $t;
    my @alpha = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_');
    my %val;
    @val{@alpha} = 0 .. 63;
    my $alt = substr($s, 0, 42) . $alpha[$val{substr $s, 42} ^ 1];
    (my $std = $t) =~ tr{-_}{+/};
    @b64cases = ("$h.$p.$s=", "$h.$p.$s==", "$h.$p.$alt", "$h. $p.$s", $std,
                 $t);
}

# accepted, signed with another secret, expired
our @logged = (jwt('HS256', $hs, \%claims, { kid => 'h1' }),
               jwt('HS256', 'x' x 32, \%claims, { kid => 'h1' }),
               jwt('HS256', $hs, { %claims, exp => time - 60 }, { kid => 'h1' }));

no_shuffle();
run_tests();

__DATA__

=== TEST 1: "alg": "none" in any spelling, with and without a signature, is refused before anything else
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
        echo backend;
    }
--- request eval
[("GET /t") x 6]
--- more_headers eval
[::bearer(::sign_input('{"alg":"none"}', $::claims) . '.'),
 ::bearer(::sign_input('{"alg":"None","kid":"h1"}', $::claims) . '.'),
 ::bearer(::sign_input('{"alg":"NONE"}', $::claims) . '.'),
 ::bearer(::sign_input('{"alg":"nOnE"}', $::claims) . '.'),
 ::bearer(::hs_raw('{"alg":"none","kid":"h1"}')),
 ::bearer(::sign_input('{"alg":"none"}', $::claims))]
--- error_code eval
[(401) x 6]
--- response_headers eval
[("X-Auth-Status: unsupported or disallowed alg") x 5,
 "X-Auth-Status: token is not a compact JWS"]
--- error_log
gw_auth: 
--- no_access_log
"GET /_backend



=== TEST 2: "alg" missing, empty, null, an array, lower case, or unknown is refused
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
        echo backend;
    }
--- request eval
[("GET /t") x 6]
--- more_headers eval
[map { ::bearer(::hs_raw($_)) }
 '{"kid":"h1"}', '{"alg":"","kid":"h1"}', '{"alg":null,"kid":"h1"}',
 '{"alg":["HS256"],"kid":"h1"}', '{"alg":"hs256","kid":"h1"}',
 '{"alg":"HS1","kid":"h1"}']
--- error_code eval
[(401) x 6]
--- response_headers eval
[("X-Auth-Status: unsupported or disallowed alg") x 6]
--- no_access_log
"GET /_backend



=== TEST 3: RS/HS key confusion: HS256 signed with the bytes of the RSA public key file is refused; RS256 by the key passes
--- user_files eval
[["rsa.pem", $::pem]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/rsa.pem;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /both {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/rsa.pem;
        gw_auth_jwt_algorithms HS256 RS256;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /both", "GET /t"]
--- more_headers eval
(my $trimmed = $::pem) =~ s/\n\z//;
[::bearer(::jwt('HS256', $::pem, \%::claims)),
 ::bearer(::jwt('HS256', $trimmed, \%::claims)),
 ::bearer(::jwt('HS256', $::pem, \%::claims)),
 ::bearer(::jwt('RS256', $::rsa, \%::claims))]
--- error_code eval
[401, 401, 401, 200]
--- response_headers eval
["X-Auth-Status: no key for alg", "X-Auth-Status: no key for alg",
 "X-Auth-Status: no key for alg", "X-Auth-Status: "]
--- hits eval
{ '"GET /_backend ' => [0, 0, 0, 1] }



=== TEST 4: key confusion against a JWKS: HS256 signed with the RSA JWK's text or modulus, under the RSA kid, is refused
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
        echo backend;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
my $n = MIME::Base64::decode_base64url($::rsa->export_key_jwk('public', 1)->{n});
[::bearer(::jwt('HS256', $::jwk, \%::claims, { kid => 'r1' })),
 ::bearer(::jwt('HS256', $n, \%::claims, { kid => 'r1' })),
 ::bearer(::jwt('HS256', $::jwk, \%::claims))]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: no key for alg", "X-Auth-Status: no key for alg",
 "X-Auth-Status: signature mismatch"]
--- no_access_log
"GET /_backend



=== TEST 5: "crit" is refused whatever it lists (no extension is understood); "b64": false too; "b64": true is harmless
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
        echo backend;
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
[map { ::bearer(::hs_raw($_)) }
 '{"alg":"HS256","kid":"h1","crit":["exp"],"exp":1}',
 '{"alg":"HS256","kid":"h1","crit":["http://example.invalid/ext"],"http://example.invalid/ext":true}',
 '{"alg":"HS256","kid":"h1","crit":[]}',
 '{"alg":"HS256","kid":"h1","b64":false,"crit":["b64"]}',
 '{"alg":"HS256","kid":"h1","b64":false}']
--- error_code eval
[(401) x 5]
--- response_headers eval
[("X-Auth-Status: crit header not supported") x 4,
 "X-Auth-Status: b64 header not supported"]
--- no_access_log
"GET /_backend



=== TEST 6: "b64": true and unknown header parameters do not stop a valid token
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "$gw_auth_subject";
    }
--- request
GET /t
--- more_headers eval
::bearer(::hs_raw('{"alg":"HS256","kid":"h1","b64":true,"x-vendor":{"a":1}}'))
--- response_body
alice



=== TEST 7: "kid" is a name, never a path: "../../etc/passwd" with the file as secret, "/dev/null" with an empty secret, a key file's own path
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
        echo backend;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::jwt('HS256', $::passwd, \%::claims, { kid => '../../etc/passwd' })),
 ::bearer(::jwt('HS256', $::passwd, \%::claims, { kid => '/etc/passwd' })),
 ::bearer(::hs_raw('{"alg":"HS256","kid":"/dev/null"}', undef, '')),
 ::bearer(::jwt('HS256', $::keys, \%::claims, { kid => '../html/jwks.json' }))]
--- error_code eval
[(401) x 4]
--- response_headers eval
[("X-Auth-Status: no key for kid") x 4]
--- error_log
gw_auth: no key for kid
--- no_access_log
"GET /_backend



=== TEST 8: "kid" as a URL, SQL, with a trailing space or another case is just an unknown kid (with a NUL byte no JSON); with key_request only the configured JWKS is fetched, once
--- user_files eval
[["jwks.json", $::keys], ["evil.json", ::jwks(::jwk($::evil, kid => 'e1'))]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
    location = /_evil {
        alias $TEST_NGINX_HTML_DIR/evil.json;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 6]
--- more_headers eval
[::bearer(::jwt('RS256', $::evil, \%::claims,
                { kid => "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/_evil" })),
 ::bearer(::hs_raw(q{{"alg":"HS256","kid":"h1' OR '1'='1"}})),
 ::bearer(::hs_raw('{"alg":"HS256","kid":"h1\u0000"}')),
 ::bearer(::hs_raw('{"alg":"HS256","kid":"h1 "}')),
 ::bearer(::hs_raw('{"alg":"HS256","kid":"H1"}')),
 ::bearer(::hs_raw('{"alg":"HS256","kid":"h1"}'))]
--- error_code eval
[401, 401, 401, 401, 401, 200]
--- response_headers eval
["X-Auth-Status: no key for kid", "X-Auth-Status: no key for kid",
 "X-Auth-Status: JWS header is not a JSON object",
 "X-Auth-Status: no key for kid", "X-Auth-Status: no key for kid",
 "X-Auth-Status: "]
--- hits eval
{ '"GET /_jwks ' => [1, 1, 1, 1, 1, 1], '"GET /_evil' => [0, 0, 0, 0, 0, 0],
  '"GET /_backend ' => [0, 0, 0, 0, 0, 1] }



=== TEST 9: keys carried by the token are ignored: "jwk" with the signer's own key, "jku" and "x5u" pointing at a JWKS of it
--- user_files eval
[["jwks.json", $::keys], ["evil.json", ::jwks(::jwk($::evil, kid => 'e1'))]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_evil {
        alias $TEST_NGINX_HTML_DIR/evil.json;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
my $url = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/_evil";
my $j = $::evil->export_key_jwk('public', 1);
[::bearer(::jwt('RS256', $::evil, \%::claims, { jwk => $j })),
 ::bearer(::jwt('RS256', $::evil, \%::claims, { jwk => { %$j, kid => 'r1' }, kid => 'r1' })),
 ::bearer(::jwt('RS256', $::evil, \%::claims, { jku => $url, kid => 'e1' })),
 ::bearer(::jwt('RS256', $::evil, \%::claims, { x5u => $url }))]
--- error_code eval
[(401) x 4]
--- response_headers eval
["X-Auth-Status: signature mismatch", "X-Auth-Status: signature mismatch",
 "X-Auth-Status: no key for kid", "X-Auth-Status: signature mismatch"]
--- no_access_log
"GET /_evil
"GET /_backend



=== TEST 10: JWE (five parts) is refused as such; two, four and six parts are no compact JWS
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
        echo backend;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
my $t = ::hs_raw('{"alg":"HS256","kid":"h1"}');
my ($h, $p, $s) = split /\./, $t;
[::bearer(::b64u('{"alg":"RSA-OAEP","enc":"A256GCM"}') . '.'
          . ::b64u('k' x 256) . '.' . ::b64u('i' x 12) . '.'
          . ::b64u('c' x 40) . '.' . ::b64u('t' x 16)),
 ::bearer("$h.$p"), ::bearer("$h.$p.$s.$s"), ::bearer("$h.$p.$s.$s.$s.$s")]
--- error_code eval
[(401) x 4]
--- response_headers eval
["X-Auth-Status: encrypted tokens (JWE) are not supported",
 ("X-Auth-Status: token is not a compact JWS") x 3]
--- no_access_log
"GET /_backend



=== TEST 11: correctly signed, but no JSON object: a text payload, an array, a string, trailing garbage; a header that is no JSON
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
        echo backend;
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
my $h = '{"alg":"HS256","kid":"h1"}';
[::bearer(::hs_raw($h, 'hello, world')),
 ::bearer(::hs_raw($h, '["sub","alice"]')),
 ::bearer(::hs_raw($h, '"alice"')),
 ::bearer(::hs_raw($h, '{"sub":"alice"} {"sub":"admin"}')),
 ::bearer(::hs_raw('alg=HS256', '{"sub":"alice"}'))]
--- error_code eval
[(401) x 5]
--- response_headers eval
[("X-Auth-Status: JWS payload is not a JSON object") x 4,
 "X-Auth-Status: JWS header is not a JSON object"]
--- no_access_log
"GET /_backend



=== TEST 12: duplicate members are refused, not resolved: two "sub" claims, two "alg" parameters
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
        echo backend;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[::bearer(::hs_raw('{"alg":"HS256","kid":"h1"}', '{"sub":"alice","sub":"admin"}')),
 ::bearer(::hs_raw('{"alg":"none","alg":"HS256","kid":"h1"}'))]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Auth-Status: JWS payload is not a JSON object",
 "X-Auth-Status: JWS header is not a JSON object"]
--- no_access_log
"GET /_backend



=== TEST 13: nesting: 64 levels pass, 65 are refused before the parser
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[::bearer(::hs_raw('{"alg":"HS256","kid":"h1"}', ::nested(64))),
 ::bearer(::hs_raw('{"alg":"HS256","kid":"h1"}', ::nested(65)))]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: JWS payload is not a JSON object"]



=== TEST 14: size: a valid token of 16384 bytes passes, one of 16385 bytes and one of 30000 are refused as too long
--- http_config
    large_client_header_buffers 4 64k;
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
        echo backend;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::sized_token(16384)), ::bearer(::sized_token(16385)),
 ::bearer(::sized_token(30000))]
--- error_code eval
[200, 401, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: token is too long",
 "X-Auth-Status: token is too long"]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1] }



=== TEST 15: base64url is strict: padding, the standard alphabet, a space, non-zero unused bits (a second spelling of the same signature)
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
        echo backend;
    }
--- request eval
[("GET /t") x 6]
--- more_headers eval
[map { ::bearer($_) } @::b64cases]
--- error_code eval
[401, 401, 401, 401, 401, 200]
--- response_headers eval
[("X-Auth-Status: token is not a compact JWS") x 5, "X-Auth-Status: "]
--- hits eval
{ '"GET /_backend ' => [0, 0, 0, 0, 0, 1] }



=== TEST 16: an invalid "kid": empty, not a string, longer than 256 bytes
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::hs_raw('{"alg":"HS256","kid":""}')),
 ::bearer(::hs_raw('{"alg":"HS256","kid":7}')),
 ::bearer(::hs_raw('{"alg":"HS256","kid":"' . ('k' x 257) . '"}'))]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[("X-Auth-Status: invalid kid") x 3]



=== TEST 17: an allow-list of RS256 only: the HS256 confusion token is refused by its "alg" before any key is looked at
--- user_files eval
[["rsa.pem", $::pem]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/rsa.pem;
        gw_auth_jwt_algorithms RS256;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request
GET /t
--- more_headers eval
::bearer(::jwt('HS256', $::pem, \%::claims))
--- error_code: 401
--- response_headers
X-Auth-Status: unsupported or disallowed alg
--- error_log
gw_auth: unsupported or disallowed alg



=== TEST 18: at debug level no gw_auth line holds a token's signature or the secret, for accepted and refused tokens
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[map { ::bearer($_) } @::logged]
--- error_code eval
[200, 401, 401]
--- no_error_log eval
[(map { my $sig = (split /\./)[2]; qr/gw_auth[^\n]*\Q$sig\E/ } @::logged),
 qr/gw_auth[^\n]*\Q${\ ::b64u($::hs)}\E/,
 qr/gw_auth[^\n]*\Q${\ unpack('H*', $::hs)}\E/]
