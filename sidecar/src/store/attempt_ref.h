// Who asked for a provisioning attempt (store/attempt_store.h), passed down
// to the store calls that write its provisioning_attempts row.
#pragma once

#include <cstdint>
#include <string>

namespace realm_sidecar {

struct AttemptRef {
  std::string request_id;
  std::string actor_id;
  std::string actor_realm;
  std::string purpose;
  int32_t owner = 0;  // OwnerLease::id() of the sidecar doing it
};

}  // namespace realm_sidecar
