# PhantomGuard — the two set-up commands are `make run` and `make test` (see README.md).
BUILD_DIR ?= build
# Optimised without debug info: the build is about a third faster and the test binaries far
# smaller (set BUILD_TYPE=RelWithDebInfo for a debuggable build).
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DPG_WERROR=ON
# ccache keys on paths relative to the checkout, so a fresh clone (CI) reuses earlier compiles.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
CTEST_FLAGS ?=

.PHONY: all deps configure build test run bench fuzz clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

# A scan exits 1 when it finds something at or above --fail-on: that is a result, not a failed
# command, so `make run` succeeds on 0 and 1 and fails only on a usage or config error (2) or worse.
run: build
	@$(BUILD_DIR)/bin/phantomguard scan; rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "phantomguard: findings at or above 'high' (scan exit code 1)"; fi; \
	  [ $$rc -le 1 ]

bench: build
	@scripts/run-benchmarks $(BUILD_DIR)

# libFuzzer targets (fuzz/), built with clang, ASan and UBSan in their own tree, each run for
# FUZZ_SECONDS from its seed corpus (docs/hardening.md).
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 30
fuzz:
	@scripts/install-deps fuzz
	@CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPG_FUZZ=ON -DPG_BUILD_TESTS=OFF -DPG_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target pg_fuzzers
	@scripts/run-fuzzers $(FUZZ_DIR) $(FUZZ_SECONDS)

clean:
	@rm -rf $(BUILD_DIR) $(FUZZ_DIR)
