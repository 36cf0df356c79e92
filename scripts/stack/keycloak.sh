#!/usr/bin/env bash
# Keycloak for the local stack: start|stop|status|wait.
#
# The distribution unpacked in the cache is copied once per checkout to
# .state/keycloak/keycloak-<version>: Keycloak writes into its own home (the
# start-dev build in lib/quarkus, the dev-file H2 database in data/h2, data/tmp),
# so checkouts must not share one. The H2 database survives `make down`;
# `make clean-state` removes it. The platform realm is imported on start
# (--import-realm; skipped when the realm already exists).
set -euo pipefail
COMPONENT=keycloak
. "$(dirname "$0")/common.sh"

dir=$STATE_DIR/keycloak
home=$dir/keycloak-$KEYCLOAK_VERSION
pidfile=$dir/keycloak.pid
logfile=$dir/keycloak.log
ready_url=http://127.0.0.1:$KEYCLOAK_MGMT_PORT/health/ready

# Java major version of a JDK home ("17", "21", "25"); empty when unusable.
java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \(1\.\)\{0,1\}\([0-9]*\).*/\2/p'
}

# Picks the JDK: KEYCLOAK_JAVA_HOME if set (17+ accepted, <21 with a warning),
# else Temurin 25, else the newest JDK >= 21 under /usr/lib/jvm (KEYCLOAK_JVM_DIR).
# Keycloak 26 supports Java 21+; 26.5.6 still starts on 17 (bytecode 61) but
# Java 17 is deprecated for the server, so it is never picked automatically.
pick_java() {
  local major c best="" best_major=0 found=()
  if [[ -n ${KEYCLOAK_JAVA_HOME:-} ]]; then
    major=$(java_major "$KEYCLOAK_JAVA_HOME")
    [[ -n $major && $major -ge 17 ]] || die "KEYCLOAK_JAVA_HOME=$KEYCLOAK_JAVA_HOME is not a Java 17+ JDK"
    ((major >= 21)) || log "warning: Java $major is deprecated for Keycloak 26; use Java 21 or 25"
    printf '%s\n' "$KEYCLOAK_JAVA_HOME"
    return
  fi
  local jvm=${KEYCLOAK_JVM_DIR:-/usr/lib/jvm}
  for c in "$jvm"/temurin-25-jdk-amd64 "$jvm"/temurin-25-jdk-arm64 "$jvm"/*/; do
    c=${c%/}
    [[ -x $c/bin/java && ! -L $c ]] || continue
    major=$(java_major "$c")
    [[ -n $major ]] || continue
    found+=("$c (Java $major)")
    if [[ $c == */temurin-25-* ]] && ((major >= 21)); then
      printf '%s\n' "$c"
      return
    fi
    if ((major >= 21 && major > best_major)); then best=$c best_major=$major; fi
  done
  [[ -n $best ]] && { printf '%s\n' "$best"; return; }
  die "Keycloak $KEYCLOAK_VERSION needs Java 21 or newer; found: ${found[*]:-no JDK under $jvm}.
  Install Temurin 25 (package temurin-25-jdk from the Adoptium apt repository), or
  openjdk-21-jdk-headless on Debian 13+ (Debian 12 ships only 17), or point
  KEYCLOAK_JAVA_HOME at a JDK 21+ (a JDK 17 there is accepted with a warning)."
}

# Copies the cached distribution into .state once.
ensure_home() {
  [[ -x $home/bin/kc.sh ]] && return
  local dist
  dist=$("$STACK_ROOT/scripts/stack/keycloak-fetch.sh")
  log "installing $dist into $home"
  mkdir -p "$dir"
  rm -rf "$home.tmp"
  cp -a "$dist" "$home.tmp"
  mv "$home.tmp" "$home"
}

# kc.sh's and the JVM's command lines both name this checkout's home.
pattern=$home/
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ready_url" || true) == 200 ]]; }

# Polls readiness; gives up early when the process died.
wait_ready() {
  local timeout=${KEYCLOAK_START_TIMEOUT:-180} deadline
  deadline=$((SECONDS + timeout))
  until ready; do
    if ! pid_alive "$pidfile" "$pattern"; then
      tail -n 20 "$logfile" >&2 || true
      die "keycloak exited during start; see $logfile"
    fi
    ((SECONDS < deadline)) ||
      die "keycloak did not become ready on :$KEYCLOAK_MGMT_PORT within ${timeout}s; see $logfile"
    sleep 1
  done
}

start() {
  local wait=1 java_home t0=$SECONDS
  [[ ${1:-} == --no-wait ]] && wait=0
  if ready; then
    log "already running (pid $(pid_of "$pidfile" || echo '?'))"
    return 0
  fi
  # Not ready: a Keycloak still booting (younger than KEYCLOAK_START_TIMEOUT)
  # is waited for (now, or by `keycloak.sh wait` with --no-wait); an older
  # one that does not answer is killed, a dead one (zombie too) replaced.
  if pid_alive "$pidfile" "$pattern"; then
    local pid age
    pid=$(<"$pidfile")
    age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
    if ((${age:-0} < ${KEYCLOAK_START_TIMEOUT:-180})); then
      log "starting (pid $pid, ${age:-?}s old), not ready yet"
      ((wait)) && wait_ready
      return 0
    fi
  fi
  settle "$pidfile" "$pattern" keycloak 0 ready && return 0
  local port
  for port in "$KEYCLOAK_PORT" "$KEYCLOAK_MGMT_PORT"; do
    port_busy "$port" && die "port $port is already in use; stop whatever listens there or change it in conf/stack.local.env"
  done
  java_home=$(pick_java)
  stack_secrets_init
  ensure_home
  mkdir -p "$home/data/import"
  # Refreshed on every start; Keycloak only imports a realm that does not exist yet.
  cp "$STACK_ROOT/conf/keycloak/platform-realm-import.json" "$home/data/import/platform-realm.json"

  log "starting Keycloak $KEYCLOAK_VERSION ($java_home) on ${KEYCLOAK_URL}, management :$KEYCLOAK_MGMT_PORT"
  printf '\n==== %s start ====\n' "$(date -Is)" >>"$logfile"
  # The bootstrap admin applies only to an empty database. The two
  # REALM_AUTH_* variables fill the ${...} placeholders of the realm import.
  # setsid: own session and process group, so the server survives the
  # calling shell and stop_pid can signal the whole group.
  (
    export JAVA_HOME=$java_home
    export KC_BOOTSTRAP_ADMIN_USERNAME=$KEYCLOAK_ADMIN_USER
    export KC_BOOTSTRAP_ADMIN_PASSWORD=$KEYCLOAK_ADMIN_PASSWORD
    REALM_AUTH_PLATFORM_SERVICES_SECRET=$(read_secret platform-services.secret)
    REALM_AUTH_OPERATOR_PASSWORD=$(read_secret operator.password)
    export REALM_AUTH_PLATFORM_SERVICES_SECRET REALM_AUTH_OPERATOR_PASSWORD
    exec setsid "$home/bin/kc.sh" start-dev \
      --http-host="$KEYCLOAK_BIND" \
      --http-port="$KEYCLOAK_PORT" \
      --http-management-port="$KEYCLOAK_MGMT_PORT" \
      --hostname="$KEYCLOAK_URL" \
      --health-enabled=true \
      --import-realm \
      --log-console-color=false
  ) >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  if ((wait)); then
    wait_ready
    log "ready after $((SECONDS - t0))s (pid $(<"$pidfile"), log $logfile)"
  fi
}

status() {
  if ready; then
    printf '%-10s running  pid %-7s %s (admin console %s/admin/)\n' keycloak "$(pid_of "$pidfile" || echo '?')" "$KEYCLOAK_URL" "$KEYCLOAK_URL"
    return 0
  fi
  if pid_alive "$pidfile" "$pattern"; then
    printf '%-10s starting pid %-7s not ready on :%s yet\n' keycloak "$(<"$pidfile")" "$KEYCLOAK_MGMT_PORT"
    return 3
  fi
  printf '%-10s down     %s; %s does not answer\n' keycloak "$(describe_down "$pidfile" "$pattern")" "$ready_url"
  return 3
}

case ${1:-} in
  start) start "${2:-}" ;;
  wait) ready || { pid_alive "$pidfile" "$pattern" || die "not running"; wait_ready; } ;;
  stop) stop_pid "$pidfile" keycloak 60 "$pattern" ;;
  status) status ;;
  *) die "usage: $0 start [--no-wait]|wait|stop|status" ;;
esac
