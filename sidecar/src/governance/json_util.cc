#include "json_util.h"

#include <cstdlib>

#include "text.h"

namespace realm_sidecar {
namespace gov {

Json json_str(const std::string& s) {
  std::string clean = sanitize_utf8(s);
  return Json(json_stringn(clean.data(), clean.size()));
}

Json json_str_array(const std::vector<std::string>& values) {
  Json arr(json_array());
  for (const auto& v : values) json_array_append_new(arr.get(), json_str(v).release());
  return arr;
}

void json_put(json_t* obj, const char* key, Json value) {
  json_object_set_new(obj, key, value.release());
}

std::string json_dump(const json_t* j) {
  char* text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) return "null";
  std::string out(text);
  free(text);
  return out;
}

}  // namespace gov
}  // namespace realm_sidecar
