//! Counts of what the authority did, kept in memory for monitoring (the server's `/metrics`):
//! audit events by kind and door, token checks by door and outcome, and how often the cache
//! answered. Plain counters since the process started: they hold no name, address or secret.

use crate::audit::AuditKind;
use crate::token::Door;
use std::sync::atomic::{AtomicU64, Ordering};

const DOORS: usize = Door::ALL.len();
const KINDS: usize = AuditKind::ALL.len();

/// How a token check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    Accepted,
    Refused,
}

impl CheckOutcome {
    pub const ALL: [CheckOutcome; 2] = [CheckOutcome::Accepted, CheckOutcome::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Accepted => "accepted",
            CheckOutcome::Refused => "refused",
        }
    }
}

pub(crate) struct Stats {
    events: [AtomicU64; KINDS * DOORS],
    checks: [AtomicU64; 2 * DOORS],
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

fn door_index(door: Door) -> usize {
    Door::ALL.iter().position(|d| *d == door).unwrap_or(0)
}

impl Stats {
    pub fn new() -> Self {
        Self {
            events: std::array::from_fn(|_| AtomicU64::new(0)),
            checks: std::array::from_fn(|_| AtomicU64::new(0)),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
        }
    }

    pub fn event(&self, kind: AuditKind, door: Door) {
        let kind = AuditKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.events[kind * DOORS + door_index(door)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn check(&self, door: Door, outcome: CheckOutcome) {
        let outcome = outcome as usize;
        self.checks[outcome * DOORS + door_index(door)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_lookup(&self, hit: bool) {
        let counter = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, cache_entries: u64) -> StatsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut events = Vec::new();
        for (k, kind) in AuditKind::ALL.into_iter().enumerate() {
            for (d, door) in Door::ALL.into_iter().enumerate() {
                events.push((kind, door, read(&self.events[k * DOORS + d])));
            }
        }
        let mut checks = Vec::new();
        for outcome in CheckOutcome::ALL {
            for (d, door) in Door::ALL.into_iter().enumerate() {
                checks.push((
                    door,
                    outcome,
                    read(&self.checks[outcome as usize * DOORS + d]),
                ));
            }
        }
        StatsSnapshot {
            events,
            checks,
            cache_hits: read(&self.cache_hits),
            cache_misses: read(&self.cache_misses),
            cache_entries,
        }
    }
}

/// The counters at one moment (every kind and door, zeros included, so that a monitor sees
/// each series from the start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Audit events recorded since start, by kind and door.
    pub events: Vec<(AuditKind, Door, u64)>,
    /// Token checks answered since start, by the door that asked and how they ended.
    pub checks: Vec<(Door, CheckOutcome, u64)>,
    /// Checks answered from the cache, and checks that had to read the store.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Tokens held in the cache now.
    pub cache_entries: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_and_door_counts_apart() {
        let stats = Stats::new();
        stats.event(AuditKind::LoginFailed, Door::Zabbix);
        stats.event(AuditKind::LoginFailed, Door::Zabbix);
        stats.event(AuditKind::TokenIssued, Door::ForwardAuth);
        stats.check(Door::ArcGis, CheckOutcome::Refused);
        stats.cache_lookup(true);
        let snapshot = stats.snapshot(7);
        let events = |kind, door| {
            snapshot
                .events
                .iter()
                .find(|(k, d, _)| *k == kind && *d == door)
                .unwrap()
                .2
        };
        assert_eq!(events(AuditKind::LoginFailed, Door::Zabbix), 2);
        assert_eq!(events(AuditKind::LoginFailed, Door::OAuth), 0);
        assert_eq!(events(AuditKind::TokenIssued, Door::ForwardAuth), 1);
        assert_eq!(
            snapshot.events.len(),
            AuditKind::ALL.len() * Door::ALL.len()
        );
        let refused: u64 = snapshot
            .checks
            .iter()
            .filter(|(d, o, _)| *d == Door::ArcGis && *o == CheckOutcome::Refused)
            .map(|c| c.2)
            .sum();
        assert_eq!(refused, 1);
        assert_eq!(
            (
                snapshot.cache_hits,
                snapshot.cache_misses,
                snapshot.cache_entries
            ),
            (1, 0, 7)
        );
    }
}
