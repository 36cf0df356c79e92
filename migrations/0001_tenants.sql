-- 0001: migration bookkeeping, tenants and their encrypted client secrets.
-- Applied by `realm-sidecar migrate` inside one transaction.

-- One row per applied file. `realm-sidecar migrate` also creates this table
-- before reading it (IF NOT EXISTS), so the bootstrap order does not matter.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,          -- "0001"
    name        text NOT NULL,             -- "0001_tenants.sql"
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- A tenant is one Keycloak realm (tenant-<slug>). The row exists from the
-- first step of provisioning: `status` and `saga_step` let the next start
-- (or `realm-sidecar reconcile`) finish or roll back what a crash left.
CREATE TABLE tenants (
    tenant_id     text PRIMARY KEY
                  CHECK (tenant_id ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    realm_name    text NOT NULL UNIQUE CHECK (realm_name = 'tenant-' || tenant_id),
    issuer_url    text NOT NULL,
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    departments   text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'provisioning'
                  CHECK (status IN ('provisioning', 'active', 'disabled', 'deleting', 'failed')),
    -- Last completed saga step: row_inserted, realm_created, secret_stored, done.
    saga_step     text NOT NULL DEFAULT 'row_inserted',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_unfinished ON tenants (status) WHERE status IN ('provisioning', 'deleting');

-- Client secrets of a tenant's confidential clients, AES-256-GCM sealed by
-- the sidecar (version byte | nonce | ciphertext | tag); the key never
-- reaches the database.
CREATE TABLE tenant_secrets (
    tenant_id    text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    client_id    text NOT NULL,
    sealed       bytea NOT NULL,
    rotated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, client_id)
);
