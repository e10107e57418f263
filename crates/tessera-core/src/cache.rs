//! The check cache: repeat checks of the same token are answered from memory.
//!
//! An entry holds what the store said about a token (and its user) when it was last asked, and
//! is trusted for `cache_ttl`. Everything this node changes about a token evicts it at once; a
//! change made elsewhere (the CLI, another node) is seen when the entry's time is up.

use crate::secret::SecretHash;
use crate::token::Token;
use crate::user::User;
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub(crate) struct CachedCheck {
    pub token: Arc<Token>,
    pub user: Option<Arc<User>>,
    loaded_at: Instant,
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
        let entry = CachedCheck {
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
