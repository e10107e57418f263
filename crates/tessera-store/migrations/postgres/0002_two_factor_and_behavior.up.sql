-- TOTP two-factor sign-in, the ExtraView "bypass 2FA for the API" option, and behaviour
-- settings an admin changes while the server runs (ExtraView's OAUTH2_TOKEN_LIFETIME_SECONDS).
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
ALTER TABLE users ADD COLUMN api_2fa_bypass BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE behavior_settings (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);
