//! The `tessera` binary: the server (`tessera serve`) and the admin commands (`user`, `client`,
//! `token`, `audit`, `setting`, `migrate`, `export`, `import`) in one executable, over one
//! database.
//!
//! main parses the command line, loads the configuration every command shares, sets up
//! logging and hands over to the command. An error ends as one line on stderr and exit code 1;
//! clap's own usage errors exit with 2.

mod commands;
mod config;
mod output;
mod telemetry;

use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use commands::audit::AuditCommand;
use commands::client::ClientCommand;
use commands::migrate::MigrateCommand;
use commands::serve::ServeArgs;
use commands::setting::SettingCommand;
use commands::token::TokenCommand;
use commands::transfer::{ExportCommand, ImportCommand};
use commands::user::UserCommand;
use config::{GlobalArgs, SettingsArgs};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "tessera: a self-hosted API token authority",
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server
    Serve(Box<ServeArgs>),
    /// Manage users
    User(UserCommand),
    /// Manage OAuth clients
    Client(ClientCommand),
    /// Issue, list and revoke tokens
    Token(TokenCommand),
    /// Read the audit trail
    Audit(AuditCommand),
    /// Change how the running server behaves, without a restart
    Setting(SettingCommand),
    /// Apply the database migrations tessera lacks (every command also does so on its own)
    Migrate(MigrateCommand),
    /// Write every user, client, token, audit event and setting to a dump file (JSON Lines)
    Export(ExportCommand),
    /// Fill an empty database from a dump written by `tessera export`
    Import(ImportCommand),
}

/// jemalloc rather than glibc's malloc: a quarter of a client_credentials grant's CPU in the
/// runtime's workers was glibc's malloc and free (BENCHMARKS.md). Its background thread hands
/// freed memory back to the system a second after it is freed (an Argon2 hash's 19 MiB
/// included), so an idle server stays small.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, which it reads as a C string (`malloc_conf`) when it starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_SETTINGS: &u8 =
    &b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0"[0];

fn main() -> ExitCode {
    // Parsed through ArgMatches rather than `Cli::parse()` because config loading asks clap
    // where each value came from (flag, environment or default).
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain on one line: "cannot open the database: …".
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<()> {
    let (settings, settings_matches) = match &cli.command {
        Command::Serve(args) => {
            let Some(serve_matches) = matches.subcommand_matches("serve") else {
                anyhow::bail!("internal error: the serve command's arguments are missing");
            };
            (args.settings.clone(), serve_matches.clone())
        }
        _ => SettingsArgs::from_environment()?,
    };
    let (config, log) = config::load(&cli.global, matches, &settings, &settings_matches)?;
    telemetry::init(log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .on_thread_start(tessera_core::thread_scheduling::ask_for_a_short_slice)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(_) => commands::serve::run(config).await,
            Command::User(command) => command.run(&config).await,
            Command::Client(command) => command.run(&config).await,
            Command::Token(command) => command.run(&config).await,
            Command::Audit(command) => command.run(&config).await,
            Command::Setting(command) => command.run(&config).await,
            Command::Migrate(command) => command.run(&config).await,
            Command::Export(command) => command.run(&config).await,
            Command::Import(command) => command.run(&config).await,
        }
    })
}
