//! `last_access` is written in batches: a check only notes the time in memory, and the server
//! flushes the notes every few seconds (and at shutdown), so checks never write to the database.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

#[derive(Default)]
pub(crate) struct LastAccessBatch {
    pending: Mutex<HashMap<i64, OffsetDateTime>>,
}

impl LastAccessBatch {
    pub fn note(&self, token_id: i64, at: OffsetDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.insert(token_id, at);
    }

    /// The use noted for a token and not written yet, if any.
    pub fn pending(&self, token_id: i64) -> Option<OffsetDateTime> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.get(&token_id).copied()
    }

    pub fn take(&self) -> Vec<(i64, OffsetDateTime)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.drain().collect()
    }

    /// Puts back notes that could not be written, unless a newer one arrived meanwhile.
    pub fn restore(&self, batch: Vec<(i64, OffsetDateTime)>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for (id, at) in batch {
            pending.entry(id).or_insert(at);
        }
    }
}
