#!/usr/bin/perl

# t/903-chaos-idp.t: the identity provider (introspection endpoint and
# JWKS) up, then slow (answers after 2 s, past the gateway's 300 ms
# proxy_read_timeout), then down (killed: connections refused), then up
# again, under load.  What the README documents, per request:
#
#   intro-cached   a token introspected active while the IdP was up:
#                  200 from gw_auth_cache, whatever the IdP does
#   intro-revoked  a token introspected inactive while up: 401 from the
#                  cache (negative_ttl)
#   intro-fresh    a new token each request: 401 (inactive) while the IdP
#                  answers, 503 when it fails (timeout, refused), within
#                  proxy_read_timeout (+ slack)
#   jwt-cached     one JWT verified while up: 200 from gw_auth_cache
#   jwt-fresh      a new JWT each request, kid k1: 200 throughout, verified
#                  with the JWKS fetched while up (gw_auth_jwt_key_cache 2s:
#                  it expires during the outage; "a failed fetch keeps the
#                  previous document")
#   jwt-unknown    a JWT whose kid no key has: 401 (a refetch at most every
#                  10 s, bounded by the timeout)
#
# Every answer within proxy_read_timeout (300 ms) + 700 ms of slack; no
# worker dies.  The IdP is an nginx of its own, restarted with another
# configuration for each phase; the gateway has two workers.  Load: 3
# clients, each request on a new connection, 3 s per phase.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Path qw(remove_tree);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request);
use NginxGw::Auth qw(jwt jwks oct_jwk);
use NginxGw::Chaos qw(start_load finish_load tally log_problems);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/903-chaos-idp";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES must load gw_auth and echo'
    unless 2 == grep { /gw_auth_module|echo/ } @modules;

remove_tree($prefix);

my ($gw, $idp) = map { free_port() } 1 .. 2;
my $user = $> == 0 ? "user root;\n" : '';
my $timeout_ms = 300;
my $bound_ms = $timeout_ms + 700;

my $hs = join '', map { chr(97 + int rand 26) } 1 .. 32;
my $jwks = jwks(oct_jwk($hs, kid => 'k1'));
my $exp = time + 3600;
my $jwt_cached = jwt('HS256', $hs, { sub => 'alice', exp => $exp },
                     { kid => 'k1' });
my $n = 0;
my $fresh_jwt = sub {
    ['Authorization' => 'Bearer ' . jwt('HS256', $hs,
        { sub => 'bob', exp => $exp, jti => "$$-" . $n++ }, { kid => 'k1' })]
};
my $unknown_jwt = jwt('HS256', $hs, { sub => 'eve', exp => $exp },
                      { kid => 'k9' });
my $fresh_tok = sub { ['Authorization' => "Bearer tok-fresh-$$-" . $n++] };

# the IdP: up, slow or (not running) down
my $idp_nginx;
sub idp_start {
    my ($delay) = @_;
    my $sleep = $delay ? "echo_sleep $delay; " : '';
    my $echo = join '', map { "load_module $_;\n" } grep { /echo/ } @modules;
    $idp_nginx = start_nginx(<<"_EOC_", "$prefix/idp", port => $idp);
${echo}${user}worker_processes 1;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    log_format i '\$request_uri \$status';
    access_log logs/access.log i;
    map "\$request_body" \$reply {
        "token=tok-alice"  '{"active":true,"sub":"alice","exp":$exp}';
        default            '{"active":false}';
    }
    server {
        listen 127.0.0.1:$idp;
        location = /introspect { echo_read_request_body; ${sleep}echo \$reply; }
        location = /jwks { ${sleep}echo '$jwks'; }
    }
}
_EOC_
}

sub idp_kill {
    my $pid = $idp_nginx->pid;
    kill 'KILL', -$pid;
    waitpid $pid, 0;
    delete $NginxGw::Util::Children{$pid};
    delete $idp_nginx->{pid};
}

idp_start(0);

my $mods = join '', map { "load_module $_;\n" } grep { /gw_auth/ } @modules;
my $echo = join '', map { "load_module $_;\n" } grep { /echo/ } @modules;
my $nginx = start_nginx(<<"_EOC_", "$prefix/gw", port => $gw);
${mods}${echo}${user}worker_processes 2;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    gw_auth_cache zone=auth:1m max_ttl=5m negative_ttl=5m;

    server {
        listen 127.0.0.1:$gw;

        location = /intro {
            gw_auth_introspect /_introspect;
            echo ok;
        }
        location = /jwt {
            gw_auth_jwt api;
            gw_auth_jwt_key_request /_jwks;
            gw_auth_jwt_key_cache 2s;
            echo ok;
        }
        location = /_introspect {
            internal;
            proxy_pass_request_headers off;
            proxy_method POST;
            proxy_set_header Content-Type application/x-www-form-urlencoded;
            proxy_set_body "token=\$gw_auth_token";
            proxy_connect_timeout ${timeout_ms}ms;
            proxy_read_timeout ${timeout_ms}ms;
            proxy_pass http://127.0.0.1:$idp/introspect;
        }
        location = /_jwks {
            internal;
            proxy_pass_request_headers off;
            proxy_connect_timeout ${timeout_ms}ms;
            proxy_read_timeout ${timeout_ms}ms;
            proxy_pass http://127.0.0.1:$idp/jwks;
        }
    }
}
_EOC_

my @mix = (
    { name => 'intro-cached', path => '/intro',
      headers => ['Authorization' => 'Bearer tok-alice'] },
    { name => 'intro-revoked', path => '/intro',
      headers => ['Authorization' => 'Bearer tok-revoked'] },
    { name => 'intro-fresh', path => '/intro', headers => $fresh_tok },
    { name => 'jwt-cached', path => '/jwt',
      headers => ['Authorization' => "Bearer $jwt_cached"] },
    { name => 'jwt-fresh', path => '/jwt', headers => $fresh_jwt },
    { name => 'jwt-unknown', path => '/jwt',
      headers => ['Authorization' => "Bearer $unknown_jwt"] },
);

sub phase {
    my ($label, $fresh, $seconds) = @_;
    my $rec = finish_load(start_load(port => $gw, clients => 3,
                                     seconds => $seconds // 3,
                                     dir => "$prefix/load-$label",
                                     mix => \@mix));
    my $fig = tally("903 IdP $label", $rec,
                    'intro-cached' => qr/^200$/, 'intro-revoked' => qr/^401$/,
                    'intro-fresh' => $fresh, 'jwt-cached' => qr/^200$/,
                    'jwt-fresh' => qr/^200$/, 'jwt-unknown' => qr/^401$/);
    is($fig->{conn_errors}, 0, "IdP $label: no connection error");
    cmp_ok($fig->{max}, '<', $bound_ms, "IdP $label: every answer within "
           . "proxy_read_timeout + 700 ms ($bound_ms ms)");
    return $fig;
}

# the caches are filled while the IdP is up
phase('up', qr/^401$/);

$idp_nginx->stop;
idp_start(2);
my $fig = phase('slow', qr/^503$/, 4);
cmp_ok($fig->{by}{'intro-fresh'}{503} // 0, '>=', 10,
       'IdP slow: new tokens get 503');

idp_kill();
phase('down', qr/^503$/);

idp_start(0);
phase('up again', qr/^401$/);
$idp_nginx->stop;

is($nginx->stop, 0, 'the gateway stops cleanly');

my $log = $nginx->error_log_text;
like($log, qr/\[error\] .*upstream timed out/, 'error log: the slow IdP '
     . 'timed out');
like($log, qr/\[error\] .*gw_auth: introspection failed with status 50[24]/,
     'error log: introspection failures at error');
like($log, qr/\[error\] .*gw_auth: JWKS request "\/_jwks" failed/,
     'error log: the failed JWKS refetch at error');
my @bad = log_problems($log);
ok(!@bad, 'gateway error log: no worker exited on a signal, no alert, '
   . 'emerg or crit') or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

done_testing();
