#!/usr/bin/env python3
"""Renders the local stack's nginx config for the nginx container.

    render-conf.py TEMPLATE OUTPUT

TEMPLATE is conf/nginx/realm-auth.conf.in, the file scripts/stack/nginx.sh
renders for `make up`, so both stacks run the same locations, issuers,
audiences and identity headers. Three adaptations are made first, each
checked so that a changed template stops the image build with a message
instead of producing a config that silently differs:

  1. `listen 127.0.0.1:@NGINX_PORT@` becomes `listen @NGINX_PORT@`: a
     published port reaches the container on its network interface, not on
     its loopback.
  2. `auth_realm_redis 127.0.0.1:@REDIS_PORT@` becomes
     `auth_realm_redis @REDIS_HOST@:@REDIS_PORT@` (the compose service
     name; the module resolves it when it connects, not at load time).
  3. `include @RELAY_CONF@;` is added at the end of the http block: the
     loopback relay that makes the issuer's address http://localhost:8080
     reach the keycloak service from inside this container (see
     keycloak-relay.conf and docker/README.md).

Then every @NAME@ placeholder is replaced by the environment variable NAME,
exactly as scripts/stack/nginx.sh does; a placeholder without a value is an
error.
"""
import os
import re
import sys

ADAPTATIONS = [
    (
        "listen on the container's interfaces",
        re.compile(r"(\blisten\s+)127\.0\.0\.1:(@NGINX_PORT@)"),
        r"\g<1>\g<2>",
    ),
    (
        "Redis by its compose service name",
        re.compile(r"(\bauth_realm_redis\s+)127\.0\.0\.1:(@REDIS_PORT@)"),
        r"\g<1>@REDIS_HOST@:\g<2>",
    ),
]


def fail(msg):
    sys.exit("render-conf: %s" % msg)


def main():
    if len(sys.argv) != 3:
        fail("usage: render-conf.py TEMPLATE OUTPUT")
    template, output = sys.argv[1], sys.argv[2]
    text = open(template).read()

    for what, pattern, repl in ADAPTATIONS:
        text, n = pattern.subn(repl, text)
        if n == 0:
            fail("adaptation '%s' no longer matches %s; update docker/nginx/render-conf.py"
                 % (what, template))

    # The http block is the last top-level block: its closing brace is the
    # last "}" at the start of a line, followed only by blank or comment lines.
    closing = [m.start() for m in re.finditer(r"^\}", text, re.M)]
    if not closing or re.search(r"^[ \t]*[^#\s]", text[closing[-1] + 1:], re.M):
        fail("cannot find the end of the http block in %s" % template)
    at = closing[-1]
    text = (text[:at] + "\n    # docker/: Keycloak under the issuer's address (docker/README.md).\n"
            "    include @RELAY_CONF@;\n" + text[at:])

    def value(m):
        v = os.environ.get(m.group(1))
        if v is None:
            fail("no value for @%s@" % m.group(1))
        return v

    text = re.sub(r"@([A-Z_]+)@", value, text)
    with open(output + ".tmp", "w") as f:
        f.write(text)
    os.replace(output + ".tmp", output)


if __name__ == "__main__":
    main()
