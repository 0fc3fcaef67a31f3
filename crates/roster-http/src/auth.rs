//! Finding the caller of a request: the secret from `Authorization: Bearer <secret>`, which the
//! application turns into a principal, the request's id and the client's address. Handlers take
//! an [`Authenticated`] caller; a missing or malformed credential is a 401, never an anonymous
//! caller.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};
use roster_app::Caller;
use roster_core::{Error, policy::Principal};

use crate::{every_request::RequestId, problem::ApiError, state::AppState};

/// The authenticated caller of a request.
pub struct Authenticated(pub Caller);

pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim()).filter(|s| !s.is_empty())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(caller(parts, state, bearer(parts)).await?))
    }
}

/// The caller holding `secret`, found by whichever header a wire format reads it from.
pub(crate) async fn caller(parts: &Parts, state: &AppState, secret: Option<&str>) -> Result<Caller, Error> {
    let principal = state.app.authenticate(secret.ok_or(Error::Unauthorised)?).await?;
    Ok(caller_as(parts, state, principal))
}

/// The caller of a request made as `principal`, however it was found (a console session).
pub(crate) fn caller_as(parts: &Parts, state: &AppState, principal: Principal) -> Caller {
    let request_id = parts.extensions.get::<RequestId>().map_or_else(String::new, |id| id.0.clone());
    let address = client_ip(parts, state);
    Caller { principal, request_id, address }
}

/// The request's socket peer, IPv4 clients of an IPv6 socket as their IPv4 address; `None`
/// for a server run without connection info.
fn peer(parts: &Parts) -> Option<IpAddr> {
    Some(parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip().to_canonical())
}

fn is_trusted_proxy(state: &AppState, ip: &IpAddr) -> bool {
    state.trusted_proxies.iter().any(|network| network.contains(ip))
}

/// Whether the request's socket peer is one of the trusted proxies, whose forwarding headers
/// are believed.
pub(crate) fn from_trusted_proxy(parts: &Parts, state: &AppState) -> bool {
    peer(parts).is_some_and(|peer| is_trusted_proxy(state, &peer))
}

/// The address a request comes from: the socket peer, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not one. `None` when that cannot be known: an
/// entry that is not an IP address (`203.0.113.5:4444`, `unknown`) ends the walk there, since
/// anything left of it was written by whoever sent it; so does a server run without connection
/// info. IPv4 clients of an IPv6 socket (`::ffff:a.b.c.d`) are their IPv4 address.
fn client_ip(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = peer(parts)?;
    let trusted = |ip: &IpAddr| is_trusted_proxy(state, ip);
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut entries = Vec::new();
    for value in parts.headers.get_all("x-forwarded-for") {
        entries.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    for entry in entries.into_iter().rev() {
        let ip = entry.parse::<IpAddr>().ok()?.to_canonical();
        if !trusted(&ip) {
            return Some(ip);
        }
    }
    Some(peer)
}
