// jansson with the limits a token parser needs: duplicate member names are
// refused (two "sub" claims must not let different readers see different
// subjects) and nesting depth is bounded. RAII owner for json_t.
#pragma once

#include <jansson.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "status.h"

namespace realm_auth {

struct JsonDeleter {
  void operator()(json_t* j) const { json_decref(j); }
};
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;

// Parses `text` as one JSON object. Errors: kDuplicateKey, kJsonTooDeep
// (objects/arrays nested deeper than max_depth; the top object is depth 1),
// otherwise `not_object` (syntax error, trailing bytes, not an object).
Status parse_json_object(std::string_view text, size_t max_depth, Status not_object, JsonPtr& out);

// Member `key` of object `obj` if it is a JSON string, else empty view and
// false. The view points into `obj` and lives as long as it does.
bool json_get_string(const json_t* obj, const char* key, std::string_view& out);

}  // namespace realm_auth
