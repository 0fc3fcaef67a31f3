//! Turning `Authorization: Bearer <secret>` into a [`Principal`]. Handlers take a [`Caller`]; a
//! missing or malformed credential is a 401, never an anonymous caller.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use roster_core::{
    Error,
    input::is_id,
    keys,
    model::{KeyHolder, KeyType},
    policy::{Holder, KeyPrincipal, Principal, UserPrincipal},
    time::Timestamp,
};

use serde_json::{Map, Value};

use crate::{problem::ApiError, state::AppState};

/// `last_used_at` is coarse: at most one write a minute per key keeps reads free of writes.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60);

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim()).filter(|s| !s.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(parts).ok_or(Error::Unauthorised)?;
        authenticate(state, secret).await.map(Caller).map_err(ApiError::from)
    }
}

/// How JWTs of outside identity providers are verified: a `sub` naming a Roster user acts as
/// that user. Only the configured algorithm is accepted, so `alg: none` and algorithm
/// confusion are refused.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

/// Clock skew tolerated between Roster and the identity provider, for `exp`, `nbf` and `iat`.
const JWT_LEEWAY_SECONDS: u64 = 5;

/// The shortest HS256 secret accepted: RFC 7518 §3.2 asks for at least the hash's 256 bits.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

impl JwtVerifier {
    /// Refuses a secret shorter than [`MIN_HS256_SECRET_BYTES`], which could be guessed offline
    /// from any one token.
    pub fn hs256(secret: &[u8], issuer: Option<&str>, audience: Option<&str>) -> Result<Self, String> {
        if secret.len() < MIN_HS256_SECRET_BYTES {
            return Err(format!(
                "the HS256 secret is {} bytes; it must be at least {MIN_HS256_SECRET_BYTES}",
                secret.len()
            ));
        }
        Ok(Self::new(DecodingKey::from_secret(secret), Algorithm::HS256, issuer, audience))
    }

    pub fn rs256(public_key_pem: &[u8], issuer: Option<&str>, audience: Option<&str>) -> Result<Self, String> {
        let key =
            DecodingKey::from_rsa_pem(public_key_pem).map_err(|e| format!("not an RSA public key in PEM: {e}"))?;
        Ok(Self::new(key, Algorithm::RS256, issuer, audience))
    }

    fn new(key: DecodingKey, algorithm: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.leeway = JWT_LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        match audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        Self { key, validation }
    }

    /// The user id a valid token names. Beyond what the library checks (signature, algorithm,
    /// `exp`, `nbf`, `iss`, `aud`), a token is refused when it was issued in the future (an
    /// `iat` that is not a number included), when its header has `crit` at all (extensions
    /// Roster does not understand, RFC 7515 §4.1.11; the library reads `"crit": null` as
    /// absent), and when its `sub` cannot be a Roster id.
    fn subject(&self, token: &str) -> Option<String> {
        if header_has_crit(token) {
            return None;
        }
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation).ok()?.claims;
        let latest_issue = Timestamp::now().millis() as f64 / 1000.0 + JWT_LEEWAY_SECONDS as f64;
        let issued_in_time = claims.get("iat").is_none_or(|iat| iat.as_f64().is_some_and(|iat| iat <= latest_issue));
        let subject = claims.get("sub")?.as_str()?;
        (issued_in_time && is_id(subject)).then(|| subject.to_owned())
    }
}

/// Whether the token's header names `crit`, whatever its value; an unreadable header counts as
/// one (the signature check would refuse it anyway).
fn header_has_crit(token: &str) -> bool {
    let header = token.split('.').next().unwrap_or("");
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(header) else { return true };
    serde_json::from_slice::<Map<String, Value>>(&bytes).map_or(true, |header| header.contains_key("crit"))
}

async fn authenticate(state: &AppState, secret: &str) -> Result<Principal, Error> {
    let hash = keys::hash(secret);
    if let Some(master) = &state.master_key_hash
        && keys::hashes_match(&hash, master)
    {
        return Ok(Principal::Master);
    }
    // The checksum refuses mistyped and made-up secrets before any database lookup.
    if let Some(shape) = keys::parse(secret) {
        return authenticate_key(state, &hash, shape).await;
    }
    let user_id = state.jwt.as_ref().and_then(|jwt| jwt.subject(secret)).ok_or(Error::Unauthorised)?;
    let user = state.store.find_user(&user_id).await?.ok_or(Error::Unauthorised)?;
    Ok(Principal::User(UserPrincipal { user_id: user.id, partner_id: user.partner_id, mode: user.mode }))
}

async fn authenticate_key(state: &AppState, hash: &str, shape: keys::SecretShape) -> Result<Principal, Error> {
    let credential = match state.credentials.get(hash) {
        Ok(remembered) => remembered,
        Err(generation) => {
            let found = state.store.find_api_key(hash).await?.ok_or(Error::Unauthorised)?;
            state.credentials.put(hash, &found, generation);
            found
        }
    };
    let key = credential.key;
    let now = Timestamp::now();
    let usable = keys::hashes_match(&credential.secret_hash, hash)
        && key.revoked_at.is_none()
        && key.expires_at.is_none_or(|at| at > now)
        && key.mode == shape.mode
        && key.key_type == shape.key_type;
    if !usable {
        return Err(Error::Unauthorised);
    }
    let stale = key
        .last_used_at
        .is_none_or(|at| now.millis() - at.millis() >= i64::try_from(LAST_USED_GRANULARITY.as_millis()).unwrap_or(0));
    if stale && state.claim_use_record(&key.id, now, LAST_USED_GRANULARITY) {
        let store = state.store.clone();
        let key_id = key.id.clone();
        // Recording use must not slow down or fail the request it belongs to.
        tokio::spawn(async move {
            if let Err(error) = store.touch_api_key(&key_id, now).await {
                tracing::warn!(%error, key_id, "could not record key use");
            }
        });
    }
    let holder = match key.holder {
        KeyHolder::User(user_id) if key.key_type == KeyType::UserToken => {
            return Ok(Principal::User(UserPrincipal { user_id, partner_id: key.partner_id, mode: key.mode }));
        }
        KeyHolder::Group(id) => Holder::Group { id, is_admin: credential.group_is_admin },
        KeyHolder::Organisation(id) => Holder::Organisation { id },
        KeyHolder::User(_) => return Err(Error::Unauthorised),
    };
    Ok(Principal::Key(KeyPrincipal {
        key_id: key.id,
        partner_id: key.partner_id,
        mode: key.mode,
        key_type: key.key_type,
        holder,
        abilities: key.abilities,
        expires_at: key.expires_at,
    }))
}

/// The address a request comes from: the socket peer, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not one. `None` when that cannot be known: an
/// entry that is not an IP address (`203.0.113.5:4444`, `unknown`) ends the walk there, since
/// anything left of it was written by whoever sent it. IPv4 clients of an IPv6 socket
/// (`::ffff:a.b.c.d`) are their IPv4 address.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_canonical())
            .ok_or_else(|| Error::internal("the server was started without connection info"))?;
        let trusted = |ip: &IpAddr| state.trusted_proxies.iter().any(|network| network.contains(ip));
        if !trusted(&peer) {
            return Ok(Self(Some(peer)));
        }
        let mut entries = Vec::new();
        for value in parts.headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else { return Ok(Self(None)) };
            entries.extend(value.split(',').map(str::trim));
        }
        for entry in entries.into_iter().rev() {
            let Ok(ip) = entry.parse::<IpAddr>() else { return Ok(Self(None)) };
            let ip = ip.to_canonical();
            if !trusted(&ip) {
                return Ok(Self(Some(ip)));
            }
        }
        Ok(Self(Some(peer)))
    }
}
