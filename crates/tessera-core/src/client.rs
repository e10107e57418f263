//! OAuth clients: the services and scripts that ask for tokens on their own behalf
//! (client_credentials) or on a user's (password, refresh_token).

use crate::error::CoreError;
use crate::scope::Scope;
use crate::secret::SecretHash;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// A client id: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, chosen by the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(value: &str) -> Result<Self, CoreError> {
        let valid = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(CoreError::InvalidInput(
                "a client id has 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'".into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    Password,
    ClientCredentials,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::Password,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::RefreshToken => "refresh_token",
        }
    }
}

impl FromStr for GrantType {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GrantType::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                CoreError::InvalidInput(format!(
                    "unknown grant type {s:?}: use password, client_credentials or refresh_token"
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub secret_hash: SecretHash,
    pub grants: Vec<GrantType>,
    pub scope: Scope,
    pub created_at: OffsetDateTime,
}

impl Client {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grants.contains(&grant)
    }
}

/// What an operator asks for when registering a client.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: ClientId,
    pub name: String,
    pub grants: Vec<GrantType>,
    pub scope: Scope,
}
