# realm_sidecar_governance: policy decisions (built-in rules, OPA-shaped
# policy service client) and the hash-chained audit ledger on PostgreSQL.
# Include it from sidecar/CMakeLists.txt and link the target:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/src/governance/governance.cmake)
#   target_link_libraries(realm-sidecar PRIVATE realm_sidecar_governance)
# governed_call.{h,cc} belongs to the sidecar target, not to this library.
# PgAuditLedger calls store/pg.h; whoever links this library links pg.cc too.
# Expects the root CMakeLists' PkgConfig::JANSSON, PkgConfig::CURL and OpenSSL.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/../util/util.cmake)

if(NOT TARGET PkgConfig::REALM_GOV_PQ)
  pkg_check_modules(REALM_GOV_PQ REQUIRED IMPORTED_TARGET libpq)
endif()

set(REALM_GOV_DIR ${CMAKE_CURRENT_LIST_DIR})
# GET /metrics' registry (src/metrics): its own library, so that the
# ledger below and everything in realm_sidecar_lib can count.
add_library(realm_sidecar_metrics STATIC
  ${REALM_GOV_DIR}/../metrics/registry.cc
  ${REALM_GOV_DIR}/../metrics/sidecar_metrics.cc
)
target_include_directories(realm_sidecar_metrics PUBLIC ${REALM_GOV_DIR}/..)
target_link_libraries(realm_sidecar_metrics PUBLIC realm_auth_core Threads::Threads)

add_library(realm_sidecar_governance STATIC
  ${REALM_GOV_DIR}/authorize_json.cc
  ${REALM_GOV_DIR}/builtin_policy.cc
  ${REALM_GOV_DIR}/ledger_hash.cc
  ${REALM_GOV_DIR}/ledger_head.cc
  ${REALM_GOV_DIR}/pg_audit_ledger.cc
  ${REALM_GOV_DIR}/remote_policy.cc
)
target_include_directories(realm_sidecar_governance PUBLIC
  ${REALM_GOV_DIR}            # "authorize.h", "audit_ledger.h", …
  ${REALM_GOV_DIR}/..)        # "store/pg.h", "governance/…"
# core: guarded.h for util/guard.h's guarded curl callbacks, and the key
# files and seal format (redis_seal.h) the ledger's keys and published head use.
target_link_libraries(realm_sidecar_governance PUBLIC
  realm_auth_core realm_sidecar_util realm_sidecar_metrics OpenSSL::Crypto PkgConfig::JANSSON PkgConfig::CURL PkgConfig::REALM_GOV_PQ)
