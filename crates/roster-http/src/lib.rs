//! Roster's HTTP surface: the native API under `/v1`, health endpoints, and the one place that
//! renders errors. Handlers only translate the wire format to core calls and back.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod extract;
mod native;
mod problem;
mod state;

use std::time::Duration;

use axum::{Router, extract::State, http::StatusCode, routing::get};
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

pub use problem::ApiError;
pub use state::{AppState, Config};

/// The largest request body accepted; larger ones get 413 (enforced where bodies are read).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one request may take before it is answered 408 and abandoned.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole application: every route, its fallbacks, and the limits that apply to all of them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(native::routes())
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http())
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    Ok("ready")
}
