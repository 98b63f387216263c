# Signatures longer than any digest: refused before decoding, never written
# past the decoder's buffer.  Found by fuzz/sig (fuzz/regress/sig/): 87 or
# 88 base64 characters used to decode to 65 or 66 bytes into a 64-byte
# stack buffer.  A longer signature is not a match (401), and a valid one
# beside it still passes.  Without a sanitizer the 2-byte overflow did not
# show here: fuzz/regress/sig is the regression test that fails on it.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_base64);
use MIME::Base64 qw(encode_base64 decode_base64);

our $secret = 'whsec_' . encode_base64(join('', map { chr int rand 256 } 1 .. 32), '');
our $id     = 'msg_' . join '', map { ('a'..'z', 0..9)[rand 36] } 1 .. 24;
our $body   = '{"type":"long.signature","n":' . int(rand 1e6) . '}';
our $now    = time();

sub v1 {
    (my $key = $secret) =~ s/^whsec_//;
    my $s = hmac_sha256_base64("$id.$now.$body", decode_base64($key));
    $s .= '=' while length($s) % 4;
    return "v1,$s";
}

sub hdrs {
    return "webhook-id: $id\nwebhook-timestamp: $now\nwebhook-signature: "
           . join(' ', @_);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: 86, 87 and 88 base64 characters (with and without padding): 401, worker alive; a valid v1 after them passes
--- config eval
qq{
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body",
 "POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
[::hdrs('v1,' . 'A' x 86), ::hdrs('v1,' . 'A' x 87 . '='),
 ::hdrs('v1,' . 'A' x 88), ::hdrs('v1,' . 'B' x 88 . '=='),
 ::hdrs('v1,' . 'A' x 88, ::v1())]
--- error_code eval
[401, 401, 401, 401, 200]
--- response_body eval
[qr/401/, qr/401/, qr/401/, qr/401/, $::body]
--- response_headers eval
["X-Status: INVALID", "X-Status: INVALID", "X-Status: INVALID",
 "X-Status: INVALID", "X-Status: VERIFIED"]
--- no_error_log
[alert]
[emerg]
