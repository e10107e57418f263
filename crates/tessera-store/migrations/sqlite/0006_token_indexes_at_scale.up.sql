-- Deleting a user clears the creator of the tokens they made for others. (SQLite sorts NULLs
-- first going up already, so its 0003 indexes serve token.get's sorts; PostgreSQL's 0006 fixes
-- those too.)
CREATE INDEX tokens_creator ON tokens (creator_id) WHERE creator_id IS NOT NULL;
