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

// The value of a character already shifted to its place in a group's 24
// bits, one table per place; kBad (outside the 24 bits) marks a foreign
// character, so a group is one OR of four lookups and a foreign character
// anywhere shows in the OR of all groups. Every new token decodes ~1 KB.
constexpr uint32_t kBad = 1u << 24;
using ShiftedTable = std::array<uint32_t, 256>;
constexpr ShiftedTable make_shifted_table(unsigned shift) {
  ShiftedTable t{};
  for (size_t c = 0; c < 256; ++c) {
    t[c] = kDecode[c] == kInvalid ? kBad : static_cast<uint32_t>(kDecode[c]) << shift;
  }
  return t;
}
constexpr ShiftedTable kPlace0 = make_shifted_table(18);
constexpr ShiftedTable kPlace1 = make_shifted_table(12);
constexpr ShiftedTable kPlace2 = make_shifted_table(6);
constexpr ShiftedTable kPlace3 = make_shifted_table(0);

}  // namespace

bool base64url_decode(std::string_view in, std::string& out) {
  // A single leftover character carries only 6 bits: never a whole byte.
  const size_t tail = in.size() % 4;
  if (tail == 1) return false;
  const size_t groups = in.size() / 4;
  out.resize(groups * 3 + (tail ? tail - 1 : 0));

  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  uint32_t seen = 0;
  for (size_t g = 0; g < groups; ++g, src += 4, dst += 3) {
    const uint32_t v = kPlace0[src[0]] | kPlace1[src[1]] | kPlace2[src[2]] | kPlace3[src[3]];
    seen |= v;
    dst[0] = static_cast<uint8_t>(v >> 16);
    dst[1] = static_cast<uint8_t>(v >> 8);
    dst[2] = static_cast<uint8_t>(v);
  }
  if (tail != 0) {
    const uint8_t a = kDecode[src[0]], b = kDecode[src[1]];
    const uint8_t c = tail == 3 ? kDecode[src[2]] : 0;
    if ((a | b | c) & 0x80) return false;
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
  return (seen & kBad) == 0;
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
