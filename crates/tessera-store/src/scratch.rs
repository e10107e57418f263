//! Throwaway PostgreSQL databases for tests: each test gets a database of its own with a unique
//! name on a shared server, and the database is dropped when the test ends, passed or failed.
//!
//! This lives in the library rather than in one crate's tests because the store suite and the
//! server's HTTP tests both need it. Nothing in tessera itself uses it.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection as _, Row as _};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;
use uuid::Uuid;

/// The server tests use when `TESSERA_TEST_POSTGRES_URL` names none.
const DEFAULT_TEST_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// The PostgreSQL server tests create their databases on: the one `TESSERA_TEST_POSTGRES_URL`
/// names, which must then answer, or else the local default, which may be absent.
pub struct TestServer {
    pub url: String,
    /// Named by the environment: a test that cannot reach it fails rather than skips.
    pub required: bool,
}

pub fn test_server() -> TestServer {
    match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => TestServer {
            url,
            required: true,
        },
        _ => TestServer {
            url: DEFAULT_TEST_SERVER.to_owned(),
            required: false,
        },
    }
}

/// How long reaching the server may take before it counts as absent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum ScratchError {
    /// No server answered (or it refused the connection): tests may skip.
    #[error("no PostgreSQL server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// The server answered but something else failed: always a test failure.
    #[error("PostgreSQL at {server}: {reason}")]
    Failed { server: String, reason: String },
}

/// A database created for one test, dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates a database named `{prefix}_{32 hex digits}` on the server at `server_url`
    /// (`postgres://user@host:port`; a database in the URL is only where to connect first).
    pub async fn create(server_url: &str, prefix: &str) -> Result<Self, ScratchError> {
        let name = format!("{prefix}_{}", Uuid::new_v4().simple());
        let mut admin = connect(server_url).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {}", quoted(&name)))
            .execute(&mut admin)
            .await
            .map_err(|e| {
                failed(
                    server_url,
                    format!("cannot create the database {name}: {e}"),
                )
            })?;
        let _ = admin.close().await;
        Ok(Self {
            server_url: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        })
    }

    /// The URL of the database, for `tessera_store::connect`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every text and byte string stored in any table of the database, one after the other:
    /// what a reader of the database's files would find, for tests that look for secrets.
    pub async fn stored_bytes(&self) -> Result<Vec<u8>, ScratchError> {
        let mut connection = connect(&self.url).await?;
        let fail = |e: sqlx::Error| failed(&self.server_url, format!("reading {}: {e}", self.name));
        let columns = sqlx::query(
            "SELECT table_name::TEXT, column_name::TEXT, data_type::TEXT
             FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'bytea')
             ORDER BY table_name, ordinal_position",
        )
        .fetch_all(&mut connection)
        .await
        .map_err(fail)?;
        let mut bytes = Vec::new();
        for column in columns {
            let (table, name, kind): (String, String, String) =
                (column.get(0), column.get(1), column.get(2));
            // Text is read as its UTF-8 bytes, so that one search covers both kinds.
            let value = if kind == "bytea" {
                quoted(&name)
            } else {
                format!("convert_to({}, 'UTF8')", quoted(&name))
            };
            let sql = format!(
                "SELECT {value} FROM {} WHERE {} IS NOT NULL",
                quoted(&table),
                quoted(&name)
            );
            for row in sqlx::query(&sql)
                .fetch_all(&mut connection)
                .await
                .map_err(fail)?
            {
                bytes.extend(row.get::<Vec<u8>, _>(0));
            }
        }
        let _ = connection.close().await;
        Ok(bytes)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // A thread with a runtime of its own: this may run inside a test's runtime, where
        // blocking on a future would panic, or while a failed test unwinds. FORCE ends the
        // connections the test's pool still holds.
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = connect(&server_url).await.map_err(|e| e.to_string())?;
                sqlx::raw_sql(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quoted(&name)
                ))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => {
                eprintln!("could not drop the test database {}: {reason}", self.name)
            }
            Err(_) => eprintln!(
                "could not drop the test database {}: the thread panicked",
                self.name
            ),
        }
    }
}

async fn connect(url: &str) -> Result<PgConnection, ScratchError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| failed(url, format!("invalid URL: {e}")))?
        .options([("client_min_messages", "warning")]);
    let server = server(&options);
    let unreachable = |reason: String| ScratchError::Unreachable {
        server: server.clone(),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// `user@host:port`, without the password the URL may hold.
fn server(options: &PgConnectOptions) -> String {
    format!(
        "{}@{}:{}",
        options.get_username(),
        options.get_host(),
        options.get_port()
    )
}

fn failed(url: &str, reason: String) -> ScratchError {
    let server = PgConnectOptions::from_str(url)
        .map(|options| server(&options))
        .unwrap_or_else(|_| "(an invalid URL)".to_owned());
    ScratchError::Failed { server, reason }
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The server URL with its database (path) replaced by `name`, query parameters kept.
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server_url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_parameters_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432", "t"),
            "postgres://postgres@127.0.0.1:5432/t"
        );
        assert_eq!(
            with_database("postgresql://u:p@db/postgres?sslmode=disable", "t"),
            "postgresql://u:p@db/t?sslmode=disable"
        );
    }
}
