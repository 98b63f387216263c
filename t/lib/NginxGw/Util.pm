package NginxGw::Util;

# Small helpers shared by the Test::Nginx::Socket runner (t/lib/Test/Nginx/
# Socket.pm) and by plain Test::More tests that boot a whole nginx.conf:
#
#   use NginxGw::Util qw(free_port start_nginx http_request);
#
#   my $port  = free_port();
#   my $nginx = start_nginx($conf_text, "$build/t/example", port => $port);
#   my ($status, $headers, $body) = http_request(port => $port, path => '/');
#   $nginx->stop;
#
# Processes started here run in the foreground as children of the test (so
# they can be waited for), each in its own process group, and are killed when
# the test exits, dies or is interrupted: nothing is left behind.
#
# Only core Perl modules are used.

use strict;
use warnings;

use Exporter 'import';
use Fcntl qw(:flock);
use File::Path qw(make_path);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h EAGAIN EINTR EINPROGRESS);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(
    free_port port_listening spawn stop_process wait_listening
    start_nginx http_request http_exchange parse_http_response
    sanitizer_env sanitizer_directives sanitizer_reports check_sanitizers
    valgrind_command nginx_output workers_of wait_old_workers
);

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

# Timeouts inside nginx.conf that nginx under valgrind or ASan cannot keep
# (the first requests under valgrind run code it has not translated yet):
# $TEST_NGINX_REDIS_TIMEOUT (in configs; $ENV{...} in plain tests) is the
# Redis client's default, 50ms, and 5s under valgrind, 500ms under ASan.
$ENV{TEST_NGINX_REDIS_TIMEOUT} //= $ENV{TEST_NGINX_USE_VALGRIND} ? '5s'
                                 : $ENV{TEST_NGINX_USE_ASAN} ? '500ms'
                                 : '50ms';


# ------------------------------------------------------------------------
# Free loopback ports.
#
# A candidate port is taken only if (1) no other test process of ours holds
# it: each port handed out is flock()ed in a shared lock directory for the
# lifetime of this process, so "prove -j2" runs never pick the same port;
# and (2) it can be bound and listened on now.  Ports come from below the
# kernel's ephemeral range, so outgoing connections do not take them later.

my %Held;       # port => lock file handle, kept open while this process runs

sub _port_range {
    my ($lo, $hi) = (20000, 32000);

    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my ($elo) = split ' ', scalar <$fh>;
        if ($elo && $elo > 11000 && $elo <= 32768) {
            ($lo, $hi) = (10000, $elo - 1);
        }
    }

    return ($lo, $hi);
}

sub free_port {
    my $dir = ($ENV{TMPDIR} || '/tmp') . '/nginx-gw-ports';
    make_path($dir) unless -d $dir;

    my ($lo, $hi) = _port_range();

    for (1 .. 500) {
        my $port = $lo + int rand($hi - $lo + 1);

        next if $Held{$port};

        open my $lock, '>>', "$dir/$port" or next;
        if (!flock($lock, LOCK_EX | LOCK_NB)) {
            close $lock;
            next;
        }

        # nginx listens with SO_REUSEADDR, so a port whose old connections
        # are in TIME_WAIT is usable: test it the same way.
        my $sock = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $port,
            Proto     => 'tcp',
            ReuseAddr => 1,
            Listen    => 1,
        );

        if (!$sock) {
            close $lock;
            next;
        }

        close $sock;
        $Held{$port} = $lock;
        return $port;
    }

    die "free_port: no free loopback port found in $lo..$hi\n";
}


# Whether 127.0.0.1:$port (or *:$port) is listening, read from
# /proc/net/tcp so that checking makes no connection nginx would log.  With
# $pid, the listening socket must also be one of that process's file
# descriptors, so another program on the port is not taken for our nginx.
# Falls back to connecting when /proc is not available.

sub port_listening {
    my ($port, $pid) = @_;

    if (open my $fh, '<', '/proc/net/tcp') {
        my $want = sprintf '%04X', $port;
        my %inodes;

        while (my $line = <$fh>) {
            # "  0: 0100007F:1F90 00000000:0000 0A ... uid timeout inode"
            my @f = split ' ', $line;
            next unless @f > 9 && $f[3] eq '0A';        # 0A: LISTEN
            my ($addr, $p) = split /:/, $f[1];
            next unless $p eq $want
                        && ($addr eq '0100007F' || $addr eq '00000000');
            $inodes{$f[9]} = 1;
        }

        return 0 unless %inodes;
        return 1 unless $pid;

        for my $fd (glob "/proc/$pid/fd/*") {
            my $link = readlink($fd) // next;
            return 1 if $link =~ /^socket:\[(\d+)\]$/ && $inodes{$1};
        }
        return 0;
    }

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => 1);
    return $sock ? 1 : 0;
}


# ------------------------------------------------------------------------
# Child processes.

our %Children;      # pid => 1 for every live process started by spawn()

# Start @$argv as a child in its own process group, stdin from /dev/null,
# stdout and stderr appended to $out_file; %$env is added to the child's
# environment.  Returns the pid.

sub spawn {
    my ($argv, $out_file, $env) = @_;

    my $parent = $$;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        # child: never return into the test code, never run its END blocks
        eval {
            setpgrp(0, 0);
            _die_with_parent($parent);
            open STDIN, '<', '/dev/null' or die "stdin: $!";
            open STDOUT, '>>', $out_file or die "$out_file: $!";
            open STDERR, '>&', \*STDOUT or die "stderr: $!";
            @ENV{keys %$env} = values %$env if $env;
            exec { $argv->[0] } @$argv or die "exec $argv->[0]: $!";
        };
        print STDERR "spawn: $@";
        POSIX::_exit(127);
    }

    $Children{$pid} = 1;
    return $pid;
}

# Best effort: ask Linux to SIGKILL the child when the test process dies
# even by SIGKILL (prctl(PR_SET_PDEATHSIG)); the flag survives exec.

sub _die_with_parent {
    my ($parent) = @_;

    require Config;
    my %nr = (x86_64 => 157, aarch64 => 167);
    my ($arch) = $Config::Config{archname} =~ /^(\w+?)-/;

    return unless defined $arch && $nr{$arch};

    syscall($nr{$arch}, 1, 9);          # PR_SET_PDEATHSIG, SIGKILL
    POSIX::_exit(1) if getppid() != $parent;
}

# Stop a child started by spawn(): SIGQUIT (nginx's graceful shutdown, and
# what lets valgrind write its leak report), then SIGTERM, then SIGKILL to
# the whole process group.  Returns the wait status, or undef if the process
# was not ours or already reaped.

sub stop_process {
    my ($pid, $grace) = @_;

    return undef unless $pid && $Children{$pid};
    $grace ||= 5;

    my $status = _wait_exit($pid, 0);

    for my $step (['QUIT', $grace], ['TERM', 2], ['KILL', 5]) {
        last if defined $status;
        my ($sig, $wait) = @$step;
        kill $sig, ($sig eq 'KILL' ? -$pid : $pid);
        $status = _wait_exit($pid, $wait);
    }

    # workers of a master that was killed, or left-over helpers
    kill 'KILL', -$pid if kill 0, -$pid;

    delete $Children{$pid};
    return $status;
}

# waitpid() with a time limit; returns the wait status or undef.

sub _wait_exit {
    my ($pid, $timeout) = @_;

    my $deadline = time + $timeout;

    while (1) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid;
        return -1 if $r == -1;          # not our child (any more)
        return undef if time >= $deadline;
        sleep 0.02;
    }
}

# Wait until 127.0.0.1:$port listens.  Returns ('') when it does, else
# (reason, wait status) if the child exited or (reason) on timeout.

sub wait_listening {
    my ($pid, $port, $timeout) = @_;

    my $deadline = time + $timeout;

    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) {
            my $st = $?;
            delete $Children{$pid};
            return ("exited with status " . ($st >> 8)
                    . (($st & 127) ? ", signal " . ($st & 127) : ""), $st);
        }

        return ('') if port_listening($port, $pid);
        sleep 0.02;
    }

    return ("did not listen on port $port within $timeout s");
}

sub _kill_all {
    for my $pid (keys %Children) {
        kill 'KILL', -$pid;
        kill 'KILL', $pid;
        waitpid($pid, 0);
        delete $Children{$pid};
    }
}

END {
    local $?;
    # graceful first, so that valgrind and logs are complete when possible
    for my $pid (keys %Children) {
        stop_process($pid, 2);
    }
    _kill_all();
}

for my $sig (qw(INT TERM HUP)) {
    next if defined $SIG{$sig} && $SIG{$sig} ne 'DEFAULT';
    $SIG{$sig} = sub {
        _kill_all();
        $SIG{$sig} = 'DEFAULT';
        kill $sig, $$;
    };
}


# ------------------------------------------------------------------------
# Sanitizers ("make test-asan"): with TEST_NGINX_USE_ASAN=1 the modules are
# built with ASan and UBSan, but nginx is not, so its process must start
# with the ASan runtime preloaded (TEST_NGINX_ASAN_RUNTIME, gcc's
# libasan.so).  Workers are forks of the master and keep the runtime.
# Each report goes to a file "asan.PID" or "ubsan.PID" in the directory
# given (nginx's logs/), or to stderr, which nginx points at its error log;
# a report of ours there fails the test that started nginx.
#
# Under valgrind (TEST_NGINX_USE_VALGRIND=1) plain tests run their nginx
# under memcheck too, master and workers, with one log per process there.

our $UseAsan = $ENV{TEST_NGINX_USE_ASAN};

# t/lib/asan.suppress, t/lib/lsan.suppress
sub _suppressions_file {
    my ($name) = @_;
    require File::Basename;
    require File::Spec;
    my $dir = File::Spec->rel2abs(File::Basename::dirname(__FILE__));
    return "$dir/../$name.suppress";
}

# sanitizer_env($dir, %opt) -> { NAME => value } for the nginx process,
# empty unless under ASan.  Options: leaks => 0 for an nginx that must fail
# to start (it exits from main() without freeing its configuration or
# calling the modules' exit handlers, so all of it would be "leaked").
# Our modules are preloaded too (besides being loaded by load_module):
# nginx unloads them before it exits, and LeakSanitizer could not name
# their functions any more.
sub sanitizer_env {
    my ($dir, %opt) = @_;

    return {} unless $UseAsan;

    my $rt = $ENV{TEST_NGINX_ASAN_RUNTIME}
        or die "TEST_NGINX_USE_ASAN needs TEST_NGINX_ASAN_RUNTIME (the "
               . "path of libasan.so)\n";

    my @gw = grep { m{/ngx_http_gw_\w+\.so$} }
             split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';

    return {
        LD_PRELOAD    => join(' ', $rt, @gw),
        ASAN_OPTIONS  => join(':', 'detect_leaks=' . ($opt{leaks} // 1),
                              'halt_on_error=1', 'abort_on_error=1',
                              'detect_stack_use_after_return=1',
                              'strict_string_checks=1',
                              'check_initialization_order=1',
                              'fast_unwind_on_malloc=0',
                              'malloc_context_size=30',
                              'suppressions=' . _suppressions_file('asan'),
                              "log_path=$dir/asan"),
        LSAN_OPTIONS  => join(':', 'suppressions='
                                   . _suppressions_file('lsan'),
                              'print_suppressions=0', 'exitcode=0'),
        UBSAN_OPTIONS => join(':', 'print_stacktrace=1', 'halt_on_error=1',
                              "log_path=$dir/ubsan"),
    };
}

# sanitizer_directives() -> directives for nginx's -g that keep the
# options in nginx's environment: nginx clears it in workers (and in
# single-process mode) except for variables named by "env", and UBSan reads
# its options only when it reports.  '' unless under ASan.
sub sanitizer_directives {
    return '' unless $UseAsan;
    return 'env ASAN_OPTIONS; env LSAN_OPTIONS; env UBSAN_OPTIONS; ';
}

# Reloads.  After SIGHUP, the new workers answer while the old ones may
# still accept a connection or two: with reuseport an old worker shares each
# listening socket with the new worker of its number until it handles its
# QUIT.  A test that counts who answered waits for the old ones to be gone:
#
#   my $n = workers_of($master_pid);        # before the HUP
#   kill 'HUP', $master_pid;  ...the new generation answers...
#   wait_old_workers($master_pid, $n);
#
# workers_of($pid): how many "worker process" children the master has
# (0 when their titles are not visible, as under valgrind).
sub workers_of {
    my ($master) = @_;
    return scalar grep { /worker process/ }
                       `ps -o args= --ppid $master 2>/dev/null`;
}

# wait_old_workers($pid, $n): until the master has $n workers, none of them
# shutting down, or 10 s; true if so (also when titles are not visible)
sub wait_old_workers {
    my ($master, $n) = @_;

    my $until = time + 10;

    while (time < $until) {
        my @w = grep { /worker process/ }
                     `ps -o args= --ppid $master 2>/dev/null`;
        return 1 if !$n || (@w == $n && !grep { /shutting down/ } @w);
        sleep 0.05;
    }

    return 0;
}

# nginx_output(\@args, $dir) -> ($wait_status, $output): a short-lived
# nginx command ("-t", "-s reload", "-V") with its stderr and stdout, run
# with the sanitizer environment when under ASan (a module built with ASan
# cannot load without its runtime preloaded); reports go to $dir, where
# check_sanitizers() of the nginx whose logs/ that is finds them.  Leak
# checks are off: such an nginx exits from main() without freeing its
# configuration.  Not run under valgrind: it starts no worker.
sub nginx_output {
    my ($args, $dir) = @_;

    my $env = sanitizer_env($dir, leaks => 0);

    # no shell between: LD_PRELOAD of our modules would break it
    my $pid = open(my $fh, '-|') // die "fork: $!\n";

    if ($pid == 0) {
        @ENV{keys %$env} = values %$env;
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        { exec { $NginxBinary } $NginxBinary, @$args; }
        POSIX::_exit(127);
    }

    my $out = do { local $/; <$fh> } // '';
    close $fh;

    return ($?, $out);
}

# valgrind_command(\@cmd, $dir): under TEST_NGINX_USE_VALGRIND=1 the
# command that runs @cmd under memcheck (NginxGw::Valgrind), one log per
# process, $dir/valgrind.PID.log (the master and each worker); else @cmd.
# Test::Nginx::Socket blocks have their own.
sub valgrind_command {
    my ($cmd, $dir) = @_;

    return $cmd unless $ENV{TEST_NGINX_USE_VALGRIND};

    require NginxGw::Valgrind;
    return NginxGw::Valgrind::command($cmd, "$dir/valgrind.%p.log");
}

# sanitizer_reports($dir) -> list of [file, text] of the sanitizer reports
# and valgrind errors written there.
sub sanitizer_reports {
    my ($dir) = @_;

    my @out;

    if ($UseAsan) {
        for my $log (grep { -s } sort glob "$dir/asan.* $dir/ubsan.*") {
            my $text = _our_reports(_slurp($log));
            push @out, [$log, $text] if $text ne '';
        }

        # what a sanitizer wrote to stderr, which nginx points at its
        # error log
        for my $log (grep { -f } "$dir/error.log", "$dir/stderr.log") {
            my $text = _slurp($log);
            if ($text =~ /^([^\n]*(?:runtime\ error:|ERROR:\ \w+Sanitizer)
                           .*)\z/msx)
            {
                push @out, [$log, $1];
            }
        }
    }

    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        require NginxGw::Valgrind;
        for my $log (sort glob "$dir/valgrind.*.log") {
            my @err = NginxGw::Valgrind::errors(_slurp($log));
            push @out, [$log, join "\n", @err] if @err;
        }
    }

    return @out;
}

# The part of a sanitizer log that is ours: every ASan or UBSan error, but
# of a LeakSanitizer report only the leaks allocated with one of our
# functions on the stack.  Debian's nginx is stripped of its static
# functions, so its own leaks at exit (the connection and event arrays of
# ngx_event_process_init(), allocated with ngx_alloc() and never freed)
# cannot be named in t/lib/lsan.suppress without hiding every leak of a
# worker; but a leak of ours always has one of our frames on its stack.
# Our modules are preloaded, so their frames are named even though nginx
# unloads them at exit ("<unknown module>" is counted as ours anyway).
sub _our_reports {
    my ($text) = @_;

    return $text unless $text =~ /ERROR: LeakSanitizer: detected memory/;

    my ($head, @leaks) = split /\n(?=(?:Direct|Indirect) leak of )/, $text;
    my @ours = grep { /\bngx_http_gw_\w+|<unknown module>/ } @leaks;

    return '' unless @ours;

    $ours[-1] =~ s/\nSUMMARY: .*//s;
    return join "\n", $head, @ours,
        "(" . (@leaks - @ours) . " leaks without an nginx-gw frame left out)\n";
}

# check_sanitizers($dir, $name): one failed test (with the first report as
# diagnostics) if a sanitizer or valgrind reported anything into $dir;
# nothing otherwise, so that plans stay right.  A log is reported once.
my %Reported;

sub check_sanitizers {
    my ($dir, $name) = @_;

    my @new = grep { !$Reported{ $_->[0] }++ } sanitizer_reports($dir);
    return 1 unless @new;

    require Test::More;
    Test::More::fail("$name - no AddressSanitizer/UBSan/valgrind report");
    my $text = $new[0][1];
    my @lines = split /^/m, $text;
    splice @lines, 60 if @lines > 60;
    Test::More::diag(scalar(@new) . " report(s), the first "
                     . "($new[0][0]):\n" . join '', @lines);
    return 0;
}


# ------------------------------------------------------------------------
# Booting a complete nginx.conf, for plain Test::More tests.
#
#   start_nginx($conf_text, $prefix, %opt) -> handle
#
# $conf_text is written to $prefix/conf/nginx.conf; $prefix gets logs/ and
# html/.  nginx runs in the foreground (-g "daemon off;" unless the file
# sets daemon itself) with -p $prefix/.  Debian's nginx is built with
# /run/nginx.pid and /var/lib/nginx/* temp paths; unless the file sets them,
# "pid" is added with -g and the five *_temp_path directives are inserted
# right after "http {", all inside $prefix.
#
# Options: port => N (wait until it listens; default: the first "listen"
# port in the file), timeout => seconds to wait (default 10), binary =>
# nginx path, load_modules => [ .so paths ] (emitted as load_module lines).
#
# Dies with nginx's output if nginx does not start.  The handle has
# stop(), pid(), prefix(), error_log() (path) and error_log_text().

sub start_nginx {
    my ($conf, $prefix, %opt) = @_;

    $prefix =~ s{/+$}{};
    make_path("$prefix/conf", "$prefix/logs", "$prefix/html");

    for my $mod (@{ $opt{load_modules} || [] }) {
        $conf = "load_module $mod;\n" . $conf;
    }

    if ($conf !~ /^\s*\w+_temp_path\s/m) {
        my $temp = '';
        for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
            make_path("$prefix/${t}_temp");
            $temp .= "\n    ${t}_temp_path $prefix/${t}_temp;";
        }
        $conf =~ s/^(\s*http\s*\{)/$1$temp/m;
    }

    my $file = "$prefix/conf/nginx.conf";
    open my $fh, '>', $file or die "$file: $!\n";
    print $fh $conf;
    close $fh;

    my $g = '';
    $g .= 'daemon off; ' unless $conf =~ /^\s*daemon\s/m;
    $g .= "pid $prefix/logs/nginx.pid; " unless $conf =~ /^\s*pid\s/m;

    my $port = $opt{port};
    if (!$port
        && $conf =~ /^\s*listen\s+(?:[\d.]+:|\[[^\]]*\]:|localhost:)?(\d+)/m)
    {
        $port = $1;
    }
    die "start_nginx: no port to wait for (pass port => N)\n" unless $port;

    my $out = "$prefix/logs/stderr.log";
    $g .= sanitizer_directives();
    my @cmd = ($opt{binary} || $NginxBinary, '-p', "$prefix/", '-c', $file,
               ($g ne '' ? ('-g', $g) : ()));

    my $pid = spawn(valgrind_command(\@cmd, "$prefix/logs"), $out,
                    sanitizer_env("$prefix/logs"));
    my ($why) = wait_listening($pid, $port, ($opt{timeout} || 10)
                               * ($ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 1));

    if ($why ne '') {
        stop_process($pid, 1);
        die "nginx did not start ($why): @cmd\n" . _slurp($out)
            . _slurp("$prefix/logs/error.log", 20);
    }

    return bless { pid => $pid, prefix => $prefix, port => $port },
                 'NginxGw::Util::Nginx';
}

sub _slurp {
    my ($file, $tail) = @_;

    open my $fh, '<', $file or return '';
    my @lines = <$fh>;
    @lines = @lines[-$tail .. -1] if $tail && @lines > $tail;
    return join '', @lines;
}


package NginxGw::Util::Nginx;

sub pid       { $_[0]{pid} }
sub port      { $_[0]{port} }
sub prefix    { $_[0]{prefix} }
sub error_log { "$_[0]{prefix}/logs/error.log" }

sub error_log_text {
    my ($self) = @_;
    return NginxGw::Util::_slurp($self->error_log)
           . NginxGw::Util::_slurp("$self->{prefix}/logs/stderr.log");
}

# Graceful stop; returns nginx's wait status (0 when it exited cleanly).
# Under ASan or valgrind, a report of this nginx fails a test.
sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid};
    return undef unless $pid;
    my $status = NginxGw::Util::stop_process($pid, 10);
    NginxGw::Util::check_sanitizers("$self->{prefix}/logs",
                                    "nginx in $self->{prefix}");
    return $status;
}

sub DESTROY {
    local ($., $@, $!, $^E, $?);
    $_[0]->stop;
}


package NginxGw::Util;

# ------------------------------------------------------------------------
# HTTP client.
#
# http_exchange($port, \@packets, %opt) sends the packets (byte strings, or
# { value => bytes, delay_before => seconds }) on one connection to
# 127.0.0.1:$port and reads at the same time, so a server that answers
# early (413, 400) and closes does not deadlock us.  Reading stops at EOF,
# when $opt{done}->($bytes_so_far) returns true, or at $opt{timeout}.
# Returns ($bytes, $error) where $error is '' or 'timeout' or a message.

sub http_exchange {
    my ($port, $packets, %opt) = @_;

    my $timeout = $opt{timeout} || 3;
    my $addr    = $opt{addr} || '127.0.0.1';

    local $SIG{PIPE} = 'IGNORE';

    my $sock = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
                                     Proto => 'tcp', Timeout => $timeout);
    return ('', "connect() to $addr:$port failed: $!") unless $sock;

    $sock->blocking(0);

    my @queue = map { ref $_ ? {%$_} : { value => $_ } } @$packets;
    my $out = '';
    my $resp = '';
    my $deadline = time + $timeout;
    my $writing = 1;

    # the first packet goes out at once, later ones after their delays
    my $next_packet = sub {
        my $p = shift @queue;
        return 0 unless $p;
        my $delay = $p->{delay_before} // $opt{middle_delay};
        sleep $delay if $delay;
        $out = $p->{value} // '';
        _to_bytes($out);
        return 1;
    };

    $writing = $next_packet->();

    while (1) {
        my $left = $deadline - time;
        return ($resp, 'timeout') if $left <= 0;

        my $rsel = IO::Select->new($sock);
        my $wsel = $writing ? IO::Select->new($sock) : undef;
        my ($r, $w) = IO::Select->select($rsel, $wsel, undef, $left);

        if (!$r && !$w) {
            next if $! == EINTR;
            return ($resp, 'timeout');
        }

        if ($w && @$w) {
            my $n = syswrite($sock, $out);
            if (defined $n) {
                substr($out, 0, $n, '');
                $writing = $next_packet->() if $out eq '';

            } elsif ($! != EAGAIN && $! != EINTR) {
                # the server closed early; what it sent is still readable
                $writing = 0;
            }
        }

        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 65536);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EINTR;
                return ($resp, '') if length $resp;     # reset after data
                return ($resp, "read failed: $!");
            }
            return ($resp, '') if $n == 0;

            $resp .= $buf;
            if ($opt{done} && !$writing && $opt{done}->($resp)) {
                return ($resp, '');
            }
        }
    }
}

# Perl strings must go out as bytes: text with characters above 0xFF is
# sent UTF-8 encoded, anything else byte for byte.

sub _to_bytes {
    if (utf8::is_utf8($_[0])) {
        utf8::encode($_[0]) unless utf8::downgrade($_[0], 1);
    }
}

# parse_http_response($bytes, $is_head, $eof)
#
# Parses one response from the start of $bytes.  Returns undef when more
# bytes are needed, else a hash { code, reason, version, headers =>
# [[name, value], ...], raw_headers, body, rest } where rest is what follows
# this response (pipelining).  Interim 1xx responses (100 Continue) are
# skipped; 101 is returned as is.  A body without Content-Length or chunked
# encoding ends at EOF, so it is complete only when $eof is true.

sub parse_http_response {
    my ($buf, $is_head, $eof) = @_;

    while (1) {
        my $end = index($buf, "\r\n\r\n");
        return undef if $end < 0;

        my $head = substr($buf, 0, $end + 2);
        my $rest = substr($buf, $end + 4);

        my ($status_line, @lines) = split /\r\n/, $head;
        my ($version, $code, $reason) =
            $status_line =~ m{^(HTTP/\d\.\d)\s+(\d{3})(?:\s+(.*))?$};
        return { code => undef, reason => $status_line, headers => [],
                 raw_headers => $head, body => $rest, rest => '' }
            unless defined $code;

        if ($code >= 100 && $code < 200 && $code != 101) {
            $buf = $rest;
            next;
        }

        my @headers;
        for my $line (@lines) {
            if ($line =~ /^[ \t]/ && @headers) {     # obsolete folding
                $headers[-1][1] .= " " . ($line =~ s/^\s+//r);
                next;
            }
            my ($name, $value) = split /:[ \t]*/, $line, 2;
            $value //= '';
            $value =~ s/[ \t]+$//;
            push @headers, [$name, $value];
        }

        my $res = { code => $code, reason => $reason // '',
                    version => $version, headers => \@headers,
                    raw_headers => $head };

        my $te = _header(\@headers, 'Transfer-Encoding');
        my $cl = _header(\@headers, 'Content-Length');

        if ($is_head || $code == 204 || $code == 304 || $code == 101) {
            $res->{body} = '';
            $res->{rest} = $rest;

        } elsif (defined $te && $te =~ /\bchunked\b/i) {
            my ($body, $after) = _dechunk($rest);
            return undef unless defined $body;
            $res->{body} = $body;
            $res->{rest} = $after;

        } elsif (defined $cl && $cl =~ /^\s*(\d+)\s*$/) {
            return undef if length($rest) < $1 && !$eof;
            $res->{body} = substr($rest, 0, $1);
            $res->{rest} = length($rest) > $1 ? substr($rest, $1) : '';
            $res->{truncated} = 1 if length($rest) < $1;

        } else {
            return undef unless $eof;
            $res->{body} = $rest;
            $res->{rest} = '';
        }

        return $res;
    }
}

# Decode a chunked body; returns (body, bytes after it) or () if incomplete.

sub _dechunk {
    my ($raw) = @_;

    my ($pos, $body) = (0, '');

    while (1) {
        my $eol = index($raw, "\r\n", $pos);
        return () if $eol < 0;

        my ($size) = substr($raw, $pos, $eol - $pos) =~ /^\s*([0-9a-fA-F]+)/;
        return ("", substr($raw, $pos)) unless defined $size;   # garbage
        $size = hex $size;
        $pos = $eol + 2;

        if ($size == 0) {
            # trailer fields, then an empty line
            while (1) {
                my $e = index($raw, "\r\n", $pos);
                return () if $e < 0;
                my $empty = $e == $pos;
                $pos = $e + 2;
                return ($body, substr($raw, $pos)) if $empty;
            }
        }

        return () if length($raw) < $pos + $size + 2;
        $body .= substr($raw, $pos, $size);
        $pos += $size + 2;
    }
}

# All values of a header joined with ", " (as HTTP::Headers does), or undef.

sub _header {
    my ($headers, $name) = @_;

    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name } @$headers;
    return @v ? join(', ', @v) : undef;
}

# http_request(%args) -> ($status, \%headers, $body)
#
#   port (required), method (GET), path (/), host (localhost),
#   headers => { name => value } or [ name => value, ... ],
#   body (bytes; Content-Length is added), timeout (5 s).
#
# One request on its own connection with "Connection: close".  Header names
# in the returned hash are lower case; repeated headers are joined by ", ".
# On a connection failure or timeout $status is undef and $body the reason.

sub http_request {
    my (%a) = @_;

    my $method = $a{method} || 'GET';
    my $path   = $a{path} // '/';
    my @h = ref $a{headers} eq 'HASH' ? %{ $a{headers} }
                                      : @{ $a{headers} || [] };
    my %given = map { lc $_ => 1 } @h[ grep { !($_ % 2) } 0 .. $#h ];

    my $req = "$method $path HTTP/1.1\r\n";
    $req .= "Host: " . ($a{host} || 'localhost') . "\r\n" unless $given{host};
    $req .= "Connection: close\r\n" unless $given{connection};

    while (my ($k, $v) = splice @h, 0, 2) {
        $req .= "$k: $v\r\n";
    }

    my $body = $a{body};
    if (defined $body) {
        _to_bytes($body);
        $req .= "Content-Length: " . length($body) . "\r\n"
            unless $given{'content-length'} || $given{'transfer-encoding'};
    }
    $req .= "\r\n" . ($body // '');

    my ($raw, $err) = http_exchange($a{port}, [$req],
                                    timeout => $a{timeout} || 5);

    my $res = parse_http_response($raw, $method eq 'HEAD', 1);
    return (undef, {}, $err || 'no response') unless $res && $res->{code};

    my %headers;
    for my $h (@{ $res->{headers} }) {
        my $k = lc $h->[0];
        $headers{$k} = defined $headers{$k} ? "$headers{$k}, $h->[1]"
                                            : $h->[1];
    }

    return ($res->{code}, \%headers, $res->{body});
}

1;
