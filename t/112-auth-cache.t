# gw_auth_cache zone=<name>:<size> [max_ttl=] [negative_ttl=]: verified JWTs
# skip the signature check (and so the key fetch) while cached; introspection
# answers are cached, active ones never beyond the token's "exp" or max_ttl,
# inactive ones for negative_ttl.  Cache use is seen in the access log:
# "GET /_jwks" lines are JWKS fetches, "POST /_idp" lines IdP requests,
# counted after each response with --- hits.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our %s = map { $_ => Crypt::PRNG::random_bytes(32) } qw(k1 k2);

sub token {
    my ($kid, %c) = @_;
    return jwt('HS256', $s{$kid}, { sub => 'alice', exp => time + 3600, %c },
               { kid => $kid });
}

sub tok { 'Authorization: Bearer ' . token(@_) }

our $t1 = tok('k1');
our $t1b = tok('k1', sub => 'bob');

our $idp = <<'_EOC_';
    map $request_body $idp_reply {
        "token=tok-alice"  '{"active":true,"sub":"alice","scope":"read"}';
        "token=tok-bob"    '{"active":true,"sub":"bob","scope":"write"}';
        default            '{"active":false}';
    }
_EOC_

our $introspect = <<'_EOC_';
    location = /_introspect {
        internal;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an active introspection answer is not cached beyond the token's exp (exp 2 s ahead, max_ttl 300 s)
--- http_config
    gw_auth_cache zone=auth:1m;
--- init
::html_write('idp.json', '{"active":true,"sub":"dora","exp":' . (time + 2) . '}');
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /_introspect {
        internal;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        return 418;
        error_page 418 =200 /_idp.json;
    }
    location = /_idp.json {
        alias $TEST_NGINX_HTML_DIR/idp.json;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[("Authorization: Bearer tok-dora") x 3]
--- between eval
[undef, sub { sleep 3 }]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: token expired"]
--- hits eval
{ '"POST /_idp ' => [1, 1, 2] }



=== TEST 2: a verified JWT is cached: after the JWKS expired (key_cache 1s) the same token needs no fetch; another token does
--- user_files eval
[["jwks.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 1s;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[$::t1, $::t1, $::t1b]
--- between eval
[sub { sleep 2.2 }]
--- response_body eval
["alice\n", "alice\n", "bob\n"]
--- hits eval
{ '"GET /_jwks ' => [1, 1, 2] }



=== TEST 3: the same without gw_auth_cache: the expired JWKS is fetched again for the same token
--- user_files eval
[["jwks.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 1s;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[$::t1, $::t1]
--- between eval
[sub { sleep 2.2 }]
--- response_body eval
["alice\n", "alice\n"]
--- hits eval
{ '"GET /_jwks ' => [1, 2] }



=== TEST 4: a cached JWT is still held to the claims of each location (an issuer list where it was not cached)
--- user_files eval
[["k1.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /a {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo a;
    }
    location = /b {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        gw_auth_jwt_issuer https://other.test;
        add_header X-Auth-Status $gw_auth_status always;
        echo b;
    }
--- request eval
["GET /a", "GET /b", "GET /a"]
--- more_headers eval
[($::t1) x 3]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: issuer not allowed", "X-Auth-Status: "]



=== TEST 5: a JWT cached for one key source is not taken as verified by another (a location whose key file has another key)
--- user_files eval
[["k1.json", ::oct_jwk($::s{k1})], ["k2.json", ::oct_jwk($::s{k2})]]
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /a {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo a;
    }
    location = /b {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k2.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo b;
    }
--- request eval
["GET /a", "GET /b"]
--- more_headers eval
[($::t1) x 2]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no key for kid"]



=== TEST 6: introspection answers are cached: three requests, one IdP request, the identity kept; another token is asked for
--- http_config eval
"    gw_auth_cache zone=auth:1m;\n$::idp"
--- config eval
qq{
    location = /t {
        gw_auth_introspect /_introspect;
        echo "\$gw_auth_subject [\$gw_auth_scope]";
    }
$::introspect
}
--- request eval
[("GET /t") x 4]
--- more_headers eval
[("Authorization: Bearer tok-alice") x 3, "Authorization: Bearer tok-bob"]
--- response_body eval
[("alice [read]\n") x 3, "bob [write]\n"]
--- hits eval
{ '"POST /_idp ' => [1, 1, 1, 2] }



=== TEST 7: without gw_auth_cache every request asks the IdP
--- http_config eval
$::idp
--- config eval
qq{
    location = /t {
        gw_auth_introspect /_introspect;
        echo "\$gw_auth_subject";
    }
$::introspect
}
--- request eval
[("GET /t") x 3]
--- more_headers eval
[("Authorization: Bearer tok-alice") x 3]
--- hits eval
{ '"POST /_idp ' => [1, 2, 3] }



=== TEST 8: an inactive answer is cached for negative_ttl (2s): then asked again
--- http_config eval
"    gw_auth_cache zone=auth:1m negative_ttl=2s;\n$::idp"
--- config eval
qq{
    location = /t {
        gw_auth_introspect /_introspect;
        add_header X-Auth-Status \$gw_auth_status always;
        echo ok;
    }
$::introspect
}
--- request eval
[("GET /t") x 3]
--- more_headers eval
[("Authorization: Bearer tok-revoked") x 3]
--- between eval
[undef, sub { sleep 3.2 }]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: token not active", "X-Auth-Status: token not active (cached)",
 "X-Auth-Status: token not active"]
--- hits eval
{ '"POST /_idp ' => [1, 1, 2] }



=== TEST 9: negative_ttl=0: inactive answers are not cached
--- http_config eval
"    gw_auth_cache zone=auth:1m negative_ttl=0;\n$::idp"
--- config eval
qq{
    location = /t {
        gw_auth_introspect /_introspect;
        echo ok;
    }
$::introspect
}
--- request eval
[("GET /t") x 2]
--- more_headers eval
[("Authorization: Bearer tok-revoked") x 2]
--- error_code eval
[401, 401]
--- hits eval
{ '"POST /_idp ' => [1, 2] }



=== TEST 10: an active answer without exp is cached for max_ttl (2s), then asked again
--- http_config eval
"    gw_auth_cache zone=auth:1m max_ttl=2s;\n$::idp"
--- config eval
qq{
    location = /t {
        gw_auth_introspect /_introspect;
        echo "\$gw_auth_subject";
    }
$::introspect
}
--- request eval
[("GET /t") x 3]
--- more_headers eval
[("Authorization: Bearer tok-alice") x 3]
--- between eval
[undef, sub { sleep 3.2 }]
--- response_body eval
[("alice\n") x 3]
--- hits eval
{ '"POST /_idp ' => [1, 1, 2] }



=== TEST 11: a cached introspection answer serves a limit in preaccess: the second request is counted for alice, the third limited
--- http_config eval
"    gw_auth_cache zone=auth:1m;\n"
. "    limit_req_zone \$gw_auth_subject zone=per_subject:1m rate=1r/m;\n$::idp"
--- config eval
qq{
    location = /t {
        limit_req zone=per_subject nodelay;
        gw_auth_introspect /_introspect;
        echo "\$gw_auth_subject";
    }
$::introspect
}
--- request eval
[("GET /t") x 3]
--- more_headers eval
[("Authorization: Bearer tok-alice") x 3]
--- error_code eval
[200, 200, 503]
--- hits eval
{ '"POST /_idp ' => [1, 1, 1] }



=== TEST 12: two introspection locations share a cache, not their answers: a token active at /_i says nothing about another token at /_ix
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /a {
        gw_auth_introspect /_i;
        add_header X-Auth-Status $gw_auth_status always;
        echo "a $gw_auth_subject";
    }
    location = /b {
        gw_auth_introspect /_ix;
        add_header X-Auth-Status $gw_auth_status always;
        echo "b $gw_auth_subject";
    }
    location = /_i {
        internal;
        return 200 '{"active":true,"sub":"partner-user"}';
    }
    location = /_ix {
        internal;
        return 200 '{"active":false}';
    }
--- request eval
["GET /a", "GET /b"]
--- more_headers eval
["Authorization: Bearer xtok", "Authorization: Bearer tok"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: token not active"]
