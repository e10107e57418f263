//! The check cache: repeat checks of the same token are answered from memory.
//!
//! An entry holds what the store said about a token (and its user) when it was last asked, and
//! is trusted for `cache_ttl`. Everything this node changes about a token evicts it at once; a
//! change made elsewhere (the CLI, another node) is seen when the entry's time is up.

use crate::secret::SecretHash;
use crate::token::Token;
use crate::user::User;
use quick_cache::sync::Cache;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

#[derive(Clone)]
pub(crate) struct CachedCheck {
    pub token: Arc<Token>,
    pub user: Option<Arc<User>>,
    loaded_at: Instant,
    /// When the token was last used, as far as this node knows (Unix milliseconds): the stored
    /// `last_access`, moved forward by every check here. Idle sessions end by it.
    last_used: Arc<AtomicI64>,
}

impl CachedCheck {
    pub fn last_used(&self) -> i64 {
        self.last_used.load(Ordering::Relaxed)
    }

    pub fn mark_used(&self, at: OffsetDateTime) {
        self.last_used.fetch_max(unix_millis(at), Ordering::Relaxed);
    }
}

pub(crate) fn unix_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) struct TokenCache {
    entries: Cache<SecretHash, CachedCheck>,
    ttl: Duration,
}

impl TokenCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            ttl,
        }
    }

    pub fn get(&self, hash: &SecretHash) -> Option<CachedCheck> {
        let entry = self.entries.get(hash)?;
        if entry.loaded_at.elapsed() < self.ttl {
            Some(entry)
        } else {
            self.entries.remove(hash);
            None
        }
    }

    pub fn insert(&self, token: Arc<Token>, user: Option<Arc<User>>) -> CachedCheck {
        let last_used = token
            .last_access
            .unwrap_or(token.created_at)
            .max(token.created_at);
        let entry = CachedCheck {
            last_used: Arc::new(AtomicI64::new(unix_millis(last_used))),
            token,
            user,
            loaded_at: Instant::now(),
        };
        if !self.ttl.is_zero() {
            self.entries.insert(entry.token.hash, entry.clone());
        }
        entry
    }

    pub fn evict(&self, hash: &SecretHash) {
        self.entries.remove(hash);
    }

    /// Forgets everything: used when a user changes, since entries are keyed by token.
    pub fn clear(&self) {
        self.entries.clear();
    }
}
