-- A user's live tokens by door. An OWIN sign-in revokes the user's earlier OWIN tokens, and
-- found them by walking every token the user ever had (tokens_user), so that each sign-in got
-- slower as the history grew: from 0.90 to 0.85 of a bare Argon2 hash between two rounds of
-- one benchmark (BENCHMARKS.md). Only live tokens of users are in it: a revoked one leaves it,
-- a client's never enters.
CREATE INDEX tokens_user_live ON tokens (user_id, door)
    WHERE user_id IS NOT NULL AND status IN ('active', 'disabled');
