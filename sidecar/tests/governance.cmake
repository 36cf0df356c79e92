# Governance tests (CMocka via CTest). Include from sidecar/CMakeLists.txt
# after the sidecar's own targets:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/tests/governance.cmake)
# It includes src/governance/governance.cmake itself. The ledger tests need
# store/pg.cc and store/migrate.cc: linked from the target named by
# REALM_SIDECAR_STORE_TARGET when the sidecar defines one, else compiled
# here into a private library.
#
#   governance_policy          built-in rules: role matrix, reasons, request JSON
#   governance_ledger_hash     canonical form, SHA-256 vectors, chain breaks
#   governance_remote_policy   policy-service client vs a scripted HTTP server
#   governance_policy_matrix   built-in rules vs real OPA serving conf/policy/realm_auth.rego
#                              (with_opa.sh; skipped without a provisioned opa unless REALM_AUTH_REQUIRE_OPA=1)
#   governance_pg_audit_ledger PgAuditLedger vs a throwaway PostgreSQL cluster
#                              (with_pg_cluster.sh; skips without PostgreSQL binaries)
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/../src/governance/governance.cmake)

if(NOT TARGET PkgConfig::REALM_GOV_CMOCKA)
  pkg_check_modules(REALM_GOV_CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
find_package(Threads REQUIRED)

set(REALM_GOV_TESTS_DIR ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(REALM_GOV_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)

if(DEFINED REALM_SIDECAR_STORE_TARGET AND TARGET ${REALM_SIDECAR_STORE_TARGET})
  set(REALM_GOV_STORE ${REALM_SIDECAR_STORE_TARGET})
else()
  add_library(realm_gov_test_store STATIC
    ${REALM_GOV_TESTS_DIR}/../src/store/pg.cc
    ${REALM_GOV_TESTS_DIR}/../src/store/migrate.cc)
  target_include_directories(realm_gov_test_store PUBLIC ${REALM_GOV_TESTS_DIR}/../src)
  target_link_libraries(realm_gov_test_store PUBLIC PkgConfig::REALM_GOV_PQ)
  set(REALM_GOV_STORE realm_gov_test_store)
endif()

foreach(name policy ledger_hash remote_policy policy_matrix pg_audit_ledger)
  add_executable(governance_${name}_test ${REALM_GOV_TESTS_DIR}/${name}_test.cc)
  target_include_directories(governance_${name}_test PRIVATE ${REALM_GOV_TESTS_DIR})
  target_link_libraries(governance_${name}_test PRIVATE
    realm_sidecar_governance ${REALM_GOV_STORE} PkgConfig::REALM_GOV_CMOCKA Threads::Threads)
endforeach()

add_test(NAME governance_policy COMMAND governance_policy_test)
add_test(NAME governance_ledger_hash COMMAND governance_ledger_hash_test)
add_test(NAME governance_remote_policy COMMAND governance_remote_policy_test)
add_test(NAME governance_policy_matrix
  COMMAND ${REALM_GOV_TESTS_DIR}/with_opa.sh ${REALM_GOV_ROOT} $<TARGET_FILE:governance_policy_matrix_test>)
add_test(NAME governance_pg_audit_ledger
  COMMAND ${REALM_GOV_TESTS_DIR}/with_pg_cluster.sh $<TARGET_FILE:governance_pg_audit_ledger_test>)
set_tests_properties(governance_policy governance_ledger_hash governance_remote_policy
  PROPERTIES TIMEOUT 60)
# The first run may build OPA from source (go install, a few minutes).
set_tests_properties(governance_policy_matrix PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
set_tests_properties(governance_pg_audit_ledger PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
  ENVIRONMENT "GOV_MIGRATIONS_DIR=${REALM_GOV_ROOT}/migrations")
