//! Issuing tokens in batches. Every issued token is written with the audit event of its issue
//! in one transaction, and the issues that arrive while a transaction runs go together into
//! the next one: under load a commit serves many tokens, and one token alone waits for nothing
//! but its own transaction. Each caller is answered only once its token is committed.
//!
//! One task writes the batches, so issues never queue for SQLite's single writer lock (where
//! every waiter sleeps in the busy handler) and, on PostgreSQL, share one commit's flush.

use crate::rows::{id_and_hash, stored_token, StoredRow};
use async_trait::async_trait;
use std::collections::HashMap;
use tessera_core::store::StoreResult;
use tessera_core::{NewAuditEvent, NewToken, SecretHash, StoreError, Token};
use tokio::sync::{mpsc, oneshot};

/// Issues written in one transaction at most: far below the bound parameters either database
/// allows in one statement (16 a token).
const MOST_IN_A_BATCH: usize = 256;
/// Issues that may wait for the writer before callers wait to hand theirs over.
const MOST_WAITING: usize = 4096;

/// A token to store, and the audit event of its issue.
pub(crate) struct NewIssue {
    pub token: NewToken,
    pub event: NewAuditEvent,
}

/// What each database does for a batch (its pool implements it).
#[async_trait]
pub(crate) trait WriteIssues: Send + Sync + 'static {
    /// Inserts the tokens and their events in one transaction; answers the tokens in the
    /// order of `issues` (see [`in_order`] and [`events_of`]).
    async fn write_issues(&mut self, issues: &[NewIssue]) -> StoreResult<Vec<Token>>;
}

struct Waiting {
    issue: NewIssue,
    answer: oneshot::Sender<StoreResult<Token>>,
}

/// Hands issued tokens to the task that writes them.
#[derive(Clone)]
pub(crate) struct Issuer {
    waiting: mpsc::Sender<Waiting>,
}

impl Issuer {
    /// Starts the writing task on the current Tokio runtime. It ends when the last clone of
    /// this issuer is dropped (so does [`start_on_own_thread`](Self::start_on_own_thread)'s
    /// thread).
    pub fn start(writer: impl WriteIssues) -> Self {
        let (waiting, queue) = mpsc::channel(MOST_WAITING);
        tokio::spawn(write_batches(writer, queue));
        Self { waiting }
    }

    /// Like [`start`](Self::start), but the writing task runs alone on a thread of its own.
    /// SQLite's writes are done on the connection's own thread (sqlx's), and the writer task
    /// waits for each; on a runtime busy with requests, each of those waits ended only when a
    /// worker next looked at its queue, and every issue waits for the one writer (about 6 %
    /// more client_credentials grants a second on its own thread, BENCHMARKS.md).
    pub fn start_on_own_thread(writer: impl WriteIssues) -> StoreResult<Self> {
        let cannot = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot start the thread that writes tokens: {e}"))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(cannot)?;
        let (waiting, queue) = mpsc::channel(MOST_WAITING);
        std::thread::Builder::new()
            .name("tessera-issuer".into())
            .spawn(move || runtime.block_on(write_batches(writer, queue)))
            .map_err(cannot)?;
        Ok(Self { waiting })
    }

    /// Stores a token and its audit event (whose `token_id` becomes the new token's id).
    pub async fn issue(&self, token: &NewToken, event: &NewAuditEvent) -> StoreResult<Token> {
        let (answer, answered) = oneshot::channel();
        let issue = NewIssue {
            token: token.clone(),
            event: event.clone(),
        };
        self.waiting
            .send(Waiting { issue, answer })
            .await
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

async fn write_batches(mut writer: impl WriteIssues, mut queue: mpsc::Receiver<Waiting>) {
    let mut batch = Vec::with_capacity(MOST_IN_A_BATCH);
    while queue.recv_many(&mut batch, MOST_IN_A_BATCH).await > 0 {
        let (issues, answers): (Vec<NewIssue>, Vec<_>) = batch
            .drain(..)
            .map(|waiting| (waiting.issue, waiting.answer))
            .unzip();
        let started = std::time::Instant::now();
        let written = writer.write_issues(&issues).await;
        tracing::trace!(issues = issues.len(), took = ?started.elapsed(), "wrote issued tokens");
        match written {
            Ok(tokens) => {
                for (answer, token) in answers.into_iter().zip(tokens) {
                    let _ = answer.send(Ok(token));
                }
            }
            Err(error) if issues.len() == 1 => {
                if let Some(answer) = answers.into_iter().next() {
                    let _ = answer.send(Err(error));
                }
            }
            // One bad issue (its user deleted meanwhile) must not fail the others: each is
            // tried again on its own and gets its own answer.
            Err(_) => {
                for (issue, answer) in issues.iter().zip(answers) {
                    let written = writer.write_issues(std::slice::from_ref(issue)).await;
                    let _ = answer.send(written.map(|mut tokens| tokens.remove(0)));
                }
            }
        }
    }
}

/// The tokens stored for `issues`, in their order, from the `(id, hash)` rows `INSERT …
/// RETURNING id, hash` gave back: RETURNING promises no order, and the hashes say which id is
/// whose.
pub(crate) fn in_order(issues: &[NewIssue], rows: &[impl StoredRow]) -> StoreResult<Vec<Token>> {
    let mut ids: HashMap<SecretHash, i64> = HashMap::with_capacity(rows.len());
    for row in rows {
        let (id, hash) = id_and_hash(row)?;
        ids.insert(hash, id);
    }
    issues
        .iter()
        .map(|issue| {
            let id = ids
                .remove(&issue.token.hash)
                .ok_or_else(|| StoreError::Corrupt("an inserted token was not returned".into()))?;
            stored_token(&issue.token, id)
        })
        .collect()
}

/// The issues' audit events, each naming its token.
pub(crate) fn events_of<'a>(
    issues: &'a [NewIssue],
    tokens: &'a [Token],
) -> impl Iterator<Item = NewAuditEvent> + 'a {
    issues
        .iter()
        .zip(tokens)
        .map(|(issue, token)| NewAuditEvent {
            token_id: Some(token.id),
            ..issue.event.clone()
        })
}

/// The audit events of a sole door token: its issue, then each token it replaced.
pub(crate) fn sole_token_events<'a>(
    token: &'a Token,
    issued: &'a NewAuditEvent,
    revoked: &'a [(i64, SecretHash)],
    revoked_event: &'a (dyn Fn(i64, i64) -> NewAuditEvent + Send + Sync),
) -> impl Iterator<Item = NewAuditEvent> + 'a {
    let issued = NewAuditEvent {
        token_id: Some(token.id),
        ..issued.clone()
    };
    std::iter::once(issued).chain(revoked.iter().map(|(id, _)| revoked_event(*id, token.id)))
}
