// AuthorizeRequest as JSON: the `input` sent to a policy service and the
// request recorded with a decision. Every field is always present (empty
// string, empty array), so a policy never meets an undefined member:
//   {"actor":{"actor_id":…,"tenant_id":…,"realm":…,"roles":[…],
//             "username":…,"department_id":…},
//    "action":…,"resource":{"type":…,"tenant_id":…,"id":…},
//    "purpose":…,"context":{"request_id":…,"client_ip":…}}
#include "authorize.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

std::string authorize_request_json(const AuthorizeRequest& req) {
  JsonPtr actor(json_object());
  json_set(actor.get(), "actor_id", req.actor.actor_id);
  json_set(actor.get(), "tenant_id", req.actor.tenant_id);
  json_set(actor.get(), "realm", req.actor.realm);
  json_set(actor.get(), "roles", json_string_array(req.actor.roles));
  json_set(actor.get(), "username", req.actor.username);
  json_set(actor.get(), "department_id", req.actor.department_id);

  JsonPtr resource(json_object());
  json_set(resource.get(), "type", req.resource.type);
  json_set(resource.get(), "tenant_id", req.resource.tenant_id);
  json_set(resource.get(), "id", req.resource.id);

  JsonPtr context(json_object());
  json_set(context.get(), "request_id", req.request_id);
  json_set(context.get(), "client_ip", req.client_ip);

  JsonPtr root(json_object());
  json_set(root.get(), "actor", std::move(actor));
  json_set(root.get(), "action", req.action);
  json_set(root.get(), "resource", std::move(resource));
  json_set(root.get(), "purpose", req.purpose);
  json_set(root.get(), "context", std::move(context));
  return json_text(root.get());
}

}  // namespace realm_sidecar
