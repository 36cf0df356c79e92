#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/deps/apt-packages.txt that
# are missing. Idempotent and silent when everything is already there, so
# every make target can call it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list="$here/deps/apt-packages.txt"

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
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged services must not keep running on their default ports: the
# project starts its own instances under .state/.
for svc in nginx redis-server redis-sentinel postgresql; do
  "${sudo_cmd[@]}" service "$svc" stop >/dev/null 2>&1 || true
done
