# One entry point for every task. `make demo` and `make test` work on a
# fresh Debian 12 machine: each target installs what is missing first.
SHELL := /bin/bash
BUILD_DIR ?= build
NGX_SRC := $(BUILD_DIR)/nginx-src
MODULE := $(BUILD_DIR)/modules/ngx_http_realm_auth_module.so
JOBS ?= 2

.PHONY: all deps build nginx-src unit unit-asan test test-module fuzz bench format clean
all: build

deps:
	@scripts/install-deps.sh

nginx-src: deps
	@scripts/configure-nginx.sh $(NGX_SRC)

# Release build of the module (and, later, the sidecar) with the core library.
build: nginx-src
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNGX_SRC_DIR=$(abspath $(NGX_SRC)) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# Core unit tests (CMocka through CTest), normal and sanitizer builds.
unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure

unit-asan: deps
	@cmake -S . -B $(BUILD_DIR)/asan -DCMAKE_BUILD_TYPE=Debug -DREALM_AUTH_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_DIR)/asan -j$(JOBS)
	ctest --test-dir $(BUILD_DIR)/asan --output-on-failure

# Test::Nginx-style suites against real nginx with the built module.
test-module: build
	TEST_NGINX_REALM_AUTH_MODULE=$(abspath $(MODULE)) prove -It/lib -It/lib/mini -r t/module

test: unit unit-asan test-module

# libFuzzer targets (clang, ASan/UBSan); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD_DIR)/fuzz -DCMAKE_BUILD_TYPE=Debug -DREALM_AUTH_FUZZ=ON -DREALM_AUTH_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_DIR)/fuzz -j$(JOBS)
	@for f in $(BUILD_DIR)/fuzz/ngx_realm_auth/core/fuzz/fuzz_*; do \
	  [ -x "$$f" ] || continue; echo "== $$f"; \
	  "$$f" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; done

format:
	@find ngx_realm_auth -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)

bench: build
	bench/run.sh
