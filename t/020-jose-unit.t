# C unit test of common/ngx_http_gw_jose.c (t/unit/jose_test.c): builds it
# with t/unit/Makefile against the configured nginx tree in build/nginx and
# passes its TAP on to prove.  Skipped, saying why, when that tree is not
# there yet ("make modules" creates it).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $Top  = abs_path(dirname(abs_path(__FILE__)) . '/..');
my $Tree = "$Top/build/nginx/objs/ngx_auto_config.h";
my $Test = "$Top/build/t/unit/jose_test";

if (!-f $Tree) {
    print "1..0 # SKIP no configured nginx tree (build/nginx): "
          . "run \"make -C $Top modules\" first\n";
    exit 0;
}

my $out = `make -s -C $Top/t/unit build 2>&1`;

if ($? != 0) {
    print "1..1\nnot ok 1 - t/unit/jose_test.c builds\n";
    print map { "# $_\n" } split /\n/, $out;
    exit 1;
}

exec $Test or die "exec $Test: $!\n";
