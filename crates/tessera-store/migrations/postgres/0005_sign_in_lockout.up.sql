-- Failed sign-ins per account, for the lockout policy (and Zabbix's attempt_failed,
-- attempt_clock, attempt_ip): counted in the database so that every door and node agrees.
ALTER TABLE users ADD COLUMN failed_sign_ins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_failed_sign_in_at BIGINT;
ALTER TABLE users ADD COLUMN last_failed_sign_in_ip TEXT NOT NULL DEFAULT '';

-- A failed sign-in is not something a token check can see: not announced (nodes would
-- otherwise forget their caches at every wrong password).
CREATE OR REPLACE FUNCTION tessera_announce_user_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       OR to_jsonb(OLD) - 'totp_last_step' - 'failed_sign_ins' - 'last_failed_sign_in_at'
            - 'last_failed_sign_in_ip'
          IS DISTINCT FROM
          to_jsonb(NEW) - 'totp_last_step' - 'failed_sign_ins' - 'last_failed_sign_in_at'
            - 'last_failed_sign_in_ip' THEN
        PERFORM pg_notify('tessera_changes', 'user:' || OLD.id);
    END IF;
    RETURN NULL;
END;
$$;
