//! Roster's HTTP surface: the native API under `/v1`, health endpoints, and the one place that
//! renders errors. Handlers only translate the wire format to core calls and back.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod access_log;
mod auth;
mod credentials;
mod extract;
mod metrics;
mod native;
mod problem;
mod state;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};
use utoipa_swagger_ui::SwaggerUi;

pub use auth::JwtVerifier;
/// The native wire shapes, public so the benchmark baseline (`bench/baseline`) answers with
/// exactly the JSON Roster sends.
pub use native::wire;
/// The list envelope, public for the same reason.
pub use native::{ListBody, list_body};
pub use problem::ApiError;
pub use state::{AppState, Config};

/// The largest request body accepted; larger ones get 413 (enforced where bodies are read).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: every route, its fallbacks, and the layers every request passes:
/// a request id (echoed when the client sent one), one log line per request carrying it, CORS
/// when configured, and the time limit.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.cors_origins);
    let (native, openapi) = native::routes();
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .merge(native)
        // The reference page and its assets are compiled in (vendored): no internet needed.
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn_with_state(state.clone(), forget_credentials_after_writes))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::record))
        .with_state(state);
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app.layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(middleware::from_fn(access_log::record))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The OpenAPI 3.1 document of the native API, as `roster openapi` prints it and
/// `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    native::routes().1
}

/// CORS is off unless origins are configured; `*` allows any origin (without credentials).
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
            .expose_headers([REQUEST_ID])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Answers 503 when a request outlives its time limit; dropping the handler abandons its work
/// (an unfinished write rolls back).
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(state.request_timeout).into_response(),
    }
}

/// Any write may revoke or remove a key (directly, or with its group, organisation or
/// membership), so after every write, whatever its outcome, this node looks keys up afresh.
async fn forget_credentials_after_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes = !request.method().is_safe();
    let response = next.run(request).await;
    if writes {
        state.credentials.clear();
    }
    response
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    Ok("ready")
}
