-- Zabbix sessions expire when idle; API tokens are searched, sorted and paged by the fields
-- Zabbix's token.get offers, which must stay indexed at a million tokens.
ALTER TABLE tokens ADD COLUMN idle_timeout BIGINT;

CREATE INDEX tokens_kind_name ON tokens (kind, name);
CREATE INDEX tokens_kind_created ON tokens (kind, created_at);
CREATE INDEX tokens_kind_expires ON tokens (kind, expires_at);
CREATE INDEX tokens_kind_last_access ON tokens (kind, last_access);
CREATE INDEX tokens_kind_status ON tokens (kind, status);
