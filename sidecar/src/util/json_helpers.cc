#include "util/json_helpers.h"

#include <cstdlib>
#include <memory>

#include "util/text.h"

namespace realm_sidecar {

std::string json_text(const json_t* j) {
  if (j == nullptr) return "null";
  // JSON_PRESERVE_ORDER keeps documents readable (type, title, status …);
  // JSON_ENCODE_ANY lets scalars through for completeness.
  std::unique_ptr<char, decltype(&free)> s(
      json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY), &free);
  return s ? std::string(s.get()) : std::string("null");
}

namespace {

// What went wrong, in the caller's words: jansson's own e.text names its
// flags and internals ("\u0000 is not allowed without JSON_ALLOW_NUL"), so
// the code is mapped to a fixed, library-neutral sentence.
const char* parse_error_text(const json_error_t& e) {
  switch (json_error_code(&e)) {
    case json_error_invalid_utf8:
      return "text is not valid UTF-8";
    case json_error_premature_end_of_input:
      return "the document ends early";
    case json_error_end_of_input_expected:
      return "unexpected data after the JSON value";
    case json_error_null_character:
      return "strings must not contain \\u0000";
    case json_error_null_byte_in_key:
      return "member names must not contain \\u0000";
    case json_error_duplicate_key:
      return "a member name appears twice";
    case json_error_numeric_overflow:
      return "a number is out of range";
    case json_error_stack_overflow:
      return "nested too deeply";
    case json_error_out_of_memory:
      return "too large";
    default:
      return "invalid syntax";
  }
}

}  // namespace

JsonPtr json_parse(std::string_view text, std::string* error) {
  json_error_t e;
  // Duplicate member names are refused: two "slug" members must not let the
  // validator and the provisioner see different values.
  JsonPtr j(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &e));
  if (!j && error != nullptr) {
    *error = "line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": " +
             parse_error_text(e);
  }
  return j;
}

std::string json_member_string(const json_t* obj, const char* key, const std::string& fallback) {
  std::string_view v;
  return realm_auth::json_get_string(obj, key, v) ? std::string(v) : fallback;
}

JsonPtr json_string_of(std::string_view value) {
  const std::string clean = sanitize_utf8(value);
  return JsonPtr(json_stringn(clean.data(), clean.size()));
}

JsonPtr json_string_array(const std::vector<std::string>& values) {
  JsonPtr a(json_array());
  for (const auto& v : values) json_array_append_new(a.get(), json_string_of(v).release());
  return a;
}

void json_set(json_t* obj, const char* key, const std::string& value) {
  json_object_set_new(obj, key, json_string_of(value).release());
}
void json_set(json_t* obj, const char* key, const char* value) {
  json_object_set_new(obj, key, json_string_of(value != nullptr ? value : "").release());
}
void json_set(json_t* obj, const char* key, bool value) {
  json_object_set_new(obj, key, json_boolean(value));
}
void json_set(json_t* obj, const char* key, long long value) {
  json_object_set_new(obj, key, json_integer(value));
}
void json_set(json_t* obj, const char* key, JsonPtr value) {
  json_object_set_new(obj, key, value.release());
}

}  // namespace realm_sidecar
