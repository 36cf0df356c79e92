// jansson ownership for governance code: one RAII owner, safe string
// members (invalid UTF-8 and NUL replaced, see text.h).
#pragma once

#include <jansson.h>

#include <memory>
#include <string>
#include <vector>

namespace realm_sidecar {
namespace gov {

struct JsonDeleter {
  void operator()(json_t* j) const { json_decref(j); }
};
using Json = std::unique_ptr<json_t, JsonDeleter>;

// A JSON string of sanitize_utf8(s); never null.
Json json_str(const std::string& s);
Json json_str_array(const std::vector<std::string>& values);
// obj[key] = value (takes ownership of value).
void json_put(json_t* obj, const char* key, Json value);
// Compact text, keys in insertion order.
std::string json_dump(const json_t* j);

}  // namespace gov
}  // namespace realm_sidecar
