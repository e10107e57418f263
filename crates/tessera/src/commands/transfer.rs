//! `tessera export` and `tessera import`: the whole database as one file, to move an installation
//! from SQLite to PostgreSQL (or anywhere else) without losing a user, a token or an event.
//!
//! Like `migrate`, neither creates the first admin: an import needs an empty database, and an
//! export only reads (it refuses an SQLite file that does not exist rather than creating one).
//! The dump holds password and token hashes and TOTP secrets, so a file written here is readable
//! by its owner only.

use crate::config::Config;
use anyhow::{bail, Context as _};
use clap::Args;
use std::fs::File;
use std::io::{BufReader, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use tessera_store::transfer;

#[derive(Debug, Args)]
pub struct ExportCommand {
    /// Write the dump to this file (created with mode 0600; an existing file is not
    /// overwritten) instead of standard output
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportCommand {
    /// Read the dump from this file instead of standard input
    #[arg(long, short, value_name = "FILE")]
    input: Option<PathBuf>,
}

impl ExportCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let summary = match &self.output {
            None => {
                let stdout = std::io::stdout();
                if stdout.is_terminal() {
                    // The scrollback of a terminal is no place for password hashes and TOTP
                    // secrets.
                    bail!(
                        "the dump holds password hashes and TOTP secrets: give --output FILE, \
                         or redirect standard output"
                    );
                }
                transfer::export(&config.database, stdout.lock())
                    .await
                    .context("cannot export the database")?
            }
            Some(path) => export_to_file(&config.database, path).await?,
        };
        writeln!(std::io::stderr(), "Exported {summary}.")?;
        Ok(())
    }
}

/// Exports into a new file, which is removed again if the export fails, so that a half-written
/// dump is never left looking like a whole one.
async fn export_to_file(database: &str, path: &Path) -> anyhow::Result<transfer::Summary> {
    let file = create_private(path)?;
    let exported = async {
        let summary = transfer::export(database, &file)
            .await
            .context("cannot export the database")?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(summary)
    }
    .await;
    if exported.is_err() {
        let _ = std::fs::remove_file(path);
    }
    exported
}

/// A new file only its owner may read: it holds what the database holds.
fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists: export writes only a new file; remove it or choose another name",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot create {}: {error}", path.display())
        }
    })
}

impl ImportCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let failed = "the import failed and imported nothing";
        let summary = match &self.input {
            Some(path) => {
                let file =
                    File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                transfer::import(&config.database, BufReader::new(file))
                    .await
                    .context(failed)?
            }
            None => {
                let stdin = std::io::stdin();
                if stdin.is_terminal() {
                    bail!(
                        "no dump to import: give --input FILE, or pipe a dump into standard input"
                    );
                }
                transfer::import(&config.database, stdin.lock())
                    .await
                    .context(failed)?
            }
        };
        writeln!(std::io::stderr(), "Imported {summary}.")?;
        Ok(())
    }
}
