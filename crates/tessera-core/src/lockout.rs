//! Brute-force defence: failed sign-ins lock an account, and separately a source address, for a
//! time that doubles with every further failure.
//!
//! An account's failures are kept in the store, so that every door and every node sees the same
//! count (a lockout earned through Zabbix holds at `/oauth/token`). A source address's failures
//! are kept in memory, per node: they are a rate limit, and a restart forgets them.
//! While locked, a sign-in is answered exactly as a wrong password, after the same work.

use quick_cache::sync::Cache;
use std::convert::Infallible;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// When failures lock, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// How many failures in a row lock (0: never).
    pub threshold: u32,
    /// How long the first lock lasts; each further failure doubles it.
    pub first_lock: Duration,
    /// The longest a lock lasts.
    pub longest_lock: Duration,
}

impl LockoutPolicy {
    /// Until when `failures` failures, the last at `last`, lock; `None` if they do not.
    pub fn locked_until(&self, failures: u32, last: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.threshold == 0 || failures < self.threshold {
            return None;
        }
        let doublings = (failures - self.threshold).min(32);
        let lock = self
            .first_lock
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.longest_lock);
        Some(last + lock)
    }

    /// Whether `failures`, the last at `last`, lock at `now`.
    pub fn is_locked(
        &self,
        failures: u32,
        last: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> bool {
        last.and_then(|last| self.locked_until(failures, last))
            .is_some_and(|until| now < until)
    }
}

/// An account's failed sign-ins since its last success or unlock (Zabbix's `attempt_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedSignIns {
    pub count: u32,
    pub last_at: Option<OffsetDateTime>,
    /// The address the last failure came from, as text ("" when unknown).
    pub last_ip: String,
}

impl FailedSignIns {
    /// The count after one more failure at `at` from `ip`.
    pub fn plus_one(&self, at: OffsetDateTime, ip: String) -> Self {
        Self {
            count: self.count.saturating_add(1),
            last_at: Some(at),
            last_ip: ip,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct SourceFailures {
    count: u32,
    last: OffsetDateTime,
}

/// Failed sign-ins per source address, bounded in memory.
pub(crate) struct SourceThrottle {
    policy: LockoutPolicy,
    failures: Cache<IpAddr, Arc<Mutex<SourceFailures>>>,
}

impl SourceThrottle {
    pub fn new(policy: LockoutPolicy, capacity: usize) -> Self {
        Self {
            policy,
            failures: Cache::new(capacity.max(1)),
        }
    }

    pub fn is_locked(&self, ip: IpAddr, now: OffsetDateTime) -> bool {
        self.failures.get(&ip).is_some_and(|entry| {
            let failures = entry
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.policy
                .is_locked(failures.count, Some(failures.last), now)
        })
    }

    /// Counts a failure; a source quiet for longer than the longest lock starts again.
    pub fn fail(&self, ip: IpAddr, now: OffsetDateTime) {
        let entry = self
            .failures
            .get_or_insert_with(&ip, || {
                Ok::<_, Infallible>(Arc::new(Mutex::new(SourceFailures {
                    count: 0,
                    last: now,
                })))
            })
            .unwrap_or_else(|never| match never {});
        let mut failures = entry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now - failures.last > self.policy.longest_lock {
            failures.count = 0;
        }
        failures.count = failures.count.saturating_add(1);
        failures.last = now;
    }
}

/// Sign-in attempts take turns per key (an account, a source address): at most `permits` at
/// once on this node, the others wait. A lock is decided after each attempt's slow hash, so
/// without turns, attempts sent together would all pass a lock they reach together.
pub(crate) struct AttemptTurns<K> {
    permits: usize,
    turns: Cache<K, Arc<Semaphore>>,
}

impl<K: Eq + Hash + Clone> AttemptTurns<K> {
    /// `permits` 0 means no turns (the lockout is off).
    pub fn new(permits: u32, capacity: usize) -> Self {
        Self {
            permits: permits as usize,
            turns: Cache::new(capacity.max(1)),
        }
    }

    /// Waits for a turn for `key` (none is needed for no key): a shared one, or with
    /// `alone` the only one (for a key that has failures already, every attempt must see the
    /// outcome of the one before). Answers the turn, and whether it had to wait (then what was
    /// read before may be out of date).
    pub async fn enter(&self, key: Option<K>, alone: bool) -> (Option<OwnedSemaphorePermit>, bool) {
        let Some(key) = key.filter(|_| self.permits > 0) else {
            return (None, false);
        };
        let gate = self
            .turns
            .get_or_insert_with(&key, || {
                Ok::<_, Infallible>(Arc::new(Semaphore::new(self.permits)))
            })
            .unwrap_or_else(|never| match never {});
        let wanted = if alone { self.permits as u32 } else { 1 };
        if let Ok(turn) = gate.clone().try_acquire_many_owned(wanted) {
            return (Some(turn), false);
        }
        // The semaphore is never closed, so acquiring only waits.
        (gate.acquire_many_owned(wanted).await.ok(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            threshold: 5,
            first_lock: Duration::from_secs(30),
            longest_lock: Duration::from_secs(900),
        }
    }

    #[test]
    fn the_lock_starts_at_the_threshold_and_doubles_up_to_the_longest() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let lock = |failures| policy().locked_until(failures, at).map(|until| until - at);
        assert_eq!(lock(4), None);
        assert_eq!(lock(5), Some(time::Duration::seconds(30)));
        assert_eq!(lock(6), Some(time::Duration::seconds(60)));
        assert_eq!(lock(7), Some(time::Duration::seconds(120)));
        assert_eq!(lock(10), Some(time::Duration::seconds(900)));
        assert_eq!(lock(u32::MAX), Some(time::Duration::seconds(900)));
        let never = LockoutPolicy {
            threshold: 0,
            ..policy()
        };
        assert_eq!(never.locked_until(1000, at), None);
    }

    #[test]
    fn a_source_is_locked_after_its_failures_and_forgotten_when_quiet() {
        let throttle = SourceThrottle::new(policy(), 100);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let mut now = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..4 {
            throttle.fail(ip, now);
        }
        assert!(!throttle.is_locked(ip, now));
        throttle.fail(ip, now);
        assert!(throttle.is_locked(ip, now));
        assert!(!throttle.is_locked(other, now));
        now += time::Duration::seconds(31);
        assert!(!throttle.is_locked(ip, now), "the first lock has ended");
        throttle.fail(ip, now);
        assert!(
            throttle.is_locked(ip, now + time::Duration::seconds(59)),
            "one more: 60 s"
        );
        now += time::Duration::seconds(901);
        throttle.fail(ip, now);
        assert!(
            !throttle.is_locked(ip, now),
            "quiet long enough: counted from one again"
        );
    }

    #[tokio::test]
    async fn attempts_take_turns_per_key() {
        let turns = AttemptTurns::new(2, 10);
        let (first, waited) = turns.enter(Some(1), false).await;
        assert!(first.is_some() && !waited);
        let (second, _) = turns.enter(Some(1), false).await;
        assert!(second.is_some());
        let (other, waited) = turns.enter(Some(2), false).await;
        assert!(
            other.is_some() && !waited,
            "another key has turns of its own"
        );
        let turns = Arc::new(turns);
        let waiting = turns.clone();
        let third = tokio::spawn(async move { waiting.enter(Some(1), false).await.1 });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "a third attempt waits");
        drop(first);
        assert!(third.await.unwrap(), "and gets its turn, knowing it waited");
        drop(second);
        let waiting = turns.clone();
        let alone = tokio::spawn(async move { waiting.enter(Some(2), true).await.1 });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !alone.is_finished(),
            "a turn alone waits for every other one"
        );
        drop(other);
        assert!(alone.await.unwrap());
        let off = AttemptTurns::<i64>::new(0, 10);
        assert!(
            off.enter(Some(1), true).await.0.is_none(),
            "no turns when the lockout is off"
        );
    }
}
