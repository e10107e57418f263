//! Binding the listener, assembling the router with its layers, and running until shutdown.

use crate::doors;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Request, StatusCode};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tessera_core::Authority;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Settings of the HTTP server itself (the core has its own).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The issuer URL announced in the RFC 8414 metadata; defaults to `http://<listen>`.
    pub issuer: Option<String>,
    /// Largest request body accepted; larger ones get 413.
    pub body_limit: usize,
    /// A request that takes longer is answered 408 and dropped.
    pub request_timeout: Duration,
    /// How often `last_access` times are written to the database.
    pub last_access_flush: Duration,
    pub extraview: ExtraViewConfig,
    pub zabbix: ZabbixConfig,
}

/// How the Zabbix JSON-RPC door presents itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZabbixConfig {
    /// What `apiinfo.version` reports; clients such as zabbix_utils pick their auth style by it
    /// (`auth` in the body up to 6.2, `Authorization: Bearer` from 6.4).
    pub version: String,
    /// A `user.login` session ends after this long unused (Zabbix's auto-logout); `None`: never.
    pub session_idle_timeout: Option<Duration>,
}

impl ZabbixConfig {
    /// Whether the reported version reads `Authorization: Bearer` (Zabbix 6.4 and later).
    pub fn reads_bearer(&self) -> bool {
        let mut parts = self
            .version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        let minor = parts.next().unwrap_or(0);
        (major, minor) >= (6, 4)
    }
}

impl Default for ZabbixConfig {
    fn default() -> Self {
        Self {
            version: "6.0.0".into(),
            session_idle_timeout: Some(Duration::from_secs(15 * 60)),
        }
    }
}

/// How the ExtraView door writes its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtraViewConfig {
    pub xml: ExtraViewXml,
    /// The zone of `Expiration Date` (the server's zone in ExtraView; UTC by default).
    pub time_zone: time::UtcOffset,
}

impl Default for ExtraViewConfig {
    fn default() -> Self {
        Self {
            xml: ExtraViewXml::WellFormed,
            time_zone: time::UtcOffset::UTC,
        }
    }
}

/// The seed's own XML answer is not well formed (`<Expiration Date> … </lifetime>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraViewXml {
    /// `<expiration_date>…</expiration_date>`: what an XML parser accepts. The default.
    WellFormed,
    /// The documented bytes, for clients that match the text rather than parse it.
    Legacy,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            last_access_flush: Duration::from_secs(5),
            extraview: ExtraViewConfig::default(),
            zabbix: ZabbixConfig::default(),
        }
    }
}

/// A bound server, not yet serving. Tests bind port 0 and read [`local_addr`](Self::local_addr).
pub struct RunningServer {
    listener: TcpListener,
    app: Router,
    authority: Authority,
    config: ServerConfig,
}

/// Binds the listener and builds the application.
pub async fn bind(config: ServerConfig, authority: Authority) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let state = AppState::new(
        authority.clone(),
        issuer,
        config.extraview,
        config.zabbix.clone(),
    );
    let app = router(state, &config);
    Ok(RunningServer {
        listener,
        app,
        authority,
        config,
    })
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then drains open requests and writes the pending
    /// `last_access` times.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let flusher = tokio::spawn(flush_last_access_forever(
            self.authority.clone(),
            self.config.last_access_flush,
        ));
        let result = axum::serve(
            self.listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        flusher.abort();
        if let Err(error) = self.authority.flush_last_access().await {
            tracing::warn!(%error, "could not write the last access times at shutdown");
        }
        result
    }
}

async fn flush_last_access_forever(authority: Authority, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = authority.flush_last_access().await {
            tracing::warn!(%error, "could not write last access times; will retry");
        }
    }
}

fn router(state: AppState, config: &ServerConfig) -> Router {
    // Spans carry the method and the route, never the query string: ExtraView and ArcGIS
    // clients put passwords and tokens there.
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or("unmatched");
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!("request", method = %request.method(), route, request_id)
    });
    doors::routes()
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
