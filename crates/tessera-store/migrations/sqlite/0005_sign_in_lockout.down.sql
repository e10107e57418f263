ALTER TABLE users DROP COLUMN last_failed_sign_in_ip;
ALTER TABLE users DROP COLUMN last_failed_sign_in_at;
ALTER TABLE users DROP COLUMN failed_sign_ins;
