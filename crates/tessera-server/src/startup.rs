//! Binding the listener, assembling the router with its layers, and running until shutdown.

use crate::client_address::{self, TrustedProxies};
use crate::doors;
use crate::metrics;
use crate::serving;
use crate::state::AppState;
use crate::tls::{TlsFiles, TlsReloader};
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::{middleware, Router};
use axum_server::tls_rustls::RustlsConfig;
use ipnet::IpNet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tessera_core::Authority;
use tokio::net::TcpListener;
use tower::util::option_layer;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
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
    /// How long a new connection may stay silent, and a client may take to send a request's
    /// headers; then the connection is closed (slow-loris).
    pub header_timeout: Duration,
    /// How often `last_access` times are written to the database.
    pub last_access_flush: Duration,
    pub extraview: ExtraViewConfig,
    pub zabbix: ZabbixConfig,
    /// Proxies whose `X-Forwarded-For` names the client; nobody's by default.
    pub trusted_proxies: Vec<IpNet>,
    /// Serve HTTPS with this certificate and key (and send HSTS); plain HTTP without.
    pub tls: Option<TlsFiles>,
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
            header_timeout: Duration::from_secs(10),
            last_access_flush: Duration::from_secs(5),
            extraview: ExtraViewConfig::default(),
            zabbix: ZabbixConfig::default(),
            trusted_proxies: Vec::new(),
            tls: None,
        }
    }
}

/// A bound server, not yet serving. Tests bind port 0 and read [`local_addr`](Self::local_addr).
pub struct RunningServer {
    listener: TcpListener,
    app: Router,
    authority: Authority,
    config: ServerConfig,
    tls: Option<RustlsConfig>,
}

/// Binds the listener and builds the application.
pub async fn bind(config: ServerConfig, authority: Authority) -> std::io::Result<RunningServer> {
    let tls = match &config.tls {
        Some(files) => Some(files.load().await?),
        None => None,
    };
    let listener = TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
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
        tls,
    })
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the server can be reached: `https://…` with TLS, `http://…` without.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr())
    }

    /// What reads the certificate and key files again, when the server serves HTTPS.
    pub fn tls_reloader(&self) -> Option<TlsReloader> {
        let files = self.config.tls.clone()?;
        Some(TlsReloader::new(files, self.tls.clone()?))
    }

    /// Serves until `shutdown` completes, then drains open requests and writes the pending
    /// `last_access` times. While it serves, the check cache follows the changes other nodes
    /// make to a shared database.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.authority.follow_store_changes();
        let flusher = tokio::spawn(housekeep_forever(
            self.authority.clone(),
            self.config.last_access_flush,
        ));
        let pruner = tokio::spawn(prune_audit_forever(self.authority.clone()));
        let result = serving::serve(
            self.listener,
            self.tls,
            self.config.header_timeout,
            self.app,
            shutdown,
        )
        .await;
        flusher.abort();
        pruner.abort();
        if let Err(error) = self.authority.flush_last_access().await {
            tracing::warn!(%error, "could not write the last access times at shutdown");
        }
        result
    }
}

/// Deletes audit events past their retention at start and then hourly (on every node: the
/// deletes are idempotent).
async fn prune_audit_forever(authority: Authority) {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match authority.prune_audit().await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "deleted audit events past their retention"),
            Err(error) => tracing::warn!(%error, "could not prune the audit trail; will retry"),
        }
    }
}

/// Every `every`: writes the noted `last_access` times, and frees sign-in memory left idle.
async fn housekeep_forever(authority: Authority, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = authority.flush_due_last_access().await {
            tracing::warn!(%error, "could not write last access times; will retry");
        }
        authority.release_idle_memory();
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
    let trusted = TrustedProxies::new(config.trusted_proxies.clone());
    // Over HTTPS, browsers are told to use nothing else for a year (RFC 6797).
    let hsts = config.tls.as_ref().map(|_| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    let metrics = state.metrics.clone();
    // One layer made of all of them, outermost first: axum boxes each `Router::layer` around
    // every route, and clones the whole chain of boxes for every request, which cost as much
    // as the rest of a bare route (BENCHMARKS.md, profile).
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(middleware::from_fn_with_state(
            trusted,
            client_address::resolve,
        ))
        .layer(option_layer(hsts));
    doors::routes().with_state(state).layer(layers)
}
