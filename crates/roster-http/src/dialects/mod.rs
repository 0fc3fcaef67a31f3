//! The dialects (spec §7): other vendors' membership APIs, served over the same operations so
//! a client written for the vendor works by changing its base URL. Each parses its wire format,
//! calls `roster_app` operations and renders their results and errors in its own shapes; none
//! decides anything of its own.

mod cloudflare;
mod commercelayer;
mod hsrc;
mod rebilly;

use std::marker::PhantomData;

use axum::{
    Router,
    http::{Method, StatusCode, Uri, header, request::Parts, uri::Authority},
    response::{IntoResponse, Response},
};
use roster_core::Error;

use crate::{auth, problem::ApiError, state::AppState};

/// A dialect's one error renderer: every [`ApiError`] (and through it every core `Error`) in
/// the dialect's own shape.
pub trait Renders {
    fn render(error: ApiError) -> Response;
}

/// Anything a dialect's route answers with instead of its result, rendered by `D`.
pub struct Failure<D>(ApiError, PhantomData<D>);

impl<D> std::fmt::Debug for Failure<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<D> From<Error> for Failure<D> {
    fn from(error: Error) -> Self {
        Self(ApiError::Core(error), PhantomData)
    }
}

impl<D> From<ApiError> for Failure<D> {
    fn from(error: ApiError) -> Self {
        Self(error, PhantomData)
    }
}

impl<D: Renders> IntoResponse for Failure<D> {
    fn into_response(self) -> Response {
        D::render(self.0)
    }
}

/// The status of `error` in the dialects whose rules 1–2 and duplicates are conflicts (spec §6:
/// rebilly, hsrc); the rest as everywhere.
fn status_with_conflicts(error: &Error) -> StatusCode {
    match error {
        Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::MembershipAlreadyExists { .. }
        | Error::MembershipDeletionForbidden(_)
        | Error::MembershipUpdateForbidden(_)
        | Error::UserAlreadyExists
        | Error::RoleAlreadyExists => StatusCode::CONFLICT,
        Error::Unauthorised => StatusCode::UNAUTHORIZED,
        Error::Forbidden => StatusCode::FORBIDDEN,
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        Error::Unavailable | Error::Contention => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A dialect router's fallback: no such route, in the dialect's shape.
async fn dialect_route_not_found<D: Renders>() -> Response {
    D::render(ApiError::RouteNotFound)
}

/// 405 in the dialect's shape (axum adds `Allow` with the route's methods); `OPTIONS` is 204.
async fn dialect_method_not_allowed<D: Renders>(method: Method) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    D::render(ApiError::MethodNotAllowed)
}

/// `router` with `D`'s fallbacks for unknown paths and methods.
fn with_fallbacks<D: Renders + 'static>(router: Router<AppState>) -> Router<AppState> {
    router.fallback(dialect_route_not_found::<D>).method_not_allowed_fallback(dialect_method_not_allowed::<D>)
}

/// `scheme://HOST` of the request, for a dialect's absolute links. Roster does not terminate
/// TLS, so the scheme is `http` unless a trusted proxy says the client used `https`
/// (`X-Forwarded-Proto`); a Host that is not one is `localhost`.
fn origin(parts: &Parts, state: &AppState) -> String {
    let forwarded_https = || {
        parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .is_some_and(|scheme| scheme.trim().eq_ignore_ascii_case("https"))
    };
    let scheme = if auth::from_trusted_proxy(parts, state) && forwarded_https() { "https" } else { "http" };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|host| host.parse::<Authority>().ok())
        .filter(|authority| !authority.as_str().contains('@'));
    let host = host.as_ref().map_or("localhost", Authority::as_str);
    format!("{scheme}://{host}")
}

/// Every dialect under its `/compat/<name>` prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .nest("/compat/rebilly", rebilly::routes())
        .nest("/compat/cloudflare", cloudflare::routes())
        .nest("/compat/commercelayer", commercelayer::routes())
        .nest("/compat/hsrc", hsrc::routes())
}

/// `error` in the wire format of the API `path` belongs to: for what answers outside a route's
/// handler (the time limit, a path no router matched, such as the prefix itself).
pub fn render(path: &str, error: ApiError) -> Response {
    let under = |prefix: &str| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if under("/compat/rebilly") {
        return rebilly::Rebilly::render(error);
    }
    if under("/compat/cloudflare") {
        return cloudflare::Cloudflare::render(error);
    }
    if under("/compat/commercelayer") {
        return commercelayer::Commercelayer::render(error);
    }
    if under("/compat/hsrc") {
        return hsrc::Hsrc::render(error);
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
        let (status, commercelayer) = answered("/compat/commercelayer/api/memberships").await;
        assert_eq!(
            (status, &commercelayer["errors"][0]["status"]),
            (StatusCode::SERVICE_UNAVAILABLE, &Value::from("503"))
        );
        let (_, elsewhere) = answered("/compat/cloudflareish").await;
        assert_eq!(elsewhere["code"], "SERVICE_UNAVAILABLE");
    }
}
