DROP TRIGGER tokens_keep_uses_insert ON tokens;
DROP TRIGGER tokens_keep_uses_update ON tokens;
DROP TRIGGER tokens_keep_uses_delete ON tokens;
DROP FUNCTION tessera_keep_api_token_uses();
DROP TABLE api_token_uses;
ALTER TABLE tokens RESET (fillfactor);
CREATE INDEX tokens_kind_last_access ON tokens (kind, last_access NULLS FIRST, id) WHERE kind = 'api';
