//! The SQLite store: one file, WAL journal, foreign keys on.

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use tessera_core::store::StoreResult;
use tessera_core::{
    AuditEvent, AuditQuery, Binding, Client, Door, FieldValue, GrantType, NewAuditEvent, NewToken,
    NewUser, Permission, Role, Scope, SearchMode, SecretHash, SortOrder, Store, StoreError, Token,
    TokenChanges, TokenField, TokenQuery, TokenSearch, TokenStatus, User,
};
use time::OffsetDateTime;
use uuid::Uuid;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the SQLite database at `url`.
    pub async fn open(url: &str) -> StoreResult<Self> {
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
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot open the SQLite database {path:?}: {e}"))
            })?;
        MIGRATIONS.run(&pool).await.map_err(|e| {
            StoreError::Unavailable(format!("migrating the SQLite database failed: {e}"))
        })?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
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

fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_millis(ms: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

fn corrupt(what: &str) -> impl FnOnce(tessera_core::CoreError) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

fn hash_from_blob(blob: Vec<u8>) -> StoreResult<SecretHash> {
    let bytes: [u8; 32] = blob
        .try_into()
        .map_err(|_| StoreError::Corrupt("a stored hash is not 32 bytes".into()))?;
    Ok(SecretHash(bytes))
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let permissions = get::<String>(row, "permissions")?
        .split_whitespace()
        .map(Permission::from_str)
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt("user permissions"))?;
    Ok(User {
        id: get(row, "id")?,
        uuid: Uuid::parse_str(&get::<String>(row, "uuid")?)
            .map_err(|e| StoreError::Corrupt(format!("user uuid: {e}")))?,
        username: get(row, "username")?,
        display_name: get(row, "display_name")?,
        role: get::<String>(row, "role")?
            .parse()
            .map_err(corrupt("user role"))?,
        enabled: get(row, "enabled")?,
        permissions,
        totp_enabled: get::<Option<String>>(row, "totp_secret")?.is_some(),
        api_2fa_bypass: get(row, "api_2fa_bypass")?,
        created_at: from_millis(get(row, "created_at")?)?,
    })
}

fn client_from_row(row: &SqliteRow) -> StoreResult<Client> {
    let grants = get::<String>(row, "grants")?
        .split_whitespace()
        .map(GrantType::from_str)
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt("client grants"))?;
    Ok(Client {
        id: get(row, "id")?,
        name: get(row, "name")?,
        secret_hash: hash_from_blob(get(row, "secret_hash")?)?,
        grants,
        scope: Scope::parse(&get::<String>(row, "scope")?).map_err(corrupt("client scope"))?,
        created_at: from_millis(get(row, "created_at")?)?,
    })
}

fn token_from_row(row: &SqliteRow) -> StoreResult<Token> {
    let binding_value: String = get(row, "binding_value")?;
    let binding = match get::<String>(row, "binding_kind")?.as_str() {
        "none" => Binding::None,
        "ip" => Binding::Ip(
            binding_value
                .parse()
                .map_err(|_| StoreError::Corrupt("token binding ip".into()))?,
        ),
        "referer" => Binding::Referer(binding_value),
        other => return Err(StoreError::Corrupt(format!("token binding kind {other:?}"))),
    };
    let optional_time = |column: &str| -> StoreResult<Option<OffsetDateTime>> {
        get::<Option<i64>>(row, column)?
            .map(from_millis)
            .transpose()
    };
    Ok(Token {
        id: get(row, "id")?,
        hash: hash_from_blob(get(row, "hash")?)?,
        kind: get::<String>(row, "kind")?
            .parse()
            .map_err(corrupt("token kind"))?,
        door: get::<String>(row, "door")?
            .parse()
            .map_err(corrupt("token door"))?,
        user_id: get(row, "user_id")?,
        client_id: get(row, "client_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        scope: Scope::parse(&get::<String>(row, "scope")?).map_err(corrupt("token scope"))?,
        status: get::<String>(row, "status")?
            .parse()
            .map_err(corrupt("token status"))?,
        created_at: from_millis(get(row, "created_at")?)?,
        expires_at: optional_time("expires_at")?,
        last_access: optional_time("last_access")?,
        creator_id: get(row, "creator_id")?,
        binding,
        family: get::<Option<String>>(row, "family")?
            .map(|f| {
                Uuid::parse_str(&f).map_err(|e| StoreError::Corrupt(format!("token family: {e}")))
            })
            .transpose()?,
        idle_timeout: get(row, "idle_timeout")?,
    })
}

fn audit_from_row(row: &SqliteRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: get(row, "id")?,
        event: NewAuditEvent {
            at: from_millis(get(row, "at")?)?,
            kind: get::<String>(row, "kind")?
                .parse()
                .map_err(corrupt("audit kind"))?,
            door: get::<String>(row, "door")?
                .parse()
                .map_err(corrupt("audit door"))?,
            actor_user_id: get(row, "actor_user_id")?,
            subject_user_id: get(row, "subject_user_id")?,
            token_id: get(row, "token_id")?,
            client_id: get(row, "client_id")?,
            source_ip: get(row, "source_ip")?,
            detail: get(row, "detail")?,
        },
    })
}

/// The column (or expression) a token field is stored in. Times are milliseconds; a missing
/// one sorts as 0, as Zabbix shows it.
fn sort_expression(field: TokenField) -> &'static str {
    match field {
        TokenField::Id => "id",
        TokenField::Name => "name",
        TokenField::Description => "description",
        TokenField::UserId => "user_id",
        TokenField::LastAccess => "COALESCE(last_access, 0)",
        TokenField::Status => "status",
        TokenField::ExpiresAt => "COALESCE(expires_at, 0)",
        TokenField::CreatedAt => "created_at",
        TokenField::CreatorId => "creator_id",
    }
}

fn column(field: TokenField) -> &'static str {
    match field {
        TokenField::LastAccess => "last_access",
        TokenField::ExpiresAt => "expires_at",
        other => sort_expression(other),
    }
}

/// The WHERE clause of a token search.
fn push_search(sql: &mut QueryBuilder<'_, Sqlite>, search: &TokenSearch) {
    sql.push("1 = 1");
    if let Some(kind) = search.kind {
        sql.push(" AND kind = ").push_bind(kind.as_str());
    }
    if !search.statuses.is_empty() {
        sql.push(" AND status IN (");
        let mut list = sql.separated(", ");
        for status in &search.statuses {
            list.push_bind(status.as_str());
        }
        sql.push(")");
    }
    for (column, ids) in [("id", &search.ids), ("user_id", &search.user_ids)] {
        if let Some(ids) = ids {
            sql.push(format!(" AND {column} IN (NULL"));
            for id in ids {
                sql.push(", ").push_bind(*id);
            }
            sql.push(")");
        }
    }
    if let Some(hash) = &search.hash {
        sql.push(" AND hash = ").push_bind(hash.0.to_vec());
    }
    if let Some(at) = search.valid_at {
        sql.push(" AND (expires_at IS NULL OR expires_at > ")
            .push_bind(millis(at))
            .push(")");
    }
    if let Some(at) = search.expired_at {
        sql.push(" AND expires_at <= ").push_bind(millis(at));
    }
    for (field, values) in &search.filter {
        sql.push(" AND (0 = 1");
        for value in values {
            sql.push(" OR ");
            push_equals(sql, *field, value);
        }
        sql.push(")");
    }
    if !search.search.is_empty() {
        let mode = search.search_mode;
        let joiner = if mode.any_field { " OR " } else { " AND " };
        sql.push(if mode.exclude { " AND NOT (" } else { " AND (" });
        for (i, (field, terms)) in search.search.iter().enumerate() {
            if i > 0 {
                sql.push(joiner);
            }
            sql.push("(0 = 1");
            for term in terms {
                sql.push(format!(" OR LOWER({}) LIKE ", column(*field)))
                    .push_bind(like_pattern(term, mode))
                    .push(" ESCAPE '\\'");
            }
            sql.push(")");
        }
        sql.push(")");
    }
}

/// `field = value`, with times compared by their Unix second and 0 meaning "none".
fn push_equals(sql: &mut QueryBuilder<'_, Sqlite>, field: TokenField, value: &FieldValue) {
    let time = matches!(
        field,
        TokenField::LastAccess | TokenField::ExpiresAt | TokenField::CreatedAt
    );
    match value {
        FieldValue::Integer(0) if time => {
            sql.push(format!("{} IS NULL", column(field)));
        }
        FieldValue::Integer(seconds) if time => {
            let start = seconds.saturating_mul(1000);
            sql.push(format!("({} >= ", column(field)))
                .push_bind(start)
                .push(format!(" AND {} < ", column(field)))
                .push_bind(start.saturating_add(1000))
                .push(")");
        }
        FieldValue::Integer(number) => {
            sql.push(format!("{} = ", column(field))).push_bind(*number);
        }
        FieldValue::Text(text) => {
            sql.push(format!("{} = ", column(field)))
                .push_bind(text.clone());
        }
        FieldValue::Status(status) => {
            sql.push("status = ").push_bind(status.as_str());
        }
    }
}

/// A LIKE pattern for a search term: `%`, `_` and `\` in the term are literal; with wildcards,
/// `*` matches anything and the term must match the whole field; otherwise the term may occur
/// anywhere, or at the start.
fn like_pattern(term: &str, mode: SearchMode) -> String {
    let mut escaped = String::with_capacity(term.len() + 2);
    for c in term.to_lowercase().chars() {
        match c {
            '%' | '_' | '\\' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '*' if mode.wildcards => escaped.push('%'),
            c => escaped.push(c),
        }
    }
    match (mode.wildcards, mode.at_start) {
        (true, _) => escaped,
        (false, true) => format!("{escaped}%"),
        (false, false) => format!("%{escaped}%"),
    }
}

fn join<T: Copy>(items: &[T], as_str: impl Fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|i| as_str(*i))
        .collect::<Vec<_>>()
        .join(" ")
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
        Ok(Some((user_from_row(&row)?, get(&row, "password_hash")?)))
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

    async fn set_api_2fa_bypass(&self, user_id: i64, on: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET api_2fa_bypass = ? WHERE id = ?")
            .bind(on)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_user(&self, user_id: i64, display_name: &str, role: Role) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET display_name = ?, role = ? WHERE id = ?")
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
        let (binding_kind, binding_value) = match &token.binding {
            Binding::None => ("none", String::new()),
            Binding::Ip(ip) => ("ip", ip.to_string()),
            Binding::Referer(referer) => ("referer", referer.clone()),
        };
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
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        token_from_row(&row)
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
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT * FROM tokens WHERE 1 = 1");
        if let Some(user_id) = query.user_id {
            sql.push(" AND user_id = ").push_bind(user_id);
        }
        if let Some(door) = query.door {
            sql.push(" AND door = ").push_bind(door.as_str());
        }
        if let Some(kind) = query.kind {
            sql.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = query.after_id {
            sql.push(" AND id > ").push_bind(after);
        }
        sql.push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(query.limit.max(1)));
        sql.build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn search_tokens(&self, search: &TokenSearch) -> StoreResult<Vec<Token>> {
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT * FROM tokens WHERE ");
        push_search(&mut sql, search);
        sql.push(" ORDER BY ");
        for (field, order) in &search.sort {
            let direction = match order {
                SortOrder::Ascending => "ASC",
                SortOrder::Descending => "DESC",
            };
            sql.push(sort_expression(*field))
                .push(" ")
                .push(direction)
                .push(", ");
        }
        sql.push("id ASC");
        if let Some(limit) = search.limit {
            sql.push(" LIMIT ").push_bind(i64::from(limit));
        }
        sql.build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn count_tokens(&self, search: &TokenSearch) -> StoreResult<u64> {
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM tokens WHERE ");
        push_search(&mut sql, search);
        let count: i64 = sql
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(count as u64)
    }

    async fn update_token(&self, id: i64, changes: &TokenChanges) -> StoreResult<bool> {
        let mut sql = QueryBuilder::<Sqlite>::new("UPDATE tokens SET id = id");
        if let Some(name) = &changes.name {
            sql.push(", name = ").push_bind(name.clone());
        }
        if let Some(description) = &changes.description {
            sql.push(", description = ").push_bind(description.clone());
        }
        if let Some(status) = changes.status {
            sql.push(", status = ").push_bind(status.as_str());
        }
        if let Some(expires_at) = changes.expires_at {
            sql.push(", expires_at = ")
                .push_bind(expires_at.map(millis));
        }
        sql.push(" WHERE id = ").push_bind(id);
        let done = sql.build().execute(&self.pool).await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_token_hash(
        &self,
        id: i64,
        hash: &SecretHash,
    ) -> StoreResult<Option<SecretHash>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let old: Option<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM tokens WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        let Some(old) = old else {
            return Ok(None);
        };
        sqlx::query("UPDATE tokens SET hash = ? WHERE id = ?")
            .bind(hash.0.as_slice())
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
            .map(|row| Ok((get(row, "id")?, hash_from_blob(get(row, "hash")?)?)))
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
        rows.iter()
            .map(|row| Ok((get(row, "id")?, hash_from_blob(get(row, "hash")?)?)))
            .collect()
    }

    async fn revoke_older_door_tokens(
        &self,
        user_id: i64,
        door: Door,
        newer_id: i64,
    ) -> StoreResult<Vec<(i64, SecretHash)>> {
        let rows = sqlx::query(
            "UPDATE tokens SET status = 'revoked'
             WHERE user_id = ? AND door = ? AND id < ? AND status IN ('active', 'disabled')
             RETURNING id, hash",
        )
        .bind(user_id)
        .bind(door.as_str())
        .bind(newer_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| Ok((get(row, "id")?, hash_from_blob(get(row, "hash")?)?)))
            .collect()
    }

    async fn record_last_access(&self, batch: &[(i64, OffsetDateTime)]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for (id, at) in batch {
            sqlx::query(
                "UPDATE tokens SET last_access = MAX(COALESCE(last_access, 0), ?) WHERE id = ?",
            )
            .bind(millis(*at))
            .bind(id)
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

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT * FROM audit_events WHERE 1 = 1");
        if let Some(kind) = query.kind {
            sql.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(door) = query.door {
            sql.push(" AND door = ").push_bind(door.as_str());
        }
        if let Some(user_id) = query.user_id {
            sql.push(" AND (subject_user_id = ")
                .push_bind(user_id)
                .push(" OR actor_user_id = ")
                .push_bind(user_id)
                .push(")");
        }
        if let Some(token_id) = query.token_id {
            sql.push(" AND token_id = ").push_bind(token_id);
        }
        if let Some(since) = query.since {
            sql.push(" AND at >= ").push_bind(millis(since));
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit.max(1)));
        sql.build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(audit_from_row)
            .collect()
    }
}
