-- A trigram index of API tokens' names, for token.get's substring searches:
-- `LIKE '%term%'` reads every token, 0.3-0.9 s at a million (BENCHMARKS.md, scale). The
-- search asks it for candidates first (src/text_search.rs). Only API tokens are indexed, so
-- OAuth and vendor-door sessions, which have no names, cost no index writes. Descriptions
-- are left out, as on SQLite (0009 there says why): a search in them reads every token.
--
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: a database owner may
-- create it. Where it cannot be had, tessera works without the index, as before, and the
-- store sees that it is missing. fastupdate is off: API tokens are made one at a time, and a
-- search would otherwise also read the list of entries not yet merged into the index (12 ms
-- instead of 7 for a rare name at a million tokens, until VACUUM merged them).
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_trgm is not available (%): token name searches will read every token', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX tokens_name_trigrams ON tokens
            USING gin (LOWER(name) gin_trgm_ops) WITH (fastupdate = off) WHERE kind = 'api';
    END IF;
END
$$;
