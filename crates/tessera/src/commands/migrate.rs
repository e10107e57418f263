//! `tessera migrate`: applies the schema migrations the database lacks, and says which.
//!
//! Every command migrates the database it opens, so this is never required; it is for an
//! operator who wants the schema changed at a moment of their choosing (before a rolling
//! upgrade of several nodes sharing one PostgreSQL database, say) and to see what changed. It
//! touches nothing else: no first admin is created.

use crate::config::Config;
use crate::output;
use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use std::io::Write as _;

#[derive(Debug, Args)]
pub struct MigrateCommand {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

/// `--json`'s answer: the migrations applied, oldest first; empty when up to date.
#[derive(Debug, Serialize)]
struct MigrateView {
    applied: Vec<String>,
}

impl MigrateCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let applied = tessera_store::migrate(&config.database)
            .await
            .context("cannot migrate the database")?;
        let mut out = std::io::stdout().lock();
        if self.json {
            return output::json(&mut out, &MigrateView { applied });
        }
        if applied.is_empty() {
            writeln!(out, "The database is up to date.")?;
        }
        for description in &applied {
            writeln!(out, "Applied migration: {description}")?;
        }
        Ok(())
    }
}
