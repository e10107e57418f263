//! The subcommands. `serve` runs the HTTP server; the others administer the same database
//! directly through the core, as the operator on the machine (door `cli` in the audit trail).

pub mod audit;
pub mod client;
pub mod migrate;
pub mod serve;
pub mod setting;
pub mod token;
pub mod transfer;
pub mod user;

use crate::config::Config;
use anyhow::{bail, Context as _};
use std::io::BufRead as _;
use std::io::Write as _;
use std::sync::Arc;
use tessera_core::password::MAX_PASSWORD_BYTES;
use tessera_core::{Authority, Bootstrap, CoreError, Door, Origin, Password, SystemClock, User};

/// The only way to choose the first admin's password. It is not a flag, which anyone on the
/// machine could read in the process list, nor a file setting, which tends to be committed.
const BOOTSTRAP_PASSWORD_VAR: &str = "TESSERA_BOOTSTRAP_ADMIN_PASSWORD";

/// Where a generated first password is shown: `serve` logs to stderr and shows it on stdout;
/// the admin commands keep stdout for their (JSON) answer and show it on stderr.
#[derive(Debug, Clone, Copy)]
pub enum Announce {
    Stdout,
    Stderr,
}

/// Opens (and migrates) the database and builds the authority over it. Whichever command
/// opens a new database first creates the super admin `Admin`, so that it is always user 1.
pub async fn open_authority(config: &Config, announce_to: Announce) -> anyhow::Result<Authority> {
    let store = tessera_store::connect(&config.database)
        .await
        .context("cannot open the database")?;
    let authority = Authority::new(store, Arc::new(SystemClock), config.core.clone())
        .context("invalid settings")?;
    let bootstrap = authority
        .bootstrap(bootstrap_password()?)
        .await
        .context("cannot create the first super admin")?;
    if let Some(bootstrap) = bootstrap {
        announce(&bootstrap, announce_to)?;
    }
    Ok(authority)
}

fn bootstrap_password() -> anyhow::Result<Option<Password>> {
    // An empty variable is what `VAR=` in a compose file or unit gives: treat it as unset, and
    // a password is generated and shown.
    match std::env::var_os(BOOTSTRAP_PASSWORD_VAR) {
        None => Ok(None),
        Some(value) if value.is_empty() => Ok(None),
        Some(value) => {
            let Some(text) = value.to_str() else {
                bail!("{BOOTSTRAP_PASSWORD_VAR} is not valid UTF-8");
            };
            let password =
                Password::new(text).with_context(|| format!("invalid {BOOTSTRAP_PASSWORD_VAR}"))?;
            Ok(Some(password))
        }
    }
}

/// Says what the first start did. A generated password is shown once, never logged: the log
/// is kept and shipped elsewhere.
fn announce(bootstrap: &Bootstrap, to: Announce) -> anyhow::Result<()> {
    let name = &bootstrap.admin.username;
    let Some(password) = &bootstrap.generated_password else {
        tracing::info!(
            user = %name,
            "created the super admin with the password from {BOOTSTRAP_PASSWORD_VAR}"
        );
        return Ok(());
    };
    let message = format!(
        "Created the super admin {name:?}. Its password, shown only this once:\n\n    {}\n",
        password.expose()
    );
    let shown = match to {
        Announce::Stdout => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{message}").and_then(|()| out.flush())
        }
        Announce::Stderr => writeln!(std::io::stderr().lock(), "{message}"),
    };
    if let Err(error) = shown {
        bail!(
            "created the super admin {name:?} but could not print its password ({error}): \
             set a new one with `tessera user passwd {name}`"
        );
    }
    Ok(())
}

/// Every action of this binary is the operator's, through the CLI door.
pub fn cli_origin() -> Origin {
    Origin::new(Door::Cli)
}

/// Finds a user by numeric id or by name.
///
/// Names may be digits too, so a number is tried both ways; if it is the id of one user and
/// the name of another, guessing could disable or delete the wrong one, so the command stops.
pub async fn find_user(authority: &Authority, reference: &str) -> anyhow::Result<User> {
    let by_name = found(authority.user_by_name(reference).await)?;
    let by_id = match reference.parse::<i64>() {
        Ok(id) => found(authority.user(id).await)?,
        Err(_) => None,
    };
    match (by_id, by_name) {
        (Some(a), Some(b)) if a.id != b.id => bail!(
            "{reference:?} is both the id of user {:?} and the name of user {:?}: \
             give the id of the one you mean ({} or {})",
            a.username,
            b.username,
            a.id,
            b.id
        ),
        (Some(user), _) | (None, Some(user)) => Ok(user),
        (None, None) => bail!("user {reference:?} not found"),
    }
}

/// Turns the core's "not found" into `None`, keeping other errors.
pub fn found<T>(result: Result<T, CoreError>) -> Result<Option<T>, CoreError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(CoreError::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Reads a password as one line of stdin (so it never appears in the process list or the shell
/// history, as an argument would), without its line ending.
pub fn password_from_stdin() -> anyhow::Result<Password> {
    use std::io::IsTerminal as _;
    use std::io::Read as _;
    if std::io::stdin().is_terminal() {
        // Without a terminal crate the input cannot be hidden, so at least say it is not.
        eprint!("Password (typed input is shown; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    // Two bytes more than the longest password leave room for "\r\n", and the bound keeps a
    // runaway pipe from filling memory.
    let limit = (MAX_PASSWORD_BYTES + 2) as u64;
    std::io::stdin()
        .lock()
        .take(limit)
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&line);
    if password.is_empty() {
        bail!("no password on stdin: give it as one line, e.g. `printf '%s\\n' \"$PASSWORD\" | tessera ...`");
    }
    Ok(Password::new(password)?)
}

/// Checks free text an operator gives (display names, token names and descriptions): no control
/// characters, which would garble tables and logs, and a length a table can show.
pub fn plain_text(what: &str, value: &str, max_chars: usize) -> anyhow::Result<String> {
    if value.chars().any(char::is_control) {
        bail!("the {what} must not contain control characters");
    }
    if value.chars().count() > max_chars {
        bail!("the {what} is longer than {max_chars} characters");
    }
    Ok(value.to_owned())
}

/// A clap parser that lists `names` in `--help` and parses them with the core's `FromStr`, so
/// the CLI spells every role, grant, door and status exactly as the core and the JSON do.
pub fn one_of<T>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = CoreError> + Clone + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(names).try_map(|name| name.parse::<T>())
}

pub const ROLES: &[&str] = &["user", "admin", "super_admin"];
pub const PERMISSIONS: &[&str] = &["USER.EXCLUDE_2FA", "manage_api_tokens"];
pub const GRANTS: &[&str] = &["password", "client_credentials", "refresh_token"];
pub const DOORS: &[&str] = &[
    "oauth",
    "extraview",
    "owin",
    "zabbix",
    "arcgis",
    "cli",
    "forward_auth",
];
pub const TOKEN_KINDS: &[&str] = &["session", "api", "refresh"];
pub const TOKEN_STATUSES: &[&str] = &["active", "disabled", "revoked", "rotated"];
pub const AUDIT_KINDS: &[&str] = &[
    "token.issued",
    "token.refused",
    "token.revoked",
    "token.changed",
    "token.refresh_reused",
    "login.failed",
    "login.locked",
    "user.created",
    "user.changed",
    "user.deleted",
    "client.created",
    "client.deleted",
    "setting.changed",
];

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::{AuditKind, GrantType, Permission, Role, TokenKind, TokenStatus};

    /// The lists above are written out for `--help`; each must be a name the core accepts, and
    /// the core's lists must not have grown past them.
    #[test]
    fn every_listed_name_parses_in_the_core() {
        assert!(ROLES.iter().all(|n| n.parse::<Role>().is_ok()));
        assert!(PERMISSIONS.iter().all(|n| n.parse::<Permission>().is_ok()));
        assert!(GRANTS.iter().all(|n| n.parse::<GrantType>().is_ok()));
        assert!(DOORS.iter().all(|n| n.parse::<Door>().is_ok()));
        assert!(TOKEN_KINDS.iter().all(|n| n.parse::<TokenKind>().is_ok()));
        assert!(TOKEN_STATUSES
            .iter()
            .all(|n| n.parse::<TokenStatus>().is_ok()));
        assert!(AUDIT_KINDS.iter().all(|n| n.parse::<AuditKind>().is_ok()));
        assert_eq!(GRANTS.len(), GrantType::ALL.len());
        assert_eq!(AUDIT_KINDS.len(), AuditKind::ALL.len());
    }
}
