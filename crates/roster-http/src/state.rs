use std::{sync::Arc, time::Duration};

use ipnet::IpNet;
use roster_app::{App, JwtVerifier};
use roster_core::{
    store::Store,
    time::{Clock, SystemClock},
};

use crate::metrics::Metrics;

/// What the operator configured: the application's part and the HTTP surface's.
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
    /// Where "now" comes from; tests set it.
    pub clock: Arc<dyn Clock>,
    /// Whether webhooks may be sent to loopback, private and link-local addresses.
    pub webhook_allow_private: bool,
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
            clock: Arc::new(SystemClock),
            webhook_allow_private: false,
        }
    }
}

/// Shared by every request: the application and the HTTP configuration. Cloned for every
/// request, so it is one reference count, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts every request shares, behind [`AppState`]'s one `Arc`.
pub struct Shared {
    pub(crate) app: App,
    pub(crate) request_timeout: Duration,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) cors_origins: Vec<String>,
    pub(crate) metrics: Metrics,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        let app = App::new(
            store,
            roster_app::Config {
                master_key: config.master_key,
                jwt: config.jwt,
                credential_cache_ttl: config.credential_cache_ttl,
                clock: config.clock,
                render_object: roster_app::RenderObject::new(crate::native::wire::object),
                render_event: roster_app::RenderEvent::new(|event| {
                    serde_json::to_value(crate::native::wire::event(event)).unwrap_or(serde_json::Value::Null)
                }),
                webhook_allow_private: config.webhook_allow_private,
            },
        );
        Self(Arc::new(Shared {
            request_timeout: config.request_timeout,
            trusted_proxies: config.trusted_proxies,
            cors_origins: config.cors_origins,
            metrics: Metrics::new(&app),
            app,
        }))
    }

    /// The application the routes call, for tests that drive it beside them.
    pub fn app(&self) -> &App {
        &self.app
    }
}
