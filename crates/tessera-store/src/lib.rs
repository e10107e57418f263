//! tessera's storage: the core's [`Store`] port implemented on SQLite and on PostgreSQL. Every
//! SQL statement of the project lives in this crate; the migrations are numbered and
//! reversible, one set per database, and run at start.
//!
//! Both stores keep the same tables with the same values (times as Unix milliseconds, secrets
//! only as SHA-256 hashes), read rows back with the same code (`rows`) and build their searches
//! and lists with the same code (`queries`); one test suite checks both.

mod announcements;
mod checkpoints;
mod issuing;
mod migrations;
mod postgres;
mod queries;
mod rows;
pub mod scratch;
mod sqlite;
mod text_search;
pub mod transfer;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use std::sync::Arc;
use tessera_core::{Store, StoreError};

/// Whether a database URL names PostgreSQL (`postgres://…` or `postgresql://…`).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store a database URL names, creating (SQLite) and migrating it as needed.
///
/// `postgres://…` and `postgresql://…` mean a PostgreSQL database, which must exist;
/// `sqlite://path`, `sqlite:path` and a bare file path mean an SQLite file.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if is_postgres(url) {
        return Ok(Arc::new(PgStore::open(url).await?));
    }
    Ok(Arc::new(SqliteStore::open(url).await?))
}

/// Applies the migrations the database a URL names lacks, and returns their descriptions,
/// oldest first (none when it is up to date). [`connect`] does the same silently.
pub async fn migrate(url: &str) -> Result<Vec<String>, StoreError> {
    if is_postgres(url) {
        return PgStore::migrate(url).await;
    }
    SqliteStore::migrate(url).await
}
