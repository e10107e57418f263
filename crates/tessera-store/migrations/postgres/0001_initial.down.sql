DROP TABLE audit_events;
DROP TABLE tokens;
DROP TABLE clients;
DROP TABLE users;
