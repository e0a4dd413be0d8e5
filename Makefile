# Posthorn: one Makefile. Everything but src/main.c goes into libposthorn.a,
# which is linked into the daemon, each unit test and each fuzz target.
#
#   make            build ./posthorn
#   make run        build, initialize ./run on first use, serve in the foreground
#   make test       warnings-as-errors build, unit tests, integration tests,
#                   short fuzz runs, then the suites again under ASan + UBSan
#   make asan|ubsan sanitizer builds in build/asan, build/ubsan
#   make fuzz       long fuzz runs (FUZZ_SECONDS per target)
#   make lint       banned functions and format attributes
#   make fmt        clang-format every source file

CC       ?= cc
PKGS      = libevent libevent_openssl libevent_pthreads openssl sqlite3 libunbound jansson zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypt -lpthread -lm

WARN     = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wno-unused-parameter
HARDEN   = -fstack-protector-strong -D_FORTIFY_SOURCE=2
OPT     ?= -O2 -g
CFLAGS  ?=
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS ?=

BUILD   ?= build/release
# Library sources: every .c under src/ except main.c, *_test.c and *_fuzz.c.
LIB_SRC  = $(filter-out src/main.c %_test.c %_fuzz.c,$(wildcard src/*/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard src/*/*_test.c) $(wildcard tests/unit/*_test.c)
TEST_BIN = $(TEST_SRC:%.c=$(BUILD)/%)
FUZZ_SRC = $(wildcard src/*/*_fuzz.c)
# The webmail's front end: every file under web/, embedded into the binary
# as a generated C file (scripts/webembed.c, built with the host compiler).
WEB_FILES = $(shell find web -type f ! -name '.*' ! -path '*/node_modules/*' 2>/dev/null | LC_ALL=C sort)
LIB_OBJ += $(BUILD)/gen/web_assets.o

.PHONY: all run test unit integration asan ubsan fuzz fuzz-short lint fmt clean deps bench web browser-deps FORCE

all: posthorn

posthorn: $(BUILD)/posthorn
	cp $< $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/webembed: scripts/webembed.c
	@mkdir -p $(dir $@)
	@$(CC) -O2 -o $@ $<

$(BUILD)/gen/web_files: FORCE
	@mkdir -p $(dir $@)
	@echo '$(WEB_FILES)' | cmp -s - $@ || echo '$(WEB_FILES)' > $@

$(BUILD)/gen/web_assets.c: $(BUILD)/webembed $(BUILD)/gen/web_files $(WEB_FILES)
	@echo "  EMBED web/ ($(words $(WEB_FILES)) files)"
	@$(BUILD)/webembed web/ $(WEB_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

FORCE:

$(BUILD)/libposthorn.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcsP $@ $^

$(BUILD)/posthorn: $(BUILD)/src/main.o $(BUILD)/libposthorn.a
	@echo "  LINK  $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%_test: %_test.c $(BUILD)/libposthorn.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libposthorn.a $(PKG_LIBS)

deps:
	@scripts/deps.sh

# Unit tests: every *_test program; each prints its failures and exits non-zero.
unit: deps $(BUILD)/posthorn $(TEST_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  if ! $$t >$$t.log 2>&1; then echo "FAIL $$t"; cat $$t.log; fail=1; \
	  else echo "ok   $$t ($$(grep -c '^ok' $$t.log) tests)"; fi; done; exit $$fail

integration: deps $(BUILD)/posthorn
	POSTHORN_BIN=$(abspath $(BUILD)/posthorn) /usr/bin/python3 -m pytest -q -x tests/integration $(PYTEST_ARGS)

# The browser tests' npm packages (playwright-core, pinned in
# tests/browser/package-lock.json); Chromium itself is Debian's.
browser-deps:
	@test -d tests/browser/node_modules/playwright-core || \
	    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

test: deps lint browser-deps
	$(MAKE) BUILD=build/release unit integration
	$(MAKE) fuzz-short
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" unit integration PYTEST_ARGS="-m 'not slow'"

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    CFLAGS="-fsanitize=address -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address" $(BUILD:build/release=build/asan)/posthorn

ubsan:
	$(MAKE) BUILD=build/ubsan OPT="-O1 -g" CFLAGS="-fsanitize=undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=undefined" build/ubsan/posthorn

# libFuzzer targets, built with clang into build/fuzz.
FUZZ_SECONDS ?= 600
FUZZ_BIN = $(FUZZ_SRC:%.c=build/fuzz/%)
build/fuzz/%_fuzz: %_fuzz.c
	$(MAKE) --no-print-directory BUILD=build/fuzz-lib CC=clang OPT="-O1 -g" \
	    CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" build/fuzz-lib/libposthorn.a
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -O1 -g -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    -o $@ $< build/fuzz-lib/libposthorn.a $(PKG_LIBS)

fuzz-short: $(FUZZ_BIN)
	@scripts/fuzz.sh 20 $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

lint:
	@scripts/lint.sh

fmt:
	clang-format -i $$(find src tests -name '*.[ch]')

run: deps posthorn
	@scripts/run.sh

clean:
	rm -rf build posthorn

-include $(shell find build -name '*.d' 2>/dev/null)
