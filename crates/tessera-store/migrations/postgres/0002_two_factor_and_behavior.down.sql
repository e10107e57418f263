DROP TABLE behavior_settings;
ALTER TABLE users DROP COLUMN api_2fa_bypass;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_secret;
