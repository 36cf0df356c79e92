#include "tenant_registry.h"

namespace realm_auth {

std::string tenant_key(const std::string& slug) { return "tenant:" + slug; }

bool read_tenant_record(RedisClient& client, const std::string& slug, TenantInfo& out) {
  std::string value;
  bool found = false;
  if (!client.get(tenant_key(slug), value, found)) return false;
  if (!found) {
    out = TenantInfo{};
    return true;
  }
  decode_tenant_record(value, out);
  return true;
}

}  // namespace realm_auth
