#!/usr/bin/env bash
# Prints an access token from the local Keycloak (make token ...).
#
# Input (environment; mk/stack.mk maps USER= to TOKEN_USER):
#   REALM          realm, default platform
#   TOKEN_USER     user to log in; default operator in the platform realm;
#                  without a user and with CLIENT_SECRET: client_credentials
#   CLIENT         client id; default platform-cli (platform), admin-console (others)
#   PASSWORD       user's password; otherwise .state/secrets/operator.password for
#                  the platform operator, .state/secrets/users/<realm>/<user>.password
#                  when such a file exists, else asked on the terminal
#   NEW_PASSWORD   the password to set if Keycloak requires UPDATE_PASSWORD
#                  (first login with a temporary password); else one is
#                  generated. Either way it is stored (mode 0600) in
#                  .state/secrets/users/<realm>/<user>.password for next time.
#
# A user logs in with Authorization Code + PKCE through Keycloak's own login
# pages (login.sh → login.py); the public clients allow no password grant
# (docs/LOGIN.md).
#   CLIENT_SECRET  for confidential clients; platform-services and the provisioner
#                  are read from .state/secrets
#   DEVICE=1       log in with the device grant instead (a person confirms in
#                  any browser; device-login.py): platform-cli only
#   CLAIMS=1       print the decoded payload (JSON) instead of the token
set -euo pipefail
COMPONENT=token
. "$(dirname "$0")/common.sh"

realm=${REALM:-$PLATFORM_REALM}
user=${TOKEN_USER:-}
if [[ $realm == "$PLATFORM_REALM" ]]; then
  client=${CLIENT:-$PLATFORM_CLI_CLIENT_ID}
else
  client=${CLIENT:-admin-console}
fi
# user_token: log $user in through Keycloak's pages (login.sh).
user_token() {
  local password=${PASSWORD:-} store=$SECRETS_DIR/users/$realm/$user.password
  [[ $realm == "$PLATFORM_REALM" && $user == "$PLATFORM_OPERATOR_USER" ]] && store=$(secret_path operator.password)
  if [[ -z $password ]]; then
    if [[ -s $store ]]; then
      password=$(tr -d '\n' <"$store")
    elif [[ -t 0 ]]; then
      read -rsp "password for $user@$realm: " password
      echo >&2
    else
      die "no password for $user@$realm: pass PASSWORD=... or write $store"
    fi
  fi
  LOGIN_PASSWORD=$password LOGIN_NEW_PASSWORD=${NEW_PASSWORD:-} LOGIN_STORE_PASSWORD=$store \
    "$STACK_ROOT/scripts/stack/login.sh" "$realm" "$client" "$user" || die "login of $user@$realm failed (see above)"
}

if [[ ${DEVICE:-} == 1 ]]; then
  token=$("$PYTHON" "$STACK_ROOT/scripts/stack/device-login.py" --issuer "$KEYCLOAK_URL/realms/$realm" \
    --client-id "$client") || die "device login at $realm failed (see above)"
else
  secret=${CLIENT_SECRET:-}
  if [[ -z $secret ]]; then
    case $realm/$client in
      "$PLATFORM_REALM/$PLATFORM_SERVICES_CLIENT_ID") secret=$(read_secret platform-services.secret) ;;
      "master/$PROVISIONER_CLIENT_ID") secret=$(read_secret provisioner.secret) ;;
    esac
  fi
  if [[ -z $user && -z $secret && $realm == "$PLATFORM_REALM" ]]; then
    user=$PLATFORM_OPERATOR_USER
  fi
  [[ -n $user || -n $secret ]] || die "USER=<name> is required for realm $realm (or CLIENT_SECRET for client_credentials)"
  if [[ -n $user ]]; then
    token=$(user_token)
  else
    token=$(CLIENT_SECRET=$secret kc_token "$realm" "$client")
  fi
fi
if [[ ${CLAIMS:-} == 1 ]]; then
  printf '%s' "$token" | "$PYTHON" -c 'import base64, json, sys
p = sys.stdin.read().split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))), indent=2))'
else
  printf '%s\n' "$token"
fi
