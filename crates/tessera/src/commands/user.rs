//! `tessera user`: create, list, show, re-password, enable, disable, unlock and delete users, and set
//! up their two-factor sign-in.
//!
//! A password never comes from an argument, which any user of the machine could read in the
//! process list: it is read from stdin with `--password-stdin`, or generated and shown once.
//! A TOTP secret is likewise generated here and shown once, inside its `otpauth://` URI.

use super::{
    cli_origin, find_user, one_of, open_authority, password_from_stdin, plain_text, Announce,
};
use crate::config::Config;
use crate::output::{self, UserView};
use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::Write as _;
use tessera_core::{Authority, Password, Permission, Role, User, Username};

#[derive(Debug, Args)]
pub struct UserCommand {
    /// Print JSON instead of text
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    action: UserAction,
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Create a user; its password is read from stdin or generated and shown once
    Add(AddArgs),
    /// List every user
    List,
    /// Show one user
    Show(UserRef),
    /// Set a user's password, read from stdin or generated and shown once
    Passwd {
        #[command(flatten)]
        user: UserRef,
        /// Read the new password as one line from stdin instead of generating one
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a user from signing in and their tokens from working
    Disable(UserRef),
    /// Let a disabled user sign in again
    Enable(UserRef),
    /// End a user's lockout after failed sign-ins, and forget the failures
    Unlock(UserRef),
    /// Delete a user and every token they hold
    Delete(UserRef),
    /// Turn two-factor sign-in (a one-time code from an authenticator app) on or off
    Totp {
        #[command(subcommand)]
        action: TotpAction,
    },
    /// Let the API take a user's password alone, without a one-time code (ExtraView's
    /// "bypass 2FA for the API")
    #[command(
        long_about = "Let the API take a user's password alone, without a one-time code \
        (ExtraView's \"bypass 2FA for the API\").\n\nIt only counts for users with the \
        USER.EXCLUDE_2FA permission, given with `user add --permission USER.EXCLUDE_2FA`; super \
        admins have it through their role."
    )]
    ApiBypass {
        /// Whether the password alone is enough for the API
        #[arg(value_enum, value_name = "on|off")]
        state: OnOff,
        #[command(flatten)]
        user: UserRef,
    },
}

#[derive(Debug, Subcommand)]
enum TotpAction {
    /// Give a user a new TOTP secret and show it once as an otpauth:// URI; enabling again
    /// replaces the secret
    Enable(UserRef),
    /// Let a user sign in with the password alone again
    Disable(UserRef),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
struct UserRef {
    /// User name or numeric id
    #[arg(value_name = "USER")]
    user: String,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// User name: 1 to 100 characters, unique ignoring case
    #[arg(value_name = "NAME", value_parser = Username::parse)]
    name: Username,

    /// Name shown to people [default: NAME]
    #[arg(long, value_name = "TEXT")]
    display_name: Option<String>,

    /// What the user may do
    #[arg(long, value_parser = one_of::<Role>(super::ROLES), default_value = "user")]
    role: Role,

    /// A permission on top of the role's (repeatable)
    #[arg(long = "permission", value_name = "PERMISSION", value_parser = one_of::<Permission>(super::PERMISSIONS))]
    permissions: Vec<Permission>,

    /// Read the password as one line from stdin instead of generating one
    #[arg(long)]
    password_stdin: bool,
}

impl UserCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let authority = open_authority(config, Announce::Stderr).await?;
        let json = self.json;
        match self.action {
            UserAction::Add(args) => add(&authority, args, json).await,
            UserAction::List => {
                let users = authority.users().await?;
                let mut out = std::io::stdout().lock();
                if json {
                    let views: Vec<UserView> = users.iter().map(UserView::from).collect();
                    output::json(&mut out, &views)
                } else {
                    Ok(output::users_table(&mut out, &users)?)
                }
            }
            UserAction::Show(reference) => {
                let user = find_user(&authority, &reference.user).await?;
                show(&user, json)
            }
            UserAction::Passwd {
                user,
                password_stdin,
            } => passwd(&authority, &user.user, password_stdin, json).await,
            UserAction::Disable(reference) => {
                set_enabled(&authority, &reference.user, false, json).await
            }
            UserAction::Enable(reference) => {
                set_enabled(&authority, &reference.user, true, json).await
            }
            UserAction::Unlock(reference) => unlock(&authority, &reference.user, json).await,
            UserAction::Delete(reference) => delete(&authority, &reference.user, json).await,
            UserAction::Totp {
                action: TotpAction::Enable(reference),
            } => enable_totp(&authority, &reference.user, json).await,
            UserAction::Totp {
                action: TotpAction::Disable(reference),
            } => disable_totp(&authority, &reference.user, json).await,
            UserAction::ApiBypass { state, user } => {
                set_api_bypass(&authority, &user.user, state == OnOff::On, json).await
            }
        }
    }
}

async fn add(authority: &Authority, args: AddArgs, json: bool) -> anyhow::Result<()> {
    let display_name = match args.display_name {
        Some(text) => plain_text("display name", &text, 200)?,
        None => args.name.as_str().to_owned(),
    };
    let (password, generated) = new_password(args.password_stdin)?;
    let mut permissions = args.permissions;
    permissions.sort();
    permissions.dedup();
    let name = args.name.to_string();
    let user = authority
        .create_user(
            args.name,
            display_name,
            args.role,
            permissions,
            &password,
            &cli_origin(),
        )
        .await
        .with_context(|| format!("cannot create user {name:?}"))?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut view = UserView::from(&user);
        view.password = generated.then(|| password.expose().to_owned());
        return output::json(&mut out, &view);
    }
    writeln!(
        out,
        "Created user {:?} (id {}, role {}).",
        user.username, user.id, user.role
    )?;
    if generated {
        output::secret(&mut out, "Its password", password.expose())?;
    }
    Ok(())
}

fn show(user: &User, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        output::json(&mut out, &UserView::from(user))
    } else {
        Ok(output::user_fields(&mut out, user)?)
    }
}

async fn passwd(
    authority: &Authority,
    reference: &str,
    password_stdin: bool,
    json: bool,
) -> anyhow::Result<()> {
    let user = find_user(authority, reference).await?;
    let (password, generated) = new_password(password_stdin)?;
    authority
        .set_password(user.id, &password, &cli_origin())
        .await?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut view = UserView::from(&user);
        view.password = generated.then(|| password.expose().to_owned());
        return output::json(&mut out, &view);
    }
    writeln!(out, "Changed the password of user {:?}.", user.username)?;
    if generated {
        output::secret(&mut out, "The new password", password.expose())?;
    }
    Ok(())
}

async fn set_enabled(
    authority: &Authority,
    reference: &str,
    enabled: bool,
    json: bool,
) -> anyhow::Result<()> {
    let user = find_user(authority, reference).await?;
    // The core refuses to disable the last enabled super admin.
    authority
        .set_user_enabled(user.id, enabled, &cli_origin())
        .await
        .with_context(|| format!("cannot change user {:?}", user.username))?;
    let user = authority.user(user.id).await?;
    if json {
        return show(&user, true);
    }
    let done = if enabled { "Enabled" } else { "Disabled" };
    writeln!(std::io::stdout().lock(), "{done} user {:?}.", user.username)?;
    Ok(())
}

async fn unlock(authority: &Authority, reference: &str, json: bool) -> anyhow::Result<()> {
    let user = find_user(authority, reference).await?;
    authority
        .unlock_user(user.id, &cli_origin())
        .await
        .with_context(|| format!("cannot unlock user {:?}", user.username))?;
    let user = authority.user(user.id).await?;
    if json {
        return show(&user, true);
    }
    writeln!(
        std::io::stdout().lock(),
        "Unlocked user {:?}: they may sign in again.",
        user.username
    )?;
    Ok(())
}

async fn delete(authority: &Authority, reference: &str, json: bool) -> anyhow::Result<()> {
    let user = find_user(authority, reference).await?;
    authority
        .delete_user(user.id, &cli_origin())
        .await
        .with_context(|| format!("cannot delete user {:?}", user.username))?;
    if json {
        return show(&user, true);
    }
    writeln!(
        std::io::stdout().lock(),
        "Deleted user {:?} and all their tokens.",
        user.username
    )?;
    Ok(())
}

/// What `user totp enable --json` prints: the user, and the URI holding their new secret.
#[derive(Debug, Serialize)]
struct TotpEnrolment {
    user: UserView,
    otpauth_uri: String,
}

async fn enable_totp(authority: &Authority, reference: &str, json: bool) -> anyhow::Result<()> {
    let before = find_user(authority, reference).await?;
    let uri = authority
        .enable_totp(before.id, &cli_origin())
        .await
        .with_context(|| format!("cannot enable two-factor sign-in for {:?}", before.username))?;
    let user = authority.user(before.id).await?;
    let mut out = std::io::stdout().lock();
    if json {
        let enrolment = TotpEnrolment {
            user: UserView::from(&user),
            otpauth_uri: uri,
        };
        return output::json(&mut out, &enrolment);
    }
    if before.totp_enabled {
        writeln!(
            out,
            "Replaced the two-factor secret of user {:?}: the old authenticator entry no longer works.",
            user.username
        )?;
    } else {
        writeln!(
            out,
            "Enabled two-factor sign-in for user {:?}: they now sign in with their password and a one-time code.",
            user.username
        )?;
    }
    output::secret(
        &mut out,
        "Its otpauth URI, to add to an authenticator app (as text or a QR code)",
        &uri,
    )?;
    Ok(())
}

async fn disable_totp(authority: &Authority, reference: &str, json: bool) -> anyhow::Result<()> {
    let user = find_user(authority, reference).await?;
    // Turning off what is off would only add a misleading line to the audit trail.
    let changed = user.totp_enabled;
    if changed {
        authority
            .disable_totp(user.id, &cli_origin())
            .await
            .with_context(|| {
                format!("cannot disable two-factor sign-in for {:?}", user.username)
            })?;
    }
    let user = authority.user(user.id).await?;
    if json {
        return show(&user, true);
    }
    let message = if changed {
        "Disabled two-factor sign-in for user"
    } else {
        "Two-factor sign-in was already off for user"
    };
    writeln!(std::io::stdout().lock(), "{message} {:?}.", user.username)?;
    Ok(())
}

async fn set_api_bypass(
    authority: &Authority,
    reference: &str,
    on: bool,
    json: bool,
) -> anyhow::Result<()> {
    let user = find_user(authority, reference).await?;
    let changed = user.api_2fa_bypass != on;
    if changed {
        authority
            .set_api_2fa_bypass(user.id, on, &cli_origin())
            .await
            .with_context(|| format!("cannot change user {:?}", user.username))?;
    }
    let user = authority.user(user.id).await?;
    if on && !user.has_permission(Permission::Exclude2fa) {
        // On stderr, so that it is seen with --json too without spoiling the JSON.
        eprintln!(
            "note: the bypass has no effect while {:?} lacks the USER.EXCLUDE_2FA permission",
            user.username
        );
    }
    if json {
        return show(&user, true);
    }
    let state = if on { "on" } else { "off" };
    let message = if changed {
        format!("Turned the API two-factor bypass {state}")
    } else {
        format!("The API two-factor bypass was already {state}")
    };
    writeln!(
        std::io::stdout().lock(),
        "{message} for user {:?}.",
        user.username
    )?;
    Ok(())
}

/// The password to set, and whether it was generated (and so must be shown).
fn new_password(from_stdin: bool) -> anyhow::Result<(Password, bool)> {
    if from_stdin {
        Ok((password_from_stdin()?, false))
    } else {
        Ok((Password::generate(), true))
    }
}
