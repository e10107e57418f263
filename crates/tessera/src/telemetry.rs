//! Logging: `tracing` events to stderr, as text or JSON, filtered by `log_level`.
//!
//! stdout is kept for what a command prints on purpose (tables, JSON, a secret shown once), so
//! that a script can capture it without log lines mixed in. Nothing in this binary logs a
//! password, a token, a secret or an Authorization header; secrets are printed with
//! `writeln!` to stdout only, never through `tracing`.

use crate::config::{LogConfig, LogFormat};
use anyhow::anyhow;
use std::io::IsTerminal as _;

pub fn init(log: LogConfig) -> anyhow::Result<()> {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(log.filter);
    let installed = match log.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| anyhow!("cannot set up logging: {e}"))
}
