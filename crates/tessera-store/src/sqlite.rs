//! The SQLite store: one file, WAL journal, foreign keys on.

use crate::checkpoints::Checkpoints;
use crate::issuing::{sole_token_events, Issuer, NewIssue, WriteIssues};
use crate::migrations;
use crate::queries;
use crate::rows::{
    audit_from_row, binding_columns, client_from_row, hash_from_blob, id_and_hash, join, millis,
    stored_token, token_from_row, user_from_row, StoredRow as _,
};
use crate::text_search::{self, MOST_CANDIDATES};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use tessera_core::store::StoreResult;
use tessera_core::{
    AuditEvent, AuditQuery, Client, FailedSignIns, GrantType, NewAuditEvent, NewToken, NewUser,
    Permission, Role, SecretHash, Store, StoreError, Token, TokenChanges, TokenQuery, TokenSearch,
    TokenStatus, User,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// Tokens whose `last_access` one statement writes (three bound values each).
const LAST_ACCESS_IN_A_STATEMENT: usize = 256;

/// token.get's order by last use is an index of `tokens` (migration 0010).
const LAST_USE_INDEX: queries::LastUseIndex = queries::LastUseIndex::OnTokens;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    issuer: Issuer,
}

impl SqliteStore {
    /// The only API tokens a text search can match, from the trigram table, when there are
    /// few enough to read by id (see `text_search`).
    async fn text_candidates(&self, search: &TokenSearch) -> StoreResult<Option<Vec<i64>>> {
        let Some(narrowing) = text_search::narrowing(search) else {
            return Ok(None);
        };
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT rowid FROM tokens_text WHERE tokens_text MATCH ? LIMIT ?")
                .bind(narrowing.fts5_query())
                .bind(MOST_CANDIDATES as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok((ids.len() <= MOST_CANDIDATES).then_some(ids))
    }

    /// Opens (creating if needed) and migrates the SQLite database at `url`.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::migrate(url).await?;
        let pool = connect(url).await?;
        // The planner needs statistics to prefer the per-user index over (kind, status) for
        // one user's tokens; without them such a search reads every token (measured in
        // BENCHMARKS.md). A bounded optimize at start keeps them close; connections also
        // optimize when they close.
        for pragma in ["PRAGMA analysis_limit = 1000", "PRAGMA optimize = 0x10002"] {
            sqlx::query(pragma).execute(&pool).await.map_err(|e| {
                StoreError::Unavailable(format!("optimizing the SQLite database failed: {e}"))
            })?;
        }
        let writer = IssueWriter {
            connection: connect_issuer(url).await?,
            checkpoints: Checkpoints::start(pool.clone()),
        };
        Ok(Self {
            issuer: Issuer::start_on_own_thread(writer)?,
            pool,
        })
    }

    /// Opens (creating if needed) the SQLite database at `url` and applies the migrations it
    /// lacks; returns their descriptions.
    pub async fn migrate(url: &str) -> StoreResult<Vec<String>> {
        let mut connection = connect_for_migrations(url).await?;
        let applied = migrations::apply(&MIGRATIONS, &mut connection).await;
        let _ = connection.close().await;
        applied.map_err(migration_failed)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The connection issued tokens are written on (see `issuing`): one of its own, so its page
/// cache stays warm. A connection from the pool would find its cache stale after another's
/// write and read every page again.
///
/// Its slow statements are logged at debug level only: a batch is one statement of up to 256
/// rows of placeholders, and one that waits out the busy timeout is reported as the error it
/// ends in anyway.
async fn connect_issuer(url: &str) -> StoreResult<SqliteConnection> {
    let (options, path) = options(url)?;
    let options = options.log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| cannot_open(path, e))
}

/// The connection migrations run on (see `migrations`), closed before the pool opens: it
/// optimizes the database as it closes.
async fn connect_for_migrations(url: &str) -> StoreResult<SqliteConnection> {
    let (options, path) = options(url)?;
    SqliteConnection::connect_with(&migrations::quiet_slow_statements(options))
        .await
        .map_err(|e| cannot_open(path, e))
}

async fn connect(url: &str) -> StoreResult<SqlitePool> {
    pool(url, SqlitePoolOptions::new().max_connections(8)).await
}

fn options(url: &str) -> StoreResult<(SqliteConnectOptions, &str)> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .map_err(|e| StoreError::Unavailable(format!("invalid SQLite database URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .optimize_on_close(true, Some(1000))
        // A connection copies the WAL back itself only at 40 MB instead of 4 MB: issued tokens
        // are copied back beside the issuer (see `checkpoints`), and this is the safety net
        // for when those checkpoints cannot keep up (measured in BENCHMARKS.md).
        .pragma("wal_autocheckpoint", "10000");
    Ok((options, path))
}

async fn pool(url: &str, pool: SqlitePoolOptions) -> StoreResult<SqlitePool> {
    let (options, path) = options(url)?;
    pool.acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| cannot_open(path, e))
}

fn cannot_open(path: &str, error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot open the SQLite database {path:?}: {error}"))
}

fn migration_failed(error: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Unavailable(format!("migrating the SQLite database failed: {error}"))
}

fn unavailable(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(unique_subject(db.message()))
        }
        _ => StoreError::Unavailable(format!("database error: {error}")),
    }
}

/// Names what a unique violation was about, from SQLite's message ("UNIQUE constraint failed:
/// users.username").
fn unique_subject(message: &str) -> String {
    if message.contains("users.username") {
        "a user with this name".into()
    } else if message.contains("clients.id") {
        "a client with this id".into()
    } else {
        "a record with this key".into()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn count_super_admins(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'super_admin' AND enabled = 1",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(count as u64)
    }

    async fn insert_user(&self, user: &NewUser) -> StoreResult<User> {
        let row = sqlx::query(
            "INSERT INTO users (uuid, username, display_name, role, enabled, permissions, password_hash, created_at)
             VALUES (?, ?, ?, ?, 1, ?, ?, ?) RETURNING *",
        )
        .bind(user.uuid.to_string())
        .bind(user.username.as_str())
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(join(&user.permissions, Permission::as_str))
        .bind(&user.password_hash)
        .bind(millis(user.created_at))
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        user_from_row(&row)
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let Some(row) = sqlx::query("SELECT * FROM users WHERE username = ? COLLATE NOCASE")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        Ok(Some((user_from_row(&row)?, row.text("password_hash")?)))
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        sqlx::query("SELECT * FROM users ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn set_password_hash(&self, user_id: i64, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_user_enabled(&self, user_id: i64, enabled: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET enabled = ? WHERE id = ?")
            .bind(enabled)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_totp_secret(&self, user_id: i64, secret: Option<&str>) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE users SET totp_secret = ?, totp_last_step = NULL WHERE id = ?")
                .bind(secret)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn totp_secret(&self, user_id: i64) -> StoreResult<Option<String>> {
        let secret: Option<Option<String>> =
            sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(secret.flatten())
    }

    async fn consume_totp_step(&self, user_id: i64, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = ?
             WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        )
        .bind(step)
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn swap_failed_sign_ins(
        &self,
        user_id: i64,
        expected: &FailedSignIns,
        new: &FailedSignIns,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET failed_sign_ins = ?, last_failed_sign_in_at = ?,
                              last_failed_sign_in_ip = ?
             WHERE id = ? AND failed_sign_ins = ? AND last_failed_sign_in_at IS ?",
        )
        .bind(i64::from(new.count))
        .bind(new.last_at.map(millis))
        .bind(&new.last_ip)
        .bind(user_id)
        .bind(i64::from(expected.count))
        .bind(expected.last_at.map(millis))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn clear_failed_sign_ins(&self, user_id: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET failed_sign_ins = 0 WHERE id = ?")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_api_2fa_bypass(&self, user_id: i64, on: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET api_2fa_bypass = ? WHERE id = ?")
            .bind(on)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_user(
        &self,
        user_id: i64,
        username: &str,
        display_name: &str,
        role: Role,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE users SET username = ?, display_name = ?, role = ? WHERE id = ?")
                .bind(username)
                .bind(display_name)
                .bind(role.as_str())
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user(&self, user_id: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, grants, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(client.secret_hash.0.as_slice())
        .bind(join(&client.grants, GrantType::as_str))
        .bind(client.scope.to_string())
        .bind(millis(client.created_at))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn client_by_id(&self, id: &str) -> StoreResult<Option<Client>> {
        sqlx::query("SELECT * FROM clients WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        sqlx::query("SELECT * FROM clients ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(client_from_row)
            .collect()
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_token(&self, token: &NewToken) -> StoreResult<Token> {
        insert_token(&self.pool, token).await
    }

    async fn insert_issued_token(
        &self,
        token: &NewToken,
        event: &NewAuditEvent,
    ) -> StoreResult<Token> {
        self.issuer.issue(token, event).await
    }

    async fn insert_sole_door_token(
        &self,
        token: &NewToken,
        issued: &NewAuditEvent,
        revoked_event: &(dyn Fn(i64, i64) -> NewAuditEvent + Send + Sync),
    ) -> StoreResult<(Token, Vec<(i64, SecretHash)>)> {
        // SQLite lets one writer at a time in; this transaction waits to be it (see `write`).
        let mut tx = write(&self.pool).await?;
        let inserted = insert_token(&mut *tx, token).await?;
        let rows = sqlx::query(
            "UPDATE tokens SET status = 'revoked'
             WHERE user_id = ? AND door = ? AND id < ? AND status IN ('active', 'disabled')
             RETURNING id, hash",
        )
        .bind(inserted.user_id)
        .bind(inserted.door.as_str())
        .bind(inserted.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let mut revoked: Vec<(i64, SecretHash)> =
            rows.iter().map(id_and_hash).collect::<StoreResult<_>>()?;
        // RETURNING follows whichever index the planner chose; callers get id order.
        revoked.sort_by_key(|(id, _)| *id);
        let events = sole_token_events(&inserted, issued, &revoked, revoked_event);
        queries::insert_audit_events::<Sqlite>(events)
            .build()
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok((inserted, revoked))
    }

    async fn token_by_hash(&self, hash: &SecretHash) -> StoreResult<Option<Token>> {
        sqlx::query("SELECT * FROM tokens WHERE hash = ?")
            .bind(hash.0.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    async fn token_by_id(&self, id: i64) -> StoreResult<Option<Token>> {
        sqlx::query("SELECT * FROM tokens WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    async fn list_tokens(&self, query: &TokenQuery) -> StoreResult<Vec<Token>> {
        queries::list_tokens::<Sqlite>(query)
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn search_tokens(&self, search: &TokenSearch) -> StoreResult<Vec<Token>> {
        let candidates = self.text_candidates(search).await?;
        queries::search_tokens::<Sqlite>(search, candidates.as_deref(), LAST_USE_INDEX)
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn count_tokens(&self, search: &TokenSearch) -> StoreResult<u64> {
        let candidates = self.text_candidates(search).await?;
        let count: i64 =
            queries::count_tokens::<Sqlite>(search, candidates.as_deref(), LAST_USE_INDEX)
                .build_query_scalar()
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(count as u64)
    }

    async fn update_token(&self, id: i64, changes: &TokenChanges) -> StoreResult<bool> {
        let done = queries::update_token::<Sqlite>(id, changes)
            .build()
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_token_hash(
        &self,
        id: i64,
        hash: &SecretHash,
        creator_id: i64,
    ) -> StoreResult<Option<SecretHash>> {
        let mut tx = write(&self.pool).await?;
        let old: Option<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM tokens WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        let Some(old) = old else {
            return Ok(None);
        };
        sqlx::query("UPDATE tokens SET hash = ?, creator_id = ? WHERE id = ?")
            .bind(hash.0.as_slice())
            .bind(creator_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Some(hash_from_blob(old)?))
    }

    async fn delete_tokens(&self, ids: &[i64]) -> StoreResult<Vec<(i64, SecretHash)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Sqlite>::new("DELETE FROM tokens WHERE id IN (");
        let mut list = sql.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        sql.push(") RETURNING id, hash");
        sql.build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(id_and_hash)
            .collect()
    }

    async fn transition_token(
        &self,
        id: i64,
        from: TokenStatus,
        to: TokenStatus,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tokens SET status = ? WHERE id = ? AND status = ?")
            .bind(to.as_str())
            .bind(id)
            .bind(from.as_str())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_family(&self, family: Uuid) -> StoreResult<Vec<(i64, SecretHash)>> {
        let rows = sqlx::query(
            "UPDATE tokens SET status = 'revoked'
             WHERE family = ? AND status <> 'revoked' RETURNING id, hash",
        )
        .bind(family.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(id_and_hash).collect()
    }

    async fn record_last_access(&self, batch: &[(i64, OffsetDateTime)]) -> StoreResult<()> {
        // A token twice in the batch takes its latest time; a time never moves back.
        let mut latest: BTreeMap<i64, i64> = BTreeMap::new();
        for (id, at) in batch {
            let at = millis(*at);
            latest
                .entry(*id)
                .and_modify(|t| *t = at.max(*t))
                .or_insert(at);
        }
        if latest.is_empty() {
            return Ok(());
        }
        let latest: Vec<(i64, i64)> = latest.into_iter().collect();
        let mut tx = write(&self.pool).await?;
        // A statement a part, not one a token: each statement is a round trip to the
        // connection's thread, all made while this holds the write lock that revocations and
        // issues wait for (after 100,000 checks, a revocation waited 0.6-0.9 s for the flush;
        // 0.1-0.2 s with this, BENCHMARKS.md).
        for part in latest.chunks(LAST_ACCESS_IN_A_STATEMENT) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "UPDATE tokens SET last_access = MAX(COALESCE(last_access, 0), CASE id",
            );
            for (id, at) in part {
                sql.push(" WHEN ")
                    .push_bind(*id)
                    .push(" THEN ")
                    .push_bind(*at);
            }
            // By rowid: whatever the statistics say, each token is found by its id.
            sql.push(" END) WHERE id IN (");
            let mut ids = sql.separated(", ");
            for (id, _) in part {
                ids.push_bind(*id);
            }
            sql.push(")");
            // Not kept prepared: the text differs with the number of tokens.
            sql.build()
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn behavior_setting(&self, name: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM behavior_settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn set_behavior_setting(
        &self,
        name: &str,
        value: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let query = match value {
            Some(value) => sqlx::query(
                "INSERT INTO behavior_settings (name, value, updated_at) VALUES (?, ?, ?)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(millis(at)),
            None => sqlx::query("DELETE FROM behavior_settings WHERE name = ?").bind(name),
        };
        query.execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }

    async fn insert_audit(&self, event: &NewAuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, kind, door, actor_user_id, subject_user_id, token_id, client_id, source_ip, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(millis(event.at))
        .bind(event.kind.as_str())
        .bind(event.door.as_str())
        .bind(event.actor_user_id)
        .bind(event.subject_user_id)
        .bind(event.token_id)
        .bind(&event.client_id)
        .bind(&event.source_ip)
        .bind(&event.detail)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn prune_audit(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64> {
        // In bounded batches, so that pruning a year of events never holds the table long.
        let done = sqlx::query(
            "DELETE FROM audit_events WHERE id IN
                 (SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)",
        )
        .bind(millis(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        queries::list_audit::<Sqlite>(query)
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(audit_from_row)
            .collect()
    }
}

async fn insert_token<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    token: &NewToken,
) -> StoreResult<Token> {
    let (binding_kind, binding_value) = binding_columns(&token.binding);
    let row = sqlx::query(
        "INSERT INTO tokens (hash, kind, door, user_id, client_id, name, description, scope, status,
                             created_at, expires_at, creator_id, binding_kind, binding_value, family,
                             idle_timeout)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?) RETURNING *",
    )
    .bind(token.hash.0.as_slice())
    .bind(token.kind.as_str())
    .bind(token.door.as_str())
    .bind(token.user_id)
    .bind(&token.client_id)
    .bind(&token.name)
    .bind(&token.description)
    .bind(token.scope.to_string())
    .bind(millis(token.created_at))
    .bind(token.expires_at.map(millis))
    .bind(token.creator_id)
    .bind(binding_kind)
    .bind(binding_value)
    .bind(token.family.map(|f| f.to_string()))
    .bind(token.idle_timeout)
    .fetch_one(executor)
    .await
    .map_err(unavailable)?;
    token_from_row(&row)
}

/// A transaction that writes, begun as the writer (`BEGIN IMMEDIATE`). One begun as a reader
/// (plain `BEGIN`) that writes later cannot wait for the lock if another connection wrote in
/// the meantime: SQLite fails it at once with "database is locked". The FTS5 triggers on
/// `tokens` (migration 0009) read before the first insert writes, so every insert would be such
/// a reader first.
///
/// The begin runs as a task of its own, which finishes even when the caller gives up (a client
/// that hangs up cancels its request). sqlx 0.8 checks the connection with one more await after
/// a custom `BEGIN` has run: cancelled there, it returned the connection to the pool inside the
/// transaction, with no way to end it, and SQLite's write lock was held for good ("database is
/// locked" for every later write; `tests/store.rs`, writes given up midway). A transaction that
/// nobody waits for any more is dropped with the task's result, and rolled back.
async fn write(pool: &SqlitePool) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await })
        .await
        .map_err(|e| StoreError::Unavailable(format!("beginning a write failed: {e}")))?
        .map_err(unavailable)
}

/// The issuer's connection, and the checkpoints that copy what it writes back (see
/// `checkpoints`).
struct IssueWriter {
    connection: SqliteConnection,
    checkpoints: Checkpoints,
}

#[async_trait]
impl WriteIssues for IssueWriter {
    /// The whole batch is one command to the connection's thread: its transaction, the tokens,
    /// their events (which find their tokens' ids by hash), the new ids as one row, and the
    /// commit. Each command is a round trip between two threads, and on busy cores each
    /// wake-up waits for a time slice: as four commands (begin, tokens, events, commit), a
    /// batch of 30 issues took 1.5 ms in the median, of which 0.3–0.5 ms only to begin; as
    /// one, 1.0 ms (BENCHMARKS.md). The ids come back as one row, not a row a token (`INSERT …
    /// RETURNING`): sqlx hands each row over from the connection's thread on its own, and the
    /// writer woke for most of them.
    async fn write_issues(&mut self, issues: &[NewIssue]) -> StoreResult<Vec<Token>> {
        let mut sql = QueryBuilder::new("BEGIN IMMEDIATE; ");
        queries::push_insert_tokens(&mut sql, issues.iter().map(|issue| &issue.token));
        sql.push("; ");
        push_issue_events(&mut sql, issues);
        sql.push("; ");
        push_ids_in_order(&mut sql, issues);
        sql.push("; COMMIT");
        // fetch_all, not fetch_one: sqlx stops a command at the row fetch_one wants, before
        // its COMMIT.
        let written: Result<Vec<Option<String>>, _> = sql
            .build_query_scalar()
            .fetch_all(&mut self.connection)
            .await;
        match written {
            Ok(rows) => {
                self.checkpoints.written(issues.len());
                let ids = rows.into_iter().next().flatten().unwrap_or_default();
                tokens_with_ids(issues, &ids)
            }
            Err(error) => {
                // A statement after the BEGIN failed: the transaction is still open.
                if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut self.connection).await {
                    tracing::debug!(error = %rollback, "rolling back a failed batch of issues");
                }
                Err(unavailable(error))
            }
        }
    }
}

/// Pushes a `SELECT` of one row: the ids of the issues' tokens, found by hash, in the order of
/// `issues`, separated by commas. CROSS JOIN for the reason `push_issue_events` gives.
fn push_ids_in_order(sql: &mut QueryBuilder<'static, Sqlite>, issues: &[NewIssue]) {
    sql.push("SELECT group_concat(t.id, ',' ORDER BY e.column1) FROM (");
    sql.push_values(issues.iter().enumerate(), |mut values, (place, issue)| {
        values
            .push(place.to_string())
            .push_bind(issue.token.hash.0.to_vec());
    });
    sql.push(") AS e CROSS JOIN tokens AS t ON t.hash = e.column2");
}

/// The stored tokens of `issues`, given their ids in the same order (see `push_ids_in_order`).
fn tokens_with_ids(issues: &[NewIssue], ids: &str) -> StoreResult<Vec<Token>> {
    let ids = ids
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<i64>()
                .map_err(|e| StoreError::Corrupt(format!("an inserted token's id: {e}")))
        })
        .collect::<StoreResult<Vec<i64>>>()?;
    if ids.len() != issues.len() {
        return Err(StoreError::Corrupt(format!(
            "{} tokens inserted, {} found again",
            issues.len(),
            ids.len()
        )));
    }
    issues
        .iter()
        .zip(ids)
        .map(|(issue, id)| stored_token(&issue.token, id))
        .collect()
}

/// Pushes `INSERT INTO audit_events` of the issues' events onto `sql`, each naming the id of
/// the token with its issue's hash.
fn push_issue_events(sql: &mut QueryBuilder<'static, Sqlite>, issues: &[NewIssue]) {
    sql.push(
        "INSERT INTO audit_events (at, kind, door, actor_user_id, subject_user_id, token_id, \
         client_id, source_ip, detail) \
         SELECT e.column1, e.column2, e.column3, e.column4, e.column5, t.id, e.column6, \
         e.column7, e.column8 FROM (",
    );
    sql.push_values(issues, |mut values, issue| {
        let event = &issue.event;
        values
            .push_bind(millis(event.at))
            .push_bind(event.kind.as_str())
            .push_bind(event.door.as_str())
            .push_bind(event.actor_user_id)
            .push_bind(event.subject_user_id)
            .push_bind(event.client_id.clone())
            .push_bind(event.source_ip.clone())
            .push_bind(event.detail.clone())
            .push_bind(issue.token.hash.0.to_vec());
    });
    // CROSS JOIN keeps the events the outer loop, each finding its token by the unique index on
    // hash. With statistics from when `tokens` was nearly empty (a restart of a new server
    // runs ANALYZE on it), the planner put `tokens` outside: every batch read every token, and
    // issuing 100,000 tokens took 51 s instead of 5 (BENCHMARKS.md).
    sql.push(") AS e CROSS JOIN tokens AS t ON t.hash = e.column9");
}
