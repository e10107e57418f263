-- tessera's first schema. Times are Unix milliseconds (INTEGER) so they sort and index cheaply.
-- Secrets are never stored: tokens and clients keep the SHA-256 of theirs.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid          TEXT    NOT NULL UNIQUE,
    username      TEXT    NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('user', 'admin', 'super_admin')),
    enabled       INTEGER NOT NULL DEFAULT 1,
    permissions   TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
-- Names are unique ignoring ASCII case, so "admin" cannot pose as "Admin".
CREATE UNIQUE INDEX users_username ON users (username COLLATE NOCASE);

CREATE TABLE clients (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL DEFAULT '',
    secret_hash BLOB    NOT NULL,
    grants      TEXT    NOT NULL,
    scope       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    hash          BLOB    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('session', 'api', 'refresh')),
    door          TEXT    NOT NULL,
    user_id       INTEGER REFERENCES users (id) ON DELETE CASCADE,
    client_id     TEXT    REFERENCES clients (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL DEFAULT '',
    description   TEXT    NOT NULL DEFAULT '',
    scope         TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL CHECK (status IN ('active', 'disabled', 'revoked', 'rotated')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_access   INTEGER,
    creator_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    binding_kind  TEXT    NOT NULL DEFAULT 'none' CHECK (binding_kind IN ('none', 'ip', 'referer')),
    binding_value TEXT    NOT NULL DEFAULT '',
    family        TEXT
);
CREATE INDEX tokens_user ON tokens (user_id, id);
CREATE INDEX tokens_client ON tokens (client_id);
CREATE INDEX tokens_family ON tokens (family) WHERE family IS NOT NULL;

-- Append-only: no foreign keys, so events outlive the users and tokens they name.
CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    door            TEXT    NOT NULL,
    actor_user_id   INTEGER,
    subject_user_id INTEGER,
    token_id        INTEGER,
    client_id       TEXT,
    source_ip       TEXT,
    detail          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_subject ON audit_events (subject_user_id, at);
