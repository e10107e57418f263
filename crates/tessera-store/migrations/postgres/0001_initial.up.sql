-- tessera's first schema, as on SQLite: the same tables, columns and indexes holding the same
-- values. Times are Unix milliseconds (BIGINT) so they sort and index cheaply and read back
-- exactly as SQLite's. Secrets are never stored: tokens and clients keep the SHA-256 of theirs.
--
-- Text that is sorted, searched or compared ignoring case is COLLATE "C": it sorts by code
-- point and lower() folds ASCII only, as SQLite's BINARY, LOWER() and NOCASE do, whatever the
-- server's locale.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    uuid          TEXT    NOT NULL UNIQUE,
    username      TEXT    COLLATE "C" NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('user', 'admin', 'super_admin')),
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    permissions   TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);
-- Names are unique ignoring ASCII case, so "admin" cannot pose as "Admin"; users are looked up
-- by lower(username) so that this index serves the lookup too.
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE clients (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL DEFAULT '',
    secret_hash BYTEA   NOT NULL,
    grants      TEXT    NOT NULL,
    scope       TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL
);

CREATE TABLE tokens (
    id            BIGSERIAL PRIMARY KEY,
    hash          BYTEA   NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('session', 'api', 'refresh')),
    door          TEXT    NOT NULL,
    user_id       BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    client_id     TEXT    REFERENCES clients (id) ON DELETE CASCADE,
    name          TEXT    COLLATE "C" NOT NULL DEFAULT '',
    description   TEXT    COLLATE "C" NOT NULL DEFAULT '',
    scope         TEXT    NOT NULL DEFAULT '',
    status        TEXT    COLLATE "C" NOT NULL CHECK (status IN ('active', 'disabled', 'revoked', 'rotated')),
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    last_access   BIGINT,
    creator_id    BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    binding_kind  TEXT    NOT NULL DEFAULT 'none' CHECK (binding_kind IN ('none', 'ip', 'referer')),
    binding_value TEXT    NOT NULL DEFAULT '',
    family        TEXT
);
CREATE INDEX tokens_user ON tokens (user_id, id);
CREATE INDEX tokens_client ON tokens (client_id);
CREATE INDEX tokens_family ON tokens (family) WHERE family IS NOT NULL;

-- Append-only: no foreign keys, so events outlive the users and tokens they name.
CREATE TABLE audit_events (
    id              BIGSERIAL PRIMARY KEY,
    at              BIGINT  NOT NULL,
    kind            TEXT    NOT NULL,
    door            TEXT    NOT NULL,
    actor_user_id   BIGINT,
    subject_user_id BIGINT,
    token_id        BIGINT,
    client_id       TEXT,
    source_ip       TEXT,
    detail          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_subject ON audit_events (subject_user_id, at);
