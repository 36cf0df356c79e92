#!/usr/bin/env bash
# login.sh REALM CLIENT USER: log USER in to REALM on the public CLIENT with
# Authorization Code + PKCE through Keycloak's login pages (login.py; the
# public clients allow no password grant, docs/LOGIN.md). Prints the access
# token, or the token response with LOGIN_JSON=1.
#
# Environment (secrets only here, never on a command line):
#   LOGIN_PASSWORD        the user's current password (required)
#   LOGIN_NEW_PASSWORD    the password to set when Keycloak requires
#                         UPDATE_PASSWORD (first login); else one is generated
#   LOGIN_STORE_PASSWORD  file for the password that works afterwards
#                         (mode 0600), written when it changed
#   LOGIN_REDIRECT_URI    a registered redirect URI of CLIENT (never visited);
#                         default: the console's (admin-console) or the
#                         CLI's loopback URI (platform-cli)
#   LOGIN_CODE_ONLY=1     print the code and code_verifier (JSON), no exchange
#   LOGIN_START_URL       Keycloak base URL to start at (default KEYCLOAK_URL;
#                         the issuer stays KEYCLOAK_URL/realms/REALM)
set -euo pipefail
COMPONENT=login
. "$(dirname "$0")/common.sh"

(($# == 3)) || die "usage: login.sh REALM CLIENT USER"
realm=$1 client=$2 user=$3
redirect=${LOGIN_REDIRECT_URI:-}
if [[ -z $redirect ]]; then
  case $client in
    "$PLATFORM_CLI_CLIENT_ID") redirect=$PLATFORM_CLI_REDIRECT_URI ;;
    admin-console) redirect=http://localhost:$NGINX_PORT/ ;;
    *) die "no redirect URI known for client $client: set LOGIN_REDIRECT_URI" ;;
  esac
fi
args=(--issuer "$KEYCLOAK_URL/realms/$realm" --client-id "$client" --redirect-uri "$redirect" --username "$user")
[[ -n ${LOGIN_START_URL:-} ]] && args+=(--start-url "${LOGIN_START_URL%/}/realms/$realm")
[[ -n ${LOGIN_STORE_PASSWORD:-} ]] && args+=(--store-password "$LOGIN_STORE_PASSWORD")
[[ ${LOGIN_JSON:-} == 1 ]] && args+=(--json)
[[ ${LOGIN_CODE_ONLY:-} == 1 ]] && args+=(--code-only)
exec "$PYTHON" "$STACK_ROOT/scripts/stack/login.py" "${args[@]}"
