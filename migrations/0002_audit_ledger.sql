-- 0002: the audit ledger — append-only, hash-chained (docs/GOVERNANCE.md).
--
-- Runs as the role that owns the schema objects (the "owner"). The sidecar
-- at run time needs only SELECT and INSERT. When the sidecar connects as a
-- different role (recommended), name it in the setting realm_auth.app_role
-- while migrating, e.g. PGOPTIONS='-c realm_auth.app_role=realm_auth_app'
-- or ALTER DATABASE … SET realm_auth.app_role = 'realm_auth_app'; this file
-- then grants it SELECT, INSERT and nothing else. Either way, UPDATE,
-- DELETE and TRUNCATE are revoked from PUBLIC, from the app role and from
-- the owner itself, and triggers refuse them for everyone (a superuser or
-- the owner can only get past them with ALTER TABLE … DISABLE TRIGGER,
-- which `realm-sidecar audit verify` then exposes through the hash chain).
--
-- Safe to run again (IF NOT EXISTS / OR REPLACE).

CREATE TABLE IF NOT EXISTS audit_ledger (
  seq          bigint      PRIMARY KEY CHECK (seq > 0),
  -- Set from clock_timestamp() by the appender and hashed in the canonical
  -- text form to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"').
  occurred_at  timestamptz NOT NULL,
  event_type   text        NOT NULL CHECK (event_type IN (
                 'REQUEST', 'AUTHZ_DECISION', 'TENANT_CREATED', 'USER_CREATED',
                 'TENANT_UPDATED', 'TENANT_DELETED', 'SECRET_ROTATED',
                 'PROVISIONING_FAILED')),
  request_id   text        NOT NULL,
  actor_id     text        NOT NULL,
  actor_realm  text        NOT NULL,
  tenant_id    text        NOT NULL,
  action       text        NOT NULL,
  purpose      text        NOT NULL,
  decision     text        NOT NULL CHECK (decision IN ('', 'allow', 'deny')),
  reason       text        NOT NULL,
  -- JSON object text exactly as hashed (not jsonb: jsonb re-serializes).
  details      text        NOT NULL CHECK (json_typeof(details::json) = 'object'),
  prev_hash    text        NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  row_hash     text        NOT NULL UNIQUE CHECK (row_hash ~ '^[0-9a-f]{64}$'),
  -- The first row, and only it, links to the genesis hash.
  CHECK ((seq = 1) = (prev_hash = repeat('0', 64)))
);

CREATE INDEX IF NOT EXISTS audit_ledger_tenant_seq ON audit_ledger (tenant_id, seq);
CREATE INDEX IF NOT EXISTS audit_ledger_request ON audit_ledger (request_id);

COMMENT ON TABLE audit_ledger IS
  'Append-only audit ledger of realm-sidecar; row_hash = SHA-256 of the canonical form (docs/GOVERNANCE.md), prev_hash = row_hash of seq-1.';

-- Refuse UPDATE, DELETE (per row) and TRUNCATE (per statement) whoever asks.
CREATE OR REPLACE FUNCTION audit_ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_ledger is append-only: % refused', TG_OP
    USING HINT = 'audit rows can be appended, never changed or removed';
END;
$$;

DROP TRIGGER IF EXISTS audit_ledger_no_update_delete ON audit_ledger;
CREATE TRIGGER audit_ledger_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_ledger
  FOR EACH ROW EXECUTE FUNCTION audit_ledger_refuse_change();

DROP TRIGGER IF EXISTS audit_ledger_no_truncate ON audit_ledger;
CREATE TRIGGER audit_ledger_no_truncate
  BEFORE TRUNCATE ON audit_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION audit_ledger_refuse_change();

-- Privileges: the owner keeps ownership (and with it ALTER), but not the
-- right to change rows; nobody else gets more than SELECT, INSERT.
REVOKE ALL ON audit_ledger FROM PUBLIC;
DO $$
BEGIN
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_ledger FROM %I', current_user);
END;
$$;

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
  EXECUTE format('GRANT SELECT, INSERT ON audit_ledger TO %I', app);
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_ledger FROM %I', app);
END;
$$;

-- The canonical form in SQL, for checks inside the database that do not
-- trust the sidecar's code (same bytes as ledger_hash.cc):
--   SELECT seq FROM audit_ledger a WHERE row_hash <> audit_ledger_row_hash(a);
CREATE OR REPLACE FUNCTION audit_ledger_netstring(t text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT convert_to(octet_length(convert_to(t, 'UTF8'))::text || ':', 'UTF8')
         || convert_to(t, 'UTF8') || '\x2c'::bytea
$$;

CREATE OR REPLACE FUNCTION audit_ledger_row_hash(r audit_ledger) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
  SELECT encode(sha256(
           audit_ledger_netstring('realm-auth-ledger/v1')
        || audit_ledger_netstring(r.seq::text)
        || audit_ledger_netstring(to_char(r.occurred_at AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audit_ledger_netstring(r.event_type)
        || audit_ledger_netstring(r.request_id)
        || audit_ledger_netstring(r.actor_id)
        || audit_ledger_netstring(r.actor_realm)
        || audit_ledger_netstring(r.tenant_id)
        || audit_ledger_netstring(r.action)
        || audit_ledger_netstring(r.purpose)
        || audit_ledger_netstring(r.decision)
        || audit_ledger_netstring(r.reason)
        || audit_ledger_netstring(r.details)
        || audit_ledger_netstring(r.prev_hash)), 'hex')
$$;
