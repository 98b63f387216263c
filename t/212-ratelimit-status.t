# gw_status shows what gw_ratelimit and its Redis client did, exactly, as
# JSON and in Prometheus's text format:
#
#   nginx_gw_ratelimit_requests_total{zone, status}   once per zone checked
#       per request, status as $gw_ratelimit_status in lower case; a key
#       that is empty is not checked, so not counted
#   nginx_gw_ratelimit_redis_errors_total{zone}       checks Redis failed
#   nginx_gw_ratelimit_keys{zone}                     keys in shared memory
#   nginx_gw_ratelimit_evictions_total{zone}          keys evicted early
#   nginx_gw_ratelimit_redis_up{redis, server}        1, or 0 when down
#   nginx_gw_ratelimit_redis_commands_total{redis}
#   nginx_gw_ratelimit_redis_command_seconds_total{redis}
#   nginx_gw_ratelimit_redis_failures_total{redis, reason}
#
# nginx runs with a master and two workers; the limited locations are in a
# server listening with "reuseport" (as in t/209), which the test server
# proxies to on a new connection per request, so both workers count.  The
# figures are in shared memory (the zones', and each gw_redis's own zone),
# so whichever worker answers a status request shows all of them, and a
# reload keeps them.  Redis's failures are counted by reason: an error
# reply (a limiter key that holds a string: WRONGTYPE), a timeout (a
# listening socket of this script's that never answers), a connection
# refused, and commands refused at once while a server is marked down.
#
# A block with a "--- metrics eval" section has each status response it
# gets checked against it, whole: every series of every zone and gw_redis
# block named there (a series not given is 0), with NginxGw::Status's
# json_value or prom_value, and promtool's own check.  Redis is a
# redis-server of this test's own ($TEST_NGINX_RL_REDIS_PORT), so that no
# other test's FLUSHALL or commands change what it holds or counts; the
# Redis that is down is a port nothing listens on ($TEST_NGINX_RAND_PORT_3);
# the one that never answers is $TEST_NGINX_MUTE_PORT.  The Redis that
# works gets timeout=2s, so that a loaded machine does not turn its replies
# into timeouts.

use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(sleep time);

use NginxGw::BlockReload qw(reload_block);
use NginxGw::Redis qw(redis_available redis_start);
use NginxGw::Status qw(prom_parse prom_value prom_check json_value);

plan skip_all => 'redis-server not installed' unless redis_available();

our $redis = redis_start(server_root() . '/redis');
$ENV{TEST_NGINX_RL_REDIS_PORT} = $redis->port;

# a Redis that accepts connections (the kernel does) and never answers
our $mute = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!\n";
$ENV{TEST_NGINX_MUTE_PORT} = $mute->sockport;

# TEST 4's limiter key holds a string: the script fails with WRONGTYPE
$redis->cli('SET', 'gw:rl:{wrong:k4}:sw', 'not a hash') eq 'OK'
    or die "redis-cli SET failed\n";

master_on();
workers(2);
no_root_location();

# a block's --- error_log is looked for in all its log, not per request
check_accum_error_log();

our @statuses = qw(passed rejected dry_run error);
our @reasons  = qw(timeout connection error_reply down);

sub expand {
    my ($s) = @_;
    $s =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/$ENV{$1}/g;
    return $s;
}

# every series wanted, from the block's --- metrics (0 where not given);
# a value given as [min, max] is a range, checked on the value got
sub wanted {
    my ($m) = @_;
    my %w;

    for my $z (@{ $m->{zones} }) {
        $w{"requests_total/$z/$_"} = $m->{requests}{"$z/$_"} // 0
            for @statuses;
        $w{"keys/$z"} = $m->{keys}{$z} // 0;
        $w{"evictions_total/$z"} = $m->{evictions}{$z} // 0;
    }

    for my $z (@{ $m->{redis_zones} // [] }) {
        $w{"redis_errors_total/$z"} = $m->{redis_errors}{$z} // 0;
    }

    for my $r (@{ $m->{redis} // [] }) {
        $w{"redis_commands_total/$r"} = $m->{commands}{$r} // 0;
        $w{"redis_failures_total/$r/$_"} = $m->{failures}{"$r/$_"} // 0
            for @reasons;
        # well under a second per command on a local Redis
        $w{"redis_command_seconds_total/$r"}
            = [0, ($m->{commands}{$r} // 0) * 0.5];
    }

    for my $s (keys %{ $m->{up} // {} }) {
        $w{ expand("redis_up/$s") } = $m->{up}{$s};
    }

    return \%w;
}

# the same series read from the output, by a reader of the format
sub got {
    my ($m, $wanted, $read) = @_;
    my %g;

    for my $k (keys %$wanted) {
        my ($family, @l) = split m{/}, $k;
        my %labels;

        if ($family eq 'requests_total') {
            %labels = (zone => $l[0], status => $l[1]);
        } elsif ($family =~ /^(keys|evictions_total|redis_errors_total)$/) {
            %labels = (zone => $l[0]);
        } elsif ($family eq 'redis_failures_total') {
            %labels = (redis => $l[0], reason => $l[1]);
        } elsif ($family eq 'redis_up') {
            %labels = (redis => $l[0], server => $l[1]);
        } else {
            %labels = (redis => $l[0]);
        }

        $g{$k} = $read->($family, \%labels);
    }

    return \%g;
}

sub compare {
    my ($name, $wanted, $got) = @_;
    my %w = %$wanted;

    for my $k (keys %w) {
        next unless ref $w{$k};
        my ($min, $max) = @{ $w{$k} };
        $w{$k} = (defined $got->{$k} && $got->{$k} >= $min
                  && $got->{$k} <= $max) ? $got->{$k} : "from $min to $max";
    }

    is_deeply($got, \%w, $name);
}

# how many series of each family the output has
sub counts {
    my ($m) = @_;
    my %n;

    for my $z (@{ $m->{zones} }) {
        $n{requests_total} += @statuses;
        $n{keys}++;
        $n{evictions_total}++;
    }

    $n{redis_errors_total} = @{ $m->{redis_zones} // [] };
    $n{redis_up} = keys %{ $m->{up} // {} };

    for my $r (@{ $m->{redis} // [] }) {
        $n{redis_commands_total}++;
        $n{redis_command_seconds_total}++;
        $n{redis_failures_total} += @reasons;
    }

    $n{$_} //= 0 for qw(requests_total keys evictions_total redis_errors_total
                        redis_up redis_commands_total
                        redis_command_seconds_total redis_failures_total);
    return \%n;
}

sub check_json {
    my ($name, $m, $body) = @_;

    my $j = eval { JSON::PP::decode_json($body) };
    ok($j, "$name - JSON parses") or return diag($@);

    my $w = wanted($m);
    my $g = got($m, $w, sub { json_value($j, 'ratelimit', @_) });
    compare("$name - JSON: every series", $w, $g);

    my $n = counts($m);
    is_deeply({ map { $_ => scalar @{ $j->{ratelimit}{$_} // [] } } keys %$n },
              $n, "$name - JSON: every family, with as many series");

    for my $r (keys %{ $m->{failed} // {} }) {
        my $n = 0;
        $n += json_value($j, 'ratelimit', 'redis_failures_total',
                         { redis => $r, reason => $_ }) for @reasons;
        is($n, $m->{failed}{$r}, "$name - JSON: failures of \"$r\"");
    }

    # the sum of evicted and held keys is every key made
    for my $z (keys %{ $m->{made} // {} }) {
        is(json_value($j, 'ratelimit', 'keys', { zone => $z })
           + json_value($j, 'ratelimit', 'evictions_total', { zone => $z }),
           $m->{made}{$z}, "$name - JSON: keys + evictions of \"$z\"");
        cmp_ok(json_value($j, 'ratelimit', 'evictions_total', { zone => $z }),
               '>', 0, "$name - JSON: \"$z\" evicted keys");
    }
}

sub check_prom {
    my ($name, $m, $body) = @_;

    my $p = eval { prom_parse($body) };
    ok($p, "$name - Prometheus text parses") or return diag($@);

    my ($ok, $out) = prom_check($body);
    ok($ok, "$name - promtool check metrics passes") or diag($out);

    my $w = wanted($m);
    my $g = got($m, $w, sub { prom_value($p, "nginx_gw_ratelimit_$_[0]",
                                         $_[1]) });
    compare("$name - Prometheus: every series", $w, $g);

    my $n = counts($m);
    my %got = map { $_ => 0 } keys %$n;
    for (@{ $p->{samples} }) {
        $got{$1}++ if $_->{name} =~ /^nginx_gw_ratelimit_(.*)$/;
    }
    is_deeply(\%got, $n, "$name - Prometheus: as many series of each family");

    for my $f (keys %$n) {
        is($p->{families}{"nginx_gw_ratelimit_$f"}{type},
           $f =~ /_total$/ ? 'counter' : 'gauge', "$name - $f: its type");
    }

    for my $r (keys %{ $m->{failed} // {} }) {
        my $n = 0;
        $n += prom_value($p, 'nginx_gw_ratelimit_redis_failures_total',
                         { redis => $r, reason => $_ }) for @reasons;
        is($n, $m->{failed}{$r}, "$name - Prometheus: failures of \"$r\"");
    }

    for my $z (keys %{ $m->{made} // {} }) {
        is(prom_value($p, 'nginx_gw_ratelimit_keys', { zone => $z })
           + prom_value($p, 'nginx_gw_ratelimit_evictions_total',
                        { zone => $z }),
           $m->{made}{$z}, "$name - Prometheus: keys + evictions of \"$z\"");
    }
}

add_response_body_check(sub {
    my ($block, $body, $idx, $rep, $dry_run) = @_;

    return if $dry_run || !defined $block->metrics || !defined $body;

    my $name = $block->name . " #$idx";

    if ($body =~ /^\{"nginx_gw"/) {
        check_json($name, $block->metrics, $body);

    } elsif ($body =~ /^# HELP nginx_gw_info /) {
        check_prom($name, $block->metrics, $body);
    }
});

# For a block titled "... reload ...": after the response to the request
# whose URI has "?reload", reload (NginxGw::BlockReload: "gen-1" becomes
# "gen-2", SIGHUP, wait for gen-2 and for the old workers to be gone).
add_response_body_check(sub {
    my ($block, $body, $idx, $rep, $dry_run) = @_;

    return unless $block->name =~ /\breload\b/ && !$dry_run;

    my $reqs = $block->request;
    return unless ref $reqs && $reqs->[$idx] =~ /\?reload/;

    reload_block($block->name);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: no zone, no gw_redis: every family is there without a series, in both formats
--- config
    location = /status {
        gw_status;
    }
--- request eval
["GET /status", "GET /status?format=prometheus"]
--- metrics eval
+{ zones => [] }
--- response_body_like eval
[qr/"ratelimit":\{"requests_total":\[\],"redis_errors_total":\[\],"keys":\[\],"evictions_total":\[\],"redis_up":\[\],"redis_commands_total":\[\],"redis_command_seconds_total":\[\],"redis_failures_total":\[\]\}/,
 qr/^# HELP nginx_gw_ratelimit_requests_total .*\n# TYPE nginx_gw_ratelimit_requests_total counter\n# HELP nginx_gw_ratelimit_redis_errors_total /m]
--- no_error_log
[error]



=== TEST 2: two workers: passed, rejected, dry_run and error counted per zone, two limits of one location counted in both zones, an empty key not at all; Redis up and Redis down with allow and local; a full zone's evictions
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_RL_REDIS_PORT timeout=2s;
    gw_redis dead 127.0.0.1:$TEST_NGINX_RAND_PORT_3 timeout=50ms;

    gw_ratelimit_zone sw key=$http_x_client rate=5r/m;
    gw_ratelimit_zone dry key=$http_x_client rate=1r/m;
    gw_ratelimit_zone skip key=$http_x_none rate=1r/m;
    gw_ratelimit_zone rd key=k2 rate=3r/m redis=main;
    gw_ratelimit_zone down key=$http_x_client rate=1r/m redis=dead
                      on_redis_error=allow;
    gw_ratelimit_zone dl key=$http_x_client rate=2r/m redis=dead
                      on_redis_error=local;
    gw_ratelimit_zone tiny key=$arg_k rate=1r/d size=32k;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;

        location /two/ {
            gw_ratelimit dry dry_run;
            gw_ratelimit sw;
            gw_ratelimit skip;
            echo ok;
        }
        location /rd/ {
            gw_ratelimit rd;
            echo ok;
        }
        location /down/ {
            gw_ratelimit down;
            add_header X-RL-Status $gw_ratelimit_status always;
            echo ok;
        }
        location /dl/ {
            gw_ratelimit dl;
            echo ok;
        }
        location /tiny/ {
            gw_ratelimit tiny;
            echo ok;
        }
        location = /status {
            gw_status;
        }
        location = /metrics {
            gw_status prometheus;
        }
    }
--- config
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_set_header X-Client c1;
    }
--- request eval
[(map { "GET /two/$_" } 1 .. 7),
 (map { "GET /rd/$_" } 1 .. 4),
 (map { "GET /down/$_" } 1 .. 3),
 (map { "GET /dl/$_" } 1 .. 3),
 (map { "GET /tiny/?k=$_" } 1 .. 120),
 "GET /status", "GET /metrics", "GET /status?format=prometheus",
 "GET /metrics?format=json"]
--- error_code eval
[(200) x 5, 429, 429, (200) x 3, 429, (200) x 3, 200, 200, 429, (200) x 120,
 (200) x 4]
--- metrics eval
+{
    zones       => [qw(sw dry skip rd down dl tiny)],
    redis_zones => [qw(rd down dl)],
    redis       => [qw(main dead)],
    requests    => { 'dry/passed' => 1, 'dry/dry_run' => 6,
                     'sw/passed' => 5, 'sw/rejected' => 2,
                     'rd/passed' => 3, 'rd/rejected' => 1,
                     'down/error' => 3,
                     'dl/passed' => 2, 'dl/rejected' => 1,
                     'tiny/passed' => 120 },
    redis_errors => { down => 3, dl => 3 },
    keys        => { sw => 1, dry => 1, dl => 1, tiny => [1, 119] },
    evictions   => { tiny => [1, 119] },
    made        => { tiny => 120 },
    commands    => { main => 4, dead => 6 },
    # refused at once, or failed connecting: which depends on timing
    failures    => { 'dead/down' => [0, 6], 'dead/connection' => [0, 6] },
    failed      => { main => 0, dead => 6 },
    up          => { 'main/127.0.0.1:$TEST_NGINX_RL_REDIS_PORT' => 1,
                     'dead/127.0.0.1:$TEST_NGINX_RAND_PORT_3' => 0 },
}
--- no_error_log
[crit]
--- timeout: 20



=== TEST 3: a reload keeps the zones' counters and keys, and the Redis client's counters
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_RL_REDIS_PORT timeout=2s;

    gw_ratelimit_zone sw key=$http_x_client rate=5r/m;
    gw_ratelimit_zone rd key=k3 rate=3r/m redis=main;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;

        location /sw/ {
            gw_ratelimit sw;
            echo ok;
        }
        location /rd/ {
            gw_ratelimit rd;
            echo ok;
        }
        location = /status {
            gw_status;
        }
        location = /metrics {
            gw_status prometheus;
        }
    }
--- config
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_set_header X-Client c1;
    }
    location = /gen {
        return 200 "gen-1\n";
    }
--- request eval
[(map { "GET /sw/$_" } 1 .. 3), "GET /rd/1", "GET /rd/2?reload",
 (map { "GET /sw/$_" } 4 .. 7), "GET /rd/3", "GET /rd/4",
 "GET /status", "GET /metrics"]
--- error_code eval
[(200) x 5, 200, 200, 429, 429, 200, 429, 200, 200]
--- metrics eval
+{
    zones       => [qw(sw rd)],
    redis_zones => [qw(rd)],
    redis       => [qw(main)],
    requests    => { 'sw/passed' => 5, 'sw/rejected' => 2,
                     'rd/passed' => 3, 'rd/rejected' => 1 },
    keys        => { sw => 1 },
    commands    => { main => 4 },
    up          => { 'main/127.0.0.1:$TEST_NGINX_RL_REDIS_PORT' => 1 },
}
--- no_error_log
[crit]
--- timeout: 20



=== TEST 4: Redis failures by reason: error replies fall to on_redis_error=local, timeouts and the commands refused while backing off to on_redis_error=deny
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_RL_REDIS_PORT timeout=2s;
    gw_redis mute 127.0.0.1:$TEST_NGINX_MUTE_PORT timeout=50ms;

    gw_ratelimit_zone wrong key=k4 rate=5r/m redis=main
                      on_redis_error=local;
    gw_ratelimit_zone m key=$http_x_client rate=5r/m redis=mute
                      on_redis_error=deny;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;

        location /wrong/ {
            gw_ratelimit wrong;
            echo ok;
        }
        location /m/ {
            gw_ratelimit m;
            echo ok;
        }
        location = /status {
            gw_status;
        }
        location = /metrics {
            gw_status prometheus;
        }
    }
--- config
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_set_header X-Client c1;
    }
--- request eval
["GET /wrong/1", "GET /wrong/2", "GET /m/1", "GET /m/2", "GET /m/3",
 "GET /status", "GET /metrics"]
--- error_code eval
[200, 200, 503, 503, 503, 200, 200]
--- metrics eval
+{
    zones       => [qw(wrong m)],
    redis_zones => [qw(wrong m)],
    redis       => [qw(main mute)],
    requests    => { 'wrong/passed' => 2, 'm/error' => 3 },
    redis_errors => { wrong => 2, m => 3 },
    keys        => { wrong => 1 },
    commands    => { main => 2, mute => 3 },
    # the first command of each worker times out; one within the backoff
    # that follows is refused at once
    failures    => { 'main/error_reply' => 2,
                     'mute/timeout' => [1, 3], 'mute/down' => [0, 2] },
    failed      => { main => 2, mute => 3 },
    up          => { 'main/127.0.0.1:$TEST_NGINX_RL_REDIS_PORT' => 1,
                     'mute/127.0.0.1:$TEST_NGINX_MUTE_PORT' => 0 },
}
--- error_log
WRONGTYPE
--- no_error_log
[crit]
--- timeout: 20
