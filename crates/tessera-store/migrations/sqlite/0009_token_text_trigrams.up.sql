-- A trigram index of API tokens' names, for token.get's substring searches:
-- `LIKE '%term%'` reads every token, 0.3-0.9 s at a million (BENCHMARKS.md, scale). The
-- search asks this table for candidates first (src/text_search.rs). It holds no text of its
-- own (the content is the tokens table) and only API tokens, so OAuth and vendor-door
-- sessions, which have no names, cost no index writes. Descriptions are left out: they are
-- longer, and indexing them too made loading 200,000 tokens take 155 s instead of 21 s; a
-- search in descriptions reads every token, as before.
CREATE VIRTUAL TABLE tokens_text USING fts5(
    name, content = 'tokens', content_rowid = 'id', tokenize = 'trigram'
);

CREATE TRIGGER tokens_text_insert AFTER INSERT ON tokens WHEN new.kind = 'api' BEGIN
    INSERT INTO tokens_text (rowid, name) VALUES (new.id, new.name);
END;

-- Deleting from an external-content table takes the old values, as they were indexed.
CREATE TRIGGER tokens_text_delete AFTER DELETE ON tokens WHEN old.kind = 'api' BEGIN
    INSERT INTO tokens_text (tokens_text, rowid, name) VALUES ('delete', old.id, old.name);
END;

CREATE TRIGGER tokens_text_update AFTER UPDATE OF name ON tokens
WHEN old.kind = 'api' BEGIN
    INSERT INTO tokens_text (tokens_text, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO tokens_text (rowid, name) VALUES (new.id, new.name);
END;

INSERT INTO tokens_text (rowid, name) SELECT id, name FROM tokens WHERE kind = 'api';
