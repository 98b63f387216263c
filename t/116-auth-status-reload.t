#!/usr/bin/perl

# t/116-auth-status-reload.t: gw_auth's gw_status counters live in a shared
# zone of their own (gw_status_auth), so a reload (SIGHUP to the master)
# keeps them, also when the configuration around them changes, and the new
# workers count on from there.
#
# A plain Test::More test, as Test::Nginx::Socket blocks cannot reload
# nginx (as t/210): nginx runs with a master and two workers from
# $TEST_NGINX_SERVROOT/116-auth-status-reload, listening with "reuseport"
# so that both workers take requests; each step writes a new nginx.conf and
# sends SIGHUP.  Responses name the configuration's generation in X-Gen.
# Requests carry API keys (accepted, refused) or nothing; a location
# serves a file, as "return" would answer before the access phase.
#
# Environment: TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES (default: this
# checkout's auth and status modules).

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use File::Path qw(remove_tree make_path);
use JSON::PP qw(decode_json);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Status qw(json_value prom_parse prom_value);
use NginxGw::Util qw(free_port start_nginx http_request workers_of
                     wait_old_workers);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/116-auth-status-reload";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                 // join ' ', map { "$root/build/modules/ngx_http_gw_$_.so" }
                                  qw(auth_module status_module));

my $port = free_port();
my $key = 'key-' . sprintf('%08x%08x', rand 2**32, rand 2**32);

# the API key file: "<sha256 hex of the key> <consumer>" lines
sub write_keys {
    my (%keys) = @_;
    my $file = "$prefix/html/api-keys";
    open my $fh, '>', "$file.tmp" or die "$file.tmp: $!\n";
    print $fh map { sha256_hex($_) . " $keys{$_}\n" } sort keys %keys;
    close $fh;
    rename "$file.tmp", $file or die "rename $file: $!\n";
}

sub conf {
    my ($gen, $extra) = @_;

    my $user = $> == 0 ? "user root;\n" : '';
    my $load = join '', map { "load_module $_;\n" } @modules;

    return <<"_EOC_";
${load}${user}worker_processes 2;
master_process on;
error_log logs/error.log info;

events {
    worker_connections 64;
    accept_mutex off;
}

http {
    access_log off;

    server {
        listen 127.0.0.1:$port reuseport;

        add_header X-Gen $gen always;

        location = /key {
            gw_auth_api_key ../html/api-keys;
            try_files /ok.txt =404;
        }

        location = /status {
            gw_status;
        }

        location = /metrics {
            gw_status prometheus;
        }

        location = /gen {
            return 200 "$gen\\n";
        }
$extra
    }
}
_EOC_
}

sub get {
    my ($path, @headers) = @_;
    my ($status, $h, $body) = http_request(port => $port, path => $path,
                                           headers => \@headers);
    return [$status // 0, $h, $body // ''];
}

sub key_requests {
    my %n = @_;
    my @codes;
    push @codes, get('/key', 'X-API-Key' => $key)->[0] for 1 .. $n{good} // 0;
    push @codes, get('/key', 'X-API-Key' => 'nope')->[0] for 1 .. $n{bad} // 0;
    push @codes, get('/key')->[0] for 1 .. $n{none} // 0;
    return \@codes;
}

sub counts {
    my $j = decode_json(get('/status')->[2]);
    my $r = sub {
        json_value($j, 'auth', 'requests_total',
                   { method => 'api_key', reason => $_[0] });
    };
    return [$r->(''), $r->('unknown_key'), $r->('missing')];
}

sub reload {
    my ($nginx, $gen, $extra) = @_;

    my $file = "$prefix/conf/nginx.conf";
    open my $fh, '>', $file or die "$file: $!\n";
    print $fh conf($gen, $extra);
    close $fh;

    my $n = workers_of($nginx->pid);
    kill 'HUP', $nginx->pid or die "kill HUP: $!\n";

    my ($row, $deadline) = (0, time + 10);
    while ($row < 20 && time < $deadline) {
        $row = get('/gen')->[2] eq "$gen\n" ? $row + 1 : 0;
        sleep 0.02 if $row == 0;
    }
    ok($row >= 20, "generation $gen answers after SIGHUP");

    # the old workers exit once they have nothing left to do
    wait_old_workers($nginx->pid, $n);
}

remove_tree($prefix);
make_path("$prefix/html");
write_keys($key => 'acme');

open my $fh, '>', "$prefix/html/ok.txt" or die "ok.txt: $!\n";
print $fh "ok\n";
close $fh;

my $nginx = start_nginx(conf(1, ''), $prefix, port => $port);

# 1. counted by both workers
is_deeply(key_requests(good => 3, bad => 2, none => 1),
          [200, 200, 200, 401, 401, 401],
          'generation 1: three keys accepted, two unknown, one missing');
is_deeply(counts(), [3, 2, 1],
          'generation 1: requests_total accepted 3, unknown_key 2, missing 1');

# 2. a reload with the same configuration keeps the counters
reload($nginx, 2, '');
is_deeply(counts(), [3, 2, 1], 'generation 2: the counters survived');
is_deeply(key_requests(good => 1, bad => 1),
          [200, 401], 'generation 2: one more accepted, one more unknown');
is_deeply(counts(), [4, 3, 1], 'generation 2: counted on from there');

# 3. another configuration (a new location, another key file line): kept
write_keys($key => 'acme', 'key-2' => 'globex');
reload($nginx, 3, <<'_EOC_');
        location = /other {
            gw_auth_api_key ../html/api-keys;
            try_files /ok.txt =404;
        }
_EOC_
is(get('/other', 'X-API-Key' => 'key-2')->[0], 200,
   'generation 3: the new location accepts the new key');
my $m = prom_parse(get('/metrics')->[2]);
is(prom_value($m, 'nginx_gw_auth_requests_total',
              { method => 'api_key', result => 'accepted' }), 5,
   'generation 3: Prometheus shows 4 accepted before, 1 now');
is(prom_value($m, 'nginx_gw_auth_requests_total',
              { method => 'api_key', reason => 'unknown_key' }), 3,
   'generation 3: and the 3 unknown keys of generations 1 and 2');

is($nginx->stop, 0, 'nginx stopped cleanly');

unlike($nginx->error_log_text, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'error.log: no alert, crit, emerg or crashed worker');

done_testing();
