//! The PostgreSQL store: the same tables and values as the SQLite store, so that one test suite
//! holds both to the same behaviour, and several tessera nodes can share one database.
//!
//! The pool waits at most five seconds for a connection, so a request fails (and `/readyz`
//! says so) rather than hanging while PostgreSQL is down. Messages name the server and the
//! database, never the password the URL may hold.

use crate::announcements;
use crate::issuing::{events_of, in_order, sole_token_events, Issuer, NewIssue, WriteIssues};
use crate::migrations;
use crate::queries;
use crate::rows::{
    audit_from_row, binding_columns, client_from_row, hash_from_blob, id_and_hash, join, millis,
    token_from_row, user_from_row, StoredRow as _,
};
use crate::text_search::{self, Narrowing, MOST_CANDIDATES, WINDOW};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection as _, PgPool, Postgres, QueryBuilder};
use std::str::FromStr;
use std::time::Duration;
use tessera_core::store::StoreResult;
use tessera_core::{
    AuditEvent, AuditQuery, ChangeSink, Client, FailedSignIns, GrantType, NewAuditEvent, NewToken,
    NewUser, Permission, Role, SecretHash, Store, StoreError, Token, TokenChanges, TokenQuery,
    TokenSearch, TokenStatus, User,
};
use time::OffsetDateTime;
use uuid::Uuid;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// token.get's order by last use is kept apart from `tokens` (migration 0013).
const LAST_USE_INDEX: queries::LastUseIndex = queries::LastUseIndex::ApiTokenUses;

/// How long a query waits for a free connection, or for a new one to be opened.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    issuer: Issuer,
    /// Whether migration 0009 could build the trigram index of token names (it needs pg_trgm).
    trigrams: bool,
}

impl PgStore {
    /// Connects to the PostgreSQL database at `url` (which must exist) and migrates it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::migrate(url).await?;
        let pool = pool(connect_options(url)?).await?;
        let trigrams: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'tokens_name_trigrams')",
        )
        .fetch_one(&pool)
        .await
        .map_err(unavailable)?;
        if !trigrams {
            tracing::warn!("no trigram index of token names (pg_trgm is missing): token.get searches by name read every token");
        }
        Ok(Self {
            issuer: Issuer::start(pool.clone()),
            pool,
            trigrams,
        })
    }

    /// Connects to the PostgreSQL database at `url` and applies the migrations it lacks;
    /// returns their descriptions.
    pub async fn migrate(url: &str) -> StoreResult<Vec<String>> {
        let options = migrations::quiet_slow_statements(connect_options(url)?);
        let mut connection = connect_one(&options).await?;
        let applied = migrations::apply(&MIGRATIONS, &mut connection).await;
        let _ = connection.close().await;
        applied.map_err(migration_failed)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn narrowing(&self, search: &TokenSearch) -> Option<Narrowing> {
        self.trigrams
            .then(|| text_search::narrowing(search))
            .flatten()
    }

    /// The only API tokens a text search can match, from the trigram index, when there are
    /// few enough to read by id (see `text_search`). The index is asked for the search's rare
    /// words only, when the newest names show that some of its words are common; if that
    /// finds too many after all, it is asked for the whole pieces.
    async fn trigram_candidates(&self, narrowing: &Narrowing) -> StoreResult<Option<Vec<i64>>> {
        let rare = narrowing.without_common(&self.common_words(narrowing).await?);
        if rare != *narrowing {
            if let Some(ids) = self.probe_trigrams(&rare).await? {
                return Ok(Some(ids));
            }
        }
        self.probe_trigrams(narrowing).await
    }

    /// The words of a narrowing that many of the newest API tokens' names contain. With one
    /// word there is nothing to leave out, and no sample is read.
    async fn common_words(&self, narrowing: &Narrowing) -> StoreResult<Vec<String>> {
        let words = narrowing.words();
        if words.len() < 2 {
            return Ok(Vec::new());
        }
        let counts: Vec<i64> = words_in_newest_names(QueryBuilder::new(""), &words)
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(words
            .into_iter()
            .zip(counts.into_iter().skip(1))
            .filter(|(_, count)| *count >= text_search::COMMON_IN_SAMPLE as i64)
            .map(|(word, _)| word)
            .collect())
    }

    /// What the trigram index answers for a narrowing, when it is few enough. Only bitmap
    /// scans are allowed to plan it: the planner's guess of how many names contain a term is
    /// often far off, and with a limit it then walks the whole table in id order instead (0.3
    /// s at a million).
    async fn probe_trigrams(&self, narrowing: &Narrowing) -> StoreResult<Option<Vec<i64>>> {
        let mut probe = queries::trigram_candidates::<Postgres>(narrowing, MOST_CANDIDATES + 1);
        // One round trip: the settings go with the BEGIN, as one simple query.
        let mut tx = self
            .pool
            .begin_with(
                "BEGIN READ ONLY; SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off",
            )
            .await
            .map_err(unavailable)?;
        let ids: Vec<i64> = probe
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok((ids.len() <= MOST_CANDIDATES).then_some(ids))
    }
}

fn connect_options(url: &str) -> StoreResult<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL database URL: {e}")))?
        .application_name("tessera")
        // Notices ("relation _sqlx_migrations already exists, skipping" on every start) are
        // not worth a log line; warnings and errors still come.
        .options([("client_min_messages", "warning")]))
}

fn cannot_connect(options: &PgConnectOptions, reason: String) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot connect to the PostgreSQL database {}: {reason}",
        describe(options)
    ))
}

/// One connection outside any pool; a failure says why (refused, no such database,
/// authentication failed) where a pool would only say that it timed out. The store's first
/// connection is one: the one its migrations run on.
async fn connect_one(options: &PgConnectOptions) -> StoreResult<PgConnection> {
    match tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(cannot_connect(options, e.to_string())),
        Err(_) => Err(cannot_connect(
            options,
            format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs()),
        )),
    }
}

async fn pool(options: PgConnectOptions) -> StoreResult<PgPool> {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|e| cannot_connect(&options, e.to_string()))
}

/// `user@host:port/database`: where the store connects, without the password.
fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    )
}

fn migration_failed(error: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Unavailable(format!("migrating the PostgreSQL database failed: {error}"))
}

/// A database error for the core. PostgreSQL's message never holds the row's values (those
/// are in its detail, which is not shown), so it is safe to log.
fn unavailable(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(unique_subject(db.constraint()))
        }
        _ => StoreError::Unavailable(format!("database error: {error}")),
    }
}

/// Names what a unique violation was about, from the constraint or index that refused it.
fn unique_subject(constraint: Option<&str>) -> String {
    match constraint {
        Some("users_username") => "a user with this name".into(),
        Some("clients_pkey") => "a client with this id".into(),
        _ => "a record with this key".into(),
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn watch_changes(&self, sink: ChangeSink) {
        tokio::spawn(announcements::follow(self.pool.clone(), sink));
    }

    async fn count_super_admins(&self) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'super_admin' AND enabled")
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(count as u64)
    }

    async fn insert_user(&self, user: &NewUser) -> StoreResult<User> {
        let row = sqlx::query(
            "INSERT INTO users (uuid, username, display_name, role, enabled, permissions, password_hash, created_at)
             VALUES ($1, $2, $3, $4, TRUE, $5, $6, $7) RETURNING *",
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
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        // The name given is folded in the "C" collation too, ASCII only, like the column and
        // its unique index (and SQLite's NOCASE); the server's locale would fold more.
        let Some(row) = sqlx::query(
            r#"SELECT * FROM users WHERE lower(username) = lower(CAST($1 AS TEXT) COLLATE "C")"#,
        )
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
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_user_enabled(&self, user_id: i64, enabled: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET enabled = $1 WHERE id = $2")
            .bind(enabled)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_totp_secret(&self, user_id: i64, secret: Option<&str>) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = NULL WHERE id = $2")
                .bind(secret)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn totp_secret(&self, user_id: i64) -> StoreResult<Option<String>> {
        let secret: Option<Option<String>> =
            sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(secret.flatten())
    }

    async fn consume_totp_step(&self, user_id: i64, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
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
            "UPDATE users SET failed_sign_ins = $1, last_failed_sign_in_at = $2,
                              last_failed_sign_in_ip = $3
             WHERE id = $4 AND failed_sign_ins = $5
               AND last_failed_sign_in_at IS NOT DISTINCT FROM $6",
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
        let done = sqlx::query("UPDATE users SET failed_sign_ins = 0 WHERE id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_api_2fa_bypass(&self, user_id: i64, on: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET api_2fa_bypass = $1 WHERE id = $2")
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
        let done = sqlx::query(
            "UPDATE users SET username = $1, display_name = $2, role = $3 WHERE id = $4",
        )
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
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, grants, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
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
        sqlx::query("SELECT * FROM clients WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        // COLLATE "C": the order SQLite's BINARY gives, whatever the server's locale.
        sqlx::query(r#"SELECT * FROM clients ORDER BY id COLLATE "C""#)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(client_from_row)
            .collect()
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE id = $1")
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
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // One sign-in per user at a time: a second one waits here until this one commits,
        // then takes a later id and sees (and revokes) this token.
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(token.user_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let inserted = insert_token(&mut *tx, token).await?;
        let rows = sqlx::query(
            "UPDATE tokens SET status = 'revoked'
             WHERE user_id = $1 AND door = $2 AND id < $3 AND status IN ('active', 'disabled')
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
        queries::insert_audit_events::<Postgres>(events)
            .build()
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok((inserted, revoked))
    }

    async fn token_by_hash(&self, hash: &SecretHash) -> StoreResult<Option<Token>> {
        sqlx::query("SELECT * FROM tokens WHERE hash = $1")
            .bind(hash.0.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    async fn token_by_id(&self, id: i64) -> StoreResult<Option<Token>> {
        sqlx::query("SELECT * FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    async fn list_tokens(&self, query: &TokenQuery) -> StoreResult<Vec<Token>> {
        queries::list_tokens::<Postgres>(query)
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn search_tokens(&self, search: &TokenSearch) -> StoreResult<Vec<Token>> {
        let mut candidates = None;
        if let Some(narrowing) = self.narrowing(search) {
            // A common term: its first matches are among the first tokens in the order asked
            // for, which the ordinary plan reads first. The trigram index would gather every
            // match of it before the limit applied (17 ms for 125,000 at a million).
            if let Some(limit) = search.limit {
                let found =
                    queries::search_tokens_in_window::<Postgres>(search, WINDOW, LAST_USE_INDEX)
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(unavailable)?;
                if found.len() >= limit as usize {
                    return found.iter().map(token_from_row).collect();
                }
            }
            candidates = self.trigram_candidates(&narrowing).await?;
        }
        queries::search_tokens::<Postgres>(search, candidates.as_deref(), LAST_USE_INDEX)
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn count_tokens(&self, search: &TokenSearch) -> StoreResult<u64> {
        let candidates = match self.narrowing(search) {
            Some(narrowing) => self.trigram_candidates(&narrowing).await?,
            None => None,
        };
        let count: i64 =
            queries::count_tokens::<Postgres>(search, candidates.as_deref(), LAST_USE_INDEX)
                .build_query_scalar()
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(count as u64)
    }

    async fn update_token(&self, id: i64, changes: &TokenChanges) -> StoreResult<bool> {
        let done = queries::update_token::<Postgres>(id, changes)
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
        // FOR UPDATE: two replacements at once must not both report the same old hash.
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let old: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM tokens WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?;
        let Some(old) = old else {
            return Ok(None);
        };
        sqlx::query("UPDATE tokens SET hash = $1, creator_id = $2 WHERE id = $3")
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
        // One array parameter rather than one per id: PostgreSQL takes at most 65535.
        sqlx::query("DELETE FROM tokens WHERE id = ANY($1) RETURNING id, hash")
            .bind(ids)
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
        let done = sqlx::query("UPDATE tokens SET status = $1 WHERE id = $2 AND status = $3")
            .bind(to.as_str())
            .bind(id)
            .bind(from.as_str())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_family(&self, family: Uuid) -> StoreResult<Vec<(i64, SecretHash)>> {
        sqlx::query(
            "UPDATE tokens SET status = 'revoked'
             WHERE family = $1 AND status <> 'revoked' RETURNING id, hash",
        )
        .bind(family.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .iter()
        .map(id_and_hash)
        .collect()
    }

    async fn record_last_access(&self, batch: &[(i64, OffsetDateTime)]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // The whole batch in one statement, a round trip to the server rather than one per
        // token; a token twice in the batch takes its latest time, and a time never moves back.
        let (ids, times): (Vec<i64>, Vec<i64>) =
            batch.iter().map(|(id, at)| (*id, millis(*at))).unzip();
        sqlx::query(
            "UPDATE tokens SET last_access = GREATEST(COALESCE(tokens.last_access, 0), used.at)
             FROM (SELECT id, MAX(at) AS at FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS b (id, at)
                   GROUP BY id) AS used
             WHERE tokens.id = used.id",
        )
        .bind(ids)
        .bind(times)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn behavior_setting(&self, name: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM behavior_settings WHERE name = $1")
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
                "INSERT INTO behavior_settings (name, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(millis(at)),
            None => sqlx::query("DELETE FROM behavior_settings WHERE name = $1").bind(name),
        };
        query.execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }

    async fn insert_audit(&self, event: &NewAuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, kind, door, actor_user_id, subject_user_id, token_id, client_id, source_ip, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
                 (SELECT id FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(millis(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        queries::list_audit::<Postgres>(query)
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
    executor: impl sqlx::PgExecutor<'e>,
    token: &NewToken,
) -> StoreResult<Token> {
    let (binding_kind, binding_value) = binding_columns(&token.binding);
    let row = sqlx::query(
        "INSERT INTO tokens (hash, kind, door, user_id, client_id, name, description, scope, status,
                             created_at, expires_at, creator_id, binding_kind, binding_value, family,
                             idle_timeout)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, $12, $13, $14, $15)
         RETURNING *",
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

#[async_trait]
impl WriteIssues for PgPool {
    async fn write_issues(&mut self, issues: &[NewIssue]) -> StoreResult<Vec<Token>> {
        let mut tx = self.begin().await.map_err(unavailable)?;
        let rows = queries::insert_tokens::<Postgres>(issues.iter().map(|issue| &issue.token))
            // The rest of each row is what was inserted (`rows::stored_token`): decoding whole
            // rows back cost the batch writer more than the inserts' own indexes.
            .push(" RETURNING id, hash")
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
        let tokens = in_order(issues, &rows)?;
        queries::insert_audit_events::<Postgres>(events_of(issues, &tokens))
            .build()
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(tokens)
    }
}

/// Pushes onto `sql` a `SELECT` of one array: 0, then for each of `words` how many of the
/// newest API tokens' names contain it (`text_search::SAMPLE` of them).
fn words_in_newest_names<'a>(
    mut sql: QueryBuilder<'a, Postgres>,
    words: &[String],
) -> QueryBuilder<'a, Postgres> {
    sql.push("SELECT ARRAY[0");
    for word in words {
        sql.push(", COUNT(*) FILTER (WHERE LOWER(name) LIKE ")
            .push_bind(format!("%{word}%"))
            .push(")");
    }
    // By creation time, not id: only the index on (kind, created_at) holds API tokens alone.
    // In id order PostgreSQL walked the primary key back through every session token issued
    // since the newest API token (10,000 of them: 7-10 ms, BENCHMARKS.md).
    sql.push("] FROM (SELECT name FROM tokens WHERE kind = 'api' ORDER BY created_at DESC LIMIT ")
        .push_bind(text_search::SAMPLE as i64)
        .push(") AS sample");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::{test_server, ScratchDatabase, ScratchError};

    /// A store on a database of its own, dropped with the `ScratchDatabase`; none when no
    /// PostgreSQL server is reachable and none is required.
    async fn scratch_store(prefix: &str) -> Option<(ScratchDatabase, PgStore)> {
        let server = test_server();
        let database = match ScratchDatabase::create(&server.url, prefix).await {
            Ok(database) => database,
            Err(ScratchError::Unreachable { .. }) if !server.required => {
                eprintln!("skipping: no PostgreSQL server at {}", server.url);
                return None;
            }
            Err(error) => panic!("{error}"),
        };
        let store = PgStore::open(database.url()).await.unwrap();
        Some((database, store))
    }

    /// The sample of names a search reads walks the API tokens alone, however many session
    /// tokens were issued after the newest of them.
    #[tokio::test]
    async fn the_names_sample_reads_api_tokens_only() {
        let Some((_database, store)) = scratch_store("tessera_plan").await else {
            return;
        };
        // 20,000 API tokens, then 5,000 session tokens: newer, and later in id order.
        sqlx::raw_sql(
            "INSERT INTO tokens (hash, kind, door, name, status, created_at)
                 SELECT sha256(int8send(n)), CASE WHEN n <= 20000 THEN 'api' ELSE 'session' END,
                        'zabbix', 'name ' || n, 'active', n
                 FROM generate_series(1, 25000) AS n;
             ANALYZE tokens;",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let words = vec!["name".to_owned(), "1".to_owned()];
        let explain = QueryBuilder::new("EXPLAIN ANALYZE ");
        let plan: Vec<String> = words_in_newest_names(explain, &words)
            .build_query_scalar()
            .fetch_all(&store.pool)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("using tokens_kind_created on tokens"),
            "{plan}"
        );
        assert!(!plan.contains("tokens_pkey"), "{plan}");
        store.pool.close().await;
    }

    /// A write of tokens' last use is a heap-only update of `tokens` (no new entry in any of
    /// its indexes, migration 0013) for session and API tokens alike, and token.get's order
    /// of API tokens by last use follows it.
    #[tokio::test]
    async fn a_last_use_is_written_without_touching_the_indexes_of_tokens() {
        let Some((_database, store)) = scratch_store("tessera_hot").await else {
            return;
        };
        sqlx::raw_sql(
            "INSERT INTO tokens (hash, kind, door, name, status, created_at)
                 SELECT sha256(int8send(n)), CASE WHEN n % 2 = 0 THEN 'api' ELSE 'session' END,
                        'zabbix', 'name ' || n, 'active', n
                 FROM generate_series(1, 1000) AS n",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        // One token in 25 (every other one an API token), as tokens checked in a while are
        // spread over the table: a page has room for a few new versions at a time (its free
        // tenth, fillfactor). In one transaction, whose own counts pg_stat_get_xact_* reads
        // at once.
        let mut transaction = store.pool.begin().await.unwrap();
        let written = sqlx::query(
            "UPDATE tokens SET last_access = GREATEST(COALESCE(last_access, 0), 1000 + id)
              WHERE id % 25 = 0",
        )
        .execute(&mut *transaction)
        .await
        .unwrap();
        assert_eq!(written.rows_affected(), 40);
        let (updated, heap_only): (i64, i64) = sqlx::query_as(
            "SELECT pg_stat_get_xact_tuples_updated('tokens'::regclass),
                    pg_stat_get_xact_tuples_hot_updated('tokens'::regclass)",
        )
        .fetch_one(&mut *transaction)
        .await
        .unwrap();
        assert_eq!((updated, heap_only), (40, 40));
        let order: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT token_id, last_access FROM api_token_uses
              ORDER BY last_access DESC NULLS LAST LIMIT 2",
        )
        .fetch_all(&mut *transaction)
        .await
        .unwrap();
        assert_eq!(order, [(1000, 2000), (950, 1950)]);
        transaction.commit().await.unwrap();
        store.pool.close().await;
    }
}
