//! commercelayer's one error renderer: JSON:API error objects,
//! `{"errors": [{title, detail, code, status, source}]}` as `application/vnd.api+json`.
//! `status` is the HTTP status as a string and `code` Roster's stable code, except on 401:
//! `INVALID_TOKEN` when a credential was sent, `UNAUTHORIZED` when none was, the two codes the
//! official client's token-refresh hook looks for.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use roster_core::{Error, Field, FieldError};
use serde_json::{Value, json};

use super::document::{self, JSON_API};
use crate::{access_log::InternalCause, problem::ApiError};

/// commercelayer's renderer.
pub struct Commercelayer;

/// Anything a commercelayer route answers with instead of its result.
#[derive(Debug)]
pub enum Failure {
    Api(ApiError),
    /// No credential was sent at all (an invalid one is `Error::Unauthorised`).
    NoCredential,
    /// Query parameters the API does not serve: 400, each error naming its parameter.
    Query(Vec<FieldError>),
    /// The document's `data.type` or `data.id` is not what the URL names: 409.
    Conflict {
        pointer: &'static str,
        detail: String,
    },
    /// A create that sends its own `data.id`: 403, as JSON:API asks of servers that assign ids.
    ClientGeneratedId,
    /// Every JSON:API entry of `Accept` carries media type parameters: 406.
    NotAcceptable,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Api(ApiError::Core(error))
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

/// Where a field the operations name sits in a request document; `None` for what no request
/// document holds (the status a `resend` finds).
fn pointer(field: &Field) -> Option<String> {
    Some(match field {
        Field::OrganisationId | Field::OrganisationIds(_) => "/data/relationships/organization".to_owned(),
        Field::RoleIds(_) => "/data/relationships/role".to_owned(),
        Field::Email | Field::UserId => "/data/attributes/user_email".to_owned(),
        Field::Status => return None,
        // The dialect names what it reads by its path in the document, `data.attributes.x`,
        // then a position inside it (a metadata key, which may hold dots itself).
        Field::Wire(path) => format!("/{}", path.splitn(4, '.').map(escape).collect::<Vec<_>>().join("/")),
        Field::PartnerGroupId | Field::KeyType | Field::Abilities | Field::ExpiresAt | Field::StartingAfter => {
            "/data".to_owned()
        }
    })
}

/// A JSON Pointer reference token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A field's name in a sentence: the last part of its pointer.
fn name(field: &Field) -> String {
    match (field, pointer(field)) {
        (Field::Wire(path), _) => path.splitn(4, '.').last().unwrap_or_default().to_owned(),
        (_, Some(pointer)) => pointer.rsplit('/').next().unwrap_or_default().to_owned(),
        (_, None) => crate::problem::native_name(field),
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

fn error_object(status: StatusCode, code: &str, title: &str, detail: &str, source: Option<Value>) -> Value {
    let mut object = json!({"title": title, "detail": detail, "code": code, "status": status.as_str()});
    if let (Some(source), Some(members)) = (source, object.as_object_mut()) {
        members.insert("source".to_owned(), source);
    }
    object
}

fn errors(status: StatusCode, objects: Vec<Value>) -> Response {
    let mut response = document::respond(status, &json!({ "errors": objects }));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn one(status: StatusCode, code: &str, detail: &str, source: Option<Value>) -> Response {
    errors(status, vec![error_object(status, code, title(status), detail, source)])
}

fn core(error: Error) -> Response {
    // Spec §6: commercelayer answers with the native statuses.
    let status = crate::problem::status_of(&error);
    let at = |pointer: &str| Some(json!({ "pointer": pointer }));
    let mut response = match &error {
        Error::Validation(fields) => errors(
            status,
            fields
                .iter()
                .map(|e| {
                    let detail = format!("{}: {}", name(&e.field), e.message);
                    let source = pointer(&e.field).and_then(|pointer| at(&pointer));
                    error_object(status, e.code.as_str(), &e.message, &detail, source)
                })
                .collect(),
        ),
        Error::Unauthorised => one(status, "INVALID_TOKEN", "the access token is not valid", None),
        Error::MembershipAlreadyExists { .. } => {
            one(status, error.code(), &error.public_detail(name), at("/data/attributes/user_email"))
        }
        Error::MembershipUpdateForbidden(_) => {
            one(status, error.code(), &error.public_detail(name), at("/data/relationships/role"))
        }
        _ => one(status, error.code(), &error.public_detail(name), None),
    };
    if let Error::Internal(cause) = error {
        // Logged with the request's id by the access log, never sent.
        response.extensions_mut().insert(InternalCause(cause));
    }
    response
}

impl super::super::Renders for Commercelayer {
    fn render(error: ApiError) -> Response {
        match error {
            ApiError::Core(error) => core(error),
            ApiError::InvalidJson(reason) => {
                one(StatusCode::BAD_REQUEST, "INVALID_JSON", &format!("the body is not valid JSON: {reason}"), None)
            }
            ApiError::UnsupportedMediaType => one(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                &format!("request bodies must be sent as {JSON_API}, without media type parameters"),
                None,
            ),
            ApiError::PayloadTooLarge => one(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("request bodies are limited to {} bytes", crate::MAX_BODY_BYTES),
                None,
            ),
            ApiError::RouteNotFound => one(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint", None),
            ApiError::MethodNotAllowed => one(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this endpoint does not accept that method",
                None,
            ),
            ApiError::TimedOut(limit) => one(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                &format!("the request did not finish within {} ms; try again", limit.as_millis()),
                None,
            ),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        use super::super::Renders;
        match self {
            Self::Api(error) => Commercelayer::render(error),
            Self::NoCredential => {
                one(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "send an access token as Authorization: Bearer", None)
            }
            Self::Query(fields) => {
                let status = StatusCode::BAD_REQUEST;
                let objects = fields
                    .iter()
                    .map(|e| {
                        let parameter = crate::problem::native_name(&e.field);
                        let detail = format!("{parameter}: {}", e.message);
                        error_object(
                            status,
                            e.code.as_str(),
                            &e.message,
                            &detail,
                            Some(json!({ "parameter": parameter })),
                        )
                    })
                    .collect();
                errors(status, objects)
            }
            Self::Conflict { pointer, detail } => {
                one(StatusCode::CONFLICT, "CONFLICT", &detail, Some(json!({ "pointer": pointer })))
            }
            Self::ClientGeneratedId => one(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "Roster assigns membership ids; send no data.id",
                Some(json!({ "pointer": "/data/id" })),
            ),
            Self::NotAcceptable => one(
                StatusCode::NOT_ACCEPTABLE,
                "NOT_ACCEPTABLE",
                &format!("every {JSON_API} entry of Accept carries media type parameters"),
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_point_into_the_request_document() {
        let at = |field: Field| pointer(&field).unwrap_or_default();
        assert_eq!(at(Field::OrganisationId), "/data/relationships/organization");
        assert_eq!(at(Field::RoleIds(0)), "/data/relationships/role");
        assert_eq!(at(Field::from("data.attributes.metadata.a/b.c")), "/data/attributes/metadata/a~1b.c");
        assert_eq!(name(&Field::from("data.attributes.user_email")), "user_email");
        assert_eq!(name(&Field::from("data.attributes.metadata.a.b")), "a.b");
        assert_eq!(pointer(&Field::Status), None);
    }
}
