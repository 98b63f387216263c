# Configuration: every invalid directive, parameter and key or API key file
# is refused when nginx starts (as by "nginx -t"), with a message that names
# the problem, the file and the line, and never a secret.  Valid forms that
# look unusual are accepted.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $rsa  = rsa_key();
our $r1k  = rsa_key(1024);
our $ec   = ec_key('P-256');
our $s16  = 'short-' . rand_hex(5);                 # 16 bytes
our $s32  = Crypt::PRNG::random_bytes(32);
our $apikey = 'key-' . rand_hex(16);

our $at = qr/ in \S+\/conf\/nginx\.conf:\d+/;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: gw_auth_jwt without any key source
--- config
    location = /t {
        gw_auth_jwt api;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt" is set but no "gw_auth_jwt_key_file" or "gw_auth_jwt_key_request" is given$::at/



=== TEST 2: gw_auth_jwt_algorithms: "none" is no algorithm
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_algorithms HS256 none;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: unsupported algorithm "none"$::at/



=== TEST 3: gw_auth_jwt_algorithms: names are case-sensitive ("hs256")
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_algorithms hs256;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: unsupported algorithm "hs256"$::at/



=== TEST 4: gw_auth_jwt_algorithms twice on one level
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_algorithms HS256;
        gw_auth_jwt_algorithms HS512;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt_algorithms" directive is duplicate$::at/



=== TEST 5: a key file that does not exist
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/missing.jwks;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: open\(\) "\S+\/html\/missing\.jwks" failed \(2: No such file or directory\)$::at/



=== TEST 6: a PEM private key is refused (give the public key)
--- user_files eval
[["rsa.pem", $::rsa->export_key_pem('private')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/rsa.pem;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+rsa\.pem": PEM private key refused: give the public key$::at/



=== TEST 7: a JWK holding a private key ("d") is refused
--- user_files eval
[["ec.jwk", $::ec->export_key_jwk('private')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/ec.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+ec\.jwk": JWK holds a private key$::at/



=== TEST 8: an RSA key under 2048 bits as PEM
--- user_files eval
[["r.jwk", ::jwk($::r1k)], ["r.pem", $::r1k->export_key_pem('public_x509')]]
--- config
    location = /a {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/r.pem;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+r\.pem": RSA key is shorter than 2048 bits$::at/



=== TEST 9: the same 1024-bit RSA key as a JWK
--- user_files eval
[["r.jwk", ::jwk($::r1k)]]
--- config
    location = /a {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/r.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+r\.jwk": RSA key is shorter than 2048 bits$::at/



=== TEST 10: an oct key shorter than 256 bits is refused, and the secret is not in the message
--- user_files eval
[["short.jwk", ::oct_jwk($::s16)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/short.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+short\.jwk": oct JWK is shorter than 256 bits$::at/
--- no_error_log eval
[$::s16, ::b64u($::s16)]



=== TEST 11: a JWKS with no usable key (encryption keys only, a short secret)
--- user_files eval
[["enc.jwks", ::jwks(::jwk($::rsa, use => 'enc'), ::oct_jwk($::s16))]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/enc.jwks;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+enc\.jwks": invalid JWKS: no usable key$::at/



=== TEST 12: a JWKS of 65 keys is too many
--- user_files eval
[["many.jwks", ::jwks(map { ::oct_jwk($::s32, kid => "k$_") } 1 .. 65)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/many.jwks;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+many\.jwks": invalid JWKS: too many keys$::at/



=== TEST 13: a file that is neither JWKS, JWK nor PEM
--- user_files
>>> junk.txt
this is not a key
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/junk.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+junk\.txt": no JWKS, JWK, PEM public key or certificate$::at/



=== TEST 14: a JWKS that is broken JSON
--- user_files
>>> broken.json
{"keys": [
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/broken.json;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+broken\.json": invalid JWKS$::at/



=== TEST 15: an EC key on a curve JWS does not use (secp256k1) is refused
--- user_files eval
[["ec.pem", ::ec_key('secp256k1')->export_key_pem('public_short')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/ec.pem;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+ec\.pem": unsupported EC curve$::at/



=== TEST 16: an EC JWK whose point is not on its curve (y changed) is refused
--- user_files eval
my $j = $::ec->export_key_jwk('public', 1);
my $y = MIME::Base64::decode_base64url($j->{y});
substr($y, -1, 1) ^= "\x01";
[["ec.jwk", ::json({ %$j, y => ::b64u($y) })]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/ec.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+ec\.jwk": invalid EC JWK$::at/



=== TEST 17: a JWK whose "alg" does not fit its key (RSA marked ES256)
--- user_files eval
[["rsa.jwk", ::jwk($::rsa, alg => 'ES256')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/rsa.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+rsa\.jwk": JWK "alg" does not fit its key$::at/



=== TEST 18: a JWK with "alg": "none"
--- user_files eval
[["k.jwk", ::oct_jwk($::s32, alg => 'none')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid key file "\S+k\.jwk": JWK "alg" is not a supported signature algorithm$::at/



=== TEST 19: gw_auth_jwt_require: a value that does not start with a variable
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_require yes;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: value "yes" must start with a variable$::at/



=== TEST 20: gw_auth_jwt_require: error= other than 401 and 403
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_require $gw_jwt_claim_admin error=500;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid parameter "error=500"$::at/



=== TEST 21: gw_auth_jwt_require with error= only
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_require error=403;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt_require" directive needs at least one value$::at/



=== TEST 22: gw_auth_jwt: an unknown parameter
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api header=X-Token;
        gw_auth_jwt_key_file ../html/k.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid parameter "header=X-Token"$::at/



=== TEST 23: gw_auth_jwt twice on one level
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt other;
        gw_auth_jwt_key_file ../html/k.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt" directive is duplicate$::at/



=== TEST 24: gw_auth_jwt off with a parameter
--- config
    location = /t {
        gw_auth_jwt off token=$arg_t;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt" directive takes no parameters with "off"$::at/



=== TEST 25: a realm with a double quote (it goes into WWW-Authenticate)
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt 'a"b';
        gw_auth_jwt_key_file ../html/k.jwk;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt" directive has an invalid realm$::at/



=== TEST 26: gw_auth_introspect with a URI that does not start with "/"
--- config
    location = /t {
        gw_auth_introspect introspect;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_introspect" directive needs a URI starting with "\/"$::at/



=== TEST 27: gw_auth_jwt_key_request with a full URL (it is a subrequest URI)
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request https://idp.example.com/jwks;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt_key_request" directive needs a URI starting with "\/"$::at/



=== TEST 28: an API key file line with a short digest; the line's text is not echoed
--- user_files eval
[["keys", ::api_key_line($::apikey, 'acme') . "0123abcd acme admin\n"]]
--- config
    location = /t {
        gw_auth_api_key ../html/keys;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid line 2 in API key file "\S+\/html\/keys": expected "<sha256 hex> <consumer> \[roles\]"$::at/
--- no_error_log
0123abcd



=== TEST 29: an API key file line without a consumer
--- user_files eval
[["keys", "# keys\n" . ('ab' x 32) . "\n"]]
--- config
    location = /t {
        gw_auth_api_key ../html/keys;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid line 2 in API key file/



=== TEST 30: 64 characters that are not hex
--- user_files eval
[["keys", ('zz' x 32) . " acme\n"]]
--- config
    location = /t {
        gw_auth_api_key ../html/keys;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid line 1 in API key file/



=== TEST 31: the same key twice in the API key file
--- user_files eval
[["keys", ::api_key_line($::apikey, 'acme') . "\n" . ::api_key_line($::apikey, 'globex')]]
--- config
    location = /t {
        gw_auth_api_key ../html/keys;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: duplicate key on line 3 of API key file "\S+\/html\/keys"$::at/



=== TEST 32: gw_auth_api_key: an empty header name
--- user_files eval
[["keys", ::api_key_line($::apikey, 'acme')]]
--- config
    location = /t {
        gw_auth_api_key ../html/keys header=;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid parameter "header="$::at/



=== TEST 33: gw_auth_api_key: a file that does not exist
--- config
    location = /t {
        gw_auth_api_key /nonexistent/api-keys;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: open\(\) "\/nonexistent\/api-keys" failed/



=== TEST 34: gw_auth_cache without zone=
--- http_config
    gw_auth_cache max_ttl=1m;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_cache" directive needs "zone" parameter$::at/



=== TEST 35: gw_auth_cache zone without a size
--- http_config
    gw_auth_cache zone=auth;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid zone size "zone=auth"$::at/



=== TEST 36: gw_auth_cache zone under 8 pages
--- http_config
    gw_auth_cache zone=auth:4k;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid zone size "zone=auth:4k"$::at/



=== TEST 37: gw_auth_cache max_ttl=0
--- http_config
    gw_auth_cache zone=auth:1m max_ttl=0;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid value "max_ttl=0"$::at/



=== TEST 38: gw_auth_cache negative_ttl that is no time
--- http_config
    gw_auth_cache zone=auth:1m negative_ttl=soon;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid value "negative_ttl=soon"$::at/



=== TEST 39: gw_auth_cache: an unknown parameter
--- http_config
    gw_auth_cache zone=auth:1m ttl=5m;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid parameter "ttl=5m"$::at/



=== TEST 40: gw_auth_cache twice
--- http_config
    gw_auth_cache zone=auth:1m;
    gw_auth_cache zone=auth2:1m;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_cache" directive is duplicate$::at/



=== TEST 41: gw_auth_cache in a server block
--- config
    gw_auth_cache zone=auth:1m;
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_cache" directive is not allowed here$::at/



=== TEST 42: gw_auth_jwt_claim_set in a location
--- config
    location = /t {
        gw_auth_jwt_claim_set $tenant org tenant;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt_claim_set" directive is not allowed here$::at/



=== TEST 43: gw_auth_jwt_claim_set with a name that is no variable
--- http_config
    gw_auth_jwt_claim_set tenant org tenant;
--- config
    location = /t {
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid variable name "tenant"$::at/



=== TEST 44: gw_auth_jwt_leeway that is no time
--- user_files eval
[["k.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_leeway a-while;
    }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "gw_auth_jwt_leeway" directive invalid value$::at/



=== TEST 45: valid: every directive at once, a key file of several PEM certificates and keys, an upper-case API key digest; nginx starts and serves
--- user_files eval
[["keys.pem", $::rsa->export_key_pem('public_x509') . $::ec->export_key_pem('public_short')],
 ["k.jwk", ::oct_jwk($::s32, kid => 'hs')],
 ["api-keys", uc(Digest::SHA::sha256_hex($::apikey)) . " acme admin\n"]]
--- http_config
    gw_auth_cache zone=auth:1m max_ttl=1m negative_ttl=10s;
    gw_auth_jwt_claim_set $tenant org tenant;
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys header=X-Key arg=key;
        gw_auth_jwt api token=$http_x_token;
        gw_auth_jwt_key_file ../html/keys.pem;
        gw_auth_jwt_key_file ../html/k.jwk;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 1h;
        gw_auth_jwt_algorithms HS256 RS256 ES256;
        gw_auth_jwt_leeway 30s;
        gw_auth_jwt_issuer https://idp.test;
        gw_auth_jwt_audience api;
        gw_auth_jwt_require $gw_auth_consumer error=403;
        gw_auth_introspect /_introspect;
        gw_auth_require_role admin;
        gw_auth_roles_claim realm_access.roles;
        echo "$gw_auth_method $gw_auth_consumer";
    }
    location = /jwks {
        internal;
        return 200 '{"keys":[]}';
    }
    location = /_introspect {
        internal;
        return 200 '{"active":false}';
    }
--- request eval
"GET /t?key=$::apikey"
--- response_body
api_key acme
