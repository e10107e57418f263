//! HTTP integration tests: each starts the real server on port 0 with a fresh SQLite database
//! and talks HTTP to it. One test binary, so the 2-core CI machine links once.

mod arcgis;
mod audit;
mod extraview;
mod forward_auth;
mod health;
mod helpers;
mod hostile_input;
mod introspect_revoke;
mod lockout;
mod metrics;
mod oauth_token;
mod owin;
mod secrets_at_rest;
mod slow_clients;
mod whoami;
mod zabbix;
mod zabbix_fixtures;
