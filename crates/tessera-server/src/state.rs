//! What every handler gets: the authority and the server's own facts.

use crate::metrics::Metrics;
use crate::rendered::RenderedAnswers;
use crate::startup::{ExtraViewConfig, ZabbixConfig};
use std::sync::Arc;
use tessera_core::Authority;

#[derive(Clone)]
pub struct AppState {
    pub authority: Authority,
    pub issuer: Arc<str>,
    pub extraview: ExtraViewConfig,
    pub zabbix: Arc<ZabbixConfig>,
    pub metrics: Arc<Metrics>,
    pub answers: Arc<RenderedAnswers>,
}

impl AppState {
    pub fn new(
        authority: Authority,
        issuer: String,
        extraview: ExtraViewConfig,
        zabbix: ZabbixConfig,
    ) -> Self {
        Self {
            metrics: Arc::new(Metrics::new(authority.clone())),
            authority,
            issuer: issuer.into(),
            extraview,
            zabbix: Arc::new(zabbix),
            answers: Arc::default(),
        }
    }
}
