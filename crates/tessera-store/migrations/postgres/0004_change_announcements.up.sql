-- Several tessera nodes share this database and each caches token checks for a few seconds.
-- Every change that can alter a check is announced on the channel `tessera_changes` (sent when
-- its transaction commits, so never for a change that is rolled back), and the nodes forget
-- what it touched: 'token:<hash in hex>', 'user:<id>', or 'all' when too many tokens change
-- at once to name them. Triggers catch every path: the server, the CLI, a manual UPDATE.

CREATE FUNCTION tessera_announce_token_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    hashes BYTEA[];
    hash   BYTEA;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT array_agg(o.hash) INTO hashes FROM old_rows o;
    ELSE
        -- Only a change a check can see: a token's use (last_access) is not one.
        SELECT array_agg(o.hash) INTO hashes
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE to_jsonb(o) - 'last_access' IS DISTINCT FROM to_jsonb(n) - 'last_access';
    END IF;
    IF hashes IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(hashes) > 1000 THEN
        PERFORM pg_notify('tessera_changes', 'all');
    ELSE
        FOREACH hash IN ARRAY hashes LOOP
            PERFORM pg_notify('tessera_changes', 'token:' || encode(hash, 'hex'));
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tokens_announce_update AFTER UPDATE ON tokens
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tessera_announce_token_changes();
CREATE TRIGGER tokens_announce_delete AFTER DELETE ON tokens
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tessera_announce_token_changes();

CREATE FUNCTION tessera_announce_user_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A used TOTP step is not something a check can see.
    IF TG_OP = 'DELETE'
       OR to_jsonb(OLD) - 'totp_last_step' IS DISTINCT FROM to_jsonb(NEW) - 'totp_last_step' THEN
        PERFORM pg_notify('tessera_changes', 'user:' || OLD.id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_announce AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION tessera_announce_user_change();
