# syntax=docker/dockerfile:1
#
# Debian 12's own nginx 1.22 with ngx_http_realm_auth_module.so, built the
# way `make build` builds it: scripts/configure-nginx.sh configures a copy of
# nginx-dev's source with Debian's conf_flags (so the module signature matches
# the packaged nginx and load_module accepts it), then CMake builds the module.
#
#   nginx-base  debian:bookworm-slim + nginx + the module's shared libraries;
#               the runtime base, and the base of the build stage so that
#               nginx-dev is pinned to the very nginx version that loads it
#   build       + nginx-dev and the -dev packages (names of
#               scripts/deps/apt-packages.txt); builds the module; renders
#               conf/nginx/realm-auth.conf.in for the container
#   (final)     nginx-base + the module + the rendered config, checked with
#               nginx -t (load_module refuses a module built for another nginx)
#
# Context: the repository root (docker compose sets it; by hand:
#   docker build -f docker/nginx.Dockerfile .).
# debian:bookworm-slim is multi-arch (amd64, arm64): the module is compiled
# natively for the platform that builds the image.

# Pinned to a Debian 12 point release (t/docker/010-compose.t checks it).
ARG DEBIAN_SLIM_IMAGE=debian:12.11-slim

# --- nginx-base (runtime base) -----------------------------------------------------
FROM ${DEBIAN_SLIM_IMAGE} AS nginx-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nginx ca-certificates libjansson4 libcurl4 libhiredis0.14 libssl3 \
 && rm -rf /var/lib/apt/lists/*

# --- build ----------------------------------------------------------------------
FROM nginx-base AS build
# nginx-dev= the installed nginx's version: a module is only accepted by the
# nginx whose configure produced its signature. The sidecar's -dev packages
# and CMocka are needed because the root CMakeLists configures every
# component, though only the module is built here.
RUN apt-get update \
 && nginx_version=$(dpkg-query -W -f='${Version}' nginx) \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "nginx-dev=${nginx_version}" \
      build-essential cmake pkg-config python3-minimal \
      libssl-dev libjansson-dev libcurl4-openssl-dev libhiredis-dev libpq-dev \
      libmicrohttpd-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY scripts/configure-nginx.sh scripts/configure-nginx.sh
COPY ngx_realm_auth/ ngx_realm_auth/
COPY sidecar/ sidecar/
RUN scripts/configure-nginx.sh build/nginx-src \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNGX_SRC_DIR=/src/build/nginx-src \
 && cmake --build build --target ngx_http_realm_auth_module -j"$(nproc)" \
 && strip --strip-debug build/modules/ngx_http_realm_auth_module.so

# The local stack's template, rendered with the container's values
# (docker/nginx/render-conf.py says what it adapts and why).
COPY conf/nginx/realm-auth.conf.in conf/nginx/realm-auth.conf.in
COPY docker/nginx/render-conf.py docker/nginx/render-conf.py
RUN MODULE=/usr/lib/nginx/modules/ngx_http_realm_auth_module.so \
    STATE=/var/lib/nginx/realm-auth \
    USER_DIRECTIVE='user www-data;' \
    NGINX_PORT=8000 \
    REDIS_HOST=redis REDIS_PORT=6379 SECRETS_DIR=/state/secrets \
    SIDECAR_HOST=127.0.0.1 SIDECAR_PORT=8081 \
    BACKEND_PORT=8001 \
    KEYCLOAK_URL=http://localhost:8080 \
    RELAY_CONF=/etc/nginx/realm-auth/keycloak-relay.conf \
    CONSOLE_DIR=/usr/share/realm-auth/console \
    python3 docker/nginx/render-conf.py conf/nginx/realm-auth.conf.in /src/nginx.conf

# --- final ------------------------------------------------------------------------
FROM nginx-base
COPY --from=build /src/build/modules/ngx_http_realm_auth_module.so /usr/lib/nginx/modules/
COPY --from=build /src/nginx.conf /etc/nginx/realm-auth/nginx.conf
COPY docker/nginx/keycloak-relay.conf /etc/nginx/realm-auth/keycloak-relay.conf
# The tenant console's static files (served at /).
COPY console/ /usr/share/realm-auth/console/
# STATE of the rendered config: pid file, temp dirs (written by the workers,
# www-data), logs to the container's stdout/stderr as in the official image.
RUN state=/var/lib/nginx/realm-auth \
 && mkdir -p "$state"/tmp/client_body "$state"/tmp/proxy "$state"/tmp/fastcgi \
      "$state"/tmp/uwsgi "$state"/tmp/scgi \
 && chown -R www-data:www-data "$state"/tmp \
 && ln -sf /dev/stdout "$state"/access.log \
 && ln -sf /dev/stderr "$state"/error.log \
 && ! ldd /usr/lib/nginx/modules/ngx_http_realm_auth_module.so | grep 'not found' \
 && nginx -t -c /etc/nginx/realm-auth/nginx.conf
EXPOSE 8000
STOPSIGNAL SIGQUIT
CMD ["nginx", "-c", "/etc/nginx/realm-auth/nginx.conf", "-g", "daemon off;"]
