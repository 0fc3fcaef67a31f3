//! `/metrics` in the Prometheus (OpenMetrics) text format: requests and their latency by
//! method, route template and status, the database pool, and webhooks (this node's deliveries
//! by outcome, the outbox's depth and its oldest undelivered message's age). Route templates
//! (`/v1/memberships/{id}`), not paths, label the series, so ids never multiply them.

use std::{sync::atomic::Ordering, time::Duration};

use axum::{
    extract::State,
    http::{Method, header},
    response::{IntoResponse, Response},
};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, text::encode},
    metrics::{
        MetricType,
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use roster_app::App;

use crate::{problem::ApiError, state::AppState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    pool: Family<PoolLabels, Gauge>,
    webhook_queue_depth: Gauge,
    webhook_oldest_undelivered: Gauge,
}

/// This node's webhook attempts by outcome, read from the application's counters at each
/// scrape.
struct WebhookOutcomes(App);

impl std::fmt::Debug for WebhookOutcomes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookOutcomes")
    }
}

impl Collector for WebhookOutcomes {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let outcomes = &self.0.webhooks.outcomes;
        let mut family = encoder.encode_descriptor(
            "webhook_deliveries",
            "Webhook delivery attempts this node made, by outcome (given_up: events abandoned after three days)",
            None,
            MetricType::Counter,
        )?;
        for (outcome, counter) in
            [("succeeded", &outcomes.succeeded), ("failed", &outcomes.failed), ("given_up", &outcomes.given_up)]
        {
            ConstCounter::new(counter.load(Ordering::Relaxed))
                .encode(family.encode_family(&OutcomeLabels { outcome })?)?;
        }
        Ok(())
    }
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Metrics {
    pub fn new(app: &App) -> Self {
        let mut registry = Registry::with_prefix("roster");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request", latency.clone());
        registry.register("database_pool_connections", "Database connections, by state", pool.clone());
        let webhook_queue_depth = Gauge::default();
        let webhook_oldest_undelivered = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Webhook messages not yet delivered nor given up, on every node",
            webhook_queue_depth.clone(),
        );
        registry.register(
            "webhook_oldest_undelivered_seconds",
            "Age of the oldest webhook message not yet delivered (0 when none)",
            webhook_oldest_undelivered.clone(),
        );
        registry.register_collector(Box::new(WebhookOutcomes(app.clone())));
        Self { registry, requests, latency, pool, webhook_queue_depth, webhook_oldest_undelivered }
    }

    /// Counts and times one answered request under its route template.
    pub fn observe(&self, method: &Method, route: String, status: u16, elapsed: Duration) {
        let labels = RequestLabels { method: method_label(method), route, status };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }
}

/// The method as a label without allocating: the methods Roster routes, and `OTHER` for the
/// rest, so a client inventing methods cannot multiply the series either.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let pool = state.app.pool_status();
    let metrics = &state.metrics;
    let gauge = |state: &'static str, value: u64| {
        metrics.pool.get_or_create(&PoolLabels { state }).set(i64::try_from(value).unwrap_or(i64::MAX));
    };
    gauge("max", pool.max);
    gauge("open", pool.open);
    gauge("idle", pool.idle);
    gauge("waiting", pool.waiting);
    let queue = roster_app::webhooks::queue(&state.app).await?;
    metrics.webhook_queue_depth.set(i64::try_from(queue.depth).unwrap_or(i64::MAX));
    let oldest = queue.oldest_queued_at.map_or(0, |at| (state.app.now().millis() - at.millis()).max(0) / 1000);
    metrics.webhook_oldest_undelivered.set(oldest);
    let mut text = String::new();
    encode(&mut text, &metrics.registry).map_err(|e| roster_core::Error::internal(format!("metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}
