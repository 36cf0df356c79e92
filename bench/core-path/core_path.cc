// Benchmarks only: the core library's work for never-seen RS256 tokens,
// outside nginx, stage by stage: the cache key (token_hash.h), parsing
// (inspect_token) and the signature, claims and identity (verify_token).
//   core-path TOKENS JWKS ISSUER_PATTERN THRASH_KB [N]
// TOKENS: one token a line (bench/mint_tokens.pl), JWKS their key set.
// THRASH_KB > 0 writes that much memory between two tokens (not timed), as
// the kernel and nginx do between two requests: the stages then run with
// cold caches, as in a server. Prints ns per token for each stage (the
// median of 5 passes over the tokens).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "token_hash.h"
#include "verifier.h"

using namespace realm_auth;
using Clock = std::chrono::steady_clock;

namespace {

double ns(Clock::duration d) { return std::chrono::duration<double, std::nano>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: core-path TOKENS JWKS ISSUER_PATTERN THRASH_KB [N]\n";
    return 2;
  }
  const size_t limit = argc > 5 ? std::stoul(argv[5]) : 15000;
  std::vector<std::string> tokens;
  std::ifstream in(argv[1]);
  for (std::string line; tokens.size() < limit && std::getline(in, line);) tokens.push_back(line);
  std::ifstream jf(argv[2]);
  const std::string jwks_text((std::istreambuf_iterator<char>(jf)), {});
  std::shared_ptr<const Jwks> keys;
  if (tokens.empty() || Jwks::parse(jwks_text, keys) != Status::kOk) {
    std::cerr << "core-path: no tokens, or the JWKS does not parse\n";
    return 1;
  }
  VerifierConfig config;
  IssuerPattern pattern;
  std::string error;
  if (!IssuerPattern::parse(argv[3], pattern, error)) {
    std::cerr << "core-path: " << error << "\n";
    return 1;
  }
  config.issuers.push_back(pattern);
  config.claims.audiences = {"tenant-services"};
  const CacheKeySettings settings = cache_key_settings(config.fingerprint()).value();
  std::vector<char> junk(std::stoul(argv[4]) * 1024 + 1);

  std::vector<double> key_ns, inspect_ns, verify_ns;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (int pass = 0; pass < 6; ++pass) {
    Clock::duration key{}, inspect{}, verify{};
    for (const std::string& t : tokens) {
      for (size_t i = 0; i + 1 < junk.size(); i += 64) junk[i]++;
      auto t0 = Clock::now();
      SigningInputDigest digest;
      token_cache_key(settings, t, &digest);
      auto t1 = Clock::now();
      InspectedToken it;
      Status s = inspect_token(t, config, it);
      it.jwt.signing_input_sha256 = std::move(digest);
      auto t2 = Clock::now();
      Identity id;
      if (s == Status::kOk) s = verify_token(it, *keys, config, now, id);
      auto t3 = Clock::now();
      if (s != Status::kOk) {
        std::cerr << "core-path: a token was refused: " << status_name(s) << "\n";
        return 1;
      }
      key += t1 - t0;
      inspect += t2 - t1;
      verify += t3 - t2;
    }
    if (pass == 0) continue;  // warm-up
    key_ns.push_back(ns(key) / tokens.size());
    inspect_ns.push_back(ns(inspect) / tokens.size());
    verify_ns.push_back(ns(verify) / tokens.size());
  }
  std::printf(
      "tokens %zu, %s KiB written between tokens: cache key %.0f ns, inspect %.0f ns, "
      "verify (signature, claims, identity) %.0f ns, total %.0f ns\n",
      tokens.size(), argv[4], median(key_ns), median(inspect_ns), median(verify_ns),
      median(key_ns) + median(inspect_ns) + median(verify_ns));
  return 0;
}
