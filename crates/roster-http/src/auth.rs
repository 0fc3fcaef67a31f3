//! Turning `Authorization: Bearer <secret>` into a [`Principal`]. Handlers take a [`Caller`]; a
//! missing or malformed credential is a 401, never an anonymous caller.

use std::time::Duration;

use axum::{extract::FromRequestParts, http::request::Parts};
use roster_core::{
    Error, keys,
    model::KeyHolder,
    policy::{Holder, KeyPrincipal, Principal},
    time::Timestamp,
};

use crate::{problem::ApiError, state::AppState};

/// `last_used_at` is coarse: at most one write a minute per key keeps reads free of writes.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60);

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| secret.trim())
        .filter(|s| !s.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(parts).ok_or(Error::Unauthorised)?;
        authenticate(state, secret)
            .await
            .map(Caller)
            .map_err(ApiError::from)
    }
}

async fn authenticate(state: &AppState, secret: &str) -> Result<Principal, Error> {
    let hash = keys::hash(secret);
    if let Some(master) = &state.master_key_hash
        && keys::hashes_match(&hash, master)
    {
        return Ok(Principal::Master);
    }
    // The checksum refuses mistyped and made-up secrets before any database lookup.
    let shape = keys::parse(secret).ok_or(Error::Unauthorised)?;
    let credential = state
        .store
        .find_api_key(&hash)
        .await?
        .ok_or(Error::Unauthorised)?;
    let key = credential.key;
    let now = Timestamp::now();
    let usable = keys::hashes_match(&credential.secret_hash, &hash)
        && key.revoked_at.is_none()
        && key.expires_at.is_none_or(|at| at > now)
        && key.mode == shape.mode
        && key.key_type == shape.key_type;
    if !usable {
        return Err(Error::Unauthorised);
    }
    let stale = key.last_used_at.is_none_or(|at| {
        now.millis() - at.millis() >= i64::try_from(LAST_USED_GRANULARITY.as_millis()).unwrap_or(0)
    });
    if stale {
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
        KeyHolder::Group(id) => Holder::Group {
            id,
            is_admin: credential.group_is_admin,
        },
        KeyHolder::Organisation(id) => Holder::Organisation { id },
    };
    Ok(Principal::Key(KeyPrincipal {
        key_id: key.id,
        partner_id: key.partner_id,
        mode: key.mode,
        key_type: key.key_type,
        holder,
        abilities: key.abilities,
    }))
}
