CREATE OR REPLACE FUNCTION tessera_announce_user_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       OR to_jsonb(OLD) - 'totp_last_step' IS DISTINCT FROM to_jsonb(NEW) - 'totp_last_step' THEN
        PERFORM pg_notify('tessera_changes', 'user:' || OLD.id);
    END IF;
    RETURN NULL;
END;
$$;
ALTER TABLE users DROP COLUMN last_failed_sign_in_ip;
ALTER TABLE users DROP COLUMN last_failed_sign_in_at;
ALTER TABLE users DROP COLUMN failed_sign_ins;
