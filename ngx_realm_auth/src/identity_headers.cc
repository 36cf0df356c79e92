// Identity headers for the upstream. Wherever auth_realm is on, the client's
// own X-Actor-*, X-Tenant-Id, X-Realm-* and extra X-Purpose headers are
// dropped, so an upstream that reads X-Tenant-Id can only ever see the value
// derived from the verified issuer (or nothing, with identity headers off).
#include <cstring>
#include <string>

#include "module.h"

namespace realm_auth {

namespace {

bool starts_with(const ngx_table_elt_t& h, const char* prefix) {
  size_t n = std::strlen(prefix);
  return h.key.len >= n && std::memcmp(h.lowcase_key, prefix, n) == 0;
}

bool is_exactly(const ngx_table_elt_t& h, const char* name) {
  return h.key.len == std::strlen(name) && std::memcmp(h.lowcase_key, name, h.key.len) == 0;
}

// Headers only this module may set.
bool is_identity_header(const ngx_table_elt_t& h) {
  return starts_with(h, "x-actor-") || starts_with(h, "x-realm-") || is_exactly(h, "x-tenant-id");
}

// Appends `name: <parts joined by ','>` to `list`, copied into the request
// pool. Nothing is added when the parts are all empty (or there are none).
ngx_int_t push(ngx_http_request_t* r, ngx_list_t* list, const char* name, const std::string* parts,
               size_t count) {
  size_t value_len = 0;
  for (size_t i = 0; i < count; i++) value_len += parts[i].size() + 1;
  if (value_len <= count) return NGX_OK;  // nothing but separators
  value_len--;                            // no ',' after the last part
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(list));
  size_t name_len = std::strlen(name);
  u_char* buf = static_cast<u_char*>(ngx_pnalloc(r->pool, 2 * name_len + value_len));
  if (h == nullptr || buf == nullptr) return NGX_ERROR;
  h->key.data = buf;
  h->key.len = name_len;
  std::memcpy(buf, name, name_len);
  h->lowcase_key = buf + name_len;
  ngx_strlow(h->lowcase_key, h->key.data, name_len);
  h->value.data = buf + 2 * name_len;
  h->value.len = value_len;
  u_char* p = h->value.data;
  for (size_t i = 0; i < count; i++) {
    if (i > 0) *p++ = ',';
    p = ngx_cpymem(p, parts[i].data(), parts[i].size());
  }
  h->hash = ngx_hash_key(h->lowcase_key, name_len);
  return NGX_OK;
}

ngx_int_t push(ngx_http_request_t* r, ngx_list_t* list, const char* name,
               const std::string& value) {
  return push(r, list, name, &value, 1);
}

// Empty values (no email, no department, no tenant for the platform realm)
// are left out rather than sent empty. Roles go out as $realm_roles renders
// them (join_roles), written straight into the pool.
ngx_int_t push_identity(ngx_http_request_t* r, ngx_list_t* list, const Identity& id) {
  bool ok = push(r, list, "X-Actor-Id", id.actor_id) == NGX_OK &&
            push(r, list, "X-Tenant-Id", id.tenant_id) == NGX_OK &&
            push(r, list, "X-Realm-Name", id.realm) == NGX_OK &&
            push(r, list, "X-Actor-Roles", id.roles.data(), id.roles.size()) == NGX_OK &&
            push(r, list, "X-Actor-Username", id.username) == NGX_OK &&
            push(r, list, "X-Actor-Email", id.email) == NGX_OK &&
            push(r, list, "X-Actor-Department-Id", id.department_id) == NGX_OK;
  return ok ? NGX_OK : NGX_ERROR;
}

// Whether a client header must not reach the upstream: a reserved identity
// name, or an X-Purpose after the first (the caller declares one purpose).
// Called on the headers in order; `seen_purpose` carries that state along.
bool dropped(const ngx_table_elt_t& h, bool& seen_purpose) {
  if (is_identity_header(h)) return true;
  if (!is_exactly(h, "x-purpose")) return false;
  if (seen_purpose) return true;
  seen_purpose = true;
  return false;
}

// Whether the client's headers hold anything set_identity_headers must drop.
bool needs_cleaning(ngx_http_request_t* r) {
  bool seen_purpose = false;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) {
      if (dropped(h[i], seen_purpose)) return true;
    }
  }
  return false;
}

}  // namespace

ngx_int_t set_identity_headers(ngx_http_request_t* r, const RequestCtx& ctx, bool add) {
  // The common case, nothing to drop: append to the client's list as it is.
  if (!needs_cleaning(r)) {
    return add ? push_identity(r, &r->headers_in.headers, *ctx.identity) : NGX_OK;
  }
  // Rebuild the list without the reserved names: nginx 1.22 has no way to
  // unlink one element, and proxy/fastcgi/grpc all walk this list.
  ngx_list_t fresh;
  if (ngx_list_init(&fresh, r->pool, 20, sizeof(ngx_table_elt_t)) != NGX_OK) return NGX_ERROR;
  bool seen_purpose = false;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) {
      if (dropped(h[i], seen_purpose)) continue;
      auto* copy = static_cast<ngx_table_elt_t*>(ngx_list_push(&fresh));
      if (copy == nullptr) return NGX_ERROR;
      *copy = h[i];
    }
  }

  if (add && push_identity(r, &fresh, *ctx.identity) != NGX_OK) return NGX_ERROR;
  bool single_part = fresh.last == &fresh.part;
  r->headers_in.headers = fresh;
  if (single_part) r->headers_in.headers.last = &r->headers_in.headers.part;  // was &fresh.part
  return NGX_OK;
}

}  // namespace realm_auth
