#include "header_value.h"

#include "swar.h"

namespace realm_auth {

bool header_safe(std::string_view v) {
  // Every string of every new token passes here (~500 bytes): whole words
  // first, then the last few bytes one by one.
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  size_t n = v.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w = swar::load(p);
    if (swar::has_less(w, 0x20) || swar::has_byte(w, 0x7f)) return false;
  }
  for (; n > 0; ++p, --n) {
    if (*p < 0x20 || *p == 0x7f) return false;
  }
  return true;
}

}  // namespace realm_auth
