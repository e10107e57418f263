//! tessera's storage: the core's [`Store`] port implemented on SQLite. Every SQL statement of
//! the project lives in this crate; the migrations are numbered and reversible, and run at
//! start.

mod sqlite;

pub use sqlite::SqliteStore;

use std::sync::Arc;
use tessera_core::{Store, StoreError};

/// Opens the store a database URL names, creating and migrating it as needed.
///
/// `sqlite://path`, `sqlite:path` and a bare file path all mean an SQLite file.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(StoreError::Unavailable(
            "PostgreSQL is not supported yet: use an SQLite database (sqlite://tessera.db)".into(),
        ));
    }
    Ok(Arc::new(SqliteStore::open(url).await?))
}
