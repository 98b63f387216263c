# Claim checks of a verified token: "exp", "nbf", "iat" with
# gw_auth_jwt_leeway (exp is optional), gw_auth_jwt_issuer,
# gw_auth_jwt_audience, and gw_auth_jwt_require with error=401 (default)
# and error=403.  Times are relative to when the file is loaded, with
# margins of minutes, so the run's own duration does not matter.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $secret = Crypt::PRNG::random_bytes(32);
our $keys = jwks(oct_jwk($secret, kid => 'k'));
our $now = time;

sub bearer { 'Authorization: Bearer ' . $_[0] }

sub tok {
    my (%c) = @_;
    delete $c{$_} for grep { !defined $c{$_} } keys %c;
    return jwt('HS256', $secret, { sub => 'alice', %c }, { kid => 'k' });
}

# exact payload text, for claims Crypt::JWT would not write as given
sub raw {
    return jws('{"alg":"HS256","kid":"k"}', $_[0], ['HS256', $secret]);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: exp in the past is refused, in the future accepted, absent accepted (exp is optional)
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
[::bearer(::tok(exp => $::now - 120)), ::bearer(::tok(exp => $::now + 600)),
 ::bearer(::tok())]
--- error_code eval
[401, 200, 200]
--- response_headers eval
["X-Auth-Status: token expired", "X-Auth-Status: ", "X-Auth-Status: "]
--- hits eval
{ '"GET /_backend ' => [0, 1, 2] }



=== TEST 2: the leeway covers a recent exp, not an older one
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_leeway 5m;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[::bearer(::tok(exp => $::now - 120)), ::bearer(::tok(exp => $::now - 900))]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: token expired"]



=== TEST 3: nbf and iat in the future are refused; the leeway covers a small clock skew
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /strict {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
    location = /skew {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_leeway 10m;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
["GET /strict", "GET /strict", "GET /strict", "GET /skew", "GET /skew",
 "GET /skew"]
--- more_headers eval
[::bearer(::tok(nbf => $::now + 300)), ::bearer(::tok(iat => $::now + 300)),
 ::bearer(::tok(nbf => $::now - 300, iat => $::now - 300, exp => $::now + 300)),
 ::bearer(::tok(nbf => $::now + 300)), ::bearer(::tok(iat => $::now + 300)),
 ::bearer(::tok(nbf => $::now + 3600))]
--- error_code eval
[401, 401, 200, 200, 200, 401]
--- response_headers eval
["X-Auth-Status: token not yet valid", "X-Auth-Status: token issued in the future",
 "X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: ",
 "X-Auth-Status: token not yet valid"]



=== TEST 4: NumericDate claims must be numbers: strings, null and booleans are refused; fractions are compared as such
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
[("GET /t") x 6]
--- more_headers eval
[::bearer(::raw('{"sub":"a","exp":"' . ($::now + 600) . '"}')),
 ::bearer(::raw('{"sub":"a","nbf":null}')),
 ::bearer(::raw('{"sub":"a","iat":true}')),
 ::bearer(::raw('{"sub":"a","exp":' . ($::now + 600) . '.5}')),
 ::bearer(::raw('{"sub":"a","exp":' . ($::now - 600) . '.5}')),
 ::bearer(::raw('{"sub":"a","exp":1e300}'))]
--- error_code eval
[401, 401, 401, 200, 401, 200]
--- response_headers eval
["X-Auth-Status: invalid exp claim", "X-Auth-Status: invalid nbf claim",
 "X-Auth-Status: invalid iat claim", "X-Auth-Status: ",
 "X-Auth-Status: token expired", "X-Auth-Status: "]



=== TEST 5: gw_auth_jwt_issuer: one of the listed issuers, compared exactly
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_issuer https://idp-a.test https://idp-b.test/;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
[::bearer(::tok(iss => 'https://idp-a.test')),
 ::bearer(::tok(iss => 'https://idp-b.test/')),
 ::bearer(::tok(iss => 'https://idp-a.test/')),
 ::bearer(::tok()),
 ::bearer(::raw('{"sub":"a","iss":["https://idp-a.test"]}'))]
--- error_code eval
[200, 200, 401, 401, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: issuer not allowed",
 "X-Auth-Status: issuer not allowed", "X-Auth-Status: issuer not allowed"]
--- hits eval
{ '"GET /_backend ' => [1, 2, 2, 2, 2] }



=== TEST 6: gw_auth_jwt_audience: "aud" as a string or an array containing one of the audiences
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_audience orders-api billing-api;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
[::bearer(::tok(aud => 'billing-api')),
 ::bearer(::tok(aud => ['web', 'orders-api'])),
 ::bearer(::tok(aud => ['web', 'mobile'])),
 ::bearer(::tok(aud => 'orders-api-v2')),
 ::bearer(::tok())]
--- error_code eval
[200, 200, 401, 401, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: audience not allowed",
 "X-Auth-Status: audience not allowed", "X-Auth-Status: audience not allowed"]



=== TEST 7: gw_auth_jwt_require: every value must be non-empty and not "0"; default 401 invalid_token; the backend is not reached
--- user_files eval
[["jwks.json", $::keys]]
--- http_config
    map $gw_jwt_claim_email_verified $email_ok {
        true     1;
        default  0;
    }
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_require $email_ok $gw_jwt_claim_tenant;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::tok(email_verified => JSON::PP::true, tenant => 't1')),
 ::bearer(::tok(email_verified => JSON::PP::false, tenant => 't1')),
 ::bearer(::tok(email_verified => JSON::PP::true)),
 ::bearer(::tok(email_verified => JSON::PP::true, tenant => '0'))]
--- error_code eval
[200, 401, 401, 401]
--- response_headers eval
["X-Auth-Status: ",
 qq{X-Auth-Status: requirement not met\nWWW-Authenticate: Bearer realm="api", error="invalid_token"},
 "X-Auth-Status: requirement not met", "X-Auth-Status: requirement not met"]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1, 1] }



=== TEST 8: gw_auth_jwt_require error=403: 403 with error="insufficient_scope", the reason logged, the backend not reached
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_require $gw_jwt_claim_admin error=403;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers eval
::bearer(::tok(admin => 0))
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="api", error="insufficient_scope"
--- error_log
gw_auth: requirement not met
--- no_access_log
"GET /_backend



=== TEST 9: several gw_auth_jwt_require lines all apply, each with its own status; a token that fails to verify stays 401
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_require $gw_jwt_claim_tenant;
        gw_auth_jwt_require $gw_jwt_claim_admin error=403;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_jwt_claim_tenant $gw_jwt_claim_admin";
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::tok(tenant => 't1', admin => JSON::PP::true)),
 ::bearer(::tok(admin => JSON::PP::true)),
 ::bearer(::tok(tenant => 't1')),
 ::bearer(::tok(tenant => 't1', admin => 1, exp => $::now - 600))]
--- error_code eval
[200, 401, 403, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: requirement not met",
 "X-Auth-Status: requirement not met", "X-Auth-Status: token expired"]
--- response_body_like eval
["^t1 true\$", "401", "403", "401"]



=== TEST 10: one value per line, several lines: issuers and audiences add up
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_jwt_issuer https://idp-a.test;
        gw_auth_jwt_issuer https://idp-b.test/;
        gw_auth_jwt_audience orders-api;
        gw_auth_jwt_audience billing-api;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::tok(iss => 'https://idp-b.test/', aud => 'billing-api')),
 ::bearer(::tok(iss => 'https://idp-a.test', aud => 'orders-api')),
 ::bearer(::tok(iss => 'https://idp-c.test', aud => 'orders-api'))]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: issuer not allowed"]
