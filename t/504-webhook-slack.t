# gw_webhook slack: "X-Slack-Signature: v0=<hex>", HMAC-SHA256 of
# "v0:<X-Slack-Request-Timestamp>:<body>" with the app's signing secret.
# Fixtures are computed here with Digest::SHA, except the example of Slack's
# "Verifying requests from Slack", used as published.
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

# Slack's published example.
our $doc_secret = '8f742231b10e8888abcd99yyyzzz85a5';
our $doc_ts     = 1531420618;
our $doc_body   = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
our $doc_sig    = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

our $now     = time();

# how far inside or outside the tolerance the edge tests stamp their
# deliveries: a few seconds, more under valgrind or ASan (slower starts)
our $slack   = $ENV{TEST_NGINX_USE_VALGRIND} || $ENV{TEST_NGINX_USE_ASAN}
              ? 20 : 3;
our $secret  = join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $secret2 = join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $other   = '00000000000000000000000000000000';
our $body    = 'token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&command=%2Fdeploy'
               . '&text=build+' . int(rand 1e6);
our $body2   = '{"type":"event_callback","event":{"type":"app_mention",'
               . '"text":"hi ' . int(rand 1e6) . '"}}';

sub v0 { my ($t, $b, $s) = @_; 'v0=' . hmac_sha256_hex("v0:$t:$b", $s) }

sub hdrs {
    my ($t, $b, $s) = @_;
    return "X-Slack-Request-Timestamp: $t\nX-Slack-Signature: " . v0($t, $b, $s);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: tolerance 60s: a few seconds inside it, in the past or the future, passes; a few seconds outside it does not
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
[::hdrs($::now - 60 + $::slack, $::body, $::secret),
 ::hdrs($::now + 60 - $::slack, $::body, $::secret),
 ::hdrs($::now - 60 - $::slack, $::body, $::secret),
 ::hdrs($::now + 60 + $::slack, $::body, $::secret)]
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
        gw_webhook slack;
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
::hdrs($::now + 60 + $::slack, $::body, $::secret)
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
        gw_webhook slack;
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
[::hdrs($::now - 300 + $::slack, $::body, $::secret),
 ::hdrs($::now - 300 - $::slack, $::body, $::secret),
 ::hdrs($::now + 300 - $::slack, $::body, $::secret),
 ::hdrs($::now + 300 + $::slack, $::body, $::secret)]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: EXPIRED", "X-Status: VERIFIED",
 "X-Status: EXPIRED"]



=== TEST 4: a few seconds past the tolerance (60s) in the past: 401 EXPIRED, logged with a negative distance
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
::hdrs($::now - 60 - $::slack, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: EXPIRED
--- error_log eval
my $t = $::now - 60 - $::slack;
qr/gw_webhook: timestamp $t is -\d+ s away from now, tolerance is 60 s/
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 5: Slack's documented example (signing secret 8f742231b10e8888abcd99yyyzzz85a5, timestamp 1531420618) verifies with a tolerance that covers its age
--- config
    location = /hook {
        gw_webhook slack;
        gw_webhook_secret 8f742231b10e8888abcd99yyyzzz85a5;
        gw_webhook_tolerance 36500d;
        add_header X-Status $gw_webhook_status always;
        add_header X-Ts $gw_webhook_timestamp always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
"POST /hook\n$::doc_body"
--- more_headers
Content-Type: application/x-www-form-urlencoded
X-Slack-Request-Timestamp: 1531420618
X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503
--- response_body eval
$::doc_body
--- response_headers
X-Status: VERIFIED
X-Ts: 1531420618
--- no_error_log
gw_webhook:
[error]



=== TEST 6: Slack's documented example with the default tolerance: 401 EXPIRED
--- config
    location = /hook {
        gw_webhook slack;
        gw_webhook_secret 8f742231b10e8888abcd99yyyzzz85a5;
        add_header X-Status $gw_webhook_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
"POST /hook\n$::doc_body"
--- more_headers
X-Slack-Request-Timestamp: 1531420618
X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503
--- error_code: 401
--- response_headers
X-Status: EXPIRED
--- error_log eval
qr/gw_webhook: timestamp 1531420618 is -\d+ s away from now, tolerance is 300 s/
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 7: a fresh request is verified and reaches the backend unchanged, hex in either case
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        add_header X-Ts \$gw_webhook_timestamp always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body2"]
--- more_headers eval
[::hdrs($::now, $::body, $::secret),
 "X-Slack-Request-Timestamp: $::now\nX-Slack-Signature: v0="
 . uc(substr(::v0($::now, $::body2, $::secret), 3))]
--- response_body eval
[$::body, $::body2]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Status: VERIFIED\nX-Ts: $::now", "X-Status: VERIFIED\nX-Ts: $::now"]
--- no_error_log
gw_webhook:
[error]



=== TEST 8: one hex digit changed: 401, signature mismatch, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
my $s = ::v0($::now, $::body, $::secret);
substr($s, 9, 1) = substr($s, 9, 1) eq 'a' ? 'b' : 'a';
"X-Slack-Request-Timestamp: $::now\nX-Slack-Signature: $s"
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



=== TEST 9: timestamp and body are signed: changing either fails, as does another secret
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
["POST /hook\n$::body", "POST /hook\n$::body2", "POST /hook\n$::body"]
--- more_headers eval
["X-Slack-Request-Timestamp: " . ($::now + 1) . "\nX-Slack-Signature: "
 . ::v0($::now, $::body, $::secret),
 ::hdrs($::now, $::body, $::secret),
 ::hdrs($::now, $::body, $::other)]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID"]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 10: rotation: with two secrets, a request signed with the second one passes
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
::hdrs($::now, $::body, $::secret2)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 11: rotation: either secret passes, a third one does not
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
[::hdrs($::now, $::body, $::secret), ::hdrs($::now, $::body2, $::secret2),
 ::hdrs($::now, $::body, $::other)]
--- error_code eval
[200, 200, 401]
--- response_body eval
[$::body, $::body2, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 12: no X-Slack-Signature: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
"X-Slack-Request-Timestamp: $::now"
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Slack-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 13: no X-Slack-Request-Timestamp: 401 MISSING
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
"X-Slack-Signature: " . ::v0($::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Slack-Request-Timestamp" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 14: X-Slack-Signature twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
::hdrs($::now, $::body, $::secret) . "\nX-Slack-Signature: "
. ::v0($::now, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "X-Slack-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 15: X-Slack-Request-Timestamp twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
::hdrs($::now, $::body, $::secret) . "\nX-Slack-Request-Timestamp: $::now"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "X-Slack-Request-Timestamp" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 16: a version other than "v0=": malformed header
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
(my $s = ::v0($::now, $::body, $::secret)) =~ s/^v0=/v1=/;
"X-Slack-Request-Timestamp: $::now\nX-Slack-Signature: $s"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed "X-Slack-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 17: "v0=" followed by what is not 64 hex digits: malformed signature
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
my $s = ::v0($::now, $::body, $::secret);
substr($s, 20, 1) = 'z';
"X-Slack-Request-Timestamp: $::now\nX-Slack-Signature: $s"
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "X-Slack-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 18: a timestamp that is not a Unix time, signed correctly: malformed timestamp
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
my $t = "1e10";
::hdrs($t, $::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed timestamp
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 19: secrets never appear in the error log, even at debug level
--- config eval
qq{
    location = /hook {
        gw_webhook slack;
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
[::hdrs($::now, $::body, $::secret2), ::hdrs($::now, $::body, $::other),
 ::hdrs($::now - 3600, $::body, $::secret)]
--- error_code eval
[200, 401, 401]
--- no_error_log eval
[$::secret, $::secret2]
