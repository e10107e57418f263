//! What the admin commands print: aligned tables and `key  value` lists for people, JSON for
//! scripts (`--json`), and the one place a secret is shown.
//!
//! The JSON shapes are the CLI's public interface, so they are spelt out here as view structs
//! rather than derived from the domain types, which may change shape for other reasons.

use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Write};
use tessera_core::{
    AuditEvent, BehaviorSetting, Binding, Client, Permission, Token, TokenStatus, User,
};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// A time as RFC 3339 in UTC, as every JSON time is written.
pub fn rfc3339(at: OffsetDateTime) -> String {
    // Formatting fails only for years outside 0..=9999, which no clock gives; the Unix time is
    // still a faithful answer if it ever happens.
    at.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// A time for a table: RFC 3339 in UTC to the second, which is precise enough to read.
pub fn human_time(at: OffsetDateTime) -> String {
    rfc3339(at.replace_nanosecond(0).unwrap_or(at))
}

fn optional_time(at: Option<OffsetDateTime>) -> String {
    at.map_or_else(|| "-".to_owned(), human_time)
}

/// Writes a value as pretty JSON followed by a newline.
pub fn json(out: &mut impl Write, value: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Shows a secret on its own indented line, so it is easy to select and copy.
pub fn secret(out: &mut impl Write, what: &str, secret: &str) -> io::Result<()> {
    writeln!(out, "{what}, shown only this once:")?;
    writeln!(out)?;
    writeln!(out, "    {secret}")?;
    writeln!(out)
}

/// Names stored by other doors may hold anything; a control character printed raw could move
/// the cursor or recolour the terminal, so it is shown escaped.
fn cell(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect()
    } else {
        text.to_owned()
    }
}

/// Columns padded to their widest cell, two spaces apart.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| cell(c)).collect());
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, text) in widths.iter_mut().zip(row) {
                *width = (*width).max(text.chars().count());
            }
        }
        let headers: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (text, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(text);
                let padding = width.saturating_sub(text.chars().count());
                line.extend(std::iter::repeat_n(' ', padding));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// One record as `name  value` lines.
pub fn fields(out: &mut impl Write, fields: &[(&str, String)]) -> io::Result<()> {
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in fields {
        writeln!(out, "{name:width$}  {}", cell(value))?;
    }
    Ok(())
}

/// User names by id, to show a name where a record holds an id. A user deleted since is
/// shown by id.
pub struct UserNames(HashMap<i64, String>);

impl UserNames {
    pub fn new(users: &[User]) -> Self {
        Self(users.iter().map(|u| (u.id, u.username.clone())).collect())
    }

    pub fn name(&self, id: Option<i64>) -> String {
        match id {
            None => "-".to_owned(),
            Some(id) => self.0.get(&id).cloned().unwrap_or_else(|| id.to_string()),
        }
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

fn dash_if_empty(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

// ----- users -----

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: i64,
    pub uuid: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub enabled: bool,
    pub permissions: Vec<&'static str>,
    /// Whether the user signs in with a one-time code besides the password.
    pub totp_enabled: bool,
    /// ExtraView's "bypass 2FA for the API" as the user chose it; it counts only with the
    /// USER.EXCLUDE_2FA permission, which `permissions` (or the role) says.
    pub api_2fa_bypass: bool,
    /// Failed sign-ins since the last success or unlock, and when the last one was.
    pub failed_sign_ins: u32,
    pub last_failed_sign_in_at: Option<String>,
    pub created_at: String,
    /// Only when the command generated the password, which is then shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            uuid: user.uuid,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str(),
            enabled: user.enabled,
            permissions: user.permissions.iter().map(|p| p.as_str()).collect(),
            totp_enabled: user.totp_enabled,
            api_2fa_bypass: user.api_2fa_bypass,
            failed_sign_ins: user.failed_sign_ins.count,
            last_failed_sign_in_at: user.failed_sign_ins.last_at.map(rfc3339),
            created_at: rfc3339(user.created_at),
            password: None,
        }
    }
}

pub fn users_table(out: &mut impl Write, users: &[User]) -> io::Result<()> {
    let mut table = Table::new(&[
        "ID",
        "USERNAME",
        "DISPLAY NAME",
        "ROLE",
        "ENABLED",
        "PERMISSIONS",
        "CREATED",
    ]);
    for user in users {
        table.row(vec![
            user.id.to_string(),
            user.username.clone(),
            user.display_name.clone(),
            user.role.to_string(),
            yes_no(user.enabled),
            permissions(user),
            human_time(user.created_at),
        ]);
    }
    table.write(out)
}

pub fn user_fields(out: &mut impl Write, user: &User) -> io::Result<()> {
    fields(
        out,
        &[
            ("id", user.id.to_string()),
            ("uuid", user.uuid.to_string()),
            ("username", user.username.clone()),
            ("display name", user.display_name.clone()),
            ("role", user.role.to_string()),
            ("enabled", yes_no(user.enabled)),
            ("permissions", permissions(user)),
            ("two-factor", yes_no(user.totp_enabled)),
            ("api 2fa bypass", api_2fa_bypass(user)),
            ("created", human_time(user.created_at)),
        ],
    )
}

/// The bypass as chosen, and whether it counts: without USER.EXCLUDE_2FA it changes nothing,
/// which a bare "yes" would hide.
fn api_2fa_bypass(user: &User) -> String {
    match (
        user.api_2fa_bypass,
        user.has_permission(Permission::Exclude2fa),
    ) {
        (false, _) => yes_no(false),
        (true, true) => yes_no(true),
        (true, false) => "yes (no effect without USER.EXCLUDE_2FA)".to_owned(),
    }
}

fn permissions(user: &User) -> String {
    let names: Vec<&str> = user.permissions.iter().map(|p| p.as_str()).collect();
    dash_if_empty(&names.join(","))
}

// ----- clients -----

#[derive(Debug, Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub grants: Vec<&'static str>,
    pub scope: String,
    pub created_at: String,
    /// Only from `client add`: the secret is stored hashed and cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<&Client> for ClientView {
    fn from(client: &Client) -> Self {
        Self {
            client_id: client.id.clone(),
            name: client.name.clone(),
            grants: client.grants.iter().map(|g| g.as_str()).collect(),
            scope: client.scope.to_string(),
            created_at: rfc3339(client.created_at),
            client_secret: None,
        }
    }
}

pub fn clients_table(out: &mut impl Write, clients: &[Client]) -> io::Result<()> {
    let mut table = Table::new(&["CLIENT ID", "NAME", "GRANTS", "SCOPE", "CREATED"]);
    for client in clients {
        let grants: Vec<&str> = client.grants.iter().map(|g| g.as_str()).collect();
        table.row(vec![
            client.id.clone(),
            client.name.clone(),
            grants.join(","),
            client.scope.to_string(),
            human_time(client.created_at),
        ]);
    }
    table.write(out)
}

// ----- tokens -----

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingView {
    Ip(String),
    Referer(String),
}

#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: i64,
    pub kind: &'static str,
    pub door: &'static str,
    pub user_id: Option<i64>,
    pub client_id: Option<String>,
    pub name: String,
    pub description: String,
    pub scope: String,
    pub status: &'static str,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_access: Option<String>,
    pub creator_id: Option<i64>,
    /// `null`, `{"ip": "…"}` or `{"referer": "…"}`.
    pub binding: Option<BindingView>,
    /// Only from `token issue`: the secret is stored hashed and cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<&Token> for TokenView {
    fn from(token: &Token) -> Self {
        Self {
            id: token.id,
            kind: token.kind.as_str(),
            door: token.door.as_str(),
            user_id: token.user_id,
            client_id: token.client_id.clone(),
            name: token.name.clone(),
            description: token.description.clone(),
            scope: token.scope.to_string(),
            status: token.status.as_str(),
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
            last_access: token.last_access.map(rfc3339),
            creator_id: token.creator_id,
            binding: match &token.binding {
                Binding::None => None,
                Binding::Ip(ip) => Some(BindingView::Ip(ip.to_string())),
                Binding::Referer(referer) => Some(BindingView::Referer(referer.clone())),
            },
            token: None,
        }
    }
}

/// The status a person wants to see: an active token past its expiry is `expired`. (JSON
/// keeps the stored status; `expires_at` says the rest.)
fn status(token: &Token, now: OffsetDateTime) -> String {
    if token.status == TokenStatus::Active && token.is_expired_at(now) {
        "expired".to_owned()
    } else {
        token.status.to_string()
    }
}

fn binding(token: &Token) -> String {
    match &token.binding {
        Binding::None => "-".to_owned(),
        Binding::Ip(ip) => format!("ip {ip}"),
        Binding::Referer(referer) => format!("referer {referer}"),
    }
}

pub fn tokens_table(
    out: &mut impl Write,
    tokens: &[Token],
    names: &UserNames,
    now: OffsetDateTime,
) -> io::Result<()> {
    let mut table = Table::new(&[
        "ID",
        "KIND",
        "DOOR",
        "USER",
        "CLIENT",
        "NAME",
        "SCOPE",
        "STATUS",
        "CREATED",
        "EXPIRES",
        "LAST ACCESS",
    ]);
    for token in tokens {
        table.row(vec![
            token.id.to_string(),
            token.kind.to_string(),
            token.door.to_string(),
            names.name(token.user_id),
            token.client_id.clone().unwrap_or_else(|| "-".to_owned()),
            dash_if_empty(&token.name),
            token.scope.to_string(),
            status(token, now),
            human_time(token.created_at),
            token
                .expires_at
                .map_or_else(|| "never".to_owned(), human_time),
            optional_time(token.last_access),
        ]);
    }
    table.write(out)
}

pub fn token_fields(
    out: &mut impl Write,
    token: &Token,
    names: &UserNames,
    now: OffsetDateTime,
) -> io::Result<()> {
    fields(
        out,
        &[
            ("id", token.id.to_string()),
            ("kind", token.kind.to_string()),
            ("door", token.door.to_string()),
            ("user", names.name(token.user_id)),
            (
                "client",
                token.client_id.clone().unwrap_or_else(|| "-".to_owned()),
            ),
            ("name", dash_if_empty(&token.name)),
            ("description", dash_if_empty(&token.description)),
            ("scope", token.scope.to_string()),
            ("status", status(token, now)),
            ("created", human_time(token.created_at)),
            (
                "expires",
                token
                    .expires_at
                    .map_or_else(|| "never".to_owned(), human_time),
            ),
            ("last access", optional_time(token.last_access)),
            ("creator", names.name(token.creator_id)),
            ("binding", binding(token)),
        ],
    )
}

// ----- behaviour settings -----

/// What `setting list` prints when no run-time value is stored.
const NOT_SET: &str = "(not set: the configured value applies)";

#[derive(Debug, Serialize)]
pub struct SettingView {
    pub name: &'static str,
    /// The run-time value, or `null` when the configured one applies.
    pub value: Option<String>,
}

impl SettingView {
    pub fn new(setting: BehaviorSetting, value: Option<String>) -> Self {
        Self {
            name: setting.as_str(),
            value,
        }
    }
}

pub fn settings_table(out: &mut impl Write, settings: &[SettingView]) -> io::Result<()> {
    let mut table = Table::new(&["NAME", "VALUE"]);
    for setting in settings {
        table.row(vec![
            setting.name.to_owned(),
            setting.value.clone().unwrap_or_else(|| NOT_SET.to_owned()),
        ]);
    }
    table.write(out)
}

// ----- audit -----

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    pub kind: &'static str,
    pub door: &'static str,
    pub actor_user_id: Option<i64>,
    pub subject_user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub detail: String,
}

impl From<&AuditEvent> for AuditView {
    fn from(record: &AuditEvent) -> Self {
        let event = &record.event;
        Self {
            id: record.id,
            at: rfc3339(event.at),
            kind: event.kind.as_str(),
            door: event.door.as_str(),
            actor_user_id: event.actor_user_id,
            subject_user_id: event.subject_user_id,
            token_id: event.token_id,
            client_id: event.client_id.clone(),
            source_ip: event.source_ip.clone(),
            detail: event.detail.clone(),
        }
    }
}

pub fn audit_table(
    out: &mut impl Write,
    events: &[AuditEvent],
    names: &UserNames,
) -> io::Result<()> {
    let mut table = Table::new(&[
        "ID",
        "AT",
        "KIND",
        "DOOR",
        "ACTOR",
        "SUBJECT",
        "TOKEN",
        "CLIENT",
        "SOURCE IP",
        "DETAIL",
    ]);
    for record in events {
        let event = &record.event;
        table.row(vec![
            record.id.to_string(),
            human_time(event.at),
            event.kind.to_string(),
            event.door.to_string(),
            names.name(event.actor_user_id),
            names.name(event.subject_user_id),
            event
                .token_id
                .map_or_else(|| "-".to_owned(), |id| id.to_string()),
            event.client_id.clone().unwrap_or_else(|| "-".to_owned()),
            event.source_ip.clone().unwrap_or_else(|| "-".to_owned()),
            dash_if_empty(&event.detail),
        ]);
    }
    table.write(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_are_aligned_and_lines_not_padded_at_the_end() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["1".into(), "Admin".into()]);
        table.row(vec!["10".into(), "bo".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID  NAME\n1   Admin\n10  bo\n"
        );
    }

    #[test]
    fn control_characters_in_cells_are_escaped() {
        let mut table = Table::new(&["NAME"]);
        table.row(vec!["evil\u{1b}[31m".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("evil\\u{1b}[31m"));
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = time::macros::datetime!(2026-01-02 03:04:05.678 +02:00);
        assert_eq!(rfc3339(at), "2026-01-02T01:04:05.678Z");
        assert_eq!(human_time(at), "2026-01-02T01:04:05Z");
    }
}
