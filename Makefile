# nginx-gw: build, test, demo, bench.
#
#   make            build every module into build/modules/*.so
#   make test       build, then run the whole t/ suite (prove)
#   make test-asan  the suite with the modules built with AddressSanitizer
#                   and UBSan (build/asan/), loaded into the same nginx
#   make test-valgrind  the suite with nginx under valgrind's memcheck
#   make demo       run examples/nginx.conf on 127.0.0.1:8080 (Ctrl-C stops)
#   make bench      benchmarks against plain nginx proxying, same run
#   make fuzz       libFuzzer targets, FUZZ_TIME seconds each (default 60)
#   make deps       install the Debian packages the project needs
#   make clean
#
# NGX_SRC is the nginx source tree the modules are built against.  By
# default it is Debian's /usr/share/nginx/src (package nginx-dev), copied to
# build/nginx and configured with Debian's own flags (its conf_flags file),
# so the modules load into Debian's /usr/sbin/nginx.  Any other tree works:
#   make NGX_SRC=/path/to/nginx-1.x [NGX_CONF_FLAGS="--with-compat ..."]

SHELL        := /bin/bash
TOP          := $(CURDIR)
BUILD        ?= $(TOP)/build
NGX_SRC      ?= /usr/share/nginx/src
NGX_BUILD    := $(BUILD)/nginx
NGINX_BIN    ?= /usr/sbin/nginx
MODULES_DIR  := $(BUILD)/modules
ECHO_MODULE  ?= /usr/lib/nginx/modules/ngx_http_echo_module.so
PROVE_JOBS   ?= 2

# Debian 12 packages: build (nginx-dev and the libraries), tests (perl,
# echo module, redis, valgrind, clang for the fuzz targets) and benchmarks
# (wrk, gnuplot, and the OpenResty-style Lua limiter that the Redis limiter
# is measured against).
DEB_PKGS := build-essential nginx nginx-dev libssl-dev libpcre2-dev \
            zlib1g-dev libjansson-dev libjwt-dev libhiredis-dev \
            libnginx-mod-http-echo libtest-base-perl libcrypt-jwt-perl \
            redis-server valgrind wrk gnuplot-nox openssl procps \
            libnginx-mod-http-lua lua-nginx-redis clang \
            prometheus

MODULE_NAMES := ngx_http_gw_webhook_module ngx_http_gw_breaker_module \
                ngx_http_gw_ratelimit_module \
                ngx_http_gw_lb_least_time_module ngx_http_gw_auth_module \
                ngx_http_gw_status_module
MODULE_SOS   := $(MODULE_NAMES:%=$(MODULES_DIR)/%.so)

.PHONY: all modules modules-build modules-asan deps test test-asan \
        test-valgrind demo \
        bench fuzz fuzz-regress clean

all: modules

modules: deps $(MODULE_SOS)

# Install only what is missing; a second run does nothing.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    SUDO=$$( [ $$(id -u) = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null; \
	fi

# A private copy of the source tree, configured once; "config" changes
# trigger a reconfigure, .c changes only a recompile.
$(NGX_BUILD)/.copied: | deps
	@test -f $(NGX_SRC)/src/core/nginx.h \
	    || { echo "NGX_SRC=$(NGX_SRC) is not an nginx source tree"; exit 1; }
	rm -rf $(NGX_BUILD)
	mkdir -p $(NGX_BUILD)
	cp -a $(NGX_SRC)/. $(NGX_BUILD)/
	touch $@

$(NGX_BUILD)/objs/Makefile: $(NGX_BUILD)/.copied $(TOP)/config
	cd $(NGX_BUILD) && \
	if [ -n "$(NGX_CONF_FLAGS)" ]; then \
	    flags=( $(NGX_CONF_FLAGS) ); \
	elif [ -f conf_flags ]; then \
	    . ./conf_flags; flags=( "$${NGX_CONF_FLAGS[@]}" ); \
	else \
	    flags=( --with-compat --with-http_ssl_module --with-threads ); \
	fi; \
	./configure "$${flags[@]}" $(NGX_EXTRA_FLAGS) \
	    --add-dynamic-module=$(TOP) \
	    > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

# nginx's own Makefile knows which objects are out of date: after editing
# one .c file only that file is recompiled and the modules relinked.
$(MODULE_SOS): modules-build
modules-build: deps $(NGX_BUILD)/objs/Makefile
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	@mkdir -p $(MODULES_DIR)
	@for m in $(MODULE_NAMES); do \
	    cmp -s $(NGX_BUILD)/objs/$$m.so $(MODULES_DIR)/$$m.so || { \
	    cp $(NGX_BUILD)/objs/$$m.so $(MODULES_DIR)/$$m.so.tmp && \
	    mv $(MODULES_DIR)/$$m.so.tmp $(MODULES_DIR)/$$m.so; }; done

# Each test file gets its own prefix and ports (t/lib); servers the tests
# need are started by t/run on free loopback ports.
test: modules fuzz-regress
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES="$(MODULE_SOS) $(ECHO_MODULE)" \
	TEST_NGINX_MODULES_DIR=$(MODULES_DIR) \
	    t/run prove -I t/lib -j$(PROVE_JOBS) -r t/

# Sanitizers (README, "Sanitizers").  test-asan builds the modules again
# in build/asan/ with ASan and UBSan, from a source tree configured as the
# normal one plus the sanitizer flags, and runs the suite with them in
# Debian's nginx, which is not instrumented: the runner preloads gcc's ASan
# runtime into nginx (TEST_NGINX_ASAN_RUNTIME), gives each nginx its own
# log_path and fails a block whose nginx wrote a sanitizer report.
ASAN_BUILD   := $(BUILD)/asan
ASAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_RUNTIME  = $(shell $(CC) -print-file-name=libasan.so)

modules-asan: deps
	ASAN_OPTIONS=detect_leaks=0 $(MAKE) modules-build BUILD=$(ASAN_BUILD) \
	    NGX_EXTRA_FLAGS="--with-cc-opt='$(ASAN_FLAGS) \
	        -include $(TOP)/t/lib/asan_palloc.h' \
	        --with-ld-opt='$(ASAN_FLAGS)'"

test-asan: modules-asan
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES="$(MODULE_SOS:$(BUILD)/%=$(ASAN_BUILD)/%) \
	    $(ECHO_MODULE)" \
	TEST_NGINX_MODULES_DIR=$(ASAN_BUILD)/modules \
	TEST_NGINX_USE_ASAN=1 TEST_NGINX_ASAN_RUNTIME=$(ASAN_RUNTIME) \
	GW_TEST_WORK=$(ASAN_BUILD)/t/run \
	    t/run prove -I t/lib -j$(PROVE_JOBS) -r t/

# test-valgrind: the normal modules, every nginx of the suite under
# memcheck (t/lib/NginxGw/Valgrind.pm, suppressions t/lib/valgrind.suppress)
test-valgrind: modules
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES="$(MODULE_SOS) $(ECHO_MODULE)" \
	TEST_NGINX_MODULES_DIR=$(MODULES_DIR) \
	TEST_NGINX_USE_VALGRIND=1 GW_TEST_WORK=$(BUILD)/valgrind/t/run \
	    t/run prove -I t/lib -j$(PROVE_JOBS) -r t/

# The fuzz targets (fuzz/README.md): "make fuzz" fuzzes each for FUZZ_TIME
# seconds; "make test" replays every crash found so far and the seeds.
fuzz: modules
	$(MAKE) -C fuzz run

fuzz-regress: modules
	$(MAKE) -s -C fuzz regress

demo: modules
	mkdir -p $(BUILD)/demo/logs $(BUILD)/demo/tmp
	ln -sfn ../modules $(BUILD)/demo/modules
	exec $(NGINX_BIN) -p $(BUILD)/demo/ -c $(TOP)/examples/nginx.conf \
	    -g 'daemon off;'

bench: modules
	NGINX=$(NGINX_BIN) GW_MODULES_DIR=$(MODULES_DIR) BENCH_OUT=$(BUILD)/bench \
	    bench/run

clean:
	rm -rf $(BUILD)
