#!/usr/bin/env python3
"""Key material and tokens for many-tenant benchmarks (bench/parts/30, 40, 50).

  tenant_material.py jwks   <cache> <html-root> <first> <last>
      writes <html-root>/realms/tenant-<i>/protocol/openid-connect/certs for
      every i in first..last (each tenant's own RSA-2048 public key).
  tenant_material.py tokens <cache> <issuer-base> <first> <last> <per> [<slug-prefix>]
      prints the path of a file with <per> Keycloak-shaped RS256 tokens for
      each tenant first..last (one "<slug> <token>" line each; iss is
      <issuer-base>/realms/<slug-prefix><i>, default prefix "tenant-"),
      minted once and cached under <cache>/tokens (exp 30 days ahead,
      minted again when less than 2 hours are left).

Why a pool of primes: RSA-2048 key generation costs ~0.15 s of CPU here
(more on a loaded machine), so 10,000 keys would cost half an hour. Instead
<cache>/primes.txt keeps 160 1024-bit primes from OpenSSL's RSA key
generation, and tenant i's key is the i-th pair (p, q) of them: 12,720
distinct 2048-bit moduli with e = 65537, each tenant its own modulus and so
its own key. Keys that share a prime are weak (anyone can factor them with a
gcd), which is fine for benchmark material and changes nothing for the
verifier: the signature check is the same public-key operation as for any
RSA-2048 key. Never use this for anything but benchmarks.
"""

import base64
import hashlib
import itertools
import json
import os
import sys
import time
import uuid
from multiprocessing import Pool

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PRIMES = 160
E = 65537
LIFETIME = 30 * 86400
MIN_LEFT = 2 * 3600


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_b64u(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def primes(cache):
    path = os.path.join(cache, "primes.txt")
    if os.path.exists(path):
        with open(path) as f:
            ps = [int(line) for line in f if line.strip()]
        if len(ps) >= PRIMES:
            return ps[:PRIMES]
    os.makedirs(cache, exist_ok=True)
    ps = []
    while len(ps) < PRIMES:
        nums = rsa.generate_private_key(public_exponent=E, key_size=2048).private_numbers()
        ps += [nums.p, nums.q]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(f"{p}\n" for p in ps))
    os.replace(tmp, path)
    return ps


class Keys:
    def __init__(self, cache):
        ps = primes(cache)
        # Pairs whose product has exactly 2048 bits (OpenSSL sets the top two
        # bits of RSA primes, so that is every pair).
        self.pairs = [(p, q) for p, q in itertools.combinations(ps, 2) if (p * q).bit_length() == 2048]

    def pair(self, i):
        if not 1 <= i <= len(self.pairs):
            sys.exit(f"tenant {i}: only {len(self.pairs)} keys in the pool")
        return self.pairs[i - 1]

    def public_jwk(self, i):
        p, q = self.pair(i)
        return {"kid": f"bench-{i}", "kty": "RSA", "alg": "RS256", "use": "sig",
                "n": int_b64u(p * q), "e": int_b64u(E)}

    def private_key(self, i):
        p, q = self.pair(i)
        d = pow(E, -1, (p - 1) * (q - 1))
        nums = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                     rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(E, p * q))
        # Built from primes OpenSSL made: its slow consistency check adds nothing.
        return nums.private_key(unsafe_skip_rsa_key_validation=True)


def write_jwks(cache, root, first, last):
    keys = Keys(cache)
    for i in range(first, last + 1):
        d = os.path.join(root, "realms", f"tenant-{i}", "protocol", "openid-connect")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "certs"), "w") as f:
            json.dump({"keys": [keys.public_jwk(i)]}, f)


_keys = None


def _mint(job):
    global _keys
    cache, base, prefix, i, per, now, key_index = job
    if _keys is None:
        _keys = Keys(cache)
    key = _keys.private_key(key_index)
    slug = f"{prefix}{i}"
    header = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": f"bench-{key_index}"},
                             separators=(",", ":")).encode())
    lines = []
    for k in range(per):
        sub = str(uuid.UUID(bytes=hashlib.sha256(f"{slug} {k}".encode()).digest()[:16], version=4))
        claims = {
            "exp": now + LIFETIME, "iat": now, "jti": str(uuid.uuid4()), "iss": f"{base}/realms/{slug}",
            "aud": "tenant-services", "sub": sub, "typ": "Bearer", "azp": "admin-console",
            "sid": str(uuid.uuid4()), "scope": "openid profile email",
            "realm_access": {"roles": ["officer", f"default-roles-{slug}", "offline_access"]},
            "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
            "preferred_username": f"officer{k}", "email": f"officer{k}@{slug}.example",
        }
        body = b64u(json.dumps(claims, separators=(",", ":")).encode())
        sig = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        lines.append(f"{slug} {header}.{body}.{b64u(sig)}\n")
    return "".join(lines)


def tokens(cache, base, first, last, per, prefix, key_of):
    name = hashlib.sha256(f"{base} {prefix} {first} {last} {per} {key_of}".encode()).hexdigest()[:16]
    d = os.path.join(cache, "tokens")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{name}.txt")
    try:
        with open(path + ".exp") as f:
            if int(f.read()) - time.time() > MIN_LEFT:
                return path
    except (OSError, ValueError):
        pass
    Keys(cache)  # the prime pool, before the workers fork
    now = int(time.time())
    jobs = [(cache, base, prefix, i, per, now, key_of if key_of else i) for i in range(first, last + 1)]
    t0 = time.time()
    with Pool(os.cpu_count() or 2) as pool, open(path + ".tmp", "w") as out:
        for chunk in pool.imap(_mint, jobs, chunksize=64):
            out.write(chunk)
    os.replace(path + ".tmp", path)
    with open(path + ".exp", "w") as f:
        f.write(str(now + LIFETIME))
    print(f"minted {len(jobs) * per} tokens in {time.time() - t0:.0f} s", file=sys.stderr)
    return path


def main(argv):
    if len(argv) >= 5 and argv[0] == "jwks":
        write_jwks(argv[1], argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) >= 6 and argv[0] == "tokens":
        prefix = argv[6] if len(argv) > 6 else "tenant-"
        key_of = int(argv[7]) if len(argv) > 7 else 0  # every slug signed with this tenant's key
        print(tokens(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]), prefix, key_of))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
