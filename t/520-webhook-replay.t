# gw_webhook_replay: a verified delivery that the backend answered 2xx is
# remembered for the tolerance window and not forwarded again; the gateway
# answers it with the zone's status (default 200, empty body).  A delivery
# is named by its Standard Webhooks id, otherwise by its verified MAC.  A
# redelivery after a failed attempt is forwarded.
#
# Every backend here echoes the body it got, so an empty 200 body means the
# gateway answered and the backend was not asked.  The blocks run in file
# order: the first one needs a timestamp a few seconds old at most (it is
# skipped under valgrind, where nginx starts too slowly for that).

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use MIME::Base64 qw(encode_base64 decode_base64);

our $now    = time();
our $secret = 'gh-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $whsec  = 'whsec_' . encode_base64(join('', map { chr int rand 256 } 1 .. 32), '');
our @body   = map { '{"delivery":' . $_ . ',"r":' . int(rand 1e9) . '}' } 0 .. 3;

# 256 KiB of random bytes, framed by non-blank bytes (request bodies are
# trimmed of white space before they are sent)
our $big = '<' . pack('N*', map { int rand 2**32 } 1 .. 65536) . '>';

sub gh { 'X-Hub-Signature-256: sha256=' . hmac_sha256_hex($_[0], $secret) }

sub stripe {
    my ($t, $b) = @_;
    return "Stripe-Signature: t=$t,v1=" . hmac_sha256_hex("$t.$b", $secret);
}

sub std {
    my ($id, $t, $b, $key) = @_;
    ($key //= $whsec) =~ s/^whsec_//;
    my $s = encode_base64(hmac_sha256("$id.$t.$b", decode_base64($key)), '');
    return "webhook-id: $id\nwebhook-timestamp: $t\nwebhook-signature: v1,$s";
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a delivery stays remembered while its timestamp is acceptable: one stamped at the future edge of the tolerance is not forwarded again after "tolerance" seconds
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
        gw_webhook_secret "$::secret";
        gw_webhook_tolerance 3s;
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
    location = /sleep {
        echo_sleep 3.5;
        echo slept;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "GET /sleep",
 "POST /hook\n$::body[0]"]
--- more_headers eval
# the sender's clock is 3 s ahead: its timestamp stays acceptable until
# t + 3 s, 6 s from now
my $h = ::stripe($::now + 3, $::body[0]);
[$h, $h, "", $h]
--- timeout: 6
--- skip_eval: 12: $ENV{TEST_NGINX_USE_VALGRIND}
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::body[0], "", "slept\n", ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED", "", "X-Status: REPLAYED"]



=== TEST 2: github: the same delivery again is answered 200 with an empty body and not forwarded; another delivery is
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m;
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
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "POST /hook\n$::body[1]",
 "POST /hook\n$::body[0]", "POST /hook\n$::body[1]"]
--- more_headers eval
[::gh($::body[0]) . "\nX-GitHub-Delivery: id-1",
 ::gh($::body[0]) . "\nX-GitHub-Delivery: id-1",
 ::gh($::body[1]) . "\nX-GitHub-Delivery: id-2",
 ::gh($::body[0]) . "\nX-GitHub-Delivery: id-3",
 ::gh($::body[1])]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body eval
[$::body[0], "", $::body[1], "", ""]
--- response_headers eval
["X-Status: VERIFIED\nX-Id: id-1", "X-Status: REPLAYED\nX-Id: id-1",
 "X-Status: VERIFIED\nX-Id: id-2", "X-Status: REPLAYED\nX-Id: id-3",
 "X-Status: REPLAYED"]
--- no_error_log
[error]



=== TEST 3: a large delivery read in several passes and spooled to a file is answered as a replay, and the keep-alive connection goes on
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m;
        client_body_buffer_size 8k;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        client_body_buffer_size 1m;
        echo_read_request_body;
        echo_request_body;
    }
}
--- pipelined_requests eval
["POST /hook\n$::big", "POST /hook\n$::big", "POST /hook\n$::body[1]"]
--- more_headers eval
[::gh($::big), ::gh($::big), ::gh($::body[1])]
--- error_code eval
[200, 200, 200]
--- response_body eval
[$::big, "", $::body[1]]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED", "X-Status: VERIFIED"]



=== TEST 4: status=202 answers replays 202, empty
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m status=202;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[0])]
--- error_code eval
[200, 202]
--- response_body eval
[$::body[0], ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED"]



=== TEST 5: status=409 answers replays with nginx's 409 page, and error_page applies to it
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m status=409;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /hook2 {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m status=409;
        error_page 409 = /already;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /already {
        echo "already got it";
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "POST /hook2\n$::body[0]"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[0]), ::gh($::body[0])]
--- error_code eval
[200, 409, 200]
--- response_body eval
[$::body[0], qr/409 Conflict/, "already got it\n"]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED", ""]



=== TEST 6: a redelivery after the backend answered 500, 404 or could not be reached is forwarded; after 2xx (204 too) it is not
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$backend_port/backend;
    }
    location = /backend {
        if (\$http_x_backend_fails = 500) {
            return 500;
        }
        if (\$http_x_backend_fails = 404) {
            return 404;
        }
        if (\$http_x_backend_fails = 204) {
            return 204;
        }
        echo_read_request_body;
        echo_request_body;
    }
}
--- http_config
    map $http_x_backend_down $backend_port {
        default  $TEST_NGINX_SERVER_PORT;
        yes      $TEST_NGINX_RAND_PORT_2;
    }
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "POST /hook\n$::body[0]",
 "POST /hook\n$::body[1]", "POST /hook\n$::body[1]",
 "POST /hook\n$::body[2]", "POST /hook\n$::body[2]", "POST /hook\n$::body[2]",
 "POST /hook\n$::body[3]", "POST /hook\n$::body[3]"]
--- more_headers eval
[::gh($::body[0]) . "\nX-Backend-Fails: 500", ::gh($::body[0]), ::gh($::body[0]),
 ::gh($::body[1]) . "\nX-Backend-Fails: 404", ::gh($::body[1]),
 ::gh($::body[2]) . "\nX-Backend-Down: yes", ::gh($::body[2]), ::gh($::body[2]),
 ::gh($::body[3]) . "\nX-Backend-Fails: 204", ::gh($::body[3])]
--- error_code eval
[500, 200, 200,
 404, 200,
 502, 200, 200,
 204, 200]
--- response_body eval
[qr/500 Internal Server Error/, $::body[0], "",
 qr/404 Not Found/, $::body[1],
 qr/502 Bad Gateway/, $::body[2], "",
 "", ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: REPLAYED",
 "X-Status: VERIFIED", "X-Status: VERIFIED",
 "X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: REPLAYED",
 "X-Status: VERIFIED", "X-Status: REPLAYED"]



=== TEST 7: standard: a message is named by its webhook-id: the same id re-signed with a new timestamp or body is a replay, a new id is not
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "$::whsec";
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "POST /hook\n$::body[1]",
 "POST /hook\n$::body[0]"]
--- more_headers eval
[::std('msg_A', $::now, $::body[0]), ::std('msg_A', $::now - 10, $::body[0]),
 ::std('msg_A', $::now, $::body[1]), ::std('msg_B', $::now, $::body[0])]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::body[0], "", "", $::body[0]]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED", "X-Status: REPLAYED",
 "X-Status: VERIFIED"]



=== TEST 8: standard: refused attempts with a delivery's id do not block the real delivery
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "$::whsec";
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "POST /hook\n$::body[0]",
 "POST /hook\n$::body[0]"]
--- more_headers eval
[::std('msg_A', $::now, $::body[0], 'whsec_' . ::encode_base64('forged', '')),
 ::std('msg_A', $::now - 3600, $::body[0]),
 ::std('msg_A', $::now, $::body[0]), ::std('msg_A', $::now, $::body[0])]
--- error_code eval
[401, 401, 200, 200]
--- response_body eval
[qr/401/, qr/401/, $::body[0], ""]
--- response_headers eval
["X-Status: INVALID", "X-Status: EXPIRED", "X-Status: VERIFIED",
 "X-Status: REPLAYED"]



=== TEST 9: stripe: a delivery is named by its MAC: re-signed with a new timestamp it is new; with items added or reordered in the header it is a replay
--- config eval
qq{
    location = /hook {
        gw_webhook stripe;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "POST /hook\n$::body[0]",
 "POST /hook\n$::body[0]"]
--- more_headers eval
my $t = $::now;
my $v1 = ::hmac_sha256_hex("$t.$::body[0]", $::secret);
[::stripe($t, $::body[0]), ::stripe($t - 1, $::body[0]),
 "Stripe-Signature: v0=00ff,v1=$v1,t=$t",
 "Stripe-Signature: t=$t,v1=" . ('0' x 64) . ",v1=$v1"]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::body[0], $::body[0], "", ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: REPLAYED",
 "X-Status: REPLAYED"]



=== TEST 10: gw_webhook_replay off in one location: deliveries there are always forwarded
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    gw_webhook_replay zone=hooks:1m;

    location = /hook {
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /always {
        gw_webhook_replay off;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        gw_webhook off;
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /always\n$::body[0]", "POST /always\n$::body[0]",
 "POST /hook\n$::body[1]", "POST /hook\n$::body[1]"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[0]), ::gh($::body[1]), ::gh($::body[1])]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::body[0], $::body[0], $::body[1], ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: VERIFIED",
 "X-Status: REPLAYED"]



=== TEST 11: a location with its own gw_webhook_replay zone and no status= answers replays with the default 200, not the status of the outer level's zone
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    gw_webhook_replay zone=outer:1m status=202;

    location = /hook {
        gw_webhook_replay zone=inner:1m;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        gw_webhook off;
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[0])]
--- error_code eval
[200, 200]
--- response_body eval
[$::body[0], ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED"]



=== TEST 12: entries are forgotten after the tolerance window: the delivery is forwarded again
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_tolerance 2s;
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
    location = /sleep {
        echo_sleep 3.1;
        echo slept;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[0]", "GET /sleep",
 "POST /hook\n$::body[0]", "POST /hook\n$::body[0]"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[0]), "", ::gh($::body[0]), ::gh($::body[0])]
--- timeout: 6
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body eval
[$::body[0], "", "slept\n", $::body[0], ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED", "", "X-Status: VERIFIED",
 "X-Status: REPLAYED"]



=== TEST 13: a delivery accepted again after its entry expired is remembered again, while older expired entries are still in the zone
--- config
    # Fixed secret and bodies: with these, the expired entry of
    # "delivery-3-X" stays in the zone's tree above the new entry for the
    # same delivery (the zone frees at most two expired entries per lookup,
    # and the four older deliveries come first).
    location = /hook {
        gw_webhook github;
        gw_webhook_secret s3cret;
        gw_webhook_tolerance 2s;
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status $gw_webhook_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
    location = /sleep {
        echo_sleep 3.1;
        echo slept;
    }
--- request eval
[(map { "POST /hook\ndelivery-3-$_" } 1 .. 4, 'X'), "GET /sleep",
 ("POST /hook\ndelivery-3-X") x 3]
--- more_headers eval
[(map { 'X-Hub-Signature-256: sha256='
        . ::hmac_sha256_hex("delivery-3-$_", 's3cret') } 1 .. 4, 'X'),
 "",
 ('X-Hub-Signature-256: sha256='
  . ::hmac_sha256_hex('delivery-3-X', 's3cret')) x 3]
--- timeout: 6
--- error_code eval
[(200) x 9]
--- response_body eval
[(map { "delivery-3-$_" } 1 .. 4, 'X'), "slept\n", "delivery-3-X", "", ""]
--- response_headers eval
[("X-Status: VERIFIED") x 5, "", "X-Status: VERIFIED", "X-Status: REPLAYED",
 "X-Status: REPLAYED"]



=== TEST 14: a full zone forgets the least recently accepted deliveries first, without errors
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=small:32k;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
# 250 deliveries (a 32k zone holds fewer), then the newest and the oldest again
[(map { "POST /hook\nd-$_" } 1 .. 250), "POST /hook\nd-250", "POST /hook\nd-1"]
--- more_headers eval
[(map { ::gh("d-$_") } 1 .. 250), ::gh("d-250"), ::gh("d-1")]
--- error_code eval
[(200) x 252]
--- response_body eval
[(map { "d-$_" } 1 .. 250), "", "d-1"]
--- response_headers eval
[("X-Status: VERIFIED") x 250, "X-Status: REPLAYED", "X-Status: VERIFIED"]
