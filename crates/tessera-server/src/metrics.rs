//! `GET /metrics` in the Prometheus text format (OpenMetrics 1.0): HTTP requests by route,
//! method and status with their durations, and the authority's own counters (audit events by
//! kind and door, token checks by door and outcome, the cache).
//!
//! Labels are route templates (`/oauth/token`, never the path as sent), methods, status codes,
//! event kinds and doors: never a query string, a name, an address or a secret.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::fmt;
use std::time::Instant;
use tessera_core::Authority;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

type Durations = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
}

impl Metrics {
    pub fn new(authority: Authority) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "tessera_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        // 0.1 ms to about 3 s: a cached check is well under a millisecond, a sign-in tens of
        // milliseconds (one Argon2 hash), a request that waited for the database seconds.
        let durations: Durations =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0001, 2.0, 16)));
        registry.register_with_unit(
            "tessera_http_request_duration",
            "Time to answer an HTTP request, by route template",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register_collector(Box::new(AuthorityCollector(authority)));
        Self {
            registry,
            requests,
            durations,
        }
    }

    fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Counts and times every request (outside the timeout, so that a 408 is counted too).
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .durations
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The authority's counters, read at each scrape.
struct AuthorityCollector(Authority);

impl fmt::Debug for AuthorityCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorityCollector")
    }
}

impl Collector for AuthorityCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let stats = self.0.stats();
        let counter = ConstCounter::new(0u64);
        let mut events = encoder.encode_descriptor(
            "tessera_audit_events",
            "Audit events recorded by this node since it started, by kind and door",
            None,
            counter.metric_type(),
        )?;
        for (kind, door, count) in stats.events {
            let labels = [("kind", kind.as_str()), ("door", door.as_str())];
            ConstCounter::new(count).encode(events.encode_family(&labels)?)?;
        }
        let mut checks = encoder.encode_descriptor(
            "tessera_token_checks",
            "Token checks answered by this node since it started, by door and outcome",
            None,
            counter.metric_type(),
        )?;
        for (door, outcome, count) in stats.checks {
            let labels = [("door", door.as_str()), ("outcome", outcome.as_str())];
            ConstCounter::new(count).encode(checks.encode_family(&labels)?)?;
        }
        let mut lookups = encoder.encode_descriptor(
            "tessera_token_cache_lookups",
            "Token checks answered from the cache (hit) or from the database (miss)",
            None,
            counter.metric_type(),
        )?;
        for (result, count) in [("hit", stats.cache_hits), ("miss", stats.cache_misses)] {
            ConstCounter::new(count).encode(lookups.encode_family(&[("result", result)])?)?;
        }
        let entries = ConstGauge::new(stats.cache_entries as i64);
        entries.encode(encoder.encode_descriptor(
            "tessera_token_cache_entries",
            "Token checks held in the cache now",
            None,
            entries.metric_type(),
        )?)?;
        Ok(())
    }
}
