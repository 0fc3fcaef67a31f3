//! One log line per request, as one event with its fields: method, path (never the query
//! string, which may carry e-mail addresses, nor headers, which carry secrets), status,
//! latency and request id. An internal error's cause is logged here too, with the request id,
//! so the two can be matched.
//!
//! This is one event rather than a span around the request (tower-http's `TraceLayer`): the
//! span's bookkeeping (its registry entry, formatted fields, and an enter and exit on every
//! poll) were a large part of a simple GET's cost (bench/README.md).

use std::time::Duration;

use axum::http::Method;

/// Set on a response by the error renderer when the cause must not reach the client.
#[derive(Clone)]
pub struct InternalCause(pub String);

/// What the line of one answered request says.
pub struct Entry<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub status: u16,
    pub latency: Duration,
    pub request_id: &'a str,
    pub internal_cause: Option<&'a InternalCause>,
}

pub fn write(entry: &Entry<'_>) {
    let Entry { method, path, status, request_id, .. } = *entry;
    if let Some(InternalCause(cause)) = entry.internal_cause {
        tracing::error!(%method, path, status, request_id, cause, "internal error");
    }
    let latency_ms = entry.latency.as_secs_f64() * 1000.0;
    tracing::info!(%method, path, status, latency_ms, request_id, "request");
}
