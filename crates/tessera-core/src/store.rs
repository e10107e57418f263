//! The storage port. The core says what it needs kept; `tessera-store` implements it on SQLite
//! (and later PostgreSQL), and one test suite checks every implementation.

use crate::audit::{AuditEvent, AuditQuery, NewAuditEvent};
use crate::client::Client;
use crate::lockout::FailedSignIns;
use crate::secret::SecretHash;
use crate::token::{NewToken, Token, TokenChanges, TokenQuery, TokenStatus};
use crate::token_search::TokenSearch;
use crate::user::{NewUser, Role, User};
use async_trait::async_trait;
use std::sync::Arc;
use thiserror::Error;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique key is taken (a user name, a client id).
    #[error("{0} already exists")]
    Conflict(String),
    /// The database cannot be reached or answered with an error; the message is for logs and
    /// never holds a secret.
    #[error("{0}")]
    Unavailable(String),
    /// A stored row could not be read back into the domain (a bug or a hand-edited database).
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A change another process made to what token checks depend on, as a shared database
/// announces it: the caches of every node forget what it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// The token with this hash changed or went away.
    Token(SecretHash),
    /// The user with this id changed or went away.
    User(i64),
    /// The client with this id changed or went away.
    Client(String),
    /// Anything may have changed: too many rows at once, or announcements were missed while
    /// the connection that receives them was down.
    Unknown,
}

/// Where a store delivers the changes it hears of. It answers whether it still wants them:
/// `false` ends the watch.
pub type ChangeSink = Arc<dyn Fn(StoreChange) -> bool + Send + Sync>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers whether the database is reachable.
    async fn ping(&self) -> StoreResult<()>;

    /// Starts delivering to `sink` the changes other processes make to tokens and users, for
    /// as long as the sink wants them, reconnecting by itself. A store whose database has no
    /// way to announce changes (SQLite) does nothing: caches then rely on their lifetime.
    fn watch_changes(&self, sink: ChangeSink) {
        let _ = sink;
    }

    /// How many enabled super admins exist (bootstrap, and the last one cannot be deleted).
    async fn count_super_admins(&self) -> StoreResult<u64>;
    async fn insert_user(&self, user: &NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    /// The user and their password hash, by name ignoring ASCII case.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_password_hash(&self, user_id: i64, hash: &str) -> StoreResult<bool>;
    async fn set_user_enabled(&self, user_id: i64, enabled: bool) -> StoreResult<bool>;
    /// Changes a user's name, display name and role; answers whether the user exists. A name
    /// another user has (ignoring case) is a `Conflict`.
    async fn update_user(
        &self,
        user_id: i64,
        username: &str,
        display_name: &str,
        role: Role,
    ) -> StoreResult<bool>;
    /// Sets or clears a user's TOTP secret; a new secret starts with no step used.
    async fn set_totp_secret(&self, user_id: i64, secret: Option<&str>) -> StoreResult<bool>;
    async fn totp_secret(&self, user_id: i64) -> StoreResult<Option<String>>;
    /// Records that a TOTP step was used, only if it is later than the last one used; answers
    /// whether it was (a code is never accepted twice, even by two nodes at once).
    async fn consume_totp_step(&self, user_id: i64, step: i64) -> StoreResult<bool>;
    async fn set_api_2fa_bypass(&self, user_id: i64, on: bool) -> StoreResult<bool>;
    /// Replaces a user's failed sign-ins with `new`, only if they are still `expected` (count
    /// and time); answers whether they were. This compare-and-set lets the core count an
    /// attempt and apply its lockout policy in one step, however many arrive at once.
    async fn swap_failed_sign_ins(
        &self,
        user_id: i64,
        expected: &FailedSignIns,
        new: &FailedSignIns,
    ) -> StoreResult<bool>;
    /// Sets a user's failed sign-ins back to none (a success, or an admin's unlock), keeping
    /// when and where the last one came from; answers whether the user exists.
    async fn clear_failed_sign_ins(&self, user_id: i64) -> StoreResult<bool>;
    /// Deletes the user and every token they hold.
    async fn delete_user(&self, user_id: i64) -> StoreResult<bool>;

    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    async fn client_by_id(&self, id: &str) -> StoreResult<Option<Client>>;
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    /// Deletes the client and every token issued to it.
    async fn delete_client(&self, id: &str) -> StoreResult<bool>;

    async fn insert_token(&self, token: &NewToken) -> StoreResult<Token>;
    /// Inserts a token and the audit event of its issue in one transaction, so that no token is
    /// stored without its event; the event's `token_id` becomes the new token's id. A store may
    /// write the issues of concurrent callers together; each call returns once its own token is
    /// committed.
    async fn insert_issued_token(
        &self,
        token: &NewToken,
        event: &NewAuditEvent,
    ) -> StoreResult<Token>;
    async fn token_by_hash(&self, hash: &SecretHash) -> StoreResult<Option<Token>>;
    async fn token_by_id(&self, id: i64) -> StoreResult<Option<Token>>;
    /// Tokens matching the query, by ascending id.
    async fn list_tokens(&self, query: &TokenQuery) -> StoreResult<Vec<Token>>;
    /// Moves a token from `from` to `to` only if it is in `from`; answers whether it moved.
    /// This compare-and-set is what makes refresh rotation safe under concurrent use.
    async fn transition_token(
        &self,
        id: i64,
        from: TokenStatus,
        to: TokenStatus,
    ) -> StoreResult<bool>;
    /// Tokens matching a search, sorted and limited as it says.
    async fn search_tokens(&self, search: &TokenSearch) -> StoreResult<Vec<Token>>;
    /// How many tokens match a search (its limit is ignored).
    async fn count_tokens(&self, search: &TokenSearch) -> StoreResult<u64>;
    /// Applies changes to a token; answers whether it exists.
    async fn update_token(&self, id: i64, changes: &TokenChanges) -> StoreResult<bool>;
    /// Gives a token a new secret; returns the old hash, for the caches to forget.
    /// `creator_id` becomes the token's creator: whoever made the secret, as in Zabbix.
    async fn replace_token_hash(
        &self,
        id: i64,
        hash: &SecretHash,
        creator_id: i64,
    ) -> StoreResult<Option<SecretHash>>;
    /// Deletes tokens; returns the ids and hashes deleted.
    async fn delete_tokens(&self, ids: &[i64]) -> StoreResult<Vec<(i64, SecretHash)>>;
    /// Revokes every token of a family that is not revoked yet (rotated ones included);
    /// returns the ids and hashes revoked.
    async fn revoke_family(&self, family: Uuid) -> StoreResult<Vec<(i64, SecretHash)>>;
    /// Inserts a user's token and, in the same transaction, revokes every active or disabled
    /// token the user got through the same door before it, and writes the audit events:
    /// `issued` (its `token_id` becomes the new token's id) and, for each token revoked,
    /// `revoked(revoked_id, new_id)`. Returns the new token and the ids and hashes revoked, in
    /// id order. Sign-ins of one user take their turn (the user's row is locked), so however
    /// many run at once on however many nodes, the last one's token alone survives.
    async fn insert_sole_door_token(
        &self,
        token: &NewToken,
        issued: &NewAuditEvent,
        revoked: &(dyn Fn(i64, i64) -> NewAuditEvent + Send + Sync),
    ) -> StoreResult<(Token, Vec<(i64, SecretHash)>)>;
    /// Records when tokens were last used, in one batch.
    async fn record_last_access(&self, batch: &[(i64, OffsetDateTime)]) -> StoreResult<()>;

    async fn behavior_setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Sets a behaviour setting, or removes it with `None`.
    async fn set_behavior_setting(
        &self,
        name: &str,
        value: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn insert_audit(&self, event: &NewAuditEvent) -> StoreResult<()>;
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>>;
    /// Deletes at most `limit` audit events from before `before`, oldest first; answers how
    /// many went (fewer than `limit`: none older is left).
    async fn prune_audit(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64>;
}
