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
  return strings(v, key, out);
}

bool BodyReader::strings(const json_t* v, const std::string& name, std::vector<std::string>& out) {
  if (!json_is_array(v)) return fail(name, name + " must be an array of strings");
  if (json_array_size(v) > 100) return fail(name, name + " has more than 100 items");
  out.clear();
  size_t i;
  json_t* item;
  json_array_foreach(v, i, item) {
    if (!json_is_string(item)) {
      return fail(name, name + "[" + std::to_string(i) + "] must be a string");
    }
    out.emplace_back(json_string_value(item), json_string_length(item));
  }
  return true;
}

bool BodyReader::object(const char* key, std::initializer_list<const char*> allowed,
                        bool& present) {
  const json_t* v = json_object_get(root_.get(), key);
  present = v != nullptr && !json_is_null(v);
  if (!present) return true;
  if (!json_is_object(v)) return fail(key, std::string(key) + " must be an object");
  const char* member;
  json_t* value;
  json_object_foreach(const_cast<json_t*>(v), member, value) {
    bool known = false;
    for (const char* a : allowed) known |= std::string(a) == member;
    if (!known) {
      const std::string name = std::string(key) + "." + member;
      return fail(name, "unknown member '" + name + "'");
    }
  }
  return true;
}

bool BodyReader::nested_string_array(const char* key, const char* inner,
                                     std::vector<std::string>& out) {
  const json_t* v = json_object_get(json_object_get(root_.get(), key), inner);
  if (v == nullptr || json_is_null(v)) return true;
  return strings(v, std::string(key) + "." + inner, out);
}

bool BodyReader::boolean(const char* key, bool required, bool& out, bool& present) {
  const json_t* v = json_object_get(root_.get(), key);
  present = v != nullptr;
  if (v == nullptr) return required ? fail(key, std::string(key) + " is required") : true;
  if (!json_is_boolean(v)) return fail(key, std::string(key) + " must be true or false");
  out = json_is_true(v);
  return true;
}

bool BodyReader::nullable_string(const char* key, std::string& out, bool& present,
                                 bool& null_value) {
  const json_t* v = json_object_get(root_.get(), key);
  present = v != nullptr;
  null_value = v != nullptr && json_is_null(v);
  if (v == nullptr || null_value) return true;
  if (!json_is_string(v) || json_string_length(v) == 0) {
    return fail(key, std::string(key) + " must be a non-empty string, or null for none");
  }
  out.assign(json_string_value(v), json_string_length(v));
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
