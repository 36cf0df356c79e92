#!/usr/bin/env bash
# Prints the Redis ACL of realm-auth (docs/REDIS_TRUST.md) for the passwords
# in SECRETS_DIR and the key prefix PREFIX:
#   redis-acl.sh SECRETS_DIR [PREFIX] > users.acl    (then chmod 600)
# Used by scripts/stack/redis.sh and docker/docker-compose.yml, so both
# stacks run the same users. The default user is off; the key names are
# those of ngx_realm_auth/core/redis_keys.h:
#   nginx    jwks:* lock:* dpop:* read-write, tenant:* revocations read-only
#   sidecar  jwks:* lock:* tenant:* revocations revocations:epoch read-write
#   admin    everything (health checks, scripts, e2e tests)
# Both clients get only the commands core's RedisClient sends (ROLE: with
# Sentinel it checks that the server it was sent to is the master).
set -euo pipefail
secrets=${1:?usage: redis-acl.sh SECRETS_DIR [PREFIX]}
prefix=${2:-realm_auth:}
pw() {
  local v
  v=$(tr -d '\n' <"$secrets/redis-$1.password")
  [[ -n $v ]] || { echo "redis-acl.sh: $secrets/redis-$1.password is empty" >&2; exit 1; }
  printf '%s' "$v"
}
cmds="-@all +getrange +get +set +del +eval +ping +xrange +xrevrange +role"
echo "user default off"
echo "user admin on >$(pw admin) ~* &* +@all"
echo "user nginx on >$(pw nginx) resetchannels ~${prefix}jwks:* ~${prefix}lock:* ~${prefix}dpop:* %R~${prefix}tenant:* %R~${prefix}revocations $cmds"
echo "user sidecar on >$(pw sidecar) resetchannels ~${prefix}jwks:* ~${prefix}lock:* ~${prefix}tenant:* ~${prefix}revocations ~${prefix}revocations:epoch $cmds +xadd +xtrim"
