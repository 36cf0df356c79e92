// Differential fuzzer: parse_json_object (RapidJSON reader building jansson
// values, json.cc) and FlatJson (flat_json.cc, the token segments' reader)
// must accept exactly what json_loadb accepts under the same rules (object
// at the top, JSON_REJECT_DUPLICATES, depth limit) and read the same values. Any disagreement
// aborts, with two known, accepted exceptions where ours refuses what jansson lets through: a raw
// NUL byte in the text (jansson skips one after a number: `{"a":0<NUL>}`), and a number whose
// written exponent exceeds 308 while its mantissa is zero
// ("0e400", which jansson reads as 0.0). Refusing more is the safe
// direction, and no issuer writes either.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "flat_json.h"
#include "json.h"

namespace {

constexpr size_t kMaxDepth = 8;

bool within_depth(const json_t* j, size_t depth) {
  if (!json_is_object(j) && !json_is_array(j)) return true;
  if (depth > kMaxDepth) return false;
  const char* key;
  json_t* value;
  size_t i;
  if (json_is_object(j)) {
    json_object_foreach(const_cast<json_t*>(j), key, value) {
      if (!within_depth(value, depth + 1)) return false;
    }
  } else {
    json_array_foreach(j, i, value) {
      if (!within_depth(value, depth + 1)) return false;
    }
  }
  return true;
}

// A zero-mantissa literal with a 3+ digit positive exponent: 0e400, -0.00E+999.
bool has_zero_with_huge_exponent(std::string_view t) {
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] != '0' || (i > 0 && std::isdigit(static_cast<unsigned char>(t[i - 1])))) continue;
    size_t j = i + 1;
    if (j < t.size() && t[j] == '.') {
      j++;
      while (j < t.size() && t[j] == '0') j++;
    }
    if (j >= t.size() || (t[j] != 'e' && t[j] != 'E')) continue;
    j++;
    if (j < t.size() && t[j] == '+') j++;
    size_t digits = 0;
    while (j < t.size() && std::isdigit(static_cast<unsigned char>(t[j]))) j++, digits++;
    if (digits >= 3) return true;
  }
  return false;
}

// The flat reading of a value equals jansson's, member by member.
bool same(const json_t* j, realm_auth::FlatJson::Value f) {
  using Type = realm_auth::FlatJson::Type;
  if (!f.present()) return false;
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      if (!f.is_object()) return false;
      size_t members = 0;
      for (auto v = f.first(); v.present(); v = v.next()) ++members;
      if (members != json_object_size(j)) return false;
      const char* key;
      json_t* value;
      json_object_foreach(const_cast<json_t*>(j), key, value) {
        if (!same(value, f.get(key))) return false;
      }
      return true;
    }
    case JSON_ARRAY: {
      if (!f.is_array()) return false;
      size_t i = 0;
      for (auto v = f.first(); v.present(); v = v.next(), ++i) {
        if (i >= json_array_size(j) || !same(json_array_get(j, i), v)) return false;
      }
      return i == json_array_size(j);
    }
    case JSON_STRING:
      return f.string() == std::string_view(json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
    case JSON_REAL:
      return f.is_number() && f.number() == json_number_value(j);
    case JSON_TRUE:
      return f.type() == Type::kTrue;
    case JSON_FALSE:
      return f.type() == Type::kFalse;
    case JSON_NULL:
      return f.type() == Type::kNull;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json_error_t error;
  realm_auth::JsonPtr expected(
      json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &error));
  bool expect_ok = expected && json_is_object(expected.get()) && within_depth(expected.get(), 1);

  realm_auth::JsonPtr got;
  realm_auth::Status s =
      realm_auth::parse_json_object(text, kMaxDepth, realm_auth::Status::kPayloadNotJson, got);
  bool got_ok = s == realm_auth::Status::kOk;

  realm_auth::FlatJson flat;
  bool flat_ok =
      flat.parse(text, kMaxDepth, realm_auth::Status::kPayloadNotJson) == realm_auth::Status::kOk;
  if (flat_ok != got_ok) std::abort();
  if (flat_ok && !same(got.get(), flat.root())) std::abort();
  // In place (token segments): the same answer and the same values.
  std::string buffer(text);
  realm_auth::FlatJson in_place;
  bool in_place_ok =
      in_place.parse_in_place(buffer, kMaxDepth, realm_auth::Status::kPayloadNotJson) ==
      realm_auth::Status::kOk;
  if (in_place_ok != flat_ok) std::abort();
  if (in_place_ok && !same(got.get(), in_place.root())) std::abort();

  if (expect_ok && !got_ok &&
      (text.find('\0') != std::string_view::npos || has_zero_with_huge_exponent(text))) {
    return 0;
  }
  if (expect_ok != got_ok) std::abort();
  if (got_ok && !json_equal(expected.get(), got.get())) std::abort();
  return 0;
}
