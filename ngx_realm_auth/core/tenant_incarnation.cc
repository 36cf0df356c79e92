#include "tenant_incarnation.h"

namespace realm_auth {

Status admit_tenant_token(const TenantRecordValue& info, int64_t iat) {
  if (info.state == TenantRecord::kDeleted) return Status::kTenantDeleted;
  if (info.state == TenantRecord::kDisabled) return Status::kTenantDisabled;
  if (info.incarnation_start > 0 && iat < info.incarnation_start) return Status::kTenantDeleted;
  return Status::kOk;
}

Status unverified_refusal(Status status, const TenantRecordValue& info, int64_t claimed_iat) {
  // A deleted tenant's keys are gone (its realm with them), so its tokens
  // fail at the keys: say why, instead of "cannot be verified now", which
  // invites a retry that can never succeed.
  if (status == Status::kJwksUnavailable) {
    return info.state == TenantRecord::kDeleted ? Status::kTenantDeleted : status;
  }
  if (status != Status::kKeyNotFound) return status;
  if (info.state == TenantRecord::kDeleted) return Status::kTenantDeleted;
  if (info.incarnation_start > 0 && claimed_iat < info.incarnation_start) {
    return Status::kTenantDeleted;
  }
  return status;
}

bool incarnation_ended(const TenantRecordValue& before, const TenantRecordValue& now) {
  if (now.state == TenantRecord::kDeleted && before.state != TenantRecord::kDeleted) return true;
  return !before.incarnation_id.empty() && !now.incarnation_id.empty() &&
         before.incarnation_id != now.incarnation_id;
}

}  // namespace realm_auth
