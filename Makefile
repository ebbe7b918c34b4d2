# SPDX-License-Identifier: Apache-2.0
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

.PHONY: all deps configure build build-arm64 test run bench fuzz test-asan test-tsan deb deb-arm64 clean

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

# The daemon, its plugins and the SDK for 64-bit Arm, cross-compiled with Debian's
# aarch64-linux-gnu gcc against an arm64 sysroot unpacked in ARM64_DIR/sysroot (scripts/arm64-sysroot:
# the host's dpkg is not touched); the binaries run under qemu-aarch64-static (docs/build.md).
ARM64_DIR ?= build-arm64
ARM64_FLAGS ?= -DPG_BUILD_TESTS=OFF -DPG_BUILD_BENCH=OFF
build-arm64: deps
	@scripts/install-deps arm64
	@scripts/arm64-sysroot $(ARM64_DIR)/sysroot >/dev/null
	@cmake -S . -B $(ARM64_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake $(CMAKE_FLAGS) $(ARM64_FLAGS) >/dev/null
	@cmake --build $(ARM64_DIR) -j $(JOBS)

# The Debian packages of a built tree, phantomguard_<version>_<arch>.deb and
# phantomguard-sdk_<version>_all.deb, into DEB_DIR, each checked by lintian (docs/packaging.md).
# `deb` packages build/, `deb-arm64` the cross-built tree (the SDK package is Architecture: all,
# the same file either way). lintian leaves its ELF caches in TMPDIR: one inside the tree.
DEB_DIR ?= dist
define make_debs
	@packaging/deb/build-debs $(1) $(DEB_DIR) > $(1)/debs.txt
	@cat $(1)/debs.txt
	@mkdir -p $(1)/lintian-tmp
	@TMPDIR=$(abspath $(1))/lintian-tmp lintian --fail-on error,warning $$(cat $(1)/debs.txt)
endef
deb: build
	$(call make_debs,$(BUILD_DIR))
deb-arm64: build-arm64
	$(call make_debs,$(ARM64_DIR))

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

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, and the engine, isolation
# and plugin tests under ThreadSanitizer, each in its own tree (docs/hardening.md). A report
# fails the test that triggered it (TSan: exitcode 66).
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
# verify_asan_link_order=0: the ld.so.preload rootkit tests put their hook library ahead of
# ASan's runtime in the engine, as a real preload rootkit would.
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=0:strict_string_checks=1:verify_asan_link_order=0
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS ?= halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$(CURDIR)/scripts/tsan.supp
space := $(subst ,, )
TSAN_TARGETS ?= test_engine test_engine_work test_isolation test_plugins test_sdk_engine
test-asan: deps
	@cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPG_SANITIZE=address \
	  -DPG_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	@cd $(ASAN_DIR) && PG_SANITIZER=address ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

# TSan needs the actor framework instrumented too: scripts/build-caf-tsan builds CAF 0.17.6 (the
# release Debian packages) from Debian's source tarball with -fsanitize=thread, once.
test-tsan: deps
	@scripts/build-caf-tsan $(TSAN_DIR)/caf
	@cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPG_SANITIZE=thread \
	  -DPG_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH=$(abspath $(TSAN_DIR))/caf/install \
	  $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_DIR) -j $(JOBS) --target $(TSAN_TARGETS)
	@cd $(TSAN_DIR) && PG_SANITIZER=thread ctest --output-on-failure -j $(JOBS) \
	  -L '^($(subst $(space),|,$(strip $(TSAN_TARGETS))))$$' $(CTEST_FLAGS)

clean:
	@rm -rf $(BUILD_DIR) $(FUZZ_DIR) $(ASAN_DIR) $(TSAN_DIR) $(DEB_DIR) $(ARM64_DIR)
