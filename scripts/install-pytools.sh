#!/usr/bin/env bash
# The Python tools of the API tests (scripts/deps/python-requirements.txt),
# in a venv of Debian's python3 under $REALM_AUTH_CACHE/pytools. Nothing is
# installed system-wide; re-running is a no-op when the pins have not moved.
# Prints the venv's bin directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
req=$here/deps/python-requirements.txt
cache=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
venv=$cache/pytools
stamp=$venv/.requirements
if [[ -x $venv/bin/python && -f $stamp ]] && cmp -s "$req" "$stamp"; then
  echo "$venv/bin"
  exit 0
fi
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3)
if ! "$py" -c 'import ensurepip' 2>/dev/null; then
  apt-get install -y --no-install-recommends python3-venv >&2
fi
rm -rf "$venv"
"$py" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
cp "$req" "$stamp"
echo "$venv/bin"
