#include "base64url.h"

#include <array>
#include <cstdint>

namespace realm_auth {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kInvalid = 0xff;

constexpr std::array<uint8_t, 256> make_decode_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (uint8_t i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = i;
  return t;
}

constexpr std::array<uint8_t, 256> kDecode = make_decode_table();

}  // namespace

bool base64url_decode(std::string_view in, std::string& out) {
  // A single leftover character carries only 6 bits: never a whole byte.
  const size_t tail = in.size() % 4;
  if (tail == 1) return false;
  const size_t groups = in.size() / 4;
  out.resize(groups * 3 + (tail ? tail - 1 : 0));

  // Four characters → three bytes per step; kInvalid has the high bit set,
  // so OR-ing the lookups detects a foreign character with one test.
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  uint8_t seen = 0;
  for (size_t g = 0; g < groups; ++g, src += 4, dst += 3) {
    const uint8_t a = kDecode[src[0]], b = kDecode[src[1]], c = kDecode[src[2]],
                  d = kDecode[src[3]];
    seen |= a | b | c | d;
    dst[0] = static_cast<uint8_t>(a << 2 | b >> 4);
    dst[1] = static_cast<uint8_t>(b << 4 | c >> 2);
    dst[2] = static_cast<uint8_t>(c << 6 | d);
  }
  if (tail != 0) {
    const uint8_t a = kDecode[src[0]], b = kDecode[src[1]];
    const uint8_t c = tail == 3 ? kDecode[src[2]] : 0;
    seen |= a | b | c;
    dst[0] = static_cast<uint8_t>(a << 2 | b >> 4);
    // Unused low bits of the last character must be zero: otherwise several
    // strings decode to the same bytes, and a token could be altered without
    // touching its signature check (or its cache key's uniqueness).
    if (tail == 2 && (b & 0x0f) != 0) return false;
    if (tail == 3) {
      dst[1] = static_cast<uint8_t>(b << 4 | c >> 2);
      if ((c & 0x03) != 0) return false;
    }
  }
  return (seen & 0x80) == 0;
}

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  unsigned bits = 0;
  for (char c : in) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

}  // namespace realm_auth
