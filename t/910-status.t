# gw_status itself (ngx_http_gw_status_module): formats, the format
# argument, methods, and that it shows exactly the gw modules loaded.
#
# Each part boots its own nginx with the modules it names, so that "not
# loaded" is real: the status module alone must serve only nginx_gw_info,
# and with every module loaded each must appear, in both formats, with two
# workers answering alike.  The values each module reports are checked in
# its own tests (t/115, t/212, t/312, t/412, t/532).

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use JSON::PP;

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request);
use NginxGw::Status qw(prom_parse prom_value prom_check json_value);

my $root = abs_path("$FindBin::Bin/..");
my $modules = $ENV{TEST_NGINX_MODULES_DIR} // "$root/build/modules";
my $servroot = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t") . '/910-status';

my @reporters = qw(auth ratelimit breaker least_time webhook);
my %so = (
    status     => 'ngx_http_gw_status_module',
    auth       => 'ngx_http_gw_auth_module',
    ratelimit  => 'ngx_http_gw_ratelimit_module',
    breaker    => 'ngx_http_gw_breaker_module',
    least_time => 'ngx_http_gw_lb_least_time_module',
    webhook    => 'ngx_http_gw_webhook_module',
);

plan skip_all => "$modules has no ngx_http_gw_status_module.so"
    unless -f "$modules/$so{status}.so";


sub gateway {
    my ($name, @load) = @_;
    my $port = free_port();

    my $conf = <<"END";
worker_processes 2;
error_log logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$port reuseport;
        location = /status     { gw_status; }
        location = /json       { gw_status json; }
        location = /metrics    { gw_status prometheus; }
        location = /other      { return 200 "other\\n"; }
    }
}
END

    return start_nginx($conf, "$servroot/$name", port => $port,
                       load_modules => [ map { "$modules/$so{$_}.so" } @load ]);
}

sub get {
    my ($port, $path, %a) = @_;
    my ($status, $headers, $body) = http_request(port => $port, path => $path,
                                                 %a);
    return { status => $status, headers => $headers, body => $body };
}


# -- the status module alone ---------------------------------------------------

{
    my $nginx = gateway('alone', 'status');
    my $port = $nginx->{port};

    my $r = get($port, '/status');
    is($r->{status}, 200, 'alone: 200');
    like($r->{headers}{'content-type'}, qr{^application/json},
         'alone: application/json');
    my $j = eval { decode_json($r->{body}) };
    ok($j, 'alone: the body is JSON') or diag($r->{body});
    is_deeply([ sort keys %$j ], ['nginx_gw'],
              'alone: no module reports, only the nginx_gw object');
    like($j->{nginx_gw}{nginx_version}, qr/^\d+\.\d+\.\d+$/,
         'alone: nginx_version');
    ok(abs($j->{nginx_gw}{time} - time) < 5, 'alone: time is now');
    is($r->{headers}{'content-length'}, length $r->{body},
       'alone: Content-Length is the body length');

    $r = get($port, '/metrics');
    like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
         'alone prometheus: text/plain; version=0.0.4');
    my $m = eval { prom_parse($r->{body}) };
    ok($m, 'alone prometheus: parses') or diag($@);
    is(scalar @{ $m->{samples} }, 1, 'alone prometheus: one sample');
    is(prom_value($m, 'nginx_gw_info'), 1, 'alone prometheus: nginx_gw_info 1');
    my ($ok, $out) = prom_check($r->{body});
    ok($ok, 'alone prometheus: promtool check metrics') or diag($out);

    # the format argument overrides the location's format, both ways
    $r = get($port, '/status?format=prometheus');
    like($r->{body}, qr/^# HELP nginx_gw_info /,
         '?format=prometheus on a json location');
    $r = get($port, '/metrics?format=json');
    ok(eval { decode_json($r->{body}) }, '?format=json on a prometheus location');
    $r = get($port, '/json?x=1&format=prometheus&y=2');
    like($r->{body}, qr/^nginx_gw_info\{/m, 'format among other arguments');
    is(get($port, '/status?format=xml')->{status}, 400, '?format=xml: 400');

    # methods
    is(get($port, '/status', method => 'POST', body => 'x')->{status}, 405,
       'POST: 405');
    $r = get($port, '/status', method => 'HEAD');
    is($r->{status}, 200, 'HEAD: 200');
    is($r->{body} // '', '', 'HEAD: no body');

    $nginx->stop;
}


# -- one module loaded: only it appears -----------------------------------------

{
    my $nginx = gateway('webhook-only', 'webhook', 'status');
    my $j = decode_json(get($nginx->{port}, '/status')->{body});
    is_deeply([ sort keys %$j ], [ 'nginx_gw', 'webhook' ],
              'webhook loaded: nginx_gw and webhook only');
    $nginx->stop;
}


# -- every module, two workers -------------------------------------------------

{
    my $nginx = gateway('all', @reporters, 'status');
    my $port = $nginx->{port};

    # reuseport spreads new connections over both workers: ask often enough
    # that both answer, and check each answer
    my (%pids, $j, $m);

    for my $i (1 .. 12) {
        my $r = get($port, '/status');
        $j = eval { decode_json($r->{body}) };
        ok($j, "all: answer $i is JSON") or diag($r->{body});
        $pids{ $j->{nginx_gw}{pid} }++;
    }

    is_deeply([ sort keys %$j ], [ sort 'nginx_gw', @reporters ],
              'all: every module reports, in JSON');

    for my $mod (@reporters) {
        ok(ref $j->{$mod} eq 'HASH' && keys %{ $j->{$mod} },
           "all: $mod has metrics");
    }

    my $r = get($port, '/metrics');
    $m = eval { prom_parse($r->{body}) };
    ok($m, 'all prometheus: parses') or diag($@);

    my ($ok, $out) = prom_check($r->{body});
    ok($ok, 'all prometheus: promtool check metrics') or diag($out);

    # every family name in JSON is a family in Prometheus, and back
    my @json = sort map { my $mod = $_;
                          map { "nginx_gw_${mod}_$_" } keys %{ $j->{$mod} } }
                        @reporters;
    my @prom = sort grep { $_ ne 'nginx_gw_info' } keys %{ $m->{families} };
    is_deeply(\@prom, \@json, 'all: the same families in both formats');

    for my $f (@prom) {
        like($m->{families}{$f}{help} // '', qr/\S/, "$f: HELP");
        like($m->{families}{$f}{type} // '', qr/^(counter|gauge)$/,
             "$f: TYPE");
        like($f, qr/_total$/, "$f: a counter ends in _total")
            if ($m->{families}{$f}{type} // '') eq 'counter';
    }

    cmp_ok(scalar keys %pids, '>=', 1, 'all: answered by '
           . join(', ', sort keys %pids));

    $nginx->stop;
}

done_testing();
