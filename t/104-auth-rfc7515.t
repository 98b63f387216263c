# The published examples, used as they are: RFC 7515 Appendix A.1 (HS256),
# A.2 (RS256) and A.3 (ES256) with their keys, and RFC 8037 A.4 (Ed25519).
#
# The RFC 7515 tokens carry "exp": 1300819380 (March 2011), so they are
# refused as expired unless gw_auth_jwt_leeway covers it (36500d is 100
# years); the signature must verify either way.  The RFC 8037 example signs
# the text "Example of Ed25519 signing", which is no claims set.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

# {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}
our $payload = 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGF'
             . 'tcGxlLmNvbS9pc19yb290Ijp0cnVlfQ';

# A.1
our $a1_jwk = '{"kty":"oct",'
    . '"k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}';
our $a1 = 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.' . $payload
        . '.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

# A.2 (the public part of the appendix's key)
our $a2_jwk = '{"kty":"RSA",'
    . '"n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx'
    . 'HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs'
    . 'D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH'
    . 'SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV'
    . 'MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8'
    . 'NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",'
    . '"e":"AQAB"}';
our $a2 = 'eyJhbGciOiJSUzI1NiJ9.' . $payload . '.'
    . 'cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7'
    . 'AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4'
    . 'BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K'
    . '0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv'
    . 'hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB'
    . 'p0igcN_IoypGlUPQGe77Rw';

# A.3
our $a3_jwk = '{"kty":"EC","crv":"P-256",'
    . '"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",'
    . '"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}';
our $a3 = 'eyJhbGciOiJFUzI1NiJ9.' . $payload . '.'
    . 'DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8I'
    . 'SlSApmWQxfKTUJqPP3-Kg6NU1Q';

# RFC 8037 A.4
our $ed_jwk = '{"kty":"OKP","crv":"Ed25519",'
    . '"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}';
our $ed = 'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.'
    . 'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B'
    . 'hVsPt9g7sVvpAr_MuM0KAg';

sub bearer { 'Authorization: Bearer ' . $_[0] }

# one character of the signature changed
sub flip {
    my ($t) = @_;
    my $i = length($t) - 10;
    substr($t, $i, 1) = substr($t, $i, 1) eq 'A' ? 'B' : 'A';
    return $t;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: RFC 7515 A.1, A.2, A.3 without leeway: refused as expired (exp 2011), the backend not reached
--- user_files eval
[["a1.jwk", $::a1_jwk], ["a2.jwk", $::a2_jwk], ["a3.jwk", $::a3_jwk]]
--- config
    location = /t {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a1.jwk;
        gw_auth_jwt_key_file ../html/a2.jwk;
        gw_auth_jwt_key_file ../html/a3.jwk;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer($::a1), ::bearer($::a2), ::bearer($::a3)]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[qq{X-Auth-Status: token expired\nWWW-Authenticate: Bearer realm="rfc", error="invalid_token"},
 "X-Auth-Status: token expired", "X-Auth-Status: token expired"]
--- error_log
gw_auth: token expired
--- no_access_log
"GET /_backend



=== TEST 2: RFC 7515 A.1 (HS256) with gw_auth_jwt_leeway 36500d: accepted; claims and header as variables
--- user_files eval
[["a1.jwk", $::a1_jwk]]
--- http_config
    gw_auth_jwt_claim_set $is_root "http://example.com/is_root";
--- config
    location = /t {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a1.jwk;
        gw_auth_jwt_leeway 36500d;
        proxy_set_header X-Claims "iss=$gw_jwt_claim_iss exp=$gw_jwt_claim_exp root=$is_root typ=$gw_jwt_header_typ alg=$gw_jwt_header_alg";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo $http_x_claims;
    }
--- request
GET /t
--- more_headers eval
::bearer($::a1)
--- response_body
iss=joe exp=1300819380 root=true typ=JWT alg=HS256
--- access_log
"GET /_backend HTTP/1.0"



=== TEST 3: RFC 7515 A.2 (RS256) and A.3 (ES256) with gw_auth_jwt_leeway 36500d: accepted
--- user_files eval
[["a2.jwk", $::a2_jwk], ["a3.jwk", $::a3_jwk]]
--- config
    location = /rs {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a2.jwk;
        gw_auth_jwt_leeway 36500d;
        echo "$gw_jwt_header_alg $gw_jwt_claim_iss";
    }
    location = /es {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a3.jwk;
        gw_auth_jwt_leeway 36500d;
        echo "$gw_jwt_header_alg $gw_jwt_claim_iss";
    }
--- request eval
["GET /rs", "GET /es"]
--- more_headers eval
[::bearer($::a2), ::bearer($::a3)]
--- response_body eval
["RS256 joe\n", "ES256 joe\n"]



=== TEST 4: the examples with one signature character changed: refused even with the leeway
--- user_files eval
[["a1.jwk", $::a1_jwk], ["a2.jwk", $::a2_jwk], ["a3.jwk", $::a3_jwk]]
--- config
    location = /t {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a1.jwk;
        gw_auth_jwt_key_file ../html/a2.jwk;
        gw_auth_jwt_key_file ../html/a3.jwk;
        gw_auth_jwt_leeway 36500d;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::flip($::a1)), ::bearer(::flip($::a2)), ::bearer(::flip($::a3))]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: signature mismatch", "X-Auth-Status: signature mismatch",
 "X-Auth-Status: signature mismatch"]
--- no_access_log
"GET /_backend



=== TEST 5: a leeway that does not reach 2011 (10 years) still refuses the example
--- user_files eval
[["a1.jwk", $::a1_jwk]]
--- config
    location = /t {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a1.jwk;
        gw_auth_jwt_leeway 3650d;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request
GET /t
--- more_headers eval
::bearer($::a1)
--- error_code: 401
--- response_headers
X-Auth-Status: token expired



=== TEST 6: the example keys verify their own algorithm only: A.1's HMAC key does not verify A.2, A.2's RSA key does not verify A.1
--- user_files eval
[["a1.jwk", $::a1_jwk], ["a2.jwk", $::a2_jwk]]
--- config
    location = /hs {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a1.jwk;
        gw_auth_jwt_leeway 36500d;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
    location = /rs {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/a2.jwk;
        gw_auth_jwt_leeway 36500d;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
["GET /hs", "GET /rs"]
--- more_headers eval
[::bearer($::a2), ::bearer($::a1)]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Auth-Status: no key for alg", "X-Auth-Status: no key for alg"]



=== TEST 7: RFC 8037 A.4 (Ed25519): the signature is right but "Example of Ed25519 signing" is no JSON claims set, so it is refused
--- user_files eval
[["ed.jwk", $::ed_jwk]]
--- config
    location = /t {
        gw_auth_jwt rfc;
        gw_auth_jwt_key_file ../html/ed.jwk;
        gw_auth_jwt_leeway 36500d;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers eval
::bearer($::ed)
--- error_code: 401
--- response_headers
X-Auth-Status: JWS payload is not a JSON object
--- error_log
gw_auth: JWS payload is not a JSON object
--- no_access_log
"GET /_backend
