// Client headers and the identity headers.
//
// In every server where auth_realm is configured (or
// auth_realm_strip_identity_headers is on), the post-read handler runs
// before any other phase of the request and
//   - removes the client's X-Actor-*, X-Tenant-Id and X-Realm-* headers
//     (any case, '_' read as '-': FastCGI, uwsgi, SCGI and $http_* fold the
//     two into one name), so no access decision (satisfy any + allow, an
//     error_page fallback, a location without auth_realm) can deliver a
//     forged identity to an upstream;
//   - selects the request's purpose (core purpose.h) and leaves exactly that
//     X-Purpose line, or none when the selection failed.
// headers_in is one list for the whole request: internal redirects keep it
// and subrequests copy it, and the post-read phase runs before both, so one
// pass is enough. The selection is kept in a pool cleanup, which (unlike a
// module context) survives internal redirects and is shared with
// subrequests (realip keeps its state the same way).
#include <cstring>
#include <string>

#include "dpop.h"
#include "module.h"
#include "purpose.h"

namespace realm_auth {

namespace {

// nginx's lowercased name with '_' read as '-' and trailing SP/HTAB (kept
// by ignore_invalid_headers off, and read as the same name by lenient
// backends) ignored.
struct FoldedName {
  explicit FoldedName(const ngx_table_elt_t& h) : p(h.lowcase_key), n(h.key.len) {
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  }
  bool starts_with(const char* prefix) const {
    size_t len = std::strlen(prefix);
    if (n < len) return false;
    for (size_t i = 0; i < len; i++) {
      if ((p[i] == '_' ? '-' : p[i]) != prefix[i]) return false;
    }
    return true;
  }
  bool is(const char* name) const { return n == std::strlen(name) && starts_with(name); }

  const u_char* p;
  size_t n;
};

// Names only this module may set.
bool is_reserved(const ngx_table_elt_t& h) {
  FoldedName name(h);
  return name.starts_with("x-actor-") || name.starts_with("x-realm-") || name.is("x-tenant-id");
}

bool is_purpose(const ngx_table_elt_t& h) { return FoldedName(h).is("x-purpose"); }

// Tags the pool cleanup that holds the request's RequestPurpose.
void purpose_tag(void*) {}

ngx_int_t record_purpose(ngx_http_request_t* r, const PurposeChoice& choice) {
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->pool, sizeof(RequestPurpose));
  if (cln == nullptr) return NGX_ERROR;
  auto* p = static_cast<RequestPurpose*>(cln->data);
  p->check = choice.check;
  p->value.data = reinterpret_cast<u_char*>(const_cast<char*>(choice.value.data()));
  p->value.len = choice.value.size();
  cln->handler = purpose_tag;
  return NGX_OK;
}

// Sets `h` to name: value, the name copied into the request pool.
ngx_int_t set_header(ngx_http_request_t* r, ngx_table_elt_t* h, const char* name, ngx_str_t value) {
  size_t name_len = std::strlen(name);
  auto* buf = static_cast<u_char*>(ngx_pnalloc(r->pool, 2 * name_len));
  if (buf == nullptr) return NGX_ERROR;
  h->key.data = buf;
  h->key.len = name_len;
  std::memcpy(buf, name, name_len);
  h->lowcase_key = buf + name_len;
  ngx_strlow(h->lowcase_key, h->key.data, name_len);
  h->hash = ngx_hash_key(h->lowcase_key, name_len);
  h->value = value;
  return NGX_OK;
}

// Replaces the client's header list by the elements `keep` accepts (it may
// rewrite the copy): nginx 1.22 cannot unlink one element, and proxy,
// fastcgi, uwsgi, scgi and grpc all walk this list. The r->headers_in
// shortcuts (host, authorization, ...) point at elements of the old list,
// which stays in the pool unchanged.
template <typename Keep>
ngx_int_t rebuild(ngx_http_request_t* r, Keep keep) {
  ngx_list_t fresh;
  if (ngx_list_init(&fresh, r->pool, 20, sizeof(ngx_table_elt_t)) != NGX_OK) return NGX_ERROR;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) {
      ngx_table_elt_t copy = h[i];
      ngx_int_t rc = keep(copy);
      if (rc == NGX_ERROR) return NGX_ERROR;
      if (rc == NGX_DECLINED) continue;
      auto* slot = static_cast<ngx_table_elt_t*>(ngx_list_push(&fresh));
      if (slot == nullptr) return NGX_ERROR;
      *slot = copy;
    }
  }
  bool single_part = fresh.last == &fresh.part;
  r->headers_in.headers = fresh;
  if (single_part) r->headers_in.headers.last = &r->headers_in.headers.part;  // was &fresh.part
  return NGX_OK;
}

// A header name this module sets, its lowercase form and nginx's hash of
// it (ngx_hash_key) worked out at compile time: what set_header computes
// per request for a name only known then.
struct HeaderName {
  ngx_str_t key;
  u_char* lowcase;
  ngx_uint_t hash;
};

constexpr ngx_uint_t name_hash(const char* lowcase) {
  ngx_uint_t h = 0;
  for (; *lowcase != '\0'; ++lowcase) h = h * 31 + static_cast<u_char>(*lowcase);
  return h;
}

// nginx's header fields hold non-const pointers, but nothing writes through
// a header's name (challenge() points WWW-Authenticate at a literal too).
u_char* literal(const char* s) { return reinterpret_cast<u_char*>(const_cast<char*>(s)); }

#define REALM_AUTH_HEADER(name, lowcase) \
  HeaderName { {sizeof(name) - 1, literal(name)}, literal(lowcase), name_hash(lowcase) }

// Appends `name: <parts joined by ','>` to the request's headers, the
// value copied into the request pool. Nothing is added when the parts are
// all empty.
ngx_int_t push(ngx_http_request_t* r, const HeaderName& name, const std::string* parts,
               size_t count) {
  size_t value_len = 0;
  for (size_t i = 0; i < count; i++) value_len += parts[i].size() + 1;
  if (value_len <= count) return NGX_OK;  // nothing but separators
  value_len--;                            // no ',' after the last part
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_in.headers));
  auto* data = static_cast<u_char*>(ngx_pnalloc(r->pool, value_len));
  if (h == nullptr || data == nullptr) return NGX_ERROR;
  u_char* p = data;
  for (size_t i = 0; i < count; i++) {
    if (i > 0) *p++ = ',';
    p = ngx_cpymem(p, parts[i].data(), parts[i].size());
  }
  h->key = name.key;
  h->lowcase_key = name.lowcase;
  h->hash = name.hash;
  h->value = ngx_str_t{value_len, data};
  return NGX_OK;
}

ngx_int_t push(ngx_http_request_t* r, const HeaderName& name, const std::string& value) {
  return push(r, name, &value, 1);
}

}  // namespace

ngx_int_t strip_client_identity(ngx_http_request_t* r) {
  auto* scf = static_cast<SrvConf*>(ngx_http_get_module_srv_conf(r, ngx_http_realm_auth_module));
  if (!scf->auth_used && scf->strip_identity_headers != 1) return NGX_DECLINED;
  // DPoP proofs leave the request here too (dpop.h).
  if (take_client_proofs(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  PurposeSelector selector;
  bool reserved = false;
  size_t purposes = 0;
  const ngx_table_elt_t* purpose_line = nullptr;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) {
      if (is_reserved(h[i])) {
        reserved = true;
      } else if (is_purpose(h[i])) {
        selector.add_line(to_view(h[i].value));
        purposes++;
        purpose_line = &h[i];
      }
    }
  }
  PurposeChoice choice = selector.result();
  if (record_purpose(r, choice) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  // The common cases need no new list: nothing reserved, and no X-Purpose
  // or one that is already exactly the selected value under its own name.
  bool purpose_as_is =
      purposes == 0 ||
      (choice.check == PurposeCheck::kOk && purpose_line->value.len == choice.value.size() &&
       std::memcmp(purpose_line->lowcase_key, "x-purpose", 9) == 0);
  if (!reserved && purpose_as_is) return NGX_DECLINED;

  ngx_str_t purpose{choice.value.size(),
                    reinterpret_cast<u_char*>(const_cast<char*>(choice.value.data()))};
  bool ok = choice.check == PurposeCheck::kOk;
  ngx_int_t rc = rebuild(r, [&](ngx_table_elt_t& h) -> ngx_int_t {
    if (is_reserved(h)) return NGX_DECLINED;
    if (!is_purpose(h)) return NGX_OK;
    if (!ok) return NGX_DECLINED;
    return set_header(r, &h, "X-Purpose", purpose);
  });
  return rc == NGX_OK ? NGX_DECLINED : NGX_HTTP_INTERNAL_SERVER_ERROR;
}

const RequestPurpose* request_purpose(ngx_http_request_t* r) {
  for (ngx_pool_cleanup_t* c = r->pool->cleanup; c != nullptr; c = c->next) {
    if (c->handler == purpose_tag) return static_cast<const RequestPurpose*>(c->data);
  }
  return nullptr;
}

ngx_int_t set_identity_headers(ngx_http_request_t* r, const RequestCtx& ctx) {
  // After the post-read pass only this module adds reserved names: some are
  // there when an earlier location of this request (before an internal
  // redirect) set them. The verified identity of this location replaces them.
  bool stale = false;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) stale = stale || is_reserved(h[i]);
  }
  if (stale && rebuild(r, [](ngx_table_elt_t& h) -> ngx_int_t {
                 return is_reserved(h) ? NGX_DECLINED : NGX_OK;
               }) != NGX_OK) {
    return NGX_ERROR;
  }
  // Empty values (no email, no department, no tenant for the platform
  // realm) are left out rather than sent empty. Roles go out as
  // $realm_roles renders them (join_roles).
  const Identity& id = *ctx.identity;
  static const HeaderName kActorId = REALM_AUTH_HEADER("X-Actor-Id", "x-actor-id");
  static const HeaderName kTenantId = REALM_AUTH_HEADER("X-Tenant-Id", "x-tenant-id");
  static const HeaderName kRealmName = REALM_AUTH_HEADER("X-Realm-Name", "x-realm-name");
  static const HeaderName kActorRoles = REALM_AUTH_HEADER("X-Actor-Roles", "x-actor-roles");
  static const HeaderName kActorUsername =
      REALM_AUTH_HEADER("X-Actor-Username", "x-actor-username");
  static const HeaderName kActorEmail = REALM_AUTH_HEADER("X-Actor-Email", "x-actor-email");
  static const HeaderName kActorDepartmentId =
      REALM_AUTH_HEADER("X-Actor-Department-Id", "x-actor-department-id");
  bool ok = push(r, kActorId, id.actor_id) == NGX_OK &&
            push(r, kTenantId, id.tenant_id) == NGX_OK && push(r, kRealmName, id.realm) == NGX_OK &&
            push(r, kActorRoles, id.roles.data(), id.roles.size()) == NGX_OK &&
            push(r, kActorUsername, id.username) == NGX_OK &&
            push(r, kActorEmail, id.email) == NGX_OK &&
            push(r, kActorDepartmentId, id.department_id) == NGX_OK;
  return ok ? NGX_OK : NGX_ERROR;
}

}  // namespace realm_auth
