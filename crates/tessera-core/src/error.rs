//! What can go wrong in the core. Each door maps these onto its own wire format.

use crate::store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoreError {
    /// The user name or password is wrong, the user is unknown or disabled. One variant for
    /// all of them, so no door can tell an attacker which it was.
    #[error("invalid user name or password")]
    InvalidCredentials,
    #[error("invalid client credentials")]
    InvalidClient,
    #[error("the client may not use this grant")]
    UnauthorizedClient,
    /// A presented token is not (or no longer) good.
    #[error("token refused: {0}")]
    Refused(#[from] Refusal),
    #[error("invalid grant: {0}")]
    InvalidGrant(String),
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// Too many logins are waiting for a password hash: try again shortly.
    #[error("too many sign-ins at once, try again shortly")]
    Busy,
    #[error("storage unavailable: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a presented token was refused. Doors usually answer all of these alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("the token is unknown")]
    Unknown,
    #[error("the token has expired")]
    Expired,
    #[error("the token has been revoked")]
    Revoked,
    #[error("the token is disabled")]
    Disabled,
    #[error("the token's user is disabled")]
    UserDisabled,
    #[error("a refresh token is not an access token")]
    NotAnAccessToken,
    #[error("the token is bound to another client address or referer")]
    BindingMismatch,
}
