//! `tessera serve`: opens the database, creates the first super admin if there is none, and
//! runs the HTTP server until SIGINT or SIGTERM, then drains open requests and stops.

use super::{open_authority, Announce};
use crate::config::{Config, SettingsArgs};
use anyhow::Context as _;
use clap::Args;
use std::future::Future;

#[derive(Debug, Args)]
#[command(
    after_help = "On first start, the super admin \"Admin\" is created with the password \
    in TESSERA_BOOTSTRAP_ADMIN_PASSWORD (read from the environment only), or with a generated \
    one printed once to stdout."
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    // Logs go to stderr, so the generated password goes to stdout.
    let authority = open_authority(&config, Announce::Stdout).await?;

    // Listen for signals before saying we listen, so that a supervisor that stops us as soon as
    // we are up still gets a graceful shutdown.
    let shutdown = shutdown_signal()?;
    let listen = config.server.listen;
    let server = tessera_server::bind(config.server, authority)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!("tessera listening on {}", server.url());
    #[cfg(unix)]
    if let Some(reloader) = server.tls_reloader() {
        reload_tls_on_sighup(reloader)?;
    }
    server
        .serve_until(shutdown)
        .await
        .context("the HTTP server failed")?;
    tracing::info!("tessera stopped");
    Ok(())
}

/// Reads the certificate and key again on every SIGHUP (after a renewal, say); a failed read
/// is logged and the certificate in use stays.
#[cfg(unix)]
fn reload_tls_on_sighup(reloader: tessera_server::TlsReloader) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match reloader.reload().await {
                Ok(()) => tracing::info!("SIGHUP: reloaded the TLS certificate"),
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: kept the TLS certificate in use")
                }
            }
        }
    });
    Ok(())
}

/// Completes on SIGINT or SIGTERM. The handlers are installed now, not when the future is
/// first polled, so a signal that arrives during start-up is not lost (or fatal).
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!("{name} received: finishing open requests");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("Ctrl-C received: finishing open requests"),
            Err(error) => {
                tracing::error!(%error, "cannot listen for Ctrl-C; stop the process to end it");
                std::future::pending::<()>().await;
            }
        }
    })
}
