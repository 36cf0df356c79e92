-- 0003: tenant incarnations (docs/TENANT_REALM_STRATEGY.md, "Reusing a slug").
--
-- A slug can be deleted and created again: a new realm with the same name
-- and issuer URL. Each life of a slug is an incarnation with its own id and
-- start (whole seconds since the epoch, the database clock, recorded when
-- the row is inserted, before the realm exists). A token whose iat is
-- before its tenant's incarnation start was issued by an earlier, deleted
-- incarnation and is refused (core/tenant_incarnation.h), by the sidecar
-- against this table and by nginx against the record the sidecar publishes
-- to Redis. Safe to run again.

ALTER TABLE tenants ADD COLUMN IF NOT EXISTS incarnation_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS incarnation_started_at bigint;
-- Existing tenants began when their row was created: their live tokens
-- stay valid.
UPDATE tenants SET incarnation_started_at = floor(extract(epoch FROM created_at))::bigint
 WHERE incarnation_started_at IS NULL;
ALTER TABLE tenants ALTER COLUMN incarnation_started_at
  SET DEFAULT floor(extract(epoch FROM now()))::bigint;
ALTER TABLE tenants ALTER COLUMN incarnation_started_at SET NOT NULL;

-- One row per deleted incarnation: the sidecar refuses a token of a
-- tombstoned slug as deleted, and quarantines the slug for
-- TENANT_SLUG_QUARANTINE seconds after deleted_at so that every nginx has
-- read the deletion before the slug can live again.
CREATE TABLE IF NOT EXISTS tenant_tombstones (
    incarnation_id          uuid PRIMARY KEY,
    tenant_id               text NOT NULL,
    incarnation_started_at  bigint NOT NULL,
    deleted_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tenant_tombstones_slug ON tenant_tombstones (tenant_id, deleted_at);

-- The ledger tells incarnations apart: the incarnation of tenant_id when
-- the row was written ('' for rows written before this migration and for
-- rows of no existing tenant). Hashed in canonical form v2 (ledger_hash.h);
-- rows with '' keep form v1, so every existing row still verifies.
ALTER TABLE audit_ledger ADD COLUMN IF NOT EXISTS tenant_incarnation text NOT NULL DEFAULT ''
  CHECK (tenant_incarnation = '' OR
         tenant_incarnation ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');

CREATE OR REPLACE FUNCTION audit_ledger_row_hash(r audit_ledger) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
  SELECT encode(sha256(
           audit_ledger_netstring(CASE WHEN r.tenant_incarnation = '' THEN 'realm-auth-ledger/v1'
                                       ELSE 'realm-auth-ledger/v2' END)
        || audit_ledger_netstring(r.seq::text)
        || audit_ledger_netstring(to_char(r.occurred_at AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audit_ledger_netstring(r.event_type)
        || audit_ledger_netstring(r.request_id)
        || audit_ledger_netstring(r.actor_id)
        || audit_ledger_netstring(r.actor_realm)
        || audit_ledger_netstring(r.tenant_id)
        || CASE WHEN r.tenant_incarnation = '' THEN ''::bytea
                ELSE audit_ledger_netstring(r.tenant_incarnation) END
        || audit_ledger_netstring(r.action)
        || audit_ledger_netstring(r.purpose)
        || audit_ledger_netstring(r.decision)
        || audit_ledger_netstring(r.reason)
        || audit_ledger_netstring(r.details)
        || audit_ledger_netstring(r.prev_hash)), 'hex')
$$;

-- The ledger's append reads the incarnation of the tenant it writes about,
-- and GET /audit the instant of this migration (rows written before it carry
-- no incarnation): an app role (realm_auth.app_role, as in 0002) may read
-- those tables and tombstone a deleted tenant.
DO $$
DECLARE
  app text := nullif(current_setting('realm_auth.app_role', true), '');
BEGIN
  IF app IS NULL OR app = current_user THEN
    RETURN;
  END IF;
  EXECUTE format('GRANT SELECT ON tenants, schema_migrations TO %I', app);
  EXECUTE format('GRANT SELECT, INSERT ON tenant_tombstones TO %I', app);
END;
$$;
