//! Applying migrations and saying which ones were applied, for `tessera migrate`. Each store
//! also runs its migrations at start; this is the same run, told what it did.
//!
//! Migrations run on a connection of their own whose slow statements are logged at debug
//! level (`quiet_slow_statements`): a migration of a table of a million tokens takes seconds,
//! and sqlx's warning would hold its whole SQL, a screenful in the middle of a start.

use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{Acquire, ConnectOptions};
use std::collections::HashSet;
use std::time::Duration;

/// Options for the migrations' connection: slow statements logged at debug level only.
pub(crate) fn quiet_slow_statements<O: ConnectOptions>(options: O) -> O {
    options.log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1))
}

/// Applies the migrations the database lacks and returns their descriptions, oldest first.
///
/// What was applied is read from the database before and after the run, so a migration that
/// another node applied in the meantime is not claimed.
pub(crate) async fn apply<C>(
    migrator: &Migrator,
    connection: &mut C,
) -> Result<Vec<String>, MigrateError>
where
    C: Migrate,
    for<'c> &'c mut C: Acquire<'c, Connection = &'c mut C>,
{
    // The lock is taken before the first read: sqlx's table is created here, before `run` takes
    // the lock itself, and nodes starting together on a new PostgreSQL database both created it
    // (a duplicate key in pg_type). PostgreSQL's advisory locks nest within a session, so
    // `run`'s own lock inside this one is fine; SQLite's is a no-op (its writes queue anyway).
    connection.lock().await?;
    let applied = apply_locked(migrator, connection).await;
    let unlocked = connection.unlock().await;
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

async fn apply_locked<C>(
    migrator: &Migrator,
    connection: &mut C,
) -> Result<Vec<String>, MigrateError>
where
    C: Migrate,
    for<'c> &'c mut C: Acquire<'c, Connection = &'c mut C>,
{
    connection.ensure_migrations_table().await?;
    let before = applied_versions(&mut *connection).await?;
    migrator.run(&mut *connection).await?;
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
