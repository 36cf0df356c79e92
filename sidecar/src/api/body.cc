#include "api/body.h"

#include "http/problem.h"

namespace realm_sidecar {

bool BodyReader::fail(const std::string& field, const std::string& detail) {
  field_ = field;
  detail_ = detail;
  return false;
}

HttpResponse BodyReader::error() const {
  return problem(status_, detail_, field_, request_.request_id);
}

bool BodyReader::parse() {
  const std::string& ct = request_.header("content-type");
  if (!ct.empty() && ct.compare(0, 16, "application/json") != 0) {
    status_ = 415;
    return fail("", "Content-Type must be application/json, not " + ct.substr(0, 100));
  }
  if (request_.body.empty()) return fail("", "a JSON object body is required");
  std::string why;
  root_ = json_parse(request_.body, &why);
  if (!root_) return fail("", "request body is not valid JSON (" + why + ")");
  if (!json_is_object(root_.get())) return fail("", "request body must be a JSON object");
  return true;
}

bool BodyReader::only(std::initializer_list<const char*> allowed) {
  const char* key;
  json_t* value;
  json_object_foreach(root_.get(), key, value) {
    bool known = false;
    for (const char* a : allowed) known |= std::string(a) == key;
    if (!known) return fail(key, std::string("unknown member '") + key + "'");
  }
  return true;
}

bool BodyReader::string(const char* key, bool required, std::string& out) {
  const json_t* v = json_object_get(root_.get(), key);
  if (v == nullptr || json_is_null(v)) {
    return required ? fail(key, std::string(key) + " is required") : true;
  }
  if (!json_is_string(v)) return fail(key, std::string(key) + " must be a string");
  out.assign(json_string_value(v), json_string_length(v));
  return true;
}

bool BodyReader::string_array(const char* key, bool required, std::vector<std::string>& out) {
  const json_t* v = json_object_get(root_.get(), key);
  if (v == nullptr || json_is_null(v)) {
    return required ? fail(key, std::string(key) + " is required") : true;
  }
  if (!json_is_array(v)) return fail(key, std::string(key) + " must be an array of strings");
  if (json_array_size(v) > 100) return fail(key, std::string(key) + " has more than 100 items");
  out.clear();
  size_t i;
  json_t* item;
  json_array_foreach(v, i, item) {
    if (!json_is_string(item)) {
      return fail(key, std::string(key) + "[" + std::to_string(i) + "] must be a string");
    }
    out.emplace_back(json_string_value(item), json_string_length(item));
  }
  return true;
}

bool BodyReader::boolean(const char* key, bool required, bool& out, bool& present) {
  const json_t* v = json_object_get(root_.get(), key);
  present = v != nullptr;
  if (v == nullptr) return required ? fail(key, std::string(key) + " is required") : true;
  if (!json_is_boolean(v)) return fail(key, std::string(key) + " must be true or false");
  out = json_is_true(v);
  return true;
}

bool BodyReader::integer(const char* key, bool required, long long min, long long max,
                         long long& out) {
  const json_t* v = json_object_get(root_.get(), key);
  if (v == nullptr || json_is_null(v)) {
    return required ? fail(key, std::string(key) + " is required") : true;
  }
  const std::string range = "between " + std::to_string(min) + " and " + std::to_string(max);
  if (!json_is_integer(v)) return fail(key, std::string(key) + " must be an integer " + range);
  json_int_t n = json_integer_value(v);
  if (n < min || n > max) return fail(key, std::string(key) + " must be " + range);
  out = n;
  return true;
}

}  // namespace realm_sidecar
