// The daemon's crash_after(): a saga step marker and nothing else
// (crash_point.h). Its own archive member, so that realm-sidecar-fault's
// crash_point_on.cc replaces it at link time.
#include "fault/crash_point.h"

namespace realm_sidecar {

void crash_after(const char*) noexcept {}

}  // namespace realm_sidecar
