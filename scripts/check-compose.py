#!/usr/bin/env python3
"""Checks docker/docker-compose.yml without a Docker engine (TAP output).

  scripts/check-compose.py DOCKER_COMPOSE_V2_BINARY

- Docker Compose v2 (`config`) loads the file with every profile, interpolates
  it with docker/.env.example (empty required values filled with placeholders)
  and validates it against the Compose Specification; a copy with a key the
  specification does not have must be refused (the validation is real);
- the file names the project (`name:`, the specification's top level);
- every image is pinned to an exact version (major.minor at least) or a
  digest, except the images the file builds itself; so are the base images
  of the Dockerfiles it builds (their ARG defaults);
- every bind mount, build context and Dockerfile exists;
- the variables .env.example sets are exactly the ones the file reads;
- the Keycloak and OPA versions are the local stack's.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

compose = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
docker_dir = os.path.join(root, "docker")
compose_file = os.path.join(docker_dir, "docker-compose.yml")
env_example = os.path.join(docker_dir, ".env.example")

n = 0
failed = 0


def ok(cond, name, detail=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {name}")
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print(f"#   {line}")


def env_keys(path):
    keys = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.rstrip("\n"))
            if m:
                keys[m.group(1)] = m.group(2)
    return keys


example = env_keys(env_example)
tmp = tempfile.mkdtemp(prefix="check-compose.")
env_file = os.path.join(tmp, "env")
with open(env_file, "w") as f:
    for k, v in example.items():
        f.write(f"{k}={v or 'placeholder-' + k.lower()}\n")

# Only the variables given here: the caller's environment must not fill in
# anything the file reads.
run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}


def compose_config(path, *extra):
    return subprocess.run(
        [compose, "-f", path, "--env-file", env_file, "--profile", "opa", "--profile", "tools",
         "config", *extra],
        capture_output=True, text=True, env=run_env, cwd=docker_dir)


r = compose_config(compose_file, "--format", "json")
ok(r.returncode == 0, "docker compose v2 accepts docker/docker-compose.yml (all profiles)", r.stderr)
model = json.loads(r.stdout) if r.returncode == 0 else {"services": {}}

with open(compose_file) as f:
    text = f.read()
bad = os.path.join(docker_dir, ".check-compose-invalid.yml")
try:
    with open(bad, "w") as f:
        f.write(text.replace("\n  redis:\n", "\n  redis:\n    no_such_key: 1\n", 1))
    rb = compose_config(bad, "-q")
finally:
    os.unlink(bad)
ok(rb.returncode != 0 and "no_such_key" in rb.stderr,
   "and refuses a copy with a key the specification does not define", rb.stderr)

ok(model.get("name") == "realm-auth" and re.search(r"(?m)^name:", text),
   "top-level name: realm-auth", model.get("name"))

PINNED = re.compile(r"^[^@]+:(\d+\.\d+[0-9A-Za-z.+-]*)$|@sha256:[0-9a-f]{64}$")
for name, svc in sorted(model.get("services", {}).items()):
    image = svc.get("image", "")
    if "build" in svc and image.endswith(":local"):
        continue
    ok(bool(PINNED.search(image)), f"service {name}: image {image} is pinned (exact version or digest)")

for name, svc in sorted(model.get("services", {}).items()):
    build = svc.get("build")
    if not build:
        continue
    ctx = build["context"]
    dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
    ok(os.path.isdir(ctx) and os.path.isfile(dockerfile), f"service {name}: build {dockerfile} exists")
dockerfiles = sorted({os.path.join(s["build"]["context"], s["build"].get("dockerfile", "Dockerfile"))
                      for s in model.get("services", {}).values() if s.get("build")})
for df in dockerfiles:
    if not os.path.isfile(df):
        continue
    args = {}
    with open(df) as f:
        for line in f:
            m = re.match(r"^ARG\s+(\w+)=(\S+)", line)
            if m:
                args[m.group(1)] = m.group(2)
            m = re.match(r"^FROM\s+(\S+)", line)
            if m:
                ref = re.sub(r"\$\{?(\w+)\}?", lambda a: args.get(a.group(1), a.group(0)), m.group(1))
                if ":" not in ref and "@" not in ref:
                    continue  # an earlier stage of the same file
                ok(bool(PINNED.search(ref)), f"{os.path.relpath(df, root)}: base image {ref} is pinned")

for name, svc in sorted(model.get("services", {}).items()):
    for v in svc.get("volumes", []):
        if v.get("type") == "bind":
            src = v["source"]
            ok(os.path.exists(src), f"service {name}: mounted {os.path.relpath(src, root)} exists")

# ${VAR}, ${VAR:-x}, ${VAR:?x}, $VAR; $$ is a literal dollar.
used = set(re.findall(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)", re.sub(r"\$\$", "", text)))
listed = set(example)
ok(used == listed, ".env.example lists exactly the variables docker-compose.yml reads",
   f"read but not listed: {sorted(used - listed)}\nlisted but not read: {sorted(listed - used)}")

def shell_value(path, key):
    with open(path) as f:
        m = re.search(rf"(?m)^{key}=(.*)$", f.read())
    return m.group(1).strip() if m else None


kc_version = shell_value(os.path.join(root, "conf", "stack.env"), "KEYCLOAK_VERSION")
kc_image = model.get("services", {}).get("keycloak", {}).get("image", "")
ok(kc_image.endswith(f":{kc_version}"), f"keycloak image {kc_image} is conf/stack.env's KEYCLOAK_VERSION {kc_version}")
opa_pin = shell_value(os.path.join(root, "scripts", "deps", "versions.env"), "OPA_VERSION")
ok(example.get("OPA_VERSION") == (opa_pin or "").lstrip("v"),
   f".env.example OPA_VERSION {example.get('OPA_VERSION')} is scripts/deps/versions.env's {opa_pin}")

print(f"1..{n}")
sys.exit(1 if failed else 0)
