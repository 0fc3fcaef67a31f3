//! What a console request brings: its session (from the cookie), and, for a form, its fields,
//! checked against the session's CSRF token before anything reads them.

use axum::{
    body::Body,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use percent_encoding::percent_decode;
use roster_app::{
    Caller,
    console::{self, SessionToken, Signed},
};
use roster_core::{Error, keys};
use serde_json::{Map, Value};

use super::view;
use crate::{auth, state::AppState};

/// The session cookie: sent back only to the console, never to a script, never from another site.
pub(crate) const SESSION_COOKIE: &str = "roster_console";
/// The sign-in form's own token, before there is a session (so another site cannot sign a
/// browser in with its own key).
pub(crate) const SIGN_IN_COOKIE: &str = "roster_console_sign_in";

/// The largest form the console reads.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The value of cookie `name`, if the request sent it.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// A cookie for the console's paths, `Secure` when the request came over TLS; `max_age` zero
/// removes it.
pub(crate) fn set_cookie(over_tls: bool, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if over_tls { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("roster_console=; Max-Age=0"))
}

/// Whether the request came over TLS, to a trusted proxy that said so.
pub(crate) fn over_tls(parts: &Parts, state: &AppState) -> bool {
    auth::from_trusted_proxy(parts, state)
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// A signed-in request: its session and the caller it acts as.
pub(crate) struct Session {
    pub token: SessionToken,
    pub signed: Signed,
    pub caller: Caller,
    pub over_tls: bool,
}

impl Session {
    pub fn csrf(&self) -> String {
        self.token.csrf_token()
    }
}

/// Where a request without a live session goes.
pub(crate) fn to_sign_in() -> Response {
    Redirect::to("/console/sign-in").into_response()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let token = SessionToken(token.to_owned());
        let signed = match console::signed(&state.app, &token).await {
            Ok(signed) => signed,
            Err(Error::Unauthorised) => return Err(to_sign_in()),
            Err(error) => return Err(view::failure_page(&error)),
        };
        let caller = auth::caller_as(parts, state, signed.principal.clone());
        Ok(Self { token, signed, caller, over_tls: over_tls(parts, state) })
    }
}

/// A form's fields, in order; a name may repeat (checkboxes).
#[derive(Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// Decodes `application/x-www-form-urlencoded`; `None` for bytes that are not UTF-8 once
    /// decoded.
    fn parse(body: &[u8]) -> Option<Self> {
        let decode = |text: &[u8]| {
            let spaced: Vec<u8> = text.iter().map(|byte| if *byte == b'+' { b' ' } else { *byte }).collect();
            percent_decode(&spaced).decode_utf8().ok().map(|text| text.into_owned())
        };
        let mut pairs = Vec::new();
        for pair in body.split(|byte| *byte == b'&').filter(|pair| !pair.is_empty()) {
            let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            pairs.push((decode(name)?, decode(value)?));
        }
        Some(Self(pairs))
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    /// The fields named, as a JSON object of strings, for the API's readers; a field left empty
    /// is left out (as a client leaves out what it does not set).
    pub fn json(&self, names: &[&str]) -> Map<String, Value> {
        names
            .iter()
            .filter_map(|name| self.get(name).filter(|value| !value.is_empty()).map(|value| (name, value)))
            .map(|(name, value)| ((*name).to_owned(), Value::String(value.to_owned())))
            .collect()
    }
}

/// The fields of a form posted by a signed-in session, its CSRF token checked.
pub(crate) struct Posted {
    pub session: Session,
    pub form: Form,
}

/// Reads a form body (64 KB at most, UTF-8); a bad one is answered here.
async fn read_form(body: Body) -> Result<Form, Response> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| view::message_page(StatusCode::PAYLOAD_TOO_LARGE, "That form is too large."))?;
    Form::parse(&bytes).ok_or_else(|| view::message_page(StatusCode::BAD_REQUEST, "That form could not be read."))
}

fn refused_form() -> Response {
    view::message_page(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from the console. Go back, reload the page and try again.",
    )
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let form = read_form(body).await?;
        if !form.get("csrf").is_some_and(|presented| session.token.csrf_matches(presented)) {
            return Err(refused_form());
        }
        Ok(Self { session, form })
    }
}

/// The sign-in form's fields, its pre-session token checked.
pub(crate) struct SignInPosted {
    pub over_tls: bool,
    pub form: Form,
    /// The session this browser held before, which a new sign-in ends.
    pub previous: Option<SessionToken>,
}

impl FromRequest<AppState> for SignInPosted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let form = read_form(body).await?;
        let expected = cookie(&parts.headers, SIGN_IN_COOKIE);
        let matches = match (expected, form.get("csrf")) {
            (Some(expected), Some(presented)) => !expected.is_empty() && keys::hashes_match(expected, presented),
            _ => false,
        };
        if !matches {
            return Err(refused_form());
        }
        let previous = cookie(&parts.headers, SESSION_COOKIE).map(|token| SessionToken(token.to_owned()));
        Ok(Self { over_tls: over_tls(&parts, state), form, previous })
    }
}

/// A new random token for the sign-in form.
pub(crate) fn sign_in_token() -> String {
    let mut random = [0_u8; 24];
    keys::fill_random(&mut random);
    random.iter().map(|byte| format!("{byte:02x}")).collect()
}
