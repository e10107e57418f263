//! Behaviour settings: the few settings an admin changes while tessera runs, kept in the
//! database so that every node (and the CLI) sees the same value without a restart. A value
//! set here wins over the configuration file and the environment; unsetting it goes back to
//! them.

use crate::error::CoreError;
use crate::settings::Lifetime;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BehaviorSetting {
    /// ExtraView's lifetime of `get_token` tokens, in seconds.
    ExtraViewTokenLifetime,
}

impl BehaviorSetting {
    pub const ALL: [BehaviorSetting; 1] = [BehaviorSetting::ExtraViewTokenLifetime];

    /// The name, as the vendor spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            BehaviorSetting::ExtraViewTokenLifetime => "OAUTH2_TOKEN_LIFETIME_SECONDS",
        }
    }

    /// Checks a value before it is stored, and returns it in its canonical form.
    pub fn validate(self, value: &str) -> Result<String, CoreError> {
        match self {
            BehaviorSetting::ExtraViewTokenLifetime => {
                let seconds: u64 = value.trim().parse().map_err(|_| {
                    CoreError::InvalidInput(format!("{self} must be a number of seconds"))
                })?;
                Ok(Lifetime::from_secs(seconds)?.as_secs().to_string())
            }
        }
    }
}

impl FromStr for BehaviorSetting {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BehaviorSetting::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| {
                CoreError::InvalidInput(format!(
                    "unknown behaviour setting {s:?}: the settings are {}",
                    BehaviorSetting::ALL.map(BehaviorSetting::as_str).join(", ")
                ))
            })
    }
}

impl fmt::Display for BehaviorSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
