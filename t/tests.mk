# Test targets for the Perl suites under t/ (included by the top Makefile).
#
#   make test-harness          self-tests of the runner, issuer and helpers
#                              (plain nginx, no module needed)
#   make test-module-only      the module suites, without rebuilding first
#   make test-module-real      the same suites under the real Test::Nginx
#                              (CPAN's Test::Nginx::Socket must be installed)
#
# PROVE_JOBS=4 runs files in parallel (each file has its own port, server
# root and issuer). TEST_NGINX_VERBOSE=1 prints raw requests and responses;
# TEST_NGINX_NO_CLEAN=1 keeps t/servroot_* for inspection.

PROVE ?= prove
PROVE_JOBS ?= 1
T_MODULE_SO ?= $(abspath $(or $(MODULE),build/modules/ngx_http_realm_auth_module.so))

.PHONY: test-harness test-module-only test-module-real

test-harness:
	$(PROVE) -j$(PROVE_JOBS) -It/lib -It/lib/mini -r t/harness

test-module-only:
	TEST_NGINX_REALM_AUTH_MODULE=$(T_MODULE_SO) $(PROVE) -j$(PROVE_JOBS) -It/lib -It/lib/mini -r t/module

test-module-real:
	TEST_NGINX_REALM_AUTH_MODULE=$(T_MODULE_SO) TEST_NGINX_RANDOMIZE=1 \
	  $(PROVE) -It/lib -r t/module
