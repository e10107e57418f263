//! `last_access` is written in batches: a check only notes the time in memory, and the server
//! flushes the notes every few seconds (and at shutdown), so checks never write to the database.
//!
//! A token in steady use is rewritten at most once per [`REWRITE_AFTER`]: between, its newer
//! times stay noted here, where this node's `token.get` and token checks read them. Tokens that
//! end when idle (sessions with an idle timeout) are written at every flush, so that every node
//! ends them by the same time. On PostgreSQL every rewrite of a row is a new row version and
//! its WAL (when `last_access` was still indexed on `tokens`, before migration 0013, every
//! index of the row as well), and rewriting a thousand busy tokens every five seconds was what
//! made one check in a hundred wait over a millisecond at a million tokens (BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

/// How long a written time stands before a newer one of the same token is written.
pub(crate) const REWRITE_AFTER: Duration = Duration::minutes(1);

/// Times written in one store call, which is one transaction: until it commits, the rows it
/// updated stay locked, and a revocation of one of them waits. The 100,000 times of one flush
/// in one call kept revocations waiting past their 10 s request timeout on PostgreSQL at a
/// million tokens; a slice of this many takes tens of milliseconds (BENCHMARKS.md).
pub(crate) const WRITTEN_TOGETHER: usize = 256;

#[derive(Default)]
pub(crate) struct LastAccessBatch {
    notes: Mutex<Notes>,
}

#[derive(Default)]
struct Notes {
    /// The latest use of each token, and whether it must be written at the next flush.
    pending: HashMap<i64, (OffsetDateTime, Urgency)>,
    /// The time last written for each token, while it is less than `REWRITE_AFTER` old.
    written: HashMap<i64, OffsetDateTime>,
}

/// Whether a noted use may wait for [`REWRITE_AFTER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Urgency {
    /// Written at the next flush (a token that ends when idle).
    Next,
    /// Written once the time written before is `REWRITE_AFTER` old.
    MayWait,
}

impl LastAccessBatch {
    pub fn note(&self, token_id: i64, at: OffsetDateTime, urgency: Urgency) {
        self.lock().pending.insert(token_id, (at, urgency));
    }

    /// The use noted for a token and not written yet, if any.
    pub fn pending(&self, token_id: i64) -> Option<OffsetDateTime> {
        self.lock().pending.get(&token_id).map(|(at, _)| *at)
    }

    /// Every noted time, to be written now.
    pub fn take(&self) -> Vec<(i64, OffsetDateTime)> {
        let mut notes = self.lock();
        let batch: Vec<_> = notes
            .pending
            .drain()
            .map(|(id, (at, _))| (id, at))
            .collect();
        notes.written.extend(batch.iter().copied());
        batch
    }

    /// The noted times that are due at `now`: of tokens not written within `REWRITE_AFTER`.
    /// The others stay noted.
    pub fn take_due(&self, now: OffsetDateTime) -> Vec<(i64, OffsetDateTime)> {
        let mut notes = self.lock();
        let Notes { pending, written } = &mut *notes;
        written.retain(|_, last| now - *last < REWRITE_AFTER);
        let mut batch = Vec::new();
        pending.retain(|id, (at, urgency)| {
            let recent = written
                .get(id)
                .is_some_and(|last| *at - *last < REWRITE_AFTER);
            if recent && *urgency == Urgency::MayWait {
                return true;
            }
            batch.push((*id, *at));
            false
        });
        written.extend(batch.iter().copied());
        batch
    }

    /// Puts back notes that could not be written, unless a newer one arrived meanwhile; they
    /// are due again at once.
    pub fn restore(&self, batch: Vec<(i64, OffsetDateTime)>) {
        let mut notes = self.lock();
        for (id, at) in batch {
            notes.written.remove(&id);
            notes.pending.entry(id).or_insert((at, Urgency::Next));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Notes> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(seconds)
    }

    #[test]
    fn a_busy_token_is_written_once_a_minute_and_shown_meanwhile() {
        let batch = LastAccessBatch::default();
        batch.note(1, at(0), Urgency::MayWait);
        assert_eq!(
            batch.take_due(at(5)),
            [(1, at(0))],
            "the first use is due at once"
        );
        batch.note(1, at(10), Urgency::MayWait);
        assert!(
            batch.take_due(at(15)).is_empty(),
            "written 10 s ago: not yet"
        );
        assert_eq!(batch.pending(1), Some(at(10)), "but still known");
        batch.note(1, at(62), Urgency::MayWait);
        assert_eq!(batch.take_due(at(65)), [(1, at(62))], "a minute on: due");
        assert_eq!(batch.pending(1), None);
    }

    #[test]
    fn a_token_that_ends_when_idle_is_written_at_every_flush() {
        let batch = LastAccessBatch::default();
        batch.note(1, at(0), Urgency::Next);
        assert_eq!(batch.take_due(at(5)).len(), 1);
        batch.note(1, at(6), Urgency::Next);
        assert_eq!(batch.take_due(at(10)), [(1, at(6))]);
    }

    #[test]
    fn take_writes_everything_and_restore_makes_it_due_again() {
        let batch = LastAccessBatch::default();
        batch.note(1, at(0), Urgency::MayWait);
        assert_eq!(batch.take_due(at(1)).len(), 1);
        batch.note(1, at(2), Urgency::MayWait);
        batch.note(2, at(2), Urgency::MayWait);
        let mut all = batch.take();
        all.sort();
        assert_eq!(all, [(1, at(2)), (2, at(2))], "take ignores the minute");
        batch.restore(all);
        assert_eq!(
            batch.take_due(at(3)).len(),
            2,
            "a failed write is retried at once"
        );
        assert!(batch.take_due(at(4)).is_empty());
    }
}
