//! Tokens: what tessera hands out and checks.

use crate::error::CoreError;
use crate::scope::Scope;
use crate::secret::SecretHash;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use time::OffsetDateTime;
use uuid::Uuid;

/// Generates `as_str`, `FromStr` and `Display` for a fieldless enum stored as text.
macro_rules! text_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(CoreError::InvalidInput(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), other
                    ))),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A short-lived token from a sign-in (OAuth access token, a vendor door's token).
    Session,
    /// A long-lived token made on purpose for a script (CLI, Zabbix `token.create`).
    Api,
    /// An OAuth refresh token: never accepted as an access token.
    Refresh,
}
text_enum!(TokenKind { Session => "session", Api => "api", Refresh => "refresh" });

/// The front door a token came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    OAuth,
    ExtraView,
    Owin,
    Zabbix,
    ArcGis,
    Cli,
    /// `/auth/verify`, asked by a reverse proxy on behalf of the services behind it.
    ForwardAuth,
}
impl Door {
    pub const ALL: [Door; 7] = [
        Door::OAuth,
        Door::ExtraView,
        Door::Owin,
        Door::Zabbix,
        Door::ArcGis,
        Door::Cli,
        Door::ForwardAuth,
    ];
}
text_enum!(Door {
    OAuth => "oauth",
    ExtraView => "extraview",
    Owin => "owin",
    Zabbix => "zabbix",
    ArcGis => "arcgis",
    Cli => "cli",
    ForwardAuth => "forward_auth",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    Active,
    /// Switched off, and may be switched on again (Zabbix's status 1).
    Disabled,
    Revoked,
    /// A refresh token that has been exchanged; using it again revokes its family.
    Rotated,
}
text_enum!(TokenStatus {
    Active => "active",
    Disabled => "disabled",
    Revoked => "revoked",
    Rotated => "rotated",
});

/// Where a token may be used from (ArcGIS binds tokens to a client IP or a referer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Binding {
    #[default]
    None,
    Ip(IpAddr),
    Referer(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: i64,
    pub hash: SecretHash,
    pub kind: TokenKind,
    pub door: Door,
    pub user_id: Option<i64>,
    pub client_id: Option<String>,
    pub name: String,
    pub description: String,
    pub scope: Scope,
    pub status: TokenStatus,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_access: Option<OffsetDateTime>,
    pub creator_id: Option<i64>,
    pub binding: Binding,
    /// Refresh tokens and the access tokens issued with them share a family, so that the reuse
    /// of a rotated refresh token can revoke all of them.
    pub family: Option<Uuid>,
    /// A session that ends when unused this long (Zabbix's auto-logout), in seconds.
    pub idle_timeout: Option<i64>,
}

impl Token {
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A token about to be stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub hash: SecretHash,
    pub kind: TokenKind,
    pub door: Door,
    pub user_id: Option<i64>,
    pub client_id: Option<String>,
    pub name: String,
    pub description: String,
    pub scope: Scope,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub creator_id: Option<i64>,
    pub binding: Binding,
    pub family: Option<Uuid>,
    pub idle_timeout: Option<i64>,
}

/// What may change in a token after it is issued; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<TokenStatus>,
    /// `Some(None)`: never expires.
    pub expires_at: Option<Option<OffsetDateTime>>,
}

impl TokenChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Which tokens to list. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub user_id: Option<i64>,
    pub door: Option<Door>,
    pub kind: Option<TokenKind>,
    pub status: Option<TokenStatus>,
    /// Only tokens with an id above this one (keyset paging).
    pub after_id: Option<i64>,
    pub limit: u32,
}
