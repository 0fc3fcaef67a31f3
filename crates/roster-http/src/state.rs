use std::{sync::Arc, time::Duration};

use ipnet::IpNet;
use roster_core::{keys, store::Store};

use crate::auth::JwtVerifier;

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
}

impl Default for Config {
    fn default() -> Self {
        Self { master_key: None, request_timeout: Duration::from_secs(30), jwt: None, trusted_proxies: Vec::new() }
    }
}

/// Shared by every request: the store and the configuration. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<dyn Store>,
    /// Only the hash of the master key is kept, so it is compared like every other secret.
    pub(crate) master_key_hash: Option<Arc<str>>,
    pub(crate) request_timeout: Duration,
    pub(crate) jwt: Option<Arc<JwtVerifier>>,
    pub(crate) trusted_proxies: Arc<[IpNet]>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        let master_key_hash = config.master_key.as_deref().map(|key| Arc::from(keys::hash(key)));
        Self {
            store,
            master_key_hash,
            request_timeout: config.request_timeout,
            jwt: config.jwt.map(Arc::new),
            trusted_proxies: config.trusted_proxies.into(),
        }
    }
}
