//! The audit trail: who did what to which token, through which door, from where.
//! It never holds a secret: tokens are named by id, and a failed login names the user only
//! when that user exists (a mistyped password in the name field must not be recorded).

use crate::error::CoreError;
use crate::token::Door;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    TokenIssued,
    TokenRefused,
    TokenRevoked,
    TokenChanged,
    RefreshReused,
    LoginFailed,
    AccountLocked,
    UserCreated,
    UserChanged,
    UserDeleted,
    ClientCreated,
    ClientDeleted,
    SettingChanged,
}

impl AuditKind {
    pub const ALL: [AuditKind; 13] = [
        AuditKind::TokenIssued,
        AuditKind::TokenRefused,
        AuditKind::TokenRevoked,
        AuditKind::TokenChanged,
        AuditKind::RefreshReused,
        AuditKind::LoginFailed,
        AuditKind::AccountLocked,
        AuditKind::UserCreated,
        AuditKind::UserChanged,
        AuditKind::UserDeleted,
        AuditKind::ClientCreated,
        AuditKind::ClientDeleted,
        AuditKind::SettingChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::TokenIssued => "token.issued",
            AuditKind::TokenRefused => "token.refused",
            AuditKind::TokenRevoked => "token.revoked",
            AuditKind::TokenChanged => "token.changed",
            AuditKind::RefreshReused => "token.refresh_reused",
            AuditKind::LoginFailed => "login.failed",
            AuditKind::AccountLocked => "login.locked",
            AuditKind::UserCreated => "user.created",
            AuditKind::UserChanged => "user.changed",
            AuditKind::UserDeleted => "user.deleted",
            AuditKind::ClientCreated => "client.created",
            AuditKind::ClientDeleted => "client.deleted",
            AuditKind::SettingChanged => "setting.changed",
        }
    }
}

impl FromStr for AuditKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| CoreError::InvalidInput(format!("unknown audit event kind {s:?}")))
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub at: OffsetDateTime,
    pub kind: AuditKind,
    pub door: Door,
    /// Who acted: the signed-in user or operator, when known.
    pub actor_user_id: Option<i64>,
    /// Whom it concerned: the token's owner, the user changed, the user who failed to sign in.
    pub subject_user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    /// A short reason in words, never a secret.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub event: NewAuditEvent,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub kind: Option<AuditKind>,
    pub door: Option<Door>,
    pub user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub since: Option<OffsetDateTime>,
    /// Newest first; at most this many.
    pub limit: u32,
}
