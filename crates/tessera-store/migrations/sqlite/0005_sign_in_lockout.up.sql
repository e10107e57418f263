-- Failed sign-ins per account, for the lockout policy (and Zabbix's attempt_failed,
-- attempt_clock, attempt_ip): counted in the database so that every door and node agrees.
ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_failed_sign_in_at INTEGER;
ALTER TABLE users ADD COLUMN last_failed_sign_in_ip TEXT NOT NULL DEFAULT '';
