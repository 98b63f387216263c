# gw_webhook standard (Standard Webhooks, standardwebhooks.com): headers
# webhook-id, webhook-timestamp and "webhook-signature: v1,<base64> [v1,...]",
# HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the base64-decoded part
# of the "whsec_<base64>" secret.  Fixtures are computed here with
# Digest::SHA, except the example of the specification, used as published.
#
# The blocks run in file order: the first ones test the tolerance edges with
# a few seconds of slack ($slack), so they must run within a few seconds
# of loading.
#
# The backend, location /backend, echoes the body it got; its requests show in
# the access log as "POST /backend HTTP/1.0" (the proxy's protocol version),
# so "--- no_access_log" with that line shows a refused delivery never got
# there.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_base64);
use MIME::Base64 qw(encode_base64 decode_base64);

# The specification's example.
our $spec_secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
our $spec_id     = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
our $spec_ts     = 1614265330;
our $spec_body   = '{"test": 2432232314}';
our $spec_sig    = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

sub rand_bytes { join '', map { chr int rand 256 } 1 .. $_[0] }

our $now     = time();

# how far inside or outside the tolerance the edge tests stamp their
# deliveries: a few seconds, more under valgrind or ASan (slower starts)
our $slack   = $ENV{TEST_NGINX_USE_VALGRIND} || $ENV{TEST_NGINX_USE_ASAN}
              ? 20 : 3;
our $secret  = 'whsec_' . encode_base64(rand_bytes(32), '');
our $secret2 = 'whsec_' . encode_base64(rand_bytes(24), '');
our $other   = 'whsec_' . encode_base64('another key, not ours', '');
our $id      = 'msg_' . join '', map { ('a'..'z', 'A'..'Z', 0..9)[rand 62] } 1 .. 24;
our $id2     = 'msg_' . join '', map { ('a'..'z', 'A'..'Z', 0..9)[rand 62] } 1 .. 24;
our $body    = '{"type":"user.created","timestamp":"2024-01-01T00:00:00Z",'
               . '"data":{"id":' . int(rand 1e6) . '}}';
our $body2   = '{"type":"user.deleted","data":{"id":' . int(rand 1e6) . '}}';

# "v1,<base64>" (with padding, as the specification writes it)
sub v1 {
    my ($id, $t, $b, $whsec) = @_;
    (my $key = $whsec) =~ s/^whsec_//;
    my $s = hmac_sha256_base64("$id.$t.$b", decode_base64($key));
    $s .= '=' while length($s) % 4;
    return "v1,$s";
}

# the three headers, signed with each given secret
sub hdrs {
    my ($id, $t, $b, @secrets) = @_;
    return "webhook-id: $id\nwebhook-timestamp: $t\nwebhook-signature: "
           . join(' ', map { v1($id, $t, $b, $_) } @secrets);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: tolerance 60s: a few seconds inside it, in the past or the future, passes; a few seconds outside it does not
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "$::secret";
        gw_webhook_tolerance 60s;
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
 "POST /hook\n$::body"]
--- more_headers eval
[::hdrs($::id, $::now - 60 + $::slack, $::body, $::secret),
 ::hdrs($::id, $::now + 60 - $::slack, $::body, $::secret),
 ::hdrs($::id, $::now - 60 - $::slack, $::body, $::secret),
 ::hdrs($::id, $::now + 60 + $::slack, $::body, $::secret)]
--- error_code eval
[200, 200, 401, 401]
--- response_body eval
[$::body, $::body, qr/401 Authorization Required/, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: EXPIRED",
 "X-Status: EXPIRED"]



=== TEST 2: a few seconds past the tolerance (60s) in the future: 401 EXPIRED, logged with the distance, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "$::secret";
        gw_webhook_tolerance 60s;
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
::hdrs($::id, $::now + 60 + $::slack, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: EXPIRED
--- error_log eval
my $t = $::now + 60 + $::slack;
qr/gw_webhook: timestamp $t is \d+ s away from now, tolerance is 60 s/
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 3: the default tolerance is 5 minutes: a few seconds inside it passes, a few seconds outside it does not, both ways
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
 "POST /hook\n$::body"]
--- more_headers eval
[::hdrs($::id, $::now - 300 + $::slack, $::body, $::secret),
 ::hdrs($::id, $::now - 300 - $::slack, $::body, $::secret),
 ::hdrs($::id, $::now + 300 - $::slack, $::body, $::secret),
 ::hdrs($::id, $::now + 300 + $::slack, $::body, $::secret)]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: EXPIRED", "X-Status: VERIFIED",
 "X-Status: EXPIRED"]



=== TEST 4: a few seconds past the tolerance (60s) in the past: 401 EXPIRED, logged with a negative distance
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "$::secret";
        gw_webhook_tolerance 60s;
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
::hdrs($::id, $::now - 60 - $::slack, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: EXPIRED
--- error_log eval
my $t = $::now - 60 - $::slack;
qr/gw_webhook: timestamp $t is -\d+ s away from now, tolerance is 60 s/
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 5: the specification's example (whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330) verifies with a tolerance that covers its age
--- config
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw;
        gw_webhook_tolerance 36500d;
        add_header X-Status $gw_webhook_status always;
        add_header X-Id $gw_webhook_id always;
        add_header X-Ts $gw_webhook_timestamp always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request
POST /hook
{"test": 2432232314}
--- more_headers
webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
webhook-timestamp: 1614265330
webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
--- response_body chomp
{"test": 2432232314}
--- response_headers
X-Status: VERIFIED
X-Id: msg_p5jXN8AQM9LWM0D4loKWxJek
X-Ts: 1614265330
--- no_error_log
gw_webhook:
[error]



=== TEST 6: the specification's example with the default tolerance: 401 EXPIRED
--- config
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw;
        add_header X-Status $gw_webhook_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request
POST /hook
{"test": 2432232314}
--- more_headers
webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
webhook-timestamp: 1614265330
webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
--- error_code: 401
--- response_headers
X-Status: EXPIRED
--- error_log eval
qr/gw_webhook: timestamp 1614265330 is -\d+ s away from now, tolerance is 300 s/
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 7: a fresh message is verified and reaches the backend unchanged; id and timestamp in the variables
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        add_header X-Id \$gw_webhook_id always;
        add_header X-Ts \$gw_webhook_timestamp always;
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
::hdrs($::id, $::now, $::body, $::secret)
--- response_body eval
$::body
--- response_headers eval
"X-Status: VERIFIED\nX-Id: $::id\nX-Ts: $::now"
--- no_error_log
gw_webhook:
[error]



=== TEST 8: several signatures: a wrong v1 before the right one, an asymmetric v1a, unpadded base64
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
my $h = "webhook-id: $::id\nwebhook-timestamp: $::now\nwebhook-signature: ";
my $good = ::v1($::id, $::now, $::body, $::secret);
my $bad = ::v1($::id, $::now, $::body, $::other);
(my $unpadded = $good) =~ s/=+$//;
[$h . "$bad $good",
 $h . "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== $good",
 $h . $unpadded]
--- error_code eval
[200, 200, 200]
--- response_body eval
[$::body, $::body, $::body]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: VERIFIED"]



=== TEST 9: one base64 character changed: 401, signature mismatch, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
my $s = ::v1($::id, $::now, $::body, $::secret);
substr($s, 5, 1) = substr($s, 5, 1) eq 'A' ? 'B' : 'A';
"webhook-id: $::id\nwebhook-timestamp: $::now\nwebhook-signature: $s"
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



=== TEST 10: id, timestamp and body are all signed: changing any one fails, as does another secret
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body2",
 "POST /hook\n$::body"]
--- more_headers eval
my $s = ::v1($::id, $::now, $::body, $::secret);
["webhook-id: $::id2\nwebhook-timestamp: $::now\nwebhook-signature: $s",
 "webhook-id: $::id\nwebhook-timestamp: " . ($::now - 1) . "\nwebhook-signature: $s",
 "webhook-id: $::id\nwebhook-timestamp: $::now\nwebhook-signature: $s",
 ::hdrs($::id, $::now, $::body, $::other)]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID",
 "X-Status: INVALID"]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 11: rotation: with two secrets, a message signed with the second one passes
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
::hdrs($::id, $::now, $::body, $::secret2)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 12: rotation: either secret passes, a third one does not
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
[::hdrs($::id, $::now, $::body, $::secret),
 ::hdrs($::id2, $::now, $::body2, $::secret2),
 ::hdrs($::id, $::now, $::body, $::other)]
--- error_code eval
[200, 200, 401]
--- response_body eval
[$::body, $::body2, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 13: no webhook-id: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
"webhook-timestamp: $::now\nwebhook-signature: "
. ::v1($::id, $::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "webhook-id" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 14: no webhook-timestamp: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
"webhook-id: $::id\nwebhook-signature: "
. ::v1($::id, $::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "webhook-timestamp" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 15: no webhook-signature: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
"webhook-id: $::id\nwebhook-timestamp: $::now"
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "webhook-signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 16: webhook-id twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
::hdrs($::id, $::now, $::body, $::secret) . "\nwebhook-id: $::id"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "webhook-id" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 17: webhook-timestamp twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
::hdrs($::id, $::now, $::body, $::secret) . "\nwebhook-timestamp: $::now"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "webhook-timestamp" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 18: webhook-signature twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
::hdrs($::id, $::now, $::body, $::secret) . "\nwebhook-signature: "
. ::v1($::id, $::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "webhook-signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 19: a signature list without "<version>,": malformed header
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
my $s = ::v1($::id, $::now, $::body, $::secret);
$s =~ s/^v1,//;
"webhook-id: $::id\nwebhook-timestamp: $::now\nwebhook-signature: $s"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed "webhook-signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 20: other malformed lists: "v1," with nothing after it, ",sig", only v1a entries
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
my $h = "webhook-id: $::id\nwebhook-timestamp: $::now\nwebhook-signature: ";
(my $s = ::v1($::id, $::now, $::body, $::secret)) =~ s/^v1//;
[$h . ::v1($::id, $::now, $::body, $::secret) . " v1,",
 $h . $s,
 $h . "v1a$s"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID"]
--- no_error_log
signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 21: a v1 that is not base64: malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
my $s = ::v1($::id, $::now, $::body, $::secret);
substr($s, 6, 1) = '!';
"webhook-id: $::id\nwebhook-timestamp: $::now\nwebhook-signature: $s"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "webhook-signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 22: other malformed signatures: 16 bytes, 48 bytes, data after the padding
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
my $h = "webhook-id: $::id\nwebhook-timestamp: $::now\nwebhook-signature: ";
my $s = ::v1($::id, $::now, $::body, $::secret);
[$h . 'v1,' . ::encode_base64('0123456789abcdef', ''),
 $h . 'v1,' . ::encode_base64('0123456789abcdef' x 3, ''),
 $h . $s . 'AAAA']
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID"]
--- no_error_log
signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 23: a webhook-timestamp that is not a Unix time: malformed timestamp
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
my $t = "$::now.0";
::hdrs($::id, $t, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed timestamp
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 24: secrets, and the keys they carry, never appear in the error log, even at debug level
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
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
[::hdrs($::id, $::now, $::body, $::secret2),
 ::hdrs($::id, $::now, $::body, $::other),
 ::hdrs($::id, $::now - 3600, $::body, $::secret)]
--- error_code eval
[200, 401, 401]
--- no_error_log eval
my @keys = map { substr $_, 6 } $::secret, $::secret2;
[$::secret, $::secret2, @keys]
