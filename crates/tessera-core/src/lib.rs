//! tessera's domain: who may hold which token, and what a token is worth.
//!
//! This crate knows nothing of HTTP or SQL. The HTTP doors (OAuth 2.0 and the vendor dialects)
//! translate their requests into calls on [`Authority`], and a [`Store`] implementation (SQLite
//! today) keeps the records. Time comes from a [`Clock`] so that expiry can be tested without
//! sleeping.

pub mod audit;
pub mod authority;
pub mod behavior;
pub mod cache;
pub mod client;
pub mod clock;
pub mod error;
pub mod last_access;
pub mod lockout;
pub mod password;
pub mod scope;
pub mod secret;
pub mod settings;
pub mod stats;
pub mod store;
pub mod thread_scheduling;
pub mod token;
pub mod token_search;
pub mod totp;
pub mod user;

pub use audit::{AuditEvent, AuditKind, AuditQuery, NewAuditEvent};
pub use authority::{
    Authority, Bootstrap, IssueRequest, IssuedToken, NewApiToken, Origin, TokenPair, Verified,
};
pub use behavior::BehaviorSetting;
pub use client::{Client, ClientId, GrantType, NewClient};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{CoreError, Refusal};
pub use lockout::{FailedSignIns, LockoutPolicy};
pub use password::{Password, PasswordHasher};
pub use scope::Scope;
pub use secret::{SecretFormat, SecretHash, TokenSecret};
pub use settings::{Argon2Settings, Lifetime, Settings};
pub use stats::{CheckOutcome, StatsSnapshot};
pub use store::{ChangeSink, Store, StoreChange, StoreError};
pub use token::{Binding, Door, NewToken, Token, TokenChanges, TokenKind, TokenQuery, TokenStatus};
pub use token_search::{FieldValue, SearchMode, SortOrder, TokenField, TokenSearch};
pub use user::{NewUser, Permission, Role, User, Username};
