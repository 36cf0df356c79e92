# shellcheck shell=bash
# Shared helpers for scripts/stack/*.sh. Source it, don't run it:
#   . "$(dirname "$0")/common.sh"
# It loads the configuration (environment > conf/stack.local.env >
# conf/stack.env), defines where state, secrets and the download cache live,
# and offers small process, HTTP and JSON helpers. Nothing here prints a secret.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${REALM_AUTH_STATE:-$STACK_ROOT/.state}
SECRETS_DIR=$STATE_DIR/secrets
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
export STACK_ROOT STATE_DIR SECRETS_DIR CACHE_DIR

# Only the standard library is used: prefer the system interpreter, which
# starts much faster than version-manager shims (pyenv and the like).
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3 || true)}
[[ -n $PYTHON ]] || { echo "python3 is required (apt-get install python3)" >&2; exit 1; }
export PYTHON

log() { printf '%s: %s\n' "${COMPONENT:-stack}" "$*" >&2; }
die() { log "$*"; exit 1; }

# --- configuration ------------------------------------------------------------

# KEY=VALUE files without shell expansion (docker compose's env_file format).
# A key already present in the environment before loading wins over both files.
stack_load_env() {
  local files=("$STACK_ROOT/conf/stack.env" "$STACK_ROOT/conf/stack.local.env")
  local -A preset=()
  local f line key value
  for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)= ]] || continue
      key=${BASH_REMATCH[1]}
      [[ -n ${!key+x} ]] && preset[$key]=1
    done <"$f"
  done
  for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
      key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
      [[ -n ${preset[$key]+x} ]] && continue
      # Optional surrounding quotes, as compose allows.
      [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]] && value=${BASH_REMATCH[1]}
      export "$key=$value"
    done <"$f"
  done
  : "${KEYCLOAK_URL:=http://localhost:${KEYCLOAK_PORT}}"
  KEYCLOAK_URL=${KEYCLOAK_URL%/}
  export KEYCLOAK_URL
}
stack_load_env

# --- secrets ------------------------------------------------------------------

secret_path() { printf '%s/%s\n' "$SECRETS_DIR" "$1"; }

# ensure_secret NAME GENERATOR...: create .state/secrets/NAME (0600) from the
# generator's output unless it already exists.
ensure_secret() {
  local name=$1 path
  shift
  path=$(secret_path "$name")
  [[ -s $path ]] && return 0
  (
    umask 077
    mkdir -p "$SECRETS_DIR"
    "$@" >"$path.tmp"
    mv "$path.tmp" "$path"
  )
}

# read_secret NAME: the secret's value, for $(...) capture only.
read_secret() {
  local path
  path=$(secret_path "$1")
  [[ -s $path ]] || die "missing secret $path (run 'make up' first)"
  tr -d '\n' <"$path"
}

gen_password() { "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
# 32 random bytes, base64 on one line: the sidecar's AES-256-GCM key.
gen_aes_key() { "$PYTHON" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }

# All secrets of the local stack; called by up.sh and by components that need them.
stack_secrets_init() {
  # Created before the secrets (umask 077) so that .state/ itself stays
  # traversable: PostgreSQL runs as another user when started by root.
  mkdir -p "$STATE_DIR"
  ensure_secret postgres.password gen_password
  # The sidecar's own PostgreSQL login (POSTGRES_APP_USER): it may append
  # to and read the ledger, never change it; migrations run as POSTGRES_USER.
  ensure_secret postgres-app.password gen_password
  ensure_secret platform-services.secret gen_password
  ensure_secret provisioner.secret gen_password
  ensure_secret sidecar-aes.key gen_aes_key
  # The audit ledger's HMAC key (AUDIT_HMAC_KEY_FILE): never in PostgreSQL.
  ensure_secret ledger-hmac.key gen_password
  # Redis (scripts/stack/redis.sh): one ACL user per client, and the fleet
  # key that seals every value the module and the sidecar trust from Redis.
  ensure_secret redis-admin.password gen_password
  ensure_secret redis-nginx.password gen_password
  ensure_secret redis-sidecar.password gen_password
  ensure_secret redis-hmac.key gen_password
  if [[ -n ${PLATFORM_OPERATOR_PASSWORD:-} ]]; then
    # An operator password chosen in stack.local.env or the environment wins;
    # keycloak-bootstrap.sh applies it to the user.
    (umask 077 && mkdir -p "$SECRETS_DIR" && printf '%s\n' "$PLATFORM_OPERATOR_PASSWORD" >"$(secret_path operator.password)")
  else
    ensure_secret operator.password gen_password
  fi
  chmod 700 "$SECRETS_DIR"
}

# --- processes ----------------------------------------------------------------

# A component is judged by whether it ANSWERS (each script's ready/ping
# check), never by `kill -0` on its pid file alone: a SIGKILLed process that
# its parent has not reaped yet is a zombie that still passes `kill -0` (here
# PID 1 does not reap promptly), and a pid file may name a pid reused by an
# unrelated program. The pid file only says which process to stop.

# pid_state PIDFILE [PATTERN]: what the pid on the file's first line is now:
#   none    no pid file (or no pid in it)
#   gone    no such process
#   zombie  exited (killed) but not reaped: it answers nothing
#   other   alive, but its command line lacks PATTERN (the pid was reused)
#   ours    alive and its command line contains PATTERN
pid_state() {
  local pidfile=$1 pattern=${2:-} pid stat cmd
  pid=$(pid_of "$pidfile") || { echo none; return; }
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || { echo gone; return; }
  # The state is the field after the parenthesised command name.
  stat=${stat##*) }
  [[ ${stat%% *} == [ZX] ]] && { echo zombie; return; }
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || { echo gone; return; }
  [[ -z $pattern || $cmd == *"$pattern"* ]] || { echo other; return; }
  echo ours
}

# pid_of PIDFILE: the pid on the file's first line.
pid_of() {
  local pid=""
  [[ -s $1 ]] && read -r pid <"$1"
  [[ $pid =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
}

# pid_alive PIDFILE [PATTERN]: the file names a live (not zombie) process
# whose command line contains PATTERN.
pid_alive() { [[ $(pid_state "$@") == ours ]]; }

# proc_live PID: the process exists and is not a zombie.
proc_live() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != [ZX] ]]
}

# kill_group PID: SIGKILL the process group PID leads (every component is
# started in its own session), else PID alone; waits until it is gone.
kill_group() {
  kill -KILL -- "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
  wait_for 10 eval "! proc_live $1" || log "pid $1 survived SIGKILL for 10s"
}

# settle PIDFILE PATTERN NAME GRACE CHECK...: for a component whose CHECK
# (its ready/ping probe) fails. A live process of ours younger than GRACE
# seconds is still starting: CHECK is polled until it is GRACE seconds old.
# One that does not answer by then is wedged and is killed (with its group).
# Returns 0 when the component answers; 1 when it must be started, with the
# pid file removed (it named a dead, zombie or foreign process, or the
# wedged one just killed).
settle() {
  local pidfile=$1 pattern=$2 name=$3 grace=$4 state pid age
  shift 4
  state=$(pid_state "$pidfile" "$pattern")
  if [[ $state == ours ]]; then
    pid=$(pid_of "$pidfile")
    age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
    ((${age:-0} < grace)) && wait_for $((grace - ${age:-0})) "$@" && return 0
    "$@" && return 0
    log "$name (pid $pid) has run ${age:-?}s without answering; killing it"
    kill_group "$pid"
  elif [[ $state != none ]]; then
    log "$name: pid file names pid $(pid_of "$pidfile") ($state); starting a new one"
  fi
  rm -f "$pidfile"
  return 1
}

# describe_down PIDFILE PATTERN: why a component that does not answer is
# down, for status lines.
describe_down() {
  local state
  state=$(pid_state "$1" "$2")
  case $state in
    none) printf 'no pid file' ;;
    ours) printf 'pid %s alive but not answering' "$(pid_of "$1")" ;;
    zombie) printf 'pid %s killed (zombie, not reaped)' "$(pid_of "$1")" ;;
    gone) printf 'pid %s gone' "$(pid_of "$1")" ;;
    other) printf 'pid %s is another program' "$(pid_of "$1")" ;;
  esac
}

# port_busy PORT: true when something listens on 127.0.0.1/any:PORT.
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# wait_for TIMEOUT COMMAND...: poll COMMAND every 0.5 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# stop_pid PIDFILE NAME [TIMEOUT] [PATTERN]: TERM the process, KILL its
# process group if it is still there after TIMEOUT seconds (default 30),
# remove the pid file. A pid file naming a zombie, a gone or a foreign
# process (PATTERN not in its command line) is only removed.
stop_pid() {
  local pidfile=$1 name=$2 timeout=${3:-30} pattern=${4:-} pid
  if ! pid_alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    log "$name not running"
    return 0
  fi
  pid=$(pid_of "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for "$timeout" eval "! proc_live $pid"; then
    log "$name (pid $pid) ignored TERM for ${timeout}s; killing its process group"
    kill_group "$pid"
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

# --- HTTP and JSON ------------------------------------------------------------

# Private scratch directory for request and response bodies, created here
# (not lazily: helpers run in $(...) subshells) and removed on exit. Scripts
# sourcing this file must not install their own EXIT trap.
_STACK_TMP=$(mktemp -d)
trap 'rm -rf "$_STACK_TMP"' EXIT
stack_tmp() { printf '%s\n' "$_STACK_TMP"; }

# http METHOD URL [TOKEN] [JSON_BODY]: prints the status code; the response
# body is left in "$(stack_tmp)/body". The token and the body go through
# curl's config on stdin and a private temp file, never the command line
# (which other users of the machine can read in ps).
http() {
  local method=$1 url=$2 token=${3:-} body=${4:-} tmp
  tmp=$(stack_tmp)
  local args=(-sS -X "$method" -o "$tmp/body" -w '%{http_code}' --max-time 30 -K -)
  if [[ -n $body ]]; then
    printf '%s' "$body" >"$tmp/req"
    args+=(-H 'Content-Type: application/json' --data-binary "@$tmp/req")
  fi
  local code
  code=$(
    if [[ -n $token ]]; then
      printf 'header = "Authorization: Bearer %s"\n' "$token"
    fi | curl "${args[@]}" "$url" 2>/dev/null
  ) || true
  printf '%s' "${code:-000}"
}
http_body() { cat "$(stack_tmp)/body"; }

# form_post URL: POST application/x-www-form-urlencoded built from KEY=VALUE
# lines on stdin; prints the status code, body as with http().
form_post() {
  local tmp
  tmp=$(stack_tmp)
  "$PYTHON" -c 'import sys, urllib.parse
pairs = [tuple(l.rstrip("\n").split("=", 1)) for l in sys.stdin if "=" in l]
sys.stdout.write(urllib.parse.urlencode(pairs))' >"$tmp/req"
  local code
  code=$(curl -sS -o "$tmp/body" -w '%{http_code}' --max-time 30 \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$tmp/req" "$1" 2>/dev/null) || true
  printf '%s' "${code:-000}"
}

# json_get EXPR: evaluate a Python expression over the JSON document on stdin
# (bound to d); strings print raw, everything else as JSON. Fails on a missing key.
json_get() {
  "$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1], {"d": d})
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# kc_token REALM CLIENT_ID: prints an access token of a client with the
# client_credentials grant (CLIENT_SECRET from the environment, so it never
# reaches a command line). With TOKEN_USER + TOKEN_PASSWORD: the password
# grant, used only for the bootstrap admin on master's admin-cli (Keycloak's
# own client, local stack only: docs/LOGIN.md). Users log in with login.sh.
kc_token() {
  local realm=$1 client=$2 code
  if [[ -n ${TOKEN_USER:-} && $realm/$client != master/admin-cli ]]; then
    log "kc_token: the password grant is for master/admin-cli only; log $TOKEN_USER in with scripts/stack/login.sh"
    return 1
  fi
  code=$(
    {
      printf '%s\n' "client_id=$client"
      [[ -n ${CLIENT_SECRET:-} ]] && printf '%s\n' "client_secret=$CLIENT_SECRET"
      if [[ -n ${TOKEN_USER:-} ]]; then
        printf '%s\n' "grant_type=password" "username=$TOKEN_USER" "password=${TOKEN_PASSWORD:-}"
      else
        printf '%s\n' "grant_type=client_credentials"
      fi
    } | form_post "$KEYCLOAK_URL/realms/$realm/protocol/openid-connect/token"
  )
  if [[ $code != 200 ]]; then
    log "token request to realm $realm (client $client${TOKEN_USER:+, user $TOKEN_USER}) failed: HTTP $code $(http_body | head -c 300)"
    return 1
  fi
  http_body | json_get 'd["access_token"]'
}
