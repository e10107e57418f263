-- One user's tokens by name (token.get with userids and sortfield name; a user's token list).
-- Without this index the plan depends on the statistics a connection has loaded: with one
-- plan a user without tokens made SQLite walk every token by name (about 0.2-0.4 s at a
-- million, BENCHMARKS.md, scale). This index answers the filter and the order at once, so
-- every plan uses it. PostgreSQL has had it since 0006.
CREATE INDEX tokens_user_kind_name ON tokens (user_id, kind, name, id);
