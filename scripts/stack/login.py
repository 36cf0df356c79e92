#!/usr/bin/env python3
"""Scripted browser login: OAuth 2.0 Authorization Code + PKCE through
Keycloak's own login pages, for scripts and tests (make token, make demo,
t/e2e). Public clients of this stack do not allow the password grant
(docs/LOGIN.md says why); this does what a browser does instead:

  1. GET the authorization endpoint with response_type=code, a fresh
     S256 code_challenge, state and nonce;
  2. parse each page with an HTML parser and post to Keycloak's own form
     action only (same origin as the issuer, under
     /realms/<realm>/login-actions/): the login form (user name and
     password), then UPDATE_PASSWORD when Keycloak requires it;
  3. never follow the redirect to the application: the code is taken from
     the Location header (state checked) and exchanged with the
     code_verifier at the token endpoint; the ID token's nonce, issuer and
     audience are checked.

Any other page (wrong password, a one-time code, a disabled account, a
further required action, ...) stops it with a message naming what
Keycloak said. Standard library only.

Secrets never come from the command line (it is visible to other users):
  LOGIN_PASSWORD      the user's current password (or --password-file)
  LOGIN_NEW_PASSWORD  the password to set at UPDATE_PASSWORD; without it one
                      is generated. With --store-password FILE the password
                      that works after this login is written there (mode
                      0600, before Keycloak is asked to take it, renamed
                      into place once it did).

Output on stdout: the access token (default), or with --json the token
response (access_token, id_token, refresh_token, ...), or with --code-only
the code and its code_verifier for a caller that exchanges it itself. Exit status 0, or 1
with a one-line reason on stderr (never a secret).
"""

import argparse
import base64
import hashlib
import html.parser
import http.cookiejar
import json
import os
import secrets
import string
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_PAGES = 8  # login, update password, and a few redirects in between
TIMEOUT = 120  # seconds per request: Keycloak on a busy machine is slow


class LoginError(Exception):
    pass


class Page(html.parser.HTMLParser):
    """Forms (action, method, inputs) and the texts Keycloak uses for
    messages: the page title and every element whose id or class marks an
    error, warning or info message."""

    MESSAGE_MARKS = ("input-error", "kc-feedback-text", "alert", "kc-page-title", "instruction")
    HEADING = "kc-page-title"  # the page's heading: said() only when nothing else is

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.title = ""
        self.messages = []
        self.heading = ""
        self._in_title = False
        self._stack = []  # open elements: True when inside a message element
        self._heading = False
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"id": a.get("id", ""), "action": a.get("action", ""),
                               "method": a.get("method", "get").lower(), "inputs": []})
        elif tag in ("input", "button", "select", "textarea") and self.forms and a.get("name"):
            self.forms[-1]["inputs"].append(
                {"name": a["name"], "type": a.get("type", "text").lower(), "value": a.get("value", ""),
                 "checked": "checked" in a, "tag": tag})
        if tag == "title":
            self._in_title = True
        if tag in ("input", "br", "img", "meta", "link", "hr"):
            return  # void elements: no end tag
        marks = (a.get("id", "") + " " + a.get("class", "")).lower()
        is_msg = any(m in marks for m in self.MESSAGE_MARKS)
        if is_msg and not any(self._stack):
            self._text = []
            self._heading = a.get("id", "") == self.HEADING
        self._stack.append(is_msg)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in ("input", "br", "img", "meta", "link", "hr") or not self._stack:
            return
        was = self._stack.pop()
        if was and not any(self._stack):
            t = " ".join("".join(self._text).split())
            if self._heading:
                self.heading = self.heading or t
            elif t and t not in self.messages:
                self.messages.append(t)

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if any(self._stack):
            self._text.append(data)

    def form_with(self, *names):
        for f in self.forms:
            have = {i["name"] for i in f["inputs"]}
            if all(n in have for n in names):
                return f
        return None

    def said(self):
        return "; ".join(self.messages[:4]) or self.heading or "(no message)"


class LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """Keycloak marks its cookies Secure. Browsers treat http://localhost
    and loopback addresses as secure contexts and send them there; so does
    this. Over plain http to any other host they are not sent (and the
    login fails), as in a browser."""

    LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")

    def return_ok_secure(self, cookie, request):
        if cookie.secure and request.type != "https":
            host = urllib.parse.urlsplit(request.get_full_url()).hostname or ""
            return host in self.LOOPBACK or host.endswith(".localhost")
        return True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx comes back as an HTTPError we read ourselves


def oauth_error(headers, body):
    """' <error>' of an OAuth JSON error body (RFC 6749 5.2), else ''."""
    if "json" not in (headers.get("Content-Type") or ""):
        return ""
    try:
        e = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ""
    return f" {e}" if isinstance(e, str) else ""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_claims(jwt):
    try:
        p = jwt.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    except (IndexError, ValueError) as e:
        raise LoginError("the token endpoint returned a malformed ID token") from e


def generate_password():
    # Letters of each class and digits, so that common password policies
    # (length, upper, lower, digits) accept it.
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(24))
    return "Pw-" + secrets.choice(string.ascii_uppercase) + secrets.choice(string.digits) + body


def write_secret(path, value):
    """Writes PATH.tmp with mode 0600 (parents 0700); returns the tmp path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(tmp, 0o600)
    return tmp


class Login:
    def __init__(self, issuer, client_id, redirect_uri, username, start_url=None, code_only=False):
        self.code_only = code_only
        self.issuer = issuer.rstrip("/")
        self.start = (start_url or issuer).rstrip("/")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.username = username
        u = urllib.parse.urlsplit(self.issuer)
        s = urllib.parse.urlsplit(self.start)
        # Keycloak's pages may point at the issuer's origin (its public
        # hostname) or at the node we started at; nothing else gets a byte.
        self.origins = {(u.scheme, u.netloc), (s.scheme, s.netloc)}
        self.actions_prefix = u.path + "/login-actions/"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar(LoopbackIsSecure())), NoRedirect())

    def request(self, url, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, headers={"Accept": "text/html", "User-Agent": "realm-auth-login/1"})
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(req, timeout=TIMEOUT) as r:
                return r.status, r.headers, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            raise LoginError(f"cannot reach Keycloak at {url.split('?')[0]}: {e}") from e

    def keycloak_url(self, url, base):
        """URL resolved against BASE; refused unless on the issuer's (or the start node's) origin."""
        full = urllib.parse.urljoin(base, url)
        u = urllib.parse.urlsplit(full)
        if (u.scheme, u.netloc) not in self.origins:
            raise LoginError(f"Keycloak's page points to {u.scheme}://{u.netloc}, not Keycloak: refusing to send anything there")
        return full

    def form_action(self, form, base):
        if form["method"] != "post":
            raise LoginError("Keycloak's form is not a POST form: unexpected page")
        full = self.keycloak_url(form["action"], base)
        if not urllib.parse.urlsplit(full).path.startswith(self.actions_prefix):
            raise LoginError(f"the form posts to {urllib.parse.urlsplit(full).path}, not under {self.actions_prefix}: refusing")
        return full

    @staticmethod
    def fields(form, **values):
        out = {}
        for i in form["inputs"]:
            if i["type"] in ("submit", "button", "image", "reset"):
                continue  # the submit buttons carry no data Keycloak needs
            if i["type"] in ("checkbox", "radio") and not i["checked"]:
                continue
            out[i["name"]] = i["value"]
        out.update(values)
        return out

    def run(self, password, new_password, store_password=None):
        pending = []
        try:
            return self._run(password, new_password, store_password, pending)
        finally:
            for p in pending:  # a new password Keycloak did not take
                if os.path.exists(p):
                    os.unlink(p)

    def _run(self, password, new_password, store_password, pending):
        verifier = b64url(secrets.token_bytes(48))  # 64 characters (RFC 7636: 43..128)
        challenge = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        state = b64url(secrets.token_bytes(24))
        nonce = b64url(secrets.token_bytes(24))
        url = self.start + "/protocol/openid-connect/auth?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": "openid", "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256"})
        status, headers, body = self.request(url)
        sent_password = sent_new = False
        pending_store = None
        for _ in range(MAX_PAGES):
            if status in (301, 302, 303, 307, 308):
                loc = headers.get("Location", "")
                if urllib.parse.urlsplit(loc)[:3] == urllib.parse.urlsplit(self.redirect_uri)[:3]:
                    # Back to the application: take the code, never go there.
                    code = self.code_from(loc, state)
                    if pending_store:
                        os.replace(pending_store, store_password)
                    if self.code_only:
                        return {"code": code, "code_verifier": verifier, "redirect_uri": self.redirect_uri,
                                "client_id": self.client_id, "nonce": nonce}
                    return self.exchange(code, verifier, nonce)
                url = self.keycloak_url(loc, url)  # a step inside Keycloak (same origin only)
                status, headers, body = self.request(url)
                continue
            page = Page()
            page.feed(body)
            if status != 200:
                raise LoginError(f"Keycloak answered HTTP {status}{oauth_error(headers, body)} "
                                 f"({page.title.strip() or 'no title'}): {page.said()}")
            login = page.form_with("username", "password")
            update = page.form_with("password-new", "password-confirm")
            if login and not update:
                if sent_password:
                    raise LoginError(f"Keycloak refused the login of {self.username}: {page.said()}")
                url = self.form_action(login, url)
                sent_password = True
                status, headers, body = self.request(url, self.fields(login, username=self.username, password=password))
                continue
            if update:
                if sent_new:
                    raise LoginError(f"Keycloak refused the new password of {self.username}: {page.said()}")
                if not new_password:
                    raise LoginError(f"Keycloak requires a new password for {self.username} (UPDATE_PASSWORD): "
                                     "set LOGIN_NEW_PASSWORD or --store-password FILE")
                url = self.form_action(update, url)
                if store_password:
                    pending_store = write_secret(store_password, new_password)
                    pending.append(pending_store)
                sent_new = True
                status, headers, body = self.request(
                    url, self.fields(update, **{"password-new": new_password, "password-confirm": new_password}))
                continue
            if page.form_with("otp") or page.form_with("totp"):
                raise LoginError(f"{self.username} must enter a one-time code (OTP): this scripted login does not do that; log in with a browser")
            if not sent_password:
                raise LoginError(f"unexpected first page from Keycloak ({page.title.strip() or 'no title'}): {page.said()}")
            raise LoginError(f"Keycloak did not complete the login of {self.username} ({page.title.strip() or 'no title'}): {page.said()}")
        raise LoginError(f"no authorization code after {MAX_PAGES} pages")

    def code_from(self, location, state):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        if q.get("state", [None])[0] != state:
            raise LoginError("the redirect's state is not the one sent: refusing the code")
        if "error" in q:
            raise LoginError(f"Keycloak returned error {q['error'][0]}: {q.get('error_description', [''])[0]}")
        code = q.get("code", [None])[0]
        if not code:
            raise LoginError("the redirect carries no code")
        return code

    def exchange(self, code, verifier, nonce):
        req = urllib.request.Request(
            self.start + "/protocol/openid-connect/token",
            data=urllib.parse.urlencode({
                "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "client_id": self.client_id, "code_verifier": verifier}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        try:
            with self.opener.open(req, timeout=TIMEOUT) as r:
                tok = json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            raise LoginError(f"code exchange refused: HTTP {e.code}{oauth_error(e.headers, body)}: {body[:300]}") from e
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise LoginError(f"code exchange failed: {e}") from e
        if "access_token" not in tok or "id_token" not in tok:
            raise LoginError("the token response lacks access_token or id_token")
        idt = jwt_claims(tok["id_token"])
        aud = idt.get("aud")
        if idt.get("nonce") != nonce:
            raise LoginError("the ID token's nonce is not the one sent")
        if idt.get("iss") != self.issuer or self.client_id not in (aud if isinstance(aud, list) else [aud]):
            raise LoginError("the ID token is not from this issuer for this client")
        return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--issuer", required=True, help="realm URL, e.g. http://localhost:8180/realms/tenant-demo")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--redirect-uri", required=True, help="a redirect URI registered on the client (never visited)")
    ap.add_argument("--username", required=True)
    ap.add_argument("--start-url", help="realm URL at the Keycloak node to start at (default: the issuer)")
    ap.add_argument("--password-file", help="file holding the current password (else $LOGIN_PASSWORD)")
    ap.add_argument("--store-password", metavar="FILE",
                    help="write the password that works after this login here (mode 0600) when it changed")
    ap.add_argument("--json", action="store_true", help="print the token response instead of the access token")
    ap.add_argument("--code-only", action="store_true",
                    help="print the code, code_verifier and nonce (JSON) instead of exchanging the code: for "
                         "callers that add to the token request themselves (a DPoP proof)")
    a = ap.parse_args()

    if a.password_file:
        try:
            with open(a.password_file) as f:
                password = f.read().rstrip("\n")
        except OSError as e:
            print(f"login: cannot read {a.password_file}: {e.strerror}", file=sys.stderr)
            return 1
    else:
        password = os.environ.get("LOGIN_PASSWORD", "")
    if not password:
        print("login: no password (LOGIN_PASSWORD or --password-file)", file=sys.stderr)
        return 1
    # A generated password is only of use when it is stored.
    new_password = os.environ.get("LOGIN_NEW_PASSWORD") or (generate_password() if a.store_password else "")
    try:
        tok = Login(a.issuer, a.client_id, a.redirect_uri, a.username, a.start_url, a.code_only).run(password, new_password, a.store_password)
    except LoginError as e:
        print(f"login: {a.username}@{a.issuer.rsplit('/', 1)[-1]} (client {a.client_id}): {e}", file=sys.stderr)
        return 1
    print(json.dumps(tok) if a.json or a.code_only else tok["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
