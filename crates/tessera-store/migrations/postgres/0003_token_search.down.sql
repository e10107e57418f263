DROP INDEX tokens_kind_status;
DROP INDEX tokens_kind_last_access;
DROP INDEX tokens_kind_expires;
DROP INDEX tokens_kind_created;
DROP INDEX tokens_kind_name;
ALTER TABLE tokens DROP COLUMN idle_timeout;
