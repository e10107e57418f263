DROP INDEX tokens_creator;
DROP INDEX tokens_user_kind_name;
DROP INDEX tokens_kind_expires;
DROP INDEX tokens_kind_last_access;
CREATE INDEX tokens_kind_expires ON tokens (kind, expires_at);
CREATE INDEX tokens_kind_last_access ON tokens (kind, last_access);
