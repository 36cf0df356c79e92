// A token segment's JSON (JOSE header or claims set) read into one flat
// array of values: the hot path of verification needs a handful of members,
// and building a jansson tree for them (one allocation and a hash insert per
// value) cost more than all the rest of the parsing. Same acceptance rules as
// parse_json_object in json.h (fuzz/fuzz_json.cc checks both against
// json_loadb): no duplicate member names, no NUL, strict UTF-8, integers
// that fit 64 bits, finite reals, bounded depth, an object at the top.
//
//   FlatJson payload;
//   Status s = payload.parse(text, 8, Status::kPayloadNotJson);
//   FlatJson::Value exp = payload.root().get("exp");
//   if (exp.is_number()) ... exp.number() ...
//
// Values are views into the FlatJson, which owns copies of every string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace realm_auth {

class FlatJson {
 public:
  enum class Type : uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

  // One value, or absent (a missing member, or an index past the end).
  class Value {
   public:
    Value() = default;

    bool present() const { return doc_ != nullptr; }
    Type type() const;  // only meaningful when present()
    bool is_string() const { return is(Type::kString); }
    bool is_number() const { return is(Type::kNumber); }
    bool is_array() const { return is(Type::kArray); }
    bool is_object() const { return is(Type::kObject); }

    std::string_view string() const;  // empty unless is_string()
    double number() const;            // 0 unless is_number(); exact for |n| <= 2^53

    // Member `name` of an object; absent for a missing member or a non-object.
    Value get(std::string_view name) const;

    // Elements of an array or member values of an object, in document order:
    //   for (Value v = list.first(); v.present(); v = v.next()) ...
    Value first() const;
    Value next() const;

   private:
    friend class FlatJson;
    Value(const FlatJson* doc, uint32_t index) : doc_(doc), index_(index) {}
    bool is(Type t) const;

    const FlatJson* doc_ = nullptr;
    uint32_t index_ = 0;
    uint32_t parent_end_ = 0;  // one past the parent's last descendant
  };

  // Parses `text` as one JSON object. Errors: kDuplicateKey, kJsonTooDeep
  // (the top object is depth 1), otherwise `not_object`. On error the
  // FlatJson is empty and root() is absent.
  Status parse(std::string_view text, size_t max_depth, Status not_object);
  // The same, for a text the caller no longer needs: parsed where it
  // stands, which leaves it changed (strings unescaped in place).
  Status parse_in_place(std::string& text, size_t max_depth, Status not_object);

  Value root() const;

  // Every member name and string value of the document, unescaped and
  // concatenated: a rule about bytes (header_value.h) sees all of it in
  // one pass.
  std::string_view all_strings() const { return strings_; }

 private:
  friend class FlatJsonBuilder;

  struct Node {
    Type type;
    uint32_t end;                   // containers: one past the last descendant; scalars: index + 1
    uint32_t key_offset, key_size;  // member name in strings_ (object members only)
    uint32_t text_offset, text_size;  // string value in strings_
    double number;
  };

  std::string_view text(uint32_t offset, uint32_t size) const {
    return std::string_view(strings_.data() + offset, size);
  }
  // Member name of node `index` (empty for array elements and the root).
  std::string_view key(uint32_t index) const {
    return text(nodes_[index].key_offset, nodes_[index].key_size);
  }

  template <unsigned kExtraFlags, typename Stream>
  Status parse_stream(Stream& stream, size_t text_size, size_t max_depth, Status not_object);

  std::vector<Node> nodes_;  // document order; a container's members follow it
  std::string strings_;      // every member name and string value, unescaped
};

}  // namespace realm_auth
