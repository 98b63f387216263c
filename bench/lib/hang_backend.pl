#!/usr/bin/perl
#
# bench/lib/hang_backend.pl DIR: the "hang" backend of bench/run, an
# application that accepts connections and reads requests but never
# answers them (a deadlocked or overloaded app whose listen socket is still
# open).  The gateway's connect succeeds and only proxy_read_timeout ends
# the wait.  A connection stays open until the gateway closes it.
#
# The one exception is "GET /_bench_status", answered (and the connection
# closed) in the format of nginx's stub_status, so that bench/run counts the
# connections and requests this backend received the way it does for the
# nginx backends.  Status requests count too, as they do in nginx.
#
# Binds a free loopback port, writes it to DIR/port, then its pid to
# DIR/pid (bench/run waits for that file); runs until killed.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);

my $dir = shift or die "usage: hang_backend.pl DIR\n";

my $listen = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => 0,
    Listen    => 1024,
    ReuseAddr => 1,
) or die "hang_backend: listen: $!\n";
$listen->blocking(0);

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name.tmp" or die "$dir/$name.tmp: $!\n";
    print $fh "$text\n";
    close $fh or die "$dir/$name.tmp: $!\n";
    rename "$dir/$name.tmp", "$dir/$name" or die "$dir/$name: $!\n";
}

write_file('port', $listen->sockport);
write_file('pid', $$);

$SIG{PIPE} = 'IGNORE';

my $sel = IO::Select->new($listen);
my (%buf, %counted);
my ($accepts, $requests) = (0, 0);

sub drop {
    my ($c) = @_;
    $sel->remove($c);
    delete $buf{$c};
    delete $counted{$c};
    close $c;
}

while (1) {
    my @ready = $sel->can_read;

    for my $s (@ready) {

        if ($s == $listen) {
            while (my $c = $listen->accept) {
                $c->blocking(0);
                $sel->add($c);
                $buf{$c} = '';
                $accepts++;
            }
            next;
        }

        my $n = sysread($s, my $data, 65536);

        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            drop($s);
            next;
        }

        if ($n == 0) {
            drop($s);
            next;
        }

        # once a request head is complete the rest (a body, more
        # requests) is read and dropped, never answered
        next if $counted{$s};

        $buf{$s} .= $data;
        next unless $buf{$s} =~ /\r?\n\r?\n/;

        $requests++;
        $counted{$s} = 1;

        if ($buf{$s} =~ m{^GET /_bench_status[ ?]}) {
            my $body = sprintf "Active connections: %d \n"
                . "server accepts handled requests\n"
                . " %d %d %d \n"
                . "Reading: 0 Writing: 1 Waiting: %d \n",
                $sel->count - 1, $accepts, $accepts, $requests,
                $sel->count - 2;
            $s->blocking(1);
            syswrite $s, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                . 'Content-Length: ' . length($body)
                . "\r\nConnection: close\r\n\r\n$body";
            drop($s);
            next;
        }

        $buf{$s} = '';
    }
}
