# The variables: $gw_jwt_claim_<name>, $gw_jwt_header_<name>,
# gw_auth_jwt_claim_set (nested paths), $gw_auth_subject, $gw_auth_consumer,
# $gw_auth_method, $gw_auth_token, $gw_auth_scope, $gw_auth_status.  Claims
# are printed as text (arrays of strings joined with a space, other JSON
# compact); a claim with a control character gives an empty value.  The
# variables verify the credential on first use, so they work before the
# access phase (a limit_req key in preaccess) and in the log phase.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $secret = Crypt::PRNG::random_bytes(32);
our $keys = jwks(oct_jwk($secret, kid => 'k'));

sub token {
    my (%c) = @_;
    return jwt('HS256', $secret, { sub => 'alice', exp => time + 3600, %c },
               { kid => 'k', typ => 'at+jwt' });
}

sub tok { 'Authorization: Bearer ' . token(@_) }

our $alice = token(scope => 'read write', email => 'alice@example.com');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: claims as text: string, integer, fraction, booleans, array of strings, mixed array and object as compact JSON, null and absent empty
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "s=$gw_jwt_claim_name";
        echo "i=$gw_jwt_claim_count";
        echo "f=$gw_jwt_claim_ratio";
        echo "t=$gw_jwt_claim_yes f=$gw_jwt_claim_no";
        echo "a=$gw_jwt_claim_groups";
        echo "m=$gw_jwt_claim_mixed";
        echo "o=$gw_jwt_claim_org";
        echo "n=[$gw_jwt_claim_nothing] x=[$gw_jwt_claim_absent]";
    }
--- request
GET /t
--- more_headers eval
::tok(name => 'Alice Liddell', count => 42, ratio => 0.25,
      yes => JSON::PP::true, no => JSON::PP::false, groups => ['dev', 'ops'],
      mixed => ['a', 1], org => { id => 7 }, nothing => undef)
--- response_body
s=Alice Liddell
i=42
f=0.25
t=true f=false
a=dev ops
m=["a",1]
o={"id":7}
n=[] x=[]



=== TEST 2: header parameters, the token, the method, the scope, the subject and the consumer
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "$gw_jwt_header_alg $gw_jwt_header_kid $gw_jwt_header_typ [$gw_jwt_header_cty]";
        echo "$gw_auth_method $gw_auth_subject $gw_auth_consumer [$gw_auth_scope]";
        echo "$gw_auth_token";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::alice"
--- response_body eval
"HS256 k at+jwt []\njwt alice alice [read write]\n$::alice\n"



=== TEST 3: gw_auth_jwt_claim_set: nested paths, names with capitals and dots, arrays; absent parts give empty values
--- user_files eval
[["jwks.json", $::keys]]
--- http_config
    gw_auth_jwt_claim_set $tenant_id org tenant id;
    gw_auth_jwt_claim_set $username preferredUsername;
    gw_auth_jwt_claim_set $ns_roles https://example.com/claims roles;
    gw_auth_jwt_claim_set $missing org nothing id;
    gw_auth_jwt_claim_set $through_string name id;
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "$tenant_id $username [$ns_roles] [$missing] [$through_string]";
    }
--- request
GET /t
--- more_headers eval
::tok(org => { tenant => { id => 't-42' } }, preferredUsername => 'al',
      name => 'x', 'https://example.com/claims' => { roles => ['a', 'b'] })
--- response_body
t-42 al [a b] [] []



=== TEST 4: claims with control characters (CR LF, TAB, SOH, DEL) give empty values, logged at info; UTF-8 passes
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Sub "[$gw_auth_subject]" always;
        add_header X-Consumer "[$gw_auth_consumer]" always;
        proxy_set_header X-Name $gw_jwt_claim_name;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "name=[$http_x_name] injected=[$http_x_injected]";
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::tok(sub => "alice\r\nX-Injected: 1", name => "a\r\nX-Injected: 1"),
 ::tok(sub => "tab\there", name => "soh\x{1}x"),
 ::tok(sub => "del\x{7f}", name => "ok"),
 ::tok(sub => "Jos\x{e9}", name => "\x{201c}quoted\x{201d}")]
--- response_body eval
["name=[] injected=[]\n", "name=[] injected=[]\n", "name=[ok] injected=[]\n",
 "name=[\xe2\x80\x9cquoted\xe2\x80\x9d] injected=[]\n"]
--- response_headers eval
["X-Sub: []\nX-Consumer: []\n!X-Injected", "X-Sub: []", "X-Sub: []",
 "X-Sub: [Jos\xc3\xa9]"]



=== TEST 5: a control character is reported at info as such
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "[$gw_auth_subject]";
    }
--- request
GET /t
--- more_headers eval
::tok(sub => "alice\nadmin")
--- response_body
[]
--- error_log eval
qr/\[info\] .*gw_auth: claim with a control character ignored/



=== TEST 6: $gw_auth_status holds the reason of a refusal, and is empty when the request passes
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status "[$gw_auth_status]" always;
        add_header X-Method "[$gw_auth_method]" always;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
["", ::tok(exp => time - 600), ::tok()]
--- error_code eval
[401, 401, 200]
--- response_headers eval
["X-Auth-Status: [no credentials]\nX-Method: []",
 "X-Auth-Status: [token expired]\nX-Method: []",
 "X-Auth-Status: []\nX-Method: [jwt]"]



=== TEST 7: outside a location that authenticates, the variables are empty even with a valid token
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /public {
        echo "[$gw_auth_subject] [$gw_jwt_claim_sub] [$gw_auth_method] [$gw_auth_status]";
    }
--- request
GET /public
--- more_headers eval
"Authorization: Bearer $::alice"
--- response_body
[] [] [] []



=== TEST 8: in preaccess: limit_req keyed on $gw_auth_consumer limits each identity separately; no identity, no key (not limited)
--- user_files eval
[["jwks.json", $::keys]]
--- http_config
    limit_req_zone $gw_auth_consumer zone=per_consumer:1m rate=1r/m;
--- config
    location = /t {
        limit_req zone=per_consumer nodelay;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "$gw_auth_consumer";
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
[::tok(), ::tok(), ::tok(sub => 'bob'), "", ""]
--- error_code eval
[200, 503, 200, 401, 401]
--- response_body_like eval
["^alice\$", "503", "^bob\$", "401", "401"]



=== TEST 9: used in the log phase: the access log line carries the consumer and method of the request
--- user_files eval
[["jwks.json", $::keys]]
--- http_config
    log_format auth '$request_uri consumer=$gw_auth_consumer method=$gw_auth_method status=$status reason=$gw_auth_status';
--- config
    access_log logs/access.log auth;

    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo ok;
    }
--- request eval
["GET /t?a", "GET /t?b"]
--- more_headers eval
[::tok(sub => 'carol'), ::tok(exp => time - 600)]
--- error_code eval
[200, 401]
--- access_log eval
[qr{^/t\?a consumer=carol method=jwt status=200 reason=-$}]



=== TEST 10: the log phase sees refusals too
--- user_files eval
[["jwks.json", $::keys]]
--- http_config
    log_format auth '$request_uri consumer=$gw_auth_consumer method=$gw_auth_method status=$status reason=$gw_auth_status';
--- config
    access_log logs/access.log auth;

    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo ok;
    }
--- request
GET /t?b
--- more_headers eval
::tok(exp => time - 600)
--- error_code: 401
--- access_log eval
[qr{^/t\?b consumer=- method=- status=401 reason=token expired$}]



=== TEST 11: a variable used before the access phase (rewrite) does not hide the reason from the log: "no credentials" is still logged
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        set $who $gw_auth_subject;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        echo "$who";
    }
--- request
GET /t
--- error_code: 401
--- error_log eval
qr/\[info\] .*gw_auth: no credentials/



=== TEST 12: a credential that fails in preaccess only for want of a fetched JWKS passes in access; $gw_auth_status is then empty
--- user_files eval
[["jwks.json", $::keys]]
--- http_config
    limit_req_zone $gw_jwt_claim_sub zone=per_sub:1m rate=100r/s;
--- config
    location = /t {
        limit_req zone=per_sub burst=100;
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        add_header X-Auth-Status "[$gw_auth_status]" always;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request
GET /t
--- more_headers eval
::tok()
--- response_body
alice
--- response_headers
X-Auth-Status: []
