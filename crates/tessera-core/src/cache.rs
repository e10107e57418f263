//! The caches of the check path: repeat checks of the same token, and repeat calls of the same
//! client, are answered from memory.
//!
//! An entry holds what the store said (about a token and its user, or about a client) when it
//! was last asked, and is trusted for `cache_ttl`. Everything this node changes evicts what it
//! touched at once. A change made elsewhere (the CLI, another node) evicts it when the store
//! announces the change (PostgreSQL), and at the latest when the entry's time is up: an entry
//! that cannot be re-checked is never trusted longer.

use crate::client::Client;
use crate::secret::SecretHash;
use crate::token::Token;
use crate::user::User;
use quick_cache::sync::Cache;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// A token check as the store answered it.
#[derive(Clone)]
pub(crate) struct CachedCheck {
    pub token: Arc<Token>,
    pub user: Option<Arc<User>>,
    /// When the token was last used, as far as this node knows (Unix milliseconds): the stored
    /// `last_access`, moved forward by every check here. Idle sessions end by it.
    last_used: Arc<AtomicI64>,
}

impl CachedCheck {
    pub fn new(token: Token, user: Option<Arc<User>>) -> Self {
        let last_used = token
            .last_access
            .unwrap_or(token.created_at)
            .max(token.created_at);
        Self {
            last_used: Arc::new(AtomicI64::new(unix_millis(last_used))),
            token: Arc::new(token),
            user,
        }
    }

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

/// Token checks by the hash of the presented secret.
pub(crate) type TokenCache = FreshCache<SecretHash, CachedCheck>;

/// Clients by id, as the store answered: their secret hash is compared on every call.
pub(crate) type ClientCache = FreshCache<String, Arc<Client>>;

/// A bounded map whose entries are trusted for a fixed time after they were read.
pub(crate) struct FreshCache<K, V> {
    entries: Cache<K, (V, Instant)>,
    ttl: Duration,
    /// Counts evictions, so that a read of the store from before an eviction does not put back
    /// what the eviction removed (a revoke racing a check of the same token).
    evictions: AtomicU64,
}

impl<K, V> FreshCache<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            ttl,
            evictions: AtomicU64::new(0),
        }
    }

    /// How many entries the cache holds now.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized,
    {
        let (value, loaded_at) = self.entries.get(key)?;
        if loaded_at.elapsed() < self.ttl {
            Some(value)
        } else {
            self.entries.remove(key);
            None
        }
    }

    /// Where the cache stands now: take it before reading the store, and give it to
    /// [`insert`](Self::insert) with what was read.
    pub fn mark(&self) -> u64 {
        self.evictions.load(Ordering::SeqCst)
    }

    /// Caches what the store said, unless something was evicted since `mark` was taken: what
    /// was read may be older than that eviction. (The caller still uses what it read.)
    pub fn insert(&self, key: K, value: V, mark: u64) {
        if self.ttl.is_zero() || self.mark() != mark {
            return;
        }
        self.entries.insert(key.clone(), (value, Instant::now()));
        // An eviction between the test above and the insert may have missed this entry:
        // take it out again. (An eviction after this test finds and removes it.)
        if self.mark() != mark {
            self.entries.remove(&key);
        }
    }

    pub fn evict<Q>(&self, key: &Q)
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized,
    {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.entries.remove(key);
    }

    /// Forgets everything (for the token cache: a user changed, and entries are keyed by token).
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

    fn token(secret: &str) -> Token {
        Token {
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
        }
    }

    #[test]
    fn a_read_from_before_an_eviction_is_not_cached() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        let (fresh, stale) = (token("fresh"), token("stale"));
        let put = |token: &Token, mark| {
            cache.insert(token.hash, CachedCheck::new(token.clone(), None), mark)
        };

        put(&fresh, cache.mark());
        assert!(cache.get(&fresh.hash).is_some());

        // A check reads the store, a revoke evicts the token, then the check comes back.
        let mark = cache.mark();
        cache.evict(&stale.hash);
        put(&stale, mark);
        assert!(cache.get(&stale.hash).is_none(), "what it read is not kept");

        put(&stale, cache.mark());
        assert!(
            cache.get(&stale.hash).is_some(),
            "a read after the eviction is"
        );
    }

    #[test]
    fn entries_are_trusted_for_the_time_to_live_only() {
        let cache: FreshCache<String, u8> = FreshCache::new(10, Duration::from_millis(30));
        cache.insert("a".into(), 1, cache.mark());
        assert_eq!(cache.get("a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("a"), None);
        assert_eq!(
            cache.len(),
            0,
            "an entry past its time is dropped when asked for"
        );

        let off: FreshCache<String, u8> = FreshCache::new(10, Duration::ZERO);
        off.insert("a".into(), 1, off.mark());
        assert_eq!(
            off.get("a"),
            None,
            "a time to live of zero turns the cache off"
        );
    }
}
