# gw_auth's figures in gw_status: requests by method, result and reason,
# gw_auth_cache hits and misses, JWKS fetches, introspection requests and
# the time spent on them, read back exactly in JSON (gw_status) and in
# Prometheus's text format (gw_status prometheus; ?format=prometheus), and
# checked with promtool.
#
# nginx runs two workers.  The auth locations are in a server of their own
# on $TEST_NGINX_RAND_PORT_2 with "reuseport" (as t/209), which the test
# server proxies to with a new connection per request, so that both
# workers count; the status locations are the test server's.  Each request
# is counted once, where the access phase decides: also after an internal
# redirect (try_files) and when a variable verified the credential first
# (set in the rewrite phase).
#
# The IdP is faked in the same nginx (as t/112), answering after 0.25 s, so
# the introspection time has a known lower bound; a second IdP and a second
# JWKS location answer 500 and 404.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;
use NginxGw::Status qw(prom_parse prom_value prom_check json_value);
use JSON::PP qw(decode_json);

master_on();
workers(2);
no_root_location();

our %s = map { $_ => Crypt::PRNG::random_bytes(32) } qw(k1 k2);

sub token {
    my ($secret, $kid, %c) = @_;
    return 'Authorization: Bearer '
        . jwt('HS256', $s{$secret}, { sub => 'alice', exp => time + 3600, %c },
              { kid => $kid });
}

# one token for the requests that a cache hit needs
our $t1 = token('k1', 'k1');

our %key = map { $_ => 'key-' . rand_hex(16) } qw(acme);

# [uri, request header, status]: the traffic of TEST 1, in order
our @traffic = (
    ['/jwt',          $t1,                                        200],
    ['/jwt',          $t1,                                        200],
    ['/jwt',          token('k1', 'k1', exp => time - 100),       401],
    ['/jwt',          token('k2', 'k1'),                          401],
    ['/jwt',          'X-None: none',                             401],
    ['/jwt',          'Authorization: Bearer abc',                401],
    ['/jwt',          token('k1', 'k9'),                          401],
    ['/jwt',          token('k1', 'k1', nbf => time + 3600),      401],
    ['/scoped',       $t1,                                        403],
    ['/twice',        $t1,                                        200],
    ['/early',        $t1,                                        200],
    ['/early',        token('k1', 'k1', exp => time - 100),       401],
    ['/jwt-down',     $t1,                                        401],
    ['/key',          "X-API-Key: $key{acme}",                    200],
    ['/key',          'X-API-Key: key-nobody',                    401],
    ['/key',          'X-None: none',                             401],
    ['/introspect',   'Authorization: Bearer tok-alice',          200],
    ['/introspect',   'Authorization: Bearer tok-alice',          200],
    ['/introspect',   'Authorization: Bearer tok-nobody',         401],
    ['/introspect',   'Authorization: Bearer tok-nobody',         401],
    ['/idp-down',     'Authorization: Bearer tok-alice',          503],
);

# what the traffic leaves: requests_total by method and reason ('' is
# accepted), every other series of requests_total is 0
our %requests = (
    jwt => { '' => 4, expired => 2, bad_signature => 1, missing => 1,
             malformed => 1, unknown_key => 2, not_yet_valid => 1,
             insufficient_scope => 1 },
    api_key => { '' => 1, unknown_key => 1, missing => 1 },
    introspect => { '' => 2, inactive => 2, idp_error => 1 },
);

# the reasons gw_status shows for each method
our %reasons = (
    jwt => [qw(missing malformed bad_signature unknown_key expired
               not_yet_valid issuer audience insufficient_scope role claim)],
    introspect => [qw(missing malformed expired inactive idp_error
                      insufficient_scope role claim)],
    api_key => [qw(missing malformed unknown_key insufficient_scope role
                   claim)],
);

our %other = (
    cache_hits_total => [{ method => 'jwt' }, 4,
                         { method => 'introspect' }, 2],
    cache_misses_total => [{ method => 'jwt' }, 8,
                           { method => 'introspect' }, 3],
    jwks_fetches_total => [{ result => 'ok' }, 1, { result => 'failed' }, 1],
    introspection_requests_total => [{ result => 'active' }, 1,
                                     { result => 'inactive' }, 1,
                                     { result => 'failed' }, 1],
);

# The checks of one status response: $get->(family, labels) reads a value.
sub check_values {
    my ($name, $get, $nseries) = @_;

    for my $m (sort keys %reasons) {
        for my $r ('', @{ $reasons{$m} }) {
            my $labels = { method => $m, reason => $r,
                           result => $r eq '' ? 'accepted' : 'rejected' };
            is($get->('requests_total', $labels), $requests{$m}{$r} // 0,
               "$name: requests_total{method=$m,reason=$r}");
        }
    }

    is($nseries, 3 + 11 + 8 + 6,
       "$name: requests_total has the series of the methods' reasons only");

    for my $f (sort keys %other) {
        my @v = @{ $other{$f} };
        while (my ($labels, $want) = splice @v, 0, 2) {
            my ($k) = keys %$labels;
            is($get->($f, $labels), $want, "$name: $f\{$k=$labels->{$k}}");
        }
    }

    my $t = $get->('introspection_seconds_total');
    ok(defined $t && $t >= 0.5 && $t < 5,
       "$name: introspection_seconds_total covers two answers of 0.25 s "
       . "(" . ($t // 'undef') . ")");
}

sub check_json {
    my ($body) = @_;
    my $j = eval { decode_json($body) };
    ok($j, 'JSON: gw_status answers JSON') or return diag($@);
    my $n = ref $j->{auth}{requests_total} eq 'ARRAY'
            ? @{ $j->{auth}{requests_total} } : 0;
    check_values('JSON', sub { json_value($j, 'auth', @_) }, $n);
}

sub check_prom {
    my ($what) = @_;
    return sub {
        my ($body) = @_;
        my $m = eval { prom_parse($body) };
        ok($m, "$what: the text format parses") or return diag($@);
        my $n = grep { $_->{name} eq 'nginx_gw_auth_requests_total' }
                @{ $m->{samples} };
        check_values($what, sub {
            my ($f, $labels) = @_;
            return prom_value($m, "nginx_gw_auth_$f", $labels);
        }, $n);
        is($m->{families}{"nginx_gw_auth_$_"}{type}, 'counter',
           "$what: $_ is a counter")
            for qw(requests_total cache_hits_total cache_misses_total
                   jwks_fetches_total introspection_requests_total
                   introspection_seconds_total);
        my ($ok, $out) = prom_check($body);
        ok($ok, "$what: promtool check metrics") or diag($out);
    };
}

# --- status eval: [sub { my ($body) = @_; ... }, ...], one per response
# (undef: nothing), run after it
add_response_body_check(sub {
    my ($block, $body, $idx) = @_;
    my $checks = $block->status or return;
    my $code = $checks->[$idx];
    $code->($body) if $code;
});

sub check_unused_json {
    my $j = decode_json($_[0]);
    is(json_value($j, 'auth', 'requests_total',
                  { method => 'jwt', result => 'accepted' }), 0,
       'unused: no jwt request accepted');
    is(json_value($j, 'auth', 'cache_misses_total',
                  { method => 'introspect' }), 0, 'unused: no cache miss');
    is(json_value($j, 'auth', 'introspection_seconds_total'), 0,
       'unused: no time at the IdP');
}

sub check_unused_prom {
    my $m = prom_parse($_[0]);
    is(prom_value($m, 'nginx_gw_auth_requests_total',
                  { method => 'api_key', reason => 'unknown_key' }), 0,
       'unused: no API key refused');
    is(prom_value($m, 'nginx_gw_auth_jwks_fetches_total',
                  { result => 'ok' }), 0, 'unused: no JWKS fetched');
    my ($ok, $out) = prom_check($_[0]);
    ok($ok, 'unused: promtool check metrics') or diag($out);
}

our $auth_server = <<'_EOC_';
    gw_auth_cache zone=auth:1m;

    map $request_body $idp_reply {
        "token=tok-alice"  '{"active":true,"sub":"alice","scope":"read"}';
        default            '{"active":false}';
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;

        location = /jwt {
            gw_auth_jwt api;
            gw_auth_jwt_key_request /_jwks_request;
            echo "jwt $gw_auth_subject";
        }

        location = /scoped {
            gw_auth_jwt api;
            gw_auth_jwt_key_request /_jwks_request;
            gw_auth_require_scope admin;
            echo "scoped $gw_auth_subject";
        }

        location = /twice {
            gw_auth_jwt api;
            gw_auth_jwt_key_request /_jwks_request;
            try_files /nowhere /jwt;
        }

        location = /early {
            gw_auth_jwt api;
            gw_auth_jwt_key_request /_jwks_request;
            set $who $gw_auth_subject;
            echo "early $who";
        }

        location = /jwt-down {
            gw_auth_jwt api;
            gw_auth_jwt_key_request /_jwks_down;
            echo "jwt-down $gw_auth_subject";
        }

        location = /key {
            gw_auth_api_key ../html/api-keys;
            echo "key $gw_auth_consumer";
        }

        location = /introspect {
            gw_auth_introspect /_introspect;
            echo "introspect $gw_auth_subject";
        }

        location = /idp-down {
            gw_auth_introspect /_introspect_down;
            echo "idp-down $gw_auth_subject";
        }

        location = /_jwks_request {
            internal;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
        }

        location = /_jwks_down {
            internal;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_nothing;
        }

        location = /_introspect {
            internal;
            proxy_method POST;
            proxy_set_body "token=$gw_auth_token";
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
        }

        location = /_introspect_down {
            internal;
            proxy_method POST;
            proxy_set_body "token=$gw_auth_token";
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp_down;
        }
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers: every request counted once by method, result and reason; cache, JWKS and IdP counters; exact values in JSON and both Prometheus locations
--- user_files eval
[["jwks.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))],
 ["api-keys", ::api_key_line($::key{acme}, 'acme')]]
--- http_config eval
$::auth_server
--- config
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
    location = /_nothing {
        return 404;
    }
    location = /_idp {
        echo_read_request_body;
        echo_sleep 0.25;
        echo $idp_reply;
    }
    location = /_idp_down {
        return 500;
    }
    location = /status {
        gw_status;
    }
    location = /metrics {
        gw_status prometheus;
    }
--- request eval
[(map { "GET $_->[0]" } @::traffic),
 "GET /status", "GET /metrics", "GET /status?format=prometheus"]
--- more_headers eval
[(map { $_->[1] } @::traffic), ("X-None: none") x 3]
--- error_code eval
[(map { $_->[2] } @::traffic), 200, 200, 200]
--- status eval
[(undef) x @::traffic, \&::check_json, ::check_prom('Prometheus'),
 ::check_prom('?format=prometheus')]
--- timeout: 10



=== TEST 2: the module loaded but unused: every series is there, at 0
--- config
    location = /status {
        gw_status;
    }
    location = /metrics {
        gw_status prometheus;
    }
--- request eval
["GET /status", "GET /metrics"]
--- error_code eval
[200, 200]
--- status eval
[\&::check_unused_json, \&::check_unused_prom]
