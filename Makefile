# tocsin: one plain Makefile.
#
#   make                 build everything (warnings are errors)
#   make test            install missing packages, build, fuzz briefly, run every test
#   make demo            install missing packages, build, run the demo
#   make SANITIZER=address|undefined|thread test
#                        the same under a sanitizer (libc malloc, own build dir)
#   make bench           run the benchmarks under bench/
#   make soak [DURATION=30m] [SEED=N] [SOAK_DEVICES=10000]
#                        the soak with chaos (tests/soak/, docs/testing.md
#                        "Soak"), into build/soak/RUN; not part of make test
#   make install         install the programs, man pages, example config and
#                        systemd unit (PREFIX=/usr/local, DESTDIR, SYSCONFDIR=/etc)
#   make deps            install the Debian packages that are missing
#   make clean
#
# Sources are found by directory, so a new module is a new .c/.h pair and
# nothing here changes: every .c under daemon/, correlator/ and drivers/ that
# is not a program's main goes into libtocsin.a; every tests/unit/test_*.c and
# tests/integration/test_*.c goes into the one Criterion binary; every
# bench/*.c with a main is a bench program; every tests/fuzz/fuzz_*.c is a
# libFuzzer target.

SANITIZER ?=
MAKEFLAGS += --no-print-directory
BUILD     ?= build/$(if $(SANITIZER),$(SANITIZER),default)
CC        ?= cc
FUZZ_CC   ?= clang
FUZZ_SECONDS ?= 20

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN   := -Wall -Wextra -Werror -Wmissing-prototypes -Wmissing-declarations \
          -Wshadow -Wpointer-arith -Wformat=2 -Wno-unused-parameter
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -I. \
          -DTOCSIN_VERSION='"$(VERSION)"' -MMD -MP
# What the daemon links: only what its code includes (jansson: actions,
# rejections and HTTP bodies; hiredis, librdkafka: the publishers;
# libmicrohttpd: the HTTP server).  Tests add Criterion and
# libmodbus (the independent server); benches add libmodbus (the blocking
# baseline and devsim's modbus_reply).
LDLIBS := -lev -lrdkafka -lhiredis -lmicrohttpd -lyaml -ljansson -lm -lpthread
TEST_LDLIBS  := -lcriterion -lmodbus
BENCH_LDLIBS := -lmodbus

BASE_LDLIBS := $(LDLIBS)
ifeq ($(SANITIZER),)
  CFLAGS += -DTOCSIN_JEMALLOC
  LDLIBS += -ljemalloc
else
  CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=$(SANITIZER)
endif

PROGRAMS := $(wildcard daemon/tocsind.c daemon/tocsinctl.c)
LIB_SRC  := $(filter-out $(PROGRAMS),$(wildcard daemon/*.c correlator/*.c drivers/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libtocsin.a

TEST_SRC := $(wildcard tests/unit/test_*.c tests/integration/test_*.c tests/support/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
TESTBIN  := $(BUILD)/tests/tocsin-tests

LP := (
BENCH_MAIN := $(shell grep -l '^main$(LP)' bench/*.c 2>/dev/null)
BENCH_LIB  := $(filter-out $(BENCH_MAIN),$(wildcard bench/*.c))
BENCH_BIN  := $(BENCH_MAIN:bench/%.c=$(BUILD)/bench/%)

# Stress drivers: programs that hammer the threaded parts; under
# SANITIZER=thread they are how ThreadSanitizer sees those parts.
STRESS_SRC := $(wildcard tests/stress/stress_*.c)
STRESS_BIN := $(STRESS_SRC:tests/stress/%.c=$(BUILD)/stress/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

BINS := $(PROGRAMS:daemon/%.c=$(BUILD)/%)

.PHONY: all test unit demo bench deps fuzz clean install man soak
.SECONDARY:

# Criterion cannot start under ThreadSanitizer (its arena mmap collides with
# TSan's shadow: Snaipe/Criterion#274), so a thread build makes the programs
# (tocsind, bench, stress drivers) with TSan and runs them from the
# uninstrumented test binary of the default build.
ifeq ($(SANITIZER),thread)
all: $(BINS) $(BENCH_BIN) $(STRESS_BIN)
TESTRUN := build/default/tests/tocsin-tests
$(TESTRUN): FORCE
	$(MAKE) SANITIZER= $(TESTRUN)
else
all: $(BINS) $(BENCH_BIN) $(STRESS_BIN) $(TESTBIN)
TESTRUN := $(TESTBIN)
endif
.PHONY: FORCE
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The NOC page (web/) is compiled into tocsind: web/embed.py turns its
# files into byte arrays that daemon/webui.c includes (docs/noc.md).
WEB_SRC := $(wildcard web/*.html web/*.css web/*.js web/*.svg)
build/gen/webassets.inc: $(WEB_SRC) web/embed.py
	@mkdir -p $(dir $@)
	python3 web/embed.py $@ $(WEB_SRC)
$(BUILD)/daemon/webui.o build/fuzz/obj/daemon/webui.o: build/gen/webassets.inc

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/%: $(BUILD)/daemon/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_LIB:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(BENCH_LDLIBS) $(LDLIBS)

$(BUILD)/stress/%: $(BUILD)/tests/stress/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TESTBIN): $(TEST_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

# libFuzzer targets: clang, ASan + UBSan, libc malloc, own object dir.
# -fno-sanitize-recover: undefined behaviour stops the run and fails the
# target, as a crash does (printed and passed over, it went unnoticed).
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -pthread -I. -DTOCSIN_FUZZ \
               -DTOCSIN_VERSION='"$(VERSION)"' \
               -fno-sanitize-recover=undefined
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
# -MMD -MP: a header change rebuilds the objects that include it, as in the
# main build (a stale object with an old struct layout is a false crash).
# A target's own .c is compiled at every link, and any header change
# relinks it through the objects.
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(BASE_LDLIBS)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	      -print_final_stats=0 build/fuzz/corpus-$$n tests/fuzz/seeds/$$n \
	      >build/fuzz/$$n.log 2>&1 || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	  grep -E '^(Done|#[0-9]+ *DONE)' build/fuzz/$$n.log | tail -1; \
	done

deps:
	@sh .ci/deps.sh

# The Criterion binary holds every unit and integration test; its summary
# line is the last thing `make test` prints.
# Under AddressSanitizer the Criterion runner itself is not leak-checked
# (it leaks a few bytes of its own: tests/support/lsanhook.c); every test
# process and every program a test starts still is.  A test process's
# leak is reported after its result, which Criterion has already counted
# as passed: so the run's output is kept and a LeakSanitizer report in it
# fails `unit` (the programs' reports are in their stderr, which their
# tests read).  UNIT_ARGS: more arguments for the runner (--filter ...).
UNIT_CMD = TOCSIN_BUILD=$(BUILD) TOCSIN_SANITIZER=$(SANITIZER) \
	$(TESTRUN) --jobs 2 $(UNIT_ARGS)
ifeq ($(SANITIZER),address)
unit: all $(TESTRUN)
	@{ LSAN_OPTIONS=detect_leaks=0 TOCSIN_LSAN_RUNNER=off $(UNIT_CMD); \
	    echo $$? >$(BUILD)/unit.rc; } 2>&1 | tee $(BUILD)/unit.log; \
	if grep -q 'ERROR: LeakSanitizer' $(BUILD)/unit.log; then \
	    echo 'unit: a test process leaked (LeakSanitizer above)'; exit 1; \
	fi; exit $$(cat $(BUILD)/unit.rc)
else
unit: all $(TESTRUN)
	$(UNIT_CMD)
endif

ifeq ($(SANITIZER),)
test: deps
	$(MAKE) all
	$(MAKE) fuzz
	$(MAKE) unit
else
test: deps
	$(MAKE) SANITIZER=$(SANITIZER) unit
endif

demo: deps all
	@sh etc/demo.sh $(BUILD)

bench: all
	@sh bench/run.sh $(BUILD)

# The soak (issue 15): tocsind, 10,000 simulated devices, the real Kafka
# broker and redis-server for DURATION under seeded faults and chaos, then
# tests/soak/check.py on the run directory (its exit status is make's).
# A 3-minute smoke of the same harness runs in make test (soak/*).
DURATION     ?= 30m
SEED         ?= $(shell date -u +%Y%m%d)
SOAK_DEVICES ?= 10000
RUN          ?= $(shell date -u +%Y%m%dT%H%M%SZ)-seed$(SEED)
soak: deps
	$(MAKE) all
	python3 tests/soak/soak.py --duration $(DURATION) --seed $(SEED) \
	    --devices $(SOAK_DEVICES) --build $(BUILD) --out build/soak/$(RUN)

# Installation (docs/install.md).  Nothing here needs root when DESTDIR is
# set; an existing $(SYSCONFDIR)/tocsin/tocsin.yaml is never overwritten.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/tocsin
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MAN_SRC     := $(wildcard docs/man/*.[1-8])
MAN_GEN     := $(BUILD)/man/tocsin.yaml.5

# tocsin.yaml(5) is docs/configuration.md, so its key tables exist once.
$(BUILD)/man/tocsin.yaml.5: docs/configuration.md docs/man/md2man.py
	@mkdir -p $(dir $@)
	python3 docs/man/md2man.py tocsin.yaml 5 "tocsind configuration file" \
	    <docs/configuration.md >$@.tmp.$$$$ && mv -f $@.tmp.$$$$ $@

man: $(MAN_GEN)
all: $(MAN_GEN)

install: $(BINS) $(MAN_GEN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples \
	    $(DESTDIR)$(SYSCONFDIR)/tocsin $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(BUILD)/tocsind $(DESTDIR)$(SBINDIR)/tocsind
	if [ -f $(BUILD)/tocsinctl ]; then \
	    install -m 755 $(BUILD)/tocsinctl $(DESTDIR)$(BINDIR)/tocsinctl; fi
	for m in $(MAN_SRC) $(MAN_GEN); do \
	    s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	sed -e 's|/usr/local/sbin|$(SBINDIR)|g' \
	    -e 's|/etc/tocsin|$(SYSCONFDIR)/tocsin|g' etc/tocsind.service \
	    >$(DESTDIR)$(UNITDIR)/tocsind.service
	chmod 644 $(DESTDIR)$(UNITDIR)/tocsind.service
	install -m 644 etc/tocsin.sysusers $(DESTDIR)$(SYSUSERSDIR)/tocsin.conf
	install -m 644 etc/tocsin.yaml $(DESTDIR)$(DOCDIR)/examples/tocsin.yaml
	install -m 644 README.md docs/*.md etc/openapi.json $(DESTDIR)$(DOCDIR)/
	install -m 644 etc/grafana-tocsin.json etc/prometheus-rules.yml \
	    $(DESTDIR)$(DOCDIR)/examples/
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/tocsin/tocsin.yaml ]; then \
	    install -m 644 etc/tocsin.yaml $(DESTDIR)$(SYSCONFDIR)/tocsin/tocsin.yaml; \
	else echo "install: $(DESTDIR)$(SYSCONFDIR)/tocsin/tocsin.yaml exists, kept"; fi

clean:
	rm -rf build

-include $(FUZZ_OBJ:.o=.d)
-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(PROGRAMS:%.c=$(BUILD)/%.d) \
         $(BENCH_MAIN:%.c=$(BUILD)/%.d) $(STRESS_SRC:%.c=$(BUILD)/%.d)
