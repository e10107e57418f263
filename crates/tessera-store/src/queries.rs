//! The queries built at run time from a request — token searches (Zabbix's `token.get`), token
//! and audit lists, partial token updates — written once for every database: they use only SQL
//! that SQLite and PostgreSQL read alike, and the query builder writes each database's own
//! placeholders. Every value is bound, never spliced into the text (token kinds, a fixed set of
//! words, are written out where partial indexes need them).

use crate::rows::{binding_columns, millis};
use crate::text_search::Narrowing;
use sqlx::{Database, Encode, QueryBuilder, Type};
use tessera_core::{
    AuditQuery, FieldValue, NewAuditEvent, NewToken, SearchMode, SortOrder, TokenChanges,
    TokenField, TokenKind, TokenQuery, TokenSearch,
};

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

/// Where a store keeps the index of API tokens by last use that `token.get` sorts by.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastUseIndex {
    /// On `tokens.last_access` (SQLite, whose UPDATE writes only the indexes of the columns
    /// it changes).
    OnTokens,
    /// On `api_token_uses`, kept in step with `tokens` by triggers (PostgreSQL, migration
    /// 0013: a column in any index of `tokens` would make every write of a last use a new
    /// entry in all of them).
    ApiTokenUses,
}

/// The table a token search reads and the column it finds last use in.
struct Source {
    from: &'static str,
    last_access: &'static str,
}

impl Source {
    const TOKENS: Source = Source {
        from: "tokens",
        last_access: "last_access",
    };

    /// Joins `api_token_uses` where its index serves the search: API tokens (it holds no
    /// others), sorted or filtered by last use.
    fn of(search: &TokenSearch, index: LastUseIndex) -> Source {
        let fields = (search.sort.iter().map(|(field, _)| field))
            .chain(search.filter.iter().map(|(field, _)| field))
            .chain(search.search.iter().map(|(field, _)| field));
        let reads_last_use = fields.into_iter().any(|f| *f == TokenField::LastAccess);
        if index == LastUseIndex::ApiTokenUses
            && search.kind == Some(TokenKind::Api)
            && reads_last_use
        {
            Source {
                from: "tokens JOIN api_token_uses AS uses ON uses.token_id = tokens.id",
                last_access: "uses.last_access",
            }
        } else {
            Source::TOKENS
        }
    }

    fn column(&self, field: TokenField) -> &'static str {
        match field {
            TokenField::LastAccess => self.last_access,
            TokenField::ExpiresAt => "expires_at",
            other => sort_expression(other),
        }
    }
}

/// Whether a field is stored as text; the others are integers (ids, Unix milliseconds).
fn stored_as_text(field: TokenField) -> bool {
    field.is_text() || field == TokenField::Status
}

fn is_time(field: TokenField) -> bool {
    matches!(
        field,
        TokenField::LastAccess | TokenField::ExpiresAt | TokenField::CreatedAt
    )
}

/// `INSERT INTO tokens` of new, active tokens.
pub(crate) fn insert_tokens<'t, DB>(
    tokens: impl IntoIterator<Item = &'t NewToken>,
) -> QueryBuilder<'static, DB>
where
    DB: Database,
    for<'a> <DB as Database>::Arguments<'a>: Default,
    i64: Encode<'static, DB> + Type<DB>,
    Option<i64>: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Option<String>: Encode<'static, DB> + Type<DB>,
    Vec<u8>: Encode<'static, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new("");
    push_insert_tokens(&mut sql, tokens);
    sql
}

/// Pushes `INSERT INTO tokens` of new, active tokens onto `sql`.
pub(crate) fn push_insert_tokens<'t, DB>(
    sql: &mut QueryBuilder<'static, DB>,
    tokens: impl IntoIterator<Item = &'t NewToken>,
) where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    Option<i64>: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Option<String>: Encode<'static, DB> + Type<DB>,
    Vec<u8>: Encode<'static, DB> + Type<DB>,
{
    sql.push(
        "INSERT INTO tokens (hash, kind, door, user_id, client_id, name, description, scope, \
         status, created_at, expires_at, creator_id, binding_kind, binding_value, family, \
         idle_timeout) ",
    );
    sql.push_values(tokens, |mut values, token| {
        let (binding_kind, binding_value) = binding_columns(&token.binding);
        values
            .push_bind(token.hash.0.to_vec())
            .push_bind(token.kind.as_str().to_owned())
            .push_bind(token.door.as_str().to_owned())
            .push_bind(token.user_id)
            .push_bind(token.client_id.clone())
            .push_bind(token.name.clone())
            .push_bind(token.description.clone())
            .push_bind(token.scope.to_string())
            .push_bind("active".to_owned())
            .push_bind(millis(token.created_at))
            .push_bind(token.expires_at.map(millis))
            .push_bind(token.creator_id)
            .push_bind(binding_kind.to_owned())
            .push_bind(binding_value)
            .push_bind(token.family.map(|f| f.to_string()))
            .push_bind(token.idle_timeout);
    });
}

/// `INSERT INTO audit_events` of new events.
pub(crate) fn insert_audit_events<DB>(
    events: impl IntoIterator<Item = NewAuditEvent>,
) -> QueryBuilder<'static, DB>
where
    DB: Database,
    for<'a> <DB as Database>::Arguments<'a>: Default,
    i64: Encode<'static, DB> + Type<DB>,
    Option<i64>: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Option<String>: Encode<'static, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new(
        "INSERT INTO audit_events (at, kind, door, actor_user_id, subject_user_id, token_id, \
         client_id, source_ip, detail) ",
    );
    sql.push_values(events, |mut values, event| {
        values
            .push_bind(millis(event.at))
            .push_bind(event.kind.as_str().to_owned())
            .push_bind(event.door.as_str().to_owned())
            .push_bind(event.actor_user_id)
            .push_bind(event.subject_user_id)
            .push_bind(event.token_id)
            .push_bind(event.client_id)
            .push_bind(event.source_ip)
            .push_bind(event.detail);
    });
    sql
}

/// `SELECT tokens.*` matching a search, sorted and limited as it says. `candidates`, from a
/// trigram index (`text_search`), are the only ids that can match, when known.
pub(crate) fn search_tokens<DB>(
    search: &TokenSearch,
    candidates: Option<&[i64]>,
    index: LastUseIndex,
) -> QueryBuilder<'static, DB>
where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Vec<u8>: Encode<'static, DB> + Type<DB>,
{
    let source = Source::of(search, index);
    let mut sql = QueryBuilder::new(format!("SELECT tokens.* FROM {} WHERE ", source.from));
    push_search(&mut sql, search, candidates, &source);
    sql.push(order_by(search, &source));
    if let Some(limit) = search.limit {
        sql.push(" LIMIT ").push_bind(i64::from(limit));
    }
    sql
}

/// `SELECT COUNT(*)` of the tokens matching a search (its limit is ignored); `candidates` as
/// for [`search_tokens`].
pub(crate) fn count_tokens<DB>(
    search: &TokenSearch,
    candidates: Option<&[i64]>,
    index: LastUseIndex,
) -> QueryBuilder<'static, DB>
where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Vec<u8>: Encode<'static, DB> + Type<DB>,
{
    let source = Source::of(search, index);
    let mut sql = QueryBuilder::new(format!("SELECT COUNT(*) FROM {} WHERE ", source.from));
    push_search(&mut sql, search, candidates, &source);
    sql
}

/// A token search read among the first `window` tokens, in its order, that pass its filters
/// other than the text terms. When it finds as many tokens as the search's limit, they are the
/// search's answer (an earlier match would be in the window too); when it finds fewer, the
/// terms are rare and the whole search must be run (`text_search`).
pub(crate) fn search_tokens_in_window<DB>(
    search: &TokenSearch,
    window: usize,
    index: LastUseIndex,
) -> QueryBuilder<'static, DB>
where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Vec<u8>: Encode<'static, DB> + Type<DB>,
{
    // The window's rows are `tokens` rows: outside it, the text terms and the order read their
    // own last_access, which equals the joined one.
    let source = Source::of(search, index);
    let mut sql = QueryBuilder::new(format!(
        "SELECT * FROM (SELECT tokens.* FROM {} WHERE ",
        source.from
    ));
    push_filters(&mut sql, search, None, &source);
    sql.push(order_by(search, &source))
        .push(" LIMIT ")
        .push_bind(window as i64)
        .push(") AS window_ WHERE 1 = 1");
    push_text_terms(&mut sql, search, &Source::TOKENS);
    sql.push(order_by(search, &Source::TOKENS));
    if let Some(limit) = search.limit {
        sql.push(" LIMIT ").push_bind(i64::from(limit));
    }
    sql
}

/// The ids of at most `most` API tokens whose names contain every piece of a narrowing, as
/// PostgreSQL's trigram index on `LOWER(name)` (migration 0009) answers it. The kind is
/// written out, not bound, so that the planner knows the partial index applies.
pub(crate) fn trigram_candidates<DB>(
    narrowing: &Narrowing,
    most: usize,
) -> QueryBuilder<'static, DB>
where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new("SELECT id FROM tokens WHERE kind = 'api' AND (");
    let joiner = if narrowing.any { " OR " } else { " AND " };
    for (i, pieces) in narrowing.terms.iter().enumerate() {
        if i > 0 {
            sql.push(joiner);
        }
        sql.push("(1 = 1");
        for piece in pieces {
            sql.push(" AND LOWER(name) LIKE ")
                .push_bind(like_pattern(piece, SearchMode::default()))
                .push(" ESCAPE '\\'");
        }
        sql.push(")");
    }
    sql.push(") LIMIT ").push_bind(most as i64);
    sql
}

/// `SELECT * FROM tokens` matching a list query, by ascending id.
pub(crate) fn list_tokens<DB>(query: &TokenQuery) -> QueryBuilder<'static, DB>
where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new("SELECT * FROM tokens WHERE 1 = 1");
    if let Some(user_id) = query.user_id {
        sql.push(" AND user_id = ").push_bind(user_id);
    }
    if let Some(door) = query.door {
        sql.push(" AND door = ").push_bind(door.as_str().to_owned());
    }
    if let Some(kind) = query.kind {
        sql.push(" AND kind = ").push_bind(kind.as_str().to_owned());
    }
    if let Some(status) = query.status {
        sql.push(" AND status = ")
            .push_bind(status.as_str().to_owned());
    }
    if let Some(after) = query.after_id {
        sql.push(" AND id > ").push_bind(after);
    }
    sql.push(" ORDER BY id LIMIT ")
        .push_bind(i64::from(query.limit.max(1)));
    sql
}

/// `UPDATE tokens` setting the fields a change names (only the id when it names none).
pub(crate) fn update_token<DB>(id: i64, changes: &TokenChanges) -> QueryBuilder<'static, DB>
where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    Option<i64>: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new("UPDATE tokens SET id = id");
    if let Some(name) = &changes.name {
        sql.push(", name = ").push_bind(name.clone());
    }
    if let Some(description) = &changes.description {
        sql.push(", description = ").push_bind(description.clone());
    }
    if let Some(status) = changes.status {
        sql.push(", status = ")
            .push_bind(status.as_str().to_owned());
    }
    if let Some(expires_at) = changes.expires_at {
        sql.push(", expires_at = ")
            .push_bind(expires_at.map(millis));
    }
    sql.push(" WHERE id = ").push_bind(id);
    sql
}

/// `SELECT * FROM audit_events` matching a query, newest first.
pub(crate) fn list_audit<DB>(query: &AuditQuery) -> QueryBuilder<'static, DB>
where
    DB: Database,
    i64: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new("SELECT * FROM audit_events WHERE 1 = 1");
    if let Some(kind) = query.kind {
        sql.push(" AND kind = ").push_bind(kind.as_str().to_owned());
    }
    if let Some(door) = query.door {
        sql.push(" AND door = ").push_bind(door.as_str().to_owned());
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
    sql
}

/// `ORDER BY` keys for a search: its sort fields, then the id so that the order is total.
fn order_by(search: &TokenSearch, source: &Source) -> String {
    let mut keys = String::from(" ORDER BY ");
    for (field, order) in &search.sort {
        // Missing times (never used, never expires) sort as Zabbix's 0: first going up, last
        // going down. NULLS FIRST/LAST on the bare column says that while keeping the indexes
        // of last use and of expiry usable, which COALESCE(x, 0) does not (a full sort of
        // every token at a million). Only an expiry before 1970 would sort differently.
        let key = match (field, order) {
            (TokenField::LastAccess | TokenField::ExpiresAt, SortOrder::Ascending) => {
                format!("{} ASC NULLS FIRST", source.column(*field))
            }
            (TokenField::LastAccess | TokenField::ExpiresAt, SortOrder::Descending) => {
                format!("{} DESC NULLS LAST", source.column(*field))
            }
            (_, SortOrder::Ascending) => format!("{} ASC", sort_expression(*field)),
            (_, SortOrder::Descending) => format!("{} DESC", sort_expression(*field)),
        };
        keys.push_str(&key);
        keys.push_str(", ");
    }
    keys.push_str("id ASC");
    keys
}

/// The WHERE clause of a token search.
fn push_search<'a, DB>(
    sql: &mut QueryBuilder<'a, DB>,
    search: &TokenSearch,
    candidates: Option<&[i64]>,
    source: &Source,
) where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    Vec<u8>: Encode<'a, DB> + Type<DB>,
{
    push_filters(sql, search, candidates, source);
    push_text_terms(sql, search, source);
}

/// The conditions of a token search but its text terms.
fn push_filters<'a, DB>(
    sql: &mut QueryBuilder<'a, DB>,
    search: &TokenSearch,
    candidates: Option<&[i64]>,
    source: &Source,
) where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    Vec<u8>: Encode<'a, DB> + Type<DB>,
{
    sql.push("1 = 1");
    // The kind is written out, not bound: the token.get indexes hold API tokens only
    // (migration 0010), and a planner uses such an index only where it sees `kind = 'api'`.
    // The kinds are a fixed set of words, never a request's text.
    if let Some(kind) = search.kind {
        sql.push(format!(" AND kind = '{}'", kind.as_str()));
    }
    if !search.statuses.is_empty() {
        sql.push(" AND status IN (");
        let mut list = sql.separated(", ");
        for status in &search.statuses {
            list.push_bind(status.as_str().to_owned());
        }
        sql.push(")");
    }
    // One id is an equality, which lets PostgreSQL serve "one user's tokens by name" from
    // the (user_id, kind, name, id) index; `IN (NULL, $1)` kept it from that index and it read
    // every token instead (BENCHMARKS.md, scale). An empty list matches nothing (`IN ()` is
    // not SQL).
    for (column, ids) in [
        ("id", search.ids.as_deref()),
        ("user_id", search.user_ids.as_deref()),
        ("id", candidates),
    ] {
        match ids {
            None => {}
            Some([]) => {
                sql.push(" AND 0 = 1");
            }
            Some([id]) => {
                sql.push(format!(" AND {column} = ")).push_bind(*id);
            }
            Some(ids) => {
                sql.push(format!(" AND {column} IN ("));
                let mut list = sql.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                sql.push(")");
            }
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
            push_equals(sql, *field, value, source);
        }
        sql.push(")");
    }
}

/// ` AND (…)` with a token search's text terms, if it has any. Every term is a condition of
/// its own, joined to the others with AND, or OR when any may match: Zabbix treats several
/// terms of one field like several fields. A field with no terms adds none.
fn push_text_terms<'a, DB>(sql: &mut QueryBuilder<'a, DB>, search: &TokenSearch, source: &Source)
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
{
    let terms: Vec<(TokenField, &String)> = search
        .search
        .iter()
        .flat_map(|(field, terms)| terms.iter().map(move |term| (*field, term)))
        .collect();
    if !terms.is_empty() {
        let mode = search.search_mode;
        let joiner = if mode.any_field { " OR " } else { " AND " };
        sql.push(if mode.exclude { " AND NOT (" } else { " AND (" });
        for (i, (field, term)) in terms.into_iter().enumerate() {
            if i > 0 {
                sql.push(joiner);
            }
            // Numbers are searched in their decimal text, as SQLite's LOWER() reads them and
            // PostgreSQL's needs them cast.
            let text = if stored_as_text(field) {
                source.column(field).to_owned()
            } else {
                format!("CAST({} AS TEXT)", source.column(field))
            };
            sql.push(format!("LOWER({text}) LIKE "))
                .push_bind(like_pattern(term, mode))
                .push(" ESCAPE '\\'");
        }
        sql.push(")");
    }
}

/// `field = value`, with times compared by their Unix second and 0 meaning "none".
///
/// A value of the other type than the column is compared the way SQLite's type affinity does
/// (a number with a text column as its decimal text, a text with an integer column as the
/// integer it spells, if any), which PostgreSQL would refuse as a type error.
fn push_equals<'a, DB>(
    sql: &mut QueryBuilder<'a, DB>,
    field: TokenField,
    value: &FieldValue,
    source: &Source,
) where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    let column = source.column(field);
    match value {
        FieldValue::Integer(0) if is_time(field) => {
            sql.push(format!("{column} IS NULL"));
        }
        FieldValue::Integer(seconds) if is_time(field) => {
            let start = seconds.saturating_mul(1000);
            sql.push(format!("({column} >= "))
                .push_bind(start)
                .push(format!(" AND {column} < "))
                .push_bind(start.saturating_add(1000))
                .push(")");
        }
        FieldValue::Integer(number) if stored_as_text(field) => {
            sql.push(format!("{column} = "))
                .push_bind(number.to_string());
        }
        FieldValue::Integer(number) => {
            sql.push(format!("{column} = ")).push_bind(*number);
        }
        FieldValue::Text(text) if stored_as_text(field) => {
            sql.push(format!("{column} = ")).push_bind(text.clone());
        }
        FieldValue::Text(text) => match text.parse::<i64>() {
            Ok(number) => {
                sql.push(format!("{column} = ")).push_bind(number);
            }
            Err(_) => {
                sql.push("0 = 1");
            }
        },
        FieldValue::Status(status) => {
            sql.push("status = ").push_bind(status.as_str().to_owned());
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
