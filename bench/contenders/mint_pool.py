#!/usr/bin/python3
"""Keys, JWKS and token pools for bench/run.sh (the contenders part).

    mint_pool.py DIR ISSUER ALG:FRESH:REUSE ...   (ALG: RS256 PS256 ES256 EdDSA)

DIR (under $REALM_AUTH_CACHE/bench) keeps one signing key per algorithm
(2048-bit RSA for RS256 and PS256, P-256, Ed25519), jwks.json with the four
public keys (RFC 7638 thumbprints as kid, as Keycloak does) and, per
algorithm, two pools of Keycloak-shaped access tokens for ISSUER, audience
tenant-services: fresh-ALG.pool (FRESH tokens, each used at most once by
one server in a run) and reuse-ALG.pool (REUSE tokens, cycled). Pools
only grow: a pool with fewer lines than asked for gets new tokens
appended, so a cached pool is reused as long as it was minted for the same
keys and issuer and its tokens stay valid for 2 more hours (they live 30
days); otherwise it is minted again.

Pool format, so that wrk reads a token with one short line (pool.lua): line 1
is what all tokens of the pool share, the JOSE header and the first part of
the payload up to a multiple of 3 bytes, already base64url-encoded (the
encoding of a byte string whose length is a multiple of 3 does not depend
on what follows); every other line is the base64url rest of one payload
(the unique `jti` comes last) and the signature. All lines have the same
length. A token is line 1 followed by one other line.

checks-ALG.txt (rewritten on every call): `name token` lines for the
checks that run before anything is measured: valid, tampered (one payload
byte changed, signature kept); for RS256 also wrong-aud, wrong-iss and
expired (an hour ago), all properly signed.

RSA signing costs ~0.2 ms a token here; minting runs on every core.
"""
import base64
import hashlib
import json
import multiprocessing
import os
import sys
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

AUDIENCE = "tenant-services"
LIFETIME = 30 * 86400  # exp of pooled tokens, from the pool's creation
MIN_LEFT = 2 * 3600  # a pool whose tokens expire sooner is minted again
FORMAT = 1
ALGS = ("RS256", "PS256", "ES256", "EdDSA")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_int(n):
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def load_or_make_key(path, alg):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    if alg in ("RS256", "PS256"):
        key = rsa.generate_private_key(65537, 2048)
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.rename(path + ".tmp", path)
    return key


def public_jwk(key, alg):
    pub = key.public_key()
    if alg in ("RS256", "PS256"):
        n = pub.public_numbers()
        members = {"e": b64_int(n.e), "kty": "RSA", "n": b64_int(n.n)}
    elif alg == "ES256":
        n = pub.public_numbers()
        members = {"crv": "P-256", "kty": "EC", "x": b64(n.x.to_bytes(32, "big")),
                   "y": b64(n.y.to_bytes(32, "big"))}
    else:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        members = {"crv": "Ed25519", "kty": "OKP", "x": b64(raw)}
    # RFC 7638: the required members, sorted, no whitespace.
    kid = b64(hashlib.sha256(json.dumps(members, sort_keys=True,
                                        separators=(",", ":")).encode()).digest())
    return dict(members, kid=kid, use="sig", alg=alg)


def sign(key, alg, data):
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "PS256":
        return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(data)


def claims(issuer, iat, exp, aud=AUDIENCE):
    """A Keycloak access token's claims (realm tenant-demo, user officer); jti last."""
    return {
        "exp": exp, "iat": iat, "auth_time": iat, "iss": issuer, "aud": [aud, "account"],
        "sub": "5b1e3c9a-4f6d-4d7e-9d0e-2f8a7c3b1a90", "typ": "Bearer", "azp": "admin-console",
        "sid": "0f9c4b1e-7a52-4c1d-9b3e-6a1f2d8e4c70", "acr": "1",
        "allowed-origins": ["https://console.demo.example"],
        "realm_access": {"roles": ["officer", "default-roles-tenant-demo", "offline_access",
                                   "uma_authorization"]},
        "resource_access": {"account": {"roles": ["manage-account", "manage-account-links",
                                                  "view-profile"]}},
        "scope": "openid profile email", "email_verified": True, "name": "Olive Officer",
        "preferred_username": "officer", "given_name": "Olive", "family_name": "Officer",
        "email": "officer@demo.example",
    }


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def token(key, alg, kid, payload):
    head = b64(compact({"alg": alg, "typ": "JWT", "kid": kid})) + "." + b64(compact(payload))
    return head + "." + b64(sign(key, alg, head.encode()))


class Pool:
    """Shared prefix of one algorithm's pool: header + payload up to `"jti":"` (cut at 3n)."""

    def __init__(self, alg, kid, issuer, iat, exp):
        self.alg = alg
        body = compact(claims(issuer, iat, exp))
        assert body.endswith(b"}")
        head = body[:-1] + b',"jti":"'
        cut = len(head) // 3 * 3
        self.payload_head, self.payload_rest = head[:cut], head[cut:]
        self.prefix = (b64(compact({"alg": alg, "typ": "JWT", "kid": kid})) + "." +
                       b64(self.payload_head))

    def line(self, key):
        rest = b64(self.payload_rest + str(uuid.uuid4()).encode() + b'"}')
        sig = sign(key, self.alg, (self.prefix + rest).encode())
        return rest + "." + b64(sig)


_worker = {}


def _init_worker(key_path, pool):
    with open(key_path, "rb") as f:
        _worker["key"] = serialization.load_pem_private_key(f.read(), None)
    _worker["pool"] = pool


def _mint_chunk(n):
    key, pool = _worker["key"], _worker["pool"]
    return "".join(pool.line(key) + "\n" for _ in range(n))


def count_lines(path):
    with open(path, "rb") as f:
        return max(sum(1 for _ in f) - 1, 0)


def grow(path, pool, key_path, want):
    have = count_lines(path) if os.path.exists(path) else 0
    if have >= want:
        return have
    if have == 0:
        with open(path, "w") as f:
            f.write(pool.prefix + "\n")
    missing, t0 = want - have, time.time()
    print(f"mint_pool: {pool.alg}: minting {missing} tokens into {os.path.basename(path)}",
          file=sys.stderr, flush=True)
    chunk = 2000
    sizes = [chunk] * (missing // chunk) + ([missing % chunk] if missing % chunk else [])
    with multiprocessing.Pool(os.cpu_count(), _init_worker, (key_path, pool)) as workers, \
            open(path, "a") as out:
        for text in workers.imap(_mint_chunk, sizes):
            out.write(text)
    print(f"mint_pool: {pool.alg}: {missing} tokens in {time.time() - t0:.0f} s",
          file=sys.stderr, flush=True)
    return want


def tampered(tok):
    """The same token with one payload byte changed (officer → officeR), signature kept."""
    head, payload, sig = tok.split(".")
    body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    changed = body.replace(b'"preferred_username":"officer"', b'"preferred_username":"officeR"')
    assert changed != body
    return head + "." + b64(changed) + "." + sig


def main():
    top, issuer, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(os.path.join(top, "keys"), mode=0o700, exist_ok=True)
    keys, jwks = {}, []
    for alg in ALGS:
        keys[alg] = load_or_make_key(os.path.join(top, "keys", alg.lower() + ".pem"), alg)
        jwks.append(public_jwk(keys[alg], alg))
    with open(os.path.join(top, "jwks.json"), "w") as f:
        json.dump({"keys": jwks}, f)
    with open(os.path.join(top, "jwks-rs256.json"), "w") as f:
        json.dump({"keys": [jwks[0]]}, f)
    now = int(time.time())
    for spec in specs:
        alg, fresh, reuse = spec.split(":")
        jwk = next(k for k in jwks if k["alg"] == alg)
        key_path = os.path.join(top, "keys", alg.lower() + ".pem")
        meta_path = os.path.join(top, alg + ".meta.json")
        want_meta = {"format": FORMAT, "issuer": issuer, "kid": jwk["kid"]}
        meta = None
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
            if {k: meta.get(k) for k in want_meta} != want_meta or meta["exp"] - now < MIN_LEFT:
                meta = None
        if meta is None:
            for name in ("fresh", "reuse"):
                p = os.path.join(top, f"{name}-{alg}.pool")
                if os.path.exists(p):
                    os.unlink(p)
            meta = dict(want_meta, iat=now, exp=now + LIFETIME)
            with open(meta_path, "w") as f:
                json.dump(meta, f)
        pool = Pool(alg, jwk["kid"], issuer, meta["iat"], meta["exp"])
        for name, want in (("fresh", int(fresh)), ("reuse", int(reuse))):
            grow(os.path.join(top, f"{name}-{alg}.pool"), pool, key_path, want)
        valid = token(keys[alg], alg, jwk["kid"], claims(issuer, now, now + 3600))
        checks = [("valid", valid), ("tampered", tampered(valid))]
        if alg == "RS256":
            checks += [
                ("wrong-aud", token(keys[alg], alg, jwk["kid"],
                                    claims(issuer, now, now + 3600, aud="other-service"))),
                ("wrong-iss", token(keys[alg], alg, jwk["kid"],
                                    claims(issuer.rsplit("/", 1)[0] + "/platform", now,
                                           now + 3600))),
                ("expired", token(keys[alg], alg, jwk["kid"],
                                  claims(issuer, now - 7200, now - 3600))),
            ]
        with open(os.path.join(top, f"checks-{alg}.txt"), "w") as f:
            f.writelines(f"{name} {tok}\n" for name, tok in checks)


if __name__ == "__main__":
    main()
