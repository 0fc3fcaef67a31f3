//! Request extractors whose failures are problem documents: a JSON body (415, 413, 400) and the
//! query string gathered into one object, so both are validated by the same [`Fields`] rules.
//!
//! [`Fields`]: roster_core::input::Fields

use std::time::Duration;

use axum::{
    body::Body,
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts},
};
use http_body_util::BodyExt;
use roster_core::{Error, ValidationCode, input::is_id};
use serde_json::{Map, Value};

use crate::{MAX_BODY_BYTES, problem::ApiError};

/// A request body that is a JSON document sent as `application/json`.
pub struct JsonBody(pub Value);

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType);
        }
        read_json(request).await.map(Self)
    }
}

/// A JSON body that may be left out: none when the request has no body; one that is sent must
/// say it is JSON.
pub struct OptionalJsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let declared_json =
            request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json);
        let bytes = read_bytes(request).await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        if !declared_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(|body| Self(Some(body)))
    }
}

/// The request's body as one JSON document, whatever its content type says (checked by the
/// caller): 413 past [`MAX_BODY_BYTES`], 400 when it is not JSON or nests too deep.
pub(crate) async fn read_json(request: Request) -> Result<Value, ApiError> {
    parse_json(&read_bytes(request).await?)
}

/// The request's body, refused (413) past [`MAX_BODY_BYTES`].
pub(crate) async fn read_bytes(request: Request) -> Result<Vec<u8>, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut body = request.into_body();
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        discard(body).await;
        return Err(ApiError::PayloadTooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| ApiError::InvalidJson(format!("the body could not be read: {error}")))?;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() > MAX_BODY_BYTES {
                discard(body).await;
                return Err(ApiError::PayloadTooLarge);
            }
        }
    }
    Ok(bytes)
}

/// `bytes` as one JSON document; 400 when it is not JSON or nests too deep.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if nesting_exceeds(bytes, MAX_NESTING) {
        return Err(ApiError::InvalidJson(format!("it nests deeper than {MAX_NESTING} levels")));
    }
    serde_json::from_slice(bytes).map_err(|error| ApiError::InvalidJson(error.to_string()))
}

/// No Roster body nests more than a few levels; anything deeper is refused before parsing.
const MAX_NESTING: usize = 32;

/// Whether arrays and objects in `json` nest deeper than `limit` (brackets inside strings do
/// not count). A linear scan, so a hostile body costs no more than its length.
fn nesting_exceeds(json: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// How much of an oversized body is still read, and for how long, before answering 413: a
/// client still sending when the connection closes would see a reset instead of the answer.
const DISCARD_BYTES: usize = 8 * MAX_BODY_BYTES;
const DISCARD_TIME: Duration = Duration::from_secs(2);

async fn discard(mut body: Body) {
    let mut discarded = 0;
    let deadline = tokio::time::Instant::now() + DISCARD_TIME;
    while discarded < DISCARD_BYTES {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => discarded += frame.data_ref().map_or(0, |data| data.len()),
            _ => break,
        }
    }
}

/// The `{id}` of a path, checked only once the caller may use the endpoint at all (so a
/// credential refused there is refused whatever the path holds). A segment that is not shaped
/// like a Roster id (undecodable, or holding a NUL, a space, anything a database could choke on)
/// names nothing: [`IdPath::checked`] answers 404 without a lookup.
pub struct IdPath(Option<String>);

impl IdPath {
    pub fn checked(self) -> Result<String, Error> {
        self.0.filter(|id| is_id(id)).ok_or(Error::NotFound)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self(Path::<String>::from_request_parts(parts, state).await.ok().map(|Path(id)| id)))
    }
}

/// The query string as one JSON object of strings (the last of repeated names wins), decoded as
/// `application/x-www-form-urlencoded`. Bytes that do not decode to UTF-8 are a validation
/// error of their parameter (`query` when the name itself does not decode), not replacement
/// characters quietly searched for.
pub struct QueryFields(pub Map<String, Value>);

pub(crate) fn decode_component(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(|decoded| decoded.into_owned())
}

impl<S: Send + Sync> FromRequestParts<S> for QueryFields {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let mut map = Map::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let not_utf8 = |field: &str| Error::field(field, ValidationCode::InvalidFormat, "must be valid UTF-8");
            let name = decode_component(name).ok_or_else(|| not_utf8("query"))?;
            let value = decode_component(value).ok_or_else(|| not_utf8(&name))?;
            map.insert(name, Value::String(value));
        }
        Ok(Self(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_decode_as_forms_do() {
        assert_eq!(decode_component("a+b%20c%2B").as_deref(), Some("a b c+"));
        assert_eq!(decode_component("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_component("%FF"), None);
        assert_eq!(decode_component("%zz").as_deref(), Some("%zz"), "a stray % stays, as browsers send it");
    }

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert!(!nesting_exceeds(br#"{"a": [1, {"b": "[[[[[[["}]}"#, 3));
        assert!(nesting_exceeds(br#"{"a": [1, {"b": [[]]}]}"#, 3));
        assert!(!nesting_exceeds(br#"{"a": "\"[[[[\""}"#, 1));
    }
}
