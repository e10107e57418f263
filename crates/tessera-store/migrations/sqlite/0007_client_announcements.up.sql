-- On PostgreSQL this migration makes the database announce changes to clients, for the client
-- caches of several nodes. One SQLite file serves one node, whose caches expire by themselves;
-- the number is kept so both stores stay at the same version.
SELECT 1;
