// Strict JSON for token segments and JWKS documents, delivered as jansson
// values. jansson's own lexer costs about 20 ns per byte of string content
// here (a 1.3 KB Keycloak payload: ~35 µs, more than the RSA check), so the
// text is read by RapidJSON's SAX reader (Debian's rapidjson-dev) and this
// file builds the jansson tree from its events, enforcing jansson's rules:
// no duplicate member names, no NUL in strings or names, valid UTF-8 (lone
// surrogates included), integers must fit json_int_t, reals must be finite,
// nothing after the top-level value. fuzz/fuzz_json.cc checks, input by
// input, that this agrees with json_loadb(JSON_REJECT_DUPLICATES).
#include "json.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstring>
#include <utility>
#include <vector>

#include "json_text_rules.h"

namespace realm_auth {

namespace {

class TreeBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TreeBuilder> {
 public:
  explicit TreeBuilder(size_t max_depth) : max_depth_(max_depth) {}

  bool Null() { return add(json_null()); }
  bool Bool(bool b) { return add(json_boolean(b)); }
  bool RawNumber(const char* text, rapidjson::SizeType len, bool) { return add(number(text, len)); }
  bool String(const char* s, rapidjson::SizeType len, bool) {
    // json_stringn checks UTF-8, which also refuses encoded surrogates.
    return !has_nul(s, len) && add(json_stringn(s, len));
  }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    if (has_nul(s, len)) return false;
    if (json_object_getn(stack_.back(), s, len) != nullptr) return fail(Status::kDuplicateKey);
    key_.assign(s, len);
    return true;
  }
  bool StartObject() { return open(json_object()); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(json_array()); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  JsonPtr take_root() { return std::move(root_); }
  Status status() const { return status_; }

 private:
  static bool has_nul(const char* s, size_t len) { return std::memchr(s, 0, len) != nullptr; }

  static json_t* number(const char* text, size_t len) {
    JsonNumber n;
    if (!read_json_number({text, len}, n)) return nullptr;
    return n.integer ? json_integer(n.integer_value) : json_real(n.real_value);
  }

  bool fail(Status s) {
    status_ = s;
    return false;
  }

  // Attaches `value` (owned) to the current container, or makes it the root.
  bool add(json_t* value) {
    if (value == nullptr) return false;
    if (stack_.empty()) {
      root_.reset(value);
      return true;
    }
    json_t* parent = stack_.back();
    int rc = json_is_object(parent) ? json_object_setn_new(parent, key_.data(), key_.size(), value)
                                    : json_array_append_new(parent, value);
    return rc == 0;  // json_object_setn_new also refuses a name that is not UTF-8
  }

  bool open(json_t* container) {
    if (stack_.size() + 1 > max_depth_) {
      json_decref(container);
      return fail(Status::kJsonTooDeep);
    }
    if (!add(json_incref(container))) {
      json_decref(container);
      return false;
    }
    stack_.push_back(container);
    json_decref(container);  // the parent (or root_) holds it now
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  size_t max_depth_;
  std::vector<json_t*> stack_;  // open containers, innermost last (borrowed)
  std::string key_;             // member name awaiting its value
  JsonPtr root_;
  Status status_ = Status::kOk;  // set when the handler itself refused
};

}  // namespace

Status parse_json_object(std::string_view text, size_t max_depth, Status not_object, JsonPtr& out) {
  out.reset();
  // RapidJSON's memory stream reads a NUL byte as the end of input, which
  // would hide anything after it; JSON text never contains one.
  if (std::memchr(text.data(), 0, text.size()) != nullptr) return not_object;

  TreeBuilder builder(max_depth);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(text.data(), text.size());
  // No kParseValidateEncodingFlag: outside strings the grammar admits only
  // ASCII, and every string and member name is UTF-8-checked by jansson
  // (json_stringn, json_object_setn_new) as it enters the tree.
  constexpr unsigned kFlags =
      rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag;
  if (reader.Parse<kFlags>(stream, builder).IsError()) {
    return builder.status() != Status::kOk ? builder.status() : not_object;
  }
  JsonPtr root = builder.take_root();
  if (!json_is_object(root.get())) return not_object;
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
