//! Roster's HTTP surface: the native API under `/v1`, health endpoints, and the one place that
//! renders errors. Handlers only translate the wire format to core calls and back.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod extract;
mod native;
mod problem;
mod state;

use axum::{
    Router,
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::trace::TraceLayer;

pub use auth::JwtVerifier;
pub use problem::ApiError;
pub use state::{AppState, Config};

/// The largest request body accepted; larger ones get 413 (enforced where bodies are read).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole application: every route, its fallbacks, and the limits that apply to all of them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(native::routes())
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

/// Answers 503 when a request outlives its time limit; dropping the handler abandons its work
/// (an unfinished write rolls back).
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(state.request_timeout).into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    Ok("ready")
}
