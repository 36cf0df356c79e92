-- 0006: a keyed ledger and an application role that may only append
-- (docs/GOVERNANCE.md §4, "Keyed chain and published head").
--
-- Until now row_hash was a plain SHA-256 that the database can compute
-- itself (audit_ledger_row_hash), so whoever owns the table could rewrite a
-- suffix and recompute it. From here on the sidecar writes form v3:
-- row_hash = HMAC-SHA-256 with a key file only the sidecar reads, and
-- key_id names that key (8 hex digits of SHA-256(key), so keys can rotate).
-- Existing rows keep key_id = '' and verify as forms v1/v2; the first
-- keyed row seals their last hash inside its HMAC (prev_hash), and no
-- unkeyed row may follow a keyed one. Existing rows are not rewritten: the
-- column's constant default adds it without touching them.
--
-- Runs as the owner. With realm_auth.app_role set (see 0002) the
-- application role gets exactly what the sidecar needs, on every table,
-- whether or not it existed when 0001-0005 ran. Safe to run again.

ALTER TABLE audit_ledger ADD COLUMN IF NOT EXISTS key_id text NOT NULL DEFAULT ''
  CHECK (key_id = '' OR key_id ~ '^[0-9a-f]{8}$');

COMMENT ON TABLE audit_ledger IS
  'Append-only audit ledger of realm-sidecar; row_hash = HMAC-SHA-256 (key key_id, held by the sidecar only) of the canonical form v3, or SHA-256 of v1/v2 for rows with key_id = '''' (docs/GOVERNANCE.md); prev_hash = row_hash of seq-1.';

-- The SQL form covers the unkeyed rows only: a keyed row's hash needs the
-- key, which the database must never hold. NULL for keyed rows.
CREATE OR REPLACE FUNCTION audit_ledger_row_hash(r audit_ledger) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
  SELECT CASE WHEN r.key_id <> '' THEN NULL ELSE encode(sha256(
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
        || audit_ledger_netstring(r.prev_hash)), 'hex') END
$$;

-- The application role: the ledger SELECT and INSERT only (never UPDATE,
-- DELETE, TRUNCATE, REFERENCES or TRIGGER; not the owner, so it cannot
-- ALTER or disable the triggers); the working tables what the sidecar's
-- statements use.
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
  EXECUTE format('REVOKE ALL ON audit_ledger FROM %I', app);
  EXECUTE format('GRANT SELECT, INSERT ON audit_ledger TO %I', app);
  EXECUTE format('GRANT SELECT ON schema_migrations TO %I', app);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, tenant_secrets TO %I', app);
  EXECUTE format('GRANT SELECT, INSERT ON tenant_tombstones TO %I', app);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON revocations, revocation_feed, '
                 'logout_token_jtis TO %I', app);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON key_retirements TO %I', app);
  EXECUTE format('GRANT USAGE ON SEQUENCE revocations_id_seq, key_retirements_id_seq TO %I', app);
END;
$$;
