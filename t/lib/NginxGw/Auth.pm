package NginxGw::Auth;

# Fixtures for the tests of ngx_http_gw_auth_module (t/1NN-auth-*.t): keys,
# JWK and JWKS documents, tokens signed with Crypt::JWT, tokens built by hand
# (for the malformed and hostile ones: exact header and payload texts,
# signatures made here), and API key files.
#
#   use Test::Nginx::Socket 'no_plan';
#   use NginxGw::Auth;
#
#   our $rsa   = rsa_key();                          # Crypt::PK::RSA, 2048
#   our $jwks  = jwks(jwk($rsa, kid => 'r1'));       # '{"keys":[...]}'
#   our $tok   = jwt('RS256', $rsa, { sub => 'alice' }, { kid => 'r1' });
#   our $bad   = jws('{"alg":"none"}', '{"sub":"x"}', '');
#
# Two block sections the block format has no words for, both run through
# Test::Nginx::Socket's add_response_body_check() hook after each response
# (so before the next request of the block is sent):
#
#   --- hits eval
#   { '"GET /_jwks ' => [1, 1, 2] }
#       how many lines of the access log hold the string after response 0,
#       1, 2: how often a backend, JWKS or IdP location was reached so far
#       (the access log is the whole block's; one count per response);
#
#   --- between eval
#   [ sub { html_write('jwks.json', $::jwks2); sleep 11 } ]
#       Perl run after the response of the same index (undef: nothing).
#
# And a block preprocessor that fails a block whose "--- xxx eval" section
# died (Test::Base would quietly use the error text as the value).
#
# Only what CryptX and Crypt::JWT (libcrypt-jwt-perl) and core Perl give.

use strict;
use warnings;

use Exporter 'import';
use Crypt::JWT qw(encode_jwt);
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;
use Crypt::PK::RSA;
use Crypt::PRNG qw(random_bytes);
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha384 hmac_sha512);
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);
use Time::HiRes qw(sleep);

require Test::Nginx::Socket;

our @EXPORT = qw(
    b64u rand_hex rsa_key ec_key ed_key jwk oct_jwk jwks jwt jws sign
    sign_input der_signature api_key_line write_file html_write
    access_log_lines json
);

my $JSON = JSON::PP->new->canonical;


# ------------------------------------------------------------------------
# Bytes and text.

sub b64u {
    my ($bytes) = @_;
    return encode_base64url($bytes);        # no padding, no newlines
}

sub rand_hex {
    my ($n) = @_;
    return unpack 'H*', random_bytes($n // 16);
}

sub json {
    return $JSON->encode($_[0]);
}

sub write_file {
    my ($path, $text) = @_;
    my $tmp = "$path.tmp";
    open my $fh, '>', $tmp or die "$tmp: $!\n";
    binmode $fh;
    print $fh $text;
    close $fh;
    rename $tmp, $path or die "rename $tmp: $!\n";
}

# A file of the html directory, rewritten while nginx runs (a JWKS the
# backend serves changes).
sub html_write {
    my ($name, $text) = @_;
    write_file(Test::Nginx::Socket::html_dir() . "/$name", $text);
}

# Lines of the block's access log that hold $str.
sub access_log_lines {
    my ($str) = @_;
    my $file = Test::Nginx::Socket::server_root() . '/logs/access.log';
    open my $fh, '<', $file or return 0;
    my $n = grep { index($_, $str) >= 0 } <$fh>;
    close $fh;
    return $n;
}


# ------------------------------------------------------------------------
# Keys.

sub rsa_key {
    my ($bits) = @_;
    my $pk = Crypt::PK::RSA->new;
    $pk->generate_key(($bits // 2048) / 8, 65537);
    return $pk;
}

# ec_key('P-256' | 'P-384' | 'P-521' | 'secp256k1')
sub ec_key {
    my ($crv) = @_;
    my %curve = ('P-256' => 'secp256r1', 'P-384' => 'secp384r1',
                 'P-521' => 'secp521r1');
    my $pk = Crypt::PK::ECC->new;
    $pk->generate_key($curve{$crv // 'P-256'} // $crv);
    return $pk;
}

sub ed_key {
    return Crypt::PK::Ed25519->new->generate_key;
}

# The public JWK of a key as JSON text, with extra members (kid, alg, use).
sub jwk {
    my ($pk, %extra) = @_;
    my $h = $pk->export_key_jwk('public', 1);
    $h->{$_} = $extra{$_} for keys %extra;
    return $JSON->encode($h);
}

sub oct_jwk {
    my ($secret, %extra) = @_;
    return $JSON->encode({ kty => 'oct', k => b64u($secret), %extra });
}

sub jwks {
    return '{"keys":[' . join(',', @_) . ']}';
}


# ------------------------------------------------------------------------
# Tokens.

# jwt($alg, $key, \%claims, \%header): Crypt::JWT's compact JWS; $key is the
# secret (HS*) or the private Crypt::PK::* object.
sub jwt {
    my ($alg, $key, $claims, $header) = @_;
    return encode_jwt(payload => $claims, alg => $alg, key => $key,
                      extra_headers => $header // {});
}

# What a signer signs: the base64url header and payload texts, as given.
sub sign_input {
    my ($header, $payload) = @_;
    return b64u($header) . '.' . b64u($payload);
}

# The JWS signature (raw bytes) of $input with $alg and $key.
sub sign {
    my ($alg, $key, $input) = @_;

    my ($fam, $bits) = $alg =~ /^(HS|RS|PS|ES)(\d+)$/;

    return $key->sign_message($input) if $alg eq 'EdDSA';
    die "sign: unknown alg $alg\n" unless $fam;

    my $hash = "SHA$bits";

    # Digest::SHA: an empty secret too (CryptX refuses one)
    if ($fam eq 'HS') {
        return $bits == 256 ? hmac_sha256($input, $key)
             : $bits == 384 ? hmac_sha384($input, $key)
             :                hmac_sha512($input, $key);
    }

    return $key->sign_message($input, $hash, 'v1.5') if $fam eq 'RS';
    return $key->sign_message($input, $hash, 'pss', $bits / 8)
        if $fam eq 'PS';
    return $key->sign_message_rfc7518($input, $hash);
}

# jws($header_text, $payload_text, $signature_bytes | [$alg, $key]):
# a compact JWS made of exactly these texts.
sub jws {
    my ($header, $payload, $sig) = @_;
    my $input = sign_input($header, $payload);
    $sig = sign(@$sig, $input) if ref $sig eq 'ARRAY';
    return "$input." . b64u($sig);
}

# An ES signature (raw R || S, $size bytes each) as the DER that X.509 and
# OpenSSL use, which JWS does not.
sub der_signature {
    my ($raw) = @_;
    my $n = length($raw) / 2;
    my $int = sub {
        my $v = shift;
        $v =~ s/^\x00+//;
        $v = "\x00$v" if $v eq '' || ord($v) & 0x80;
        return "\x02" . _der_len(length $v) . $v;
    };
    my $body = $int->(substr $raw, 0, $n) . $int->(substr $raw, $n);
    return "\x30" . _der_len(length $body) . $body;
}

sub _der_len {
    my ($n) = @_;
    return chr($n) if $n < 128;
    return "\x81" . chr($n);
}


# ------------------------------------------------------------------------
# API key files: "<sha256 hex of the key> <consumer> [role,role]".

sub api_key_line {
    my ($key, $consumer, $roles) = @_;
    return sha256_hex($key) . " $consumer" . (defined $roles ? " $roles" : '')
           . "\n";
}


# ------------------------------------------------------------------------
# A "--- xxx eval" section that dies does not stop Test::Base: the error
# text becomes the section's value (a request header saying "FATAL: ...").
# Say so, as a failed test of the block.

my $Died = qr/\ at\ (?:\(eval\ \d+\)|\S+)\ line\ \d+
              (?:,\ <\w+>\ (?:line|chunk)\ \d+)?\.\n?\z/x;

Test::Nginx::Socket::add_block_preprocessor(sub {
    my ($block) = @_;

    my @secs = qw(request more_headers user_files config http_config
                  main_config init error_code response_body
                  response_body_like response_headers error_log
                  no_error_log access_log no_access_log hits between);

    for my $sec (@secs) {
        my $v = $block->$sec;
        next unless defined $v;
        my @vals = ref $v eq 'ARRAY' ? map { ref $_ eq 'ARRAY' ? @$_ : $_ } @$v
                 : ref $v eq 'HASH'  ? values %$v
                 : ($v);
        for my $s (grep { defined && !ref } @vals) {
            if ($s =~ $Died) {
                Test::More::fail($block->name . " - --- $sec eval died: $s");
                last;
            }
        }
    }
});


# ------------------------------------------------------------------------
# --- hits and --- between, after each response.

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $idx, $rep) = @_;

    my $name = $block->name;

    if (defined(my $hits = $block->hits)) {
        die "--- hits must be a hashref (use eval)\n"
            unless ref $hits eq 'HASH';

        sleep 0.05;         # the log phase of the last request comes late

        for my $str (sort keys %$hits) {
            my $want = $hits->{$str};
            $want = $want->[$idx] if ref $want eq 'ARRAY';
            next unless defined $want;
            Test::More::is(access_log_lines($str), $want,
                           "$name - access.log lines with '$str' after "
                           . "response $idx");
        }
    }

    if (defined(my $between = $block->between)) {
        die "--- between must be an arrayref (use eval)\n"
            unless ref $between eq 'ARRAY';
        my $code = $between->[$idx];
        $code->($block, $idx) if $code;
    }
});


1;
