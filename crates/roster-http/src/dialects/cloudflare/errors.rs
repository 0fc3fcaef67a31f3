//! cloudflare's one error renderer: every error under `/compat/cloudflare`, whatever produced
//! it, is `{success: false, errors: [{code, message}], messages: [], result: null}` with an
//! integer `code`: 10000 authentication or authorisation, 1003 not found, 1004 validation,
//! 1005 conflict or business rule (with `x-should-retry: false`, so the client does not retry
//! what cannot succeed), 1000 the service.

use axum::{
    Json,
    http::{HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use roster_core::{Error, Field};
use serde_json::json;

use crate::{access_log::InternalCause, problem::ApiError};

const AUTHENTICATION: u32 = 10000;
const NOT_FOUND: u32 = 1003;
const VALIDATION: u32 = 1004;
const CONFLICT: u32 = 1005;
const SERVICE: u32 = 1000;

/// cloudflare's renderer.
pub struct Cloudflare;

/// Anything a cloudflare route answers with instead of its result.
pub type Failure = super::super::Failure<Cloudflare>;

fn status_and_code(error: &Error) -> (StatusCode, u32) {
    match error {
        Error::Validation(_) | Error::InvalidRequest(_) => (StatusCode::BAD_REQUEST, VALIDATION),
        Error::MembershipAlreadyExists { .. }
        | Error::MembershipDeletionForbidden(_)
        | Error::MembershipUpdateForbidden(_)
        | Error::UserAlreadyExists
        | Error::RoleAlreadyExists => (StatusCode::CONFLICT, CONFLICT),
        Error::Unauthorised => (StatusCode::UNAUTHORIZED, AUTHENTICATION),
        Error::Forbidden => (StatusCode::FORBIDDEN, AUTHENTICATION),
        Error::NotFound => (StatusCode::NOT_FOUND, NOT_FOUND),
        Error::Unavailable | Error::Contention => (StatusCode::SERVICE_UNAVAILABLE, SERVICE),
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, SERVICE),
    }
}

/// A field as this API names it: the query parameter or body member.
fn field_name(field: &Field) -> String {
    crate::problem::native_name(field)
}

fn envelope(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "success": false,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": null,
    });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::CONFLICT {
        response.headers_mut().insert(HeaderName::from_static("x-should-retry"), HeaderValue::from_static("false"));
    }
    response
}

impl super::super::Renders for Cloudflare {
    fn render(error: ApiError) -> Response {
        match error {
            ApiError::Core(error) => {
                let (status, code) = status_and_code(&error);
                let mut response = envelope(status, code, &error.public_detail(field_name));
                if let Error::Internal(cause) = error {
                    // Logged with the request's id by the access log, never sent.
                    response.extensions_mut().insert(InternalCause(cause));
                }
                response
            }
            ApiError::InvalidJson(reason) => {
                envelope(StatusCode::BAD_REQUEST, VALIDATION, &format!("the body is not valid JSON: {reason}"))
            }
            ApiError::UnsupportedMediaType => envelope(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                VALIDATION,
                "request bodies must be sent as application/json",
            ),
            ApiError::PayloadTooLarge => envelope(
                StatusCode::PAYLOAD_TOO_LARGE,
                VALIDATION,
                &format!("request bodies are limited to {} bytes", crate::MAX_BODY_BYTES),
            ),
            ApiError::RouteNotFound => envelope(StatusCode::NOT_FOUND, NOT_FOUND, "no such endpoint"),
            ApiError::MethodNotAllowed => {
                envelope(StatusCode::METHOD_NOT_ALLOWED, VALIDATION, "this endpoint does not accept that method")
            }
            ApiError::TimedOut(limit) => envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                SERVICE,
                &format!("the request did not finish within {} ms; try again", limit.as_millis()),
            ),
        }
    }
}
