-- 0004: revocation records and the back-channel logout replay cache
-- (docs/TENANT_REALM_STRATEGY.md "Revocation", docs/IDENTITY_CONTRACT.md).
--
-- PostgreSQL is the durable side of revocation: a record is a row here
-- before the sidecar answers, and Redis (the stream <prefix>revocations the
-- module reads, core/revocation_feed.h) is a broadcast rebuilt from these
-- rows whenever it lost them. Safe to run again.

-- One row per revocation the sidecar promised (RevocationPublisher::publish).
--   kind user:    tokens of (tenant, sub = subject) with iat < not_before
--   kind session: tokens of (tenant, sid = subject) with iat < not_before
--   kind tenant:  every token of tenant with iat < not_before (subject '')
-- `expires`: after it no token the record names can still be valid; the
-- row is deleted then (and Redis trims its entry). `published_at` NULL =
-- Redis has not taken it yet: the sidecar's background pass retries.
CREATE TABLE IF NOT EXISTS revocations (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('user', 'session', 'tenant')),
    tenant_id     text NOT NULL CHECK (tenant_id ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    subject       text NOT NULL CHECK (subject ~ '^[!-~]{0,255}$'),
    not_before    bigint NOT NULL CHECK (not_before > 0),
    expires       bigint NOT NULL CHECK (expires >= not_before),
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    stream_id     text,  -- the Redis stream entry id of the last publication
    attempts      integer NOT NULL DEFAULT 0,
    CHECK ((kind = 'tenant') = (subject = ''))
);
CREATE INDEX IF NOT EXISTS revocations_pending ON revocations (id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS revocations_expires ON revocations (expires);

-- The feed's epoch: a random id the sidecar also writes (sealed) to Redis
-- as <prefix>revocations:epoch. A Redis that no longer holds it lost its
-- data (restart without persistence, FLUSHALL, a new instance): the sidecar
-- that notices first (under an advisory lock, so two sidecars never both
-- rebuild) republishes every unexpired row, then writes the marker back.
CREATE TABLE IF NOT EXISTS revocation_feed (
    id              smallint PRIMARY KEY CHECK (id = 1),
    epoch           uuid NOT NULL DEFAULT gen_random_uuid(),
    republished_at  timestamptz
);
INSERT INTO revocation_feed (id) VALUES (1) ON CONFLICT (id) DO NOTHING;

-- Back-channel logout replay cache, shared by every sidecar: the jti of
-- each accepted logout token, per issuer, until no token with that iat can
-- pass the iat window any more (then it is deleted). Only tokens whose
-- signature verified reach it, so only a tenant realm can add rows.
CREATE TABLE IF NOT EXISTS logout_token_jtis (
    issuer      text NOT NULL,
    jti         text NOT NULL,
    expires_at  bigint NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX IF NOT EXISTS logout_token_jtis_expires ON logout_token_jtis (expires_at);

-- The outcome events of issue 9 (user life and revocation): the ledger's
-- event_type list grows; existing rows are untouched (a CHECK, no rewrite).
ALTER TABLE audit_ledger DROP CONSTRAINT IF EXISTS audit_ledger_event_type_check;
ALTER TABLE audit_ledger ADD CONSTRAINT audit_ledger_event_type_check CHECK (event_type IN (
    'REQUEST', 'AUTHZ_DECISION', 'TENANT_CREATED', 'USER_CREATED',
    'TENANT_UPDATED', 'TENANT_DELETED', 'SECRET_ROTATED', 'PROVISIONING_FAILED',
    'USER_UPDATED', 'USER_DISABLED', 'USER_DELETED', 'PASSWORD_RESET', 'SESSIONS_REVOKED'));

-- The sidecar's role (realm_auth.app_role, as in 0002) reads and writes
-- these tables; they are working state, not evidence (the ledger is).
DO $$
DECLARE
  app text := nullif(current_setting('realm_auth.app_role', true), '');
BEGIN
  IF app IS NULL OR app = current_user THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = app) THEN
    RAISE EXCEPTION 'realm_auth.app_role names role "%", which does not exist', app;
  END IF;
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON revocations, revocation_feed, '
                 'logout_token_jtis TO %I', app);
  EXECUTE format('GRANT USAGE ON SEQUENCE revocations_id_seq TO %I', app);
END;
$$;
