# gw_webhook_replay keeps its deliveries in shared memory: every worker sees
# what another one accepted, and a reload (SIGHUP to the master) keeps them.
# nginx runs here with a master and two workers.  Every backend echoes the
# body it got, so an empty 200 body means the gateway answered alone.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use NginxGw::BlockReload qw(reload_block);

master_on();
workers(2);

our $secret = 'gh-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our @body   = map { '{"delivery":' . $_ . ',"r":' . int(rand 1e9) . '}' } 0 .. 9;

sub gh { 'X-Hub-Signature-256: sha256=' . hmac_sha256_hex($_[0], $secret) }

# For the block titled "... reload ...": after its first response, reload
# (NginxGw::BlockReload: "gen-1" becomes "gen-2", SIGHUP, wait for gen-2).
add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;

    return unless $block->name =~ /\breload\b/ && $req_idx == 0 && !$dry_run;

    reload_block($block->name);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers, one zone: ten deliveries, then each again: every one is a replay whichever worker takes it
--- http_config eval
qq{
    # the gateway: "reuseport" spreads the connections over both workers
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 reuseport;
        location = /hook {
            gw_webhook github;
            gw_webhook_secret "$::secret";
            gw_webhook_replay zone=hooks:1m;
            add_header X-Status \$gw_webhook_status always;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
        }
    }
}
--- config
    location = /hook {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
[(map { "POST /hook\n$::body[$_]" } 0 .. 9), (map { "POST /hook\n$::body[$_]" } 0 .. 9)]
--- more_headers eval
[(map { ::gh($::body[$_]) } 0 .. 9), (map { ::gh($::body[$_]) } 0 .. 9)]
--- error_code eval
[(200) x 20]
--- response_body eval
[@::body, ("") x 10]
--- response_headers eval
[("X-Status: VERIFIED") x 10, ("X-Status: REPLAYED") x 10]



=== TEST 2: the zone survives a reload: a delivery accepted before "nginx -s reload" is a replay after it
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=hooks:1m;
        add_header X-Status \$gw_webhook_status always;
        add_header X-Gen gen-1 always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
    location = /gen {
        echo gen-1;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[1]", "POST /hook\n$::body[0]",
 "POST /hook\n$::body[1]"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[1]), ::gh($::body[0]), ::gh($::body[1])]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::body[0], $::body[1], "", ""]
--- response_headers eval
["X-Status: VERIFIED\nX-Gen: gen-1", "X-Status: VERIFIED\nX-Gen: gen-2",
 "X-Status: REPLAYED\nX-Gen: gen-2", "X-Status: REPLAYED\nX-Gen: gen-2"]
