# realm-sidecar targets, included from the top-level Makefile:
#   include mk/sidecar.mk
# They use $(BUILD_DIR) (build/) as the top Makefile does.

SIDECAR_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)

.PHONY: seed-demo sidecar-unit sidecar-e2e sidecar-reconcile audit-verify

## seed-demo: tenant "demo" with users tenant_admin officer supervisor auditor (idempotent; needs `make up`)
seed-demo:
	@$(SIDECAR_ROOT)/scripts/seed-demo.sh

## sidecar-unit: the sidecar's CMocka unit tests (realm spec, secret box, config, router, validation, problem+json, governed call)
sidecar-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -R '^sidecar_'

## sidecar-e2e: the sidecar's end-to-end suites against the running stack (t/e2e/03x-*.t)
sidecar-e2e:
	prove -I$(SIDECAR_ROOT)/t/e2e/lib $(SIDECAR_ROOT)/t/e2e/03*.t

## sidecar-reconcile: finish or roll back tenants left mid-provisioning, bring existing realms up to the current realm spec
sidecar-reconcile:
	@$(SIDECAR_ROOT)/scripts/stack/sidecar.sh run reconcile

## audit-verify: recompute the audit ledger's hash chain
audit-verify:
	@$(SIDECAR_ROOT)/scripts/stack/sidecar.sh run audit verify
