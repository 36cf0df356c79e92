-- 0008: tenants that asked for DPoP-bound access tokens (POST /tenants
-- "dpop_bound_tokens": true). The realm spec sets the admin-console
-- client attribute dpop.bound.access.tokens from it, so reconcile keeps
-- Keycloak issuing only DPoP-bound tokens (cnf.jkt) to that tenant's
-- console (docs/MODULE.md, "Sender-constrained tokens"). Safe to run again.

ALTER TABLE tenants ADD COLUMN IF NOT EXISTS dpop_bound_tokens boolean NOT NULL DEFAULT false;
