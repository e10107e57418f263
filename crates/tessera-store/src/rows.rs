//! Reading stored rows back into the domain, the same way for every database: both stores keep
//! the same columns with the same values (times as Unix milliseconds, hashes as 32 bytes, lists
//! as space-separated names), so only the row type differs.

use sqlx::{ColumnIndex, Decode, Row, Type};
use std::str::FromStr;
use tessera_core::store::StoreResult;
use tessera_core::{
    AuditEvent, Binding, Client, CoreError, FailedSignIns, GrantType, NewAuditEvent, NewToken,
    Permission, Scope, SecretHash, StoreError, Token, TokenStatus, User,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// The column types tessera stores, read from any database's row. A column that does not
/// decode is a corrupt record, not an unavailable database.
pub(crate) trait StoredRow {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn optional_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn integer(&self, column: &str) -> StoreResult<i64>;
    fn optional_integer(&self, column: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
}

fn get<'r, R, T>(row: &'r R, column: &str) -> StoreResult<T>
where
    R: Row,
    T: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

impl<R> StoredRow for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> StoreResult<String> {
        get(self, column)
    }

    fn optional_text(&self, column: &str) -> StoreResult<Option<String>> {
        get(self, column)
    }

    fn integer(&self, column: &str) -> StoreResult<i64> {
        get(self, column)
    }

    fn optional_integer(&self, column: &str) -> StoreResult<Option<i64>> {
        get(self, column)
    }

    fn flag(&self, column: &str) -> StoreResult<bool> {
        get(self, column)
    }

    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        get(self, column)
    }
}

pub(crate) fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_millis(ms: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

fn corrupt(what: &str) -> impl FnOnce(CoreError) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn hash_from_blob(blob: Vec<u8>) -> StoreResult<SecretHash> {
    let bytes: [u8; 32] = blob
        .try_into()
        .map_err(|_| StoreError::Corrupt("a stored hash is not 32 bytes".into()))?;
    Ok(SecretHash(bytes))
}

/// Names joined by spaces, as permissions and grants are stored.
pub(crate) fn join<T: Copy>(items: &[T], as_str: impl Fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|i| as_str(*i))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `(id, hash)` pairs that deletes and revocations return, for the caches to forget.
pub(crate) fn id_and_hash(row: &impl StoredRow) -> StoreResult<(i64, SecretHash)> {
    Ok((row.integer("id")?, hash_from_blob(row.bytes("hash")?)?))
}

pub(crate) fn user_from_row(row: &impl StoredRow) -> StoreResult<User> {
    let permissions = row
        .text("permissions")?
        .split_whitespace()
        .map(Permission::from_str)
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt("user permissions"))?;
    Ok(User {
        id: row.integer("id")?,
        uuid: Uuid::parse_str(&row.text("uuid")?)
            .map_err(|e| StoreError::Corrupt(format!("user uuid: {e}")))?,
        username: row.text("username")?,
        display_name: row.text("display_name")?,
        role: row.text("role")?.parse().map_err(corrupt("user role"))?,
        enabled: row.flag("enabled")?,
        permissions,
        totp_enabled: row.optional_text("totp_secret")?.is_some(),
        api_2fa_bypass: row.flag("api_2fa_bypass")?,
        failed_sign_ins: FailedSignIns {
            count: u32::try_from(row.integer("failed_sign_ins")?)
                .map_err(|e| StoreError::Corrupt(format!("user failed_sign_ins: {e}")))?,
            last_at: row
                .optional_integer("last_failed_sign_in_at")?
                .map(from_millis)
                .transpose()?,
            last_ip: row.text("last_failed_sign_in_ip")?,
        },
        created_at: from_millis(row.integer("created_at")?)?,
    })
}

pub(crate) fn client_from_row(row: &impl StoredRow) -> StoreResult<Client> {
    let grants = row
        .text("grants")?
        .split_whitespace()
        .map(GrantType::from_str)
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt("client grants"))?;
    Ok(Client {
        id: row.text("id")?,
        name: row.text("name")?,
        secret_hash: hash_from_blob(row.bytes("secret_hash")?)?,
        grants,
        scope: Scope::parse(&row.text("scope")?).map_err(corrupt("client scope"))?,
        created_at: from_millis(row.integer("created_at")?)?,
    })
}

/// The token an insert stored under `id`: what was asked for, active and never used, with its
/// times at the millisecond the tables keep.
pub(crate) fn stored_token(new: &NewToken, id: i64) -> StoreResult<Token> {
    let as_stored = |at: OffsetDateTime| from_millis(millis(at));
    Ok(Token {
        id,
        hash: new.hash,
        kind: new.kind,
        door: new.door,
        user_id: new.user_id,
        client_id: new.client_id.clone(),
        name: new.name.clone(),
        description: new.description.clone(),
        scope: new.scope.clone(),
        status: TokenStatus::Active,
        created_at: as_stored(new.created_at)?,
        expires_at: new.expires_at.map(as_stored).transpose()?,
        last_access: None,
        creator_id: new.creator_id,
        binding: new.binding.clone(),
        family: new.family,
        idle_timeout: new.idle_timeout,
    })
}

pub(crate) fn token_from_row(row: &impl StoredRow) -> StoreResult<Token> {
    let binding_value = row.text("binding_value")?;
    let binding = match row.text("binding_kind")?.as_str() {
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
        row.optional_integer(column)?.map(from_millis).transpose()
    };
    Ok(Token {
        id: row.integer("id")?,
        hash: hash_from_blob(row.bytes("hash")?)?,
        kind: row.text("kind")?.parse().map_err(corrupt("token kind"))?,
        door: row.text("door")?.parse().map_err(corrupt("token door"))?,
        user_id: row.optional_integer("user_id")?,
        client_id: row.optional_text("client_id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        scope: Scope::parse(&row.text("scope")?).map_err(corrupt("token scope"))?,
        status: row
            .text("status")?
            .parse()
            .map_err(corrupt("token status"))?,
        created_at: from_millis(row.integer("created_at")?)?,
        expires_at: optional_time("expires_at")?,
        last_access: optional_time("last_access")?,
        creator_id: row.optional_integer("creator_id")?,
        binding,
        family: row
            .optional_text("family")?
            .map(|f| {
                Uuid::parse_str(&f).map_err(|e| StoreError::Corrupt(format!("token family: {e}")))
            })
            .transpose()?,
        idle_timeout: row.optional_integer("idle_timeout")?,
    })
}

/// How a token's binding is stored: a kind and a value.
pub(crate) fn binding_columns(binding: &Binding) -> (&'static str, String) {
    match binding {
        Binding::None => ("none", String::new()),
        Binding::Ip(ip) => ("ip", ip.to_string()),
        Binding::Referer(referer) => ("referer", referer.clone()),
    }
}

pub(crate) fn audit_from_row(row: &impl StoredRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: row.integer("id")?,
        event: NewAuditEvent {
            at: from_millis(row.integer("at")?)?,
            kind: row.text("kind")?.parse().map_err(corrupt("audit kind"))?,
            door: row.text("door")?.parse().map_err(corrupt("audit door"))?,
            actor_user_id: row.optional_integer("actor_user_id")?,
            subject_user_id: row.optional_integer("subject_user_id")?,
            token_id: row.optional_integer("token_id")?,
            client_id: row.optional_text("client_id")?,
            source_ip: row.optional_text("source_ip")?,
            detail: row.text("detail")?,
        },
    })
}
