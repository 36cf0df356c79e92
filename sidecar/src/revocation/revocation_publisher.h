#pragma once

#include <string>

#include "revocation_record.h"

namespace realm_sidecar {
class RevocationPublisher {
 public:
  virtual ~RevocationPublisher() = default;
  // Durable once it returns true (h-logout: a PostgreSQL row + a push to
  // Redis, retried in the background until Redis takes it). False = nothing
  // promised; the caller answers 503 and the outcome event says so.
  virtual bool publish(const realm_auth::RevocationRecord& r, std::string& error) = 0;
  // The not_before/expires the sidecar stamps on a record for tenant `tenant` now.
  virtual realm_auth::RevocationRecord make(realm_auth::RevocationKind kind,
                                            const std::string& tenant,
                                            const std::string& subject) const = 0;
};
}  // namespace realm_sidecar
