#!/usr/bin/env bash
# The end of `make demo` (after make up and make seed-demo): log the demo
# user `officer` of realm tenant-demo in, and call the sample API through
# nginx, showing what the backend received.
#
# Seeded users carry the required action UPDATE_PASSWORD. make seed-demo
# completes officer's first login the way a browser does and stores the new
# password (.state/secrets/users/tenant-demo/officer.password, mode 600).
# When that file is missing (officer created by an older seed, or its first
# login failed), this resets officer's password through the sidecar's API
# (governed and audited like any reset) and does the first login with the
# temporary password it returns. Logins are Authorization Code + PKCE
# through Keycloak's pages (scripts/stack/login.sh): admin-console allows no
# password grant (docs/LOGIN.md).
set -euo pipefail
COMPONENT=demo
here=$(cd "$(dirname "$0")" && pwd)
. "$here/stack/common.sh"

realm=tenant-demo
slug=${realm#tenant-}
user=officer
pwfile=$SECRETS_DIR/users/$realm/$user.password
gateway=http://127.0.0.1:$NGINX_PORT

if [[ ! -s $pwfile ]]; then
  log "no stored password for $user: resetting it through the sidecar, then its first login"
  op=$(LOGIN_PASSWORD=$(read_secret operator.password) \
    "$here/stack/login.sh" "$PLATFORM_REALM" "$PLATFORM_CLI_CLIENT_ID" "$PLATFORM_OPERATOR_USER") ||
    die "cannot log in as the platform operator"
  tmp=$(stack_tmp)
  printf 'header = "Authorization: Bearer %s"\n' "$op" |
    curl -fsS -K - -H 'X-Purpose: demo: find the demo user' -o "$tmp/users" \
      "$gateway/tenants/$slug/users?username=$user" || die "cannot list users of $slug: run 'make seed-demo' first"
  id=$("$PYTHON" -c 'import json,sys; u=json.load(open(sys.argv[1]))["users"]; print(u[0]["user_id"] if u else "")' "$tmp/users")
  [[ -n $id ]] || die "user $user not found in $realm: run 'make seed-demo' first"
  printf 'header = "Authorization: Bearer %s"\n' "$op" |
    curl -fsS -K - -X POST -H 'X-Purpose: demo: first login of the demo user' -o "$tmp/reset" \
      "$gateway/tenants/$slug/users/$id/password:reset" || die "resetting the password of $user failed"
  LOGIN_PASSWORD=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["temporary_password"])' "$tmp/reset") \
    LOGIN_STORE_PASSWORD=$pwfile "$here/stack/login.sh" "$realm" admin-console "$user" >/dev/null ||
    die "first login of $user failed"
  rm -f "$tmp/reset"
fi

log "logging in as $user in realm $realm (Authorization Code + PKCE on admin-console)"
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
