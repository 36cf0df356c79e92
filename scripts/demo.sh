#!/usr/bin/env bash
# The end of `make demo` (after make up and make seed-demo): log the demo
# user `officer` of realm tenant-demo in, and call the sample API through
# nginx, showing what the backend received.
#
# Seeded users carry the required action UPDATE_PASSWORD, which a person
# completes at their first browser login. To log in from a script, this
# does that step for `officer` once, through the Admin API with the
# provisioning identity: a new random permanent password, stored in
# .state/secrets/users/tenant-demo/officer.password (mode 600), where
# `make token USER=officer REALM=tenant-demo` finds it.
set -euo pipefail
COMPONENT=demo
here=$(cd "$(dirname "$0")" && pwd)
. "$here/stack/common.sh"

realm=tenant-demo
user=officer
pwfile=$SECRETS_DIR/users/$realm/$user.password
gateway=http://127.0.0.1:$NGINX_PORT

admin_token() { REALM=master CLIENT=$PROVISIONER_CLIENT_ID "$here/stack/token.sh"; }

if [[ ! -s $pwfile ]]; then
  log "completing $user's first login (UPDATE_PASSWORD) through the Admin API"
  tok=$(admin_token)
  api=$KEYCLOAK_URL/admin/realms/$realm
  id=$(curl -fsS -H "Authorization: Bearer $tok" "$api/users?username=$user&exact=true" |
    "$PYTHON" -c 'import json,sys; u=json.load(sys.stdin); print(u[0]["id"] if u else "")')
  [[ -n $id ]] || die "user $user not found in $realm: run 'make seed-demo' first"
  umask 077
  mkdir -p "$(dirname "$pwfile")"
  "$PYTHON" -c 'import secrets,string; a=string.ascii_letters+string.digits; print("Demo-"+"".join(secrets.choice(a) for _ in range(20)))' >"$pwfile.tmp"
  "$PYTHON" -c 'import json,sys; print(json.dumps({"type":"password","value":open(sys.argv[1]).read().strip(),"temporary":False}))' "$pwfile.tmp" |
    curl -fsS -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      --data-binary @- "$api/users/$id/reset-password"
  curl -fsS -H "Authorization: Bearer $tok" "$api/users/$id" |
    "$PYTHON" -c 'import json,sys; u=json.load(sys.stdin); u["requiredActions"]=[]; print(json.dumps(u))' |
    curl -fsS -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      --data-binary @- "$api/users/$id"
  mv "$pwfile.tmp" "$pwfile"
fi

log "logging in as $user in realm $realm (password grant on admin-console)"
token=$(REALM=$realm TOKEN_USER=$user "$here/stack/token.sh")
echo
echo "GET $gateway/api/hello  (the client also sends a forged X-Tenant-Id: other)"
echo "--- what the backend received:"
curl -fsS -H "Authorization: Bearer $token" -H 'X-Tenant-Id: other' \
  -H 'X-Purpose: demo: show the verified identity' "$gateway/api/hello"
echo "---"
echo
echo "Without a token:"
curl -sS -o /dev/null -D - "$gateway/api/hello" | grep -iE '^(HTTP|www-authenticate)'
echo
echo "More: make token USER=officer REALM=tenant-demo   ·   docs/LOCAL_STACK.md (Logging in)"
