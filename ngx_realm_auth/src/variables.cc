// $realm_* variables (the verified identity) and the NGINX Plus-compatible
// $jwt_claim_<name> / $jwt_header_<name>. All empty unless the token was
// verified in this request; $realm_auth_error names the refusal reason and
// $realm_identity_json holds the whole identity as one JSON object.
#include <cstdlib>
#include <cstring>
#include <string>

#include "base64url.h"
#include "guard.h"
#include "json.h"
#include "module.h"

namespace realm_auth {

namespace {

enum class Field : uintptr_t {
  kActorId,
  kTenantId,
  kRealm,
  kIssuer,
  kRoles,
  kUsername,
  kEmail,
  kDepartmentId,
  kPurpose,
  kError,
  kIdentityJson
};

ngx_int_t set_value(ngx_http_request_t* r, ngx_http_variable_value_t* v, std::string_view s) {
  if (s.empty()) {
    v->not_found = 1;
    return NGX_OK;
  }
  auto* data = static_cast<u_char*>(ngx_pnalloc(r->pool, s.size()));
  if (data == nullptr) return NGX_ERROR;
  std::memcpy(data, s.data(), s.size());
  v->data = data;
  v->len = static_cast<unsigned>(s.size());
  v->valid = 1;
  v->no_cacheable = 1;
  v->not_found = 0;
  return NGX_OK;
}

std::string_view purpose_of(ngx_http_request_t* r);

// The verified identity as one JSON object (auth_realm_identity and
// $realm_identity_json): jansson escapes every value, so a quote in a
// purpose or an e-mail address cannot change the document's shape. Empty
// optional claims are null; roles an array.
bool render_identity(ngx_http_request_t* r, const Identity& id, std::string& out) {
  auto str_or_null = [](const std::string& s) {
    return s.empty() ? json_null() : json_stringn(s.data(), s.size());
  };
  JsonPtr o(json_object());
  JsonPtr roles(json_array());
  if (!o || !roles) return false;
  for (const std::string& role : id.roles) {
    if (json_array_append_new(roles.get(), json_stringn(role.data(), role.size())) != 0) {
      return false;
    }
  }
  std::string purpose_text(purpose_of(r));
  // The token's strings passed a strict UTF-8 parser; X-Purpose is only
  // free of control bytes. Where it is not UTF-8, its non-ASCII bytes are
  // shown as U+FFFD rather than failing the whole document.
  if (!purpose_text.empty() &&
      JsonPtr(json_stringn(purpose_text.data(), purpose_text.size())) == nullptr) {
    std::string ascii;
    for (unsigned char c : purpose_text) {
      if (c < 0x80) {
        ascii += static_cast<char>(c);
      } else {
        ascii += "\xEF\xBF\xBD";
      }
    }
    purpose_text.swap(ascii);
  }
  if (json_object_set_new(o.get(), "tenant_id", str_or_null(id.tenant_id)) != 0 ||
      json_object_set_new(o.get(), "realm", str_or_null(id.realm)) != 0 ||
      json_object_set_new(o.get(), "issuer", str_or_null(id.issuer)) != 0 ||
      json_object_set_new(o.get(), "actor_id", str_or_null(id.actor_id)) != 0 ||
      json_object_set_new(o.get(), "username", str_or_null(id.username)) != 0 ||
      json_object_set_new(o.get(), "email", str_or_null(id.email)) != 0 ||
      json_object_set_new(o.get(), "department_id", str_or_null(id.department_id)) != 0 ||
      json_object_set_new(o.get(), "roles", roles.release()) != 0 ||
      json_object_set_new(o.get(), "purpose", str_or_null(purpose_text)) != 0 ||
      json_object_set_new(o.get(), "expires_at", json_integer(id.exp)) != 0) {
    return false;
  }
  // ASCII only: the document also fits a header (proxy_set_header).
  char* text = json_dumps(o.get(), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
  if (text == nullptr) return false;
  out.assign(text);
  free(text);
  return true;
}

// The identity of a request the access phase verified, or nullptr.
const Identity* verified_identity(ngx_http_request_t* r) {
  RequestCtx* ctx = request_ctx(r);
  if (ctx == nullptr || ctx->phase != RequestCtx::Phase::kDone) return nullptr;
  if (ctx->status != Status::kOk || !ctx->identity) return nullptr;
  return ctx->identity.get();
}

// The purpose the post-read pass selected (core purpose.h), "" unless valid.
std::string_view purpose_of(ngx_http_request_t* r) {
  const RequestPurpose* p = request_purpose(r);
  return p != nullptr && p->check == PurposeCheck::kOk ? to_view(p->value) : std::string_view();
}

ngx_int_t get_identity(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  RequestCtx* ctx = request_ctx(r);
  v->not_found = 1;
  if (ctx == nullptr || ctx->phase != RequestCtx::Phase::kDone) return NGX_OK;
  auto field = static_cast<Field>(data);
  if (field == Field::kError) {
    return ctx->status == Status::kOk ? NGX_OK : set_value(r, v, status_name(ctx->status));
  }
  if (ctx->status != Status::kOk || !ctx->identity) return NGX_OK;
  const Identity& id = *ctx->identity;
  switch (field) {
    case Field::kActorId:
      return set_value(r, v, id.actor_id);
    case Field::kTenantId:
      return set_value(r, v, id.tenant_id);
    case Field::kRealm:
      return set_value(r, v, id.realm);
    case Field::kIssuer:
      return set_value(r, v, id.issuer);
    case Field::kRoles:
      return set_value(r, v, join_roles(id.roles));
    case Field::kUsername:
      return set_value(r, v, id.username);
    case Field::kEmail:
      return set_value(r, v, id.email);
    case Field::kDepartmentId:
      return set_value(r, v, id.department_id);
    case Field::kPurpose:
      return set_value(r, v, purpose_of(r));
    case Field::kIdentityJson: {
      std::string text;
      return render_identity(r, id, text) ? set_value(r, v, text) : NGX_ERROR;
    }
    case Field::kError:
      break;
  }
  return NGX_OK;
}

// Decodes segment `index` (0 header, 1 payload) of the verified token into
// jansson values, on first use: verification reads only the members it
// needs (FlatJson), and most locations never ask for $jwt_claim_*.
json_t* token_part(RequestCtx* ctx, int index) {
  JsonPtr& slot = index == 0 ? ctx->header_json : ctx->claims_json;
  if (slot) return slot.get();
  std::string_view token = to_view(ctx->token);
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) return nullptr;
  std::string_view segment =
      index == 0 ? token.substr(0, first) : token.substr(first + 1, second - first - 1);
  std::string json;
  if (!base64url_decode(segment, json)) return nullptr;
  // The token was verified earlier (or is in the verified-token cache), so
  // this parse cannot fail on hostile input; limits are kept anyway.
  if (parse_json_object(json, 32, Status::kPayloadNotJson, slot) != Status::kOk) return nullptr;
  return slot.get();
}

// NGINX Plus rendering: strings as is, arrays of scalars comma-joined,
// objects as compact JSON.
std::string render(const json_t* value) {
  switch (json_typeof(value)) {
    case JSON_STRING:
      return {json_string_value(value), json_string_length(value)};
    case JSON_INTEGER:
      return std::to_string(json_integer_value(value));
    case JSON_TRUE:
      return "true";
    case JSON_FALSE:
      return "false";
    case JSON_NULL:
      return "";
    case JSON_ARRAY: {
      std::string out;
      size_t i;
      json_t* item;
      json_array_foreach(value, i, item) {
        if (i > 0) out += ',';
        out += render(item);
      }
      return out;
    }
    default: {
      char* text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
      std::string out = text ? text : "";
      free(text);
      return out;
    }
  }
}

template <int Part>
ngx_int_t get_jwt_member(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  static constexpr const char* kPrefix = Part == 0 ? "jwt_header_" : "jwt_claim_";
  auto* name = reinterpret_cast<ngx_str_t*>(data);
  RequestCtx* ctx = request_ctx(r);
  v->not_found = 1;
  if (ctx == nullptr || ctx->phase != RequestCtx::Phase::kDone || ctx->status != Status::kOk) {
    return NGX_OK;
  }
  json_t* object = token_part(ctx, Part);
  if (object == nullptr) return NGX_OK;
  size_t prefix = std::strlen(kPrefix);
  std::string member(reinterpret_cast<char*>(name->data) + prefix, name->len - prefix);
  json_t* value = json_object_get(object, member.c_str());
  return value == nullptr ? NGX_OK : set_value(r, v, render(value));
}

struct VariableSpec {
  const char* name;
  Field field;
};

constexpr VariableSpec kIdentityVariables[] = {
    {"realm_actor_id", Field::kActorId},
    {"realm_tenant_id", Field::kTenantId},
    {"realm_name", Field::kRealm},
    {"realm_issuer", Field::kIssuer},
    {"realm_roles", Field::kRoles},
    {"realm_username", Field::kUsername},
    {"realm_email", Field::kEmail},
    {"realm_department_id", Field::kDepartmentId},
    {"realm_purpose", Field::kPurpose},
    {"realm_auth_error", Field::kError},
    {"realm_identity_json", Field::kIdentityJson},
};

ngx_int_t add(ngx_conf_t* cf, const char* text, ngx_uint_t flags, ngx_http_get_variable_pt get,
              uintptr_t data) {
  ngx_str_t name;
  name.data = reinterpret_cast<u_char*>(const_cast<char*>(text));
  name.len = std::strlen(text);
  ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, flags);
  if (var == nullptr) return NGX_ERROR;
  var->get_handler = get;
  var->data = data;
  return NGX_OK;
}

}  // namespace

bool identity_json(ngx_http_request_t* r, ngx_str_t& out) {
  const Identity* id = verified_identity(r);
  std::string text;
  if (id == nullptr || !render_identity(r, *id, text)) return false;
  out.data = static_cast<u_char*>(ngx_pnalloc(r->pool, text.size()));
  if (out.data == nullptr) return false;
  std::memcpy(out.data, text.data(), text.size());
  out.len = text.size();
  return true;
}

ngx_int_t add_variables(ngx_conf_t* cf) {
  for (const VariableSpec& spec : kIdentityVariables) {
    if (add(cf, spec.name, NGX_HTTP_VAR_NOCACHEABLE, guard::variable<get_identity>,
            static_cast<uintptr_t>(spec.field)) != NGX_OK) {
      return NGX_ERROR;
    }
  }
  if (add(cf, "jwt_claim_", NGX_HTTP_VAR_PREFIX | NGX_HTTP_VAR_NOCACHEABLE,
          guard::variable<get_jwt_member<1>>, 0) != NGX_OK ||
      add(cf, "jwt_header_", NGX_HTTP_VAR_PREFIX | NGX_HTTP_VAR_NOCACHEABLE,
          guard::variable<get_jwt_member<0>>, 0) != NGX_OK) {
    return NGX_ERROR;
  }
  return NGX_OK;
}

}  // namespace realm_auth
