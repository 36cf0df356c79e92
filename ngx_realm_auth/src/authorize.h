// Authorization: the access phase's step after authentication. A request
// whose token is verified (freshly or from the verified-token cache, every
// request) must also pass the location's rules:
//
//   auth_realm_require_role role …            any of the roles; repeated: all
//   auth_realm_require_claim name op value …  core authorization.h
//   auth_realm_require $value … [error=401|403]  NGINX Plus auth_jwt_require
//
// Each list replaces the one inherited from the enclosing level when the
// level has its own (nginx's rule for repeatable directives, as for
// auth_jwt_require); lists of different directives add up.
#pragma once

#include <string>
#include <vector>

#include "authorization.h"
#include "module.h"

namespace realm_auth {

// Each rule keeps where it was written, for the log line of a denial.
struct RoleRule {
  RoleRequirement rule;
  std::string label;  // auth_realm_require_role at <file>:<line>
};

struct ClaimRule {
  ClaimRequirement rule;
  std::string label;  // auth_realm_require_claim "<name>" at <file>:<line>
};

struct VariableRule {
  std::vector<ngx_http_complex_value_t*> values;  // each must be non-empty and not "0"
  ngx_uint_t code = NGX_HTTP_FORBIDDEN;           // error=401|403
  std::string label;                              // auth_realm_require at <file>:<line>
};

// Directive parsers (module.cc's command table).
char* add_require_role(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* add_require_claim(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* add_require_value(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);

// kOk, or the Status naming the first rule that fails (kRequireRole,
// kRequireClaim, kRequire; ctx.denial_code says 401 or 403), logged at info
// with the rule's label. Runs with ctx.phase kDone and ctx.status kOk, so
// the values of auth_realm_require see $realm_* and $jwt_claim_* of the
// verified token.
Status authorize(ngx_http_request_t* r, const LocConf& lcf, RequestCtx& ctx);

}  // namespace realm_auth
