//! The dialects (spec §7): other vendors' membership APIs, served over the same operations so
//! a client written for the vendor works by changing its base URL. Each parses its wire format,
//! calls `roster_app` operations and renders their results and errors in its own shapes; none
//! decides anything of its own.

mod cloudflare;
mod hsrc;
mod rebilly;

use axum::{
    Router,
    http::Uri,
    response::{IntoResponse, Response},
};

use crate::{problem::ApiError, state::AppState};

/// Every dialect under its `/compat/<name>` prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .nest("/compat/rebilly", rebilly::routes())
        .nest("/compat/cloudflare", cloudflare::routes())
        .nest("/compat/hsrc", hsrc::routes())
}

/// `error` in the wire format of the API `path` belongs to: for what answers outside a route's
/// handler (the time limit, a path no router matched, such as the prefix itself).
pub fn render(path: &str, error: ApiError) -> Response {
    let under = |prefix: &str| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if under("/compat/rebilly") {
        return rebilly::render(error);
    }
    if under("/compat/cloudflare") {
        return cloudflare::render(error);
    }
    if under("/compat/hsrc") {
        return hsrc::render(error);
    }
    error.into_response()
}

/// The application's fallback: 404 in the format of the API the path is under.
pub async fn route_not_found(uri: Uri) -> Response {
    render(uri.path(), ApiError::RouteNotFound)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::StatusCode;
    use serde_json::Value;

    use super::*;

    async fn answered(path: &str) -> (StatusCode, Value) {
        let response = render(path, ApiError::TimedOut(Duration::from_millis(100)));
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn the_time_limit_answers_in_the_format_of_the_api_asked() {
        let (status, rebilly) = answered("/compat/rebilly/memberships").await;
        assert_eq!(
            (status, &rebilly["status"], rebilly["error"].is_string()),
            (StatusCode::SERVICE_UNAVAILABLE, &Value::from(503), true)
        );
        let (status, native) = answered("/v1/memberships").await;
        assert_eq!((status, native["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("SERVICE_UNAVAILABLE")));
        let (_, cloudflare) = answered("/compat/cloudflare").await;
        assert_eq!(cloudflare["errors"][0]["code"], 1000);
        let (_, elsewhere) = answered("/compat/cloudflareish").await;
        assert_eq!(elsewhere["code"], "SERVICE_UNAVAILABLE");
    }
}
