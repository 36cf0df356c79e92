// What KeyStore::still_published last found for one cached token
// (key_store.h): the worker's entry of the token's issuer, and which of that
// entry's key sets held the token's kid. A cache hit whose memo still
// matches skips the issuer's hash lookup and the walk of its keys, the
// cold memory that made 10,000 tenants cost more per hit than one
// (bench/parts/30-tenants.sh). Kept with the token in the worker's table.
#pragma once

#include <cstdint>

namespace realm_auth {

struct KeyCheckMemo {
  void* entry = nullptr;     // KeyStore's entry of the issuer (null: none)
  uint64_t erasures = 0;     // KeyStore's count of erased keyed entries then
  uint64_t keys_serial = 0;  // the entry's key set that published the kid
};

}  // namespace realm_auth
