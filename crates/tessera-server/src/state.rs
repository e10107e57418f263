//! What every handler gets: the authority and the server's own facts.

use std::sync::Arc;
use tessera_core::Authority;

#[derive(Clone)]
pub struct AppState {
    pub authority: Authority,
    pub issuer: Arc<str>,
}

impl AppState {
    pub fn new(authority: Authority, issuer: String) -> Self {
        Self {
            authority,
            issuer: issuer.into(),
        }
    }
}
