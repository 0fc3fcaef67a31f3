use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use ipnet::IpNet;
use roster_core::{keys, store::Store, time::Timestamp};

use crate::{auth::JwtVerifier, credentials::CredentialCache, metrics::Metrics};

/// What the operator configured that handlers need.
#[derive(Debug, Clone)]
pub struct Config {
    /// The master key, if any: it manages partners and nothing else.
    pub master_key: Option<String>,
    /// How long one request may take before it is answered 503 and abandoned.
    pub request_timeout: Duration,
    /// Verifies outside identity providers' tokens, when configured.
    pub jwt: Option<JwtVerifier>,
    /// Proxies whose `X-Forwarded-For` is believed when finding a client's address.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins browsers may call from (CORS); empty turns CORS off, `*` allows any.
    pub cors_origins: Vec<String>,
    /// How long this node may answer from memory for an API key it looked up; a revocation on
    /// another node takes effect here within this time. Zero looks up every request.
    pub credential_cache_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            master_key: None,
            request_timeout: Duration::from_secs(30),
            jwt: None,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            credential_cache_ttl: Duration::from_secs(1),
        }
    }
}

/// Shared by every request: the store and the configuration. Cloned for every request, so it
/// is one reference count, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts every request shares, behind [`AppState`]'s one `Arc`.
pub struct Shared {
    pub(crate) store: Arc<dyn Store>,
    /// Only the hash of the master key is kept, so it is compared like every other secret.
    pub(crate) master_key_hash: Option<String>,
    pub(crate) request_timeout: Duration,
    pub(crate) jwt: Option<JwtVerifier>,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) cors_origins: Vec<String>,
    /// When this node last recorded each key's use, so a burst of requests with a key whose
    /// `last_used_at` is stale writes it once, not once per request.
    recorded_uses: Mutex<HashMap<String, Timestamp>>,
    pub(crate) metrics: Metrics,
    pub(crate) credentials: CredentialCache,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        Self(Arc::new(Shared {
            store,
            master_key_hash: config.master_key.as_deref().map(keys::hash),
            request_timeout: config.request_timeout,
            jwt: config.jwt,
            trusted_proxies: config.trusted_proxies,
            cors_origins: config.cors_origins,
            recorded_uses: Mutex::default(),
            metrics: Metrics::new(),
            credentials: CredentialCache::new(config.credential_cache_ttl),
        }))
    }
}

impl Shared {
    /// Whether this request should record that `key_id` was used at `now`: true at most once
    /// per `granularity` per key on this node.
    pub(crate) fn claim_use_record(&self, key_id: &str, now: Timestamp, granularity: Duration) -> bool {
        let Ok(mut recorded) = self.recorded_uses.lock() else { return true };
        let window = i64::try_from(granularity.as_millis()).unwrap_or(i64::MAX);
        match recorded.get(key_id) {
            Some(at) if now.millis() - at.millis() < window => false,
            _ => {
                recorded.insert(key_id.to_owned(), now);
                true
            }
        }
    }
}
