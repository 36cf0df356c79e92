#!/usr/bin/env python3
"""OAuth 2.0 Device Authorization Grant (RFC 8628) for a person at a
terminal (make token DEVICE=1): asks Keycloak for a device code, tells the
person where to confirm (any browser, any machine: the URL and the code go
to stderr), and polls the token endpoint until Keycloak answers with a
token, the person refuses, or the code expires. No password ever passes
through this process. Standard library only.

Output on stdout: the access token, or with --json the token response.
Exit status 0, or 1 with a one-line reason on stderr.
"""

import argparse
import base64
import hashlib
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 120  # seconds per request


class DeviceError(Exception):
    pass


def post(url, form):
    req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read())
        except ValueError:
            return e.code, {}
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise DeviceError(f"cannot reach Keycloak at {url}: {e}") from e


def device_login(issuer, client_id, scope, say):
    # PKCE (RFC 7636) on the device request too: Keycloak requires it where
    # the client demands S256, and it binds the polling to this process.
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode("ascii")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    st, d = post(issuer + "/protocol/openid-connect/auth/device", {
        "client_id": client_id, "scope": scope, "code_challenge": challenge, "code_challenge_method": "S256"})
    if st != 200 or "device_code" not in d:
        raise DeviceError(f"device authorization refused: HTTP {st} {d.get('error', '')} {d.get('error_description', '')}".rstrip())
    say(f"To log in, open {d.get('verification_uri_complete') or d['verification_uri']}\n"
        f"  (or {d['verification_uri']} and enter the code {d['user_code']}); waiting ...")
    interval = max(int(d.get("interval", 5)), 1)
    deadline = time.monotonic() + int(d.get("expires_in", 600))
    while time.monotonic() < deadline:
        time.sleep(interval)
        st, t = post(issuer + "/protocol/openid-connect/token", {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": d["device_code"], "client_id": client_id, "code_verifier": verifier})
        if st == 200 and "access_token" in t:
            return t
        err = t.get("error", "")
        if err == "authorization_pending":
            continue
        if err == "slow_down":  # RFC 8628 3.5: five seconds more from now on
            interval += 5
            continue
        if err == "access_denied":
            raise DeviceError("the login was refused in the browser")
        if err == "expired_token":
            break
        raise DeviceError(f"token request refused: HTTP {st} {err} {t.get('error_description', '')}".rstrip())
    raise DeviceError("the code expired before the login was confirmed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--issuer", required=True, help="realm URL, e.g. http://localhost:8080/realms/platform")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--scope", default="openid")
    ap.add_argument("--json", action="store_true", help="print the token response instead of the access token")
    a = ap.parse_args()
    try:
        tok = device_login(a.issuer.rstrip("/"), a.client_id, a.scope,
                           lambda m: print(m, file=sys.stderr, flush=True))
    except DeviceError as e:
        print(f"device-login: {a.issuer.rsplit('/', 1)[-1]} (client {a.client_id}): {e}", file=sys.stderr)
        return 1
    print(json.dumps(tok) if a.json else tok["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
