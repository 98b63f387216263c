# Internal redirects (error_page, named locations) erase module contexts: a
# delivery verified once must not be verified again nor lose its body, a
# refused one must stay refused, and a body read before the access phase (by
# an earlier location) is verified from nginx's saved buffers.
#
# The backend is a server of its own (named locations proxy without a URI);
# it writes "backend hit: <request line>" to the test's access log.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_hex);

our $secret = 'gh-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $other  = 'not-the-secret';
our $body   = '{"action":"completed","check_run":{"id":' . int(rand 1e9) . '}}';

# 200 KiB of random bytes framed by non-blank bytes (request bodies are
# trimmed of white space before they are sent)
our $big = '<' . pack('N*', map { int rand 2**32 } 1 .. 51200) . '>';

sub sig { 'X-Hub-Signature-256: sha256=' . hmac_sha256_hex($_[0], $_[1]) }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: verified, then error_page to a named location that inherits gw_webhook: not verified again, the body reaches the fallback
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";

    location = /hook {
        add_header X-Status \$gw_webhook_status always;
        error_page 502 = \@fallback;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/down;
    }
    location \@fallback {
        add_header X-Status \$gw_webhook_status always;
        add_header X-Where fallback always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
::sig($::body, $::secret)
--- response_body eval
$::body
--- response_headers
X-Status: VERIFIED
X-Where: fallback
--- no_error_log
gw_webhook:
[alert]



=== TEST 2: the same with a body spooled to a temporary file
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    client_body_buffer_size 8k;

    location = /hook {
        add_header X-Status \$gw_webhook_status always;
        error_page 502 = \@fallback;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/down;
    }
    location \@fallback {
        add_header X-Status \$gw_webhook_status always;
        add_header X-Where fallback always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
}
--- request eval
"POST /hook\n$::big"
--- more_headers eval
::sig($::big, $::secret)
--- response_body eval
$::big
--- response_headers
X-Status: VERIFIED
X-Where: fallback
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
gw_webhook:



=== TEST 3: a verified delivery answered through a named location is remembered once by the replay zone
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    gw_webhook_replay zone=hooks:1m;

    location = /hook {
        add_header X-Status \$gw_webhook_status always;
        error_page 502 = \@fallback;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/down;
    }
    location \@fallback {
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
[::sig($::body, $::secret), ::sig($::body, $::secret)]
--- error_code eval
[200, 200]
--- response_body eval
[$::body, ""]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: REPLAYED"]



=== TEST 4: refused, then error_page 401 to a named location that inherits gw_webhook: still 401, backend not reached
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";

    location = /hook {
        error_page 401 = \@open;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
    location \@open {
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
}
--- request eval
"POST /hook\n$::body"
--- more_headers eval
::sig($::body, $::other)
--- error_code: 401
--- response_body_like: 401 Authorization Required
--- error_log
gw_webhook: signature mismatch
--- no_access_log
backend hit:



=== TEST 5: refused, then error_page 401 to a page without gw_webhook: the page is served, with the status variable of the refusal
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";

    location = /hook {
        error_page 401 \@denied;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
    location \@denied {
        gw_webhook off;
        echo "denied: \$gw_webhook_status";
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
[::sig($::body, $::other), "X-Nothing: here"]
--- error_code eval
[401, 401]
--- response_body eval
["denied: INVALID\n", "denied: MISSING\n"]
--- no_access_log
backend hit:



=== TEST 6: a body already read by an earlier location (proxied, then error_page): verified from the saved buffers
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    location = /first {
        proxy_intercept_errors on;
        error_page 503 = \@hook;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/unavailable;
    }
    location = /unavailable {
        echo_read_request_body;
        echo_status 503;
        echo "busy";
    }
    location \@hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
}
--- request eval
["POST /first\n$::body", "POST /first\n$::body"]
--- more_headers eval
[::sig($::body, $::secret), ::sig($::body, $::other)]
--- error_code eval
[200, 401]
--- response_body eval
[$::body, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 7: a body already read and spooled to a temporary file by an earlier location: verified from the file
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    client_body_buffer_size 8k;

    location = /first {
        proxy_intercept_errors on;
        error_page 503 = \@hook;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/unavailable;
    }
    location = /unavailable {
        client_body_buffer_size 1m;
        echo_read_request_body;
        echo_status 503;
        echo "busy";
    }
    location \@hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
}
--- request eval
["POST /first\n$::big", "POST /first\n$::big"]
--- more_headers eval
[::sig($::big, $::secret), ::sig($::big . 'x', $::secret)]
--- error_code eval
[200, 401]
--- response_body eval
[$::big, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 8: a chunked body above client_max_body_size with an error_page for 413 in the gw_webhook scope: answered 413 (the request must not hang)
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    error_page 413 /too-large;

    location = /hook {
        client_max_body_size 1k;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
    location = /too-large {
        echo "too large";
    }
}
--- raw_request eval
my $b = 'z' x 2000;
"POST /hook HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Transfer-Encoding: chunked\r\n"
. "X-Hub-Signature-256: sha256=" . ::hmac_sha256_hex($b, $::secret) . "\r\n\r\n"
. "3e8\r\n" . substr($b, 0, 1000) . "\r\n"
. "3e8\r\n" . substr($b, 1000) . "\r\n0\r\n\r\n"
--- timeout: 3
--- error_code: 413
--- response_body_like: \A(?:too large\n|.*413 Request Entity Too Large.*)\z
--- no_access_log
backend hit:


=== TEST 9: a Content-Length above client_max_body_size with an error_page for 413 in the gw_webhook scope: answered 413, not 401
--- http_config
    log_format backend_hit 'backend hit: $request';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        access_log logs/access.log backend_hit;
        location / {
            echo_read_request_body;
            echo_request_body;
        }
    }
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";
    error_page 413 /too-large;

    location = /hook {
        client_max_body_size 1k;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
    location = /too-large {
        echo "too large";
    }
}
--- request eval
my $b = 'z' x 2000;
"POST /hook\n$b"
--- more_headers eval
::sig('z' x 2000, $::secret)
--- error_code: 413
--- response_body_like: \A(?:too large\n|.*413 Request Entity Too Large.*)\z
--- no_error_log
signature mismatch
--- no_access_log
backend hit:
