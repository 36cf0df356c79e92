#include "flat_json.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstring>

#include "json_text_rules.h"

namespace realm_auth {

// Receives RapidJSON's events and appends one node per value. Containers are
// patched with their end when they close, which is also when an object's
// member names are checked for duplicates.
class FlatJsonBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, FlatJsonBuilder> {
 public:
  using Type = FlatJson::Type;

  FlatJsonBuilder(FlatJson& doc, size_t max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool Null() {
    add(Type::kNull);
    return true;
  }
  bool Bool(bool b) {
    add(b ? Type::kTrue : Type::kFalse);
    return true;
  }
  bool RawNumber(const char* text, rapidjson::SizeType len, bool) {
    JsonNumber n;
    if (!read_json_number({text, len}, n)) return false;
    add(Type::kNumber).number = n.real_value;
    return true;
  }
  // Strings and names follow jansson's rules too: valid UTF-8 after
  // unescaping, no NUL.
  bool String(const char* s, rapidjson::SizeType len, bool) {
    if (!utf8_valid_without_nul({s, len})) return false;
    uint32_t offset = store({s, len});
    FlatJson::Node& node = add(Type::kString);
    node.text_offset = offset;
    node.text_size = len;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    if (!utf8_valid_without_nul({s, len})) return false;
    key_offset_ = store({s, len});
    key_size_ = len;
    return true;
  }
  bool StartObject() { return open(Type::kObject); }
  bool EndObject(rapidjson::SizeType members) { return close() && unique_names(members); }
  bool StartArray() { return open(Type::kArray); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  Status status() const { return status_; }

 private:
  static constexpr size_t kMaxDepth = 64;  // bound of open_, whatever the caller asks
  static constexpr size_t kLinearScanMembers = 16;

  uint32_t store(std::string_view s) {
    auto offset = static_cast<uint32_t>(doc_.strings_.size());
    doc_.strings_.append(s.data(), s.size());
    return offset;
  }

  FlatJson::Node& add(Type type) {
    auto index = static_cast<uint32_t>(doc_.nodes_.size());
    FlatJson::Node node{type, index + 1, 0, 0, 0, 0, 0.0};
    if (depth_ > 0 && doc_.nodes_[open_[depth_ - 1]].type == Type::kObject) {
      node.key_offset = key_offset_;
      node.key_size = key_size_;
    }
    doc_.nodes_.push_back(node);
    return doc_.nodes_.back();
  }

  bool open(Type type) {
    if (depth_ + 1 > max_depth_ || depth_ + 1 > kMaxDepth) return fail(Status::kJsonTooDeep);
    auto index = static_cast<uint32_t>(doc_.nodes_.size());
    add(type);  // before it is opened: it takes its member name from the parent
    open_[depth_++] = index;
    return true;
  }

  bool close() {
    doc_.nodes_[open_[depth_ - 1]].end = static_cast<uint32_t>(doc_.nodes_.size());
    closed_ = open_[--depth_];
    return true;
  }

  // Two members with one name must not let two readers see two values.
  // Small objects (every token header and claims set) compare pairwise;
  // large ones sort, so a hostile object cannot make this quadratic.
  bool unique_names(size_t members) {
    const FlatJson::Node& object = doc_.nodes_[closed_];
    if (members <= kLinearScanMembers) {
      for (uint32_t i = closed_ + 1; i < object.end; i = doc_.nodes_[i].end) {
        for (uint32_t j = doc_.nodes_[i].end; j < object.end; j = doc_.nodes_[j].end) {
          if (doc_.key(i) == doc_.key(j)) return fail(Status::kDuplicateKey);
        }
      }
      return true;
    }
    names_.clear();
    for (uint32_t i = closed_ + 1; i < object.end; i = doc_.nodes_[i].end) {
      names_.push_back(doc_.key(i));
    }
    std::sort(names_.begin(), names_.end());
    if (std::adjacent_find(names_.begin(), names_.end()) != names_.end()) {
      return fail(Status::kDuplicateKey);
    }
    return true;
  }

  bool fail(Status s) {
    status_ = s;
    return false;
  }

  FlatJson& doc_;
  size_t max_depth_;
  uint32_t open_[kMaxDepth];  // indices of the open containers, innermost last
  size_t depth_ = 0;
  uint32_t closed_ = 0;      // the container that closed last
  uint32_t key_offset_ = 0;  // member name awaiting its value
  uint32_t key_size_ = 0;
  std::vector<std::string_view> names_;  // scratch for unique_names (large objects)
  Status status_ = Status::kOk;
};

namespace {

// One reader per thread: its parse stack is reused instead of allocated.
rapidjson::Reader& thread_reader() {
  thread_local rapidjson::Reader reader;
  return reader;
}

}  // namespace

template <unsigned kExtraFlags, typename Stream>
Status FlatJson::parse_stream(Stream& stream, size_t text_size, size_t max_depth,
                              Status not_object) {
  // Unescaped strings are never longer than their JSON text.
  strings_.reserve(text_size);
  nodes_.reserve(std::min<size_t>(text_size / 8 + 4, 1024));
  FlatJsonBuilder builder(*this, max_depth);
  // Recursive descent is safe here: open() refuses past max_depth before the
  // reader descends, so its recursion is bounded by the depth limit.
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag | kExtraFlags;
  Status result = Status::kOk;
  if (thread_reader().Parse<kFlags>(stream, builder).IsError()) {
    result = builder.status() != Status::kOk ? builder.status() : not_object;
  } else if (nodes_.empty() || nodes_[0].type != Type::kObject) {
    result = not_object;
  }
  if (result != Status::kOk) {
    nodes_.clear();
    strings_.clear();
  }
  return result;
}

Status FlatJson::parse(std::string_view text, size_t max_depth, Status not_object) {
  nodes_.clear();
  strings_.clear();
  // As in parse_json_object: RapidJSON's memory stream stops at a NUL byte.
  if (std::memchr(text.data(), 0, text.size()) != nullptr) return not_object;
  rapidjson::MemoryStream stream(text.data(), text.size());
  return parse_stream<0>(stream, text.size(), max_depth, not_object);
}

Status FlatJson::parse_in_place(std::string& text, size_t max_depth, Status not_object) {
  nodes_.clear();
  strings_.clear();
  // The in-place stream ends at the first NUL: one inside the text would
  // hide the rest of it, so it is refused as in parse().
  if (std::memchr(text.data(), 0, text.size()) != nullptr) return not_object;
  // RapidJSON unescapes each string where it stands and hands it over from
  // there, instead of copying it to its stack first: a new token's claims
  // are copied once (into strings_), not twice.
  rapidjson::InsituStringStream stream(text.data());
  return parse_stream<rapidjson::kParseInsituFlag>(stream, text.size(), max_depth, not_object);
}

FlatJson::Value FlatJson::root() const {
  if (nodes_.empty()) return {};
  Value v(this, 0);
  v.parent_end_ = nodes_[0].end;
  return v;
}

FlatJson::Type FlatJson::Value::type() const {
  return doc_ != nullptr ? doc_->nodes_[index_].type : Type::kNull;
}

bool FlatJson::Value::is(Type t) const { return doc_ != nullptr && doc_->nodes_[index_].type == t; }

std::string_view FlatJson::Value::string() const {
  if (!is_string()) return {};
  const Node& n = doc_->nodes_[index_];
  return doc_->text(n.text_offset, n.text_size);
}

double FlatJson::Value::number() const { return is_number() ? doc_->nodes_[index_].number : 0; }

FlatJson::Value FlatJson::Value::get(std::string_view name) const {
  if (!is_object()) return {};
  // A claims set has ~20 members and a token's checks ask for ~15 names:
  // walk the members' nodes directly, and test a member name's length and
  // first byte before calling memcmp (which string_view's == always calls).
  const std::vector<Node>& nodes = doc_->nodes_;
  const uint32_t end = nodes[index_].end;
  for (uint32_t i = index_ + 1; i < end; i = nodes[i].end) {
    const Node& n = nodes[i];
    if (n.key_size != name.size()) continue;
    const char* k = doc_->strings_.data() + n.key_offset;
    if (n.key_size == 0 || (k[0] == name[0] && std::memcmp(k, name.data(), n.key_size) == 0)) {
      Value v(doc_, i);
      v.parent_end_ = end;
      return v;
    }
  }
  return {};
}

FlatJson::Value FlatJson::Value::first() const {
  if (!is_array() && !is_object()) return {};
  uint32_t end = doc_->nodes_[index_].end;
  if (index_ + 1 >= end) return {};
  Value v(doc_, index_ + 1);
  v.parent_end_ = end;
  return v;
}

FlatJson::Value FlatJson::Value::next() const {
  if (doc_ == nullptr) return {};
  uint32_t sibling = doc_->nodes_[index_].end;
  if (sibling >= parent_end_) return {};
  Value v(doc_, sibling);
  v.parent_end_ = parent_end_;
  return v;
}

}  // namespace realm_auth
