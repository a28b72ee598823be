# fcgi-wsgi: build, test, run the demo.  `make run` and `make check` work on
# a fresh Debian 12 machine: both install what is missing first (make deps).

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
PYTHON   ?= /usr/bin/python3
PKGS      = python3-embed fcgi inih

WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2
STD       = -std=c11 -D_POSIX_C_SOURCE=200809L
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -I. -MMD -MP
LDLIBS    = $(PKG_LIBS) -lpthread
SAN       = -fsanitize=address,undefined -fno-sanitize-recover=all

CONF_SRC   = $(wildcard conf/*.c)
PYGLUE_SRC = $(wildcard pyglue/*.c)
BRIDGE_SRC = $(wildcard bridge/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_LIB   = $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
# The bridge pieces the unit tests drive directly (no libfcgi, no socket
# of a web server).
UNIT_BRIDGE = bridge/fcgi_guard.c bridge/fdio.c bridge/log.c bridge/status.c \
              bridge/scoreboard.c bridge/access_log.c bridge/notify.c

obj = $(patsubst %.c,build/$(1)/%.o,$(2))
BIN_OBJ   = $(call obj,rel,$(CONF_SRC) $(PYGLUE_SRC) $(BRIDGE_SRC))
UNIT_BINS = $(patsubst tests/unit/%.c,build/rel/unit/%,$(UNIT_SRC))
ASAN_BINS = $(patsubst tests/unit/%.c,build/asan/unit/%,$(UNIT_SRC))

# Debian packages: to build, and to run the tests and the demo.
DEPS_BUILD = build-essential pkg-config libfcgi-dev libpython3-dev \
             libcmocka-dev libinih-dev libfcgi-bin clang libclang-rt-14-dev
DEPS_TEST  = python3-django python3-pytest python3-venv nginx apache2 \
             libapache2-mod-fcgid lighttpd spawn-fcgi curl wrk \
             python3-prometheus-client openssl lighttpd-mod-openssl \
             systemd
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps run check test-unit test-unit-asan test-e2e install \
        clean format bench fuzz

all: fcgi-wsgi

fcgi-wsgi: $(BIN_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -fno-omit-frame-pointer -c -o $@ $<

build/rel/unit/%: build/rel/tests/unit/%.o $(call obj,rel,$(CONF_SRC) $(PYGLUE_SRC) $(UNIT_LIB) $(UNIT_BRIDGE))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

build/asan/unit/%: build/asan/tests/unit/%.o $(call obj,asan,$(CONF_SRC) $(PYGLUE_SRC) $(UNIT_LIB) $(UNIT_BRIDGE))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) -lcmocka

deps:
	@missing=""; for p in $(DEPS_BUILD) $(DEPS_TEST); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "make deps: installing$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

# The unit tests run twice: as built, and under ASan+UBSan with Python's
# allocator set to malloc so that ASan sees every block.
test-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
	    FW_TEST_APPS=$(CURDIR)/tests/apps $$t; done

# Leak detection is on where no Python runs (CPython leaks at exit).
test-unit-asan: $(ASAN_BINS)
	@set -e; for t in $(ASAN_BINS); do echo "== $$t (asan+ubsan)"; \
	    case $$t in *test_conf|*test_fcgi_guard|*test_status|*test_notify|*test_print_config) leaks=1 ;; *) leaks=0 ;; esac; \
	    FW_TEST_APPS=$(CURDIR)/tests/apps PYTHONMALLOC=malloc \
	    ASAN_OPTIONS=detect_leaks=$$leaks:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1 $$t; done

test-e2e: fcgi-wsgi
	FW_E2E_NO_SKIP=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

check: deps
	$(MAKE) all
	$(MAKE) test-unit
	$(MAKE) test-unit-asan
	$(MAKE) fuzz FUZZ_SECONDS=15
	$(MAKE) test-e2e

run: deps
	$(MAKE) all
	./examples/run-demo.sh

# uWSGI and gunicorn from Debian, measured behind the same nginx.
DEPS_BENCH = uwsgi-core uwsgi-plugin-python3 gunicorn wrk nginx
bench: all
	@$(MAKE) --no-print-directory deps DEPS_TEST="$(DEPS_TEST) $(DEPS_BENCH)"
	bench/run.sh $(BENCH_ARGS)

# The guard's scanner under libFuzzer (clang), bounded: FUZZ_SECONDS.
FUZZ_SECONDS ?= 20
build/fuzz/fuzz_guard: tests/fuzz/fuzz_guard.c tests/fuzz/log_stub.c bridge/fcgi_guard.c \
                      bridge/fdio.c
	@mkdir -p $(dir $@)
	clang $(STD) $(WARN) -g -O1 -I. -fsanitize=fuzzer,address,undefined \
	    -o $@ $^

fuzz: build/fuzz/fuzz_guard
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_guard -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
	    -print_final_stats=1 build/fuzz/corpus 2>&1 | tail -12

install: fcgi-wsgi
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 fcgi-wsgi $(DESTDIR)$(PREFIX)/bin/fcgi-wsgi

format:
	clang-format -i $(CONF_SRC) $(PYGLUE_SRC) $(BRIDGE_SRC) \
	    $(wildcard */*.h) tests/unit/*.c tests/unit/*.h

clean:
	rm -rf build fcgi-wsgi

-include $(shell find build -name '*.d' 2>/dev/null)
