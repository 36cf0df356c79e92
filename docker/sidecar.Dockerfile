# syntax=docker/dockerfile:1
#
# realm-sidecar, built from this checkout with Debian 12's packages (the same
# names as scripts/deps/apt-packages.txt), and the small tools image the
# compose file uses for the Keycloak bootstrap and `make seed-demo`.
#
#   build    compiler + -dev packages; cmake builds build/bin/realm-sidecar
#            exactly as `make build` does (RelWithDebInfo), debug info stripped
#   tools    bash, curl, python3 + scripts/stack/*.sh and scripts/seed-demo.sh
#            (target of the keycloak-bootstrap and tools services)
#   runtime  debian:bookworm-slim + the shared libraries, the binary, the
#            migrations; runs as the unprivileged user 10001 (default target)
#
# Context: the repository root (docker compose sets it; by hand:
#   docker build -f docker/sidecar.Dockerfile .).
# Every base image is multi-arch (amd64, arm64): on Apple Silicon it builds
# and runs natively.

# Pinned to a Debian 12 point release (t/docker/010-compose.t checks it).
ARG DEBIAN_IMAGE=debian:12.11
ARG DEBIAN_SLIM_IMAGE=debian:12.11-slim
# Owner of the secrets volume: the bootstrap chowns what it writes to it.
ARG SIDECAR_UID=10001

# --- build ------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
# The root CMakeLists configures the core tests and the sidecar tests too,
# so CMocka is needed to configure even though only realm-sidecar is built.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libssl-dev libjansson-dev libcurl4-openssl-dev libhiredis-dev libpq-dev \
      libmicrohttpd-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY ngx_realm_auth/ ngx_realm_auth/
COPY sidecar/ sidecar/
# No NGX_SRC_DIR: the nginx module is not configured (docker/nginx.Dockerfile builds it).
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build build --target realm-sidecar -j"$(nproc)" \
 && strip --strip-debug build/bin/realm-sidecar

# --- tools ------------------------------------------------------------------
# The local stack's own scripts, unchanged: keycloak-bootstrap.sh (through
# docker/sidecar/bootstrap.sh), seed-demo.sh and token.sh. They read
# conf/stack.env under /opt/realm-auth and state from REALM_AUTH_STATE.
FROM ${DEBIAN_SLIM_IMAGE} AS tools
ARG SIDECAR_UID
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      bash ca-certificates curl python3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${SIDECAR_UID}" realm \
 && useradd --system --uid "${SIDECAR_UID}" --gid realm --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin realm
WORKDIR /opt/realm-auth
COPY conf/stack.env conf/stack.env
COPY scripts/stack/common.sh scripts/stack/keycloak-bootstrap.sh scripts/stack/token.sh scripts/stack/
COPY scripts/seed-demo.sh scripts/seed-demo.sh
COPY docker/sidecar/bootstrap.sh docker/sidecar/bootstrap.sh
ENV REALM_AUTH_STATE=/state \
    SIDECAR_UID=${SIDECAR_UID}
USER ${SIDECAR_UID}
CMD ["/opt/realm-auth/scripts/seed-demo.sh"]

# --- runtime ----------------------------------------------------------------
FROM ${DEBIAN_SLIM_IMAGE} AS runtime
ARG SIDECAR_UID
# Runtime halves of the -dev packages above (Debian 12 names).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libssl3 libjansson4 libcurl4 libhiredis0.14 libpq5 libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${SIDECAR_UID}" realm \
 && useradd --system --uid "${SIDECAR_UID}" --gid realm --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin realm
COPY --from=build /src/build/bin/realm-sidecar /usr/local/bin/realm-sidecar
COPY migrations/ /opt/realm-auth/migrations/
COPY docker/sidecar/entrypoint.sh /usr/local/bin/realm-sidecar-entrypoint
# Fails the build when a shared library is missing from the list above.
RUN ! ldd /usr/local/bin/realm-sidecar | grep 'not found' \
 && /usr/local/bin/realm-sidecar --help >/dev/null
# The binary is not under <repo>/build/bin, so nothing is guessed from its
# location: migrations, secrets and peers come from the environment
# (docker-compose.yml sets the rest).
ENV REALM_SIDECAR_MIGRATIONS=/opt/realm-auth/migrations \
    REALM_SIDECAR_LISTEN=127.0.0.1:8081
USER ${SIDECAR_UID}
ENTRYPOINT ["/usr/local/bin/realm-sidecar-entrypoint"]
CMD ["serve"]
