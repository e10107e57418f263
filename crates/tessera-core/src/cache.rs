//! The check cache: repeat checks of the same token are answered from memory.
//!
//! An entry holds what the store said about a token (and its user) when it was last asked, and
//! is trusted for `cache_ttl`. Everything this node changes about a token evicts it at once. A
//! change made elsewhere (the CLI, another node) evicts it when the store announces the change
//! (PostgreSQL), and at the latest when the entry's time is up: an entry that cannot be
//! re-checked is never trusted longer.

use crate::secret::SecretHash;
use crate::token::Token;
use crate::user::User;
use quick_cache::sync::Cache;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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
    /// Counts evictions, so that a check which read the store before an eviction does not put
    /// back what the eviction removed (a revoke racing a check of the same token).
    evictions: AtomicU64,
}

impl TokenCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            ttl,
            evictions: AtomicU64::new(0),
        }
    }

    /// How many checks the cache holds now.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
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

    /// Where the cache stands now: take it before reading the store, and give it to
    /// [`insert`](Self::insert) with what was read.
    pub fn mark(&self) -> u64 {
        self.evictions.load(Ordering::SeqCst)
    }

    /// Caches what the store said, unless something was evicted since `mark` was taken: what
    /// was read may be older than that eviction. (The check at hand still gets the entry.)
    pub fn insert(&self, token: Arc<Token>, user: Option<Arc<User>>, mark: u64) -> CachedCheck {
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
        if !self.ttl.is_zero() && self.mark() == mark {
            let hash = entry.token.hash;
            self.entries.insert(hash, entry.clone());
            // An eviction between the test above and the insert may have missed this entry:
            // take it out again. (An eviction after this test finds and removes it.)
            if self.mark() != mark {
                self.entries.remove(&hash);
            }
        }
        entry
    }

    pub fn evict(&self, hash: &SecretHash) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.entries.remove(hash);
    }

    /// Forgets everything: used when a user changes, since entries are keyed by token.
    pub fn clear(&self) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Scope;
    use crate::token::{Binding, Door, TokenKind, TokenStatus};

    fn token(secret: &str) -> Arc<Token> {
        Arc::new(Token {
            id: 1,
            hash: SecretHash::of(secret),
            kind: TokenKind::Session,
            door: Door::OAuth,
            user_id: None,
            client_id: None,
            name: String::new(),
            description: String::new(),
            scope: Scope::parse("read").unwrap(),
            status: TokenStatus::Active,
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: None,
            last_access: None,
            creator_id: None,
            binding: Binding::None,
            family: None,
            idle_timeout: None,
        })
    }

    #[test]
    fn a_read_from_before_an_eviction_is_not_cached() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        let (fresh, stale) = (token("fresh"), token("stale"));

        let mark = cache.mark();
        cache.insert(fresh.clone(), None, mark);
        assert!(cache.get(&fresh.hash).is_some());

        // A check reads the store, a revoke evicts the token, then the check comes back.
        let mark = cache.mark();
        cache.evict(&stale.hash);
        let entry = cache.insert(stale.clone(), None, mark);
        assert_eq!(
            entry.token.hash, stale.hash,
            "the check at hand still gets it"
        );
        assert!(cache.get(&stale.hash).is_none(), "but it is not kept");

        let mark = cache.mark();
        cache.insert(stale.clone(), None, mark);
        assert!(
            cache.get(&stale.hash).is_some(),
            "a read after the eviction is"
        );
    }
}
