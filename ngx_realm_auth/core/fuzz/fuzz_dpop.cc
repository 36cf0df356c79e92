// libFuzzer target: the DPoP proof parser (dpop_proof.h) and the htu
// normalisation on attacker-controlled proofs. A proof arrives in the DPoP
// header of a request that already carries a verified token, so every byte
// of it is the client's.
//
// Every input is tried twice: as the header value itself, and as
// "<header JSON>\n<payload JSON>" wrapped into a proof here (signature
// junk), so mutations reach the JSON, typ/alg/jwk and claim rules instead
// of dying in base64url. The htu claim is also normalised on its own.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base64url.h"
#include "dpop_htu.h"
#include "dpop_proof.h"

using namespace realm_auth;

namespace {

void run(std::string_view proof) {
  DpopRequest req;
  req.method = "GET";
  req.htu = "https://api.example.com/x";
  req.access_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
  req.now = 1700000000;
  req.window = 60;
  req.algorithms = alg_bit(Alg::kES256) | alg_bit(Alg::kRS256) | alg_bit(Alg::kEdDSA);
  DpopProof out;
  Status s = verify_dpop_proof(proof, req, out);
  // No signature is ever valid here: a fuzzer cannot sign.
  if (s == Status::kOk) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  run(in);
  size_t nl = in.find('\n');
  if (nl != std::string_view::npos) {
    std::string proof = base64url_encode(in.substr(0, nl)) + "." +
                        base64url_encode(in.substr(nl + 1)) + ".c2lnbmF0dXJl";
    run(proof);
  }
  std::string htu;
  if (normalize_htu(in, htu)) {
    // Normalising is idempotent: a normal form normalises to itself.
    std::string again;
    if (!normalize_htu(htu, again) || again != htu) __builtin_trap();
  }
  return 0;
}
