//! Roster's HTTP surface: the native API under `/v1`, health endpoints, and the one place that
//! renders errors. Handlers only translate the wire format to core calls and back.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod access_log;
mod auth;
mod console;
mod dialects;
mod every_request;
mod extract;
mod metrics;
mod native;
mod problem;
mod state;

use axum::{
    Router,
    extract::State,
    http::{HeaderName, HeaderValue, Method, header},
    middleware,
    routing::get,
};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_swagger_ui::SwaggerUi;

/// The native wire shapes, public so the benchmark baseline (`bench/baseline`) answers with
/// exactly the JSON Roster sends.
pub use native::wire;
/// The list envelope, public for the same reason.
pub use native::{ListBody, list_body};
pub use problem::ApiError;
pub use roster_app::JwtVerifier;
pub use state::{AppState, Config};

/// The largest request body accepted; larger ones get 413 (enforced where bodies are read).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: every route, its fallbacks, CORS when configured, and around
/// every request (`every_request`): a request id (echoed when the client sent one), the time
/// limit, the metrics and one log line carrying the id.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.cors_origins);
    let (native, openapi) = native::routes();
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .merge(native)
        .merge(dialects::routes())
        .merge(console::routes())
        // The reference page and its assets are compiled in (vendored): no internet needed.
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(dialects::route_not_found)
        .method_not_allowed_fallback(problem::method_not_allowed);
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app.layer(middleware::from_fn_with_state(state.clone(), every_request::observe))
        .layer(middleware::from_fn(console::protect))
        .with_state(state)
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

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.app.ping().await?;
    Ok("ready")
}
