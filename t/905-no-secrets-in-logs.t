#!/usr/bin/perl

# t/905-no-secrets-in-logs.t: secrets and credentials never reach the logs.
#
# One gateway with every module that handles a secret, run with two error
# logs at once (debug.log at debug, Debian's nginx being built
# --with-debug, and info.log at info, the level the modules log refusals
# at) and the default access log (combined), through representative
# traffic, accepted and refused:
#
#   JWT HS256 (key file, and a JWKS fetched from a location: oct keys),
#   good tokens, tokens signed with another secret, expired, malformed;
#   API keys, good and unknown; webhook deliveries (github, stripe), good
#   and with a wrong signature; introspection with a client secret in the
#   IdP request, active and inactive opaque tokens; the rate limiter on a
#   Redis with a password, and on a gw_redis whose password Redis refuses.
#
# What is searched for, in each log, raw and in the encodings a careless
# log line would use (hex, base64, base64url):
#
#   server-side secrets   the HS256 secret, the JWKS oct key, the webhook
#                         secret, the API keys' SHA-256 (the key file), the
#                         Redis passwords, and the MACs the gateway computes
#                         for refused deliveries and tokens (logging the
#                         expected MAC would hand out a valid signature):
#                         in no line of any log, at any level
#   client credentials    bearer tokens, opaque tokens, API keys, webhook
#                         signatures as sent, the introspection client
#                         secret: in no line of info.log or access.log; in
#                         debug.log never in a gw module's line, only in
#                         nginx's own debug lines ("http header:", "http
#                         proxy header:", "http script var/copy:", "http
#                         map:"): stock nginx at debug level logs the
#                         headers it reads and sends and the variables it
#                         evaluates, whatever module runs

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex sha256_hex);
use File::Path qw(remove_tree make_path);
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request);
use NginxGw::Auth qw(jwt jwks oct_jwk api_key_line write_file b64u);
use NginxGw::Redis qw(redis_available redis_start);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/905-no-secrets-in-logs";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
my $nginx_bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

plan skip_all => 'TEST_NGINX_LOAD_MODULES must load gw_auth, gw_webhook, '
                 . 'gw_ratelimit and echo'
    unless 4 == grep { /gw_(auth|webhook|ratelimit)_module|echo/ } @modules;
plan skip_all => 'redis-server not installed' unless redis_available();
plan skip_all => "$nginx_bin is not built --with-debug"
    unless `$nginx_bin -V 2>&1` =~ /--with-debug/;

remove_tree($prefix);
make_path("$prefix/gw/conf");

sub rnd { join '', map { ('a' .. 'z', 'A' .. 'Z', 0 .. 9)[rand 62] } 1 .. $_[0] }

# --- secrets and credentials ------------------------------------------------

my %server;     # name => value: in no log line at all
my %client;     # name => value: only in nginx's own debug header dumps

$server{'HS256 secret'} = 'hs-' . rnd(40);
$server{'JWKS oct key'} = 'jk-' . rnd(40);
$server{'webhook secret'} = 'wh-' . rnd(30);
$server{'Redis password'} = 'rp-' . rnd(24);
$server{'refused Redis password'} = 'rx-' . rnd(24);

my $exp = time + 3600;
my $hs = $server{'HS256 secret'};
my $jk = $server{'JWKS oct key'};

$client{'JWT (key file)'} = jwt('HS256', $hs, { sub => 'alice', exp => $exp },
                                { kid => 'k1' });
$client{'JWT (JWKS)'} = jwt('HS256', $jk, { sub => 'bob', exp => $exp },
                            { kid => 'j1' });
$client{'JWT, another secret'} = jwt('HS256', 'zz-' . rnd(40),
                                     { sub => 'eve', exp => $exp },
                                     { kid => 'k1' });
$client{'JWT, expired'} = jwt('HS256', $hs, { sub => 'old', exp => 1000 },
                              { kid => 'k1' });
$client{'JWT, malformed'} = 'eyJ' . rnd(30) . '.' . rnd(40) . '.' . rnd(43);
$client{'API key'} = 'ak-' . rnd(32);
$client{'unknown API key'} = 'uk-' . rnd(32);
$client{'opaque token, active'} = 'op-' . rnd(32);
$client{'opaque token, inactive'} = 'oi-' . rnd(32);
$client{'introspection client secret'} = 'cs-' . rnd(32);

# the MACs the gateway computes for refused tokens: the signature that
# would have been valid
{
    my ($h, $p) = split /\./, $client{'JWT, another secret'};
    $server{'valid signature of a refused JWT'} =
        b64u(hmac_sha256("$h.$p", $hs));
}

$server{'API key digest (key file)'} = sha256_hex($client{'API key'});

my $ws = $server{'webhook secret'};
my $body = '{"action":"opened","n":905}';
my $bad_body = '{"action":"forged","n":905}';
$client{'webhook signature'} = 'sha256=' . hmac_sha256_hex($body, $ws);
$server{'valid MAC of a refused delivery'} = hmac_sha256_hex($bad_body, $ws);
my $ts = int time;
$client{'stripe signature'} = hmac_sha256_hex("$ts.$body", $ws);
$server{'valid stripe MAC of a refused delivery'} =
    hmac_sha256_hex("$ts.$bad_body", $ws);

my $basic = encode_base64("gateway:$client{'introspection client secret'}",
                          '');
$client{'introspection client credentials (Basic)'} = $basic;

write_file("$prefix/gw/conf/keys.json", jwks(oct_jwk($hs, kid => 'k1')));
write_file("$prefix/gw/conf/api-keys.txt",
           api_key_line($client{'API key'}, 'acme', 'admin'));
write_file("$prefix/gw/conf/hook.secret", $ws);
make_path("$prefix/gw/html");
write_file("$prefix/gw/html/jwks.json", jwks(oct_jwk($jk, kid => 'j1')));

# --- servers ------------------------------------------------------------------

my $redis = redis_start("$prefix/redis",
                        requirepass => $server{'Redis password'});
my $rp = $redis->port;
my $gw = free_port();
my $user = $> == 0 ? "user root;\n" : '';
my $mods = join '', map { "load_module $_;\n" }
                    grep { /gw_(auth|webhook|ratelimit)_module|echo/ }
                    @modules;

my $nginx = start_nginx(<<"_EOC_", "$prefix/gw", port => $gw);
${mods}${user}worker_processes 1;
error_log logs/debug.log debug;
error_log logs/info.log info;
events { worker_connections 1024; }
http {
    access_log logs/access.log;

    gw_redis good 127.0.0.1:$rp password=$server{'Redis password'}
             timeout=500ms;
    gw_redis bad  127.0.0.1:$rp password=$server{'refused Redis password'}
             timeout=500ms;
    gw_ratelimit_zone rl_good key=\$gw_auth_consumer rate=1000r/m
                      redis=good;
    gw_ratelimit_zone rl_bad  key=\$http_x_api_key rate=1000r/m
                      redis=bad on_redis_error=local;
    gw_auth_cache zone=auth:1m;

    map \$request_body \$idp_reply {
        "token=$client{'opaque token, active'}"
            '{"active":true,"sub":"carol","scope":"read"}';
        default '{"active":false}';
    }

    server {
        listen 127.0.0.1:$gw;

        location = /jwt {
            gw_auth_jwt api;
            gw_auth_jwt_key_file keys.json;
            gw_auth_jwt_key_request /_jwks;
            gw_ratelimit rl_good;
            echo "ok \$gw_auth_subject";
        }
        location = /_jwks {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:$gw/_jwks_file;
        }
        location = /_jwks_file { alias html/jwks.json; }

        location = /key {
            gw_auth_api_key api-keys.txt;
            gw_auth_require_role admin;
            gw_ratelimit rl_bad;
            echo "ok \$gw_auth_consumer";
        }

        location = /intro {
            gw_auth_introspect /_introspect;
            echo "ok \$gw_auth_subject";
        }
        location = /_introspect {
            internal;
            proxy_pass_request_headers off;
            proxy_method POST;
            proxy_set_header Content-Type application/x-www-form-urlencoded;
            proxy_set_header Authorization "Basic $basic";
            proxy_set_body "token=\$gw_auth_token";
            proxy_pass http://127.0.0.1:$gw/_idp;
        }
        location = /_idp {
            echo_read_request_body;
            echo \$idp_reply;
        }

        location = /github {
            gw_webhook github;
            gw_webhook_secret file=hook.secret;
            echo ok;
        }
        location = /stripe {
            gw_webhook stripe;
            gw_webhook_secret file=hook.secret;
            echo ok;
        }
    }
}
_EOC_

# --- traffic ------------------------------------------------------------------

sub req {
    my ($path, %o) = @_;
    my ($code) = http_request(port => $gw, path => $path, %o);
    return $code // 'none';
}
sub bearer { [Authorization => "Bearer $_[0]"] }

my @got;
push @got, req('/jwt', headers => bearer($client{'JWT (key file)'})) for 1 .. 2;
push @got, req('/jwt', headers => bearer($client{'JWT (JWKS)'}));
push @got, req('/jwt', headers => bearer($client{'JWT, another secret'}));
push @got, req('/jwt', headers => bearer($client{'JWT, expired'}));
push @got, req('/jwt', headers => bearer($client{'JWT, malformed'}));
push @got, req('/key', headers => ['X-API-Key' => $client{'API key'}]);
push @got, req('/key', headers => ['X-API-Key' => $client{'unknown API key'}]);
push @got, req('/intro', headers => bearer($client{'opaque token, active'}));
push @got, req('/intro', headers => bearer($client{'opaque token, inactive'}));
push @got, req('/github', method => 'POST', body => $body,
               headers => ['X-Hub-Signature-256' => $client{'webhook signature'}]);
push @got, req('/github', method => 'POST', body => $bad_body,
               headers => ['X-Hub-Signature-256' => $client{'webhook signature'}]);
push @got, req('/stripe', method => 'POST', body => $body,
               headers => ['Stripe-Signature' =>
                           "t=$ts,v1=$client{'stripe signature'}"]);
push @got, req('/stripe', method => 'POST', body => $bad_body,
               headers => ['Stripe-Signature' =>
                           "t=$ts,v1=$client{'stripe signature'}"]);

is(join(' ', @got), '200 200 200 401 401 401 200 401 200 401 200 401 200 401',
   'the traffic: each credential accepted or refused as expected');

is($nginx->stop, 0, 'nginx stops cleanly');
$redis->kill;

# --- the logs -------------------------------------------------------------------

# a log as entries: a line that does not start with a timestamp continues
# the entry before it (nginx's debug dumps hold line feeds)
sub entries {
    my ($file) = @_;
    open my $fh, '<', $file or return ();
    my @e;
    while (my $line = <$fh>) {
        if ($line =~ m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d } || !@e) {
            push @e, $line;
        } else {
            $e[-1] .= $line;
        }
    }
    return @e;
}

my %log = map { $_ => [entries("$prefix/gw/logs/$_")] }
          qw(debug.log info.log access.log error.log);

ok(@{ $log{'debug.log'} } > 500, 'debug.log has the debug trace ('
   . scalar(@{ $log{'debug.log'} }) . ' entries)');
ok((grep { /gw_auth: signature mismatch/ } @{ $log{'info.log'} }),
   'info.log has the refusals');
like(join('', @{ $log{'info.log'} }), qr/gw_redis "bad": .*refused/,
     'info.log has the refused Redis AUTH');

# the spellings of a value a log line could carry
sub forms {
    my ($v) = @_;
    my %f = (raw => $v, hex => unpack('H*', $v),
             base64 => encode_base64($v, ''), base64url => b64u($v));
    # short values would match by chance in long base64 dumps
    delete @f{grep { length $f{$_} < 12 } keys %f};
    return %f;
}

# nginx's own debug dumps that carry what the client sent or what a
# location sends upstream
my $core_dump = qr/\[debug\][ ]\d+\#\d+:[ ]\*\d+[ ](?:
    http[ ]header:[ ]
  | http[ ]map:[ ]
  | http[ ]proxy[ ]header:
  | http[ ]script[ ](?:var|copy|value)
)/x;

my $leaks = 0;
for my $file (sort keys %log) {
    my @e = @{ $log{$file} };
    for my $name (sort keys %server) {
        my %f = forms($server{$name});
        for my $form (sort keys %f) {
            my @hit = grep { index($_, $f{$form}) >= 0 } @e;
            $leaks += @hit;
            ok(!@hit, "$file: no $name ($form)")
                or diag(substr($hit[0], 0, 300));
        }
    }
    for my $name (sort keys %client) {
        my %f = forms($client{$name});
        for my $form (sort keys %f) {
            my @hit = grep { index($_, $f{$form}) >= 0 } @e;
            if ($file ne 'debug.log') {
                $leaks += @hit;
                ok(!@hit, "$file: no $name ($form)")
                    or diag(substr($hit[0], 0, 300));
                next;
            }
            my @ours = grep { /gw_/ || !/$core_dump/ } @hit;
            $leaks += @ours;
            ok(!@ours, "$file: no $name ($form) but in nginx's own header "
               . 'dumps (' . scalar(@hit) . ' of those)')
                or diag(substr($ours[0], 0, 300));
        }
    }
}

diag(sprintf '905: %d secrets and %d client credentials searched in %d '
     . 'log entries (debug, info, access): %d found where they must not be',
     scalar(keys %server), scalar(keys %client),
     scalar(map { @$_ } values %log), $leaks);

done_testing();
