#include "store/tenant_status.h"

namespace realm_sidecar {

namespace {

struct StatusName {
  TenantStatus status;
  const char* text;
};
constexpr StatusName kStatuses[] = {{TenantStatus::kProvisioning, "provisioning"},
                                    {TenantStatus::kActive, "active"},
                                    {TenantStatus::kDisabled, "disabled"},
                                    {TenantStatus::kDeleting, "deleting"},
                                    {TenantStatus::kFailed, "failed"}};

}  // namespace

const char* to_string(TenantStatus s) {
  for (const auto& n : kStatuses)
    if (n.status == s) return n.text;
  return "failed";
}

bool parse_tenant_status(const std::string& text, TenantStatus& out) {
  for (const auto& n : kStatuses) {
    if (text == n.text) {
      out = n.status;
      return true;
    }
  }
  return false;
}

Recovery recovery_for(TenantStatus status, RealmPresence realm) {
  switch (status) {
    case TenantStatus::kActive:
    case TenantStatus::kDisabled:
      return Recovery::kNone;
    case TenantStatus::kDeleting:
      return Recovery::kDelete;
    case TenantStatus::kFailed:
      return Recovery::kRollBack;
    case TenantStatus::kProvisioning:
      if (realm == RealmPresence::kPresent) return Recovery::kFinish;
      if (realm == RealmPresence::kAbsent) return Recovery::kDropRow;
      return Recovery::kWait;
  }
  return Recovery::kWait;
}

const char* to_string(Recovery r) {
  switch (r) {
    case Recovery::kNone:
      return "none";
    case Recovery::kFinish:
      return "finish";
    case Recovery::kDropRow:
      return "drop row";
    case Recovery::kRollBack:
      return "roll back";
    case Recovery::kDelete:
      return "delete";
    case Recovery::kWait:
      return "wait";
  }
  return "wait";
}

}  // namespace realm_sidecar
