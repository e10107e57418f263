DROP TRIGGER tokens_text_update;
DROP TRIGGER tokens_text_delete;
DROP TRIGGER tokens_text_insert;
DROP TABLE tokens_text;
