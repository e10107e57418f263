-- SQLite gets the index PostgreSQL has had since 0006, tokens_user_kind_name; the number is
-- kept so both stores stay at the same version.
SELECT 1;
