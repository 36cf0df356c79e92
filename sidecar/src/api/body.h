// Reading a JSON request body with precise 400s: every failure names the
// member (`field`) and says what was expected, and unknown members are
// refused rather than ignored (a typo such as "role" for "roles" must not
// silently create a user without roles).
//
//   BodyReader b(request);
//   std::string slug;
//   if (!b.parse() || !b.only({"slug", "display_name"}) || !b.string("slug", true, slug))
//     return b.error();
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "http/message.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

class BodyReader {
 public:
  explicit BodyReader(const HttpRequest& request) : request_(request) {}

  // Content-Type must be JSON when present; the body one JSON object.
  bool parse();
  // Refuses members not in `allowed`.
  bool only(std::initializer_list<const char*> allowed);
  // A string member; absent is an error only when `required`.
  bool string(const char* key, bool required, std::string& out);
  bool string_array(const char* key, bool required, std::vector<std::string>& out);
  // A member that is an object holding only `allowed` members (an unknown
  // one is named "key.member"); `present` tells whether it was there.
  bool object(const char* key, std::initializer_list<const char*> allowed, bool& present);
  // A string array inside the object member `key` (named "key.inner").
  bool nested_string_array(const char* key, const char* inner, std::vector<std::string>& out);
  // `present` tells whether the member was there.
  bool boolean(const char* key, bool required, bool& out, bool& present);
  // A string or JSON null (`present` and `null_value` tell which); an empty
  // string is refused: null is the one spelling of "none".
  bool nullable_string(const char* key, std::string& out, bool& present, bool& null_value);
  // A JSON integer (not a string, not a fraction) within [min, max].
  bool integer(const char* key, bool required, long long min, long long max, long long& out);

  // Records a validation failure of a field (detail from validation.h).
  bool fail(const std::string& field, const std::string& detail);
  HttpResponse error() const;

 private:
  bool strings(const json_t* v, const std::string& name, std::vector<std::string>& out);

  const HttpRequest& request_;
  JsonPtr root_;
  int status_ = 400;
  std::string field_;
  std::string detail_;
};

}  // namespace realm_sidecar
