//! OAuth scopes (RFC 6749 §3.3): a set of space-separated tokens.

use crate::error::CoreError;
use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses a scope string. Each scope token is `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3).
    pub fn parse(value: &str) -> Result<Self, CoreError> {
        let mut set = BTreeSet::new();
        for item in value.split(' ').filter(|s| !s.is_empty()) {
            let valid = item
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid || item.len() > 128 {
                return Err(CoreError::InvalidScope(
                    "the scope contains characters RFC 6749 does not allow".into(),
                ));
            }
            set.insert(item.to_owned());
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, of: &Scope) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn contains(&self, item: &str) -> bool {
        self.0.contains(item)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.iter().collect();
        f.write_str(&joined.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_sets_printed_in_order() {
        let scope = Scope::parse("write  read read").unwrap();
        assert_eq!(scope.to_string(), "read write");
        assert!(Scope::parse("read").unwrap().is_subset(&scope));
        assert!(!Scope::parse("admin").unwrap().is_subset(&scope));
    }

    #[test]
    fn quotes_and_backslashes_are_refused() {
        assert!(Scope::parse("re\"ad").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("é").is_err());
    }
}
