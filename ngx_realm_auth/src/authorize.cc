// The authorization directives and their check (authorize.h). The rules
// themselves (role and claim matching, JSON literals) are core's
// authorization.h; this file parses directives and reads the request.
#include "authorize.h"

#include <string_view>

namespace realm_auth {

namespace {

char* conf_error(ngx_conf_t* cf, ngx_command_t* cmd, const std::string& why) {
  ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &cmd->name, why.c_str());
  return static_cast<char*>(NGX_CONF_ERROR);
}

// The list of this configuration level, made on its first directive: a
// level with its own list does not see the inherited one (merge_loc_conf).
template <typename T>
std::vector<T>* level_list(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto** list = reinterpret_cast<std::vector<T>**>(static_cast<char*>(conf) + cmd->offset);
  if (*list == NGX_CONF_UNSET_PTR) *list = make_owned<std::vector<T>>(cf);
  return *list;
}

std::vector<std::string_view> arguments(ngx_conf_t* cf, ngx_uint_t first) {
  auto* value = static_cast<ngx_str_t*>(cf->args->elts);
  std::vector<std::string_view> out;
  for (ngx_uint_t i = first; i < cf->args->nelts; i++) out.push_back(to_view(value[i]));
  return out;
}

// "<directive>[ "<what>"] at <file>:<line>": names the rule in the log.
std::string label(ngx_conf_t* cf, ngx_command_t* cmd, std::string_view what = {}) {
  std::string out(to_view(cmd->name));
  if (!what.empty()) {
    out += " \"";
    out += what;
    out += '"';
  }
  out += " at ";
  out += to_view(cf->conf_file->file.name);
  out += ':' + std::to_string(cf->conf_file->line);
  return out;
}

// The verified claims set: parsed at verification, or (a cache hit, which
// keeps the identity, not the claims) parsed again from the token, which is
// byte for byte the one verified. Absent if that fails: no claim matches.
FlatJson::Value verified_claims(const LocConf& lcf, RequestCtx& ctx) {
  FlatJson& payload = ctx.inspected.jwt.payload;
  if (!payload.root().present() &&
      parse_jwt_payload(to_view(ctx.token), lcf.verifier->limits.max_depth, payload) !=
          Status::kOk) {
    return {};
  }
  return payload.root();
}

// nginx evaluates a complex value again only for its non-cacheable
// variables ($jwt_claim_*, $realm_*); a map is cacheable, and one that
// `set` or `if` read in the rewrite phase, before the token was verified,
// would answer with that early value (a "default 1" would pass everyone).
// The variables the value names are evaluated afresh.
void forget_early_values(ngx_http_request_t* r, const ngx_http_complex_value_t* cv) {
  if (cv->flushes == nullptr) return;
  for (const ngx_uint_t* index = cv->flushes; *index != static_cast<ngx_uint_t>(-1); ++index) {
    r->variables[*index].valid = 0;
    r->variables[*index].not_found = 0;
  }
}

Status deny(ngx_http_request_t* r, RequestCtx& ctx, Status s, const std::string& rule,
            ngx_uint_t code) {
  ctx.denial_code = code;
  ngx_log_t scratch;
  // info: a client's request, not the operator's problem (as for refusals).
  // The rule comes from nginx.conf; nothing of the token is written.
  ngx_log_error(NGX_LOG_INFO, request_log(r, scratch), 0, "realm_auth: access denied: %s (%s)",
                status_name(s), rule.c_str());
  return s;
}

}  // namespace

// auth_realm_require_role role …
char* add_require_role(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  RoleRule rule;
  std::string error;
  if (!make_role_requirement(arguments(cf, 1), rule.rule, error)) {
    return conf_error(cf, cmd, error);
  }
  rule.label = label(cf, cmd);
  std::vector<RoleRule>* list = level_list<RoleRule>(cf, cmd, conf);
  if (list == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  list->push_back(std::move(rule));
  return NGX_CONF_OK;
}

// auth_realm_require_claim name eq|in|contains value …
char* add_require_claim(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  std::vector<std::string_view> args = arguments(cf, 1);
  if (args.size() < 2) {
    return conf_error(cf, cmd, "takes a claim name, an operator (eq, in, contains) and values");
  }
  ClaimRule rule;
  std::string error;
  std::vector<std::string_view> values(args.begin() + 2, args.end());
  if (!make_claim_requirement(args[0], args[1], values, rule.rule, error)) {
    return conf_error(cf, cmd, error);
  }
  rule.label = label(cf, cmd, args[0]);
  std::vector<ClaimRule>* list = level_list<ClaimRule>(cf, cmd, conf);
  if (list == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  list->push_back(std::move(rule));
  return NGX_CONF_OK;
}

// auth_realm_require $value … [error=401|403]
char* add_require_value(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* value = static_cast<ngx_str_t*>(cf->args->elts);
  ngx_uint_t end = cf->args->nelts;
  VariableRule rule;
  for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
    std::string_view arg = to_view(value[i]);
    if (arg.rfind("error=", 0) != 0) continue;
    if (i != cf->args->nelts - 1) return conf_error(cf, cmd, "error= must come last");
    if (arg == "error=401") {
      rule.code = NGX_HTTP_UNAUTHORIZED;
    } else if (arg == "error=403") {
      rule.code = NGX_HTTP_FORBIDDEN;
    } else {
      return conf_error(cf, cmd, "error= takes 401 or 403, not \"" + std::string(arg) + "\"");
    }
    end = i;
  }
  if (end < 2) return conf_error(cf, cmd, "needs at least one value with a variable");
  for (ngx_uint_t i = 1; i < end; i++) {
    // A value without a variable is the same for every request: always
    // true or always false, a mistake either way.
    if (ngx_http_script_variables_count(&value[i]) == 0) {
      return conf_error(cf, cmd,
                        "\"" + std::string(to_view(value[i])) +
                            "\" has no variable (values "
                            "are checked per request: non-empty and not \"0\" passes)");
    }
    auto* cv = static_cast<ngx_http_complex_value_t*>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t)));
    if (cv == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
    ngx_http_compile_complex_value_t ccv;
    ngx_memzero(&ccv, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = &value[i];
    ccv.complex_value = cv;
    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
    rule.values.push_back(cv);
  }
  rule.label = label(cf, cmd);
  std::vector<VariableRule>* list = level_list<VariableRule>(cf, cmd, conf);
  if (list == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  list->push_back(std::move(rule));
  return NGX_CONF_OK;
}

Status authorize(ngx_http_request_t* r, const LocConf& lcf, RequestCtx& ctx) {
  // Cheapest first: roles are in the identity, claims need the claims set,
  // values run nginx scripts (maps, regexes).
  if (lcf.require_roles != nullptr) {
    for (const RoleRule& rule : *lcf.require_roles) {
      if (!roles_satisfy(ctx.identity->roles, rule.rule)) {
        return deny(r, ctx, Status::kRequireRole, rule.label, NGX_HTTP_FORBIDDEN);
      }
    }
  }
  if (lcf.require_claims != nullptr && !lcf.require_claims->empty()) {
    FlatJson::Value claims = verified_claims(lcf, ctx);
    for (const ClaimRule& rule : *lcf.require_claims) {
      if (!claim_satisfies(claims, rule.rule)) {
        return deny(r, ctx, Status::kRequireClaim, rule.label, NGX_HTTP_FORBIDDEN);
      }
    }
  }
  if (lcf.require_values != nullptr) {
    for (const VariableRule& rule : *lcf.require_values) {
      for (ngx_http_complex_value_t* cv : rule.values) {
        ngx_str_t v;
        forget_early_values(r, cv);
        if (ngx_http_complex_value(r, cv, &v) != NGX_OK) return Status::kInternalError;
        if (!require_value_passes(to_view(v))) {
          return deny(r, ctx, Status::kRequire, rule.label, rule.code);
        }
      }
    }
  }
  return Status::kOk;
}

}  // namespace realm_auth
