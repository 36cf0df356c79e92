// /tenants/{id}/keys: list, rotate, retire the realm's signing keys
// (provisioning/signing_keys.h; docs/TENANT_REALM_STRATEGY.md).
#include <cctype>

#include "api/app.h"
#include "api/body.h"
#include "http/problem.h"
#include "provisioning/signing_keys.h"

namespace realm_sidecar {

namespace {

Resource key_resource(const std::string& id, const std::string& kid) {
  return Resource{"key", id, kid};
}

void failed(WorkResult& w, const HttpRequest& req, const Outcome& o) {
  w.response = outcome_problem(req, o);
  w.failure_reason = o.detail;
}

JsonPtr retirement_json(const std::string& id, const KeyRetirement& k) {
  JsonPtr j(json_object());
  json_set(j.get(), "tenant_id", id);
  json_set(j.get(), "kid", k.kid);
  json_set(j.get(), "alg", "RS256");
  json_set(j.get(), "status", "PASSIVE");
  json_set(j.get(), "grace_seconds", static_cast<long long>(k.grace_seconds));
  json_set(j.get(), "retired_at", k.retired_at);
  json_set(j.get(), "removal_at", k.remove_at);
  return j;
}

}  // namespace

bool is_valid_kid(const std::string& kid) {
  if (kid.empty() || kid.size() > 128) return false;
  for (unsigned char c : kid) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

HttpResponse list_keys(App& app, const HttpRequest& req, const Actor& actor,
                       const std::string& id) {
  GovernedOp op{"key.read", key_resource(id, ""), ""};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    std::vector<KcKey> keys;
    std::vector<KeyRetirement> pending;
    Outcome o = app.keys->list(id, keys, pending);
    if (!o.ok()) {
      failed(w, req, o);
      return w;
    }
    JsonPtr list(json_array());
    for (const KcKey& k : keys) {
      JsonPtr j(json_object());
      json_set(j.get(), "kid", k.kid);
      json_set(j.get(), "alg", k.algorithm);
      json_set(j.get(), "status", k.status);
      json_set(j.get(), "priority", k.priority);
      json_set(j.get(), "provider_id", k.provider_id);
      for (const KeyRetirement& p : pending) {
        if (p.kid != k.kid) continue;
        json_set(j.get(), "retired_at", p.retired_at);
        json_set(j.get(), "removal_at", p.remove_at);
        if (p.attempts > 0) {
          json_set(j.get(), "removal_attempts", static_cast<long long>(p.attempts));
          json_set(j.get(), "removal_error", p.last_error);
        }
      }
      json_array_append_new(list.get(), j.release());
    }
    JsonPtr body(json_object());
    json_set(body.get(), "tenant_id", id);
    json_set(body.get(), "keys", std::move(list));
    w.response = json_response(200, body.get());
    return w;
  });
}

HttpResponse rotate_key(App& app, const HttpRequest& req, const Actor& actor,
                        const std::string& id) {
  // No parameters: a body, when sent, must be an empty object.
  if (!req.body.empty()) {
    BodyReader b(req);
    if (!b.parse() || !b.only({})) return b.error();
  }
  GovernedOp op{"key.rotate", key_resource(id, ""), "KEY_ROTATED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    RotatedKey k;
    Outcome o = app.keys->rotate(id, k);
    if (!o.ok()) {
      failed(w, req, o);
      return w;
    }
    JsonPtr body(json_object());
    json_set(body.get(), "tenant_id", id);
    json_set(body.get(), "kid", k.kid);
    json_set(body.get(), "alg", "RS256");
    json_set(body.get(), "status", "ACTIVE");
    json_set(body.get(), "priority", k.priority);
    json_set(body.get(), "provider_id", k.component_id);
    json_set(body.get(), "previous_active_kids", json_string_array(k.previous_active));
    w.response = json_response(200, body.get());
    JsonPtr details(json_object());
    json_set(details.get(), "kid", k.kid);
    json_set(details.get(), "priority", k.priority);
    json_set(details.get(), "provider_id", k.component_id);
    json_set(details.get(), "previous_active_kids", json_string_array(k.previous_active));
    w.details_json = json_text(details.get());
    return w;
  });
}

HttpResponse retire_key(App& app, const HttpRequest& req, const Actor& actor, const std::string& id,
                        const std::string& kid) {
  BodyReader b(req);
  long long grace = 0;
  if (!b.parse() || !b.only({"grace_seconds"}) ||
      !b.integer("grace_seconds", true, 0, SigningKeys::kMaxGraceSeconds, grace)) {
    return b.error();
  }
  GovernedOp op{"key.retire", key_resource(id, kid), "KEY_RETIRED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    std::string why;
    KeyRequester who{req.request_id, actor.actor_id, actor.realm, purpose_of(req, why)};
    KeyRetirement k;
    Outcome o = app.keys->retire(id, kid, grace, who, k);
    if (!o.ok()) {
      failed(w, req, o);
      return w;
    }
    JsonPtr body = retirement_json(id, k);
    w.response = json_response(200, body.get());
    w.details_json = json_text(body.get());
    return w;
  });
}

}  // namespace realm_sidecar
