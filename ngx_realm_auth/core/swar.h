// Eight bytes at a time (SIMD within a register): the byte rules the hot
// path applies to every string of a token (header_value.h,
// json_text_rules.h) test whole words first and look at single bytes only
// where a word fails. Each test is exact: true iff some byte qualifies.
#pragma once

#include <cstdint>
#include <cstring>

namespace realm_auth::swar {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

inline uint64_t load(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);  // unaligned, and no aliasing trouble
  return w;
}

// Some byte of `w` is 0x00.
inline bool has_zero(uint64_t w) { return ((w - kOnes) & ~w & kHighs) != 0; }

// Some byte of `w` is below n (n <= 128).
inline bool has_less(uint64_t w, uint8_t n) { return ((w - kOnes * n) & ~w & kHighs) != 0; }

// Some byte of `w` equals b.
inline bool has_byte(uint64_t w, uint8_t b) { return has_zero(w ^ (kOnes * b)); }

// Some byte of `w` is 0x80 or above (not ASCII).
inline bool has_high(uint64_t w) { return (w & kHighs) != 0; }

}  // namespace realm_auth::swar
