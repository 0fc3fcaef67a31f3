//! Turning a secret into a [`Principal`]: the master key, an API key (checksum first, then a
//! cached or stored lookup) or a JWT of an outside identity provider. Adapters only find the
//! secret in their wire format (`Authorization: Bearer`, `REB-APIKEY`) and hand it here.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use roster_core::{
    Error,
    error::Result,
    input::is_id,
    keys,
    model::{KeyHolder, KeyType},
    policy::{Holder, KeyPrincipal, Principal, UserPrincipal},
    time::Timestamp,
};
use serde_json::{Map, Value};

use crate::App;

/// `last_used_at` is coarse: at most one write a minute per key keeps reads free of writes.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60);

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
    /// `exp`, `nbf`, `iss`, `aud`, against the system clock), a token is refused when it was
    /// issued after `now` (an `iat` that is not a number included), when its header has `crit`
    /// at all (extensions Roster does not understand, RFC 7515 §4.1.11; the library reads
    /// `"crit": null` as absent), and when its `sub` cannot be a Roster id.
    fn subject(&self, token: &str, now: Timestamp) -> Option<String> {
        if header_has_crit(token) {
            return None;
        }
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation).ok()?.claims;
        let latest_issue = now.millis() as f64 / 1000.0 + JWT_LEEWAY_SECONDS as f64;
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

impl App {
    /// The principal `secret` authenticates, or `Unauthorised`: a missing user, a revoked or
    /// expired key, a key of the wrong mode or type, a bad token all look the same.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal> {
        let hash = keys::hash(secret);
        if let Some(master) = &self.master_key_hash
            && keys::hashes_match(&hash, master)
        {
            return Ok(Principal::Master);
        }
        // The checksum refuses mistyped and made-up secrets before any database lookup.
        if let Some(shape) = keys::parse(secret) {
            return self.authenticate_key(&hash, shape).await;
        }
        let now = self.now();
        let user_id = self.jwt.as_ref().and_then(|jwt| jwt.subject(secret, now)).ok_or(Error::Unauthorised)?;
        let user = self.store.find_user(&user_id).await?.ok_or(Error::Unauthorised)?;
        Ok(Principal::User(UserPrincipal {
            user_id: user.id,
            partner_id: user.partner_id,
            mode: user.mode,
            token_prefix: None,
        }))
    }

    /// The principal of the key whose secret hashes to `hash`, if it is usable and of `shape`.
    pub(crate) async fn authenticate_key(&self, hash: &str, shape: keys::SecretShape) -> Result<Principal> {
        let now = self.now();
        let credential = match self.credentials.get(hash, now) {
            Ok(remembered) => remembered,
            Err(generation) => {
                let found = self.store.find_api_key(hash).await?.ok_or(Error::Unauthorised)?;
                self.credentials.put(hash, &found, generation, now);
                found
            }
        };
        let key = credential.key;
        let usable = keys::hashes_match(&credential.secret_hash, hash)
            && key.revoked_at.is_none()
            && key.expires_at.is_none_or(|at| at > now)
            && key.mode == shape.mode
            && key.key_type == shape.key_type;
        if !usable {
            return Err(Error::Unauthorised);
        }
        self.record_use(&key.id, key.last_used_at, now);
        let holder = match key.holder {
            KeyHolder::User(user_id) if key.key_type == KeyType::UserToken => {
                return Ok(Principal::User(UserPrincipal {
                    user_id,
                    partner_id: key.partner_id,
                    mode: key.mode,
                    token_prefix: Some(key.prefix),
                }));
            }
            KeyHolder::Group(id) => Holder::Group { id, is_admin: credential.group_is_admin },
            KeyHolder::Organisation(id) => Holder::Organisation { id },
            KeyHolder::User(_) => return Err(Error::Unauthorised),
        };
        Ok(Principal::Key(KeyPrincipal {
            key_id: key.id,
            key_prefix: key.prefix,
            partner_id: key.partner_id,
            mode: key.mode,
            key_type: key.key_type,
            holder,
            abilities: key.abilities,
            expires_at: key.expires_at,
        }))
    }

    /// Records that the key was used, in the background and at most once per
    /// [`LAST_USED_GRANULARITY`] per key on this node: recording must not slow down or fail the
    /// request it belongs to.
    fn record_use(&self, key_id: &str, last_used_at: Option<Timestamp>, now: Timestamp) {
        let window = i64::try_from(LAST_USED_GRANULARITY.as_millis()).unwrap_or(i64::MAX);
        let stale = last_used_at.is_none_or(|at| now.millis() - at.millis() >= window);
        if !stale || !self.claim_use_record(key_id, now, window) {
            return;
        }
        let app = self.clone();
        let key_id = key_id.to_owned();
        let recording = async move {
            if let Err(error) = app.store.touch_api_key(&key_id, now).await {
                tracing::warn!(%error, key_id, "could not record key use");
            }
        };
        let task = tokio::spawn(recording);
        if let Ok(mut pending) = self.pending_uses.lock() {
            pending.retain(|task| !task.is_finished());
            pending.push(task);
        }
    }

    /// Waits until every key use this node has started recording is written, so a test reads
    /// `last_used_at` after it settles instead of polling for it.
    pub async fn key_uses_recorded(&self) {
        let pending = self.pending_uses.lock().map(|mut pending| std::mem::take(&mut *pending)).unwrap_or_default();
        for task in pending {
            if let Err(error) = task.await {
                tracing::warn!(%error, "recording a key use failed");
            }
        }
    }

    /// Whether this node should record that `key_id` was used at `now`: true at most once per
    /// `window` milliseconds per key.
    fn claim_use_record(&self, key_id: &str, now: Timestamp, window: i64) -> bool {
        let Ok(mut recorded) = self.recorded_uses.lock() else { return true };
        match recorded.get(key_id) {
            Some(at) if now.millis() - at.millis() < window => false,
            _ => {
                recorded.insert(key_id.to_owned(), now);
                true
            }
        }
    }
}
