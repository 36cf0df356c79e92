// AuthorizeRequest as JSON: the `input` sent to a policy service and the
// request recorded with a decision. Every field is always present (empty
// string, empty array), so a policy never meets an undefined member:
//   {"actor":{"actor_id":…,"tenant_id":…,"realm":…,"roles":[…],
//             "username":…,"department_id":…},
//    "action":…,"resource":{"type":…,"tenant_id":…,"id":…},
//    "purpose":…,"context":{"request_id":…,"client_ip":…}}
#include "authorize.h"
#include "json_util.h"

namespace realm_sidecar {

using gov::Json;
using gov::json_put;
using gov::json_str;

std::string authorize_request_json(const AuthorizeRequest& req) {
  Json actor(json_object());
  json_put(actor.get(), "actor_id", json_str(req.actor.actor_id));
  json_put(actor.get(), "tenant_id", json_str(req.actor.tenant_id));
  json_put(actor.get(), "realm", json_str(req.actor.realm));
  json_put(actor.get(), "roles", gov::json_str_array(req.actor.roles));
  json_put(actor.get(), "username", json_str(req.actor.username));
  json_put(actor.get(), "department_id", json_str(req.actor.department_id));

  Json resource(json_object());
  json_put(resource.get(), "type", json_str(req.resource.type));
  json_put(resource.get(), "tenant_id", json_str(req.resource.tenant_id));
  json_put(resource.get(), "id", json_str(req.resource.id));

  Json context(json_object());
  json_put(context.get(), "request_id", json_str(req.request_id));
  json_put(context.get(), "client_ip", json_str(req.client_ip));

  Json root(json_object());
  json_put(root.get(), "actor", std::move(actor));
  json_put(root.get(), "action", json_str(req.action));
  json_put(root.get(), "resource", std::move(resource));
  json_put(root.get(), "purpose", json_str(req.purpose));
  json_put(root.get(), "context", std::move(context));
  return gov::json_dump(root.get());
}

}  // namespace realm_sidecar
