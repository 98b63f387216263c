package NginxGw::Redis;

# Redis servers for tests: a plain redis-server, one with a password or ACL
# users, a replica, a Sentinel, a three-master Cluster and a TLS server, each
# on free loopback ports, in a directory of the test's own, stopped when the
# test ends or dies (the processes are NginxGw::Util children).
#
#   use NginxGw::Redis qw(redis_start sentinel_start cluster_start keyslot);
#
#   my $r = redis_start("$prefix/r1", requirepass => 'sekret');
#   $r->cli('SET', 'k', 'v');                 # redis-cli, with the password
#   my $replica = redis_start("$prefix/r2", replicaof => $r);
#   my $s = sentinel_start("$prefix/s", master => $r, name => 'gw');
#   $r->kill;  $s->wait_failover($r->port, 10);
#
#   my $c = cluster_start("$prefix/cluster");        # three masters
#   $c->node_for_key('{a}x')->cli('GET', '{a}x');
#   $c->migrate_slot(keyslot('{a}x'), $from, $to);
#
#   my $t = redis_start("$prefix/tls", tls => 1);    # TLS only
#
# For the tests that boot nginx themselves:
#
#   my $nginx = gw_nginx("$prefix/nginx", $http_block, workers => 2);
#   my $r = timed_get($port, '/p');     # { code, h => {...}, body, ms }
#
# gw_nginx writes a whole nginx.conf around $http_block (load_module lines
# from TEST_NGINX_LOAD_MODULES, or this checkout's ratelimit module and
# Debian's echo module: gw_test_modules()) and starts it with
# NginxGw::Util::start_nginx.
#
# Every wait is bounded (a few seconds), every address is 127.0.0.1, and
# every redis-cli call runs under timeout(1), 5 s by default.  Only
# redis-server and redis-cli (Debian's redis-server/redis-tools 7.0) and
# openssl (for TLS certificates) are needed; redis_available() says whether
# they are there, tls_available() whether redis-server was built with TLS
# (Debian's is).
#
# Server objects (NginxGw::Redis::Server):
#   port, pid, dir, addr ("127.0.0.1:port"), log_text, password, tls
#   cli(@args)          redis-cli output (list context: lines), as the
#                       server's admin (default user / requirepass); with
#                       { db => n, user => u, pass => p, raw => 1 } first
#   ping                true when PING answers PONG
#   kill / term         SIGKILL / SIGTERM, and wait for the exit
#   freeze / thaw       SIGSTOP / SIGCONT (frozen servers are thawed before
#                       they are stopped, so nothing is left stopped)
#   restart             start again with the same configuration and port
#   info($section)      INFO as a hash
#   keys($pattern)      SCAN for keys of db (option db => n), sorted
#   node_id             CLUSTER MYID (cluster nodes)
#   master_addr, replicas, wait_failover($old, $timeout)   (sentinels)
#
# Cluster objects (NginxGw::Redis::Cluster): nodes, seed, wait_ok,
# node_for_slot, node_for_key, keys_by_node, migrate_slot($slot, $from,
# $to [, stop_half => 1]), finish_migration($slot).

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path remove_tree);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

use NginxGw::Util qw(free_port spawn stop_process port_listening);

our @EXPORT_OK = qw(
    redis_available tls_available redis_start sentinel_start cluster_start
    tls_certs keyslot crc16 gw_test_modules gw_nginx timed_get
);

our $RedisServer = $ENV{TEST_REDIS_SERVER} || 'redis-server';
our $RedisCli    = $ENV{TEST_REDIS_CLI} || 'redis-cli';

my @All;            # every server object started, for END


sub _which {
    my ($prog) = @_;
    return $prog if $prog =~ m{/} && -x $prog;
    for my $d (split /:/, $ENV{PATH} || '/usr/bin:/bin') {
        return "$d/$prog" if -x "$d/$prog";
    }
    return undef;
}

sub redis_available {
    return _which($RedisServer) && _which($RedisCli) ? 1 : 0;
}

# redis-server built with TLS (Debian's is): --tls-port is then a known
# option, and "redis-server --tls-port 1 --test-memory" style probing is
# not needed: the binary links libssl.

my $TlsAvailable;

sub tls_available {
    return $TlsAvailable if defined $TlsAvailable;
    $TlsAvailable = 0;
    my $bin = _which($RedisServer) or return 0;
    return 0 unless _which('openssl');
    if (open my $fh, '-|', 'ldd', $bin) {
        my $ldd = do { local $/; <$fh> } // '';
        close $fh;
        $TlsAvailable = 1 if $ldd =~ /libssl/;
    }
    if (!$TlsAvailable && open my $fh, '<:raw', $bin) {
        # a static build: look for the option's name in the binary
        local $/ = \1048576;
        while (my $chunk = <$fh>) {
            if (index($chunk, 'tls-cert-file') >= 0) {
                $TlsAvailable = 1;
                last;
            }
        }
        close $fh;
    }
    return $TlsAvailable;
}

# The modules a plain Test::More test loads: TEST_NGINX_LOAD_MODULES as
# "make test" sets it, else this checkout's ratelimit module and Debian's
# echo module.

sub gw_test_modules {
    return split ' ', $ENV{TEST_NGINX_LOAD_MODULES}
        if $ENV{TEST_NGINX_LOAD_MODULES};

    require FindBin;
    require Cwd;
    my $bin = do { no warnings "once"; $FindBin::Bin };
    my $root = Cwd::abs_path("$bin/..");
    return ("$root/build/modules/ngx_http_gw_ratelimit_module.so",
            '/usr/lib/nginx/modules/ngx_http_echo_module.so');
}


# gw_nginx($prefix, $http, %opt): nginx with the test modules, running
# from $prefix (NginxGw::Util::start_nginx), whose http{} block is $http;
# "listen" lines in $http name the ports.  Options: workers (1),
# log_level (info), port (to wait for; default the first listen).
# Returns the NginxGw::Util handle.

sub gw_nginx {
    my ($prefix, $http, %opt) = @_;

    my $load = join '', map { "load_module $_;\n" } gw_test_modules();
    my $user = $> == 0 ? "user root;\n" : '';
    my $workers = $opt{workers} || 1;
    my $level = $opt{log_level} || 'info';

    my $conf = <<"_EOC_";
${load}${user}worker_processes $workers;
error_log logs/error.log $level;

events {
    worker_connections 1024;
}

http {
    access_log off;
$http
}
_EOC_

    my $port = $opt{port};
    ($port) = $http =~ /\blisten\s+(?:127\.0\.0\.1:)?(\d+)/ unless $port;

    return NginxGw::Util::start_nginx($conf, $prefix,
                                      ($port ? (port => $port) : ()),
                                      timeout => 10);
}

# timed_get($port, $path, %opt): one GET on a new connection; returns a
# hash { code, h => { lower-case name => value }, body, ms } (code undef on
# failure, with the reason in body).

sub timed_get {
    my ($port, $path, %opt) = @_;
    my $t0 = time;
    my ($code, $h, $body) = NginxGw::Util::http_request(
        port => $port, path => $path, timeout => $opt{timeout} || 5,
        ($opt{headers} ? (headers => $opt{headers}) : ()));
    return { code => $code, h => $h, body => $body,
             ms => (time - $t0) * 1000 };
}


# ------------------------------------------------------------------------
# Cluster hash slots (CRC16/XMODEM of the key or of its {hash tag}).

sub crc16 {
    my ($s) = @_;
    my $crc = 0;
    for my $b (unpack 'C*', $s) {
        $crc ^= $b << 8;
        for (1 .. 8) {
            $crc = ($crc & 0x8000) ? (($crc << 1) ^ 0x1021) : ($crc << 1);
            $crc &= 0xffff;
        }
    }
    return $crc;
}

sub keyslot {
    my ($key) = @_;
    my $s = index($key, '{');
    if ($s >= 0) {
        my $e = index($key, '}', $s + 1);
        if ($e > $s + 1) {
            $key = substr($key, $s + 1, $e - $s - 1);
        }
    }
    return crc16($key) % 16384;
}


# ------------------------------------------------------------------------
# TLS certificates: a CA and a server certificate for 127.0.0.1/localhost
# signed by it, made by openssl in $dir.  Returns { ca, cert, key } paths.

sub tls_certs {
    my ($dir) = @_;
    make_path($dir);
    my %f = (ca => "$dir/ca.crt", ca_key => "$dir/ca.key",
             cert => "$dir/server.crt", key => "$dir/server.key");
    return \%f if -s $f{cert};

    my $ext = "$dir/san.cnf";
    open my $fh, '>', $ext or die "$ext: $!";
    print $fh "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    close $fh;

    my @steps = (
        [qw(openssl req -x509 -newkey rsa:2048 -nodes -days 2),
         '-subj', '/CN=gw-test-ca', '-keyout', $f{ca_key}, '-out', $f{ca}],
        [qw(openssl req -newkey rsa:2048 -nodes -subj /CN=localhost),
         '-keyout', $f{key}, '-out', "$dir/server.csr"],
        [qw(openssl x509 -req -days 2 -CAcreateserial),
         '-in', "$dir/server.csr", '-CA', $f{ca}, '-CAkey', $f{ca_key},
         '-out', $f{cert}, '-extfile', $ext],
    );
    for my $cmd (@steps) {
        my $out = _run(30, @$cmd);
        die "tls_certs: @$cmd failed: $out\n" if $? != 0;
    }
    chmod 0644, $f{key};        # nginx workers and redis may run as others
    return \%f;
}


# ------------------------------------------------------------------------
# Running commands with a time limit, output captured.

sub _run {
    my ($timeout, @cmd) = @_;

    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        open STDIN, '<', '/dev/null';
        { exec 'timeout', '-k', '1', $timeout, @cmd; }
        POSIX::_exit(127);
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    return $out;
}


# ------------------------------------------------------------------------
# Servers.
#
# redis_start($dir, %opt): a redis-server in $dir (made, emptied first),
# on $opt{port} or a free port.  Options:
#   requirepass => secret         password of the default user
#   users => [ [name, password, rules...], ... ]
#                                 ACL users in redis.conf ("user" lines);
#                                 rules default to "~* &* +@all"
#   aclfile => 1                  the users go to $dir/users.acl instead
#   replicaof => $server          a replica of that server (masterauth
#                                 from its requirepass); returns once it
#                                 has synced and its master streams to it
#                                 (state=online)
#   cluster => 1                  cluster-enabled, with a bus port of its
#                                 own (cluster-port, chosen free)
#   tls => 1                      TLS only (tls-port; port 0), certificates
#                                 from tls_certs("$dir/../tls"), or
#                                 tls_dir => a directory for them
#   config => [ "line", ... ]     more redis.conf lines
#   timeout => seconds to wait for it to answer (default 10)
# Dies with the server's log if it does not come up.

sub redis_start {
    my ($dir, %opt) = @_;

    die "redis_start: redis-server/redis-cli not found\n"
        unless redis_available();

    remove_tree($dir);
    make_path($dir);

    my $self = bless {
        dir      => $dir,
        port     => $opt{port} || free_port(),
        password => $opt{requirepass},
        opt      => \%opt,
        role     => 'server',
    }, 'NginxGw::Redis::Server';

    my @conf = (
        "bind 127.0.0.1",
        "protected-mode no",
        "daemonize no",
        "save \"\"",
        "appendonly no",
        "dir $dir",
        "logfile $dir/redis.log",
        "loglevel notice",
        "databases 16",
        # a replica's first sync at once, not after diskless sync's 5 s
        "repl-diskless-sync-delay 0",
    );

    if ($opt{tls}) {
        my $c = tls_certs($opt{tls_dir} || "$dir/../tls");
        $self->{tls} = $c;
        push @conf, "port 0", "tls-port $self->{port}",
            "tls-cert-file $c->{cert}", "tls-key-file $c->{key}",
            "tls-ca-cert-file $c->{ca}", "tls-auth-clients no";
        push @conf, "tls-replication yes" if $opt{replicaof};
    } else {
        push @conf, "port $self->{port}";
    }

    push @conf, "requirepass $opt{requirepass}"
        if defined $opt{requirepass};

    if ($opt{users}) {
        my @lines;
        for my $u (@{ $opt{users} }) {
            my ($name, $pass, @rules) = @$u;
            @rules = ('~*', '&*', '+@all') unless @rules;
            push @lines, join ' ', 'user', $name, 'on', ">$pass", @rules;
        }
        if ($opt{aclfile}) {
            # an aclfile cannot be combined with requirepass: give the
            # default user its password there too
            if (defined $opt{requirepass}) {
                @conf = grep { !/^requirepass / } @conf;
                unshift @lines, "user default on >$opt{requirepass} "
                                . "~* &* +\@all";
            }
            open my $fh, '>', "$dir/users.acl" or die "$dir/users.acl: $!";
            print $fh "$_\n" for @lines;
            close $fh;
            push @conf, "aclfile $dir/users.acl";
        } else {
            push @conf, @lines;
        }
    }

    if (my $m = $opt{replicaof}) {
        push @conf, "replicaof 127.0.0.1 " . $m->port;
        push @conf, "masterauth $m->{password}" if defined $m->{password};
        push @conf, "replica-announce-ip 127.0.0.1";
    }

    if ($opt{cluster}) {
        $self->{bus_port} = free_port();
        push @conf, "cluster-enabled yes",
            "cluster-config-file $dir/nodes.conf",
            "cluster-node-timeout 2000",
            "cluster-port $self->{bus_port}",
            "cluster-announce-ip 127.0.0.1",
            "cluster-require-full-coverage no";
    }

    push @conf, @{ $opt{config} || [] };

    $self->{conf} = "$dir/redis.conf";
    open my $fh, '>', $self->{conf} or die "$self->{conf}: $!";
    print $fh "$_\n" for @conf;
    close $fh;

    push @All, $self;
    $self->_start($opt{timeout} || 10);

    # a replica: wait until it has synced with its master
    if ($opt{replicaof}) {
        my $deadline = time + ($opt{timeout} || 10);
        my $m = $opt{replicaof};
        my $me = qr/port=$self->{port},state=online/;
        while (($self->info('replication')->{master_link_status} // '')
               ne 'up'
               || !grep { /$me/ } values %{ $m->info('replication') })
        {
            die "replica in $dir did not sync with "
                . $opt{replicaof}->addr . ":\n" . $self->log_text(20)
                if time > $deadline;
            sleep 0.05;
        }
    }
    return $self;
}

# sentinel_start($dir, master => $server, %opt): a Sentinel monitoring
# $server under $opt{name} (default "gwmaster") with quorum 1, so that it
# alone can fail over; down-after-milliseconds $opt{down_after} (500) and
# failover-timeout $opt{failover_timeout} (2000): a failover takes 1 to 3
# seconds.  Waits until the sentinel knows the master and, with
# $opt{replicas} (a count), that many replicas.

sub sentinel_start {
    my ($dir, %opt) = @_;

    my $m = $opt{master} or die "sentinel_start: master => server needed\n";
    my $name = $opt{name} || 'gwmaster';

    remove_tree($dir);
    make_path($dir);

    my $self = bless {
        dir      => $dir,
        port     => $opt{port} || free_port(),
        password => $opt{requirepass},
        name     => $name,
        opt      => \%opt,
        role     => 'sentinel',
    }, 'NginxGw::Redis::Server';

    my @conf = (
        "port $self->{port}",
        "bind 127.0.0.1",
        "protected-mode no",
        "daemonize no",
        "dir $dir",
        "logfile $dir/sentinel.log",
        "sentinel announce-ip 127.0.0.1",
        "sentinel monitor $name 127.0.0.1 " . $m->port . " 1",
        "sentinel down-after-milliseconds $name "
            . ($opt{down_after} || 500),
        "sentinel failover-timeout $name " . ($opt{failover_timeout} || 2000),
        "sentinel parallel-syncs $name 1",
    );
    push @conf, "sentinel auth-pass $name $m->{password}"
        if defined $m->{password};
    push @conf, "requirepass $opt{requirepass}"
        if defined $opt{requirepass};

    # the sentinel rewrites its configuration file: it must be writable
    $self->{conf} = "$dir/sentinel.conf";
    open my $fh, '>', $self->{conf} or die "$self->{conf}: $!";
    print $fh "$_\n" for @conf;
    close $fh;

    push @All, $self;
    $self->_start($opt{timeout} || 10);

    my $want = $opt{replicas} || 0;
    my $deadline = time + 10;
    while (1) {
        my $addr = $self->master_addr;
        my $n = $want ? scalar($self->replicas) : 0;
        last if $addr && $addr eq $m->addr && $n >= $want;
        if (time > $deadline) {
            die "sentinel_start: the sentinel does not see master "
                . $m->addr . " with $want replica(s) (sees "
                . ($addr // 'nothing') . ", $n)\n" . $self->log_text(20);
        }
        sleep 0.1;
    }
    return $self;
}

# cluster_start($dir, masters => 3, %opt): that many cluster-enabled
# servers in $dir/node-<i>, joined by "redis-cli --cluster create" with no
# replicas (slots split evenly in order: node 1 has 0-5460, ...); waits for
# cluster_state:ok on every node.  %opt is passed to redis_start
# (requirepass, tls...).

sub cluster_start {
    my ($dir, %opt) = @_;

    my $n = delete $opt{masters} || 3;
    remove_tree($dir);
    make_path($dir);

    my @nodes = map { redis_start("$dir/node-$_", %opt, cluster => 1) }
                1 .. $n;

    my @cmd = ('--cluster', 'create', (map { $_->addr } @nodes),
               '--cluster-replicas', '0', '--cluster-yes');
    my $out = $nodes[0]->cli({ timeout => 30 }, @cmd);
    die "cluster_start: redis-cli --cluster create failed:\n$out\n"
        unless $out =~ /All 16384 slots covered/;

    my $self = bless { dir => $dir, nodes => \@nodes },
                     'NginxGw::Redis::Cluster';
    $self->wait_ok(15);
    return $self;
}


# ------------------------------------------------------------------------

package NginxGw::Redis::Server;

use strict;
use warnings;

use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

sub port     { $_[0]{port} }
sub pid      { $_[0]{pid} }
sub dir      { $_[0]{dir} }
sub password { $_[0]{password} }
sub addr     { "127.0.0.1:$_[0]{port}" }
sub tls      { $_[0]{tls} }
sub bus_port { $_[0]{bus_port} }

sub log_file {
    my ($self) = @_;
    return "$self->{dir}/"
           . ($self->{role} eq 'sentinel' ? 'sentinel.log' : 'redis.log');
}

sub log_text {
    my ($self, $tail) = @_;
    my $t = '';
    for my $f ($self->log_file, "$self->{dir}/stdout.log") {
        open my $fh, '<', $f or next;
        my @l = <$fh>;
        @l = @l[-$tail .. -1] if $tail && @l > $tail;
        $t .= join '', @l;
    }
    return $t;
}

sub _start {
    my ($self, $timeout) = @_;

    my @cmd = ($NginxGw::Redis::RedisServer, $self->{conf});
    push @cmd, '--sentinel' if $self->{role} eq 'sentinel';

    $self->{pid} = NginxGw::Util::spawn(\@cmd, "$self->{dir}/stdout.log");
    delete $self->{frozen};

    my $deadline = time + $timeout;
    while (1) {
        my $r = waitpid($self->{pid}, WNOHANG);
        if ($r == $self->{pid}) {
            delete $NginxGw::Util::Children{$self->{pid}};
            delete $self->{pid};
            die "redis-server in $self->{dir} exited at start:\n"
                . $self->log_text(20);
        }
        last if NginxGw::Util::port_listening($self->{port}, $self->{pid})
                && $self->ping;
        if (time > $deadline) {
            $self->kill;
            die "redis-server in $self->{dir} did not answer on port "
                . "$self->{port} within $timeout s:\n" . $self->log_text(20);
        }
        sleep 0.05;
    }
    return $self;
}

# cli([\%o,] @args): redis-cli against this server, 5 s at most (o:
# timeout, db, user, pass, raw, no_auth).  Scalar context: the output,
# chomped; list context: its lines.
sub cli {
    my ($self, @args) = @_;

    my $o = ref $args[0] eq 'HASH' ? shift @args : {};

    my @cmd = ($NginxGw::Redis::RedisCli, '-h', '127.0.0.1',
               '-p', $self->{port});
    if ($self->{tls}) {
        push @cmd, '--tls', '--cacert', $self->{tls}{ca};
    }
    if (!$o->{no_auth}) {
        my $pass = exists $o->{pass} ? $o->{pass} : $self->{password};
        push @cmd, '--user', $o->{user} if defined $o->{user};
        push @cmd, '--pass', $pass if defined $pass;
        push @cmd, '--no-auth-warning' if defined $pass;
    }
    push @cmd, '-n', $o->{db} if defined $o->{db};
    push @cmd, '--raw' if $o->{raw};

    my $out = NginxGw::Redis::_run($o->{timeout} || 5, @cmd, @args);
    $out =~ s/\n+\z//;
    return wantarray ? split(/\n/, $out) : $out;
}

sub ping {
    my ($self) = @_;
    return 0 if $self->{frozen} || !$self->{pid};
    return scalar($self->cli({ timeout => 2 }, 'PING')) eq 'PONG';
}

sub info {
    my ($self, $section) = @_;
    my %i;
    for ($self->cli('INFO', $section // 'default')) {
        s/\r$//;
        $i{$1} = $2 if /^([^#:][^:]*):(.*)$/;
    }
    return \%i;
}

sub keys {
    my ($self, $pattern, %o) = @_;
    my @k = $self->cli({ (defined $o{db} ? (db => $o{db}) : ()), raw => 1 },
                       '--scan', '--pattern', $pattern // '*');
    return sort grep { length } @k;
}

sub node_id {
    my ($self) = @_;
    return $self->{node_id} //= scalar $self->cli('CLUSTER', 'MYID');
}

sub freeze {
    my ($self) = @_;
    CORE::kill 'STOP', $self->{pid} if $self->{pid};
    $self->{frozen} = 1;
}

sub thaw {
    my ($self) = @_;
    CORE::kill 'CONT', $self->{pid} if $self->{pid};
    delete $self->{frozen};
}

sub _reap {
    my ($self, $timeout) = @_;
    my $pid = $self->{pid} or return 1;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid || $r == -1) {
            delete $NginxGw::Util::Children{$pid};
            delete $self->{pid};
            return 1;
        }
        sleep 0.02;
    }
    return 0;
}

sub kill {
    my ($self) = @_;
    my $pid = $self->{pid} or return;
    CORE::kill 'KILL', $pid;
    CORE::kill 'CONT', $pid;
    $self->_reap(5);
    delete $self->{frozen};
}

sub term {
    my ($self) = @_;
    my $pid = $self->{pid} or return;
    CORE::kill 'CONT', $pid if $self->{frozen};
    delete $self->{frozen};
    CORE::kill 'TERM', $pid;
    return if $self->_reap(5);
    $self->kill;
}

# start again on the same port and with the same configuration (the data
# is gone: nothing is persisted); a cluster node keeps its nodes.conf
sub restart {
    my ($self, $timeout) = @_;
    $self->term if $self->{pid};
    # the port was ours: reuse it (redis binds with SO_REUSEADDR)
    $self->_start($timeout || 10);
}

# sentinel: the master's "host:port" it reports now
sub master_addr {
    my ($self, $name) = @_;
    my @l = $self->cli({ timeout => 2 }, 'SENTINEL', 'get-master-addr-by-name',
                       $name // $self->{name});
    return undef unless @l == 2 && $l[1] =~ /^\d+$/;
    return "$l[0]:$l[1]";
}

# sentinel: the replicas it knows of that are up ("host:port" list)
sub replicas {
    my ($self, $name) = @_;
    my @l = $self->cli({ timeout => 2 }, 'SENTINEL', 'replicas',
                       $name // $self->{name});
    my (@r, %cur);
    for (my $i = 0; $i + 1 < @l; $i++) {
        if ($l[$i] eq 'name') {
            push @r, { %cur } if %cur;
            %cur = ();
        }
        $cur{ $l[$i] } = $l[$i + 1] if $l[$i] =~ /^(name|flags|ip|port)$/;
    }
    push @r, { %cur } if %cur;
    return map { "$_->{ip}:$_->{port}" }
           grep { ($_->{flags} // '') !~ /s_down|o_down|disconnected/ } @r;
}

# sentinel: wait until the master is no longer $old ("host:port" or a
# port); returns the new "host:port" or undef after $timeout seconds
sub wait_failover {
    my ($self, $old, $timeout) = @_;
    $old = "127.0.0.1:$old" if $old =~ /^\d+$/;
    my $deadline = time + ($timeout || 10);
    while (time < $deadline) {
        my $a = $self->master_addr;
        return $a if $a && $a ne $old;
        sleep 0.1;
    }
    return undef;
}

sub DESTROY { }


# ------------------------------------------------------------------------

package NginxGw::Redis::Cluster;

use strict;
use warnings;

use Time::HiRes qw(sleep time);

sub nodes { @{ $_[0]{nodes} } }
sub seed  { $_[0]{nodes}[0] }

# wait until every node reports cluster_state:ok and agrees on the slots
sub wait_ok {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout || 10);
    while (1) {
        my $ok = 1;
        for my $n ($self->nodes) {
            my $i = $n->cli({ timeout => 2 }, 'CLUSTER', 'INFO');
            $ok = 0 unless $i =~ /cluster_state:ok/
                           && $i =~ /cluster_slots_assigned:16384/
                           && $i =~ /cluster_known_nodes:(\d+)/
                           && $1 == @{ $self->{nodes} };
        }
        return 1 if $ok;
        die "cluster in $self->{dir}: not ok after $timeout s\n"
            . join('', map { $_->log_text(10) } $self->nodes)
            if time > $deadline;
        sleep 0.1;
    }
}

# the node that serves $slot now (asked of the seed)
sub node_for_slot {
    my ($self, $slot) = @_;
    my %by_port = map { $_->port => $_ } $self->nodes;
    for my $n ($self->nodes) {
        for my $line ($n->cli('CLUSTER', 'NODES')) {
            my @f = split ' ', $line;
            next unless $f[2] =~ /myself/;
            for my $range (@f[8 .. $#f]) {
                next if $range =~ /^\[/;        # migrating/importing
                my ($lo, $hi) = split /-/, $range;
                $hi //= $lo;
                return $n if $slot >= $lo && $slot <= $hi;
            }
        }
    }
    return undef;
}

sub node_for_key {
    my ($self, $key) = @_;
    return $self->node_for_slot(NginxGw::Redis::keyslot($key));
}

# all keys matching $pattern on every node: { "host:port" => [keys] }
sub keys_by_node {
    my ($self, $pattern) = @_;
    my %k;
    for my $n ($self->nodes) {
        my @k = $n->keys($pattern);
        $k{ $n->addr } = \@k if @k;
    }
    return \%k;
}

# Move $slot from node $from to node $to with its keys, as redis-cli
# --cluster reshard does: IMPORTING/MIGRATING, MIGRATE the keys, then
# SETSLOT NODE on every node.  With stop_half => 1 it stops after the
# IMPORTING/MIGRATING step (keys not yet moved): commands on keys that are
# not on $from get -ASK; finish_migration() completes it.
sub migrate_slot {
    my ($self, $slot, $from, $to, %o) = @_;

    my $r;
    $r = $to->cli('CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $from->node_id);
    die "SETSLOT IMPORTING: $r\n" unless $r eq 'OK';
    $r = $from->cli('CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $to->node_id);
    die "SETSLOT MIGRATING: $r\n" unless $r eq 'OK';
    $self->{migrating}{$slot} = [$from, $to];
    return 1 if $o{stop_half};
    return $self->finish_migration($slot);
}

sub finish_migration {
    my ($self, $slot) = @_;
    my ($from, $to) = @{ delete $self->{migrating}{$slot} };

    while (1) {
        my @keys = grep { length }
                   $from->cli({ raw => 1 }, 'CLUSTER', 'GETKEYSINSLOT', $slot,
                              100);
        last unless @keys;
        my @auth = defined $from->password
                   ? ('AUTH', $from->password) : ();
        my $r = $from->cli('MIGRATE', '127.0.0.1', $to->port, '', 0, 5000,
                           @auth, 'KEYS', @keys);
        die "MIGRATE: $r\n" unless $r eq 'OK';
    }
    for my $n ($to, $from, grep { $_ != $to && $_ != $from } $self->nodes) {
        my $r = $n->cli('CLUSTER', 'SETSLOT', $slot, 'NODE', $to->node_id);
        die "SETSLOT NODE on " . $n->addr . ": $r\n" unless $r eq 'OK';
    }
    # wait until every node agrees
    my $deadline = time + 10;
    while (time < $deadline) {
        my $owner = $self->node_for_slot($slot);
        last if $owner && $owner == $to;
        sleep 0.1;
    }
    return 1;
}


# ------------------------------------------------------------------------

package NginxGw::Redis;

# Stop every server: frozen ones are thawed first; SIGTERM (redis-server
# exits at once with "save ''"), then NginxGw::Util's own END kills what
# is left.  This END runs before NginxGw::Util's (loaded first).

END {
    local $?;
    for my $s (reverse @All) {
        next unless $s->{pid};
        kill 'CONT', $s->{pid};
        kill 'TERM', $s->{pid};
    }
    for my $s (reverse @All) {
        next unless $s->{pid};
        $s->_reap(3) or $s->kill;
    }
}

1;
