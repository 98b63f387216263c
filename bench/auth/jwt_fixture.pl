#!/usr/bin/perl
#
# bench/auth/jwt_fixture.pl ALG DIR: a key and one valid JWT for the auth
# benchmarks (bench/scenarios/auth_*.scenario), made in a scenario's setup
# step:
#
#     perl "$BENCH_DIR/auth/jwt_fixture.pl" RS256 "$WORK"
#
# ALG is HS256, RS256 or ES256.  Writes DIR/jwks.json, the verification key
# as a JWKS (an "oct" secret of 32 bytes for HS256, an RSA 2048 or P-256
# public key otherwise) for gw_auth_jwt_key_file, keeps the private key in
# DIR/private.* (never read by nginx) and prints the request header
# "Authorization: Bearer <token>".  The token carries the claims of a
# typical access token, "exp" in 2100; its signing input is about 220 bytes.
# Fresh keys every run: nothing secret is kept in the repository.

use strict;
use warnings;

use Crypt::JWT qw(encode_jwt);
use Crypt::PRNG qw(random_bytes);
use Crypt::PK::ECC;
use Crypt::PK::RSA;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);

@ARGV == 2 or die "usage: $0 HS256|RS256|ES256 DIR\n";
my ($alg, $dir) = @ARGV;
my $kid = 'bench-' . lc $alg;

my ($sign_key, $jwk);

if ($alg eq 'HS256') {
    $sign_key = random_bytes(32);
    $jwk = { kty => 'oct', k => encode_base64url($sign_key) };
    write_file("$dir/private.hs256", $sign_key);

} elsif ($alg eq 'RS256') {
    my $pk = Crypt::PK::RSA->new;
    $pk->generate_key(256, 65537);          # 256 bytes: 2048 bits
    $sign_key = \ $pk->export_key_pem('private');
    $jwk = $pk->export_key_jwk('public', 1);
    write_file("$dir/private.pem", $$sign_key);

} elsif ($alg eq 'ES256') {
    my $pk = Crypt::PK::ECC->new;
    $pk->generate_key('secp256r1');
    $sign_key = \ $pk->export_key_pem('private');
    $jwk = $pk->export_key_jwk('public', 1);
    write_file("$dir/private.pem", $$sign_key);

} else {
    die "$0: unknown algorithm $alg (HS256, RS256, ES256)\n";
}

$jwk->{kid} = $kid;
$jwk->{alg} = $alg;
$jwk->{use} = 'sig';
write_file("$dir/jwks.json",
    JSON::PP->new->canonical->encode({ keys => [ $jwk ] }) . "\n");

my $token = encode_jwt(
    alg => $alg,
    key => $sign_key,
    extra_headers => { kid => $kid, typ => 'JWT' },
    payload => {
        iss   => 'https://idp.bench.example/',
        sub   => 'bench-user-0001',
        aud   => 'bench-api',
        iat   => time,
        exp   => 4102444800,                # 2100-01-01
        scope => 'orders:read orders:write',
        jti   => unpack('H*', random_bytes(8)),
    },
);

print "Authorization: Bearer $token\n";

sub write_file {
    my ($path, $data) = @_;
    open my $fh, '>', $path or die "$path: $!\n";
    binmode $fh;
    print $fh $data or die "$path: $!\n";
    close $fh or die "$path: $!\n";
}
