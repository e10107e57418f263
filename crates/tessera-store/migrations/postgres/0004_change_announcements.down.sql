DROP TRIGGER users_announce ON users;
DROP FUNCTION tessera_announce_user_change();
DROP TRIGGER tokens_announce_delete ON tokens;
DROP TRIGGER tokens_announce_update ON tokens;
DROP FUNCTION tessera_announce_token_changes();
