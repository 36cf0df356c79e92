#!/usr/bin/env bash
# make seed-demo: tenant "demo" (realm tenant-demo) and one user per tenant
# role (tenant_admin, officer, supervisor, auditor), created through the
# sidecar's API behind nginx as the platform operator, so every step is
# authorized by policy and written to the audit ledger.
#
# Idempotent: it reads first (GET the tenant, GET its users by username) and
# creates only what is missing, so a rerun changes nothing and writes no
# failure row to the ledger; it still exits 0. One-time passwords are
# printed only for users created by this run; they are never written
# anywhere. The demo's own user, officer, completes its first login here,
# the way a browser does (scripts/stack/login.sh: Authorization Code + PKCE
# through Keycloak's pages, UPDATE_PASSWORD answered with a generated
# password stored in .state/secrets/users/<realm>/officer.password, 0600),
# so that `make demo` and `make token USER=officer` can log it in.
set -euo pipefail
COMPONENT=seed-demo
. "$(dirname "$0")/stack/common.sh"

slug=${DEMO_TENANT:-demo}
realm=tenant-$slug
api=http://localhost:$NGINX_PORT
purpose="seed demo tenant (make seed-demo)"
roles=(tenant_admin officer supervisor auditor)

# call METHOD PATH [JSON]: status code; body in "$(stack_tmp)/body". The
# token goes to curl through its config on stdin, never the command line.
call() {
  local method=$1 path=$2 body=${3:-} tmp code
  tmp=$(stack_tmp)
  local args=(-sS -X "$method" -o "$tmp/body" -w '%{http_code}' --max-time 120 -K -
              -H "X-Purpose: $purpose" -H 'Accept: application/json')
  if [[ -n $body ]]; then
    printf '%s' "$body" >"$tmp/req"
    args+=(-H 'Content-Type: application/json' --data-binary "@$tmp/req")
  fi
  code=$(printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" | curl "${args[@]}" "$api$path" 2>/dev/null) || true
  printf '%s' "${code:-000}"
}

detail() { http_body | json_get 'd.get("detail", d)' 2>/dev/null || http_body | head -c 300; }

[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$api/tenants" || true) == 401 ]] ||
  die "nginx + sidecar not answering on $api/tenants (run 'make up')"

TOKEN=$(LOGIN_PASSWORD=$(read_secret operator.password) \
  "$STACK_ROOT/scripts/stack/login.sh" "$PLATFORM_REALM" "$PLATFORM_CLI_CLIENT_ID" "$PLATFORM_OPERATOR_USER") ||
  die "cannot log in as the platform operator"

# Ask before creating: a rerun reads what exists (a read leaves no failure
# row in the ledger) and creates only what is missing.
code=$(call GET "/tenants/$slug")
case $code in
  200)
    status=$(http_body | json_get 'd["status"]')
    [[ $status == active ]] || die "tenant $slug exists with status '$status' (try: scripts/stack/sidecar.sh run reconcile)"
    log "tenant $slug already exists (realm $realm), unchanged"
    ;;
  404)
    code=$(call POST /tenants "{\"slug\":\"$slug\",\"display_name\":\"Demo tenant\",\"departments\":[\"operations\",\"finance\"]}")
    case $code in
      201) log "tenant $slug created (realm $realm)" ;;
      409) log "tenant $slug was created meanwhile, unchanged" ;;
      *) die "creating tenant $slug failed: HTTP $code $(detail)" ;;
    esac
    ;;
  *) die "reading tenant $slug failed: HTTP $code $(detail)" ;;
esac

declare -A created=()
for role in "${roles[@]}"; do
  code=$(call GET "/tenants/$slug/users?username=$role")
  [[ $code == 200 ]] || die "looking up user $role failed: HTTP $code $(detail)"
  if [[ $(http_body | json_get 'len(d["users"])') != 0 ]]; then
    log "user $role already exists, unchanged"
    continue
  fi
  dept=""
  [[ $role == officer || $role == supervisor ]] && dept=',"department_id":"operations"'
  code=$(call POST "/tenants/$slug/users" \
    "{\"username\":\"$role\",\"email\":\"$role@$slug.localhost\",\"first_name\":\"Demo\",\"last_name\":\"${role^}\",\"roles\":[\"$role\"]$dept}")
  case $code in
    201) created[$role]=$(http_body | json_get 'd["temporary_password"]') ;;
    409) log "user $role was created meanwhile, unchanged" ;;
    *) die "creating user $role failed: HTTP $code $(detail)" ;;
  esac
done

cat <<EOT

Demo tenant
  tenant_id  $slug
  realm      $realm
  issuer     $KEYCLOAK_URL/realms/$realm
  clients    admin-console (public, browser login: Authorization Code + PKCE; no password grant)
             tenant-services (confidential; its secret is sealed in PostgreSQL)
  users      ${roles[*]} (each holds the realm role of its name)

EOT
demo_user=officer
if [[ -n ${created[$demo_user]:-} ]]; then
  if LOGIN_PASSWORD=${created[$demo_user]} LOGIN_STORE_PASSWORD=$SECRETS_DIR/users/$realm/$demo_user.password \
    "$STACK_ROOT/scripts/stack/login.sh" "$realm" admin-console "$demo_user" >/dev/null; then
    created[$demo_user]="(first login done; new password in $SECRETS_DIR/users/$realm/$demo_user.password)"
  else
    log "first login of $demo_user failed: make demo resets its password and tries again"
  fi
fi
if ((${#created[@]})); then
  echo "One-time passwords (shown once, stored nowhere; Keycloak asks for a new password at first login):"
  for role in "${roles[@]}"; do
    [[ -n ${created[$role]:-} ]] && printf '  %-13s %s\n' "$role" "${created[$role]}"
  done
  echo
fi
cat <<EOT
Log in
  browser:  $KEYCLOAK_URL/realms/$realm/account  (user name + one-time password, then choose a new one)
  token:    make token USER=<user> REALM=$realm PASSWORD='<one-time or current password>'
            (a first login sets a new password, NEW_PASSWORD=... or generated, and
            stores it in $SECRETS_DIR/users/$realm/<user>.password)
  call:     curl -H "Authorization: Bearer \$TOKEN" -H 'X-Purpose: demo' $api/api/whoami
EOT
