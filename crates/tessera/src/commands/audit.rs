//! `tessera audit list`: the audit trail, newest first.

use super::{find_user, found, one_of, open_authority, Announce};
use crate::config::Config;
use crate::output::{self, AuditView, UserNames};
use clap::{Args, Subcommand};
use tessera_core::{AuditKind, AuditQuery, Authority, Door};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Args)]
pub struct AuditCommand {
    /// Print JSON instead of text
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    action: AuditAction,
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// List audit events, newest first
    List(ListArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only events of this kind
    #[arg(long, value_parser = one_of::<AuditKind>(super::AUDIT_KINDS))]
    kind: Option<AuditKind>,

    /// Only events that came through this door
    #[arg(long, value_parser = one_of::<Door>(super::DOORS))]
    door: Option<Door>,

    /// Only events about or by this user (name or numeric id; the id of a deleted user works)
    #[arg(long, value_name = "USER")]
    user: Option<String>,

    /// Only events about this token id
    #[arg(long, value_name = "ID")]
    token: Option<i64>,

    /// Only events at or after this time (RFC 3339, e.g. 2026-01-31T00:00:00Z)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<OffsetDateTime>,

    /// At most this many events (1 to 10000)
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
}

impl AuditCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let authority = open_authority(config, Announce::Stderr).await?;
        let AuditAction::List(args) = self.action;
        let user_id = match &args.user {
            Some(reference) => Some(audit_user_id(&authority, reference).await?),
            None => None,
        };
        let events = authority
            .audit_events(&AuditQuery {
                kind: args.kind,
                door: args.door,
                user_id,
                token_id: args.token,
                since: args.since,
                limit: args.limit,
            })
            .await?;
        if self.json {
            let views: Vec<AuditView> = events.iter().map(AuditView::from).collect();
            return output::json(&mut std::io::stdout().lock(), &views);
        }
        let names = UserNames::new(&authority.users().await?);
        Ok(output::audit_table(
            &mut std::io::stdout().lock(),
            &events,
            &names,
        )?)
    }
}

/// The trail outlives the users it names, so a numeric id is taken as it is when no user has
/// it any more.
async fn audit_user_id(authority: &Authority, reference: &str) -> anyhow::Result<i64> {
    if let Ok(id) = reference.parse::<i64>() {
        let by_name = found(authority.user_by_name(reference).await)?;
        if by_name.is_none() && found(authority.user(id).await)?.is_none() {
            return Ok(id);
        }
    }
    Ok(find_user(authority, reference).await?.id)
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("use an RFC 3339 time such as 2026-01-31T00:00:00Z ({e})"))
}
