//! The front doors. Each module maps one dialect onto the core.

use crate::state::AppState;
use axum::Router;

mod arcgis;
mod extraview;
mod forward_auth;
mod health;
mod oauth;
mod owin;
mod zabbix;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(oauth::routes())
        .merge(extraview::routes())
        .merge(owin::routes())
        .merge(zabbix::routes())
        .merge(arcgis::routes())
        .merge(forward_auth::routes())
        .merge(health::routes())
}
