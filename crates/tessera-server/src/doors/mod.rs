//! The front doors. Each module maps one dialect onto the core.

use crate::state::AppState;
use axum::Router;

mod forward_auth;
mod health;
mod oauth;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(oauth::routes())
        .merge(forward_auth::routes())
        .merge(health::routes())
}
