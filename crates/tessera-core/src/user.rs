//! Users: the people and scripts that sign in and hold tokens.

use crate::error::CoreError;
use crate::lockout::FailedSignIns;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;
use uuid::Uuid;

/// A user name: 1 to 100 characters, no control characters, no leading or trailing space.
/// Names are unique ignoring ASCII case, so `admin` cannot impersonate `Admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, CoreError> {
        let valid = !value.is_empty()
            && value.chars().count() <= 100
            && value.trim() == value
            && !value.chars().any(char::is_control);
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(CoreError::InvalidInput(
                "a user name has 1 to 100 characters, no control characters and no surrounding spaces"
                    .into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    User,
    Admin,
    SuperAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    /// What every user of this role may do, whatever their own permissions say.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            // As in Zabbix's default roles, everyone may manage their own API tokens.
            Role::User => &[Permission::ManageApiTokens],
            Role::Admin => &[Permission::ManageApiTokens],
            Role::SuperAdmin => &[Permission::ManageApiTokens, Permission::Exclude2fa],
        }
    }
}

impl FromStr for Role {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            "super_admin" => Ok(Role::SuperAdmin),
            other => Err(CoreError::InvalidInput(format!(
                "unknown role {other:?}: use user, admin or super_admin"
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user may do beyond holding tokens of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// ExtraView's `USER.EXCLUDE_2FA`: the API may be used with the password alone.
    Exclude2fa,
    /// Zabbix's `manage_api_tokens`: create and manage API tokens.
    ManageApiTokens,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Exclude2fa => "USER.EXCLUDE_2FA",
            Permission::ManageApiTokens => "manage_api_tokens",
        }
    }
}

impl FromStr for Permission {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "USER.EXCLUDE_2FA" => Ok(Permission::Exclude2fa),
            "manage_api_tokens" => Ok(Permission::ManageApiTokens),
            other => Err(CoreError::InvalidInput(format!(
                "unknown permission {other:?}: use USER.EXCLUDE_2FA or manage_api_tokens"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The numeric id (Zabbix's `userid`); the bootstrap `Admin` is 1.
    pub id: i64,
    /// The stable public id (OWIN's `userId`, introspection's `sub`).
    pub uuid: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub enabled: bool,
    /// Permissions granted to this user on top of those of the role.
    pub permissions: Vec<Permission>,
    /// Whether the user signs in with a TOTP code besides the password.
    pub totp_enabled: bool,
    /// The user's own choice to let the API take the password alone (ExtraView's "bypass 2FA
    /// for the API"); it only counts with the `USER.EXCLUDE_2FA` permission.
    pub api_2fa_bypass: bool,
    /// Failed sign-ins since the last success or unlock: what the lockout policy counts.
    pub failed_sign_ins: FailedSignIns,
    pub created_at: OffsetDateTime,
}

impl User {
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.role.permissions().contains(&permission) || self.permissions.contains(&permission)
    }

    pub fn is_admin(&self) -> bool {
        self.role >= Role::Admin
    }
}

/// What the core hands the store to create a user; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub uuid: Uuid,
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    pub permissions: Vec<Permission>,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}
