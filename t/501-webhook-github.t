# gw_webhook github: "X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
# body>", delivery id in X-GitHub-Delivery.  Every fixture is computed here
# with Digest::SHA, except the example from GitHub's documentation
# ("Validating webhook deliveries"), used as published.
#
# The backend, location /backend, echoes the body it got; its requests show in
# the access log as "POST /backend HTTP/1.0" (the proxy's protocol version),
# so "--- no_access_log" with that line shows a refused delivery never got
# there.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_hex hmac_sha1_hex);

# GitHub's published example.
our $doc_secret = "It's a Secret to Everybody";
our $doc_body   = 'Hello, World!';
our $doc_sig    = 'sha256='
    . '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

# Fresh fixtures.
our $secret   = 'gh-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $secret2  = 'gh-next-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 8;
our $other    = 'not-the-secret';
our $delivery = sprintf '%08x-%04x-11ee-8c90-0242ac120002',
                        int rand 2**32, int rand 2**16;
our $body     = '{"action":"opened","number":' . (int rand 1e6)
                . ',"repository":{"full_name":"octo/hello"}}';
our $body2    = '{"zen":"Keep it logically awesome.","hook_id":'
                . (int rand 1e6) . '}';

sub sig { 'sha256=' . hmac_sha256_hex($_[0], $_[1]) }

# the signature with one hex digit changed
sub flip {
    my ($s) = @_;
    my $i = length($s) - 5;
    substr($s, $i, 1) = substr($s, $i, 1) eq 'a' ? 'b' : 'a';
    return $s;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: GitHub's documented example (secret "It's a Secret to Everybody", payload "Hello, World!") is verified and reaches the backend
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "It's a Secret to Everybody";
        add_header X-Status $gw_webhook_status always;
        add_header X-Id $gw_webhook_id always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request
POST /hook
Hello, World!
--- more_headers
X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17
X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958
--- response_body chomp
Hello, World!
--- response_headers
X-Status: VERIFIED
X-Id: 72d3162e-cc78-11e3-81ab-4c9367dc0958
--- no_error_log
gw_webhook:
[error]



=== TEST 2: a fresh delivery signed with a random secret is verified, the body arrives unchanged
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        add_header X-Id \$gw_webhook_id always;
        add_header X-Ts "[\$gw_webhook_timestamp]" always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::sig($::body, $::secret) . "\n"
. "X-GitHub-Delivery: $::delivery"
--- response_body eval
$::body
--- response_headers eval
"X-Status: VERIFIED\nX-Id: $::delivery\nX-Ts: []"
--- no_error_log
gw_webhook:
[error]



=== TEST 3: hex digits in upper case are accepted
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: sha256=" . uc(::hmac_sha256_hex($::body, $::secret))
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED



=== TEST 4: header names are matched in any case
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        add_header X-Id \$gw_webhook_id always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"x-hub-signature-256: " . ::sig($::body, $::secret) . "\n"
. "x-github-delivery: $::delivery"
--- response_body eval
$::body
--- response_headers eval
"X-Status: VERIFIED\nX-Id: $::delivery"



=== TEST 5: one hex digit changed: 401 with nginx's standard page, reason in the log, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::flip(::sig($::body, $::secret))
--- error_code: 401
--- response_body_like: \A<html>\r\n<head><title>401 Authorization Required</title></head>
--- response_headers
X-Status: INVALID
!WWW-Authenticate
--- error_log
gw_webhook: signature mismatch
--- no_error_log
[error]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 6: a changed body fails the signature made for the original one
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
my $tampered = $::body;
$tampered =~ s/"opened"/"closed"/;
"POST /hook\n$tampered"
--- more_headers eval
"X-Hub-Signature-256: " . ::sig($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 7: signed with another secret: 401
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::sig($::body, $::other)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 8: rotation: with two secrets, a delivery signed with the second one passes
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_secret "$::secret2";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::sig($::body, $::secret2)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 9: rotation: either secret passes, a third one does not
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_secret "$::secret2";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body2", "POST /hook\n$::body"]
--- more_headers eval
["X-Hub-Signature-256: " . ::sig($::body, $::secret),
 "X-Hub-Signature-256: " . ::sig($::body2, $::secret2),
 "X-Hub-Signature-256: " . ::sig($::body, $::other)]
--- error_code eval
[200, 200, 401]
--- response_body eval
[$::body, $::body2, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 10: no signature header: 401 MISSING, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-GitHub-Delivery: $::delivery"
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 11: only the legacy SHA-1 header X-Hub-Signature: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature: sha1=" . ::hmac_sha1_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 12: an empty signature header counts as missing
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers
X-Hub-Signature-256:
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 13: the signature header twice, both right: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::sig($::body, $::secret) . "\n"
. "X-Hub-Signature-256: " . ::sig($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 14: X-GitHub-Delivery twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::sig($::body, $::secret) . "\n"
. "X-GitHub-Delivery: $::delivery\n"
. "X-GitHub-Delivery: 00000000-0000-0000-0000-000000000000"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "X-GitHub-Delivery" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 15: the right hex without "sha256=": malformed header
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::hmac_sha256_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 16: a right SHA-1 signature written "sha1=" in the SHA-256 header: malformed header
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: sha1=" . ::hmac_sha1_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 17: a non-hex digit: malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
my $s = ::sig($::body, $::secret);
substr($s, 20, 1) = 'g';
"X-Hub-Signature-256: $s"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 18: a SHA-1 sized signature (40 hex digits) after "sha256=": malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: sha256=" . ::hmac_sha1_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 19: an odd number of hex digits (the right signature cut by one): malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . substr(::sig($::body, $::secret), 0, -1)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 20: a control byte (0x10-0x19) in place of a decimal digit is not a hex digit: malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
# the right signature with its first decimal digit written 0x20 lower
# (0x10-0x19): a control byte, which case folding by "c | 0x20" would take
# for that digit
my $s = ::sig($::body, $::secret);
substr($s, 7) =~ s/([0-9])/chr(ord($1) - 0x20)/e;
"X-Hub-Signature-256: $s"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "X-Hub-Signature-256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 21: an empty body is signed and verified too
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo -n "[\$echo_request_body]";
    }
}
--- request eval
["POST /hook", "POST /hook"]
--- more_headers eval
["X-Hub-Signature-256: " . ::sig('', $::secret),
 "X-Hub-Signature-256: " . ::sig('x', $::secret)]
--- error_code eval
[200, 401]
--- response_body eval
["[]", qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 22: on one keep-alive connection, the body of a refused delivery (refused after or before reading it) is consumed and the next delivery verifies
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- pipelined_requests eval
["POST /hook\n$::body2", "POST /hook\n$::body", "POST /hook\n$::body",
 "POST /hook\n$::body2"]
--- more_headers eval
["X-Hub-Signature-256: " . ::sig($::body2, $::other),
 "X-Hub-Signature-256: " . ::sig($::body, $::secret),
 "X-GitHub-Delivery: $::delivery",
 "X-Hub-Signature-256: " . ::sig($::body2, $::secret)]
--- error_code eval
[401, 200, 401, 200]
--- response_body eval
[qr/401 Authorization Required/, $::body, qr/401 Authorization Required/,
 $::body2]
--- response_headers eval
["X-Status: INVALID", "X-Status: VERIFIED", "X-Status: MISSING",
 "X-Status: VERIFIED"]



=== TEST 23: the variables reach the backend with proxy_set_header
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        proxy_set_header X-Webhook-Status \$gw_webhook_status;
        proxy_set_header X-Webhook-Id \$gw_webhook_id;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo "status=\$http_x_webhook_status id=\$http_x_webhook_id";
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature-256: " . ::sig($::body, $::secret) . "\n"
. "X-GitHub-Delivery: $::delivery"
--- response_body eval
"status=VERIFIED id=$::delivery\n$::body"



=== TEST 24: secrets never appear in the error log, even at debug level
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_secret "$::secret2";
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
["X-Hub-Signature-256: " . ::sig($::body, $::secret2),
 "X-Hub-Signature-256: " . ::sig($::body, $::other),
 "X-Hub-Signature-256: sha256=zz"]
--- error_code eval
[200, 401, 401]
--- response_body eval
[$::body, qr/401/, qr/401/]
--- no_error_log eval
[$::secret, $::secret2]
