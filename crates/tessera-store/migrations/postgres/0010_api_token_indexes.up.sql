-- The indexes that only token.get uses hold API tokens only, as on SQLite (0010 there says
-- why). The searches name the kind as a literal, `kind = 'api'`, so that every plan, generic
-- ones included, knows these indexes apply. One index of every token by kind and id stays,
-- for `tessera token list --kind` (keyset pages by id).
DROP INDEX tokens_kind_name;
DROP INDEX tokens_kind_created;
DROP INDEX tokens_kind_expires;
DROP INDEX tokens_kind_last_access;
DROP INDEX tokens_kind_status;
DROP INDEX tokens_user_kind_name;
CREATE INDEX tokens_kind ON tokens (kind, id);
CREATE INDEX tokens_kind_name ON tokens (kind, name) WHERE kind = 'api';
CREATE INDEX tokens_kind_created ON tokens (kind, created_at) WHERE kind = 'api';
CREATE INDEX tokens_kind_expires ON tokens (kind, expires_at NULLS FIRST, id) WHERE kind = 'api';
CREATE INDEX tokens_kind_last_access ON tokens (kind, last_access NULLS FIRST, id) WHERE kind = 'api';
CREATE INDEX tokens_kind_status ON tokens (kind, status) WHERE kind = 'api';
CREATE INDEX tokens_user_kind_name ON tokens (user_id, kind, name, id) WHERE kind = 'api';
