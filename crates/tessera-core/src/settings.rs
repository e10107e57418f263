//! The knobs of the core, with defaults that are safe for production.

use crate::error::CoreError;
use crate::lockout::LockoutPolicy;
use std::time::Duration;

/// The longest lifetime any token may ask for: ten years. Anything longer is a mistake.
pub const MAX_LIFETIME_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// A token lifetime that is known to be sensible: at least one second, at most ten years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u64);

impl Lifetime {
    pub fn from_secs(seconds: u64) -> Result<Self, CoreError> {
        if seconds == 0 || seconds > MAX_LIFETIME_SECONDS {
            return Err(CoreError::InvalidInput(format!(
                "a lifetime must be between 1 and {MAX_LIFETIME_SECONDS} seconds"
            )));
        }
        Ok(Self(seconds))
    }

    pub fn as_secs(self) -> u64 {
        self.0
    }

    pub fn as_duration(self) -> time::Duration {
        time::Duration::seconds(self.0 as i64)
    }
}

/// Argon2id cost. The default is OWASP's recommendation: m=19 MiB, t=2, p=1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Lifetime of OAuth access tokens.
    pub access_token_lifetime: Lifetime,
    /// Lifetime of OAuth refresh tokens.
    pub refresh_token_lifetime: Lifetime,
    /// ExtraView's `OAUTH2_TOKEN_LIFETIME_SECONDS` as configured; an admin may override it at
    /// run time (see `BehaviorSetting`).
    pub extraview_token_lifetime: Lifetime,
    /// Lifetime of tokens from the OWIN-style `/Token` door (14 days, as the seed's numbers say).
    pub owin_token_lifetime: Lifetime,
    /// Scopes tessera knows; a request for any other is `invalid_scope`.
    pub scopes: Vec<String>,
    /// The scope a user's token gets when none is asked for.
    pub default_scope: String,
    pub argon2: Argon2Settings,
    /// How many password hashes may run at once (each on a hashing thread of its own).
    pub password_workers: usize,
    /// How many logins may wait for a hashing thread before new ones are turned away.
    pub password_queue: usize,
    /// How many verified tokens the check cache holds.
    pub cache_capacity: usize,
    /// How long a cached check is trusted before the store is asked again. It bounds how long a
    /// revoke made by another process (the CLI, another node) takes to be seen here.
    pub cache_ttl: Duration,
    /// How long audit events are kept; `None`: for ever.
    pub audit_retention: Option<Duration>,
    /// When failed sign-ins lock an account (every door, every node).
    pub account_lockout: LockoutPolicy,
    /// When failed sign-ins from one source address lock it out (per node).
    pub source_lockout: LockoutPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_lifetime: Lifetime(3600),
            refresh_token_lifetime: Lifetime(30 * 24 * 3600),
            owin_token_lifetime: Lifetime(14 * 24 * 3600),
            extraview_token_lifetime: Lifetime(3600),
            scopes: vec!["read".into(), "write".into()],
            default_scope: "read write".into(),
            argon2: Argon2Settings::default(),
            password_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            password_queue: 256,
            cache_capacity: 100_000,
            cache_ttl: Duration::from_secs(5),
            audit_retention: Some(Duration::from_secs(365 * 24 * 3600)),
            // Zabbix's defaults: five failures lock for 30 s; here each further one doubles it.
            account_lockout: LockoutPolicy {
                threshold: 5,
                first_lock: Duration::from_secs(30),
                longest_lock: Duration::from_secs(15 * 60),
            },
            // A shared address (a NAT, an office) makes more honest mistakes than one account.
            source_lockout: LockoutPolicy {
                threshold: 20,
                first_lock: Duration::from_secs(30),
                longest_lock: Duration::from_secs(15 * 60),
            },
        }
    }
}
