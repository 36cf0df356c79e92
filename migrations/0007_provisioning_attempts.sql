-- 0007: provisioning attempts, so that a crash cannot leave a half-made
-- tenant or user, nor an attempt the ledger says nothing about
-- (docs/OPERATIONS.md, "Crash recovery"); tenants.saga_step goes.
--
-- saga_step was written but never read: recovery decides by the tenant's
-- status and whether its realm exists. The saga makes one change in
-- Keycloak (one POST of the complete realm, applied whole or not at all)
-- and one in PostgreSQL (secret and status, one transaction), so a step
-- could only repeat what those say, and could disagree with them.
-- Upgrade note: stop sidecars older than this migration before applying
-- it (they still write the column).
--
-- One row per POST /tenants or POST /tenants/{id}/users in flight, written
-- before the first change in Keycloak and deleted once the attempt's outcome
-- is in the ledger. `owner` names the sidecar process doing it: each holds
-- the session-level advisory lock (7412003, owner) on a connection of its
-- own for its whole life, so a SIGKILL releases it and any sidecar's
-- recovery may then take the attempt over (never while its owner lives).
-- A tenant attempt is written in the same statement as the tenant row (its
-- incarnation names which life of the slug it made); the tenant's own saga
-- state stays in tenants.status. A user attempt carries its step
-- (started → user_created, with the user's id). Safe to run again.

ALTER TABLE tenants DROP COLUMN IF EXISTS saga_step;

CREATE TABLE IF NOT EXISTS provisioning_attempts (
    request_id      text        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('tenant', 'user')),
    tenant_id       text        NOT NULL,
    incarnation_id  text        NOT NULL DEFAULT '',
    username        text        NOT NULL DEFAULT '',
    user_id         text        NOT NULL DEFAULT '',
    step            text        NOT NULL,
    owner           integer     NOT NULL,
    -- Who asked, for the outcome row recovery writes to the ledger.
    actor_id        text        NOT NULL,
    actor_realm     text        NOT NULL,
    purpose         text        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
  app text := nullif(current_setting('realm_auth.app_role', true), '');
BEGIN
  IF app IS NULL OR app = current_user THEN
    RETURN;
  END IF;
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON provisioning_attempts TO %I', app);
END;
$$;
