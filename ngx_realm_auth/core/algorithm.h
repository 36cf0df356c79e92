// JWS algorithms the verifier understands (asymmetric only: "none" and HMAC
// are never accepted, whatever the configuration says).
#pragma once

#include <cstdint>
#include <string_view>

namespace realm_auth {

enum class Alg : uint8_t {
  kRS256,
  kRS384,
  kRS512,
  kPS256,
  kPS384,
  kPS512,
  kES256,
  kES384,
  kES512,
  kEdDSA,
  kCount
};

// Bit set of Alg values, bit i = Alg(i).
using AlgSet = uint32_t;
constexpr AlgSet alg_bit(Alg a) { return AlgSet{1} << static_cast<unsigned>(a); }
constexpr AlgSet kAllAlgs = (AlgSet{1} << static_cast<unsigned>(Alg::kCount)) - 1;

// Exact, case-sensitive JOSE name ("RS256", "EdDSA"). False for anything
// else, including "none" and "HS256".
bool alg_from_name(std::string_view name, Alg& out);
const char* alg_name(Alg a);

}  // namespace realm_auth
