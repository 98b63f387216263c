# Configuration: secrets from files, inheritance between levels, and every
# invalid configuration refused at startup (as by "nginx -t") with a message
# that names the file and line, and never the secret.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_hex);

our $secret  = 'file-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $secret2 = 'other-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
our $body    = '{"config":' . int(rand 1e6) . '}';

sub gh { 'X-Hub-Signature-256: sha256=' . hmac_sha256_hex($_[0], $_[1]) }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: file= with an absolute path: the file's trailing newline is not part of the secret
--- user_files eval
[["hook.secret", "$::secret\n"]]
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret file=$TEST_NGINX_HTML_DIR/hook.secret;
        add_header X-Status $gw_webhook_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
[::gh($::body, $::secret), ::gh($::body, "$::secret\n")]
--- error_code eval
[200, 401]
--- response_body eval
[$::body, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 2: file= with a path relative to the configuration directory, CRLF line end, rotation with a second file
--- user_files eval
[["secrets/current", "$::secret\r\n"], ["secrets/old", "$::secret2\n"]]
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret file=../html/secrets/current;
        gw_webhook_secret file=../html/secrets/old;
        add_header X-Status $gw_webhook_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body"]
--- more_headers eval
[::gh($::body, $::secret), ::gh($::body, $::secret2)]
--- error_code eval
[200, 200]
--- response_body eval
[$::body, $::body]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: VERIFIED"]



=== TEST 3: scheme and secret set on outer levels are inherited; a location's own secret replaces them
--- http_config eval
qq{
    gw_webhook_secret "$::secret";
}
--- config eval
qq{
    gw_webhook github;

    location = /hook {
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /hook-b {
        gw_webhook_secret "$::secret2";
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        gw_webhook off;
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body", "POST /hook-b\n$::body",
 "POST /hook-b\n$::body"]
--- more_headers eval
[::gh($::body, $::secret), ::gh($::body, $::secret2),
 ::gh($::body, $::secret2), ::gh($::body, $::secret)]
--- error_code eval
[200, 401, 200, 401]
--- response_body eval
[$::body, qr/401/, $::body, qr/401/]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: INVALID", "X-Status: VERIFIED",
 "X-Status: INVALID"]



=== TEST 4: gw_webhook off in one location; elsewhere unsigned requests are refused; $gw_webhook_status is empty where nothing is checked
--- config eval
qq{
    gw_webhook github;
    gw_webhook_secret "$::secret";

    location = /hook {
        add_header X-Status "[\$gw_webhook_status]" always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /open {
        gw_webhook off;
        add_header X-Status "[\$gw_webhook_status]" always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        gw_webhook off;
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /open\n$::body", "POST /hook\n$::body"]
--- error_code eval
[200, 401]
--- response_body eval
[$::body, qr/401 Authorization Required/]
--- response_headers eval
["X-Status: []", "X-Status: [MISSING]"]



=== TEST 5: with "satisfy all" (the default), a verified delivery still needs the other access modules: "deny all" answers 403
--- config eval
qq{
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "$::secret";
        deny all;
        add_header X-Status \$gw_webhook_status always;
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
[::gh($::body, $::secret), ::gh($::body, $::secret2)]
--- error_code eval
[403, 401]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: INVALID"]



=== TEST 6: with "satisfy any", a verified delivery passes "deny all", an unverified one does not; "allow" lets unsigned requests through
--- config eval
qq{
    location = /hook {
        satisfy any;
        gw_webhook github;
        gw_webhook_secret "$::secret";
        deny all;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /trusted {
        satisfy any;
        gw_webhook github;
        gw_webhook_secret "$::secret";
        allow 127.0.0.1;
        deny all;
        add_header X-Status \$gw_webhook_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        echo_read_request_body;
        echo_request_body;
    }
}
--- request eval
["POST /hook\n$::body", "POST /hook\n$::body", "POST /trusted\n$::body"]
--- more_headers eval
[::gh($::body, $::secret), ::gh($::body, $::secret2), ""]
--- error_code eval
[200, 401, 200]
--- response_body eval
[$::body, qr/401 Authorization Required/, $::body]
--- response_headers eval
["X-Status: VERIFIED", "X-Status: INVALID", "X-Status: MISSING"]



=== TEST 7: gw_webhook without a secret
--- config
    location = /hook {
        gw_webhook github;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_webhook" is set but no "gw_webhook_secret" is given in \S+nginx\.conf:\d+/



=== TEST 8: gw_webhook hmac without gw_webhook_header
--- config
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret some-secret;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_webhook hmac" needs "gw_webhook_header" in \S+nginx\.conf:\d+/



=== TEST 9: an unknown scheme
--- config
    location = /hook {
        gw_webhook gitlab;
        gw_webhook_secret some-secret;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "gitlab" in \S+nginx\.conf:\d+/



=== TEST 10: an empty secret
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret "";
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*empty webhook secret in \S+nginx\.conf:\d+/



=== TEST 11: a secret file that holds only a newline
--- user_files eval
[["empty.secret", "\n"]]
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret file=$TEST_NGINX_HTML_DIR/empty.secret;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*empty webhook secret in \S+nginx\.conf:\d+/



=== TEST 12: a secret file that does not exist
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret file=no/such.secret;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S+\/no\/such\.secret" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 13: a secret file larger than 4096 bytes
--- user_files eval
[["big.secret", 'k' x 5000]]
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret file=$TEST_NGINX_HTML_DIR/big.secret;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*secret file "\S+big\.secret" is unreadable or larger than 4096 bytes in \S+nginx\.conf:\d+/



=== TEST 14: a Standard Webhooks secret that is not base64: refused, and the secret is not in the message
--- config
    location = /hook {
        gw_webhook standard;
        gw_webhook_secret "whsec_not*base64!Zq9";
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*a Standard Webhooks secret must be "whsec_" and the base64 of the key in \S+nginx\.conf:\d+/
--- no_error_log
not*base64!Zq9



=== TEST 15: an invalid tolerance
--- config
    location = /hook {
        gw_webhook stripe;
        gw_webhook_secret some-secret;
        gw_webhook_tolerance soon;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_webhook_tolerance" directive invalid value in \S+nginx\.conf:\d+/



=== TEST 16: an unknown digest
--- config
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret some-secret;
        gw_webhook_header X-Signature;
        gw_webhook_digest md5;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "md5" in \S+nginx\.conf:\d+/



=== TEST 17: an unknown encoding
--- config
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret some-secret;
        gw_webhook_header X-Signature;
        gw_webhook_encoding base32;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "base32" in \S+nginx\.conf:\d+/



=== TEST 18: a header name with a colon
--- config
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret some-secret;
        gw_webhook_header "X-Sig:";
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid header name "X-Sig:" in \S+nginx\.conf:\d+/



=== TEST 19: a header name with a space
--- config
    location = /hook {
        gw_webhook hmac;
        gw_webhook_secret some-secret;
        gw_webhook_header "X Sig";
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid header name "X Sig" in \S+nginx\.conf:\d+/



=== TEST 20: gw_webhook_replay without zone=
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay status=202;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_webhook_replay" must have "zone" parameter in \S+nginx\.conf:\d+/



=== TEST 21: gw_webhook_replay zone= without a size
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone size "zone=hooks" in \S+nginx\.conf:\d+/



=== TEST 22: gw_webhook_replay zone= with a size that is not one
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:lots;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid zone size "zone=hooks:lots" in \S+nginx\.conf:\d+/



=== TEST 23: gw_webhook_replay zone= smaller than 8 pages
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:16k;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "zone=hooks:16k" is too small in \S+nginx\.conf:\d+/



=== TEST 24: gw_webhook_replay status= below 200
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:1m status=100;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid status "status=100" in \S+nginx\.conf:\d+/



=== TEST 25: gw_webhook_replay status= above 599
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:1m status=600;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid status "status=600" in \S+nginx\.conf:\d+/



=== TEST 26: gw_webhook_replay with an unknown parameter
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:1m ttl=10m;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "ttl=10m" in \S+nginx\.conf:\d+/



=== TEST 27: gw_webhook_replay off with a parameter
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay off status=200;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_webhook_replay" directive takes no parameters with "off" in \S+nginx\.conf:\d+/



=== TEST 28: gw_webhook_replay twice in one location
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:1m;
        gw_webhook_replay zone=other:1m;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_webhook_replay" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 29: one zone name declared with two sizes
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:1m;
        echo ok;
    }
    location = /hook2 {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_replay zone=hooks:2m;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*shared memory zone "hooks" conflicts with already declared size/



=== TEST 30: gw_webhook_thread_pool naming a pool that no thread_pool directive declares
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_thread_pool hashing;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown thread pool "hashing" in \S+nginx\.conf:\d+/



=== TEST 31: gw_webhook_thread_pool twice in one location
--- config
    location = /hook {
        gw_webhook github;
        gw_webhook_secret some-secret;
        gw_webhook_thread_pool default;
        gw_webhook_thread_pool off;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_webhook_thread_pool" directive is duplicate in \S+nginx\.conf:\d+/
