#!/usr/bin/env bash
# Prints an access token from the local Keycloak (make token ...).
#
# Input (environment; mk/stack.mk maps USER= to TOKEN_USER):
#   REALM          realm, default platform
#   TOKEN_USER     user for a password grant; default operator in the platform
#                  realm; without a user and with CLIENT_SECRET: client_credentials
#   CLIENT         client id; default platform-cli (platform), admin-console (others)
#   PASSWORD       user's password; otherwise .state/secrets/operator.password for
#                  the platform operator, .state/secrets/users/<realm>/<user>.password
#                  when such a file exists, else asked on the terminal
#   CLIENT_SECRET  for confidential clients; platform-services and the provisioner
#                  are read from .state/secrets
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

password=${PASSWORD:-}
if [[ -n $user && -z $password ]]; then
  if [[ $realm == "$PLATFORM_REALM" && $user == "$PLATFORM_OPERATOR_USER" ]]; then
    password=$(read_secret operator.password)
  elif [[ -s $SECRETS_DIR/users/$realm/$user.password ]]; then
    password=$(tr -d '\n' <"$SECRETS_DIR/users/$realm/$user.password")
  elif [[ -t 0 ]]; then
    read -rsp "password for $user@$realm: " password
    echo >&2
  else
    die "no password for $user@$realm: pass PASSWORD=... or write $SECRETS_DIR/users/$realm/$user.password"
  fi
fi

token=$(TOKEN_USER=$user TOKEN_PASSWORD=$password CLIENT_SECRET=$secret kc_token "$realm" "$client")
if [[ ${CLAIMS:-} == 1 ]]; then
  printf '%s' "$token" | "$PYTHON" -c 'import base64, json, sys
p = sys.stdin.read().split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))), indent=2))'
else
  printf '%s\n' "$token"
fi
