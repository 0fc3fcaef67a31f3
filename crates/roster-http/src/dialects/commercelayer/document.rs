//! JSON:API 1.0 content negotiation: responses are `application/vnd.api+json`; a request body
//! must be sent as exactly that (else 415); an `Accept` whose JSON:API entries all carry media
//! type parameters is 406. A `Content-Type` on a bodiless GET or DELETE is ignored (the official
//! client sends one on every request).

use axum::{
    extract::{FromRequest, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::errors::Failure;
use crate::{
    extract::{parse_json, read_bytes},
    problem::ApiError,
};

pub const JSON_API: &str = "application/vnd.api+json";

/// `body` as a JSON:API document with `status`.
pub fn respond(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_API));
    response
}

/// Refuses (406) a request whose `Accept` names JSON:API only with media type parameters,
/// before anything else is looked at. A quality (`q`) is not a media type parameter.
pub async fn negotiate(request: Request, next: Next) -> Response {
    if !acceptable(request.headers()) {
        return Failure::NotAcceptable.into_response();
    }
    next.run(request).await
}

fn acceptable(headers: &HeaderMap) -> bool {
    let mut json_api_entries = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let essence = parts.next()?;
            essence
                .eq_ignore_ascii_case(JSON_API)
                .then(|| parts.filter(|parameter| !parameter.is_empty()).all(is_quality))
        })
        .peekable();
    json_api_entries.peek().is_none() || json_api_entries.any(|bare| bare)
}

fn is_quality(parameter: &str) -> bool {
    parameter.split('=').next().is_some_and(|name| name.trim().eq_ignore_ascii_case("q"))
}

fn is_json_api(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case(JSON_API))
}

/// A request document: a JSON object with a `data` member, sent as JSON:API.
pub struct Document(pub Value);

impl<S: Send + Sync> FromRequest<S> for Document {
    type Rejection = Failure;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Failure> {
        if !is_json_api(request.headers()) {
            return Err(ApiError::UnsupportedMediaType.into());
        }
        let bytes = read_bytes(request).await?;
        document(&bytes).map(Self)
    }
}

/// A request document that says nothing to the endpoint, checked like any when a body is sent
/// (`resend`: the client sends `{"data": {}}`).
pub struct IgnoredDocument;

impl<S: Send + Sync> FromRequest<S> for IgnoredDocument {
    type Rejection = Failure;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Failure> {
        let json_api = is_json_api(request.headers());
        let bytes = read_bytes(request).await?;
        if bytes.is_empty() {
            return Ok(Self);
        }
        if !json_api {
            return Err(ApiError::UnsupportedMediaType.into());
        }
        document(&bytes).map(|_| Self)
    }
}

fn document(bytes: &[u8]) -> Result<Value, Failure> {
    let document = parse_json(bytes)?;
    if !document.get("data").is_some_and(Value::is_object) {
        return Err(
            roster_core::Error::InvalidRequest("a request document must have a `data` object".to_owned()).into()
        );
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        acceptable(&headers)
    }

    #[test]
    fn json_api_with_parameters_only_is_not_acceptable() {
        assert!(accepts(&[]));
        assert!(accepts(&["application/vnd.api+json"]));
        assert!(accepts(&["*/*"]));
        assert!(accepts(&["application/json, text/html"]));
        assert!(accepts(&["application/vnd.api+json; q=0.5"]));
        assert!(accepts(&["application/vnd.api+json; charset=utf-8", "application/vnd.api+json"]));
        assert!(!accepts(&["application/vnd.api+json; charset=utf-8"]));
        assert!(!accepts(&["application/vnd.api+json;ext=bulk, application/VND.API+JSON; profile=x"]));
    }
}
