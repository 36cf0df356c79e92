// What a provisioning step tells the API layer: an HTTP status, a
// client-safe detail (and the offending field for 400s), and a log line
// with the internal cause (Keycloak's message, SQLSTATE) that never goes
// to the client.
#pragma once

#include <string>

namespace realm_sidecar {

struct Outcome {
  int status = 200;
  std::string detail;
  std::string field;
  std::string log;        // internal cause, for stderr and the ledger's reason
  int retry_after_s = 0;  // > 0: answered with Retry-After
  bool ok() const { return status < 400; }
};

inline Outcome fail(int status, std::string detail, std::string log = "", std::string field = "") {
  Outcome o;
  o.status = status;
  o.detail = std::move(detail);
  o.field = std::move(field);
  o.log = std::move(log);
  return o;
}

}  // namespace realm_sidecar
