// Randomness from OpenSSL's CSPRNG (RAND_bytes). Every function fails hard
// (returns false / empty) rather than fall back to a weaker source.
#pragma once

#include <cstddef>
#include <string>

namespace realm_sidecar {

// `n` random bytes into `out`; false when the CSPRNG is not seeded.
bool random_bytes(unsigned char* out, size_t n);

// 32 lowercase hex characters (128 bits): request ids.
std::string random_hex_id();

// A temporary password of `length` characters from [A-Za-z0-9] plus a few
// symbols, with at least one lowercase, uppercase, digit and symbol so that
// common realm password policies accept it. Empty on CSPRNG failure.
std::string random_password(size_t length);

}  // namespace realm_sidecar
