#include "algorithm.h"

namespace realm_auth {

namespace {

// Indexed by Alg.
constexpr const char* kNames[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                  "PS512", "ES256", "ES384", "ES512", "EdDSA"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Alg::kCount),
              "one name per Alg");

}  // namespace

bool alg_from_name(std::string_view name, Alg& out) {
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    if (name == kNames[i]) {
      out = static_cast<Alg>(i);
      return true;
    }
  }
  return false;
}

const char* alg_name(Alg a) {
  return a < Alg::kCount ? kNames[static_cast<unsigned>(a)] : "unknown";
}

}  // namespace realm_auth
