#include "tenant_registry.h"

#include "redis_keys.h"

namespace realm_auth {

const char* tenant_state_name(TenantRecord s) {
  switch (s) {
    case TenantRecord::kActive:
      return "active";
    case TenantRecord::kDisabled:
      return "disabled";
    case TenantRecord::kDeleted:
      return "deleted";
    case TenantRecord::kAbsent:
      break;
  }
  return "absent";
}

bool parse_tenant_state(const std::string& name, TenantRecord& out) {
  for (TenantRecord s : {TenantRecord::kActive, TenantRecord::kDisabled, TenantRecord::kDeleted}) {
    if (name == tenant_state_name(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

std::string encode_tenant_record(const TenantRecordValue& v) { return tenant_state_name(v.state); }

bool decode_tenant_record(const std::string& text, TenantRecordValue& out) {
  return parse_tenant_state(text.substr(0, text.find(' ')), out.state);
}

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
