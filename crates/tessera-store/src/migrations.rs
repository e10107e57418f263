//! Applying migrations and saying which ones were applied, for `tessera migrate`. Each store
//! also runs its migrations at start; this is the same run, told what it did.

use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{Database, Pool};
use std::collections::HashSet;

/// Applies the migrations the database lacks and returns their descriptions, oldest first.
///
/// What was applied is read from the database before and after the run, so a migration that
/// another node applied in the meantime is not claimed.
pub(crate) async fn apply<DB>(
    migrator: &Migrator,
    pool: &Pool<DB>,
) -> Result<Vec<String>, MigrateError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let mut connection = pool.acquire().await?;
    connection.ensure_migrations_table().await?;
    let before = applied_versions(&mut *connection).await?;
    migrator.run(pool).await?;
    let after = applied_versions(&mut *connection).await?;
    Ok(migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .filter(|m| after.contains(&m.version) && !before.contains(&m.version))
        .map(|m| m.description.to_string())
        .collect())
}

async fn applied_versions(connection: &mut impl Migrate) -> Result<HashSet<i64>, MigrateError> {
    Ok(connection
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect())
}
