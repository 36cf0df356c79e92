// The sidecar's one set of jansson helpers (API, Keycloak client, realm
// spec, policy input, ledger details). Ownership stays with JsonPtr (RAII
// from the core library); the json_set helpers steal nothing from the
// caller. Builders never drop a value: every string is made valid UTF-8
// without NUL first (sanitize_utf8, util/text.h), where jansson would
// otherwise refuse it and leave the member out silently.
#pragma once

#include <jansson.h>

#include <string>
#include <string_view>
#include <vector>

#include "json.h"  // realm_auth::JsonPtr

namespace realm_sidecar {

using realm_auth::JsonPtr;

// Compact JSON text of `j` ("null" for nullptr). Keys keep insertion order.
std::string json_text(const json_t* j);

// Parses any JSON document (object or array); nullptr on error, then `error`
// says where ("line 1, column 7: ...").
JsonPtr json_parse(std::string_view text, std::string* error = nullptr);

// Member `key` of `obj` as a std::string, or `fallback` when absent/not a string.
std::string json_member_string(const json_t* obj, const char* key,
                               const std::string& fallback = "");

// Array of strings from a vector.
JsonPtr json_string_array(const std::vector<std::string>& values);

// obj[key] = value, without the caller having to think about references
// (string values sanitized as json_string_of).
void json_set(json_t* obj, const char* key, const std::string& value);
void json_set(json_t* obj, const char* key, const char* value);
void json_set(json_t* obj, const char* key, bool value);
void json_set(json_t* obj, const char* key, long long value);
void json_set(json_t* obj, const char* key, JsonPtr value);

}  // namespace realm_sidecar
