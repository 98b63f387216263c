# Self-test of the test runner (t/lib/Test/Nginx/Socket.pm) and its helpers
# (t/lib/NginxGw/*.pm): runs "prove -I t/lib" on the fixtures in
# t/selftest/ as a child, with its own TEST_NGINX_SERVROOT, and checks that
# right blocks pass, that each kind of wrong block fails under the expected
# test name, that the error log and valgrind checks work, and that no nginx
# is left running.  Fixtures end in .tt so "prove -r t/" does not run them.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use Test::More;

use lib dirname(abs_path(__FILE__)) . '/lib';
use NginxGw::Util qw(free_port start_nginx http_request);
use NginxGw::Valgrind;

my $Top      = abs_path(dirname(abs_path(__FILE__)) . '/..');
my $Nginx    = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $Echo     = '/usr/lib/nginx/modules/ngx_http_echo_module.so';
my $ServRoot = ($ENV{TEST_NGINX_SERVROOT} // "$Top/build/t")
               . "/000-runner";

plan skip_all => "no nginx binary at $Nginx" unless -x $Nginx;
plan skip_all => "the fixtures need the echo module ($Echo, Debian "
                 . "package libnginx-mod-http-echo)" unless -f $Echo;

chdir $Top or die "chdir $Top: $!";
remove_tree($ServRoot);


# Run one fixture under prove; returns (exit code, output, [names of the
# failed tests]).
sub run_fixture {
    my ($fixture, %env) = @_;

    local %ENV = %ENV;
    delete @ENV{grep { /^TEST_NGINX_/ } keys %ENV};
    $ENV{TEST_NGINX_BINARY}       = $Nginx;
    $ENV{TEST_NGINX_SERVROOT}     = $ServRoot;
    $ENV{TEST_NGINX_LOAD_MODULES} = $Echo;
    @ENV{keys %env} = values %env;

    my $out = `prove -v -I t/lib t/selftest/$fixture 2>&1`;
    my $rc = $? >> 8;
    my @failed = $out =~ /^not ok \d+ - (.*)$/mg;

    return ($rc, $out, \@failed);
}

# A fixture must fail, exactly with tests whose names match @want.
sub fixture_fails {
    my ($fixture, @want) = @_;

    my ($rc, $out, $failed) = run_fixture($fixture);

    my $ok = $rc != 0 && @$failed == @want;
    for my $i (0 .. $#want) {
        $ok &&= defined $failed->[$i] && $failed->[$i] =~ $want[$i];
    }

    ok($ok, "$fixture fails as it should") or diag($out);
}

# nginx processes still running from our server root (zombies have no
# command line, so they do not count).
sub leftover_processes {
    my @left;
    for my $f (glob '/proc/[0-9]*/cmdline') {
        open my $fh, '<', $f or next;
        my $cmd = do { local $/; <$fh> } // '';
        $cmd =~ tr/\0/ /;
        push @left, $cmd if index($cmd, $ServRoot) >= 0;
    }
    return @left;
}


# (a) a fixture whose blocks are all right passes: the echo module, extra
# server blocks, bodies, raw and pipelined requests, arrays of requests,
# user files, must_die, error_log after wait, skip_nginx, repeat_each(2)
{
    my ($rc, $out, $failed) = run_fixture('pass.tt');
    ok($rc == 0 && !@$failed && $out =~ /^Result: PASS/m,
       'pass.tt passes') or diag($out);
    like($out, qr/^ok \d+ # skip .*TEST 17/m, 'skip_nginx skips');
}

# (b) each kind of wrong expectation fails the block under its name
fixture_fails('fail-body.tt',
    qr/TEST 2: wrong body - response_body - response is expected/);
fixture_fails('fail-code.tt',
    qr/TEST 1: wrong status - status code ok$/);
fixture_fails('fail-header.tt',
    qr/TEST 1: wrong header value - header X-Foo ok$/,
    qr/TEST 2: .* - header X-Foo not present in the raw headers$/);
fixture_fails('fail-error-log.tt',
    qr/TEST 1: .* - pattern "this line is never logged" should match a line/);
fixture_fails('fail-no-error-log.tt',
    qr/TEST 1: .* - pattern "\[error\]" should not match any line/);
fixture_fails('fail-must-die.tt',
    qr/TEST 1: must_die but the config is fine - die as expected/);
fixture_fails('fail-timeout.tt',
    qr/^ERROR: client socket timed out - .*TEST 1:/,
    qr/TEST 1: .* - status code ok$/,
    qr/TEST 1: .* - response_body - response is expected/);

# (c) a [crit] logged by the worker fails the block, unless the block
# expects it in its own --- error_log (TEST 2 of the fixture)
fixture_fails('fail-alert.tt',
    qr/TEST 1: crit in the error log - no alert\/crit\/emerg in error log$/);

# nothing is left running when the test process is killed while nginx
# runs: by SIGTERM (handled: nginx is killed) or SIGKILL (nginx gets
# SIGKILL from the kernel, PR_SET_PDEATHSIG)
for my $sig (qw(TERM KILL)) {
    run_fixture('killed.tt', SELFTEST_SIGNAL => $sig);
    select undef, undef, undef, 0.3;
    my @left = leftover_processes();
    ok(!@left, "no nginx left after the test got SIG$sig") or diag(@left);
}

# (d) valgrind mode
SKIP: {
    skip 'valgrind is not installed, valgrind mode not tested', 4
        unless grep { -x "$_/valgrind" } split /:/, $ENV{PATH};

    my ($rc, $out) = run_fixture('valgrind.tt',
                                 TEST_NGINX_USE_VALGRIND => 1);
    ok($rc == 0, 'valgrind.tt passes under valgrind') or diag($out);

    my ($log) = glob "$ServRoot/valgrind/valgrind/block-*.log";
    my $text = $log ? do { local (@ARGV, $/) = $log; <> } : '';
    ok($text =~ /Memcheck, a memory error detector/
       && $text =~ /Command: \S*nginx /
       && $text =~ /ERROR SUMMARY: 0 errors/,
       'nginx really ran under memcheck, without errors')
        or diag($log ? $text : "no valgrind log in $ServRoot/valgrind");

    # without t/lib/valgrind.suppress, stock nginx's known leak shows
    ($rc, $out, my $failed) = run_fixture('valgrind.tt',
                                          TEST_NGINX_USE_VALGRIND => 1,
                                          TEST_NGINX_VALGRIND_SUPPRESS => '');
    ok($rc != 0 && @$failed == 1
       && $failed->[0] =~ /TEST 1: .* - valgrind: no memcheck errors$/
       && $out =~ /ngx_set_environment/,
       'an unsuppressed memcheck report fails the block') or diag($out);

    ok(!leftover_processes(), 'no valgrind left running');
}

# the valgrind log checker, on canned logs
{
    my $clean = <<'_LOG_';
==100== Memcheck, a memory error detector
==100== Command: /usr/sbin/nginx -p /x/ -c /x/conf/nginx.conf
==100==
==100== HEAP SUMMARY:
==100==     in use at exit: 35,778 bytes in 13 blocks
==100==
==100== LEAK SUMMARY:
==100==    definitely lost: 0 bytes in 0 blocks
==100==    indirectly lost: 0 bytes in 0 blocks
==100==      possibly lost: 27,648 bytes in 3 blocks
==100==    still reachable: 8,122 bytes in 9 blocks
==100==         suppressed: 8 bytes in 1 blocks
==100==
==100== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 1 from 1)
_LOG_

    my $invalid = <<'_LOG_';
==200== Memcheck, a memory error detector
==200==
==200== Invalid read of size 1
==200==    at 0x4C2F1A0: ngx_http_gw_jws_parse (ngx_http_gw_jws.c:120)
==200==    by 0x4C2E3B2: ngx_http_gw_auth_handler (ngx_http_gw_auth.c:311)
==200==  Address 0x5a1b04f is 0 bytes after a block of size 15 alloc'd
==200==    at 0x48417B4: malloc (vg_replace_malloc.c:381)
==200==    by 0x154CFE: ngx_alloc (in /usr/sbin/nginx)
==200==
{
   <insert_a_suppression_name_here>
   Memcheck:Addr1
   fun:ngx_http_gw_jws_parse
}
==200== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)
_LOG_

    my $leak = <<'_LOG_';
==300== 64 bytes in 1 blocks are definitely lost in loss record 3 of 9
==300==    at 0x48417B4: malloc (vg_replace_malloc.c:381)
==300==    by 0x4C2E000: ngx_http_gw_redis_reply (ngx_http_gw_redis.c:88)
==300==
==300== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)
_LOG_

    my $unknown = "==400== Some future complaint\n"
                  . "==400== ERROR SUMMARY: 2 errors from 2 contexts\n";

    is_deeply([NginxGw::Valgrind::errors($clean)], [],
              'valgrind checker: a clean log passes');

    my @e = NginxGw::Valgrind::errors($invalid);
    ok(@e == 1 && $e[0] =~ /^Invalid read of size 1\n.*jws_parse/s
       && $e[0] !~ /insert_a_suppression/,
       'valgrind checker: an invalid read fails') or diag(explain \@e);

    @e = NginxGw::Valgrind::errors($leak);
    ok(@e == 1 && $e[0] =~ /definitely lost.*gw_redis_reply/s,
       'valgrind checker: a definite leak fails') or diag(explain \@e);

    @e = NginxGw::Valgrind::errors($unknown);
    ok(@e == 1 && $e[0] =~ /ERROR SUMMARY: 2 errors/,
       'valgrind checker: errors it cannot name still fail')
        or diag(explain \@e);

    ok(-f NginxGw::Valgrind::suppressions_file(),
       'the valgrind suppressions file exists');
}

# the sanitizer log checker (make test-asan), on canned logs: ASan and
# UBSan errors count, leaks only with one of our frames on the stack
{
    my $dir = "$ServRoot/asan-logs";
    remove_tree($dir);
    File::Path::make_path($dir);

    my %logs = (
        'asan.1' => <<'_LOG_',
=================================================================
==1==ERROR: LeakSanitizer: detected memory leaks

Indirect leak of 15360 byte(s) in 1 object(s) allocated from:
    #0 0x7f2 in __interceptor_malloc asan_malloc_linux.cpp:69
    #1 0x55e in ngx_alloc (/usr/sbin/nginx+0x4ccfe)
    #2 0x55e  (/usr/sbin/nginx+0x47af7)

SUMMARY: AddressSanitizer: 15360 byte(s) leaked in 1 allocation(s).
_LOG_
        'asan.2' => <<'_LOG_',
=================================================================
==2==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 240 byte(s) in 1 object(s) allocated from:
    #0 0x7f2 in __interceptor_malloc asan_malloc_linux.cpp:69
    #1 0x7f3 in EVP_MD_fetch (/lib/x86_64-linux-gnu/libcrypto.so.3+0x1f71b9)
    #2 0x7f4 in ngx_http_gw_ratelimit_init ngx_http_gw_ratelimit_module.c:2751

Indirect leak of 8 byte(s) in 1 object(s) allocated from:
    #0 0x7f2 in __interceptor_malloc asan_malloc_linux.cpp:69
    #1 0x55e in ngx_alloc (/usr/sbin/nginx+0x4ccfe)

SUMMARY: AddressSanitizer: 248 byte(s) leaked in 2 allocation(s).
_LOG_
        'error.log' => <<'_LOG_',
2026/01/01 00:00:00 [notice] 3#3: start worker processes
x.c:1629:9: runtime error: null pointer passed as argument 2
    #0 0x7f in ngx_http_gw_auth_cache_store x.c:1629
_LOG_
    );

    for my $name (keys %logs) {
        open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
        print $fh $logs{$name};
        close $fh;
    }

    local $NginxGw::Util::UseAsan = 1;
    my %got = map { $_->[0] =~ s{.*/}{}r => $_->[1] }
              NginxGw::Util::sanitizer_reports($dir);

    ok(!exists $got{'asan.1'},
       'sanitizer checker: a leak of nginx\'s own (no gw frame) is left out');
    ok(defined $got{'asan.2'} && $got{'asan.2'} =~ /gw_ratelimit_init/
       && $got{'asan.2'} =~ /1 leaks without an nginx-gw frame left out/,
       'sanitizer checker: a leak with one of our frames fails')
        or diag(explain \%got);
    ok(defined $got{'error.log'} && $got{'error.log'} =~ /^x\.c.*runtime/,
       'sanitizer checker: a UBSan report in the error log fails')
        or diag(explain \%got);
}

# (8) NginxGw::Util: boot a whole nginx.conf, talk to it, stop it
{
    my $port = free_port();
    my $prefix = "$ServRoot/util";
    my $nginx = start_nginx(<<"_CONF_", $prefix);
worker_processes 2;
error_log logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    default_type application/json;
    server {
        listen 127.0.0.1:$port;
        location = /hi { return 200 "hi \$request_method \$content_length\\n"; }
    }
}
_CONF_

    my ($status, $headers, $body) = http_request(port => $port, path => '/hi');
    is("$status $body", "200 hi GET \n", 'Util: GET');
    is($headers->{'content-type'}, 'application/json',
       'Util: headers, lower-case names');

    ($status, undef, $body) = http_request(port => $port, path => '/hi',
                                           method => 'POST',
                                           body => "\0\xff\r\n");
    is("$status $body", "200 hi POST 4\n", 'Util: POST with a binary body');

    is($nginx->stop, 0, 'Util: nginx stopped cleanly');
}

ok(!leftover_processes(), 'no nginx left running from the self-test');

done_testing();
