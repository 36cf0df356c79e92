#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/deps/apt-packages.txt that
# are missing. Idempotent and silent when everything is already there, so
# every make target can call it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# REALM_AUTH_APT_LIST and REALM_AUTH_POLICY_RC_D exist for t/deps/020-install-deps.t.
list=${REALM_AUTH_APT_LIST:-$here/deps/apt-packages.txt}

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done < "$list"

[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
# Packages that start a service on install (nginx, redis-server,
# redis-sentinel, postgresql) must neither start it nor touch one the
# machine already runs: the project starts its own instances under .state/.
# Debian's maintainer scripts ask /usr/sbin/policy-rc.d before starting or
# restarting anything (invoke-rc.d, deb-systemd-invoke); exit code 101 means
# "not allowed", so while this install runs, none is started, stopped or
# restarted. An existing policy-rc.d (the administrator's) is left as it is.
policy=${REALM_AUTH_POLICY_RC_D:-/usr/sbin/policy-rc.d}
own_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# realm-auth install-deps.sh: no service starts during this install\nexit 101\n' |
    "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  own_policy=1
fi
remove_policy() { if [[ $own_policy == 1 ]]; then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap remove_policy EXIT
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
