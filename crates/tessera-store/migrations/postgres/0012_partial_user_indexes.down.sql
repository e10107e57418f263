DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens (user_id, id);
DROP INDEX audit_events_subject;
CREATE INDEX audit_events_subject ON audit_events (subject_user_id, at);
