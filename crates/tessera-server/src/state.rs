//! What every handler gets: the authority and the server's own facts.

use crate::startup::ExtraViewConfig;
use std::sync::Arc;
use tessera_core::Authority;

#[derive(Clone)]
pub struct AppState {
    pub authority: Authority,
    pub issuer: Arc<str>,
    pub extraview: ExtraViewConfig,
}

impl AppState {
    pub fn new(authority: Authority, issuer: String, extraview: ExtraViewConfig) -> Self {
        Self {
            authority,
            issuer: issuer.into(),
            extraview,
        }
    }
}
