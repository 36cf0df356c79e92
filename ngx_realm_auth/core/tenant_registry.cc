#include "tenant_registry.h"

namespace realm_auth {

std::string tenant_key(const std::string& slug) { return "tenant:" + slug; }

bool read_tenant_record(RedisClient& client, const std::string& slug, TenantRecord& out) {
  std::string value;
  bool found = false;
  if (!client.get(tenant_key(slug), value, found)) return false;
  if (!found) {
    out = TenantRecord::kAbsent;
  } else if (value == "disabled") {
    out = TenantRecord::kDisabled;
  } else if (value == "deleted") {
    out = TenantRecord::kDeleted;
  } else {
    out = TenantRecord::kActive;
  }
  return true;
}

}  // namespace realm_auth
