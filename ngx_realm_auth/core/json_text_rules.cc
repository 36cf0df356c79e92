#include "json_text_rules.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "swar.h"

namespace realm_auth {

bool read_json_number(std::string_view literal, JsonNumber& out) {
  // strtoll/strtod want a terminated string; literals are short, so the
  // copy normally stays on the stack.
  char small[64];
  std::string large;
  const char* text;
  if (literal.size() < sizeof small) {
    std::memcpy(small, literal.data(), literal.size());
    small[literal.size()] = '\0';
    text = small;
  } else {
    large.assign(literal);
    text = large.c_str();
  }
  errno = 0;
  char* end = nullptr;
  if (literal.find_first_of(".eE") == std::string_view::npos) {
    long long v = std::strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    out.integer = true;
    out.integer_value = v;
    out.real_value = static_cast<double>(v);
    return true;
  }
  double v = std::strtod(text, &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  out.integer = false;
  out.real_value = v;
  return true;
}

bool utf8_valid_without_nul(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Most of a token's text is ASCII: eight bytes at a time while it is.
    if (end - p >= 8) {
      uint64_t w = swar::load(p);
      if (!swar::has_high(w) && !swar::has_zero(w)) {
        p += 8;
        continue;
      }
    }
    unsigned c = *p;
    if (c < 0x80) {
      if (c == 0) return false;
      ++p;
      continue;
    }
    size_t extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte first, C0/C1 (always overlong), F5+
    }
    if (static_cast<size_t>(end - p) <= extra) return false;
    for (size_t i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

}  // namespace realm_auth
