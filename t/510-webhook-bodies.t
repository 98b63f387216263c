# The body is hashed as it is read, for every scheme: a body in memory (the
# other 50x files), a body larger than client_body_buffer_size, which nginx
# writes to a temporary file, and a chunked body; each must verify and reach
# the backend byte for byte (the backend echoes what it got, compared with
# what was sent).  client_max_body_size still answers 413.
#
# With gw_webhook_thread_pool, a body of 64 KiB or more (or chunked) is
# hashed in a thread of the pool once read, from memory or from its file:
# the same checks, and the debug log shows the thread ("run task ... in
# thread pool" is nginx's own line, "hashed in a thread" the module's).

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex hmac_sha512_hex);
use MIME::Base64 qw(encode_base64 decode_base64);

our $now = time();

our %secret = (
    github   => 'gh-' . join('', map { sprintf '%02x', int rand 256 } 1 .. 16),
    stripe   => 'whsec_' . join('', map { sprintf '%02x', int rand 256 } 1 .. 16),
    standard => 'whsec_' . encode_base64(join('', map { chr int rand 256 } 1 .. 32), ''),
    slack    => join('', map { sprintf '%02x', int rand 256 } 1 .. 16),
    shopify  => 'shpss_' . join('', map { sprintf '%02x', int rand 256 } 1 .. 16),
    hmac     => 'k-' . join('', map { sprintf '%02x', int rand 256 } 1 .. 16),
);

our $id = 'msg_' . join '', map { ('a'..'z', 0..9)[rand 36] } 1 .. 24;

# 1 MiB of random bytes, framed by non-blank bytes (a test request's body is
# trimmed of white space at both ends before it is sent)
our $big = '<' . pack('N*', map { int rand 2**32 } 1 .. 262144) . '>';

# a JSON body, sent in chunks of these sizes
our $small = '{"event":"chunked","n":' . int(rand 1e6) . ',"pad":"'
             . ('x' x 200) . '"}';

# The signature headers of each scheme for a body (fresh timestamps).
sub sig_headers {
    my ($scheme, $b) = @_;
    my $s = $secret{$scheme};

    if ($scheme eq 'github') {
        return "X-Hub-Signature-256: sha256=" . hmac_sha256_hex($b, $s);
    }
    if ($scheme eq 'stripe') {
        return "Stripe-Signature: t=$now,v1=" . hmac_sha256_hex("$now.$b", $s);
    }
    if ($scheme eq 'standard') {
        (my $key = $s) =~ s/^whsec_//;
        my $sig = encode_base64(hmac_sha256("$id.$now.$b", decode_base64($key)), '');
        return "webhook-id: $id\nwebhook-timestamp: $now\nwebhook-signature: v1,$sig";
    }
    if ($scheme eq 'slack') {
        return "X-Slack-Request-Timestamp: $now\nX-Slack-Signature: v0="
               . hmac_sha256_hex("v0:$now:$b", $s);
    }
    if ($scheme eq 'shopify') {
        return "X-Shopify-Hmac-Sha256: " . encode_base64(hmac_sha256($b, $s), '');
    }
    return "X-Signature: " . hmac_sha512_hex($b, $s);      # hmac, sha512
}

# The gateway location /hook for a scheme, with extra directives, and the
# backend /backend: it echoes the body it got (it holds up to 2 MiB in memory,
# so only the gateway writes temporary files).  Its requests are logged in the
# access log as "POST /backend HTTP/1.0" (the proxy's protocol version).
sub gateway {
    my ($scheme, $extra) = @_;
    my $conf = "gw_webhook $scheme;\n        gw_webhook_secret \"$secret{$scheme}\";";
    $conf .= "\n        gw_webhook_header X-Signature;\n        gw_webhook_digest sha512;"
        if $scheme eq 'hmac';

    return qq{
    location = /hook {
        $conf
        $extra
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        client_body_buffer_size 2m;
        echo_read_request_body;
        echo_request_body;
    }
};
}

# A raw HTTP/1.1 request with a chunked body cut at the given sizes (the last
# chunk takes the rest); headers as in "--- more_headers".
sub chunked {
    my ($b, $headers, @sizes) = @_;
    my $req = "POST /hook HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
              . "Transfer-Encoding: chunked\r\n";
    $req .= "$_\r\n" for split /\n/, $headers;
    $req .= "\r\n";

    my $pos = 0;
    for my $n (@sizes, length($b)) {
        $n = length($b) - $pos if $pos + $n > length($b);
        next if $n == 0;
        $req .= sprintf("%x\r\n", $n) . substr($b, $pos, $n) . "\r\n";
        $pos += $n;
    }

    return $req . "0\r\n\r\n";
}

# sizes that cut a body into 4000-byte chunks
sub cut4000 { (4000) x int(length($_[0]) / 4000) }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: github: 1 MiB spooled to a temporary file verifies and reaches the backend byte for byte
--- config eval
::gateway('github', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('github', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 2: stripe: 1 MiB spooled to a temporary file verifies and reaches the backend byte for byte
--- config eval
::gateway('stripe', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('stripe', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 3: standard: 1 MiB spooled to a temporary file verifies and reaches the backend byte for byte
--- config eval
::gateway('standard', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('standard', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 4: slack: 1 MiB spooled to a temporary file verifies and reaches the backend byte for byte
--- config eval
::gateway('slack', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('slack', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 5: shopify: 1 MiB spooled to a temporary file verifies and reaches the backend byte for byte
--- config eval
::gateway('shopify', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('shopify', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 6: hmac (sha512): 1 MiB spooled to a temporary file verifies and reaches the backend byte for byte
--- config eval
::gateway('hmac', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('hmac', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 7: a spooled body one byte different from the signed one: 401, backend not reached
--- config eval
::gateway('github', 'client_body_buffer_size 8k;')
--- request eval
my $b = $::big;
substr($b, 700000, 1) = chr(ord(substr($b, 700000, 1)) ^ 1);
"POST /hook\n$b"
--- more_headers eval
::sig_headers('github', $::big)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 8: no signature header: refused before the body is read (nothing is written to a temporary file), backend not reached
--- config eval
::gateway('github', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers
X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958
--- error_code: 401
--- response_headers
X-Status: MISSING
--- error_log
gw_webhook: no "X-Hub-Signature-256" header
--- no_error_log
a client request body is buffered to a temporary file
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 9: an expired timestamp: refused before the body is read (nothing is written to a temporary file)
--- config eval
::gateway('stripe', 'client_body_buffer_size 8k;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
my $t = $::now - 3600;
"Stripe-Signature: t=$t,v1=" . ::hmac_sha256_hex("$t.$::big", $::secret{stripe})
--- error_code: 401
--- response_headers
X-Status: EXPIRED
--- error_log eval
qr/gw_webhook: timestamp \d+ is -\d+ s away from now/
--- no_error_log
a client request body is buffered to a temporary file
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 10: github: a chunked body in uneven chunks, one with an extension, verifies and arrives whole
--- config eval
::gateway('github', '')
--- raw_request eval
my $r = ::chunked($::small, ::sig_headers('github', $::small), 1, 7, 100);
$r =~ s/\r\n7\r\n/\r\n7;name=value\r\n/;
$r
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 11: stripe: a chunked body verifies and arrives whole
--- config eval
::gateway('stripe', '')
--- raw_request eval
::chunked($::small, ::sig_headers('stripe', $::small), 10, 20, 30)
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 12: standard: a chunked body verifies and arrives whole
--- config eval
::gateway('standard', '')
--- raw_request eval
::chunked($::small, ::sig_headers('standard', $::small), 64, 1, 64)
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 13: slack: a chunked body verifies and arrives whole
--- config eval
::gateway('slack', '')
--- raw_request eval
::chunked($::small, ::sig_headers('slack', $::small), 3, 3, 3, 3)
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 14: shopify: a chunked body verifies and arrives whole
--- config eval
::gateway('shopify', '')
--- raw_request eval
::chunked($::small, ::sig_headers('shopify', $::small), 128)
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 15: hmac (sha512): a chunked body verifies and arrives whole
--- config eval
::gateway('hmac', '')
--- raw_request eval
::chunked($::small, ::sig_headers('hmac', $::small), 50, 50)
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 16: chunked data one byte different from the signed body: 401, backend not reached
--- config eval
::gateway('github', '')
--- raw_request eval
(my $b = $::small) =~ s/chunked/chunkee/;
::chunked($b, ::sig_headers('github', $::small), 10, 10)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 17: github: 1 MiB in 4000-byte chunks, spooled to a temporary file, verifies and arrives byte for byte
--- config eval
::gateway('github', 'client_body_buffer_size 8k;')
--- raw_request eval
::chunked($::big, ::sig_headers('github', $::big), ::cut4000($::big))
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 18: standard: 1 MiB in 4000-byte chunks, spooled to a temporary file, verifies and arrives byte for byte
--- config eval
::gateway('standard', 'client_body_buffer_size 8k;')
--- raw_request eval
::chunked($::big, ::sig_headers('standard', $::big), ::cut4000($::big))
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 19: the body sent in several packets (it is read in several passes) verifies and arrives whole
--- config eval
::gateway('stripe', 'client_body_buffer_size 8k;')
--- raw_request eval
my $r = ::chunked($::small, ::sig_headers('stripe', $::small), 20, 20, 20);
my $i = index($r, "\r\n\r\n") + 4;
[substr($r, 0, $i), substr($r, $i, 30), substr($r, $i + 30, 40), substr($r, $i + 70)]
--- raw_request_middle_delay: 0.05
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 20: with proxy_request_buffering off the verified body still reaches the backend byte for byte
--- config eval
::gateway('shopify', "client_body_buffer_size 8k;\n        proxy_request_buffering off;")
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('shopify', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 21: with client_body_in_file_only the body written to its file verifies and reaches the backend byte for byte
--- config eval
::gateway('slack', 'client_body_in_file_only clean;')
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('slack', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- no_error_log
gw_webhook:



=== TEST 22: a Content-Length above client_max_body_size: 413, backend not reached
--- config eval
::gateway('github', 'client_max_body_size 1k;')
--- request eval
my $b = 'x' x 2000;
"POST /hook\n$b"
--- more_headers eval
::sig_headers('github', 'x' x 2000)
--- error_code: 413
--- error_log
client intended to send too large body
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 23: a chunked body above client_max_body_size: 413, backend not reached
--- config eval
::gateway('github', 'client_max_body_size 1k;')
--- raw_request eval
my $b = 'y' x 2000;
::chunked($b, ::sig_headers('github', $b), 500, 500, 500)
--- error_code: 413
--- error_log
client intended to send too large chunked body
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 24: thread pool: github, 1 MiB in a temporary file, hashed in a thread, verifies and arrives byte for byte
--- config eval
::gateway('github', "client_body_buffer_size 8k;\n        gw_webhook_thread_pool default;")
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('github', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log eval
[qr/run task #\d+ in thread pool "default"/, "gw_webhook: 1048578 bytes hashed in a thread"]
--- no_error_log
[error]



=== TEST 25: thread pool: standard, 1 MiB held in memory, hashed in a thread of a pool of its own
--- main_config
    thread_pool hashing threads=2;
--- config eval
::gateway('standard', "client_body_buffer_size 2m;\n        gw_webhook_thread_pool hashing;")
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('standard', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log eval
[qr/run task #\d+ in thread pool "hashing"/, "gw_webhook: 1048578 bytes hashed in a thread"]
--- no_error_log
a client request body is buffered to a temporary file



=== TEST 26: thread pool: stripe, a chunked body in 4000-byte chunks, spooled, hashed in a thread
--- config eval
::gateway('stripe', "client_body_buffer_size 8k;\n        gw_webhook_thread_pool default;")
--- raw_request eval
::chunked($::big, ::sig_headers('stripe', $::big), ::cut4000($::big))
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- error_log
gw_webhook: 1048578 bytes hashed in a thread
--- no_error_log
[error]



=== TEST 27: thread pool: a spooled body one byte different from the signed one: 401 after the thread, backend not reached
--- config eval
::gateway('github', "client_body_buffer_size 8k;\n        gw_webhook_thread_pool default;")
--- request eval
my $b = $::big;
substr($b, 500000, 1) = substr($b, 500000, 1) eq 'a' ? 'b' : 'a';
"POST /hook\n$b"
--- more_headers eval
::sig_headers('github', $::big)
--- error_code: 401
--- response_headers
X-Status: INVALID
--- error_log
gw_webhook: 1048578 bytes hashed in a thread
gw_webhook: signature mismatch
--- no_access_log
"POST /backend HTTP/1.0"



=== TEST 28: thread pool: a body under 64 KiB is hashed as it is read, not in a thread
--- config eval
::gateway('shopify', "gw_webhook_thread_pool default;")
--- request eval
"POST /hook\n$::small"
--- more_headers eval
::sig_headers('shopify', $::small)
--- response_body eval
$::small
--- response_headers
X-Status: VERIFIED
--- no_error_log
hashed in a thread
[error]



=== TEST 29: thread pool off in a location inherits nothing: 1 MiB is hashed as it is read
--- http_config
    gw_webhook_thread_pool default;
--- config eval
::gateway('slack', "client_body_buffer_size 8k;\n        gw_webhook_thread_pool off;")
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig_headers('slack', $::big)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
--- no_error_log
hashed in a thread
[error]
