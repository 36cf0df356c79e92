// auth_realm_status in the Prometheus text exposition format 0.0.4: the
// same numbers as the JSON document, named after Prometheus's conventions
// (docs/MODULE.md, "Prometheus metrics").
#pragma once

#include <string>

#include "zone.h"

namespace realm_auth {

std::string prometheus_status(const Zone::Stats& st);

}  // namespace realm_auth
