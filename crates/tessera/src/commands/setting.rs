//! `tessera setting`: list, set and unset the behaviour settings, the few an admin changes
//! while tessera runs.
//!
//! They live in the database, not in the configuration: the server reads them on each request
//! that needs one (ExtraView's `get_token`, for instance), so a change here reaches a running
//! server, and every node of it, without a restart. A value set here wins over the flag, the
//! `TESSERA_*` variable and the file; unsetting it lets the configured value apply again.

use super::{cli_origin, open_authority, Announce};
use crate::config::Config;
use crate::output::{self, SettingView};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use tessera_core::{Authority, BehaviorSetting};

#[derive(Debug, Args)]
#[command(after_help = settings_help())]
pub struct SettingCommand {
    /// Print JSON instead of text
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    action: SettingAction,
}

#[derive(Debug, Subcommand)]
enum SettingAction {
    /// List every behaviour setting with its run-time value
    List,
    /// Set a value; the running server uses it from its next request, without a restart
    #[command(after_help = settings_help())]
    Set {
        /// The setting's name
        #[arg(value_name = "NAME")]
        name: String,
        /// The new value (checked before it is stored)
        #[arg(value_name = "VALUE", allow_hyphen_values = true)]
        value: String,
    },
    /// Remove the run-time value, so that the configured one applies again (no restart needed)
    #[command(after_help = settings_help())]
    Unset {
        /// The setting's name
        #[arg(value_name = "NAME")]
        name: String,
    },
}

impl SettingCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        // The name is parsed by the core rather than by clap, so that a wrong one is an
        // ordinary error (exit 1) whose message lists the names there are; and before the
        // database is opened, so that a typo changes nothing.
        let change = match &self.action {
            SettingAction::List => None,
            SettingAction::Set { name, value } => Some((name.parse()?, Some(value.as_str()))),
            SettingAction::Unset { name } => Some((name.parse()?, None)),
        };
        let authority = open_authority(config, Announce::Stderr).await?;
        let Some((setting, value)) = change else {
            return list(&authority, self.json).await;
        };
        let verb = if value.is_some() { "set" } else { "unset" };
        // The core checks the value and writes the change to the audit trail.
        authority
            .set_behavior(setting, value, &cli_origin())
            .await
            .with_context(|| format!("cannot {verb} {setting}"))?;
        changed(&authority, setting, self.json).await
    }
}

async fn list(authority: &Authority, json: bool) -> anyhow::Result<()> {
    let mut views = Vec::with_capacity(BehaviorSetting::ALL.len());
    for setting in BehaviorSetting::ALL {
        views.push(SettingView::new(
            setting,
            authority.behavior(setting).await?,
        ));
    }
    let mut out = std::io::stdout().lock();
    if json {
        return output::json(&mut out, &views);
    }
    Ok(output::settings_table(&mut out, &views)?)
}

/// Says what is stored now, read back so that the answer shows the value as the core keeps it
/// (`0600` is stored as `600`).
async fn changed(
    authority: &Authority,
    setting: BehaviorSetting,
    json: bool,
) -> anyhow::Result<()> {
    let view = SettingView::new(setting, authority.behavior(setting).await?);
    let mut out = std::io::stdout().lock();
    if json {
        return output::json(&mut out, &view);
    }
    match &view.value {
        Some(value) => writeln!(
            out,
            "{setting} is now {value}; a running server uses it from its next request."
        )?,
        None => writeln!(
            out,
            "{setting} is unset; the configured value applies again from the next request."
        )?,
    }
    Ok(())
}

/// The names and what each one does, for `--help`.
fn settings_help() -> String {
    let mut help = String::from(
        "Settings (a value set here wins over the configuration; the server reads it from the \
         database on each use, so no restart is needed):\n",
    );
    for setting in BehaviorSetting::ALL {
        help.push_str(&format!(
            "  {setting}\n          {}\n",
            description(setting)
        ));
    }
    help
}

fn description(setting: BehaviorSetting) -> &'static str {
    match setting {
        BehaviorSetting::ExtraViewTokenLifetime => {
            "Lifetime of ExtraView get_token tokens, in seconds (at most ten years); \
             configured with --oauth2-token-lifetime-seconds"
        }
    }
}
