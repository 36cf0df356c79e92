// Strict base64url: RFC 4648 §10 vectors in the URL-safe alphabet, and
// every non-canonical or foreign spelling refused.
#include "base64url.h"

#include <string>

#include "cmocka_cxx.h"

using realm_auth::base64url_decode;
using realm_auth::base64url_encode;

namespace {

struct Vector {
  const char* plain;
  const char* encoded;
};

// RFC 4648 §10, padding removed as JWS does.
constexpr Vector kRfc4648[] = {
    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};

void rfc4648_vectors(void**) {
  for (const Vector& v : kRfc4648) {
    assert_string_equal(base64url_encode(v.plain).c_str(), v.encoded);
    std::string out;
    assert_true(base64url_decode(v.encoded, out));
    assert_string_equal(out.c_str(), v.plain);
  }
}

void url_safe_alphabet(void**) {
  const std::string bytes("\xfb\xff\xbf", 3);
  assert_string_equal(base64url_encode(bytes).c_str(), "-_-_");
  std::string out;
  assert_true(base64url_decode("-_-_", out));
  assert_true(out == bytes);
}

void round_trip_all_lengths(void**) {
  std::string bytes;
  for (int len = 0; len < 70; ++len) {
    std::string out;
    assert_true(base64url_decode(base64url_encode(bytes), out));
    assert_true(out == bytes);
    bytes.push_back(static_cast<char>(len * 37 + 11));
  }
}

void rejects_foreign_spellings(void**) {
  const std::string bad[] = {
      "Zg==",                   // padding
      "Zg=",                    // partial padding
      "Zm9v=",                  // padding after a full group
      "+_-_",                   // standard alphabet '+'
      "-/-_",                   // standard alphabet '/'
      "Zm 9v",                  // space
      "Zm9v\n",                 // newline
      "\tZm9v",                 // tab
      "Zm9vY",                  // length % 4 == 1
      "A",                      // single character
      std::string("Zm\0v", 4),  // NUL
      "Zm9v\xc3\xa9",           // non-ASCII
      "Zm9v.",                  // segment separator
  };
  for (const std::string& s : bad) {
    std::string out;
    assert_false(base64url_decode(s, out));
  }
}

void rejects_nonzero_trailing_bits(void**) {
  std::string out;
  // "f" is "Zg"; "Zh".."Zv" carry the same byte plus non-zero unused bits.
  assert_true(base64url_decode("Zg", out));
  assert_false(base64url_decode("Zh", out));
  assert_false(base64url_decode("Zv", out));
  // "fo" is "Zm8"; "Zm9" sets an unused low bit.
  assert_true(base64url_decode("Zm8", out));
  assert_false(base64url_decode("Zm9", out));
  assert_false(base64url_decode("Zm_", out));
}

// Each of the 256 byte values at each place of a group and of a tail,
// inside a longer string: accepted exactly when it is in the alphabet, and
// then decoded to its value.
void every_byte_at_every_place(void**) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t at = 0; at < 10; ++at) {  // 8 full-group places, 2 tail places
    for (int c = 0; c < 256; ++c) {
      std::string text =
          "QUJD"
          "REVG"
          "AA";  // "ABCDEF" + a tail of one zero byte
      text[at] = static_cast<char>(c);
      size_t value = alphabet.find(static_cast<char>(c));
      bool in_alphabet = c != 0 && value != std::string::npos;
      // The tail's second character keeps 2 bits only: its low 4 bits must be 0.
      bool canonical = at != 9 || (in_alphabet && (value & 0x0f) == 0);
      std::string out;
      assert_int_equal(base64url_decode(text, out), in_alphabet && canonical);
      if (in_alphabet && canonical) {
        assert_true(base64url_encode(out) == text);
      }
    }
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc4648_vectors),           cmocka_unit_test(url_safe_alphabet),
      cmocka_unit_test(round_trip_all_lengths),    cmocka_unit_test(every_byte_at_every_place),
      cmocka_unit_test(rejects_foreign_spellings), cmocka_unit_test(rejects_nonzero_trailing_bits),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
