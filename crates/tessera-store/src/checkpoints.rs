//! Copying SQLite's WAL back into the database file beside the issuer, not in its way.
//!
//! The connection that commits issued tokens (see `issuing`) would copy the WAL back itself
//! once it holds `wal_autocheckpoint` pages, inside the commit of a batch: every issue waiting
//! for the next batch waited for the copy and its fsync too (the p99 of client_credentials
//! grants under load was 28 ms). Instead the issuer kicks a task after every
//! [`KICK_EVERY_TOKENS`] tokens, which runs a passive checkpoint on a pool connection (its own
//! thread) while the issuer goes on writing. The issuer's own checkpoint stays on: under steady
//! load new pages arrive while a checkpoint runs, so the WAL still grows to the issuer's
//! threshold, but that checkpoint then copies only the pages of the last few batches, and the
//! WAL starts again from its beginning.

use sqlx::SqlitePool;
use tokio::sync::mpsc;

/// Tokens written between two checkpoints: about 2,000 WAL pages (half a page a token with its
/// event, in `tests/store.rs`), well below the issuer's `wal_autocheckpoint` (10,000 pages).
pub(crate) const KICK_EVERY_TOKENS: usize = 4096;

/// The issuer's side: counts the tokens written and kicks the checkpointing task.
pub(crate) struct Checkpoints {
    kick: mpsc::Sender<()>,
    written_since_kick: usize,
}

impl Checkpoints {
    /// Starts the checkpointing task on the current Tokio runtime. It ends when this value is
    /// dropped (with the issuer's connection).
    pub fn start(pool: SqlitePool) -> Self {
        // One kick may wait while a checkpoint runs; more would only repeat it.
        let (kick, kicks) = mpsc::channel(1);
        tokio::spawn(checkpoint_when_kicked(pool, kicks));
        Self {
            kick,
            written_since_kick: 0,
        }
    }

    /// Counts `tokens` more committed tokens, and kicks a checkpoint after enough of them.
    pub fn written(&mut self, tokens: usize) {
        self.written_since_kick += tokens;
        if self.written_since_kick >= KICK_EVERY_TOKENS {
            self.written_since_kick = 0;
            // Full: a checkpoint is already due, and it will copy these pages too.
            let _ = self.kick.try_send(());
        }
    }
}

async fn checkpoint_when_kicked(pool: SqlitePool, mut kicks: mpsc::Receiver<()>) {
    while kicks.recv().await.is_some() {
        // PASSIVE copies what no reader still needs and never waits for a lock; what it leaves
        // is copied by a later one (or by the issuer's own checkpoint).
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::debug!(%error, "checkpointing the SQLite WAL");
        }
    }
}
