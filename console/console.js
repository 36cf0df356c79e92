// The tenant console: OpenID Connect Authorization Code flow with PKCE (S256)
// on the public client admin-console of realm tenant-<slug>, then
// GET /api/whoami with the access token, then RP-initiated logout.
//
// Tokens live in this page's memory only (never localStorage or
// sessionStorage, which any script of the origin could read later): a
// reload forgets them and the next login is a redirect through Keycloak's
// own session. Only the one-time login secrets (state, nonce, PKCE
// verifier) cross the redirect, in sessionStorage, and are deleted on
// return before anything else happens.
'use strict';

(() => {
  const PENDING_KEY = 'realm-auth.console.pending';
  const LOGGED_OUT_KEY = 'realm-auth.console.logged-out';
  const TENANT_KEY = 'realm-auth.console.tenant';
  const SLUG = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  // /api/ paths require a purpose (docs/IDENTITY_CONTRACT.md section 4).
  const PURPOSE = 'console: show the signed-in identity';

  let config = null; // {keycloak_url, client_id} from /console/config.json
  let session = null; // {slug, accessToken, idToken}: memory only

  const el = (id) => document.getElementById(id);
  const show = (view) => {
    el('login-view').hidden = view !== 'login';
    el('identity-view').hidden = view !== 'identity';
  };
  const say = (text) => {
    el('status').textContent = text || '';
  };

  function base64url(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  const randomToken = (n) => base64url(crypto.getRandomValues(new Uint8Array(n)));
  async function s256(text) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return base64url(new Uint8Array(digest));
  }
  function jwtPayload(jwt) {
    const part = String(jwt || '').split('.')[1];
    if (!part) throw new Error('the ID token is not a JWT');
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  const issuer = (slug) => `${config.keycloak_url}/realms/tenant-${slug}`;
  const oidc = (slug) => `${issuer(slug)}/protocol/openid-connect`;
  const redirectUri = () => `${window.location.origin}/`;

  async function login(slug) {
    const pending = { slug, state: randomToken(32), nonce: randomToken(32), verifier: randomToken(48) };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    sessionStorage.setItem(TENANT_KEY, slug);
    const query = new URLSearchParams({
      client_id: config.client_id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri(),
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await s256(pending.verifier),
      code_challenge_method: 'S256',
    });
    window.location.assign(`${oidc(slug)}/auth?${query}`);
  }

  // Back from Keycloak with ?code=…&state=… (or ?error=…&state=…).
  async function finishLogin(params) {
    const raw = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    // The code is single-use; keep it out of history and bookmarks.
    window.history.replaceState(null, '', '/');
    if (!raw) throw new Error('no login was started in this tab: log in again');
    const pending = JSON.parse(raw);
    if (!SLUG.test(pending.slug)) throw new Error('login state damaged: log in again');
    if (params.get('state') !== pending.state) throw new Error('login refused: state does not match');
    if (params.has('error')) {
      throw new Error(`Keycloak refused the login: ${params.get('error')} ${params.get('error_description') || ''}`);
    }
    // RFC 9207: the authorization server names itself; Keycloak does.
    if (params.has('iss') && params.get('iss') !== issuer(pending.slug)) {
      throw new Error('login refused: the answer came from another issuer');
    }
    const res = await fetch(`${oidc(pending.slug)}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code') || '',
        redirect_uri: redirectUri(),
        client_id: config.client_id,
        code_verifier: pending.verifier,
      }),
      credentials: 'omit',
      cache: 'no-store',
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`token request refused: ${body.error || res.status} ${body.error_description || ''}`);
    // Straight from the token endpoint over the connection the page made
    // (OpenID Connect Core 3.1.3.7): its claims are checked, not its
    // signature; nginx verifies the access token's signature on every call.
    const claims = jwtPayload(body.id_token);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.nonce !== pending.nonce) throw new Error('login refused: nonce does not match');
    if (claims.iss !== issuer(pending.slug)) throw new Error('login refused: ID token from another issuer');
    if (!aud.includes(config.client_id)) throw new Error('login refused: ID token for another client');
    session = { slug: pending.slug, accessToken: body.access_token, idToken: body.id_token };
  }

  async function whoami() {
    const res = await fetch('/api/whoami', {
      headers: { Authorization: `Bearer ${session.accessToken}`, 'X-Purpose': PURPOSE },
      credentials: 'omit',
      cache: 'no-store',
    });
    if (!res.ok) {
      const why = res.headers.get('WWW-Authenticate') || '';
      throw new Error(`nginx refused the token (HTTP ${res.status}) ${why}`);
    }
    const id = await res.json();
    el('who-tenant').textContent = id.tenant_id || '';
    el('who-actor').textContent = id.actor_id || '';
    el('who-username').textContent = id.username || '';
    el('who-roles').textContent = (id.roles || []).join(', ');
    el('who-purpose').textContent = id.purpose || '';
    el('who-expires').textContent = id.expires_at ? new Date(id.expires_at * 1000).toISOString() : '';
    show('identity');
  }

  // RP-initiated logout: Keycloak ends its session (and tells the sidecar
  // over the back channel) and sends the browser back here.
  function logout() {
    const { slug, idToken } = session;
    session = null;
    sessionStorage.setItem(LOGGED_OUT_KEY, slug);
    const query = new URLSearchParams({
      client_id: config.client_id,
      id_token_hint: idToken,
      post_logout_redirect_uri: redirectUri(),
    });
    window.location.assign(`${oidc(slug)}/logout?${query}`);
  }

  async function start() {
    const res = await fetch('/console/config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`console configuration not readable (HTTP ${res.status})`);
    config = await res.json();

    el('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const slug = el('tenant').value.trim();
      if (!SLUG.test(slug)) {
        say('A tenant is its slug: lower-case letters, digits and inner hyphens.');
        return;
      }
      login(slug).catch((e) => say(e.message));
    });
    el('logout').addEventListener('click', () => logout());
    el('refresh').addEventListener('click', () => whoami().catch((e) => say(e.message)));

    const params = new URLSearchParams(window.location.search);
    const remembered = params.get('tenant') || sessionStorage.getItem(TENANT_KEY) || '';
    if (SLUG.test(remembered)) el('tenant').value = remembered;

    if (params.has('code') || params.has('error')) {
      await finishLogin(params);
      await whoami();
      return;
    }
    const loggedOut = sessionStorage.getItem(LOGGED_OUT_KEY);
    sessionStorage.removeItem(LOGGED_OUT_KEY);
    show('login');
    if (loggedOut) say(`Logged out of tenant-${loggedOut}.`);
  }

  document.addEventListener('DOMContentLoaded', () => {
    start().catch((e) => {
      show('login');
      say(e.message);
    });
  });
})();
