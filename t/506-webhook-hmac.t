# gw_webhook hmac: the generic scheme, an HMAC of the body in the header
# named by gw_webhook_header, with gw_webhook_digest (sha1, sha256 default,
# sha512), gw_webhook_encoding (hex default, base64) and an optional
# gw_webhook_prefix before the signature.  Fixtures are computed here with
# Digest::SHA.
#
# The backend, location /backend, echoes the body it got; its requests show in
# the access log as "POST /backend HTTP/1.0" (the proxy's protocol version),
# so "--- no_access_log" with that line shows a refused delivery never got
# there.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha1 hmac_sha256 hmac_sha512
                   hmac_sha1_hex hmac_sha256_hex hmac_sha512_hex);
use MIME::Base64 qw(encode_base64);

our $secret  = 'k-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 20;
our $secret2 = 'k2-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 20;
our $other   = 'not-the-key';
our $body    = '{"event":"build.finished","build":' . int(rand 1e6) . '}';
our $body2   = 'event=ping&n=' . int(rand 1e6);

sub b64 { encode_base64($_[0], '') }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: defaults: HMAC-SHA256 in hex, no prefix, no timestamp; the body arrives unchanged
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Signature;
        add_header X-Status \$gw_webhook_status always;
        add_header X-Id "[\$gw_webhook_id]" always;
        add_header X-Ts "[\$gw_webhook_timestamp]" always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Signature: " . ::hmac_sha256_hex($::body, $::secret)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
X-Id: []
X-Ts: []
--- no_error_log
gw_webhook:
[error]



=== TEST 2: every digest and encoding: sha1, sha256 and sha512, in hex and base64
--- config eval
my $conf = '';
for my $d (qw(sha1 sha256 sha512)) {
    for my $e (qw(hex base64)) {
        $conf .= qq{
    location = /$d-$e {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Signature;
        gw_webhook_digest $d;
        gw_webhook_encoding $e;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }};
    }
}
$conf . q{
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /sha1-hex\n$::body", "POST /sha1-base64\n$::body",
 "POST /sha256-hex\n$::body", "POST /sha256-base64\n$::body",
 "POST /sha512-hex\n$::body", "POST /sha512-base64\n$::body"]
--- more_headers eval
["X-Signature: " . ::hmac_sha1_hex($::body, $::secret),
 "X-Signature: " . ::b64(::hmac_sha1($::body, $::secret)),
 "X-Signature: " . ::hmac_sha256_hex($::body, $::secret),
 "X-Signature: " . ::b64(::hmac_sha256($::body, $::secret)),
 "X-Signature: " . ::hmac_sha512_hex($::body, $::secret),
 "X-Signature: " . ::b64(::hmac_sha512($::body, $::secret))]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body eval
[($::body) x 6]
--- response_headers eval
[("X-Status: VERIFIED") x 6]
--- no_error_log
gw_webhook:



=== TEST 3: a digest or encoding other than the configured one: malformed signature
--- config eval
my $conf = '';
for my $d (qw(sha1 sha256 sha512)) {
    for my $e (qw(hex base64)) {
        $conf .= qq{
    location = /$d-$e {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Signature;
        gw_webhook_digest $d;
        gw_webhook_encoding $e;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }};
    }
}
$conf . q{
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /sha1-hex\n$::body", "POST /sha256-hex\n$::body",
 "POST /sha512-hex\n$::body", "POST /sha256-base64\n$::body",
 "POST /sha512-base64\n$::body"]
--- more_headers eval
["X-Signature: " . ::hmac_sha256_hex($::body, $::secret),
 "X-Signature: " . ::hmac_sha512_hex($::body, $::secret),
 "X-Signature: " . ::hmac_sha1_hex($::body, $::secret),
 "X-Signature: " . ::hmac_sha256_hex($::body, $::secret),
 "X-Signature: " . ::b64(::hmac_sha256($::body, $::secret))]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_headers eval
[("X-Status: INVALID") x 5]
--- no_error_log
signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 4: the log names the configured header when the signature is malformed
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Custom-Sig;
        gw_webhook_digest sha512;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Custom-Sig: " . ::hmac_sha256_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed signature in "X-Custom-Sig" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 5: a prefix, as in the legacy GitHub "X-Hub-Signature: sha1=<hex>"
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Hub-Signature;
        gw_webhook_digest sha1;
        gw_webhook_prefix "sha1=";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature: sha1=" . ::hmac_sha1_hex($::body, $::secret)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED



=== TEST 6: the README's example: sha512, base64, prefix "sha512="
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Signature;
        gw_webhook_digest sha512;
        gw_webhook_encoding base64;
        gw_webhook_prefix "sha512=";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Signature: sha512=" . ::b64(::hmac_sha512($::body, $::secret))
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED



=== TEST 7: the right signature without the configured prefix: malformed header
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Hub-Signature;
        gw_webhook_digest sha1;
        gw_webhook_prefix "sha1=";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Hub-Signature: " . ::hmac_sha1_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: malformed "X-Hub-Signature" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 8: the prefix must be exact: another case, another prefix, the prefix alone
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Hub-Signature;
        gw_webhook_digest sha1;
        gw_webhook_prefix "sha1=";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
["X-Hub-Signature: SHA1=" . ::hmac_sha1_hex($::body, $::secret),
 "X-Hub-Signature: sha256=" . ::hmac_sha1_hex($::body, $::secret),
 "X-Hub-Signature: sha1="]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[("X-Status: INVALID") x 3]
--- no_error_log
signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 9: one hex digit changed: 401, signature mismatch, backend not reached
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Signature;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
my $s = ::hmac_sha256_hex($::body, $::secret);
substr($s, 0, 1) = substr($s, 0, 1) eq 'a' ? 'b' : 'a';
"X-Signature: $s"
--- error_code: 401
--- response_body_like: 401 Authorization Required
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: signature mismatch
--- no_error_log
[error]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 10: a changed body, or a signature made with another secret: 401
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Signature;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body2", "POST /hook\n$::body"]
--- more_headers eval
["X-Signature: " . ::hmac_sha256_hex($::body, $::secret),
 "X-Signature: " . ::hmac_sha256_hex($::body, $::other)]
--- error_code eval
[401, 401]
--- response_headers eval
[("X-Status: INVALID") x 2]
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 11: rotation: with two secrets, a delivery signed with the second one passes
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_secret "$::secret2";
        gw_webhook_header X-Signature;
        gw_webhook_digest sha512;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Signature: " . ::hmac_sha512_hex($::body, $::secret2)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 12: rotation: either secret passes, a third one does not
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_secret "$::secret2";
        gw_webhook_header X-Signature;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body2", "POST /hook\n$::body"]
--- more_headers eval
["X-Signature: " . ::hmac_sha256_hex($::body, $::secret),
 "X-Signature: " . ::hmac_sha256_hex($::body2, $::secret2),
 "X-Signature: " . ::hmac_sha256_hex($::body, $::other)]
--- error_code eval
[200, 200, 401]
--- response_body eval
[$::body, $::body2, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 13: no signature header: 401 MISSING, the configured header named in the log
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Custom-Sig;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Signature: " . ::hmac_sha256_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Custom-Sig" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 14: the signature header twice: refused as duplicate
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_header X-Custom-Sig;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
"X-Custom-Sig: " . ::hmac_sha256_hex($::body, $::secret) . "\n"
. "x-custom-sig: " . ::hmac_sha256_hex($::body, $::secret)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: duplicate "X-Custom-Sig" header
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 15: header, digest, encoding and prefix set on the server level are inherited; a location may change one
--- config eval
qq{
    gw_webhook_secret "$::secret";
    gw_webhook_header X-Sig;
    gw_webhook_digest sha512;
    gw_webhook_encoding base64;
    gw_webhook_prefix "v=";

    location = /inherit {
        gw_webhook hmac;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /sha1 {
        gw_webhook hmac;
        gw_webhook_digest sha1;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /inherit\n$::body", "POST /sha1\n$::body", "POST /sha1\n$::body"]
--- more_headers eval
["X-Sig: v=" . ::b64(::hmac_sha512($::body, $::secret)),
 "X-Sig: v=" . ::b64(::hmac_sha1($::body, $::secret)),
 "X-Sig: v=" . ::b64(::hmac_sha512($::body, $::secret))]
--- error_code eval
[200, 200, 401]
--- response_body eval
[$::body, $::body, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 16: secrets never appear in the error log, even at debug level
--- config eval
qq{
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret "$::secret";
        gw_webhook_secret "$::secret2";
        gw_webhook_header X-Signature;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
["X-Signature: " . ::hmac_sha256_hex($::body, $::secret2),
 "X-Signature: " . ::hmac_sha256_hex($::body, $::other)]
--- error_code eval
[200, 401]
--- no_error_log eval
[$::secret, $::secret2]
