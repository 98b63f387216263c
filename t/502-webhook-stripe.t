# gw_webhook stripe: "Stripe-Signature: t=<unix time>,v1=<hex>[,v1=...]
# [,v0=...]", HMAC-SHA256 of "<t>.<body>" with the endpoint's signing secret
# ("whsec_...", used as it is, as Stripe's libraries do); any v1 may match,
# other schemes are ignored.  Fixtures are computed here with Digest::SHA,
# with timestamps taken from time() when the file loads.
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
use Digest::SHA qw(hmac_sha256_hex);

our $now     = time();

# how far inside or outside the tolerance the edge tests stamp their
# deliveries: a few seconds, more under valgrind or ASan (slower starts)
our $slack   = $ENV{TEST_NGINX_USE_VALGRIND} || $ENV{TEST_NGINX_USE_ASAN}
              ? 20 : 3;
our $secret  = 'whsec_' . join '', map { ('a'..'z', 'A'..'Z', 0..9)[rand 62] } 1 .. 32;
our $secret2 = 'whsec_' . join '', map { ('a'..'z', 'A'..'Z', 0..9)[rand 62] } 1 .. 32;
our $other   = 'whsec_wrong';
our $body    = '{"id":"evt_' . int(rand 1e9) . '","object":"event",'
               . '"type":"payment_intent.succeeded"}';
our $body2   = '{"id":"evt_' . int(rand 1e9) . '","object":"event",'
               . '"type":"invoice.paid"}';

sub v1 { my ($t, $b, $s) = @_; hmac_sha256_hex("$t.$b", $s) }

# "Stripe-Signature: t=<t>,v1=<sig with secret 1>,v1=<sig with secret 2>..."
sub hdr {
    my ($t, $b, @secrets) = @_;
    return "Stripe-Signature: t=$t,"
           . join(',', map { 'v1=' . v1($t, $b, $_) } @secrets);
}

# the signature with one hex digit changed
sub flip {
    my ($s) = @_;
    substr($s, 10, 1) = substr($s, 10, 1) eq 'a' ? 'b' : 'a';
    return $s;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: tolerance 60s: a few seconds inside it, in the past or the future, passes; a few seconds outside it does not
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
[::hdr($::now - 60 + $::slack, $::body, $::secret),
 ::hdr($::now + 60 - $::slack, $::body, $::secret),
 ::hdr($::now - 60 - $::slack, $::body, $::secret),
 ::hdr($::now + 60 + $::slack, $::body, $::secret)]
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
        gw_webhook stripe;
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
::hdr($::now + 60 + $::slack, $::body, $::secret)
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
        gw_webhook stripe;
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
[::hdr($::now - 300 + $::slack, $::body, $::secret),
 ::hdr($::now - 300 - $::slack, $::body, $::secret),
 ::hdr($::now + 300 - $::slack, $::body, $::secret),
 ::hdr($::now + 300 + $::slack, $::body, $::secret)]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: EXPIRED", "X-Status: VERIFIED",
 "X-Status: EXPIRED"]



=== TEST 4: a few seconds past the tolerance (60s) in the past: 401 EXPIRED, logged with a negative distance
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
::hdr($::now - 60 - $::slack, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: EXPIRED
--- error_log eval
my $t = $::now - 60 - $::slack;
qr/gw_webhook: timestamp $t is -\d+ s away from now, tolerance is 60 s/
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 5: a fresh event is verified, reaches the backend unchanged, $gw_webhook_timestamp is "t"
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        add_header X-Ts \$gw_webhook_timestamp always;
        add_header X-Id "[\$gw_webhook_id]" always;
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
::hdr($::now, $::body, $::secret)
--- response_body eval
$::body
--- response_headers eval
"X-Status: VERIFIED\nX-Ts: $::now\nX-Id: []"
--- no_error_log
gw_webhook:
[error]



=== TEST 6: the "whsec_" signing secret is the HMAC key as it is (not base64-decoded as in Standard Webhooks)
--- config
    location = /hook {
        gw_webhook stripe;
        gw_webhook_secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw;
        add_header X-Status $gw_webhook_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
"POST /hook\n$::body"
--- more_headers eval
::hdr($::now, $::body, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED



=== TEST 7: any v1 may match: a wrong v1 first and the right one second passes
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
::hdr($::now, $::body, $::other, $::secret)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED



=== TEST 8: v0 and unknown schemes are ignored, items may come in any order
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
my $v1 = ::v1($::now, $::body, $::secret);
["Stripe-Signature: t=$::now,v1=$v1,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
 "Stripe-Signature: v1=$v1,t=$::now",
 "Stripe-Signature: t=$::now,v2=zzz,v1=$v1,scheme=x"]
--- error_code eval
[200, 200, 200]
--- response_body eval
[$::body, $::body, $::body]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: VERIFIED"]



=== TEST 9: only a v0 signature, even a right one: malformed header
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
"Stripe-Signature: t=$::now,v0=" . ::v1($::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed "Stripe-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 10: one hex digit changed: 401, signature mismatch, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
"Stripe-Signature: t=$::now,v1=" . ::flip(::v1($::now, $::body, $::secret))
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



=== TEST 11: the timestamp is signed: the same v1 with another t fails
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
"Stripe-Signature: t=" . ($::now - 1) . ",v1=" . ::v1($::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 12: a changed body, or a signature made with another secret: 401
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
[::hdr($::now, $::body, $::secret), ::hdr($::now, $::body, $::other)]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID"]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 13: rotation: with two secrets, a delivery signed with the second one passes
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
::hdr($::now, $::body, $::secret2)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 14: rotation: either secret passes, a third one does not
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
[::hdr($::now, $::body, $::secret), ::hdr($::now, $::body2, $::secret2),
 ::hdr($::now, $::body, $::other)]
--- error_code eval
[200, 200, 401]
--- response_body eval
[$::body, $::body2, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 15: no Stripe-Signature header: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "Stripe-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 16: Stripe-Signature twice, both right: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
::hdr($::now, $::body, $::secret) . "\n" . ::hdr($::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "Stripe-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 17: no "t" item: malformed header
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
"Stripe-Signature: v1=" . ::v1($::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed "Stripe-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 18: other malformed headers: two "t", an item without "=", empty values, nothing but commas
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
 "POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
my $v1 = ::v1($::now, $::body, $::secret);
["Stripe-Signature: t=$::now,t=$::now,v1=$v1",
 "Stripe-Signature: t=$::now,v1=$v1,garbage",
 "Stripe-Signature: t=,v1=$v1",
 "Stripe-Signature: t=$::now,v1=",
 "Stripe-Signature: ,,,"]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID",
 "X-Status: INVALID", "X-Status: INVALID"]
--- no_error_log
signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 19: a v1 that is not hex: malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
my $v1 = ::v1($::now, $::body, $::secret);
substr($v1, 3, 1) = 'x';
"Stripe-Signature: t=$::now,v1=$v1"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "Stripe-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 20: a v1 of the wrong length (a SHA-1's 40 hex digits): malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
"Stripe-Signature: t=$::now,v1=" . substr(::v1($::now, $::body, $::secret), 0, 40)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "Stripe-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 21: a "t" that is not a Unix time: malformed timestamp
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
my $t = $::now . "x";
::hdr($t, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed timestamp
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 22: other malformed timestamps, each signed correctly: negative, fractional, 13 digits, hex
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
        gw_webhook_secret "$::secret";
        gw_webhook_tolerance 36500d;
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
[::hdr("-$::now", $::body, $::secret), ::hdr("$::now.5", $::body, $::secret),
 ::hdr("000$::now", $::body, $::secret),
 ::hdr(sprintf('0x%x', $::now), $::body, $::secret)]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID",
 "X-Status: INVALID"]
--- no_error_log
signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 23: secrets never appear in the error log, even at debug level
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
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
[::hdr($::now, $::body, $::secret2), ::hdr($::now, $::body, $::other),
 ::hdr($::now - 3600, $::body, $::secret)]
--- error_code eval
[200, 401, 401]
--- no_error_log eval
[$::secret, $::secret2]
