// libFuzzer target: JWKS documents as an issuer (or anyone who can poison
// the Redis tier) might serve them.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "jwks.h"

using namespace realm_auth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<const Jwks> keys;
  if (Jwks::parse(std::string_view(reinterpret_cast<const char*>(data), size), keys) !=
      Status::kOk) {
    return 0;
  }
  Status why;
  for (const char* kid : {"k", "rsa", "ec", ""}) {
    for (unsigned a = 0; a < static_cast<unsigned>(Alg::kCount); ++a) {
      keys->select(kid, static_cast<Alg>(a), why);
    }
  }
  return 0;
}
