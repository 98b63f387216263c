package Test::Nginx::Socket;

# nginx-gw's own Test::Nginx::Socket: a small runner that reads the test
# block format of openresty's Test::Nginx::Socket (not packaged in Debian),
# so that t/*.t read like any nginx module's tests and would run under the
# upstream module too.  Like upstream it is a Test::Base subclass: "===
# TEST 1: title", "--- section", "--- section eval" and the ONLY/SKIP/LAST
# meta sections are Test::Base's.
#
# For every block it writes a fresh nginx.conf into the test file's own
# prefix directory, starts nginx in the foreground as a child process, waits
# until the port listens, sends the requests, checks the responses and the
# error log, stops nginx and checks that the block's error log holds no
# [alert], [crit] or [emerg] (and, under TEST_NGINX_USE_VALGRIND=1, that
# valgrind's memcheck found nothing).
#
# Differences from upstream are listed in the POD at the end of this file.

use strict;
use warnings;

use Test::Base -base;

use Cwd ();
use File::Basename qw(basename dirname);
use File::Copy ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use List::Util qw(shuffle);
use POSIX qw(:sys_wait_h);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);

use NginxGw::Util qw(free_port spawn stop_process wait_listening
                     http_exchange parse_http_response sanitizer_env
                     sanitizer_directives check_sanitizers);
use NginxGw::Valgrind ();

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle
    master_on master_off master_process_enabled workers worker_connections
    log_level no_long_string no_root_location env_to_nginx
    add_block_preprocessor add_cleanup_handler add_response_body_check
    server_name server_addr server_port server_port_for_client
    html_dir server_root timeout config_preamble is_str bail_out
    check_accum_error_log no_nginx_manager use_hup
);


# ------------------------------------------------------------------------
# Settings: environment first, then the functions scripts call.

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $LoadModules = $ENV{TEST_NGINX_LOAD_MODULES} || '';
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $Verbose     = $ENV{TEST_NGINX_VERBOSE};
our $Timeout     = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LogLevel    = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $NoShuffle   = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $MasterProcess = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};

our $RepeatEach        = 1;
our $Workers           = 1;
our $WorkerConnections = 64;
our $NoRootLocation    = 0;
our $NoLongString      = 0;
our $ServerName        = 'localhost';
our $ServerAddr        = '127.0.0.1';
our $ConfigPreamble    = '';

our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers,
     @ResponseBodyChecks);

# Under valgrind everything is 10-50 times slower.
our $SlowFactor = $UseValgrind ? 10 : 1;

sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@)            { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_;
                             $WorkerConnections }
sub log_level (@)          { $LogLevel = shift if @_; $LogLevel }
sub timeout (@)            { $Timeout = shift if @_; $Timeout }
sub server_name (@)        { $ServerName = shift if @_; $ServerName }
sub server_addr (@)        { $ServerAddr }
sub no_shuffle ()          { $NoShuffle = 1 }
sub master_on ()           { $MasterProcess = 'on' }
sub master_off ()          { $MasterProcess = 'off' }
sub no_long_string ()      { $NoLongString = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub use_hup ()             { }      # we always restart nginx per block
sub no_nginx_manager ()    { die "no_nginx_manager() is not supported\n" }

sub master_process_enabled (@) {
    $MasterProcess = (shift() ? 'on' : 'off') if @_;
    return $MasterProcess eq 'on';
}

sub env_to_nginx (@) {
    for my $v (@_) {
        die "env_to_nginx: bad argument: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { push @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }


# ------------------------------------------------------------------------
# The test file's prefix directory and ports, chosen when the file loads
# this module, so "--- xxx eval" sections can read them from %ENV.

my $Top = Cwd::abs_path(dirname(__FILE__) . '/../../../..');
(my $FileId = basename($0)) =~ s/\.[^.]+$//;

our $ServRoot = File::Spec->rel2abs(
    ($ENV{TEST_NGINX_SERVROOT} || "$Top/build/t") . "/$FileId");
our $HtmlDir    = "$ServRoot/html";
our $LogDir     = "$ServRoot/logs";
our $ConfFile   = "$ServRoot/conf/nginx.conf";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/stderr.log";

our $ServerPort;

sub server_root ()              { $ServRoot }
sub html_dir ()                 { $HtmlDir }
sub server_port (@)             { $ServerPort }
sub server_port_for_client (@)  { $ServerPort }

# (Re)allocate the server port and the five spare ports.
sub _choose_ports {
    $ServerPort = free_port();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    for my $i (1 .. 5) {
        $ENV{"TEST_NGINX_RAND_PORT_$i"} = free_port();
    }
}

_choose_ports();
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR}    = $HtmlDir;

# Remove what an earlier run of this file left.
make_path($ServRoot);
remove_tree(map { "$ServRoot/$_" } qw(conf logs html valgrind failed));
remove_tree(glob "$ServRoot/*_temp");


# ------------------------------------------------------------------------
# Running the blocks.

our $CurrentPid;            # nginx of the running block
our $PrevSections;          # config of the last block that had one
our $NginxVersion;          # canonical "1.022001" for --- skip_nginx

sub run_tests () {
    my @blocks = Test::Base::blocks();      # runs the section filters
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
    }

    cleanup();
}

sub run_test ($) {
    my ($block) = @_;

    my $name = $block->name;
    my $tb = Test::More->builder;
    my $failed = _failures($tb);

    my $blk = { block => $block, name => $name, seq => $block->seq_num,
                errlog_pos => 0, stderr_pos => 0 };

    if (!eval { _run_block($blk); 1 }) {
        my $err = $@;
        chomp $err;
        Test::More::fail("$name - $err");
    }

    _stop_nginx($blk) if $blk->{pid};

    # under ASan (TEST_NGINX_USE_ASAN=1), a sanitizer report of the
    # block's nginx fails the block
    check_sanitizers($LogDir, $name);

    if (_failures($tb) > $failed) {
        _keep_failed_files($blk);
    }
}

sub _failures {
    my ($tb) = @_;
    return scalar grep { !$_ } $tb->summary;
}

sub _run_block {
    my ($blk) = @_;

    my $block = $blk->{block};
    my $name  = $blk->{name};

    for my $s (qw(tcp_listen udp_listen stap http2 http3 curl
                  response_body_filters))
    {
        die "--- $s is not supported by this runner\n"
            if defined $block->$s;
    }

    my ($nskip, $reason) = _should_skip($block);
    if ($nskip) {
        # upstream skips the given number of tests in every repetition
        SKIP: { Test::More::skip("$name - $reason", $nskip * $RepeatEach) }
        return;
    }

    # A block without --- config runs with the previous block's nginx
    # configuration, as upstream (which keeps that nginx running).
    if (defined $block->config || !$PrevSections) {
        $PrevSections = { map { $_ => scalar $block->$_ }
                          qw(main_config http_config config
                             post_main_config) };
    }
    $blk->{sections} = $PrevSections;

    if (defined $block->must_die) {
        _run_must_die($blk);
        return;
    }

    _start_nginx($blk) or return;

    if (defined(my $init = $block->init)) {
        eval $init;
        die "--- init failed: $@" if $@;
    }

    for my $rep (0 .. $RepeatEach - 1) {
        _write_user_files($blk) if $rep > 0;
        _run_requests($blk, $rep);
    }

    _stop_nginx($blk);

    _check_shutdown_error_log($blk);
    _check_alerts($blk);
    _check_valgrind($blk) if $blk->{valgrind_log};
}

# --- skip_nginx: "N: < 1.21.0" or "N: >= 1.2.3: reason"; --- skip_eval:
# "N: perl expression".  Returns (tests to skip, reason) or ().

sub _should_skip {
    my ($block) = @_;

    if (defined(my $spec = $block->skip_eval)) {
        my ($n, $code) = $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or die "invalid --- skip_eval: $spec\n";
        my $skip = eval $code;
        die "--- skip_eval failed: $@" if $@;
        return ($n, 'skip_eval') if $skip;
    }

    if (defined(my $spec = $block->skip_nginx)) {
        my ($n, $op, $v1, $v2, $v3, $why) = $spec =~ m{
                ^\s* (\d+) \s*:\s* ([<>]=?) \s* (\d+)\.(\d+)\.(\d+)
                (?: \s*:\s* (.*?) )? \s*$ }x
            or die "invalid --- skip_nginx: $spec\n";

        my $want = sprintf '%d.%03d%03d', $v1, $v2, $v3;
        my $have = _nginx_version();
        my $skip = $op eq '<'  ? $have <  $want
                 : $op eq '<=' ? $have <= $want
                 : $op eq '>'  ? $have >  $want
                 :               $have >= $want;
        return ($n, $why || "nginx version $op $v1.$v2.$v3") if $skip;
    }

    return ();
}

sub _nginx_version {
    return $NginxVersion if defined $NginxVersion;

    my $out = `$NginxBinary -v 2>&1`;
    my @v = $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)}
        or die "cannot run \"$NginxBinary -v\": $out\n";
    return $NginxVersion = sprintf '%d.%03d%03d', @v;
}


# ------------------------------------------------------------------------
# nginx.conf, user files, starting and stopping.

# $TEST_NGINX_FOO is replaced by $ENV{TEST_NGINX_FOO}; a missing variable
# fails the block, except $TEST_NGINX_RAND_PORT_N, allocated on first use.

sub _expand_env {
    my ($text) = @_;

    return $text unless defined $text && !ref $text;

    $text =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
        my $var = $1;
        if (!defined $ENV{$var} && $var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $ENV{$var} = free_port();
        }
        defined $ENV{$var} ? $ENV{$var}
                           : die "no environment variable $var defined\n";
    }ge;

    return $text;
}

sub _prepare_dirs {
    remove_tree(map { "$ServRoot/$_" } qw(conf logs html));
    remove_tree(glob "$ServRoot/*_temp");
    make_path("$ServRoot/conf", $LogDir, $HtmlDir);

    open my $fh, '>', "$HtmlDir/index.html" or die "index.html: $!\n";
    print $fh '<html><head><title>It works!</title></head>'
              . '<body>It works!</body></html>';
    close $fh;
}

# --- user_files: ">>> name" lines start files (relative names go into the
# html directory; an optional date after the name sets the mtime), or an
# arrayref of [name, body, date] from "--- user_files eval".

sub _write_user_files {
    my ($blk) = @_;

    my $files = $blk->{block}->user_files;
    return unless defined $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, '', $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    }

    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";

        make_path(dirname($path));
        open my $out, '>', $path or die "cannot write $path: $!\n";
        binmode $out;
        print $out _expand_env($body // '');
        close $out;

        if ($date) {
            system('touch', '-d', $date, $path) == 0
                or die "cannot set the date of $path to $date\n";
        }
    }
}

sub _write_conf {
    my ($blk) = @_;

    my $block = $blk->{block};
    my $s = $blk->{sections};

    my $main   = _expand_env($s->{main_config}) // '';
    my $http   = _expand_env($s->{http_config}) // '';
    my $config = _expand_env($s->{config}) // '';
    my $post   = _expand_env($s->{post_main_config}) // '';
    my $preamble = _expand_env($ConfigPreamble) // '';

    my $level  = $block->log_level || $LogLevel;
    my $master = $MasterProcess;
    my $sname  = $block->server_name // $ServerName;

    # Directives the test may set itself: emit ours only when it does not,
    # as a second one would be "is duplicate".
    my $unset = sub { my ($text, $dir) = @_; $text !~ /^\s*$dir\s/m };

    my $conf = "# $blk->{name}\n";

    for my $mod (split ' ', $LoadModules) {
        $conf .= "load_module $mod;\n";
    }

    $conf .= "worker_processes $Workers;\n"
             if $unset->($main, 'worker_processes');
    $conf .= "daemon off;\n";
    $conf .= "master_process $master;\n";
    $conf .= "error_log $ErrLogFile $level;\n";
    $conf .= "pid $LogDir/nginx.pid;\n" if $unset->($main, 'pid');
    $conf .= "lock_file $LogDir/nginx.lock;\n"
             if $unset->($main, 'lock_file');
    $conf .= "user root;\n"
             if $> == 0 && $master eq 'on' && $unset->($main, 'user');
    $conf .= "env $_;\n" for @EnvToNginx;

    my $temp = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        $temp .= "    ${t}_temp_path $ServRoot/${t}_temp;\n"
                 if $unset->($http, "${t}_temp_path");
    }

    my $defaults = '';
    $defaults .= "    default_type text/plain;\n"
                 if $unset->($http, 'default_type');
    $defaults .= "    keepalive_timeout 68;\n"
                 if $unset->($http, 'keepalive_timeout');

    my $root = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    $conf .= <<"_EOC_";

$main

events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}

http {
    access_log $AccLogFile;
$defaults$temp
$http

    server {
        listen 127.0.0.1:$ServerPort;
        server_name '$sname';

        client_max_body_size 30M;

$preamble
        # Begin test case config...
$config
        # End test case config.

$root    }
}

$post
_EOC_

    open my $fh, '>', $ConfFile or die "cannot write $ConfFile: $!\n";
    print $fh $conf;
    close $fh;
}

# Start nginx for the block: dirs, user files, conf, spawn, wait until the
# port listens.  A port another process took meanwhile is replaced (all
# ports, since the conf may use any).  Returns ($why, $status): $why is ''
# when nginx listens, else why not; $status the exit status if it exited.

sub _spawn_nginx {
    my ($blk, $must_die) = @_;

    my ($why, $status);

    for my $attempt (1 .. 3) {
        _prepare_dirs();
        _write_user_files($blk);

        delete $blk->{valgrind_log};
        if ($UseValgrind && !$must_die) {
            make_path("$ServRoot/valgrind");
            # one log per process (%p): a master and its workers
            $blk->{valgrind_log} = sprintf "%s/valgrind/block-%03d.%%p.log",
                                   $ServRoot, $blk->{seq};
            unlink _valgrind_logs($blk);
        }

        _write_conf($blk);

        my $g = sanitizer_directives();
        my $cmd = [$NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile,
                   ($g ne '' ? ('-g', $g) : ())];
        $cmd = NginxGw::Valgrind::command($cmd, $blk->{valgrind_log})
            if $blk->{valgrind_log};

        Test::More::diag("$blk->{name}: @$cmd (port $ServerPort)")
            if $Verbose;

        my $pid = spawn($cmd, $StderrFile,
                        sanitizer_env($LogDir, leaks => $must_die ? 0 : 1));
        ($why, $status) = wait_listening($pid, $ServerPort,
                                         $must_die ? 10 : 10 * $SlowFactor);

        if ($why eq '') {
            $blk->{pid} = $CurrentPid = $pid;
            return ('');
        }

        if (!defined $status) {            # timed out: still running
            stop_process($pid, 1);
            last;
        }

        last if $must_die || _startup_output() !~ /Address already in use/;

        _choose_ports();
    }

    return ($why, $status);
}

sub _start_nginx {
    my ($blk) = @_;

    my ($why) = _spawn_nginx($blk, 0);
    return 1 if $why eq '';

    Test::More::fail("$blk->{name} - nginx started ($why)");
    Test::More::diag(_startup_output());
    return 0;
}

# stderr of nginx (config errors go there before error_log is opened) and
# the tail of the error log.
sub _startup_output {
    return _slurp($StderrFile) . _tail($ErrLogFile, 15);
}

# Stop the block's nginx gracefully (SIGQUIT), so valgrind can write its
# report; report a crash or an exit nobody asked for.
sub _stop_nginx {
    my ($blk) = @_;

    my $pid = delete $blk->{pid} or return;
    undef $CurrentPid;

    my $name = $blk->{name};
    my $status;

    if (waitpid($pid, WNOHANG) == $pid) {
        $status = $?;
        delete $NginxGw::Util::Children{$pid};
        Test::More::fail("$name - nginx exited during the block (status "
                         . ($status >> 8) . ", signal " . ($status & 127)
                         . ")");
        Test::More::diag(_tail($ErrLogFile, 15));

    } else {
        # SIGKILL: it did not stop on SIGQUIT nor SIGTERM; other signals:
        # it crashed while stopping
        $status = stop_process($pid, 5 * $SlowFactor);
        if (defined $status && $status > 0 && ($status & 127)) {
            Test::More::fail("$name - nginx stopped cleanly (it ended by "
                             . "signal " . ($status & 127) . ")");
            Test::More::diag(_tail($ErrLogFile, 15));
        }
    }

    $blk->{exit_status} = $status;
}

# Copy the conf and logs of a failed block where the next block will not
# remove them, and say where.
sub _keep_failed_files {
    my ($blk) = @_;

    my $dir = sprintf "%s/failed/block-%03d", $ServRoot, $blk->{seq};
    make_path($dir);
    for my $f ($ConfFile, glob("$LogDir/*.log $LogDir/asan.* "
                               . "$LogDir/ubsan.*"), _valgrind_logs($blk))
    {
        File::Copy::copy($f, $dir) if defined $f && -f $f;
    }
    Test::More::diag("nginx.conf and logs of the failed block: $dir");
}

sub cleanup () {
    $_->() for @CleanupHandlers;
    if ($CurrentPid) {
        stop_process($CurrentPid, 2);
        undef $CurrentPid;
    }
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

END {
    local $?;
    cleanup();
}


# ------------------------------------------------------------------------
# --- must_die: nginx must refuse to start.  Upstream's test names and
# counts: one "die as expected" (or, when the section holds a number, "die
# with the expected exit code") per repetition, then the error_log checks,
# which here read nginx's stderr as well as the error log.

sub _run_must_die {
    my ($blk) = @_;

    my $name = $blk->{name};
    my $must_die = $blk->{block}->must_die;
    $must_die =~ s/^\s+|\s+$//g;

    for my $rep (0 .. $RepeatEach - 1) {
        my ($why, $status) = _spawn_nginx($blk, 1);
        @$blk{qw(errlog_pos stderr_pos)} = (0, 0);

        if ($why eq '') {
            Test::More::fail("$name - die as expected (nginx started)");
            _stop_nginx($blk);

        } elsif (!defined $status) {
            Test::More::fail("$name - die as expected ($why)");

        } elsif (looks_like_number($must_die)) {
            Test::More::is($status >> 8, $must_die,
                           "$name - die with the expected exit code");

        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        _check_error_log($blk, $rep);
        check_sanitizers($LogDir, $name);
    }
}


# ------------------------------------------------------------------------
# Requests.

# The requests of a block: a list of { packets => [...], heads => [bool
# per response] }; one entry per connection.

sub _build_requests {
    my ($blk) = @_;

    my $block = $blk->{block};
    my $more  = $block->more_headers // '';

    my $hdr_for = sub {
        my ($i) = @_;
        my $h = ref $more eq 'ARRAY' ? $more->[$i] : $more;
        die "--- more_headers has no entry for request $i\n"
            unless defined $h;
        return _expand_env($h);
    };

    my $body_for = sub {
        my ($i) = @_;
        my $b = $block->request_body;
        return ref $b eq 'ARRAY' ? $b->[$i] : $b;
    };

    if (defined(my $raw = $block->raw_request)) {
        my @packets = map { _expand_env($_) } (ref $raw ? @$raw : ($raw));
        my $all = join '', @packets;
        return [{ packets => \@packets,
                 heads => [$all =~ /^\s*HEAD\s/ ? 1 : 0] }];
    }

    if (defined(my $reqs = $block->pipelined_requests)) {
        die "--- pipelined_requests must be an arrayref (use eval)\n"
            unless ref $reqs eq 'ARRAY';
        my ($all, @heads) = ('');
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my ($req, $head) = _build_one($reqs->[$i], $hdr_for->($i),
                                          $body_for->($i), $conn);
            $all .= $req;
            push @heads, $head;
        }
        return [{ packets => [$all], heads => \@heads }];
    }

    my $request = $block->request;
    die "no --- request, --- raw_request or --- pipelined_requests\n"
        unless defined $request;

    my @list = ref $request eq 'ARRAY' ? @$request : ($request);
    my @out;

    for my $i (0 .. $#list) {
        my $one = $list[$i];

        if (ref $one eq 'ARRAY') {
            # a request as packets, sent with delays: the request line must
            # be whole in the first packet; headers are added after it
            my @packets = map { ref $_ ? {%$_} : { value => $_ } } @$one;
            my $first = $packets[0]{value};
            my $nl = index($first, "\n");
            die "the first packet must hold the whole request line\n"
                if $nl < 0;
            my $body = join '', substr($first, $nl + 1),
                                map { $_->{value} } @packets[1 .. $#packets];
            my ($head_part, $head) = _build_one(substr($first, 0, $nl + 1),
                                                $hdr_for->($i), undef,
                                                'close', length $body);
            $packets[0]{value} = $head_part . substr($first, $nl + 1);
            push @out, { packets => \@packets, heads => [$head] };

        } else {
            my ($req, $head) = _build_one($one, $hdr_for->($i),
                                          $body_for->($i), 'close');
            push @out, { packets => [$req], heads => [$head] };
        }
    }

    return \@out;
}

# One request from "--- request" text: the first line is "METHOD [URI
# [VERSION]]" (default "/" and HTTP/1.1), further lines the body, whitespace
# trimmed as upstream does.  An explicit body ("--- request_body") is sent
# exactly as given instead.  Host and Connection headers are added unless
# more_headers has them, Content-Length unless it has Content-Length or
# Transfer-Encoding: chunked.  Returns (bytes, is_head).

sub _build_one {
    my ($text, $more, $explicit_body, $conn, $body_len) = @_;

    $text = _expand_env($text);
    1 while $text =~ s/^\s*#[^\n]*\n//s || $text =~ s/^\s+//s;

    my ($first, $body) = split /\n/, $text, 2;
    my ($meth, $uri, $ver) =
        ($first // '') =~ /^\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\s*$/
        or die "bad request line: \"" . ($first // '') . "\"\n";
    $uri //= '/';
    $ver //= 'HTTP/1.1';

    my ($hdr, $chunked) = _parse_more_headers($more);
    my $add_length = !$chunked && $hdr !~ /(?:^|\n)Content-Length\s*:/i;

    if (defined $explicit_body) {
        $body = $explicit_body;
        NginxGw::Util::_to_bytes($body);

    } else {
        # as upstream: a body that gets a Content-Length is trimmed, one
        # the test frames itself (chunked) is sent as written
        $body //= '';
        $body =~ s/^\s+|\s+$//gs if $add_length;
    }
    $body = '' if defined $body_len;    # packets: the body goes separately

    my $h = '';
    $h .= "Host: $ServerName\r\n" unless $hdr =~ /(?:^|\n)Host\s*:/i;
    $h .= "Connection: $conn\r\n" unless $hdr =~ /(?:^|\n)Connection\s*:/i;
    $h .= $hdr;

    my $len = $body_len // length $body;
    if ($add_length && ($len || defined $explicit_body)) {
        $h .= "Content-Length: $len\r\n";
    }

    return ("$meth $uri $ver\r\n$h\r\n$body", $meth eq 'HEAD');
}

sub _parse_more_headers {
    my ($in) = @_;

    my ($out, $chunked) = ('', 0);

    for my $line (split /\n+/, $in // '') {
        next if $line =~ /^\s*(?:#|$)/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $val =~ s/\r$//;
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val =~ /chunked/i;
        $out .= "$key: $val\r\n";
    }

    return ($out, $chunked);
}

sub _run_requests {
    my ($blk, $rep) = @_;

    my $block = $blk->{block};
    my $name  = $blk->{name};

    my $reqs = _build_requests($blk);
    my $total = 0;
    $total += @{ $_->{heads} } for @$reqs;
    my $need_array = $total > 1;

    my $timeout = _parse_time($block->timeout) // $Timeout;
    $timeout *= $SlowFactor;

    my $idx = 0;

    for my $req (@$reqs) {
        my $heads = $req->{heads};

        # Stop reading early only when every response is complete and the
        # last one keeps the connection open; otherwise read up to EOF.
        my $done = sub {
            my $res = _parse_responses($_[0], $heads, 0);
            return 0 if grep { !defined } @$res;
            return !grep { lc $_->[0] eq 'connection' && $_->[1] =~ /close/i }
                   @{ $res->[-1]{headers} };
        };

        my $delay = _parse_time($block->raw_request_middle_delay);
        my ($raw, $err) = http_exchange($ServerPort, $req->{packets},
                                        timeout => $timeout, done => $done,
                                        middle_delay => $delay);

        if ($err && !defined $block->abort) {
            Test::More::fail($err eq 'timeout'
                             ? "ERROR: client socket timed out - $name"
                             : "$name - $err");
        }

        my $responses = _parse_responses($raw, $heads, 1);

        for my $res (@$responses) {
            if (!defined $block->ignore_response) {
                _check_response($blk, $res, $rep, $idx, $need_array);
            }

            if ($idx < $total - 1) {
                sleep _parse_time($block->wait) if $block->wait;
                _check_error_log($blk, $rep);
            }

            $idx++;
        }
    }

    sleep _parse_time($block->wait) if $block->wait;
    _check_error_log($blk, $rep);
}

# Parse as many responses as requests were sent; undef for those missing.
sub _parse_responses {
    my ($raw, $heads, $eof) = @_;

    my @res;
    for my $head (@$heads) {
        my $res = parse_http_response($raw, $head, $eof);
        push @res, $res;
        last unless $res;
        $raw = $res->{rest};
    }
    push @res, undef while @res < @$heads;

    return \@res;
}

sub _parse_time {
    my ($t) = @_;

    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    return $1 if $t =~ /^([\d.]+)s?$/;
    die "bad time value: $t\n";
}


# ------------------------------------------------------------------------
# Response checks.  Test names and counts follow upstream, so plans
# written for upstream hold: per response one status test, one per
# --- response_headers(_like) line, one for the body.

sub _indexed {
    my ($blk, $value, $idx, $need_array) = @_;

    if (ref $value eq 'ARRAY') {
        return $value->[$idx];
    }

    die "several requests need arrayrefs of expected values "
        . "(use --- section eval)\n" if $need_array;

    return $value;
}

sub _header_value {
    my ($res, $name) = @_;
    return undef unless $res;
    return NginxGw::Util::_header($res->{headers}, $name);
}

sub _check_response {
    my ($blk, $res, $rep, $idx, $need_array) = @_;

    my $block = $blk->{block};
    my $name  = $blk->{name};
    my $code  = $res ? $res->{code} // '' : '';
    my $body  = $res ? $res->{body} : undef;

    # status
    if (defined(my $like = $block->error_code_like)) {
        my $pat = _indexed($blk, $like, $idx, $need_array);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } else {
        my $want = defined $block->error_code
                   ? _indexed($blk, scalar $block->error_code, $idx,
                              $need_array)
                   : 200;
        $want =~ s/^\s+|\s+$//g;
        Test::More::is($code, $want, "$name - status code ok");
    }

    my $raw_headers = $res ? $res->{raw_headers} : '';

    if (defined(my $p = $block->raw_response_headers_like)) {
        my $pat = _indexed($blk, $p, $idx, $need_array);
        Test::More::like($raw_headers, qr/$pat/s,
                         "$name - raw resp headers like");
    }

    if (defined(my $p = $block->raw_response_headers_unlike)) {
        my $pat = _indexed($blk, $p, $idx, $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s,
                           "$name - raw resp headers unlike");
    }

    # headers: "Name: value" (exact), "!Name" (absent)
    if (defined(my $spec = $block->response_headers)) {
        $spec = _indexed($blk, $spec, $idx, $need_array);
        for my $h (_parse_header_spec($spec)) {
            my ($key, $val) = @$h;
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/mi,
                    "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort(?:ForClient)?\b/$ServerPort/g;
            Test::More::is(_header_value($res, $key) // '', $val,
                           "$name - header $key ok");
        }
    }

    # headers: "Name: regex", the whole value must match
    if (defined(my $spec = $block->response_headers_like)) {
        $spec = _indexed($blk, $spec, $idx, $need_array);
        for my $h (_parse_header_spec($spec)) {
            my ($key, $val) = @$h;
            $val //= '';
            Test::More::like(_header_value($res, $key) // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }

    # body
    if (defined $block->response_body) {
        my $want = _indexed($blk, scalar $block->response_body, $idx,
                            $need_array);
        if (ref $want) {
            Test::More::like($body, $want, "$name - response_body - like "
                             . "(repeated req $rep, req $idx)");
        } else {
            $want =~ s/\$ServerPort(?:ForClient)?\b/$ServerPort/g
                if defined $want;
            is_str($body, $want, "$name - response_body - response is "
                                 . "expected (repeated req $rep, req $idx)");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $like = defined $block->response_body_like;
        my $type = $like ? 'like' : 'unlike';
        my $pat = _indexed($blk, scalar($like ? $block->response_body_like
                                              : $block->response_body_unlike),
                           $idx, $need_array);
        $pat =~ s/\$ServerPort(?:ForClient)?\b/$ServerPort/g unless ref $pat;

        my $summary = $body // '';
        $summary =~ s/\s+/ /g;
        $summary = substr($summary, 0, 60) . '...' if length $summary > 60;

        my $cmp = $like ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($body // '', qr/$pat/s,
               "$name - response_body_$type - response is expected "
               . "($summary)");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $body, $idx, $rep, 0);
    }
}

sub _parse_header_spec {
    my ($spec) = @_;

    my @out;
    for my $line (split /\n/, $spec // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            push @out, [$line, undef];
        } else {
            my ($k, $v) = split /\s*:\s*/, $line, 2;
            push @out, [$k, $v // ''];
        }
    }

    return @out;
}

# is() for response bodies: long or binary strings that differ are shown
# as their lengths and the first differing bytes, not as a wall of text.

sub is_str (@) {
    my ($got, $want, $desc) = @_;

    return Test::More::like($got, $want, $desc) if ref $want eq 'Regexp';

    my $long = sub { defined $_[0]
                     && (length $_[0] > 200 || $_[0] =~ /[^\n\t\x20-\x7e]/) };

    if ($NoLongString || !($long->($got) || $long->($want))
        || !defined $got || !defined $want)
    {
        return Test::More::is($got, $want, $desc);
    }

    return Test::More::pass($desc) if $got eq $want;

    my $i = 0;
    $i++ while $i < length $got && $i < length $want
               && substr($got, $i, 1) eq substr($want, $i, 1);

    my $show = sub {
        my $s = substr($_[0], $i > 20 ? $i - 20 : 0, 60);
        $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
        return "\"$s\"";
    };

    my $ok = Test::More::ok(0, $desc);
    Test::More::diag("    got: " . length($got) . " bytes\n"
                     . "   want: " . length($want) . " bytes\n"
                     . "  first difference at byte $i:\n"
                     . "    got: " . $show->($got) . "\n"
                     . "   want: " . $show->($want));
    return $ok;
}


# ------------------------------------------------------------------------
# Error log checks.

sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

sub _tail {
    my ($file, $n) = @_;
    my @lines = split /^/m, _slurp($file);
    @lines = @lines[-$n .. -1] if @lines > $n;
    return join '', @lines;
}

# Lines of a file from *$pos on, advancing *$pos (upstream reads the error
# log from where the previous check stopped, unless check_accum_error_log).
sub _read_from {
    my ($file, $pos) = @_;

    open my $fh, '<', $file or return ();
    seek $fh, $$pos, 0 if $$pos && !$CheckAccumErrLog;
    my @lines = <$fh>;
    $$pos = tell $fh;
    return @lines;
}

# New lines of nginx's stderr (messages from before the error log was
# opened, such as configuration warnings) and of the error log.
sub _error_log_data {
    my ($blk) = @_;

    _wait_log_phase($blk);

    return [ _read_from($StderrFile, \$blk->{stderr_pos}),
             _read_from($ErrLogFile, \$blk->{errlog_pos}) ];
}

# the access log's lines, once the last request's log phase has run
sub _access_log_data {
    my ($blk) = @_;

    _wait_log_phase($blk);

    return [ split /^/m, _slurp($AccLogFile) ];
}

# the log phase comes after the reply: one wait before the logs are read
# (once per _check_error_log(), which resets the flag)
sub _wait_log_phase {
    my ($blk) = @_;

    return if $blk->{log_waited}++;
    sleep $Sleep * 3 * $SlowFactor;
}

# --- error_log / --- no_error_log values: lines of substrings, or with
# eval a qr// or an arrayref of strings and qr//s.
sub _patterns {
    my ($v) = @_;

    return () unless defined $v;
    return ($v) if ref $v eq 'Regexp';
    return grep { defined && $_ ne '' } @$v if ref $v eq 'ARRAY';

    chomp $v;
    return grep { $_ ne '' } split /\n+/, $v;
}

sub _matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub _fmt {
    my ($s) = @_;
    $s = "$s";
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub _check_error_log {
    my ($blk, $rep) = @_;

    my $block = $blk->{block};
    my $name  = $blk->{name};
    my $lines;

    # one wait for the log phase for this request's checks
    local $blk->{log_waited} = 0;

    for my $sec (['error_log', 'error.log'], ['access_log', 'access.log']) {
        my ($key, $file) = @$sec;
        my @pats = _patterns(scalar $block->$key);
        next unless @pats;

        $lines = _error_log_data($blk) if $key eq 'error_log' && !$lines;
        my $data = $key eq 'error_log' ? $lines : _access_log_data($blk);

        for my $pat (@pats) {
            my $p = _fmt($pat);
            if (grep { _matches($_, $pat) } @$data) {
                Test::More::pass("$name - pattern \"$p\" matches a line in "
                                 . "$file (req $rep)");
            } else {
                Test::More::fail("$name - pattern \"$p\" should match a line "
                                 . "in $file (req $rep)");
            }
        }
    }

    for my $sec (['no_error_log', 'error.log'],
                 ['no_access_log', 'access.log'])
    {
        my ($key, $file) = @$sec;
        my @pats = _patterns(scalar $block->$key);
        next unless @pats;

        $lines = _error_log_data($blk) if $key eq 'no_error_log' && !$lines;
        my $data = $key eq 'no_error_log' ? $lines : _access_log_data($blk);

        for my $pat (@pats) {
            my $p = _fmt($pat);
            my ($hit) = grep { _matches($_, $pat) } @$data;
            if (defined $hit) {
                Test::More::fail("$name - pattern \"$p\" should not match any "
                                 . "line in $file but matches line \""
                                 . _fmt($hit) . "\" (req $rep)");
            } else {
                Test::More::pass("$name - pattern \"$p\" does not match a "
                                 . "line in $file (req $rep)");
            }
        }
    }

    # --- grep_error_log (a substring or qr//) collects the matching parts
    # of the lines; --- grep_error_log_out is what they must be
    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $want = $block->grep_error_log_out;
        $want = $want->[$rep] if ref $want eq 'ARRAY';
        die "--- grep_error_log needs --- grep_error_log_out\n"
            unless defined $want;

        $lines ||= _error_log_data($blk);

        my $got = '';
        for my $line (@$lines) {
            if (ref $grep ? $line =~ $grep : $line =~ /\Q$grep\E/) {
                $got .= "$&\n" if $& !~ /\n/;
            }
        }

        if (ref $want eq 'Regexp') {
            Test::More::like($got, $want,
                             "$name - grep_error_log_out (req $rep)");
        } else {
            is_str($got, $want, "$name - grep_error_log_out (req $rep)");
        }
    }
}

# --- shutdown_error_log / --- no_shutdown_error_log: checked against what
# nginx logged while it stopped at the end of the block.
sub _check_shutdown_error_log {
    my ($blk) = @_;

    my $block = $blk->{block};
    my $name  = $blk->{name};

    my @want = _patterns(scalar $block->shutdown_error_log);
    my @not  = _patterns(scalar $block->no_shutdown_error_log);
    return unless @want || @not;

    my $lines = _error_log_data($blk);

    for my $pat (@want) {
        Test::More::ok((grep { _matches($_, $pat) } @$lines),
            "$name - pattern \"" . _fmt($pat) . "\" matches a line in "
            . "error.log");
    }

    for my $pat (@not) {
        Test::More::ok(!(grep { _matches($_, $pat) } @$lines),
            "$name - pattern \"" . _fmt($pat) . "\" does not match a line "
            . "in error.log");
    }
}

# After the block: nothing in its error log (or nginx's stderr) at alert,
# crit or emerg level, and no worker killed by a signal.  A level the block
# names in its own --- error_log / --- no_error_log is left to the block, as
# upstream does.  The test is only emitted when it fails, so that plans
# written for upstream (which only warns) stay right.

sub _check_alerts {
    my ($blk) = @_;

    my $block = $blk->{block};
    my %skip;

    for my $v (scalar $block->error_log, scalar $block->no_error_log,
               scalar $block->shutdown_error_log)
    {
        for my $pat (_patterns($v)) {
            for my $level (qw(alert crit emerg)) {
                $skip{$level} = 1 if index("$pat", "[$level") >= 0;
            }
        }
    }

    my @levels = grep { !$skip{$_} } qw(alert crit emerg);
    my $re = @levels ? join('|', @levels) : '(?!)';

    my @bad = grep { /\[(?:$re)\]/ || /worker process \d+ exited on signal/ }
              split /^/m, _slurp($StderrFile) . _slurp($ErrLogFile);

    return unless @bad;

    Test::More::fail("$blk->{name} - no alert/crit/emerg in error log");
    splice @bad, 10 if @bad > 10;
    Test::More::diag(join '', @bad);
}

# The valgrind logs of a block: one per process.
sub _valgrind_logs {
    my ($blk) = @_;

    return () unless defined $blk->{valgrind_log};
    (my $glob = $blk->{valgrind_log}) =~ s/%p/*/;
    return grep { -f } glob $glob;
}

# Under valgrind: any memcheck report fails the block (test emitted only on
# failure, as above).
sub _check_valgrind {
    my ($blk) = @_;

    my @logs = _valgrind_logs($blk);
    my $log = join ' ', @logs;
    my $name = $blk->{name};

    if (!@logs || grep { !-s } @logs) {
        Test::More::fail("$name - valgrind log $blk->{valgrind_log} missing");
        return;
    }

    my @errors = map { NginxGw::Valgrind::errors(_slurp($_)) } @logs;

    my $st = $blk->{exit_status};
    if (!@errors && defined $st
        && ($st >> 8) == $NginxGw::Valgrind::ErrorExitCode)
    {
        push @errors, "valgrind exited with its error exit code\n";
    }

    return unless @errors;

    Test::More::fail("$name - valgrind: no memcheck errors");
    my $n = @errors;
    splice @errors, 5 if @errors > 5;
    Test::More::diag("valgrind found $n error(s) ($log):\n"
                     . join("\n", @errors));
}

1;

__END__

=head1 NAME

Test::Nginx::Socket - nginx-gw's Test::Nginx::Socket-compatible test runner

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';

    no_shuffle();
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t {
            echo "hello";
        }
    --- request
    GET /t
    --- response_body
    hello

Run with C<prove -I t/lib t/> (C<make test> sets the environment).

=head1 SECTIONS

Configuration: main_config, http_config, config (inside the default
server), post_main_config, user_files (">>> name" files in the html
directory), log_level, must_die (nginx must fail to start; a number is the
exit code), init (Perl run before the requests).  A block without
--- config uses the previous block's configuration.

Requests: request (first line "METHOD [URI [VERSION]]", the rest is the
body, trimmed; eval: an arrayref of requests, each on its own connection,
or of packet arrays), request_body (the exact body; eval for binary;
arrayref per request), more_headers (eval: arrayref per request),
raw_request (bytes as given, with raw_request_middle_delay between
packets of an arrayref), pipelined_requests (eval arrayref, one
connection), timeout (3, 500ms, 2s), abort (a timeout is no failure),
ignore_response, wait (seconds before the error log checks).

Checks (with several requests, eval arrayrefs with one value per
response): error_code, error_code_like, response_headers ("Name: value",
"!Name" for absent), response_headers_like ("Name: regex"),
raw_response_headers_like/unlike, response_body (eval qr// allowed),
response_body_like/unlike, error_log and no_error_log (substring lines;
eval: qr// or an arrayref of strings and qr//s; with several requests
checked after each request on the lines since the previous check, as
upstream), grep_error_log/grep_error_log_out, access_log/no_access_log,
shutdown_error_log/no_shutdown_error_log.

Skipping: skip_nginx ("N: < 1.21.0"), skip_eval ("N: perl"), and
Test::Base's SKIP, ONLY and LAST.

After every block the error log and nginx's stderr must hold no [alert],
[crit], [emerg] or "worker process N exited on signal" (a level the block
names in its own error_log/no_error_log is left to it); nginx must not
exit during the block nor need SIGKILL to stop; under valgrind, memcheck
must report nothing.  These tests appear only when they fail, so plans
counted as for upstream stay right.

=head1 ENVIRONMENT

TEST_NGINX_BINARY (default /usr/sbin/nginx), TEST_NGINX_LOAD_MODULES
(space-separated .so paths, one load_module line each),
TEST_NGINX_SERVROOT (directory for the per-file prefixes, default
build/t), TEST_NGINX_USE_VALGRIND=1, TEST_NGINX_VALGRIND_SUPPRESS (another
suppressions file; empty for none), TEST_NGINX_TIMEOUT (3),
TEST_NGINX_LOG_LEVEL (debug), TEST_NGINX_NO_SHUFFLE, TEST_NGINX_SLEEP,
TEST_NGINX_MASTER_PROCESS, TEST_NGINX_CHECK_ACCUM_ERR_LOG,
TEST_NGINX_VERBOSE.

Set by the runner for configs, requests and eval sections:
TEST_NGINX_SERVER_PORT, TEST_NGINX_RAND_PORT_1 .. _5 (more on first use),
TEST_NGINX_SERVER_ROOT (the file's prefix), TEST_NGINX_HTML_DIR.
Any C<$TEST_NGINX_NAME> in a config section, user file, request, raw
request or more_headers is replaced by its value (not in request_body).

=head1 DIFFERENCES FROM UPSTREAM

nginx is always restarted for each block and runs with "daemon off" as a
child of the test, in its own process group; TEST_NGINX_SERVROOT is the
directory under which each test file gets its own prefix; the ports are
always free ports chosen by the runner (if another program takes one
during the run, the runner moves to new ports, and values computed from
%ENV in eval sections are then stale); a block whose nginx logs [alert],
[crit] or [emerg] fails (upstream only warns); --- no_error_log fails once
per pattern, not once per matching line; --- request_body is ours; 1xx
interim responses (100 Continue) are skipped; under valgrind each
process (a master and its workers after master_on()) has its own log.
Not supported: HTTP/2, HTTP/3, curl, stap,
tcp_listen/udp_listen mock servers, response_body_filters, use_hup and
TEST_NGINX_USE_HUP, no_nginx_manager, TEST_NGINX_CHECK_LEAK and
benchmarks.  A failed block's nginx.conf and logs are copied to
<prefix>/failed/block-NNN/.

=cut
