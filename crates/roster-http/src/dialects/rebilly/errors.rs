//! rebilly's one error renderer: `{status, title, detail, error}` as `application/json`, with
//! `invalidFields: [{field, message}]` on 422. `error` repeats `detail`: the official client
//! takes an error's message from `error` first, so it carries the specific reason.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use roster_core::{Error, Field};
use serde_json::{Value, json};

use crate::{access_log::InternalCause, problem::ApiError};

/// rebilly's renderer.
pub struct Rebilly;

/// Anything a rebilly route answers with instead of its result.
pub type Failure = super::super::Failure<Rebilly>;

/// A field as rebilly names it.
pub fn field_name(field: &Field) -> String {
    match field {
        Field::OrganisationId => "organizationId".to_owned(),
        Field::OrganisationIds(index) => format!("organizationIds.{index}"),
        Field::UserId => "userId".to_owned(),
        Field::PartnerGroupId => "partnerGroupId".to_owned(),
        Field::Email => "email".to_owned(),
        Field::Status => "status".to_owned(),
        Field::RoleIds(index) => format!("roleIds.{index}"),
        Field::KeyType => "type".to_owned(),
        Field::Abilities => "abilities".to_owned(),
        Field::ExpiresAt => "expiresAt".to_owned(),
        Field::StartingAfter => "startingAfter".to_owned(),
        Field::Wire(name) => name.clone(),
    }
}

fn body(status: StatusCode, detail: &str, invalid_fields: Option<Value>) -> Response {
    let mut body = json!({
        "status": status.as_u16(),
        "title": status.canonical_reason().unwrap_or("Error"),
        "detail": detail,
        "error": detail,
    });
    if let (Some(fields), Some(object)) = (invalid_fields, body.as_object_mut()) {
        object.insert("invalidFields".to_owned(), fields);
    }
    (status, Json(body)).into_response()
}

impl super::super::Renders for Rebilly {
    fn render(error: ApiError) -> Response {
        match error {
            ApiError::Core(error) => {
                let invalid_fields = match &error {
                    Error::Validation(fields) => Some(Value::Array(
                        fields.iter().map(|e| json!({"field": field_name(&e.field), "message": e.message})).collect(),
                    )),
                    _ => None,
                };
                let mut response =
                    body(super::super::status_with_conflicts(&error), &error.public_detail(field_name), invalid_fields);
                if let Error::Internal(cause) = error {
                    // Logged with the request's id by the access log, never sent.
                    response.extensions_mut().insert(InternalCause(cause));
                }
                response
            }
            ApiError::InvalidJson(reason) => {
                body(StatusCode::BAD_REQUEST, &format!("the body is not valid JSON: {reason}"), None)
            }
            ApiError::UnsupportedMediaType => {
                body(StatusCode::UNSUPPORTED_MEDIA_TYPE, "request bodies must be sent as application/json", None)
            }
            ApiError::PayloadTooLarge => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request bodies are limited to {} bytes", crate::MAX_BODY_BYTES),
                None,
            ),
            ApiError::RouteNotFound => body(StatusCode::NOT_FOUND, "no such endpoint", None),
            ApiError::MethodNotAllowed => {
                body(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not accept that method", None)
            }
            ApiError::TimedOut(limit) => body(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the request did not finish within {} ms; try again", limit.as_millis()),
                None,
            ),
        }
    }
}
