#!/usr/bin/env bash
# One-time (idempotent) Keycloak setup after start, with the bootstrap admin
# (password grant on master/admin-cli):
#  1. master realm: confidential client PROVISIONER_CLIENT_ID with a service
#     account holding only the realm role `create-realm` and lightweight
#     access tokens (the creator of a realm is granted that realm's admin roles;
#     full tokens listing them all grow past header limits). Its secret is
#     .state/secrets/provisioner.secret.
#  2. platform realm: the platform-services secret and the operator password
#     match .state/secrets (they were set by the import; re-applied if a secret
#     file was changed or the import predates it); platform-cli allows no
#     password grant (Authorization Code + PKCE and the device grant only,
#     re-applied on realms imported before that: docs/LOGIN.md).
# The bootstrap admin itself uses the password grant on master's admin-cli,
# Keycloak's own client: local stack only.
# Safe to run on every `make up`.
set -euo pipefail
COMPONENT=keycloak-bootstrap
. "$(dirname "$0")/common.sh"

admin=$KEYCLOAK_URL/admin/realms

# json_set ASSIGNMENT...: edit the JSON object on stdin. ASSIGNMENT is
# a/b/c=<json> or a/b/c=@<secret name>; '/' separates keys (keys may contain dots).
json_set() {
  "$PYTHON" -c 'import json, os, sys
d = json.load(sys.stdin)
for a in sys.argv[1:]:
    path, value = a.split("=", 1)
    if value.startswith("@"):
        with open(os.path.join(os.environ["SECRETS_DIR"], value[1:])) as f:
            value = f.read().strip()
    else:
        value = json.loads(value)
    keys = path.split("/")
    o = d
    for k in keys[:-1]:
        o = o.setdefault(k, {})
    o[keys[-1]] = value
print(json.dumps(d))' "$@"
}

# expect CODE... -- what: fail unless the last http() status is one of CODEs.
expect() {
  local got=$1 what=$2
  shift 2
  local c
  for c in "$@"; do [[ $got == "$c" ]] && return 0; done
  die "$what: HTTP $got $(http_body | head -c 300)"
}

stack_secrets_init
tok=$(TOKEN_USER=$KEYCLOAK_ADMIN_USER TOKEN_PASSWORD=$KEYCLOAK_ADMIN_PASSWORD CLIENT_SECRET='' \
  kc_token master admin-cli) ||
  die "cannot log in as bootstrap admin '$KEYCLOAK_ADMIN_USER' (changed password? set KEYCLOAK_ADMIN_PASSWORD in conf/stack.local.env)"

# client_uuid REALM CLIENT_ID: internal id, empty when absent.
client_uuid() {
  local code
  code=$(http GET "$admin/$1/clients?clientId=$2" "$tok")
  expect "$code" "looking up client $2 in realm $1" 200
  http_body | json_get 'd[0]["id"] if d else ""'
}

# --- 1. provisioning identity -------------------------------------------------
prov=$PROVISIONER_CLIENT_ID
settings=(
  'enabled=true' 'protocol="openid-connect"' 'publicClient=false'
  'clientAuthenticatorType="client-secret"' 'secret=@provisioner.secret'
  'serviceAccountsEnabled=true' 'standardFlowEnabled=false' 'implicitFlowEnabled=false'
  'directAccessGrantsEnabled=false' 'frontchannelLogout=false'
  'attributes/client.use.lightweight.access.token.enabled="true"'
)
cid=$(client_uuid master "$prov")
if [[ -z $cid ]]; then
  body=$(printf '{"clientId":"%s","name":"Realm provisioner","description":"Creates tenant realms (realm-auth sidecar). Service account holds create-realm only."}' "$prov" |
    json_set "${settings[@]}")
  code=$(http POST "$admin/master/clients" "$tok" "$body")
  expect "$code" "creating client $prov" 201
  cid=$(client_uuid master "$prov")
  log "created master client $prov"
else
  code=$(http GET "$admin/master/clients/$cid" "$tok")
  expect "$code" "reading client $prov" 200
  body=$(http_body | json_set "${settings[@]}")
  code=$(http PUT "$admin/master/clients/$cid" "$tok" "$body")
  expect "$code" "updating client $prov" 204
fi

code=$(http GET "$admin/master/clients/$cid/service-account-user" "$tok")
expect "$code" "reading the service account of $prov" 200
sa=$(http_body | json_get 'd["id"]')

code=$(http GET "$admin/master/users/$sa/role-mappings/realm" "$tok")
expect "$code" "reading realm roles of the $prov service account" 200
# Everything but create-realm goes (e.g. default-roles-master): least privilege.
extra=$(http_body | json_get '[r for r in d if r["name"] != "create-realm"]')
has=$(http_body | json_get '"yes" if any(r["name"] == "create-realm" for r in d) else "no"')
if [[ $extra != "[]" ]]; then
  code=$(http DELETE "$admin/master/users/$sa/role-mappings/realm" "$tok" "$extra")
  expect "$code" "removing extra roles from the $prov service account" 204
fi
if [[ $has == no ]]; then
  code=$(http GET "$admin/master/roles/create-realm" "$tok")
  expect "$code" "reading master role create-realm" 200
  role=$(http_body)
  code=$(http POST "$admin/master/users/$sa/role-mappings/realm" "$tok" "[$role]")
  expect "$code" "granting create-realm to $prov" 204
  log "granted create-realm to the $prov service account"
fi

CLIENT_SECRET=$(read_secret provisioner.secret) TOKEN_USER='' kc_token master "$prov" >/dev/null ||
  die "the $prov client cannot get a token"
log "provisioning identity ready: master client $prov (secret in $SECRETS_DIR/provisioner.secret)"

# --- 2. platform realm --------------------------------------------------------
realm=$PLATFORM_REALM
code=$(http GET "$admin/$realm" "$tok")
expect "$code" "realm $realm not found: the import failed? see $STATE_DIR/keycloak/keycloak.log" 200

svc=$(client_uuid "$realm" "$PLATFORM_SERVICES_CLIENT_ID")
[[ -n $svc ]] || die "client $PLATFORM_SERVICES_CLIENT_ID missing in realm $realm"
code=$(http GET "$admin/$realm/clients/$svc/client-secret" "$tok")
expect "$code" "reading the $PLATFORM_SERVICES_CLIENT_ID secret" 200
if [[ $(http_body | json_get 'd.get("value", "")') != "$(read_secret platform-services.secret)" ]]; then
  code=$(http GET "$admin/$realm/clients/$svc" "$tok")
  expect "$code" "reading client $PLATFORM_SERVICES_CLIENT_ID" 200
  body=$(http_body | json_set 'secret=@platform-services.secret')
  code=$(http PUT "$admin/$realm/clients/$svc" "$tok" "$body")
  expect "$code" "setting the $PLATFORM_SERVICES_CLIENT_ID secret" 204
  log "platform-services secret set from $SECRETS_DIR/platform-services.secret"
fi

cli=$(client_uuid "$realm" "$PLATFORM_CLI_CLIENT_ID")
[[ -n $cli ]] || die "client $PLATFORM_CLI_CLIENT_ID missing in realm $realm"
code=$(http GET "$admin/$realm/clients/$cli" "$tok")
expect "$code" "reading client $PLATFORM_CLI_CLIENT_ID" 200
cli_settings=(
  'directAccessGrantsEnabled=false' 'standardFlowEnabled=true' 'implicitFlowEnabled=false'
  "redirectUris=[\"$PLATFORM_CLI_REDIRECT_URI\"]" 'attributes/pkce.code.challenge.method="S256"'
  'attributes/oauth2.device.authorization.grant.enabled="true"'
)
# What cli_settings sets, to PUT only when something differs.
cli_view='[d.get(k) for k in ("directAccessGrantsEnabled", "standardFlowEnabled", "implicitFlowEnabled", "redirectUris")] + [d.get("attributes", {}).get(a) for a in ("pkce.code.challenge.method", "oauth2.device.authorization.grant.enabled")]'
before=$(http_body | json_get "$cli_view")
body=$(http_body | json_set "${cli_settings[@]}")
after=$(printf '%s' "$body" | json_get "$cli_view")
if [[ $before != "$after" ]]; then
  code=$(http PUT "$admin/$realm/clients/$cli" "$tok" "$body")
  expect "$code" "updating client $PLATFORM_CLI_CLIENT_ID" 204
  log "client $PLATFORM_CLI_CLIENT_ID: no password grant; Authorization Code + PKCE ($PLATFORM_CLI_REDIRECT_URI) and device grant"
fi

if ! LOGIN_PASSWORD=$(read_secret operator.password) \
  "$STACK_ROOT/scripts/stack/login.sh" "$realm" "$PLATFORM_CLI_CLIENT_ID" "$PLATFORM_OPERATOR_USER" >/dev/null 2>&1; then
  code=$(http GET "$admin/$realm/users?username=$PLATFORM_OPERATOR_USER&exact=true" "$tok")
  expect "$code" "looking up user $PLATFORM_OPERATOR_USER" 200
  uid=$(http_body | json_get 'd[0]["id"] if d else ""')
  [[ -n $uid ]] || die "user $PLATFORM_OPERATOR_USER missing in realm $realm"
  body=$(printf '{"type":"password","temporary":false}' | json_set 'value=@operator.password')
  code=$(http PUT "$admin/$realm/users/$uid/reset-password" "$tok" "$body")
  expect "$code" "setting the password of $PLATFORM_OPERATOR_USER" 204
  log "operator password set from $SECRETS_DIR/operator.password"
fi
# The sidecar's own audience (realm-sidecar) on the clients that call it:
# nginx and the sidecar refuse tokens without it on /tenants and /audit.
# Added here when the realm was imported before the mapper existed.
sidecar_aud='{"name":"audience realm-sidecar","protocol":"openid-connect","protocolMapper":"oidc-audience-mapper","consentRequired":false,"config":{"included.custom.audience":"realm-sidecar","access.token.claim":"true","id.token.claim":"false","introspection.token.claim":"true"}}'
for c in "$PLATFORM_SERVICES_CLIENT_ID" "$PLATFORM_CLI_CLIENT_ID"; do
  cu=$(client_uuid "$realm" "$c")
  [[ -n $cu ]] || die "client $c missing in realm $realm"
  code=$(http GET "$admin/$realm/clients/$cu/protocol-mappers/models" "$tok")
  expect "$code" "reading the protocol mappers of $c" 200
  if [[ $(http_body | json_get 'any(m.get("name") == "audience realm-sidecar" for m in d)') != true ]]; then
    code=$(http POST "$admin/$realm/clients/$cu/protocol-mappers/models" "$tok" "$sidecar_aud")
    expect "$code" "adding the realm-sidecar audience to $c" 201
    log "audience realm-sidecar added to client $c"
  fi
done

log "platform realm ready: operator '$PLATFORM_OPERATOR_USER' (password in $SECRETS_DIR/operator.password)"
