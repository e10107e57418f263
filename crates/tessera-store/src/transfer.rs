//! Export and import of a whole database, for `tessera export` and `tessera import`: an
//! installation moves from SQLite to PostgreSQL (or back, or to a new machine) losing nothing —
//! users with their password hashes and TOTP secrets, clients with their secret hashes, every
//! token with its hash, status and times, the audit trail and the behaviour settings — under the
//! ids they had, so that Zabbix token ids, audit events and refresh-token families still point
//! at the same things.
//!
//! The dump is JSON Lines, version 1, one object a line:
//!
//! ```text
//! {"format":"tessera-dump","version":1,"tables":["users","clients","tokens","audit_events","behavior_settings"]}
//! {"table":"users","row":{"id":1,"uuid":"…","username":"Admin",…,"api_2fa_bypass":false}}
//! …
//! {"end":{"rows":{"users":3,…},"sequences":{"users":3,"tokens":41,"audit_events":97}}}
//! ```
//!
//! Rows come table by table in the header's order (a token's user before the token) and by key
//! within a table, every column of the table by its name: times as Unix milliseconds, flags as
//! booleans, hashes as lowercase hex. The last line says how many rows each table had, so that
//! a truncated dump is refused rather than half imported, and how far each numbered table's
//! sequence had gone, so that the id of a deleted token (which the audit trail still names) is
//! never handed out again. Exporting the same data from SQLite or from PostgreSQL gives the same
//! bytes.
//!
//! No secret is in a dump in clear: tokens and client secrets are SHA-256 hashes, passwords
//! Argon2id hashes. But those hashes are what the dump is for, and TOTP secrets must be kept as
//! they are for the users' authenticator apps to go on working, so a dump must be protected like
//! the database itself.
//!
//! Both directions work at the SQL level, with one connection: the export reads every table in
//! one snapshot (a read transaction), streaming rows to the writer; the import checks that the
//! target is empty and inserts everything in one transaction, in batches, or nothing at all.

use crate::rows::StoredRow;
use futures_util::TryStreamExt as _;
use serde_json::{json, Map, Value};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{
    ConnectOptions as _, Connection as _, Database, Encode, IntoArguments, Postgres, QueryBuilder,
    Sqlite, Type,
};
use std::fmt;
use std::io::{BufRead, Write};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// The first line's `format`.
pub const FORMAT: &str = "tessera-dump";
/// The version of the format this code writes and reads.
pub const VERSION: u64 = 1;

/// The longest line an import reads. A row is well under a kilobyte; the bound keeps a file that
/// is not a dump (one huge line) from filling memory.
const MAX_LINE_BYTES: usize = 16 << 20;
/// Rows inserted by one statement: few round trips, and well under both databases' limits on
/// bound values (18 columns × 500 rows = 9000).
const BATCH_ROWS: usize = 500;
/// How long opening a connection, or waiting for another writer's lock, may take.
const WAIT: Duration = Duration::from_secs(10);

/// How a column is stored, and written in a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    OptionalInteger,
    Text,
    OptionalText,
    /// A boolean (SQLite stores 0 or 1).
    Flag,
    /// A SHA-256: 32 bytes, written as 64 lowercase hex digits.
    Hash,
}

use Kind::{Flag, Hash, Integer, OptionalInteger, OptionalText, Text};

/// A table as the migrations define it: every column, the key first.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// Whether the key is a number the database hands out (BIGSERIAL, AUTOINCREMENT).
    numbered: bool,
}

impl Table {
    fn key(&self) -> &'static str {
        self.columns[0].0
    }

    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The value a column added by a later migration takes in a row from a dump written before
/// it (the column's default in the migration): an older dump still imports, losing nothing.
fn added_later(table: &str, column: &str) -> Option<Value> {
    match (table, column) {
        // 0005: failed sign-ins.
        ("users", "failed_sign_ins") => Some(Value::from(0)),
        ("users", "last_failed_sign_in_at") => Some(Value::Null),
        ("users", "last_failed_sign_in_ip") => Some(Value::from("")),
        _ => None,
    }
}

/// Every table and column of the schema (migrations 0001 to 0006), in the order they are
/// written: a table another refers to comes first. The import and the export check the
/// database against this list, so a column added by a later migration and forgotten here stops
/// them instead of being left behind.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        numbered: true,
        columns: &[
            ("id", Integer),
            ("uuid", Text),
            ("username", Text),
            ("display_name", Text),
            ("role", Text),
            ("enabled", Flag),
            ("permissions", Text),
            ("password_hash", Text),
            ("created_at", Integer),
            ("totp_secret", OptionalText),
            ("totp_last_step", OptionalInteger),
            ("api_2fa_bypass", Flag),
            ("failed_sign_ins", Integer),
            ("last_failed_sign_in_at", OptionalInteger),
            ("last_failed_sign_in_ip", Text),
        ],
    },
    Table {
        name: "clients",
        numbered: false,
        columns: &[
            ("id", Text),
            ("name", Text),
            ("secret_hash", Hash),
            ("grants", Text),
            ("scope", Text),
            ("created_at", Integer),
        ],
    },
    Table {
        name: "tokens",
        numbered: true,
        columns: &[
            ("id", Integer),
            ("hash", Hash),
            ("kind", Text),
            ("door", Text),
            ("user_id", OptionalInteger),
            ("client_id", OptionalText),
            ("name", Text),
            ("description", Text),
            ("scope", Text),
            ("status", Text),
            ("created_at", Integer),
            ("expires_at", OptionalInteger),
            ("last_access", OptionalInteger),
            ("creator_id", OptionalInteger),
            ("binding_kind", Text),
            ("binding_value", Text),
            ("family", OptionalText),
            ("idle_timeout", OptionalInteger),
        ],
    },
    Table {
        name: "audit_events",
        numbered: true,
        columns: &[
            ("id", Integer),
            ("at", Integer),
            ("kind", Text),
            ("door", Text),
            ("actor_user_id", OptionalInteger),
            ("subject_user_id", OptionalInteger),
            ("token_id", OptionalInteger),
            ("client_id", OptionalText),
            ("source_ip", OptionalText),
            ("detail", Text),
        ],
    },
    Table {
        name: "behavior_settings",
        numbered: false,
        columns: &[("name", Text), ("value", Text), ("updated_at", Integer)],
    },
];

#[derive(Debug, Error)]
pub enum TransferError {
    /// The database could not be opened, read or written.
    #[error("{0}")]
    Database(String),
    /// The database's tables are not the ones this version of tessera knows.
    #[error("{0}")]
    Schema(String),
    /// The import's target already holds data.
    #[error(
        "the database is not empty ({0}): import fills only a new database, one that is \
         freshly created or only migrated (`tessera migrate`)"
    )]
    NotEmpty(String),
    /// A line of the dump is not what the format says. The reason never quotes a value.
    #[error("line {line}: {reason}")]
    Line { line: u64, reason: String },
    /// The dump is not whole.
    #[error("{0}")]
    Damaged(String),
    /// Reading or writing the dump failed.
    #[error("{0}")]
    Io(String),
}

type Result<T, E = TransferError> = std::result::Result<T, E>;

/// How many rows each table had: what an export wrote or an import inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    rows: Vec<(&'static str, u64)>,
}

impl Summary {
    fn new(counts: &[u64]) -> Self {
        Self {
            rows: TABLES
                .iter()
                .map(|t| t.name)
                .zip(counts.iter().copied())
                .collect(),
        }
    }

    /// The rows of one table (0 for a name that is not a table).
    pub fn rows(&self, table: &str) -> u64 {
        self.rows
            .iter()
            .find(|(name, _)| *name == table)
            .map_or(0, |(_, count)| *count)
    }

    /// Each table with its number of rows, in the dump's order.
    pub fn tables(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.rows.iter().copied()
    }
}

impl fmt::Display for Summary {
    /// `users 3, clients 1, tokens 41, audit_events 97, behavior_settings 1`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (table, count)) in self.rows.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}{table} {count}")?;
        }
        Ok(())
    }
}

/// Writes every row of the database at `url` to `out` as a dump, from one snapshot, and says
/// how many rows each table had.
///
/// The export only reads: it neither creates an SQLite file that does not exist nor migrates
/// the schema, and a database whose columns are not exactly the ones this version knows (an
/// older schema: run `tessera migrate` first) is refused.
pub async fn export(url: &str, out: impl Write) -> Result<Summary> {
    let mut out = std::io::BufWriter::new(out);
    let summary = if crate::is_postgres(url) {
        let mut connection = open_postgres(url).await?;
        let exported = export_from(&mut connection, &mut out).await;
        let _ = connection.close().await;
        exported?
    } else {
        let options = sqlite_options(url)?;
        let path = options.get_filename();
        if !path.exists() {
            return Err(TransferError::Database(format!(
                "the SQLite database {} does not exist (export does not create one)",
                path.display()
            )));
        }
        let mut connection = open_sqlite(options).await?;
        let exported = export_from(&mut connection, &mut out).await;
        let _ = connection.close().await;
        exported?
    };
    out.flush().map_err(write_failed)?;
    Ok(summary)
}

/// Reads a dump from `input` into the database at `url`, which is created (SQLite) and migrated
/// as every command does, and must hold no row in any table; says how many rows each table got.
///
/// Everything is inserted in one transaction, with the ids of the dump; the sequences are then
/// set past them. Any error — a bad line, a truncated dump, a row the database refuses, a
/// non-empty target — leaves the data as it was.
pub async fn import(url: &str, input: impl BufRead) -> Result<Summary> {
    let mut dump = DumpReader::new(input);
    if crate::is_postgres(url) {
        let mut connection = open_postgres(url).await?;
        let imported = async {
            POSTGRES_MIGRATIONS
                .run(&mut connection)
                .await
                .map_err(|e| migration_failed("PostgreSQL", e))?;
            import_into(&mut connection, &mut dump).await
        }
        .await;
        let _ = connection.close().await;
        imported
    } else {
        let options = sqlite_options(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut connection = open_sqlite(options).await?;
        let imported = async {
            SQLITE_MIGRATIONS
                .run(&mut connection)
                .await
                .map_err(|e| migration_failed("SQLite", e))?;
            import_into(&mut connection, &mut dump).await
        }
        .await;
        let _ = connection.close().await;
        imported
    }
}

/// The stores' own migrations (the same directories), run by the import on its one connection:
/// a second connection, as `crate::migrate` would open, optimizes the database as it closes and
/// could still be doing so when the import takes its write lock.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

fn migration_failed(database: &str, error: sqlx::migrate::MigrateError) -> TransferError {
    TransferError::Database(format!("migrating the {database} database failed: {error}"))
}

// ----- the two databases -----

/// What differs between SQLite and PostgreSQL for a transfer; the rest is written once.
trait Side {
    /// Starts the export's transaction: every table read from one snapshot.
    const READ: &'static str;
    /// Starts the import's transaction, holding the write lock from the start so that nothing
    /// slips in between the emptiness check and the inserts.
    const WRITE: &'static str;

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error>;
    /// The table's column names, none if it does not exist.
    async fn columns(&mut self, table: &str) -> Result<Vec<String>>;
    async fn count(&mut self, table: &str) -> Result<u64>;
    /// Writes the table's rows as dump lines, by key; answers how many there were and the
    /// highest numeric key.
    async fn write_rows(&mut self, table: &Table, out: &mut dyn Write) -> Result<(u64, i64)>;
    async fn insert(&mut self, table: &Table, rows: &[Row]) -> Result<(), sqlx::Error>;
    /// The highest id the table's sequence has handed out (0 if none).
    async fn sequence(&mut self, table: &Table) -> Result<i64>;
    /// Makes the table's sequence hand out ids above `highest`.
    async fn set_sequence(&mut self, table: &Table, highest: i64) -> Result<()>;
}

fn sqlite_options(url: &str) -> Result<SqliteConnectOptions> {
    // As the store reads its URL: `sqlite://path`, `sqlite:path` or a bare path.
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    Ok(SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .map_err(|e| TransferError::Database(format!("invalid SQLite database URL: {e}")))?
        .create_if_missing(false)
        .foreign_keys(true)
        .busy_timeout(WAIT)
        // A whole table is one long statement; sqlx would warn about each as slow.
        .disable_statement_logging())
}

async fn open_sqlite(options: SqliteConnectOptions) -> Result<SqliteConnection> {
    let path = options.get_filename().display().to_string();
    SqliteConnection::connect_with(&options).await.map_err(|e| {
        TransferError::Database(format!("cannot open the SQLite database {path:?}: {e}"))
    })
}

async fn open_postgres(url: &str) -> Result<PgConnection> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| TransferError::Database(format!("invalid PostgreSQL database URL: {e}")))?
        .application_name("tessera")
        .options([("client_min_messages", "warning")])
        .disable_statement_logging();
    // Where, without the password the URL may hold.
    let place = format!(
        "{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    );
    let cannot = |reason: String| {
        TransferError::Database(format!(
            "cannot connect to the PostgreSQL database {place}: {reason}"
        ))
    };
    match tokio::time::timeout(WAIT, PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(cannot(e.to_string())),
        Err(_) => Err(cannot(format!("no answer within {} s", WAIT.as_secs()))),
    }
}

fn database(what: &str) -> impl FnOnce(sqlx::Error) -> TransferError + '_ {
    move |e| TransferError::Database(format!("{what}: {e}"))
}

async fn count_rows<DB>(connection: &mut DB::Connection, table: &str) -> Result<u64>
where
    DB: Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    DB::Row: StoredRow,
{
    let row = sqlx::query::<DB>(&format!("SELECT COUNT(*) AS count FROM {table}"))
        .fetch_one(connection)
        .await
        .map_err(database(table))?;
    let count = row
        .integer("count")
        .map_err(|e| TransferError::Database(e.to_string()))?;
    Ok(count as u64)
}

/// Writes a table's rows as dump lines, by key; answers how many there were and the highest
/// numeric key. Rows are streamed: one at a time is in memory.
async fn stream_rows<DB>(
    connection: &mut DB::Connection,
    table: &Table,
    order: &str,
    out: &mut dyn Write,
) -> Result<(u64, i64)>
where
    DB: Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    DB::Row: StoredRow,
{
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {order}",
        table.column_list(),
        table.name
    );
    let mut rows = sqlx::query::<DB>(&sql).fetch(connection);
    let mut written = Written::default();
    while let Some(row) = rows.try_next().await.map_err(database(table.name))? {
        written.row(table, &row, out)?;
    }
    Ok((written.rows, written.highest_key))
}

impl Side for SqliteConnection {
    // A deferred transaction takes its snapshot at the first read and keeps it to the end; in
    // WAL mode the server may go on writing meanwhile.
    const READ: &'static str = "BEGIN";
    const WRITE: &'static str = "BEGIN IMMEDIATE";

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::raw_sql(sql).execute(self).await?.rows_affected())
    }

    async fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(self)
            .await
            .map_err(database("reading the schema"))
    }

    async fn count(&mut self, table: &str) -> Result<u64> {
        count_rows::<Sqlite>(self, table).await
    }

    async fn write_rows(&mut self, table: &Table, out: &mut dyn Write) -> Result<(u64, i64)> {
        stream_rows::<Sqlite>(self, table, table.key(), out).await
    }

    async fn insert(&mut self, table: &Table, rows: &[Row]) -> Result<(), sqlx::Error> {
        insert_statement(table, rows).build().execute(self).await?;
        Ok(())
    }

    async fn sequence(&mut self, table: &Table) -> Result<i64> {
        if !autoincrement(self, table).await? {
            // Without AUTOINCREMENT SQLite hands out the highest id + 1: nothing more to keep.
            return Ok(0);
        }
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?")
            .bind(table.name)
            .fetch_optional(self)
            .await
            .map_err(database("reading sqlite_sequence"))?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_sequence(&mut self, table: &Table, highest: i64) -> Result<()> {
        if highest == 0 || !autoincrement(self, table).await? {
            return Ok(());
        }
        // Inserting explicit ids already moved the sequence to the highest of them; a dump's
        // sequence may be higher still (its tables' last rows were deleted).
        let fail = database("setting sqlite_sequence");
        let updated = sqlx::query("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?")
            .bind(highest)
            .bind(table.name)
            .execute(&mut *self)
            .await;
        match updated {
            Ok(done) if done.rows_affected() == 1 => Ok(()),
            Ok(_) => sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)")
                .bind(table.name)
                .bind(highest)
                .execute(self)
                .await
                .map(|_| ())
                .map_err(fail),
            Err(e) => Err(fail(e)),
        }
    }
}

/// Whether an SQLite table was declared with AUTOINCREMENT, which keeps its highest id ever in
/// `sqlite_sequence` and never hands out an id twice.
async fn autoincrement(connection: &mut SqliteConnection, table: &Table) -> Result<bool> {
    let sql: Option<String> =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(table.name)
            .fetch_optional(connection)
            .await
            .map_err(database("reading the schema"))?;
    Ok(sql.is_some_and(|sql| sql.to_ascii_uppercase().contains("AUTOINCREMENT")))
}

impl Side for PgConnection {
    // REPEATABLE READ: every statement of the transaction sees the same snapshot.
    const READ: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    // The tables are locked against writers right after (`LOCK TABLE` below), and a lock held
    // by a running server is waited for only so long.
    const WRITE: &'static str = "BEGIN; SET LOCAL lock_timeout = '10s'; \
         LOCK TABLE users, clients, tokens, audit_events, behavior_settings IN EXCLUSIVE MODE";

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::raw_sql(sql).execute(self).await?.rows_affected())
    }

    async fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT column_name::TEXT FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1
             ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(self)
        .await
        .map_err(database("reading the schema"))
    }

    async fn count(&mut self, table: &str) -> Result<u64> {
        count_rows::<Postgres>(self, table).await
    }

    async fn write_rows(&mut self, table: &Table, out: &mut dyn Write) -> Result<(u64, i64)> {
        // Text keys in code point order, as SQLite's BINARY sorts them, so that both databases
        // write the same dump.
        let order = if table.numbered {
            table.key().to_owned()
        } else {
            format!("{} COLLATE \"C\"", table.key())
        };
        stream_rows::<Postgres>(self, table, &order, out).await
    }

    async fn insert(&mut self, table: &Table, rows: &[Row]) -> Result<(), sqlx::Error> {
        insert_statement(table, rows).build().execute(self).await?;
        Ok(())
    }

    async fn sequence(&mut self, table: &Table) -> Result<i64> {
        let name = serial_sequence(self, table).await?;
        // Read outside the snapshot (sequences are not transactional), so at least as far as
        // any id the snapshot holds.
        let (last, called): (i64, bool) =
            sqlx::query_as(&format!("SELECT last_value, is_called FROM {name}"))
                .fetch_one(self)
                .await
                .map_err(database("reading a sequence"))?;
        Ok(if called { last } else { last - 1 })
    }

    async fn set_sequence(&mut self, table: &Table, highest: i64) -> Result<()> {
        let name = serial_sequence(self, table).await?;
        // `setval(s, n, true)`: the next id is n + 1; an unused sequence starts at 1 again.
        let (value, called) = if highest > 0 {
            (highest, true)
        } else {
            (1, false)
        };
        sqlx::query("SELECT setval($1::regclass, $2, $3)")
            .bind(name)
            .bind(value)
            .bind(called)
            .execute(self)
            .await
            .map_err(database("setting a sequence"))?;
        Ok(())
    }
}

/// The sequence behind a table's BIGSERIAL key, as a quoted name PostgreSQL itself gives.
async fn serial_sequence(connection: &mut PgConnection, table: &Table) -> Result<String> {
    let name: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
        .bind(table.name)
        .bind(table.key())
        .fetch_one(connection)
        .await
        .map_err(database("finding a sequence"))?;
    name.ok_or_else(|| {
        TransferError::Schema(format!(
            "the column {}.{} has no sequence",
            table.name,
            table.key()
        ))
    })
}

// ----- export -----

async fn export_from<S: Side>(connection: &mut S, out: &mut dyn Write) -> Result<Summary> {
    connection
        .execute(S::READ)
        .await
        .map_err(database("starting a read transaction"))?;
    let exported = write_dump(connection, out).await;
    // The transaction only read; ending it either way changes nothing.
    let ended = connection.execute("ROLLBACK").await;
    let summary = exported?;
    ended.map_err(database("ending the read transaction"))?;
    Ok(summary)
}

async fn write_dump<S: Side>(connection: &mut S, out: &mut dyn Write) -> Result<Summary> {
    check_schema(connection).await?;
    let header = json!({
        "format": FORMAT,
        "version": VERSION,
        "tables": TABLES.iter().map(|t| t.name).collect::<Vec<_>>(),
    });
    write_line(out, &header)?;
    let mut counts = Vec::with_capacity(TABLES.len());
    let mut sequences = Map::new();
    for table in TABLES {
        let (rows, highest_key) = connection.write_rows(table, out).await?;
        counts.push(rows);
        if table.numbered {
            let sequence = connection.sequence(table).await?.max(highest_key);
            sequences.insert(table.name.to_owned(), Value::from(sequence));
        }
    }
    let rows: Map<String, Value> = TABLES
        .iter()
        .zip(&counts)
        .map(|(table, count)| (table.name.to_owned(), Value::from(*count)))
        .collect();
    write_line(out, &json!({"end": {"rows": rows, "sequences": sequences}}))?;
    Ok(Summary::new(&counts))
}

/// What `write_rows` has written of one table so far.
#[derive(Default)]
struct Written {
    rows: u64,
    highest_key: i64,
}

impl Written {
    fn row(&mut self, table: &Table, row: &impl StoredRow, out: &mut dyn Write) -> Result<()> {
        let mut values = Map::new();
        for &(column, kind) in table.columns {
            let value = stored_value(row, column, kind).map_err(|reason| {
                TransferError::Database(format!(
                    "the database holds a bad value in {}.{column} (row {} of the table): {reason}",
                    table.name,
                    self.rows + 1
                ))
            })?;
            values.insert(column.to_owned(), value);
        }
        if table.numbered {
            if let Some(key) = values.get(table.key()).and_then(Value::as_i64) {
                self.highest_key = self.highest_key.max(key);
            }
        }
        write_line(out, &json!({"table": table.name, "row": values}))?;
        self.rows += 1;
        Ok(())
    }
}

fn stored_value(row: &impl StoredRow, column: &str, kind: Kind) -> Result<Value, String> {
    let text = |e: tessera_core::StoreError| e.to_string();
    Ok(match kind {
        Integer => Value::from(row.integer(column).map_err(text)?),
        OptionalInteger => row
            .optional_integer(column)
            .map_err(text)?
            .map_or(Value::Null, Value::from),
        Text => Value::from(row.text(column).map_err(text)?),
        OptionalText => row
            .optional_text(column)
            .map_err(text)?
            .map_or(Value::Null, Value::from),
        Flag => Value::from(row.flag(column).map_err(text)?),
        Hash => {
            let bytes = row.bytes(column).map_err(text)?;
            if bytes.len() != 32 {
                return Err(format!("a hash of {} bytes, not 32", bytes.len()));
            }
            Value::from(hex(&bytes))
        }
    })
}

fn write_line(out: &mut dyn Write, value: &Value) -> Result<()> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| TransferError::Io(format!("cannot write the dump: {e}")))?;
    out.write_all(b"\n").map_err(write_failed)
}

fn write_failed(error: std::io::Error) -> TransferError {
    TransferError::Io(format!("cannot write the dump: {error}"))
}

/// Checks that every table has exactly the columns of [`TABLES`], no more, no fewer.
async fn check_schema<S: Side>(connection: &mut S) -> Result<()> {
    for table in TABLES {
        let found = connection.columns(table.name).await?;
        if found.is_empty() {
            return Err(TransferError::Schema(format!(
                "the database has no table {}: it is not a tessera database, or one that no \
                 tessera has migrated yet (`tessera migrate`)",
                table.name
            )));
        }
        if let Some(extra) = found
            .iter()
            .find(|name| !table.columns.iter().any(|(known, _)| known == name))
        {
            return Err(TransferError::Schema(format!(
                "the table {} has a column {extra:?} this version of tessera does not know: \
                 use the tessera that migrated the database",
                table.name
            )));
        }
        if let Some((missing, _)) = table
            .columns
            .iter()
            .find(|(known, _)| !found.iter().any(|name| name == known))
        {
            return Err(TransferError::Schema(format!(
                "the table {} has no column {missing}: its schema is older than this tessera; \
                 run `tessera migrate` on it first",
                table.name
            )));
        }
    }
    Ok(())
}

// ----- import -----

async fn import_into<S: Side, R: BufRead>(
    connection: &mut S,
    dump: &mut DumpReader<R>,
) -> Result<Summary> {
    connection
        .execute(S::WRITE)
        .await
        .map_err(database("starting the import's transaction"))?;
    match fill(connection, dump).await {
        Ok(summary) => {
            connection
                .execute("COMMIT")
                .await
                .map_err(database("committing the import"))?;
            Ok(summary)
        }
        Err(error) => {
            // Closing the connection would roll back too; this says so explicitly.
            let _ = connection.execute("ROLLBACK").await;
            Err(error)
        }
    }
}

async fn fill<S: Side, R: BufRead>(
    connection: &mut S,
    dump: &mut DumpReader<R>,
) -> Result<Summary> {
    check_schema(connection).await?;
    let mut occupied = Vec::new();
    for table in TABLES {
        let count = connection.count(table.name).await?;
        if count > 0 {
            occupied.push(format!("{} {count}", table.name));
        }
    }
    if !occupied.is_empty() {
        return Err(TransferError::NotEmpty(occupied.join(", ")));
    }
    dump.read_header()?;
    let mut batch: Vec<Row> = Vec::with_capacity(BATCH_ROWS);
    let end = loop {
        match dump.next_entry()? {
            Entry::Row(row) => {
                if batch.first().is_some_and(|first| first.table != row.table) {
                    insert_batch(connection, &batch).await?;
                    batch.clear();
                }
                batch.push(row);
                if batch.len() == BATCH_ROWS {
                    insert_batch(connection, &batch).await?;
                    batch.clear();
                }
            }
            Entry::End(end) => break end,
        }
    };
    insert_batch(connection, &batch).await?;
    dump.finish(&end)?;
    for (index, table) in TABLES.iter().enumerate() {
        if table.numbered {
            let highest = end.sequences[index].max(dump.highest_keys[index]);
            connection.set_sequence(table, highest).await?;
        }
    }
    Ok(Summary::new(&dump.counts))
}

/// Inserts rows of one table with one statement. If the database refuses it, the rows are
/// tried one by one to name the line it refused.
async fn insert_batch<S: Side>(connection: &mut S, rows: &[Row]) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let table = &TABLES[first.table];
    let savepoint = |e| TransferError::Database(format!("a savepoint failed: {e}"));
    connection
        .execute("SAVEPOINT batch")
        .await
        .map_err(savepoint)?;
    let Err(batch_error) = connection.insert(table, rows).await else {
        return connection
            .execute("RELEASE SAVEPOINT batch")
            .await
            .map(|_| ())
            .map_err(savepoint);
    };
    connection
        .execute("ROLLBACK TO SAVEPOINT batch")
        .await
        .map_err(savepoint)?;
    for row in rows {
        if let Err(e) = connection.insert(table, std::slice::from_ref(row)).await {
            return Err(refused(row.line, table, &e));
        }
    }
    let last = rows.last().map_or(first.line, |r| r.line);
    Err(TransferError::Database(format!(
        "lines {} to {last}: the database refused these {} rows: {}",
        first.line,
        table.name,
        database_message(&batch_error)
    )))
}

/// The database's reason for refusing a row. Neither database puts the row's values in its
/// message (PostgreSQL keeps them in the detail, which is left out).
fn refused(line: u64, table: &Table, error: &sqlx::Error) -> TransferError {
    TransferError::Line {
        line,
        reason: format!(
            "the database refused this {} row: {}",
            table.name,
            database_message(error)
        ),
    }
}

fn database_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// `INSERT INTO table (columns) VALUES (…), (…)`, every value bound.
fn insert_statement<DB>(table: &Table, rows: &[Row]) -> QueryBuilder<'static, DB>
where
    DB: Database,
    for<'a> <DB as Database>::Arguments<'a>: Default,
    Option<i64>: Encode<'static, DB> + Type<DB>,
    Option<String>: Encode<'static, DB> + Type<DB>,
    bool: Encode<'static, DB> + Type<DB>,
    Vec<u8>: Encode<'static, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new(format!(
        "INSERT INTO {} ({}) ",
        table.name,
        table.column_list()
    ));
    sql.push_values(rows, |mut values, row| {
        for cell in &row.cells {
            match cell.clone() {
                Cell::Integer(value) => values.push_bind(value),
                Cell::Text(value) => values.push_bind(value),
                Cell::Flag(value) => values.push_bind(value),
                Cell::Bytes(value) => values.push_bind(value),
            };
        }
    });
    sql
}

// ----- reading a dump -----

/// A value of a row, typed as its column.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Integer(Option<i64>),
    Text(Option<String>),
    Flag(bool),
    Bytes(Vec<u8>),
}

/// A row of the dump, its values in the order of its table's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    line: u64,
    /// Index into [`TABLES`].
    table: usize,
    cells: Vec<Cell>,
}

/// The dump's last line, by table index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct End {
    line: u64,
    rows: Vec<u64>,
    /// 0 for a table without a sequence.
    sequences: Vec<i64>,
}

enum Entry {
    Row(Row),
    End(End),
}

/// Reads a dump line by line and checks each against the format, without a database. Every
/// error names the line; none quotes a value, which may be a hash.
struct DumpReader<R> {
    input: R,
    line: u64,
    buffer: Vec<u8>,
    /// The table of the last row (index into [`TABLES`]): tables come in order.
    table: usize,
    counts: Vec<u64>,
    highest_keys: Vec<i64>,
}

impl<R: BufRead> DumpReader<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            buffer: Vec::new(),
            table: 0,
            counts: vec![0; TABLES.len()],
            highest_keys: vec![0; TABLES.len()],
        }
    }

    fn error(&self, reason: impl Into<String>) -> TransferError {
        TransferError::Line {
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next line as a JSON object, or `None` at the end of the input.
    fn next_object(&mut self) -> Result<Option<Map<String, Value>>> {
        self.buffer.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = std::io::Read::take(&mut self.input, limit)
            .read_until(b'\n', &mut self.buffer)
            .map_err(|e| TransferError::Io(format!("cannot read the dump: {e}")))?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buffer.len() > MAX_LINE_BYTES {
            return Err(self.error(format!(
                "longer than {} MiB: this is not a tessera dump",
                MAX_LINE_BYTES >> 20
            )));
        }
        // Without its line ending, a line cut short reads as an early end of input.
        let text = self.buffer.strip_suffix(b"\n").unwrap_or(&self.buffer);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let value: Value = match serde_json::from_slice(text) {
            Ok(value) => value,
            // serde_json's messages name a place, never the text; the column is enough.
            Err(e) if e.is_eof() => {
                return Err(self.error("the line is cut short: the dump is truncated"))
            }
            Err(e) => return Err(self.error(format!("not valid JSON (at column {})", e.column()))),
        };
        match value {
            Value::Object(object) => Ok(Some(object)),
            _ => Err(self.error("not a JSON object")),
        }
    }

    fn read_header(&mut self) -> Result<()> {
        let Some(header) = self.next_object()? else {
            return Err(TransferError::Damaged(
                "the dump is empty: a tessera dump starts with a header line".into(),
            ));
        };
        if header.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(self.error(format!(
                "not a tessera dump: the first line has no \"format\":\"{FORMAT}\""
            )));
        }
        match header.get("version").and_then(Value::as_u64) {
            Some(VERSION) => {}
            Some(version) if version > VERSION => {
                return Err(self.error(format!(
                    "the dump is in version {version} of the format, newer than this tessera \
                     reads ({VERSION}): import it with a tessera as recent as the one that \
                     wrote it"
                )))
            }
            _ => return Err(self.error(format!("the version is not {VERSION}"))),
        }
        let expected: Vec<Value> = TABLES.iter().map(|t| Value::from(t.name)).collect();
        if header.get("tables").and_then(Value::as_array) != Some(&expected) {
            return Err(self.error(format!(
                "the tables are not {}",
                TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(key) = unknown_key(&header, &["format", "version", "tables"]) {
            return Err(self.error(format!("the header has an unknown field {key}")));
        }
        Ok(())
    }

    /// The next row, or the last line; the end of the input before the last line is an error.
    fn next_entry(&mut self) -> Result<Entry> {
        let Some(mut object) = self.next_object()? else {
            return Err(TransferError::Damaged(format!(
                "the dump is truncated: it ends after line {} without its last line \
                 ({{\"end\":…}})",
                self.line
            )));
        };
        if let Some(end) = object.remove("end") {
            if let Some(key) = unknown_key(&object, &[]) {
                return Err(self.error(format!("the last line has an unknown field {key}")));
            }
            return self.end(end).map(Entry::End);
        }
        if let Some(key) = unknown_key(&object, &["table", "row"]) {
            return Err(self.error(format!("unknown field {key}")));
        }
        let Some(name) = object.get("table").and_then(Value::as_str) else {
            return Err(self.error("no \"table\" name"));
        };
        let Some(index) = TABLES.iter().position(|t| t.name == name) else {
            return Err(self.error(format!("unknown table {}", quoted_name(name))));
        };
        if index < self.table {
            return Err(self.error(format!(
                "a row of {} after rows of {}: the tables must come in the header's order",
                TABLES[index].name, TABLES[self.table].name
            )));
        }
        self.table = index;
        let table = &TABLES[index];
        let Some(Value::Object(values)) = object.remove("row") else {
            return Err(self.error(format!("no \"row\" object for {}", table.name)));
        };
        if let Some(key) = unknown_key(
            &values,
            &table.columns.iter().map(|c| c.0).collect::<Vec<_>>(),
        ) {
            return Err(self.error(format!("{} has no column {key}", table.name)));
        }
        let mut cells = Vec::with_capacity(table.columns.len());
        for &(column, kind) in table.columns {
            let default;
            let value = match values.get(column) {
                Some(value) => value,
                None => match added_later(table.name, column) {
                    Some(value) => {
                        default = value;
                        &default
                    }
                    None => {
                        return Err(self.error(format!("the {} row has no {column}", table.name)))
                    }
                },
            };
            let cell = cell(value, kind).map_err(|expected| {
                self.error(format!("{}.{column} is not {expected}", table.name))
            })?;
            cells.push(cell);
        }
        if table.numbered {
            if let Some(Cell::Integer(Some(key))) = cells.first() {
                self.highest_keys[index] = self.highest_keys[index].max(*key);
            }
        }
        self.counts[index] += 1;
        Ok(Entry::Row(Row {
            line: self.line,
            table: index,
            cells,
        }))
    }

    fn end(&self, end: Value) -> Result<End> {
        let Value::Object(mut end) = end else {
            return Err(self.error("\"end\" is not an object"));
        };
        if let Some(key) = unknown_key(&end, &["rows", "sequences"]) {
            return Err(self.error(format!("\"end\" has an unknown field {key}")));
        }
        let (Some(Value::Object(rows)), Some(Value::Object(sequences))) =
            (end.remove("rows"), end.remove("sequences"))
        else {
            return Err(self.error("\"end\" needs \"rows\" and \"sequences\" objects"));
        };
        let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        let numbered: Vec<&str> = TABLES
            .iter()
            .filter(|t| t.numbered)
            .map(|t| t.name)
            .collect();
        if let Some(key) = unknown_key(&rows, &names) {
            return Err(self.error(format!("\"rows\" names an unknown table {key}")));
        }
        if let Some(key) = unknown_key(&sequences, &numbered) {
            return Err(self.error(format!("\"sequences\" names an unknown table {key}")));
        }
        let mut counts = Vec::with_capacity(TABLES.len());
        let mut positions = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let Some(count) = rows.get(table.name).and_then(Value::as_u64) else {
                return Err(self.error(format!("\"rows\" has no count for {}", table.name)));
            };
            counts.push(count);
            let position = if table.numbered {
                match sequences.get(table.name).and_then(Value::as_i64) {
                    Some(position) if position >= 0 => position,
                    _ => {
                        return Err(
                            self.error(format!("\"sequences\" has no position for {}", table.name))
                        )
                    }
                }
            } else {
                0
            };
            positions.push(position);
        }
        Ok(End {
            line: self.line,
            rows: counts,
            sequences: positions,
        })
    }

    /// Checks the last line's counts against the rows read, and that nothing follows it.
    fn finish(&mut self, end: &End) -> Result<()> {
        for (index, table) in TABLES.iter().enumerate() {
            if end.rows[index] != self.counts[index] {
                return Err(TransferError::Damaged(format!(
                    "the dump is damaged: its last line (line {}) counts {} rows of {} but it \
                     holds {}",
                    end.line, end.rows[index], table.name, self.counts[index]
                )));
            }
        }
        if self.next_object_present()? {
            return Err(self.error("a line after the dump's last line"));
        }
        Ok(())
    }

    fn next_object_present(&mut self) -> Result<bool> {
        self.buffer.clear();
        let read = std::io::Read::take(&mut self.input, 1)
            .read_until(b'\n', &mut self.buffer)
            .map_err(|e| TransferError::Io(format!("cannot read the dump: {e}")))?;
        if read > 0 {
            self.line += 1;
        }
        Ok(read > 0)
    }
}

/// The first key of `object` not among `known`, quoted for a message.
fn unknown_key(object: &Map<String, Value>, known: &[&str]) -> Option<String> {
    object
        .keys()
        .find(|key| !known.contains(&key.as_str()))
        .map(|key| quoted_name(key))
}

/// A name from the dump for a message: quoted, escaped, and cut short if long.
fn quoted_name(name: &str) -> String {
    const LONGEST: usize = 64;
    if name.chars().count() <= LONGEST {
        format!("{name:?}")
    } else {
        format!("{:?}…", name.chars().take(LONGEST).collect::<String>())
    }
}

/// A dump value as a column of `kind`, or what it should have been.
fn cell(value: &Value, kind: Kind) -> Result<Cell, &'static str> {
    match (kind, value) {
        (Integer, value) => value
            .as_i64()
            .map(|v| Cell::Integer(Some(v)))
            .ok_or("an integer"),
        (OptionalInteger, Value::Null) => Ok(Cell::Integer(None)),
        (OptionalInteger, value) => value
            .as_i64()
            .map(|v| Cell::Integer(Some(v)))
            .ok_or("an integer or null"),
        (Text, Value::String(text)) => Ok(Cell::Text(Some(text.clone()))),
        (Text, _) => Err("a string"),
        (OptionalText, Value::Null) => Ok(Cell::Text(None)),
        (OptionalText, Value::String(text)) => Ok(Cell::Text(Some(text.clone()))),
        (OptionalText, _) => Err("a string or null"),
        (Flag, Value::Bool(flag)) => Ok(Cell::Flag(*flag)),
        (Flag, _) => Err("true or false"),
        (Hash, Value::String(digits)) => from_hex(digits)
            .filter(|bytes| bytes.len() == 32)
            .map(Cell::Bytes)
            .ok_or("64 lowercase hex digits"),
        (Hash, _) => Err("64 lowercase hex digits"),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

/// Lowercase hex only, as [`hex`] writes it: a dump edited into another spelling is refused
/// rather than silently read.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::{test_server, ScratchDatabase, ScratchError};
    use std::sync::Arc;
    use tessera_core::{
        AuditKind, Binding, Client, Door, GrantType, NewAuditEvent, NewToken, NewUser, Permission,
        Role, Scope, SecretHash, Store, TokenKind, Username,
    };
    use time::OffsetDateTime;
    use uuid::Uuid;

    const HEADER: &str = r#"{"format":"tessera-dump","version":1,"tables":["users","clients","tokens","audit_events","behavior_settings"]}"#;
    const SETTING: &str =
        r#"{"table":"behavior_settings","row":{"name":"N","value":"1","updated_at":5}}"#;
    /// A client row whose secret hash is `digits`.
    fn client(digits: &str) -> String {
        format!(
            r#"{{"table":"clients","row":{{"id":"c","name":"","secret_hash":"{digits}","grants":"password","scope":"","created_at":1}}}}"#
        )
    }
    const SECRET_HASH: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn last_line(clients: u64, settings: u64) -> String {
        format!(
            r#"{{"end":{{"rows":{{"users":0,"clients":{clients},"tokens":0,"audit_events":0,"behavior_settings":{settings}}},"sequences":{{"users":0,"tokens":7,"audit_events":0}}}}}}"#
        )
    }

    /// Reads a whole dump as an import does, without a database.
    fn read(lines: &[&str]) -> Result<(Vec<Row>, End)> {
        let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let mut dump = DumpReader::new(text.as_bytes());
        dump.read_header()?;
        let mut rows = Vec::new();
        loop {
            match dump.next_entry()? {
                Entry::Row(row) => rows.push(row),
                Entry::End(end) => {
                    dump.finish(&end)?;
                    return Ok((rows, end));
                }
            }
        }
    }

    fn refusal(lines: &[&str]) -> String {
        match read(lines) {
            Ok(_) => panic!("the dump should be refused: {lines:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn hashes_are_lowercase_hex_both_ways() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&hex(&bytes)), Some(bytes));
        assert_eq!(hex(&[0x0a, 0xff]), "0aff");
        assert_eq!(from_hex("0AFF"), None);
        assert_eq!(from_hex("0af"), None);
        assert_eq!(from_hex("0g"), None);
    }

    #[test]
    fn a_dump_is_read_row_by_row_with_its_counts() {
        let client = client(SECRET_HASH);
        let (rows, end) = read(&[HEADER, &client, SETTING, &last_line(1, 1)]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].table), (2, 1));
        assert_eq!(
            rows[0].cells[2],
            Cell::Bytes(from_hex(SECRET_HASH).unwrap())
        );
        assert_eq!(rows[1].cells[2], Cell::Integer(Some(5)));
        assert_eq!(end.rows, [0, 1, 0, 0, 1]);
        assert_eq!(end.sequences, [0, 0, 7, 0, 0]);
        // An empty database is a dump of a header and a last line.
        assert!(read(&[HEADER, &last_line(0, 0)]).is_ok());
    }

    #[test]
    fn a_header_that_is_not_this_format_is_refused() {
        let end = last_line(0, 0);
        assert!(refusal(&[]).contains("the dump is empty"));
        assert!(refusal(&["not json", &end]).starts_with("line 1: not valid JSON"));
        assert!(
            refusal(&[r#"{"format":"pg_dump","version":1}"#, &end]).contains("not a tessera dump")
        );
        let newer = HEADER.replace(r#""version":1"#, r#""version":2"#);
        assert!(refusal(&[&newer, &end]).contains("version 2 of the format, newer"));
        let fewer = HEADER.replace(r#","behavior_settings""#, "");
        assert!(refusal(&[&fewer, &end]).contains("line 1: the tables are not"));
        let extra = HEADER.replace(r#"{"format""#, r#"{"x":1,"format""#);
        assert!(refusal(&[&extra, &end]).contains("unknown field \"x\""));
    }

    #[test]
    fn a_dump_cut_short_or_miscounted_is_refused() {
        let client = client(SECRET_HASH);
        assert!(refusal(&[HEADER, &client]).contains("the dump is truncated: it ends after line 2"));
        assert_eq!(
            refusal(&[HEADER, &client[..40]]),
            "line 2: the line is cut short: the dump is truncated"
        );
        assert!(refusal(&[HEADER, &client, &last_line(2, 0)])
            .contains("counts 2 rows of clients but it holds 1"));
        assert_eq!(
            refusal(&[HEADER, &last_line(0, 0), SETTING]),
            "line 3: a line after the dump's last line"
        );
    }

    #[test]
    fn a_bad_row_is_refused_by_its_line_without_its_values() {
        let end = last_line(1, 0);
        let upper = SECRET_HASH.to_uppercase();
        for (line, expected) in [
            (
                client(&upper),
                "line 2: clients.secret_hash is not 64 lowercase hex digits",
            ),
            (
                client(&SECRET_HASH[2..]),
                "line 2: clients.secret_hash is not 64 lowercase hex",
            ),
            (
                client(SECRET_HASH).replace(r#""created_at":1"#, r#""created_at":"1""#),
                "line 2: clients.created_at is not an integer",
            ),
            (
                client(SECRET_HASH).replace(r#""scope":"","#, ""),
                "line 2: the clients row has no scope",
            ),
            (
                client(SECRET_HASH).replace(r#""scope":"""#, r#""scope":"","owner":1"#),
                "line 2: clients has no column \"owner\"",
            ),
            (
                client(SECRET_HASH).replace(r#""table":"clients""#, r#""table":"groups""#),
                "line 2: unknown table \"groups\"",
            ),
            ("[1,2]".to_owned(), "line 2: not a JSON object"),
        ] {
            let message = refusal(&[HEADER, &line, &end]);
            assert!(message.starts_with(expected), "{message}");
            assert!(!message.to_lowercase().contains("aabbcc"), "{message}");
        }
        let out_of_order = refusal(&[HEADER, SETTING, &client(SECRET_HASH), &end]);
        assert!(
            out_of_order.starts_with("line 3: a row of clients after rows of behavior_settings"),
            "{out_of_order}"
        );
    }

    // ----- on the databases -----

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    /// A little of everything: users (one with a TOTP secret and the API bypass), a client,
    /// tokens of several kinds and states (the newest deleted again, so that the sequence is
    /// past the highest id left), audit events and a setting.
    async fn populate(store: &dyn Store) {
        let mut ids = Vec::new();
        for (name, role) in [("Admin", Role::SuperAdmin), ("alice", Role::User)] {
            let user = store
                .insert_user(&NewUser {
                    uuid: Uuid::new_v4(),
                    username: Username::parse(name).unwrap(),
                    display_name: format!("{name} display"),
                    role,
                    permissions: vec![Permission::Exclude2fa],
                    password_hash: format!("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$hash-of-{name}"),
                    created_at: at(0),
                })
                .await
                .unwrap();
            ids.push(user.id);
        }
        store
            .set_totp_secret(ids[1], Some("JBSWY3DPEHPK3PXP"))
            .await
            .unwrap();
        store.consume_totp_step(ids[1], 42).await.unwrap();
        store.set_api_2fa_bypass(ids[1], true).await.unwrap();
        store
            .insert_client(&Client {
                id: "billing".into(),
                name: "Billing".into(),
                secret_hash: SecretHash::of("client secret"),
                grants: vec![GrantType::ClientCredentials, GrantType::Password],
                scope: Scope::parse("read").unwrap(),
                created_at: at(1),
            })
            .await
            .unwrap();
        let mut tokens = Vec::new();
        for (i, kind) in [
            TokenKind::Session,
            TokenKind::Refresh,
            TokenKind::Api,
            TokenKind::Api,
        ]
        .into_iter()
        .enumerate()
        {
            let token = store
                .insert_token(&NewToken {
                    hash: SecretHash::of(&format!("token {i}")),
                    kind,
                    door: Door::OAuth,
                    user_id: Some(ids[1]),
                    client_id: (i == 0).then(|| "billing".to_owned()),
                    name: format!("token {i}"),
                    description: "ünïcode ✓".into(),
                    scope: Scope::parse("read write").unwrap(),
                    created_at: at(2),
                    expires_at: (i != 2).then(|| at(3600)),
                    creator_id: Some(ids[0]),
                    binding: if i == 0 {
                        Binding::Ip("192.0.2.7".parse().unwrap())
                    } else {
                        Binding::None
                    },
                    family: (i < 2).then(Uuid::new_v4),
                    idle_timeout: (i == 0).then_some(900),
                })
                .await
                .unwrap();
            tokens.push(token.id);
        }
        store
            .record_last_access(&[(tokens[0], at(10))])
            .await
            .unwrap();
        store.delete_tokens(&[tokens[3]]).await.unwrap();
        store
            .insert_audit(&NewAuditEvent {
                at: at(4),
                kind: AuditKind::TokenIssued,
                door: Door::OAuth,
                actor_user_id: Some(ids[0]),
                subject_user_id: Some(ids[1]),
                token_id: Some(tokens[3]),
                client_id: Some("billing".into()),
                source_ip: Some("192.0.2.7".into()),
                detail: "a deleted token's event".into(),
            })
            .await
            .unwrap();
        store
            .set_behavior_setting("OAUTH2_TOKEN_LIFETIME_SECONDS", Some("7200"), at(5))
            .await
            .unwrap();
    }

    async fn exported(url: &str) -> String {
        let mut out = Vec::new();
        export(url, &mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
        format!("sqlite://{}", dir.path().join(name).display())
    }

    /// A PostgreSQL database of its own, or `None` (said once) when no server answers and none
    /// was required, as the store suite does.
    async fn postgres() -> Option<ScratchDatabase> {
        let server = test_server();
        match ScratchDatabase::create(&server.url, "tessera_transfer").await {
            Ok(database) => Some(database),
            Err(ScratchError::Unreachable { .. }) if !server.required => {
                eprintln!(
                    "skipping the PostgreSQL half of a transfer test: no server at {}",
                    server.url
                );
                None
            }
            Err(error) => panic!("the PostgreSQL transfer tests need their server: {error}"),
        }
    }

    /// Exports `source`, imports into `target`, checks that the target exports the same bytes,
    /// and that new rows get ids past the dump's sequences.
    async fn round_trip(source: &str, target: &str) -> String {
        let dump = exported(source).await;
        let summary = import(target, dump.as_bytes()).await.unwrap();
        assert_eq!(
            summary.to_string(),
            "users 2, clients 1, tokens 3, audit_events 1, behavior_settings 1"
        );
        assert_eq!(exported(target).await, dump, "{source} -> {target}");
        let store: Arc<dyn Store> = crate::connect(target).await.unwrap();
        let token = store
            .insert_token(&NewToken {
                hash: SecretHash::of("after the import"),
                kind: TokenKind::Api,
                door: Door::Cli,
                user_id: None,
                client_id: None,
                name: String::new(),
                description: String::new(),
                scope: Scope::parse("read").unwrap(),
                created_at: at(6),
                expires_at: None,
                creator_id: None,
                binding: Binding::None,
                family: None,
                idle_timeout: None,
            })
            .await
            .unwrap();
        assert_eq!(token.id, 5, "past the deleted token 4, not reusing its id");
        let found = store
            .token_by_hash(&SecretHash::of("token 0"))
            .await
            .unwrap()
            .expect("an imported token is found by its hash");
        assert_eq!((found.id, found.idle_timeout), (1, Some(900)));
        dump
    }

    #[tokio::test]
    async fn every_row_survives_sqlite_to_sqlite_and_to_postgres_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let source = sqlite_url(&dir, "source.db");
        populate(crate::connect(&source).await.unwrap().as_ref()).await;
        let dump = round_trip(&source, &sqlite_url(&dir, "copy.db")).await;
        assert!(dump.contains(r#""totp_secret":"JBSWY3DPEHPK3PXP","totp_last_step":42"#));
        assert!(dump.contains(r#""sequences":{"users":2,"tokens":4,"audit_events":1}"#));
        assert!(dump.contains(&hex(&SecretHash::of("client secret").0)));
        let Some(database) = postgres().await else {
            return;
        };
        round_trip(&source, database.url()).await;
        let Some(second) = postgres().await else {
            return;
        };
        // PostgreSQL to PostgreSQL, then back to SQLite: still the same bytes.
        populate(crate::connect(second.url()).await.unwrap().as_ref()).await;
        let from_postgres = round_trip(second.url(), &sqlite_url(&dir, "back.db")).await;
        assert_eq!(
            from_postgres.lines().count(),
            dump.lines().count(),
            "the same rows"
        );
    }

    /// A dump written before migration 0005 has no failed sign-in columns: it imports with
    /// their defaults, and a column that no migration added is still an error.
    #[tokio::test]
    async fn a_dump_from_before_a_later_migration_imports_with_its_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let source = sqlite_url(&dir, "source.db");
        populate(crate::connect(&source).await.unwrap().as_ref()).await;
        let dump = exported(&source).await;
        let older: String = dump
            .lines()
            .map(|line| {
                let mut entry: Value = serde_json::from_str(line).unwrap();
                if let Some(row) = entry.get_mut("row").and_then(Value::as_object_mut) {
                    for column in [
                        "failed_sign_ins",
                        "last_failed_sign_in_at",
                        "last_failed_sign_in_ip",
                    ] {
                        row.remove(column);
                    }
                }
                entry.to_string() + "\n"
            })
            .collect();
        assert_ne!(older, dump);
        let target = sqlite_url(&dir, "target.db");
        import(&target, older.as_bytes()).await.unwrap();
        assert_eq!(
            exported(&target).await,
            dump,
            "the defaults are the source's values"
        );

        let broken = dump.replacen("\"display_name\":", "\"display\":", 1);
        let error = import(&sqlite_url(&dir, "broken.db"), broken.as_bytes())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("display"), "{error}");
    }

    #[tokio::test]
    async fn a_database_that_is_not_empty_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let source = sqlite_url(&dir, "source.db");
        populate(crate::connect(&source).await.unwrap().as_ref()).await;
        let dump = exported(&source).await;
        let target = sqlite_url(&dir, "target.db");
        crate::connect(&target)
            .await
            .unwrap()
            .set_behavior_setting("X", Some("1"), at(0))
            .await
            .unwrap();
        let before = exported(&target).await;
        let error = import(&target, dump.as_bytes()).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the database is not empty (behavior_settings 1)"),
            "{error}"
        );
        assert_eq!(exported(&target).await, before);
        let error = import(&source, dump.as_bytes()).await.unwrap_err();
        assert!(matches!(error, TransferError::NotEmpty(_)), "{error}");
    }

    #[tokio::test]
    async fn a_row_the_database_refuses_rolls_everything_back_and_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let source = sqlite_url(&dir, "source.db");
        populate(crate::connect(&source).await.unwrap().as_ref()).await;
        // The second token made to belong to a user the dump does not have.
        let dump = exported(&source).await.replacen(
            r#""user_id":2,"client_id":null"#,
            r#""user_id":99,"client_id":null"#,
            1,
        );
        let line = dump
            .lines()
            .position(|l| l.contains(r#""user_id":99"#))
            .unwrap()
            + 1;
        let mut targets = vec![sqlite_url(&dir, "target.db")];
        let database = postgres().await;
        targets.extend(database.as_ref().map(|d| d.url().to_owned()));
        for target in targets {
            let error = import(&target, dump.as_bytes()).await.unwrap_err();
            let message = error.to_string();
            assert!(
                message.starts_with(&format!(
                    "line {line}: the database refused this tokens row"
                )),
                "{message}"
            );
            assert!(message.to_lowercase().contains("foreign key"), "{message}");
            let empty = exported(&target).await;
            assert_eq!(empty.lines().count(), 2, "nothing imported: {empty}");
        }
    }

    #[tokio::test]
    async fn export_neither_creates_an_sqlite_file_nor_reads_an_unknown_schema() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.db");
        let error = export(&format!("sqlite://{}", missing.display()), Vec::new())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("does not exist"), "{error}");
        assert!(!missing.exists());

        let other = dir.path().join("other.db");
        let options = sqlite_options(&format!("sqlite://{}", other.display()))
            .unwrap()
            .create_if_missing(true);
        let mut connection = open_sqlite(options).await.unwrap();
        connection
            .execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        connection.close().await.unwrap();
        let error = export(&format!("sqlite://{}", other.display()), Vec::new())
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the database has no table users"),
            "{error}"
        );

        // A column this code does not know would be left behind: refused.
        let url = sqlite_url(&dir, "newer.db");
        crate::migrate(&url).await.unwrap();
        let mut connection = open_sqlite(sqlite_options(&url).unwrap()).await.unwrap();
        connection
            .execute("ALTER TABLE tokens ADD COLUMN colour TEXT")
            .await
            .unwrap();
        connection.close().await.unwrap();
        let error = export(&url, Vec::new()).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the table tokens has a column \"colour\""),
            "{error}"
        );
        let error = import(&url, Vec::new().as_slice()).await.unwrap_err();
        assert!(matches!(error, TransferError::Schema(_)), "{error}");
    }
}
