#include "tenant_registry.h"

#include "redis_keys.h"

namespace realm_auth {

RedisRead read_tenant_record(RedisClient& client, const std::string& slug, TenantRecordValue& out,
                             std::string& why) {
  OpenedValue opened;
  RedisRead r = client.get_sealed(tenant_key(slug), kMaxTenantRecord, opened, why);
  if (r != RedisRead::kFound) return r;
  TenantRecordValue v;
  if (!decode_tenant_record(opened.payload, v)) {
    why = "unknown tenant state";
    return RedisRead::kRejected;
  }
  v.issued_ms = opened.issued_ms;
  out = v;
  return RedisRead::kFound;
}

bool write_tenant_record(RedisClient& client, const std::string& slug, const TenantRecordValue& v) {
  return client.set_sealed(tenant_key(slug), encode_tenant_record(v), 0);
}

}  // namespace realm_auth
