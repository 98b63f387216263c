package NginxGw::Valgrind;

# Running nginx under valgrind's memcheck, and reading its log.
#
# command(\@nginx_cmd, $log_file) returns the valgrind command line the test
# runner uses; errors($log_text) returns the memcheck error reports found in
# a log (empty list: clean).  t/000-runner.t unit-tests errors() on canned
# logs.
#
# Known noise from stock nginx and OpenSSL is suppressed by
# t/lib/valgrind.suppress; each entry there names the test that shows it.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;

our @EXPORT_OK = qw(command errors suppressions_file);

# Exit code valgrind uses when it found errors (nginx itself exits 0 or 1).
our $ErrorExitCode = 99;

sub suppressions_file {
    my $dir = File::Spec->rel2abs(dirname(__FILE__));
    return "$dir/../valgrind.suppress";
}

sub command {
    my ($cmd, $log_file) = @_;

    my @vg = (
        'valgrind', '--tool=memcheck',
        '--leak-check=full',
        '--show-leak-kinds=definite',           # reachable and possibly
        '--errors-for-leak-kinds=definite',     # lost: pools and caches
        "--error-exitcode=$ErrorExitCode",
        '--num-callers=50',
        '--gen-suppressions=all',               # ready to paste if noise
        "--log-file=$log_file",
    );

    # TEST_NGINX_VALGRIND_SUPPRESS names another suppressions file, or
    # none when empty (to see the noise the default file hides)
    my $supp = $ENV{TEST_NGINX_VALGRIND_SUPPRESS} // suppressions_file();
    push @vg, "--suppressions=$supp" if $supp ne '';

    return [@vg, @$cmd];
}

# Memcheck reports, by the first line of the report.  Anything valgrind
# counts in "ERROR SUMMARY" is an error too, even if its wording is not here.
my $ERROR_RE = qr/
      ^Invalid\ (?:read|write|free)
    | ^Mismatched\ free
    | ^Conditional\ jump\ or\ move\ depends\ on\ uninitialised
    | ^Use\ of\ uninitialised\ value
    | ^Syscall\ param\ .*\ (?:uninitialised|unaddressable)
    | ^Source\ and\ destination\ overlap
    | ^Argument\ .*\ of\ function\ .*\ has\ a\ fishy
    | ^Jump\ to\ the\ invalid\ address
    | ^Process\ terminating\ with\ default\ action
    | ^Stack\ overflow
    | ^Invalid\ alignment
    | \ are\ definitely\ lost\ in\ loss\ record
    | ^Warning:\ invalid\ file\ descriptor
/x;

# errors($text) -> list of reports (each the report's text, "==PID== "
# prefixes removed).  A log that says "ERROR SUMMARY: N errors" with N > 0
# but whose reports we did not recognise yields that summary line.

sub errors {
    my ($text) = @_;

    my (@reports, $cur, $summary_errors);

    for my $line (split /\n/, $text) {
        # only valgrind's own lines; suppression stanzas and program
        # output have no "==PID==" prefix
        next unless $line =~ /^==\d+==\s?(.*)$/;
        my $msg = $1;

        if ($msg =~ /^ERROR SUMMARY: (\d+) errors?/) {
            $summary_errors = $1;
            next;
        }

        if ($msg =~ /^\s*$/) {          # a blank line ends a report
            push @reports, $cur if defined $cur;
            undef $cur;
            next;
        }

        if (defined $cur) {
            $cur .= "$msg\n";

        } elsif ($msg =~ $ERROR_RE) {
            $cur = "$msg\n";
        }
    }

    push @reports, $cur if defined $cur;

    if (!@reports && $summary_errors) {
        push @reports, "ERROR SUMMARY: $summary_errors errors (see the log)\n";
    }

    return @reports;
}

1;
