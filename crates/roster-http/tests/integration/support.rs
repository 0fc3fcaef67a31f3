//! The real router over a real database. Requests go through it in-process (`oneshot`: the
//! whole middleware stack, no socket) unless a test needs a socket, for which the same router
//! also listens on a loopback port (`base`, `client`).

use std::{net::SocketAddr, sync::Arc};

use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use tower::ServiceExt;

use reqwest::{Method, StatusCode};
use roster_core::{store::Store, time::AdvanceableClock};
use roster_http::{AppState, Config};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const MASTER_KEY: &str = "test-master-key-0123456789";

pub struct TestApp {
    /// Where the router also listens, for tests that need a socket.
    pub base: String,
    router: axum::Router,
    pub state: AppState,
    /// The service's clock: tests move it forward instead of sleeping.
    pub clock: Arc<AdvanceableClock>,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The default partner's admin keys.
    pub live: String,
    pub test: String,
    pub database_url: String,
    /// Keeps the database (a temporary directory or a PostgreSQL schema) alive.
    _guard: Box<dyn std::any::Any + Send>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response: its status, headers and JSON body (`Value::Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.body)).to_owned()
    }

    /// The `field: code` pairs of a validation problem.
    pub fn field_errors(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub const JWT_SECRET: &[u8] = b"a test secret for HS256 tokens, 32 bytes or more";
pub const JWT_ISSUER: &str = "https://idp.test";
pub const JWT_AUDIENCE: &str = "roster";

/// A JWT of the suite's identity provider naming `user_id`, valid for ten minutes.
pub fn jwt_for(user_id: &str) -> String {
    let claims = serde_json::json!({"sub": user_id, "iss": JWT_ISSUER, "aud": JWT_AUDIENCE,
        "exp": roster_core::time::Timestamp::now().millis() / 1000 + 600});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET),
    )
    .unwrap()
}

/// The configuration the suite's servers run with: a master key and HS256 JWTs.
pub fn test_config() -> Config {
    Config {
        master_key: Some(MASTER_KEY.to_owned()),
        jwt: Some(roster_http::JwtVerifier::hs256(JWT_SECRET, Some(JWT_ISSUER), Some(JWT_AUDIENCE)).unwrap()),
        ..Config::default()
    }
}

pub async fn serve(store: Arc<dyn Store>, config: Config) -> (String, tokio::task::JoinHandle<()>) {
    listen(roster_http::router(AppState::new(store, config))).await
}

/// Serves `router` on a loopback port.
async fn listen(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{address}"), server)
}

impl TestApp {
    /// A server over a fresh SQLite file (WAL, the read pool and the writer, as in production).
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        Self::start_on(url, Some(dir)).await
    }

    /// A server over a schema of its own in the test PostgreSQL database, or `None` when
    /// `ROSTER_TEST_POSTGRES_URL` is unset.
    pub async fn start_postgres() -> Option<Self> {
        Self::start_postgres_with(test_config()).await
    }

    /// Like [`Self::start_postgres`], with `config`.
    pub async fn start_postgres_with(config: Config) -> Option<Self> {
        let base = roster_store::testing::postgres_url()?;
        let schema = roster_store::testing::TestSchema::create(&base).await;
        let url = schema.url.clone();
        Some(Self::start_with(url, Box::new(schema), config).await)
    }

    /// A server over a fresh SQLite file, with `config`.
    pub async fn start_sqlite_with(config: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        Self::start_with(url, Box::new(dir), config).await
    }

    pub async fn start_on(database_url: String, dir: Option<TempDir>) -> Self {
        Self::start_with(database_url, Box::new(dir), test_config()).await
    }

    pub async fn start_with(database_url: String, guard: Box<dyn std::any::Any + Send>, config: Config) -> Self {
        let store = roster_store::open(&database_url).await.unwrap();
        let clock = Arc::new(AdvanceableClock::default());
        let state = AppState::new(store.clone(), Config { clock: clock.clone(), ..config });
        let router = roster_http::router(state.clone());
        let (base, server) = listen(router.clone()).await;
        let client = reqwest::Client::new();
        let mut app = Self {
            base,
            router,
            state,
            clock,
            client,
            store,
            live: String::new(),
            test: String::new(),
            database_url,
            _guard: guard,
            server,
        };
        let (live, test) = app.new_partner("default").await;
        app.live = live;
        app.test = test;
        app
    }

    /// Creates a partner through the API and returns its live and test admin keys.
    pub async fn new_partner(&self, name: &str) -> (String, String) {
        let reply = self.call(Method::POST, "/v1/partners", Some(MASTER_KEY), Some(json!({"name": name}))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let keys = reply.body["admin_keys"].as_array().unwrap();
        let secret =
            |mode: &str| keys.iter().find(|k| k["mode"] == mode).unwrap()["secret"].as_str().unwrap().to_owned();
        (secret("live"), secret("test"))
    }

    /// One request through the router, in-process, from 127.0.0.1.
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        let authorization = key.map(|key| format!("Bearer {key}"));
        let mut headers = Vec::new();
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization.as_str()));
        }
        let body = body.map(|body| serde_json::to_vec(&body).unwrap());
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.send(method, path, &headers, body).await
    }

    /// One request with exactly these headers and body bytes, in-process, from 127.0.0.1.
    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Reply {
        let (status, headers, bytes) = self.exchange(method, path, headers, body).await;
        Reply { status, headers, body: Self::json(&bytes) }
    }

    /// [`Self::send`] for an answer that is not JSON (a console page): its body as text.
    pub async fn send_text(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let (status, headers, bytes) = self.exchange(method, path, headers, body).await;
        (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = body.map_or_else(axum::body::Body::empty, axum::body::Body::from);
        let mut request = request.body(body).unwrap();
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50_000))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
    }

    fn json(bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
        }
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        Reply { status, headers, body: Self::json(&bytes) }
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(key), Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// Creates an organisation and returns its id.
    pub async fn organisation(&self, key: &str, name: &str) -> String {
        let reply = self.post("/v1/organisations", key, json!({"name": name})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.id()
    }

    /// Creates an accepted membership and returns its id.
    pub async fn member(&self, key: &str, organisation_id: &str, email: &str, role: &str) -> String {
        let reply = self.post("/v1/memberships", key, membership_body(organisation_id, email, role)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.id()
    }

    /// Issues a key (`holder` is `partner_group_id` or `organisation_id`) and returns its secret.
    pub async fn key(&self, key: &str, body: Value) -> String {
        let reply = self.post("/v1/api-keys", key, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["secret"].as_str().unwrap().to_owned()
    }

    /// A non-admin group assigned to `organisation_ids`, and a key of it with every ability.
    pub async fn group_key(&self, organisation_ids: &[&str]) -> String {
        let group = self
            .post("/v1/partner-groups", &self.live, json!({"name": "Support", "organisation_ids": organisation_ids}))
            .await;
        assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
        self.key(&self.live, json!({"name": "support", "partner_group_id": group.id(), "abilities": ["*"]})).await
    }
}

pub fn membership_body(organisation_id: &str, email: &str, role: &str) -> Value {
    json!({
        "organisation_id": organisation_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "role": role,
    })
}
