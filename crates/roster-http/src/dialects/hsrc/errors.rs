//! hsrc's one error renderer: `{message, success: false, error: {code, message, details}}` as
//! `application/json`, `code` the HTTP status, `details` one key per invalid field on 422 and
//! `{}` otherwise.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use roster_core::{Error, Field};
use serde_json::{Map, Value, json};

use crate::{access_log::InternalCause, problem::ApiError};

/// hsrc's renderer.
pub struct Hsrc;

/// Anything a hsrc route answers with instead of its result.
pub type Failure = super::super::Failure<Hsrc>;

/// A field as hsrc names it.
pub fn field_name(field: &Field) -> String {
    match field {
        Field::OrganisationId => "account_id".to_owned(),
        Field::UserId => "workspace_membership_id".to_owned(),
        other => crate::problem::native_name(other),
    }
}

fn envelope(status: StatusCode, message: &str, details: Map<String, Value>) -> Response {
    let body = json!({
        "message": message,
        "success": false,
        "error": {"code": status.as_u16(), "message": message, "details": details},
    });
    (status, Json(body)).into_response()
}

impl super::super::Renders for Hsrc {
    fn render(error: ApiError) -> Response {
        match error {
            ApiError::Core(error) => {
                let mut details = Map::new();
                if let Error::Validation(fields) = &error {
                    for invalid in fields {
                        details.entry(field_name(&invalid.field)).or_insert_with(|| json!(invalid.message));
                    }
                }
                let mut response =
                    envelope(super::super::status_with_conflicts(&error), &error.public_detail(field_name), details);
                if let Error::Internal(cause) = error {
                    // Logged with the request's id by the access log, never sent.
                    response.extensions_mut().insert(InternalCause(cause));
                }
                response
            }
            ApiError::InvalidJson(reason) => {
                envelope(StatusCode::BAD_REQUEST, &format!("the body is not valid JSON: {reason}"), Map::new())
            }
            ApiError::UnsupportedMediaType => envelope(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request bodies must be sent as application/json",
                Map::new(),
            ),
            ApiError::PayloadTooLarge => envelope(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request bodies are limited to {} bytes", crate::MAX_BODY_BYTES),
                Map::new(),
            ),
            ApiError::RouteNotFound => envelope(StatusCode::NOT_FOUND, "no such endpoint", Map::new()),
            ApiError::MethodNotAllowed => {
                envelope(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not accept that method", Map::new())
            }
            ApiError::TimedOut(limit) => envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the request did not finish within {} ms; try again", limit.as_millis()),
                Map::new(),
            ),
        }
    }
}
