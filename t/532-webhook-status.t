# gw_status shows what gw_webhook decided: nginx_gw_webhook_requests_total
# by scheme and verdict (every one of the 6 x 5 series, zeros included)
# and nginx_gw_webhook_body_bytes_total by scheme, as JSON and in
# Prometheus's text format.  nginx runs with a master and two workers: the
# counters are in shared memory, so whichever worker answers the status
# request shows the requests of both, and a reload keeps them.
#
# A block with a "--- counts eval" section ({ requests => { "scheme/status"
# => n }, bytes => { scheme => n } }, every series not named being 0) has
# each status response it gets checked against it, whole: a JSON body with
# NginxGw::Status's json_value, a Prometheus one with prom_value, and
# promtool's own check.  The bytes are those of bodies verified or refused
# after reading: a delivery refused on its headers (missing signature,
# expired timestamp) is never read.  Every fixture is made here with
# Digest::SHA.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

use NginxGw::BlockReload qw(reload_block);
use NginxGw::Status qw(prom_parse prom_value prom_check json_value);

master_on();
workers(2);

# a block's --- error_log is looked for in all its log, not per request
check_accum_error_log();

# Under valgrind nginx runs without a master (master_process off): its one
# process accepts on the first of the "reuseport" sockets only, and cannot
# reload (a reconfigured single process does not listen again).
our $reuseport = $ENV{TEST_NGINX_USE_VALGRIND} ? '' : ' reuseport';

our @schemes  = qw(github stripe standard slack shopify hmac);
our @statuses = qw(verified missing invalid expired replayed);

our $secret = 'gh-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $whsec  = 'whsec_' . join '', map { ('a'..'z', 0..9)[rand 36] } 1 .. 32;
our @body   = map { '{"delivery":' . $_ . ',"r":' . int(rand 1e9) . '}' }
              0 .. 9;

# a body for a client_max_body_size of 1k, sent in two chunks of 1000
our $z = 'z' x 2000;

# 200 KiB of random bytes framed by non-blank bytes (request bodies are
# trimmed of white space before they are sent)
our $big = '<' . pack('N*', map { int rand 2**32 } 1 .. 51200) . '>';

# the size of the counters' zone "gw_status_webhook": 8 pages of the slab
# pool's own and one for 36 counters
our $counters_zone = 9 * POSIX::sysconf(POSIX::_SC_PAGESIZE()) / 1024 . 'k';

sub gh   { 'X-Hub-Signature-256: sha256=' . hmac_sha256_hex($_[0], $secret) }
sub bad  { 'X-Hub-Signature-256: sha256=' . hmac_sha256_hex($_[0], 'wrong') }
sub len  { my $n = 0; $n += length $_ for @_; $n }

sub stripe {
    my ($t, $b) = @_;
    return "Stripe-Signature: t=$t,v1=" . hmac_sha256_hex("$t.$b", $whsec);
}

# every series: the wanted ones, 0 elsewhere
sub want_requests {
    my ($counts) = @_;
    return { map { my $s = $_;
                   map { ("$s/$_" => $counts->{requests}{"$s/$_"} // 0) }
                   @statuses } @schemes };
}

# bytes wanted: a number, or [min, max] where the count depends on how the
# body arrived (then a value in range is taken as it is)
sub want_bytes {
    my ($counts, $got) = @_;
    my %want;
    for my $s (@schemes) {
        my $w = $counts->{bytes}{$s} // 0;
        if (ref $w) {
            my $g = $got->{$s};
            $w = (defined $g && $g >= $w->[0] && $g <= $w->[1])
                 ? $g : "from $w->[0] to $w->[1]";
        }
        $want{$s} = $w;
    }
    return \%want;
}

sub check_json {
    my ($name, $counts, $body) = @_;

    my $j = eval { JSON::PP::decode_json($body) };
    ok($j, "$name - status: JSON parses") or return diag($@);

    my (%req, %bytes);
    for my $s (@schemes) {
        $bytes{$s} = json_value($j, 'webhook', 'body_bytes_total',
                                { scheme => $s });
        $req{"$s/$_"} = json_value($j, 'webhook', 'requests_total',
                                   { scheme => $s, status => $_ })
            for @statuses;
    }

    is_deeply(\%req, want_requests($counts),
              "$name - JSON requests_total, every scheme and status");
    is_deeply(\%bytes, want_bytes($counts, \%bytes),
              "$name - JSON body_bytes_total, every scheme");
    is(scalar @{ $j->{webhook}{requests_total} // [] }, 30,
       "$name - JSON requests_total has 30 series");
    is(scalar @{ $j->{webhook}{body_bytes_total} // [] }, 6,
       "$name - JSON body_bytes_total has 6 series");
}

sub check_prom {
    my ($name, $counts, $body) = @_;

    my $m = eval { prom_parse($body) };
    ok($m, "$name - status: Prometheus text parses") or return diag($@);

    my ($ok, $out) = prom_check($body);
    ok($ok, "$name - promtool check metrics passes") or diag($out);

    my (%req, %bytes);
    for my $s (@schemes) {
        $bytes{$s} = prom_value($m, 'nginx_gw_webhook_body_bytes_total',
                                { scheme => $s });
        $req{"$s/$_"} = prom_value($m, 'nginx_gw_webhook_requests_total',
                                   { scheme => $s, status => $_ })
            for @statuses;
    }

    is_deeply(\%req, want_requests($counts),
              "$name - Prometheus requests_total, every scheme and status");
    is_deeply(\%bytes, want_bytes($counts, \%bytes),
              "$name - Prometheus body_bytes_total, every scheme");

    my %n;
    $n{ $_->{name} }++ for @{ $m->{samples} };
    is($n{nginx_gw_webhook_requests_total}, 30,
       "$name - Prometheus requests_total has 30 series");
    is($n{nginx_gw_webhook_body_bytes_total}, 6,
       "$name - Prometheus body_bytes_total has 6 series");
    is($m->{families}{"nginx_gw_webhook_$_"}{type}, 'counter',
       "$name - $_ is a counter")
        for qw(requests_total body_bytes_total);
}

add_response_body_check(sub {
    my ($block, $body, $idx, $rep, $dry_run) = @_;

    return if $dry_run || !defined $block->counts;

    my $name = $block->name . " #$idx";

    if ($body =~ /^\{"nginx_gw"/) {
        check_json($name, $block->counts, $body);

    } elsif ($body =~ /^# HELP nginx_gw_info /) {
        check_prom($name, $block->counts, $body);
    }
});

# For a block titled "... reload ...": after its first response, reload
# (NginxGw::BlockReload: "gen-1" becomes "gen-2", SIGHUP, wait for gen-2).
add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;

    return unless $block->name =~ /\breload\b/ && $req_idx == 0 && !$dry_run;

    reload_block($block->name);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: no location verifies webhooks: all 36 series are there, at 0, in both formats
--- config
    location = /status {
        gw_status;
    }
    location = /metrics {
        gw_status prometheus;
    }
--- request eval
["GET /status", "GET /status?format=prometheus", "GET /metrics",
 "GET /metrics?format=json"]
--- counts eval
+{}
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["Content-Type: application/json",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Content-Type: application/json"]
--- no_error_log
[error]



=== TEST 2: two workers: 2 verified, 1 invalid, 1 missing GitHub deliveries, 1 replay, 1 expired Stripe one: each counted once under its scheme and verdict, bodies read counted in bytes, whichever worker answers
--- http_config eval
qq{
    # the gateway: "reuseport" spreads the connections over both workers
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1$::reuseport;

        location = /github {
            gw_webhook github;
            gw_webhook_secret "$::secret";
            gw_webhook_replay zone=hooks:1m;
            add_header X-Status \$gw_webhook_status always;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
        }
        location = /stripe {
            gw_webhook stripe;
            gw_webhook_secret "$::whsec";
            add_header X-Status \$gw_webhook_status always;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
        }
        location = /status {
            gw_status;
        }
        location = /metrics {
            gw_status prometheus;
        }
    }
}
--- config
    # /gw/<path> is the gateway's /<path>
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
["POST /gw/github\n$::body[0]", "POST /gw/github\n$::body[1]",
 "POST /gw/github\n$::body[2]", "POST /gw/github\n$::body[3]",
 "POST /gw/stripe\n$::body[4]", "POST /gw/github\n$::body[0]",
 "GET /gw/status", "GET /gw/status?format=prometheus", "GET /gw/metrics"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[1]), ::bad($::body[2]), "X-Other: 1",
 ::stripe(time - 3600, $::body[4]), ::gh($::body[0]), "", "", ""]
--- error_code eval
[200, 200, 401, 401, 401, 200, 200, 200, 200]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID",
 "X-Status: MISSING", "X-Status: EXPIRED", "X-Status: REPLAYED",
 "Content-Type: application/json",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- counts eval
+{ requests => { 'github/verified' => 2, 'github/invalid' => 1,
                'github/missing' => 1, 'github/replayed' => 1,
                'stripe/expired' => 1 },
  bytes => { github => ::len(@::body[0, 1, 2, 0]) } }
--- no_error_log
[error]



=== TEST 3: internal redirects: a delivery verified, then sent to a named location that inherits gw_webhook, is counted once; so is one refused and sent to an error page that verifies too; a 200 KiB body spooled to a file counts every byte once
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    client_body_buffer_size 8k;

    location = /hook {
        add_header X-Status \$gw_webhook_status always;
        error_page 502 = \@fallback;
        error_page 401 = \@refused;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/down;
    }
    location \@fallback {
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
    location \@refused {
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
    location = /status {
        gw_webhook off;
        gw_status;
    }
}
--- request eval
["POST /hook\n$::big", "POST /hook\n$::body[0]", "POST /hook\n$::body[1]",
 "GET /status"]
--- more_headers eval
[::gh($::big), ::gh($::body[0]), ::bad($::body[1]), ""]
--- error_code eval
[200, 200, 401, 200]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID", ""]
--- counts eval
+{ requests => { 'github/verified' => 2, 'github/invalid' => 1 },
  bytes => { github => ::len($::big, @::body[0, 1]) } }
--- error_log
a client request body is buffered to a temporary file



=== TEST 4: a chunked body above client_max_body_size, with an error page in the gw_webhook scope: 413, counted once as invalid, with at most its first chunk's bytes
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    error_page 413 /too-large;

    location = /hook {
        client_max_body_size 1k;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /too-large {
        echo "too large";
    }
    location = /backend {
        gw_webhook off;
        echo_read_request_body;
        echo_request_body;
    }
    location = /status {
        gw_webhook off;
        gw_status;
    }
}
--- request eval
[["POST /hook\n3e8\r\n" . substr($::z, 0, 1000) . "\r\n",
  { value => "3e8\r\n" . substr($::z, 1000) . "\r\n0\r\n\r\n",
    delay_before => 0.3 }],
 "GET /status"]
--- more_headers eval
["Transfer-Encoding: chunked\n" . ::gh($::z), ""]
--- error_code eval
[413, 200]
--- counts eval
+{ requests => { 'github/invalid' => 1 }, bytes => { github => [0, 1000] } }
--- error_log
client intended to send too large chunked body



=== TEST 5: the counters survive a reload: deliveries before and after "nginx -s reload" are all counted
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
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
    location = /metrics {
        gw_status prometheus;
    }
}
--- request eval
["POST /hook\n$::body[0]", "POST /hook\n$::body[1]", "POST /hook\n$::body[2]",
 "GET /metrics"]
--- more_headers eval
[::gh($::body[0]), ::gh($::body[1]), ::bad($::body[2]), ""]
--- error_code eval
[200, 200, 401, 200]
--- response_headers eval
["X-Status: VERIFIED\nX-Gen: gen-1", "X-Status: VERIFIED\nX-Gen: gen-2",
 "X-Status: INVALID\nX-Gen: gen-2", ""]
--- counts eval
+{ requests => { 'github/verified' => 2, 'github/invalid' => 1 },
  bytes => { github => ::len(@::body[0 .. 2]) } }
--- skip_eval: 18: $ENV{TEST_NGINX_USE_VALGRIND}



=== TEST 6: a status location answers GET only: POST is 405
--- config
    location = /status {
        gw_status;
    }
--- request
POST /status
x=1
--- error_code: 405



=== TEST 7: an unknown ?format= is 400, logged at info; ?format=json on a Prometheus location is JSON
--- config
    location = /metrics {
        gw_status prometheus;
    }
--- request eval
["GET /metrics?format=xml", "GET /metrics?format=json"]
--- error_code eval
[400, 200]
--- response_headers eval
["", "Content-Type: application/json"]
--- error_log
gw_status: unknown format "xml"



=== TEST 8: "gw_status bogus" fails with the format it must be
--- config
    location = /status {
        gw_status bogus;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid format "bogus", it must be "json" or "prometheus" in \S+nginx\.conf:\d+/



=== TEST 9: "gw_status" twice in one location is duplicate
--- config
    location = /status {
        gw_status;
        gw_status prometheus;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_status" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 10: a replay zone cannot take the name and size of the status counters' zone
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        gw_webhook_replay zone=gw_status_webhook:$::counters_zone;
        echo ok;
    }
}
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "gw_status_webhook" is taken by gw_status's counters in \S+nginx\.conf:\d+/
