-- Indexes that token.get and user deletion need at a million tokens (bench/scale, BENCHMARKS.md).
--
-- token.get sorts missing times as Zabbix's 0: `last_access ASC NULLS FIRST` going up and
-- `DESC NULLS LAST` going down. PostgreSQL's default index order puts NULLs last going up, so
-- the 0003 indexes could serve neither direction and those sorts read every token (320 ms).
-- An index in NULLS FIRST order serves the one forwards and the other backwards.
DROP INDEX tokens_kind_last_access;
DROP INDEX tokens_kind_expires;
CREATE INDEX tokens_kind_last_access ON tokens (kind, last_access NULLS FIRST, id);
CREATE INDEX tokens_kind_expires ON tokens (kind, expires_at NULLS FIRST, id);

-- One user's tokens by name (token.get with userids and sortfield name). Measured at 1M after
-- this migration: the planner still walks tokens_kind_name and filters on the user when that
-- user has no tokens (690 ms), because the query asks for `user_id IN (NULL, $1)` sorted by
-- `name COLLATE "C"`; the query must change for this index to serve it (BENCHMARKS.md, scale).
CREATE INDEX tokens_user_kind_name ON tokens (user_id, kind, name, id);

-- Deleting a user clears the creator of the tokens they made for others.
CREATE INDEX tokens_creator ON tokens (creator_id) WHERE creator_id IS NOT NULL;
