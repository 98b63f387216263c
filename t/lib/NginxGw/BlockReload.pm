package NginxGw::BlockReload;

# A reload in the middle of a Test::Nginx::Socket block (the runner has no
# use_hup mode): the block's nginx.conf is written again with "gen-1"
# replaced by "gen-2", the master gets SIGHUP, and the call waits until
# "GET /gen" on the test server answers "gen-2" ten times in a row (a
# location the block defines, returning "gen-1\n" or "gen-2\n"), then until
# the old workers are gone, so that what follows talks to the new
# configuration only.  One test: "<name> - reloaded".
#
#   use NginxGw::BlockReload qw(reload_block server_get);
#   add_response_body_check(sub {
#       my ($block, $body, $idx, $rep, $dry_run) = @_;
#       reload_block($block->name) if !$dry_run && ...;
#   });

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use Test::More ();
use Time::HiRes qw(sleep time);

use NginxGw::Util qw(workers_of wait_old_workers);
use Test::Nginx::Socket ();

our @EXPORT_OK = qw(reload_block server_get);


# GET a path of the test server on a connection of its own; the body, or
# '' on failure
sub server_get {
    my ($path) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => Test::Nginx::Socket::server_port(),
                                  Timeout => 2)
        or return '';
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    return $r =~ /\r\n\r\n(.*)/s ? $1 : '';
}


sub reload_block {
    my ($name) = @_;

    my $root = Test::Nginx::Socket::server_root();
    my $conf = "$root/conf/nginx.conf";

    open my $in, '<', $conf or die "$conf: $!\n";
    my $text = do { local $/; <$in> };
    close $in;

    $text =~ s/gen-1/gen-2/g;

    open my $out, '>', $conf or die "$conf: $!\n";
    print $out $text;
    close $out;

    open my $p, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!\n";
    chomp(my $pid = <$p>);
    close $p;

    my $n = workers_of($pid);
    kill 'HUP', $pid or die "kill HUP $pid: $!\n";

    my ($row, $until) = (0, time + 10);

    while ($row < 10 && time < $until) {
        $row = server_get('/gen') eq "gen-2\n" ? $row + 1 : 0;
        sleep 0.05 if $row == 0;
    }

    Test::More::ok($row >= 10, "$name - reloaded: gen-2 answers");

    wait_old_workers($pid, $n);
}


1;
