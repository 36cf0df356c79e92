#!/usr/bin/env bash
# The keycloak-bootstrap service (docker-compose.yml): a one-shot run of the
# local stack's scripts/stack/keycloak-bootstrap.sh against the keycloak
# service, writing the secrets the sidecar needs into the shared volume
# (REALM_AUTH_STATE/secrets, mounted read-only by the sidecar and tools).
# Idempotent: it runs on every `docker compose up`.
#
#   from docker/.env (never in an image or in git):
#     platform-services.secret   REALM_AUTH_PLATFORM_SERVICES_SECRET (the
#                                value Keycloak's realm import also got)
#     operator.password          REALM_AUTH_OPERATOR_PASSWORD (idem)
#     postgres.password, pgpass  REALM_AUTH_DB_PASSWORD (role realm_auth)
#   generated here on the first run, kept in the volume afterwards:
#     provisioner.secret         secret of the master-realm client realm-provisioner
#     sidecar-aes.key            the sidecar's AES-256-GCM key for client
#                                secrets in PostgreSQL: lose it (docker compose
#                                down -v) and those secrets are unreadable
#
# keycloak-bootstrap.sh then creates or updates the provisioner client (service
# account with create-realm only, lightweight access tokens) and re-applies the
# platform-services secret and the operator password if Keycloak's differ.
# Runs as root so that it can write a fresh volume, and hands the secrets to
# the sidecar's user (SIDECAR_UID) at the end.
set -euo pipefail

for v in KEYCLOAK_ADMIN_PASSWORD REALM_AUTH_PLATFORM_SERVICES_SECRET \
  REALM_AUTH_OPERATOR_PASSWORD REALM_AUTH_DB_PASSWORD; do
  [[ -n ${!v:-} ]] || { echo "bootstrap: $v is empty (set it in docker/.env)" >&2; exit 1; }
done

state=${REALM_AUTH_STATE:?}
secrets=$state/secrets
mkdir -p "$state"   # the volume root: stays traversable for the sidecar
umask 077
mkdir -p "$secrets"

# put NAME VALUE: writes secrets/NAME atomically (printf is a shell builtin:
# the value never appears on a command line).
put() {
  printf '%s\n' "$2" >"$secrets/$1.tmp"
  mv "$secrets/$1.tmp" "$secrets/$1"
}

put platform-services.secret "$REALM_AUTH_PLATFORM_SERVICES_SECRET"
put postgres.password "$REALM_AUTH_DB_PASSWORD"
# PGPASSFILE line host:port:database:user:password, ':' and '\' escaped.
pw=${REALM_AUTH_DB_PASSWORD//\\/\\\\}
pw=${pw//:/\\:}
put pgpass "${POSTGRES_HOST:-postgres}:${POSTGRES_PORT:-5432}:${POSTGRES_DB:-realm_auth}:${POSTGRES_USER:-realm_auth}:$pw"
unset pw

# common.sh's stack_secrets_init writes operator.password from this variable
# and generates provisioner.secret and sidecar-aes.key when they are missing.
export PLATFORM_OPERATOR_PASSWORD=$REALM_AUTH_OPERATOR_PASSWORD

# The image keeps the repository layout under /opt/realm-auth.
"$(cd "$(dirname "$0")/../.." && pwd)/scripts/stack/keycloak-bootstrap.sh"

if [[ $(id -u) -eq 0 && -n ${SIDECAR_UID:-} ]]; then
  chown -R "$SIDECAR_UID:$SIDECAR_UID" "$secrets"
fi
chmod 700 "$secrets"
find "$secrets" -type f -exec chmod 600 {} +
echo "bootstrap: secrets ready in the volume ($(cd "$secrets" && echo *))" >&2
