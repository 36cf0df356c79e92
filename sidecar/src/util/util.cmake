# realm_sidecar_util: the sidecar's one JSON helper set and the UTF-8 text
# rule it applies, linked by the governance library and the sidecar.
include_guard(GLOBAL)
add_library(realm_sidecar_util STATIC
  ${CMAKE_CURRENT_LIST_DIR}/json_helpers.cc
  ${CMAKE_CURRENT_LIST_DIR}/text.cc
)
target_include_directories(realm_sidecar_util PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(realm_sidecar_util PUBLIC realm_auth_core PkgConfig::JANSSON)
