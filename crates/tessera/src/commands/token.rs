//! `tessera token`: issue API tokens for scripts, list, show and revoke tokens of every door.
//!
//! An issued token's secret is shown once; tessera keeps only its hash.

use super::{cli_origin, find_user, one_of, open_authority, plain_text, Announce};
use crate::config::Config;
use crate::output::{self, TokenView, UserNames};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use std::io::Write as _;
use tessera_core::{
    Binding, Door, IssueRequest, Lifetime, SecretFormat, TokenKind, TokenQuery, TokenStatus,
};

/// How long an API token lives when neither `--lifetime` nor `--never-expires` is given.
const DEFAULT_API_TOKEN_DAYS: u64 = 90;

#[derive(Debug, Args)]
pub struct TokenCommand {
    /// Print JSON instead of text
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    action: TokenAction,
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Issue an API token for a user; its secret is shown once
    Issue(IssueArgs),
    /// List tokens, oldest first
    List(ListArgs),
    /// Show one token
    Show {
        /// The token id
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Revoke a token so that it is refused from now on
    Revoke {
        /// The token id
        #[arg(value_name = "ID")]
        id: i64,
    },
}

#[derive(Debug, Args)]
struct IssueArgs {
    /// The user the token acts as: a user name or numeric id
    #[arg(long, value_name = "USER")]
    user: String,

    /// A name to recognise the token by
    #[arg(long, value_name = "TEXT", default_value = "")]
    name: String,

    /// What the token is for
    #[arg(long, value_name = "TEXT", default_value = "")]
    description: String,

    /// Space-separated scopes [default: the default scope]
    #[arg(long, value_name = "SCOPES")]
    scope: Option<String>,

    /// How long the token lives: seconds, or a number with s, m, h or d (e.g. 12h, 30d) [default: 90d]
    #[arg(long, value_name = "DURATION", value_parser = parse_lifetime, conflicts_with = "never_expires")]
    lifetime: Option<Lifetime>,

    /// The token never expires (it can still be revoked)
    #[arg(long)]
    never_expires: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only tokens of this user (name or numeric id)
    #[arg(long, value_name = "USER")]
    user: Option<String>,

    /// Only tokens issued through this door
    #[arg(long, value_parser = one_of::<Door>(super::DOORS))]
    door: Option<Door>,

    /// Only tokens of this kind
    #[arg(long, value_parser = one_of::<TokenKind>(super::TOKEN_KINDS))]
    kind: Option<TokenKind>,

    /// Only tokens with this stored status
    #[arg(long, value_parser = one_of::<TokenStatus>(super::TOKEN_STATUSES))]
    status: Option<TokenStatus>,

    /// At most this many tokens (1 to 10000)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,

    /// Only tokens with an id above this one, to page through a long list
    #[arg(long, value_name = "ID")]
    after: Option<i64>,
}

impl TokenCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let authority = open_authority(config, Announce::Stderr).await?;
        let json = self.json;
        match self.action {
            TokenAction::Issue(args) => {
                let user = find_user(&authority, &args.user).await?;
                if !user.enabled {
                    // The token would be refused at every check; say so now rather than later.
                    bail!(
                        "user {:?} is disabled: enable it first with `tessera user enable {}`",
                        user.username,
                        user.id
                    );
                }
                let scope = authority.resolve_scope(args.scope.as_deref(), None)?;
                let lifetime = match (args.never_expires, args.lifetime) {
                    (true, _) => None,
                    (false, Some(lifetime)) => Some(lifetime),
                    (false, None) => Some(Lifetime::from_secs(DEFAULT_API_TOKEN_DAYS * 86_400)?),
                };
                let issued = authority
                    .issue(
                        IssueRequest {
                            idle_timeout: None,
                            kind: TokenKind::Api,
                            user_id: Some(user.id),
                            client_id: None,
                            name: plain_text("token name", &args.name, 200)?,
                            description: plain_text("description", &args.description, 2000)?,
                            scope,
                            lifetime,
                            binding: Binding::None,
                            format: SecretFormat::Tessera,
                            family: None,
                        },
                        &cli_origin(),
                    )
                    .await
                    .with_context(|| {
                        format!("cannot issue a token for user {:?}", user.username)
                    })?;
                let mut out = std::io::stdout().lock();
                if json {
                    let mut view = TokenView::from(&issued.token);
                    view.token = Some(issued.secret.expose().to_owned());
                    return output::json(&mut out, &view);
                }
                let expiry = issued.token.expires_at.map_or_else(
                    || "never expires".to_owned(),
                    |at| format!("expires {}", output::human_time(at)),
                );
                writeln!(
                    out,
                    "Issued API token {} for user {:?} (scope {:?}, {expiry}).",
                    issued.token.id,
                    user.username,
                    issued.token.scope.to_string()
                )?;
                output::secret(&mut out, "Its secret", issued.secret.expose())?;
            }
            TokenAction::List(args) => {
                let user_id = match &args.user {
                    Some(reference) => Some(find_user(&authority, reference).await?.id),
                    None => None,
                };
                let tokens = authority
                    .tokens(&TokenQuery {
                        user_id,
                        door: args.door,
                        kind: args.kind,
                        status: args.status,
                        after_id: args.after,
                        limit: args.limit,
                    })
                    .await?;
                if json {
                    let views: Vec<TokenView> = tokens.iter().map(TokenView::from).collect();
                    return output::json(&mut std::io::stdout().lock(), &views);
                }
                let names = UserNames::new(&authority.users().await?);
                let mut out = std::io::stdout().lock();
                output::tokens_table(&mut out, &tokens, &names, authority.now())?;
                if let Some(last) = tokens
                    .last()
                    .filter(|_| tokens.len() == args.limit as usize)
                {
                    // On stderr, so that stdout stays just the table.
                    eprintln!("(more tokens may follow: add --after {})", last.id);
                }
            }
            TokenAction::Show { id } => {
                let token = authority.token(id).await?;
                if json {
                    return output::json(&mut std::io::stdout().lock(), &TokenView::from(&token));
                }
                let names = UserNames::new(&authority.users().await?);
                output::token_fields(
                    &mut std::io::stdout().lock(),
                    &token,
                    &names,
                    authority.now(),
                )?;
            }
            TokenAction::Revoke { id } => {
                let was_active = authority.revoke_id(id, &cli_origin()).await?;
                let token = authority.token(id).await?;
                let mut out = std::io::stdout().lock();
                if json {
                    return output::json(&mut out, &TokenView::from(&token));
                }
                if was_active {
                    writeln!(out, "Revoked token {id}.")?;
                } else {
                    writeln!(
                        out,
                        "Token {id} was already {}; nothing to do.",
                        token.status
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// Parses `3600`, `90s`, `15m`, `12h` or `30d` into a lifetime the core accepts.
fn parse_lifetime(text: &str) -> Result<Lifetime, String> {
    let (digits, unit_seconds) = match text.char_indices().last() {
        Some((at, 's')) => (&text[..at], 1),
        Some((at, 'm')) => (&text[..at], 60),
        Some((at, 'h')) => (&text[..at], 3600),
        Some((at, 'd')) => (&text[..at], 86_400),
        _ => (text, 1),
    };
    let count: u64 = digits.parse().map_err(|_| {
        "use a number of seconds, or a number with s, m, h or d (e.g. 90s, 15m, 12h, 30d)"
            .to_owned()
    })?;
    let seconds = count
        .checked_mul(unit_seconds)
        .ok_or_else(|| "the lifetime is too long".to_owned())?;
    Lifetime::from_secs(seconds).map_err(crate::config::reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_take_seconds_or_a_unit() {
        let secs = |text| parse_lifetime(text).map(Lifetime::as_secs);
        assert_eq!(secs("3600"), Ok(3600));
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("12h"), Ok(43_200));
        assert_eq!(secs("30d"), Ok(2_592_000));
    }

    #[test]
    fn zero_huge_and_malformed_lifetimes_are_refused() {
        for text in [
            "0",
            "0d",
            "99999d",
            "",
            "d",
            "-5",
            "1.5h",
            "10w",
            "18446744073709551615d",
        ] {
            assert!(parse_lifetime(text).is_err(), "{text:?} was accepted");
        }
    }
}
