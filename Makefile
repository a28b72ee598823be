# fcgi-wsgi: build, test, run the demo.  `make run` and `make check` work on
# a fresh Debian 12 machine: both install what is missing first (make deps).

PREFIX   ?= /usr/local
DESTDIR  ?=
# where `make install` puts what is not under PREFIX (logrotate.d, the
# sites' ini files) and the systemd units (Debian's package: /lib/...)
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BINDIR     = $(PREFIX)/bin
MANDIR     = $(PREFIX)/share/man
DOCDIR     = $(PREFIX)/share/doc/fcgi-wsgi
VERSION    = $(shell sed -n 's/^\#define FW_VERSION "\(.*\)"/\1/p' conf/conf.h)
CC       ?= cc
PYTHON   ?= /usr/bin/python3
PKGS      = python3-embed fcgi inih

WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2
STD       = -std=c11 -D_POSIX_C_SOURCE=200809L
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libfcgi gives its headers (fastcgi.h) only: nothing of it is linked
# into fcgi-wsgi (bridge/wire/ reads and writes the wire).
PKG_LIBS   = $(shell pkg-config --libs python3-embed inih 2>/dev/null)
CFLAGS   ?= -O2 -g
# What --version and the start-up block name and no library call tells:
# libfcgi's and inih's versions, and the system Python's prefix.
pkgvar     = $(or $(shell pkg-config $(1) 2>/dev/null),unknown)
BUILD_INFO = -DFW_LIBFCGI_VERSION='"$(call pkgvar,--modversion fcgi)"' \
             -DFW_INIH_VERSION='"$(call pkgvar,--modversion inih)"' \
             -DFW_PYTHON_PREFIX='"$(call pkgvar,--variable=prefix python3-embed)"'
ALL_CFLAGS = $(STD) $(WARN) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $(BUILD_INFO) -I. -MMD -MP
LDLIBS    = $(PKG_LIBS) -lpthread

# How fcgi-wsgi links Debian's libpython (libpython3-dev has all three;
# the figures are in bench/results/link-study.md, `make bench-link`):
#   static      libpython3.11.a, the archive Debian builds /usr/bin/python3
#               from (profile-guided), not position-independent: -no-pie
#   static-pic  libpython3.11-pic.a, the objects of libpython3.11.so: PIE
#   shared      libpython3.11.so (pkg-config python3-embed)
# A static interpreter exports its symbols (--export-dynamic) to the
# extension modules of lib-dynload, and takes the whole archive so that
# every symbol one of them may use is there, as in libpython3.11.so.  The
# unit tests (and their ASan builds) link the shared library.
PYLINK   ?= static
PY_SYSCONFIG = $(shell $(PYTHON) -c 'import sysconfig; v = sysconfig.get_config_var; print($(1))' 2>/dev/null)
PY_STATIC_LIBS = -Wl,--export-dynamic -Wl,--whole-archive $(1) \
    -Wl,--no-whole-archive $(call PY_SYSCONFIG,*sorted(set(" ".join(v(k) for k in ("MODLIBS", "LIBS", "SYSLIBS")).split())))
PY_ARCHIVE = $(call PY_SYSCONFIG,v("LIBPL") + "/" + v("LIBRARY"))
ifeq ($(PYLINK),static)
BIN_LDLIBS := -no-pie $(call PY_STATIC_LIBS,$(PY_ARCHIVE))
else ifeq ($(PYLINK),static-pic)
BIN_LDLIBS := $(call PY_STATIC_LIBS,$(PY_ARCHIVE:.a=-pic.a))
else ifeq ($(PYLINK),shared)
BIN_LDLIBS := $(shell pkg-config --libs python3-embed 2>/dev/null)
else
$(error PYLINK=$(PYLINK): want static, static-pic or shared)
endif
BIN_LDLIBS += $(shell pkg-config --libs inih 2>/dev/null) -lpthread
SAN       = -fsanitize=address,undefined -fno-sanitize-recover=all
# The C files `make format` formats and `make format-check` checks: those
# git tracks, and new ones it does not ignore (outside a checkout: all).
FORMAT_SRC = $(wildcard $(shell git ls-files --cached --others \
                 --exclude-standard '*.c' '*.h' 2>/dev/null || \
                 find . -name '*.[ch]' -not -path './build/*'))

CONF_SRC   = $(wildcard conf/*.c)
DEPLOY_SRC = $(wildcard deploy/*.c)
PYGLUE_SRC = $(wildcard pyglue/*.c)
BRIDGE_SRC = $(wildcard bridge/*.c bridge/*/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_LIB   = $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
# The wire's pure record code: the unit tests, the fuzzer and the
# differential test drive it on bytes, without a socket.
WIRE_RECORDS = bridge/wire/wire_parse.c bridge/wire/wire_out.c
# The bridge pieces the unit tests drive directly (no libfcgi, no socket
# of a web server).
UNIT_BRIDGE = $(WIRE_RECORDS) bridge/log.c \
              bridge/observe/status.c bridge/pool/scoreboard.c \
              bridge/observe/status_buf.c bridge/observe/status_render.c \
              bridge/observe/status_snapshot.c bridge/serve/listen.c \
              bridge/observe/access_log.c bridge/pool/notify.c \
              bridge/serve/allow.c bridge/pool/pool_rules.c \
              bridge/serve/lead.c

obj = $(patsubst %.c,build/$(1)/%.o,$(2))
BIN_OBJ   = $(call obj,rel,$(CONF_SRC) $(DEPLOY_SRC) $(PYGLUE_SRC) $(BRIDGE_SRC))
UNIT_BINS = $(patsubst tests/unit/%.c,build/rel/unit/%,$(UNIT_SRC))
ASAN_BINS = $(patsubst tests/unit/%.c,build/asan/unit/%,$(UNIT_SRC))

# Debian packages: to build, and to run the tests and the demo.
DEPS_BUILD = build-essential pkg-config libfcgi-dev libpython3-dev \
             libcmocka-dev libinih-dev libfcgi-bin clang libclang-rt-14-dev \
             clang-format
DEPS_TEST  = python3-django python3-pytest python3-venv nginx apache2 \
             libapache2-mod-fcgid lighttpd spawn-fcgi curl wrk \
             python3-prometheus-client openssl lighttpd-mod-openssl \
             systemd caddy h2o
# and to make the man page (install) and the Debian package (deb).
DEPS_PACKAGE = help2man man-db debhelper dpkg-dev lintian logrotate
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps run check test-unit test-unit-asan test-e2e install \
        clean format format-check fuzz test-diff man deb FORCE

all: fcgi-wsgi

# Relinked when PYLINK (the link line's libraries) changes.
fcgi-wsgi: $(BIN_OBJ) build/pylink
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(BIN_OBJ) $(BIN_LDLIBS)

build/pylink: FORCE
	@mkdir -p $(dir $@)
	@echo '$(BIN_LDLIBS)' | cmp -s - $@ || echo '$(BIN_LDLIBS)' >$@

FORCE:

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -fno-omit-frame-pointer -c -o $@ $<

build/rel/unit/%: build/rel/tests/unit/%.o $(call obj,rel,$(CONF_SRC) $(DEPLOY_SRC) $(PYGLUE_SRC) $(UNIT_LIB) $(UNIT_BRIDGE))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

build/asan/unit/%: build/asan/tests/unit/%.o $(call obj,asan,$(CONF_SRC) $(DEPLOY_SRC) $(PYGLUE_SRC) $(UNIT_LIB) $(UNIT_BRIDGE))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) -lcmocka

deps:
	@missing=""; for p in $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_PACKAGE); do \
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
	    case $$t in *test_conf|*test_wire|*test_allow|*test_status|*test_notify|*test_print_config|*test_pool_rules|*test_conf_uwsgi|*test_log_format) leaks=1 ;; *) leaks=0 ;; esac; \
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
	$(MAKE) test-diff
	$(MAKE) test-e2e
	$(MAKE) soak SOAK_SECONDS=60
	$(MAKE) format-check

# The pool under load and abuse behind the real nginx (tests/soak/soak.py):
# SIGKILLed workers, SIGHUP, silent and half-closed connections; then the
# requests, RSS, fds and zombies are checked.  10 minutes; make check: 60 s.
SOAK_SECONDS ?= 600
.PHONY: soak
soak: fcgi-wsgi
	$(PYTHON) tests/soak/soak.py --seconds $(SOAK_SECONDS)

run: deps
	$(MAKE) all
	./examples/run-demo.sh

# The benchmark (bench/bench.py): fcgi-wsgi against uWSGI (FastCGI and
# native), gunicorn (sync, gthread) and a C libfcgi responder, every
# scenario, through nginx + wrk and straight at the socket (bench/fcgi-load),
# interleaved rounds; writes bench/results/latest.{md,png,json}.  Under 15
# minutes on 2 cores; `make bench-quick` is a ~2-minute subset
# (build/bench/quick.*).  Env: BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP,
# BENCH_PROCESSES, BENCH_ONLY, BENCH_SKIP, BENCH_OUT (see bench/bench.py).
# fcgi-wsgi is built for it with release flags, apart from ./fcgi-wsgi.
DEPS_BENCH   = uwsgi-core uwsgi-plugin-python3 gunicorn wrk nginx \
               gnuplot-nox valgrind libfcgi-bin libfcgi-dev python3-django
BENCH_CFLAGS ?= -O2
BENCH_BINS    = build/bench/fcgi-wsgi build/bench/c_responder \
                build/bench/pyembed build/bench/pyembed-fw bench/fcgi-load
.PHONY: bench bench-quick bench-bins
bench-bins: $(BENCH_BINS)

bench:
	@$(MAKE) --no-print-directory deps DEPS_TEST="$(DEPS_TEST) $(DEPS_BENCH)"
	$(MAKE) bench-bins
	BENCH_CFLAGS='$(BENCH_CFLAGS)' $(PYTHON) bench/bench.py

bench-quick:
	@$(MAKE) --no-print-directory deps DEPS_TEST="$(DEPS_TEST) $(DEPS_BENCH)"
	$(MAKE) bench-bins
	BENCH_CFLAGS='$(BENCH_CFLAGS)' $(PYTHON) bench/bench.py --quick

build/bench/%.o: CFLAGS = $(BENCH_CFLAGS)
build/bench/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/bench/fcgi-wsgi: $(call obj,bench,$(CONF_SRC) $(DEPLOY_SRC) $(PYGLUE_SRC) $(BRIDGE_SRC)) build/pylink
	$(CC) $(BENCH_CFLAGS) -o $@ $(filter %.o,$^) $(BIN_LDLIBS)

build/bench/c_responder: bench/c_responder.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 $(shell pkg-config --cflags fcgi) -o $@ $< \
	    $(shell pkg-config --libs fcgi) -lpthread

build/bench/kernel_floor: bench/kernel_floor.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -o $@ $<

# python3 on the shared libpython (uWSGI's), and on libpython linked as
# fcgi-wsgi links it (PYLINK): bench/app_cost.py's interpreters.
build/bench/pyembed: PYEMBED_LIBS = $(shell pkg-config --libs python3-embed)
build/bench/pyembed-fw: PYEMBED_LIBS = $(BIN_LDLIBS)
build/bench/pyembed build/bench/pyembed-fw: bench/pyembed.c build/pylink
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 $(shell pkg-config --cflags python3-embed) \
	    -o $@ $< $(PYEMBED_LIBS)

# Two fcgi-wsgi binaries A/B in the same run (bench/ab.sh), over the
# FastCGI load generator bench/fcgi-load and nginx + wrk.
AB_OLD     ?= /tmp/fcgi-wsgi-before
AB_NEW     ?= ./fcgi-wsgi
AB_SECONDS ?= 5
.PHONY: bench-ab
bench-ab: deps
	$(MAKE) all bench/fcgi-load
	bench/ab.sh $(AB_OLD) $(AB_NEW) $(AB_SECONDS)

# PYLINK's figures (bench/results/link-study.md): every way of linking
# libpython built from this tree, instructions (callgrind) and CPU per
# request of a hello app and of the Django demo, and the same Django request
# in process.  About 30 minutes.
LINK_STUDY_ARGS ?=
.PHONY: bench-link
bench-link: bench/fcgi-load
	@$(MAKE) --no-print-directory deps DEPS_TEST="$(DEPS_TEST) $(DEPS_BENCH)"
	$(PYTHON) bench/link_study.py $(LINK_STUDY_ARGS)

# Throughput against processes (1, 2, 4) x threads (1, 4, 16), hello and
# Django /hello/, behind one nginx with wrk -t2 -c64 (bench/scale.py);
# writes bench/results/scale.md.  About 4 minutes on 2 cores.  Env:
# BENCH_SECONDS (3), BENCH_ROUNDS (2), BENCH_WARMUP (1), SCALE_ONLY (e.g.
# "1x1,2x4": only those processes x threads), SCALE_OUT.
# CPU per hello request over a new unix connection each, user and
# kernel, against the kernel's floor (bench/kernel_floor.c: accept, read,
# send, close) and the C libfcgi responder; bench/floor.py writes
# bench/results/floor.md.  About 1 minute.  Env: BENCH_ROUNDS (5),
# BENCH_REQUESTS (200000).
.PHONY: bench-floor
bench-floor:
	@$(MAKE) --no-print-directory deps DEPS_TEST="$(DEPS_TEST) $(DEPS_BENCH)"
	$(MAKE) build/bench/fcgi-wsgi build/bench/c_responder \
	    build/bench/kernel_floor bench/fcgi-load
	$(PYTHON) bench/floor.py

.PHONY: bench-scale
bench-scale:
	@$(MAKE) --no-print-directory deps DEPS_TEST="$(DEPS_TEST) $(DEPS_BENCH)"
	$(MAKE) all build/bench/fcgi-wsgi bench/fcgi-load
	BENCH_CFLAGS='$(BENCH_CFLAGS)' $(PYTHON) bench/scale.py

bench/fcgi-load: bench/fcgi-load.c
	$(CC) $(STD) $(WARN) -O2 -o $@ $<

# The FastCGI record parser under libFuzzer (clang, ASan+UBSan), seeded
# from tests/fuzz/corpus (captures of nginx, Apache and lighttpd, crafted
# streams); what it finds new goes to build/fuzz/corpus, a crash to
# build/fuzz/crash-*.  FUZZ_SECONDS per job, FUZZ_JOBS jobs in parallel;
# the last line sums the executions.  The 1-CPU-hour run of issue 7:
#   make fuzz FUZZ_SECONDS=3600              (one job, one hour)
#   make fuzz FUZZ_SECONDS=1800 FUZZ_JOBS=2  (both cores, half an hour)
FUZZ_SECONDS ?= 20
FUZZ_JOBS    ?= 1
FUZZ_FLAGS    = -max_total_time=$(FUZZ_SECONDS) -max_len=131072 -timeout=10 \
                -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix=build/fuzz/
build/fuzz/fuzz_wire: tests/fuzz/fuzz_wire.c $(WIRE_RECORDS) \
                      bridge/wire/wire.h bridge/wire/wire_int.h
	@mkdir -p $(dir $@)
	clang $(STD) $(WARN) -g -O1 -I. -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ tests/fuzz/fuzz_wire.c \
	    $(WIRE_RECORDS)

fuzz: build/fuzz/fuzz_wire
	@mkdir -p build/fuzz/corpus
	@rc=0; pids=""; for j in $$(seq 1 $(FUZZ_JOBS)); do \
	    build/fuzz/fuzz_wire $(FUZZ_FLAGS) build/fuzz/corpus tests/fuzz/corpus \
	        >build/fuzz/job$$j.log 2>&1 & pids="$$pids $$!"; \
	done; \
	for p in $$pids; do wait $$p || rc=1; done; \
	for j in $$(seq 1 $(FUZZ_JOBS)); do echo "== fuzz job $$j"; \
	    grep -E 'ERROR|SUMMARY|Test unit written|DONE|stat::' \
	        build/fuzz/job$$j.log; \
	done; \
	awk '/stat::number_of_executed_units/ {n += $$2} \
	     /stat::average_exec_per_sec/ {rate += $$2} \
	     /stat::peak_rss_mb/ {if ($$2 > rss) rss = $$2} \
	     END {printf "fuzz: %d executions, %d/s, %d job(s) of %d s, peak RSS %d MB\n", \
	          n, rate, $(FUZZ_JOBS), $(FUZZ_SECONDS), rss}' \
	    $$(for j in $$(seq 1 $(FUZZ_JOBS)); do echo build/fuzz/job$$j.log; done); \
	exit $$rc

# The differential test against libfcgi 2.4.2 (tests/diff/run_diff.py):
# our parser (under ASan+UBSan) and libfcgi's reader, in a child process
# since it can crash, on the captures of nginx, Apache and lighttpd and
# on crafted streams.  tests/diff/capture.py regenerates the captures.
build/diff/ours: tests/diff/ours.c $(WIRE_RECORDS) bridge/wire/wire.h \
                 bridge/wire/wire_int.h tests/diff/canon.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -g -O1 -I. $(SAN) -o $@ tests/diff/ours.c \
	    $(WIRE_RECORDS)

build/diff/oracle_libfcgi: tests/diff/oracle_libfcgi.c tests/diff/canon.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -g -O1 -I. $(shell pkg-config --cflags fcgi) -o $@ $< \
	    $(shell pkg-config --libs fcgi)

test-diff: build/diff/ours build/diff/oracle_libfcgi
	$(PYTHON) tests/diff/run_diff.py build/diff

# The man page is help2man's reading of --help (itself printed from the
# option table, so the page never drifts from it) with the sections of
# packaging/fcgi-wsgi.h2m; the version comes from conf/conf.h, so that it
# takes nothing from --version's other lines.
build/man/fcgi-wsgi.1: fcgi-wsgi packaging/fcgi-wsgi.h2m conf/conf.h
	@mkdir -p $(dir $@)
	help2man --no-info --no-discard-stderr --section 1 \
	    --name "FastCGI server for Python WSGI applications" \
	    --version-string "$(VERSION)" \
	    --include packaging/fcgi-wsgi.h2m --output $@.tmp ./fcgi-wsgi
	mv $@.tmp $@

man: build/man/fcgi-wsgi.1

# The binary, the man page, the template unit fcgi-wsgi@SITE (SITE.ini in
# SYSCONFDIR/fcgi-wsgi/), a logrotate snippet, and the examples (an ini
# file, the systemd units of examples/systemd/).
install: fcgi-wsgi build/man/fcgi-wsgi.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	    $(DESTDIR)$(SYSCONFDIR)/fcgi-wsgi \
	    $(DESTDIR)$(DOCDIR)/examples/systemd
	install -m 755 fcgi-wsgi $(DESTDIR)$(BINDIR)/fcgi-wsgi
	install -m 644 build/man/fcgi-wsgi.1 $(DESTDIR)$(MANDIR)/man1/fcgi-wsgi.1
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
	    packaging/fcgi-wsgi@.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/fcgi-wsgi@.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/fcgi-wsgi@.service
	install -m 644 packaging/fcgi-wsgi.logrotate \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/fcgi-wsgi
	install -m 644 packaging/example.ini $(DESTDIR)$(DOCDIR)/examples/example.ini
	install -m 644 examples/systemd/fcgi-wsgi.service \
	    examples/systemd/fcgi-wsgi.socket $(DESTDIR)$(DOCDIR)/examples/systemd/

# The Debian package (debian/, debhelper), built from a copy of the tree in
# build/deb/ (the .deb lands there), then checked by lintian: any error
# fails, warnings are printed.  DEB_BUILD_OPTIONS=nocheck skips the unit
# tests the build runs.
deb:
	@$(MAKE) --no-print-directory deps
	rm -rf build/deb && mkdir -p build/deb/fcgi-wsgi-$(VERSION)
	tar -cf - --exclude=./build --exclude=./.git --exclude=./fcgi-wsgi \
	    --exclude='__pycache__' . | tar -xf - -C build/deb/fcgi-wsgi-$(VERSION)
	cd build/deb/fcgi-wsgi-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --info build/deb/fcgi-wsgi_$(VERSION)_*.changes

format:
	clang-format -i $(FORMAT_SRC)

# Fails, naming the lines, where a C file differs from `make format`.
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf build fcgi-wsgi bench/fcgi-load

-include $(shell find build -path build/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
