# gw_webhook shopify: "X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the
# body>" with the app's client secret, delivery id in X-Shopify-Webhook-Id.
# No timestamp is signed.  Fixtures are computed here with Digest::SHA.
#
# The backend, location /backend, echoes the body it got; its requests show in
# the access log as "POST /backend HTTP/1.0" (the proxy's protocol version),
# so "--- no_access_log" with that line shows a refused delivery never got
# there.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_base64 hmac_sha256_hex hmac_sha256 hmac_sha1);
use MIME::Base64 qw(encode_base64);

our $secret  = 'shpss_' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $secret2 = 'shpss_' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $other   = 'shpss_00000000000000000000000000000000';
our $hook_id = sprintf 'b54557e4-bdd9-4b37-8a5f-%012x', int rand 2**40;
our $body    = '{"id":' . int(rand 1e9) . ',"email":"jon@example.com",'
               . '"total_price":"409.94","currency":"USD"}';
our $body2   = '{"id":' . int(rand 1e9) . ',"title":"IPod Nano - 8GB"}';

# base64 with padding, as Shopify sends it
sub sig {
    my ($b, $s) = @_;
    return encode_base64(hmac_sha256($b, $s), '');
}

# a body whose MAC has "+" or "/" in base64, to write it URL-safe
our $urlbody = $body;
for (my $n = 0; sig($urlbody, $secret) !~ m{[+/]}; $n++) {
    $urlbody = $body . " " . $n;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a fresh delivery is verified, reaches the backend unchanged, its id in $gw_webhook_id
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
"X-Shopify-Topic: orders/create\n"
. "X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret) . "\n"
. "X-Shopify-Webhook-Id: $::hook_id"
--- response_body eval
$::body
--- response_headers eval
"X-Status: VERIFIED\nX-Id: $::hook_id\nX-Ts: []"
--- no_error_log
gw_webhook:
[error]



=== TEST 2: base64 without its padding, and a lower-case header name, are accepted
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
["POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
(my $s = ::sig($::body, $::secret)) =~ s/=+$//;
["X-Shopify-Hmac-Sha256: $s",
 "x-shopify-hmac-sha256: " . ::sig($::body, $::secret)]
--- error_code eval
[200, 200]
--- response_body eval
[$::body, $::body]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED"]



=== TEST 3: one base64 character changed: 401, signature mismatch, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
substr($s, 2, 1) = substr($s, 2, 1) eq 'A' ? 'B' : 'A';
"X-Shopify-Hmac-Sha256: $s"
--- error_code: 401
--- response_body_like: 401 Authorization Required
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: signature mismatch
--- no_error_log
[error]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 4: a changed body, or a signature made with another secret: 401
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
["POST /hook\n$::body2", "POST /hook\n$::body"]
--- more_headers eval
["X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret),
 "X-Shopify-Hmac-Sha256: " . ::sig($::body, $::other)]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID"]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 5: rotation: with two secrets, a delivery signed with the second one passes
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
"X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret2)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 6: rotation: either secret passes, a third one does not
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
["X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret),
 "X-Shopify-Hmac-Sha256: " . ::sig($::body2, $::secret2),
 "X-Shopify-Hmac-Sha256: " . ::sig($::body, $::other)]
--- error_code eval
[200, 200, 401]
--- response_body eval
[$::body, $::body2, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 7: no X-Shopify-Hmac-Sha256: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
"X-Shopify-Webhook-Id: $::hook_id"
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Shopify-Hmac-Sha256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 8: X-Shopify-Hmac-Sha256 twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
"X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret) . "\n"
. "X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "X-Shopify-Hmac-Sha256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 9: X-Shopify-Webhook-Id twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
"X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret) . "\n"
. "X-Shopify-Webhook-Id: $::hook_id\nX-Shopify-Webhook-Id: $::hook_id"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "X-Shopify-Webhook-Id" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 10: a signature that is not base64: malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
substr($s, 4, 1) = '*';
"X-Shopify-Hmac-Sha256: $s"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "X-Shopify-Hmac-Sha256" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 11: other malformed signatures: the right MAC in hex, a SHA-1 MAC in base64, data after the padding, a URL-safe alphabet
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body",
 "POST /hook\n$::urlbody"]
--- more_headers eval
(my $urlsafe = ::sig($::urlbody, $::secret)) =~ tr{+/}{-_};
["X-Shopify-Hmac-Sha256: " . ::hmac_sha256_hex($::body, $::secret),
 "X-Shopify-Hmac-Sha256: " . ::encode_base64(::hmac_sha1($::body, $::secret), ''),
 "X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret) . "AAAA",
 "X-Shopify-Hmac-Sha256: $urlsafe"]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID",
 "X-Status: INVALID"]
--- no_error_log
signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 12: secrets never appear in the error log, even at debug level
--- config eval
qq{
    location = /hook {
        gw_webhook shopify;
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
["POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
["X-Shopify-Hmac-Sha256: " . ::sig($::body, $::secret2),
 "X-Shopify-Hmac-Sha256: " . ::sig($::body, $::other)]
--- error_code eval
[200, 401]
--- no_error_log eval
[$::secret, $::secret2]
