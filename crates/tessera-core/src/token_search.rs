//! Searching tokens the way Zabbix's `*.get` methods do: exact filters (a list of values is an
//! OR), substring search on text fields (case-insensitive, optionally anchored at the start,
//! negated, or with `*` wildcards), several sort fields each with its own order, and a limit.
//! The store turns a [`TokenSearch`] into one indexed query; the door only translates names.

use crate::secret::SecretHash;
use crate::token::{TokenKind, TokenStatus};
use time::OffsetDateTime;

/// A token property one can filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    Id,
    Name,
    Description,
    UserId,
    LastAccess,
    Status,
    ExpiresAt,
    CreatedAt,
    CreatorId,
}

impl TokenField {
    pub fn is_text(self) -> bool {
        matches!(self, TokenField::Name | TokenField::Description)
    }
}

/// A value to compare a field with. Times are compared by their Unix second, as Zabbix shows
/// them; a missing time (never used, never expires) compares as 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Integer(i64),
    Text(String),
    /// Zabbix's status: 0 enabled (active), 1 disabled.
    Status(TokenStatus),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// How the terms of a text search are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchMode {
    /// Any term may match (OR) instead of every term (AND).
    pub any_field: bool,
    /// The value must start the field, not just occur in it.
    pub at_start: bool,
    /// Tokens that match are left out instead.
    pub exclude: bool,
    /// `*` in a term stands for any text, and the term must match the whole field.
    pub wildcards: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TokenSearch {
    pub kind: Option<TokenKind>,
    /// Only tokens in these states (none: any).
    pub statuses: Vec<TokenStatus>,
    pub ids: Option<Vec<i64>>,
    pub user_ids: Option<Vec<i64>>,
    pub hash: Option<SecretHash>,
    /// Not expired at this time.
    pub valid_at: Option<OffsetDateTime>,
    /// Expired at this time.
    pub expired_at: Option<OffsetDateTime>,
    /// Every field must equal one of its values.
    pub filter: Vec<(TokenField, Vec<FieldValue>)>,
    /// Text fields and the terms searched in them: every term must match, or any one with
    /// `search_mode.any_field` (Zabbix treats several terms of one field like several fields).
    pub search: Vec<(TokenField, Vec<String>)>,
    pub search_mode: SearchMode,
    /// Sort keys in order; ties are broken by id ascending.
    pub sort: Vec<(TokenField, SortOrder)>,
    pub limit: Option<u32>,
}

impl TokenSearch {
    /// Whether the search filters, searches or sorts on `field`.
    pub fn uses(&self, field: TokenField) -> bool {
        self.filter.iter().any(|(f, _)| *f == field)
            || self.search.iter().any(|(f, _)| *f == field)
            || self.sort.iter().any(|(f, _)| *f == field)
    }
}
