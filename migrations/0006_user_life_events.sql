-- Outcome events of the user's life after creation (issue 9):
-- USER_UPDATED, USER_DISABLED, USER_DELETED, PASSWORD_RESET,
-- SESSIONS_REVOKED. The ledger's event_type CHECK is rebuilt as the union
-- of the types it allows today and these, so that other migrations adding
-- their own types (before or after this one) keep theirs.
DO $$
DECLARE
  c record;
  kinds text[] := ARRAY['USER_UPDATED', 'USER_DISABLED', 'USER_DELETED', 'PASSWORD_RESET',
                        'SESSIONS_REVOKED'];
BEGIN
  FOR c IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
           WHERE conrelid = 'audit_ledger'::regclass AND contype = 'c'
             AND pg_get_constraintdef(oid) LIKE '%event_type%' LOOP
    kinds := kinds || ARRAY(SELECT m[1] FROM regexp_matches(c.def, '''([A-Z_]+)''', 'g') AS m);
    EXECUTE format('ALTER TABLE audit_ledger DROP CONSTRAINT %I', c.conname);
  END LOOP;
  EXECUTE format('ALTER TABLE audit_ledger ADD CONSTRAINT audit_ledger_event_type_check '
                 'CHECK (event_type IN (%s))',
                 (SELECT string_agg(quote_literal(k), ', ' ORDER BY k)
                    FROM (SELECT DISTINCT unnest(kinds) AS k) u));
END $$;
