// secret_box: AES-256-GCM sealing of client secrets.
#include "crypto/secret_box.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

const std::string kKey(32, 'k');

void round_trip(void**) {
  SecretBox box(kKey);
  std::string sealed, opened;
  assert_true(box.seal("s3cr3t-value", "demo/tenant-services", sealed));
  assert_int_equal(sealed.size(), 1 + 12 + 12 + 16);
  assert_int_equal(static_cast<unsigned char>(sealed[0]), SecretBox::kVersion);
  assert_true(sealed.find("s3cr3t") == std::string::npos);
  assert_true(box.open(sealed, "demo/tenant-services", opened));
  assert_string_equal(opened.c_str(), "s3cr3t-value");
}

void nonce_is_fresh(void**) {
  SecretBox box(kKey);
  std::string a, b;
  assert_true(box.seal("same", "ctx", a));
  assert_true(box.seal("same", "ctx", b));
  assert_true(a != b);
}

void refuses_tampering(void**) {
  SecretBox box(kKey);
  std::string sealed, out;
  assert_true(box.seal("value", "ctx", sealed));
  for (size_t i = 0; i < sealed.size(); i++) {
    std::string t = sealed;
    t[i] = static_cast<char>(t[i] ^ 1);
    assert_false(box.open(t, "ctx", out));
  }
  assert_false(box.open(sealed.substr(0, sealed.size() - 1), "ctx", out));
  assert_false(box.open("", "ctx", out));
}

void binds_context_and_key(void**) {
  SecretBox box(kKey), other(std::string(32, 'o'));
  std::string sealed, out;
  assert_true(box.seal("value", "demo/tenant-services", sealed));
  assert_false(box.open(sealed, "evil/tenant-services", out));
  assert_false(other.open(sealed, "demo/tenant-services", out));
}

void empty_plaintext(void**) {
  SecretBox box(kKey);
  std::string sealed, out = "x";
  assert_true(box.seal("", "ctx", sealed));
  assert_true(box.open(sealed, "ctx", out));
  assert_string_equal(out.c_str(), "");
}

std::string write_temp(const std::string& content) {
  char path[] = "/tmp/secret_box_test.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  return path;
}

void key_files(void**) {
  std::unique_ptr<SecretBox> box;
  std::string error;
  // base64 of 32 bytes, as scripts/stack/common.sh writes it.
  std::string p = write_temp("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
  assert_true(SecretBox::load_key_file(p, box, error));
  std::string sealed, out;
  assert_true(box->seal("v", "c", sealed));
  SecretBox same(
      std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                  "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
                  32));
  assert_true(same.open(sealed, "c", out));
  unlink(p.c_str());
  // 32 raw bytes.
  p = write_temp(kKey);
  assert_true(SecretBox::load_key_file(p, box, error));
  unlink(p.c_str());
  // Anything else is refused, and the message never quotes the file.
  p = write_temp("too-short-key\n");
  assert_false(SecretBox::load_key_file(p, box, error));
  assert_true(error.find("too-short") == std::string::npos);
  unlink(p.c_str());
  assert_false(SecretBox::load_key_file("/nonexistent/key", box, error));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip),        cmocka_unit_test(nonce_is_fresh),
      cmocka_unit_test(refuses_tampering), cmocka_unit_test(binds_context_and_key),
      cmocka_unit_test(empty_plaintext),   cmocka_unit_test(key_files),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
