#include "util/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace realm_sidecar {

bool random_bytes(unsigned char* out, size_t n) {
  return RAND_bytes(out, static_cast<int>(n)) == 1;
}

std::string random_hex_id() {
  unsigned char b[16];
  if (!random_bytes(b, sizeof b)) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

std::string random_password(size_t length) {
  // No quotes, backslash or whitespace: the password is pasted into shells
  // and login forms.
  static const char kAlphabet[] =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.!@#%+=";
  const size_t n = sizeof kAlphabet - 1;
  // Rejection sampling: bytes >= limit are dropped so that every character
  // is equally likely (no modulo bias).
  const unsigned limit = 256 - (256 % n);
  for (int attempt = 0; attempt < 64; attempt++) {
    std::string pw;
    while (pw.size() < length) {
      unsigned char buf[64];
      if (!random_bytes(buf, sizeof buf)) return "";
      for (unsigned char c : buf) {
        if (c < limit && pw.size() < length) pw += kAlphabet[c % n];
      }
    }
    bool lower = false, upper = false, digit = false, symbol = false;
    for (char c : pw) {
      lower |= (c >= 'a' && c <= 'z');
      upper |= (c >= 'A' && c <= 'Z');
      digit |= (c >= '0' && c <= '9');
      symbol |= std::strchr("-_.!@#%+=", c) != nullptr;
    }
    if (lower && upper && digit && symbol) return pw;
    // Wipe before retrying: a rejected candidate is still a secret.
    std::fill(pw.begin(), pw.end(), '\0');
  }
  return "";
}

}  // namespace realm_sidecar
