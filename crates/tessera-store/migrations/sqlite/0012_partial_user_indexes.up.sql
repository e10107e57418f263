-- A client's own tokens (client_credentials) have no user, nor do the events of their issue:
-- each one still wrote an entry under NULL into these two indexes, which nothing reads (a
-- user's tokens and events are asked for by the user's id). Leaving them out saves every such
-- issue two index writes (BENCHMARKS.md).
DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens (user_id, id) WHERE user_id IS NOT NULL;
DROP INDEX audit_events_subject;
CREATE INDEX audit_events_subject ON audit_events (subject_user_id, at)
    WHERE subject_user_id IS NOT NULL;
