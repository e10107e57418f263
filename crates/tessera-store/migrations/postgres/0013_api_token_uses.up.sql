-- A token's last use (last_access) is written after every burst of checks, thousands of tokens
-- at a time. While the column was in an index of `tokens` (tokens_kind_last_access, for
-- token.get's `sortfield: lastaccess`), each such write was a new version of the row with a new
-- entry in every index of the table, about 15 KB of WAL a token (BENCHMARKS.md); out of every
-- index it is a heap-only (HOT) update, which the free tenth of each page (fillfactor) leaves
-- room for (on pages written from now on; full ones make room as their old versions are
-- pruned). token.get's order by last use lives in this narrow table instead, for API tokens
-- only, kept by the triggers below on every path (the server, the CLI, `tessera transfer`, a
-- manual statement). tokens.last_access stays the truth that checks, lists and transfers read.
CREATE TABLE api_token_uses (
    token_id    BIGINT PRIMARY KEY,
    last_access BIGINT
);
INSERT INTO api_token_uses (token_id, last_access)
    SELECT id, last_access FROM tokens WHERE kind = 'api';
CREATE INDEX api_token_uses_order ON api_token_uses (last_access NULLS FIRST, token_id);
DROP INDEX tokens_kind_last_access;
ALTER TABLE tokens SET (fillfactor = 90);

-- Set-based, once a statement: a write of 256 tokens' times is one UPDATE here, and an issue or
-- a purge of session tokens finds nothing to do. No foreign key: its per-row cascade would cost
-- every deleted session token a probe of this table.
CREATE FUNCTION tessera_keep_api_token_uses() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO api_token_uses (token_id, last_access)
            SELECT id, last_access FROM new_rows WHERE kind = 'api'
            ON CONFLICT (token_id) DO UPDATE SET last_access = EXCLUDED.last_access;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE api_token_uses u SET last_access = n.last_access
          FROM new_rows n
         WHERE u.token_id = n.id AND u.last_access IS DISTINCT FROM n.last_access;
    ELSE
        DELETE FROM api_token_uses u USING old_rows o
         WHERE u.token_id = o.id AND o.kind = 'api';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tokens_keep_uses_insert AFTER INSERT ON tokens
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tessera_keep_api_token_uses();
CREATE TRIGGER tokens_keep_uses_update AFTER UPDATE ON tokens
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tessera_keep_api_token_uses();
CREATE TRIGGER tokens_keep_uses_delete AFTER DELETE ON tokens
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tessera_keep_api_token_uses();
