-- 0005: signing-key retirement schedule (docs/TENANT_REALM_STRATEGY.md,
-- "Signing-key rotation").
--
-- POST /tenants/{id}/keys/{kid}:retire makes a key passive in Keycloak and
-- writes one row here, in the same transaction, with the instant its grace
-- period ends. Every realm-sidecar runs a background pass that claims due
-- rows (SELECT … FOR UPDATE SKIP LOCKED: one sidecar per row), deletes the
-- key's provider component in Keycloak (404 counts as done), writes
-- KEY_REMOVED to the ledger and sets removed_at. The schedule lives here,
-- not in a process, so a restart or a second sidecar changes nothing.
-- Safe to run again.

CREATE TABLE IF NOT EXISTS key_retirements (
    id              bigserial   PRIMARY KEY,
    tenant_id       text        NOT NULL,
    -- The life of the slug whose realm holds the key: a row of an ended
    -- incarnation is settled without asking Keycloak (its realm is gone).
    incarnation_id  uuid        NOT NULL,
    realm_name      text        NOT NULL,
    kid             text        NOT NULL,
    component_id    text        NOT NULL,
    grace_seconds   bigint      NOT NULL CHECK (grace_seconds >= 0),
    retired_at      timestamptz NOT NULL DEFAULT now(),
    remove_at       timestamptz NOT NULL,
    removed_at      timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text        NOT NULL DEFAULT '',
    -- Who asked, for the KEY_REMOVED ledger row written by the pass.
    request_id      text        NOT NULL,
    actor_id        text        NOT NULL,
    actor_realm     text        NOT NULL,
    purpose         text        NOT NULL,
    UNIQUE (tenant_id, incarnation_id, kid)
);
CREATE INDEX IF NOT EXISTS key_retirements_due ON key_retirements (remove_at)
  WHERE removed_at IS NULL;

-- The ledger's event types grow by the key events. The CHECK is rebuilt
-- from whatever it allows now plus these, so this file composes with other
-- migrations that extend the list (in either order).
DO $$
DECLARE
  def text;
  allowed text;
BEGIN
  SELECT pg_get_constraintdef(c.oid) INTO def
    FROM pg_constraint c
   WHERE c.conrelid = 'audit_ledger'::regclass AND c.conname = 'audit_ledger_event_type_check';
  IF def IS NULL THEN
    RAISE EXCEPTION 'audit_ledger_event_type_check not found';
  END IF;
  -- PostgreSQL shows an IN list as = ANY (ARRAY['A'::text, …]) (0002's
  -- shape) or, once rebuilt, as = ANY ('{A,B,…}'::text[]): read both.
  SELECT string_agg(quote_literal(t), ', ' ORDER BY t) INTO allowed FROM (
    SELECT m[1] AS t FROM regexp_matches(def, '([A-Z][A-Z_]+)', 'g') AS m
    UNION SELECT unnest(ARRAY['KEY_ROTATED', 'KEY_RETIRED', 'KEY_REMOVED'])) AS types
   WHERE t NOT IN ('CHECK', 'ANY', 'ARRAY');
  ALTER TABLE audit_ledger DROP CONSTRAINT audit_ledger_event_type_check;
  EXECUTE 'ALTER TABLE audit_ledger ADD CONSTRAINT audit_ledger_event_type_check '
          'CHECK (event_type IN (' || allowed || '))';
END;
$$;

DO $$
DECLARE
  app text := nullif(current_setting('realm_auth.app_role', true), '');
BEGIN
  IF app IS NULL OR app = current_user THEN
    RETURN;
  END IF;
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON key_retirements TO %I', app);
  EXECUTE format('GRANT USAGE ON SEQUENCE key_retirements_id_seq TO %I', app);
END;
$$;
