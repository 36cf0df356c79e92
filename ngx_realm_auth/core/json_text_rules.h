// The value rules jansson applies while reading JSON text, shared by the two
// readers built on RapidJSON's events (json.cc builds jansson values,
// flat_json.cc a flat array) so both accept exactly what json_loadb does.
#pragma once

#include <cstdint>
#include <string_view>

namespace realm_auth {

struct JsonNumber {
  bool integer = false;  // written without fraction or exponent
  int64_t integer_value = 0;
  double real_value = 0;  // the value as a double, for integers too
};

// A number literal (already valid JSON grammar) under jansson's rules: an
// integer must fit 64 bits, anything else must be a finite double (overflow
// is an error, underflow is not). False when jansson would refuse it.
bool read_json_number(std::string_view literal, JsonNumber& out);

// Strict UTF-8 as jansson checks it: no overlong forms, no surrogates
// (U+D800..U+DFFF, which RapidJSON lets through for a lone \uDC00 escape),
// nothing above U+10FFFF; and no NUL (a \u0000 escape), which jansson
// refuses too.
bool utf8_valid_without_nul(std::string_view s);

}  // namespace realm_auth
