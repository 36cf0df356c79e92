#!/usr/bin/env bash
# scripts/install-deps.sh installs missing Debian packages without starting,
# stopping or restarting any service: while `apt-get install` runs, a
# policy-rc.d answering 101 is in place (removed afterwards; an existing one
# is left alone), and no service is stopped afterwards. apt-get, service,
# systemctl and invoke-rc.d are stand-ins that record their calls; the
# policy-rc.d path is a scratch file (REALM_AUTH_POLICY_RC_D), the package
# list one missing package (REALM_AUTH_APT_LIST). Nothing is installed.
#   prove -e bash t/deps/020-install-deps.t
# INSTALL_DEPS=path/to/install-deps.sh tests another copy of the script.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
script=${INSTALL_DEPS:-$root/scripts/install-deps.sh}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }

mkdir -p "$t/bin" "$t/sbin"
echo realm-auth-test-package-that-is-not-installed >"$t/list"
cat >"$t/bin/apt-get" <<'SH'
#!/bin/bash
echo "apt-get $*" >>"$T/calls"
if [[ " $* " == *" install "* ]]; then
  # What a maintainer script's invoke-rc.d asks before starting a service.
  if [[ -x $POLICY ]]; then "$POLICY" nginx start; echo "policy-rc.d nginx start -> $?" >>"$T/calls"
  else echo "policy-rc.d absent" >>"$T/calls"; fi
fi
SH
for c in service systemctl invoke-rc.d; do
  printf '#!/bin/bash\necho "%s $*" >>"$T/calls"\n' "$c" >"$t/bin/$c"
done
chmod +x "$t"/bin/*
run() {
  : >"$t/calls"
  T=$t POLICY=$t/sbin/policy-rc.d PATH="$t/bin:$PATH" REALM_AUTH_APT_LIST=$t/list \
    REALM_AUTH_POLICY_RC_D=$t/sbin/policy-rc.d "$script" >/dev/null 2>"$t/stderr"
}

run
ok $? "install-deps.sh succeeds"
grep -Eq "^apt-get (-o [^ ]+ )*install .*realm-auth-test-package-that-is-not-installed" "$t/calls"
ok $? "it installs the missing package"
grep -q "^policy-rc.d nginx start -> 101$" "$t/calls"
ok $? "during the install policy-rc.d forbids starting a service (101): $(grep policy "$t/calls")"
[[ ! -e $t/sbin/policy-rc.d ]]
ok $? "its policy-rc.d is removed afterwards"
! grep -Eq "^(service|systemctl|invoke-rc.d) " "$t/calls"
ok $? "no service is started, stopped or restarted: $(grep -E '^(service|systemctl|invoke-rc.d) ' "$t/calls" | tr '\n' ';')"

printf '#!/bin/sh\n# the administrator'"'"'s\nexit 0\n' >"$t/sbin/policy-rc.d"
chmod 755 "$t/sbin/policy-rc.d"
before=$(sha256sum <"$t/sbin/policy-rc.d")
run
ok $? "with an existing policy-rc.d: install-deps.sh succeeds"
[[ $(sha256sum <"$t/sbin/policy-rc.d") == "$before" ]]
ok $? "the existing policy-rc.d is left as it was"

echo "1..$n"
exit $((failed > 0))
