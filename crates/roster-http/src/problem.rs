//! Every error leaves through here as an RFC 9457 problem document with a stable `code`. The
//! match over error kinds is exhaustive, so a new kind forces a decision about its status.

use axum::{
    Json,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use roster_core::{Error, Field};
use serde_json::{Value, json};

use crate::access_log::InternalCause;

#[derive(Debug)]
pub enum ApiError {
    Core(Error),
    /// The body is not JSON.
    InvalidJson(String),
    UnsupportedMediaType,
    PayloadTooLarge,
    RouteNotFound,
    MethodNotAllowed,
    /// The request outlived its time limit.
    TimedOut(std::time::Duration),
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::Core(error)
    }
}

/// The status of `error` natively, and in the dialects that keep the native statuses
/// (commercelayer).
pub(crate) fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::Validation(_)
        | Error::MembershipAlreadyExists { .. }
        | Error::MembershipDeletionForbidden(_)
        | Error::MembershipUpdateForbidden(_)
        | Error::UserAlreadyExists
        | Error::RoleAlreadyExists => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Unauthorised => StatusCode::UNAUTHORIZED,
        Error::Forbidden => StatusCode::FORBIDDEN,
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        Error::Unavailable | Error::Contention => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn problem(status: StatusCode, code: &str, detail: &str, errors: Option<Value>) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    if let (Some(errors), Some(object)) = (errors, body.as_object_mut()) {
        object.insert("errors".to_owned(), errors);
    }
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A field as the native API names it.
pub(crate) fn native_name(field: &Field) -> String {
    match field {
        Field::OrganisationId => "organisation_id".to_owned(),
        Field::OrganisationIds(index) => format!("organisation_ids.{index}"),
        Field::UserId => "user_id".to_owned(),
        Field::PartnerGroupId => "partner_group_id".to_owned(),
        Field::Email => "email".to_owned(),
        Field::Status => "status".to_owned(),
        Field::RoleIds(index) => format!("role_ids.{index}"),
        Field::KeyType => "type".to_owned(),
        Field::Abilities => "abilities".to_owned(),
        Field::ExpiresAt => "expires_at".to_owned(),
        Field::StartingAfter => "starting_after".to_owned(),
        Field::Wire(name) => name.clone(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Core(error) => {
                let errors = match &error {
                    Error::Validation(fields) => Some(Value::Array(
                        fields
                            .iter()
                            .map(|e| json!({"field": native_name(&e.field), "code": e.code.as_str(), "message": e.message}))
                            .collect(),
                    )),
                    _ => None,
                };
                let mut response = problem(status_of(&error), error.code(), &error.public_detail(native_name), errors);
                if let Error::Internal(cause) = error {
                    // Logged with the request's id by the access log, never sent.
                    response.extensions_mut().insert(InternalCause(cause));
                }
                response
            }
            Self::InvalidJson(reason) => {
                problem(StatusCode::BAD_REQUEST, "INVALID_JSON", &format!("the body is not valid JSON: {reason}"), None)
            }
            Self::UnsupportedMediaType => problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "request bodies must be sent as application/json",
                None,
            ),
            Self::PayloadTooLarge => problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("request bodies are limited to {} bytes", crate::MAX_BODY_BYTES),
                None,
            ),
            Self::RouteNotFound => problem(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint", None),
            Self::TimedOut(limit) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                &format!("the request did not finish within {} ms; try again", limit.as_millis()),
                None,
            ),
            Self::MethodNotAllowed => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this endpoint does not accept that method",
                None,
            ),
        }
    }
}

/// A method a route does not take is 405; `OPTIONS` is 204. Either way axum adds `Allow` with
/// the route's methods.
pub async fn method_not_allowed(method: Method) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    ApiError::MethodNotAllowed.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_are_500_without_their_cause() {
        let response = ApiError::Core(Error::internal("sqlite: disk I/O error at /var/lib/secret.db")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "INTERNAL");
        assert_eq!(body["detail"], "an internal error occurred");
        assert!(!body.to_string().contains("secret.db"));
    }
}
