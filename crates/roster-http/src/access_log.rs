//! One log line per request, as one event with its fields: method, path (never the query
//! string, which may carry e-mail addresses, nor headers, which carry secrets), status,
//! latency and request id. An internal error's cause is logged here too, with the request id,
//! so the two can be matched.
//!
//! This is one event rather than a span around the request (tower-http's `TraceLayer`): the
//! span's bookkeeping (its registry entry, formatted fields, and an enter and exit on every
//! poll) were a large part of a simple GET's cost (bench/README.md).

use std::time::Instant;

use axum::{extract::Request, middleware::Next, response::Response};
use tracing::Level;

use crate::REQUEST_ID;

/// Set on a response by the error renderer when the cause must not reach the client.
#[derive(Clone)]
pub struct InternalCause(pub String);

pub async fn record(request: Request, next: Next) -> Response {
    if !tracing::enabled!(Level::INFO) {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = request.headers().get(REQUEST_ID).and_then(|id| id.to_str().ok()).unwrap_or("").to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, path, status, request_id, cause, "internal error");
    }
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(%method, path, status, latency_ms, request_id, "request");
    response
}
