#include "json.h"

#include <utility>

namespace realm_auth {

namespace {

// True if no object/array below `j` (which sits at `depth`) goes deeper than
// max_depth. Stops at the first violation, so the recursion is bounded by
// max_depth + 1 whatever the input.
bool within_depth(const json_t* j, size_t depth, size_t max_depth) {
  if (!json_is_object(j) && !json_is_array(j)) return true;
  if (depth > max_depth) return false;
  if (json_is_object(j)) {
    const char* key;
    json_t* value;
    // json_object_foreach takes a non-const object; it does not modify it.
    json_object_foreach(const_cast<json_t*>(j), key, value) {
      if (!within_depth(value, depth + 1, max_depth)) return false;
    }
  } else {
    size_t i;
    json_t* value;
    json_array_foreach(j, i, value) {
      if (!within_depth(value, depth + 1, max_depth)) return false;
    }
  }
  return true;
}

}  // namespace

Status parse_json_object(std::string_view text, size_t max_depth, Status not_object, JsonPtr& out) {
  out.reset();
  json_error_t error;
  // No JSON_DECODE_ANY: only an object or array parses at the top; no
  // JSON_ALLOW_NUL: "\u0000" in a string is refused, so every string is a
  // valid C string for the header and log code downstream.
  JsonPtr root(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &error));
  if (!root) {
    switch (json_error_code(&error)) {
      case json_error_duplicate_key:
        return Status::kDuplicateKey;
      case json_error_stack_overflow:  // deeper than jansson's own limit
        return Status::kJsonTooDeep;
      default:
        return not_object;
    }
  }
  if (!json_is_object(root.get())) return not_object;
  if (!within_depth(root.get(), 1, max_depth)) return Status::kJsonTooDeep;
  out = std::move(root);
  return Status::kOk;
}

bool json_get_string(const json_t* obj, const char* key, std::string_view& out) {
  const json_t* value = json_object_get(obj, key);
  if (!json_is_string(value)) {
    out = {};
    return false;
  }
  out = std::string_view(json_string_value(value), json_string_length(value));
  return true;
}

}  // namespace realm_auth
