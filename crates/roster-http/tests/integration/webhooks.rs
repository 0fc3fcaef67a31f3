//! Spec §9 webhooks, through HTTP on both backends: endpoints, who may manage them, the
//! destinations refused, and delivery to a real receiver on loopback that verifies every
//! signature with the reference `standardwebhooks` library. Delivery is driven by
//! `webhooks::deliver_due` (what the node's worker runs), and time by the test clock.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus},
    routing::post,
};
use reqwest::{Method, StatusCode};
use roster_http::Config;
use serde_json::{Value, json};

use roster_core::time::Clock;

use crate::support::{MASTER_KEY, TestApp, test_config};

/// One request the receiver took.
#[derive(Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn webhook_id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }

    /// Whether the reference library accepts it as signed with `secret`.
    fn verifies_with(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret).unwrap().verify(&self.body, &self.headers).is_ok()
    }
}

/// A webhook receiver on loopback that answers `status` (200 at first), after `delay_ms`, and
/// keeps what it took.
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Shared = (Arc<AtomicU16>, Arc<AtomicU64>, Arc<Mutex<Vec<Received>>>);

async fn take(State((status, delay_ms, received)): State<Shared>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    received.lock().unwrap().push(Received { headers, body });
    tokio::time::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst))).await;
    AxumStatus::from_u16(status.load(Ordering::SeqCst)).unwrap()
}

impl Receiver {
    async fn start() -> Self {
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = (status.clone(), delay_ms.clone(), received.clone());
        let router = axum::Router::new().route("/hook", post(take)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { url, status, delay_ms, received, server }
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn answer_after(&self, delay: Duration) {
        self.delay_ms.store(u64::try_from(delay.as_millis()).unwrap(), Ordering::SeqCst);
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn taken(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

/// The fields a refusal names.
fn fields(reply: &crate::support::Reply) -> Vec<String> {
    reply.field_errors().iter().map(|error| error.split(':').next().unwrap().to_owned()).collect()
}

/// Runs the worker's pass until nothing is due; how many attempts it made.
async fn deliver(app: &TestApp) -> usize {
    roster_app::webhooks::deliver_due(app.state.app()).await.unwrap()
}

/// Creates an endpoint; its id and secret.
async fn endpoint(app: &TestApp, url: &str, enabled_events: Value) -> (String, String) {
    let reply =
        app.post("/v1/webhook-endpoints", &app.live, json!({"url": url, "enabled_events": enabled_events})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.id(), reply.body["secret"].as_str().unwrap().to_owned())
}

/// Declares tests whose body runs on each backend, on a server that may send to loopback.
macro_rules! with_private_destinations {
    ($($(#[doc = $doc:literal])* async fn $name:ident($app:ident) $body:block)+) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn case($app: TestApp) $body

                fn config() -> Config {
                    Config { webhook_allow_private: true, ..test_config() }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    case(TestApp::start_sqlite_with(config()).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = TestApp::start_postgres_with(config()).await {
                        case(app).await;
                    }
                }
            }
        )+
    };
}

with_private_destinations! {
    /// Each write's events reach the endpoint once each, signed, exactly as `GET /v1/events/{id}`
    /// answers them; a failed write sends nothing.
    async fn every_write_is_delivered_signed_as_its_event(app) {
        let receiver = Receiver::start().await;
        let (endpoint_id, secret) = endpoint(&app, &receiver.url, json!(["*"])).await;
        assert!(secret.starts_with("whsec_"));
        assert_eq!(deliver(&app).await, 1, "its own creation");
        receiver.taken();

        let acme = app.organisation(&app.live, "Acme").await;
        let membership = app.member(&app.live, &acme, "ada@example.com", "ADMIN").await;
        let changed = app.patch(&format!("/v1/memberships/{membership}"), &app.live, json!({"reference": "crm-1"})).await;
        assert_eq!(changed.status, StatusCode::OK);
        let twice = app.post("/v1/memberships", &app.live, crate::support::membership_body(&acme, "ada@example.com", "ADMIN")).await;
        assert_eq!(twice.code(), "MEMBERSHIP_ALREADY_EXISTS", "refused inside its transaction: {}", twice.body);
        assert_eq!(deliver(&app).await, 4, "organisation, user, membership created, membership updated");

        let taken = receiver.taken();
        let kinds: Vec<String> = taken.iter().map(|one| one.json()["type"].as_str().unwrap().to_owned()).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(sorted, ["membership.created", "membership.updated", "organisation.created", "user.created"]);
        for one in &taken {
            assert!(one.verifies_with(&secret), "signed with the endpoint's secret");
            assert!(!one.verifies_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "and only with it");
            assert_eq!(one.headers["content-type"], "application/json");
            let event = app.get(&format!("/v1/events/{}", one.json()["id"].as_str().unwrap()), &app.live).await;
            assert_eq!(one.json(), event.body, "the event exactly as the API answers it");
        }
        assert_eq!(deliver(&app).await, 0, "each once");

        let log = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"), &app.live).await;
        assert_eq!(log.status, StatusCode::OK);
        let attempts = log.body["results"].as_array().unwrap();
        assert_eq!(attempts.len(), 5);
        assert_eq!(attempts[0]["object"], "webhook_delivery");
        assert_eq!((attempts[0]["status"].as_str(), attempts[0]["response_status"].as_u64(), attempts[0]["attempt"].as_u64()), (Some("succeeded"), Some(200), Some(1)));
        assert_eq!(attempts[0]["next_retry_at"], Value::Null);
        assert_eq!(log.body.get("count"), None, "not counted");

        // An organisation delete's memberships, recorded a page at a time, are delivered too.
        assert_eq!(app.delete(&format!("/v1/organisations/{acme}"), &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(deliver(&app).await, 2);
        let mut kinds: Vec<String> = receiver.taken().iter().map(|one| one.json()["type"].as_str().unwrap().to_owned()).collect();
        kinds.sort();
        assert_eq!(kinds, ["membership.deleted", "organisation.deleted"]);
    }

    /// Only the types an endpoint takes reach it, and a disabled endpoint takes none.
    async fn endpoints_take_only_their_types_and_nothing_when_disabled(app) {
        let receiver = Receiver::start().await;
        let (endpoint_id, _) = endpoint(&app, &receiver.url, json!(["organisation.*", "role.created"])).await;
        let acme = app.organisation(&app.live, "Acme").await;
        app.member(&app.live, &acme, "ada@example.com", "ADMIN").await;
        let role = app.post("/v1/roles", &app.live, json!({"organisation_id": acme, "name": "Billing"})).await;
        assert_eq!(app.delete(&format!("/v1/roles/{}", role.id()), &app.live).await.status, StatusCode::NO_CONTENT);
        deliver(&app).await;
        let kinds: Vec<Value> = receiver.taken().iter().map(|one| one.json()["type"].clone()).collect();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert!(kinds.contains(&json!("organisation.created")) && kinds.contains(&json!("role.created")));

        let test_mode = app.organisation(&app.test, "Test mode").await;
        assert!(!test_mode.is_empty());
        deliver(&app).await;
        assert!(receiver.taken().is_empty(), "an endpoint takes its own mode's events only");

        let disabled = app.patch(&format!("/v1/webhook-endpoints/{endpoint_id}"), &app.live, json!({"disabled": true})).await;
        assert_eq!((disabled.status, disabled.body["disabled"].as_bool()), (StatusCode::OK, Some(true)));
        app.patch(&format!("/v1/organisations/{acme}"), &app.live, json!({"name": "Acme 2"})).await;
        assert_eq!(deliver(&app).await, 0);
        assert!(receiver.taken().is_empty());
    }

    /// A failed attempt is tried again within 60 s under the same webhook-id, each attempt
    /// logged; an event that keeps failing for three days is given up and its endpoint
    /// disabled, which an event by Roster itself records.
    async fn failures_are_retried_then_given_up_with_the_endpoint_disabled(app) {
        let receiver = Receiver::start().await;
        let (endpoint_id, _) = endpoint(&app, &receiver.url, json!(["organisation.created"])).await;
        receiver.answer(500);
        app.organisation(&app.live, "Acme").await;
        assert_eq!(deliver(&app).await, 1);
        let first = receiver.taken();
        let log = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"), &app.live).await;
        let failed = &log.body["results"][0];
        assert_eq!((failed["status"].as_str(), failed["response_status"].as_u64()), (Some("failed"), Some(500)));
        let retry_at = roster_core::time::Timestamp::parse_rfc3339(failed["next_retry_at"].as_str().unwrap()).unwrap();
        assert!(retry_at.millis() - app.clock.now().millis() <= 60_000, "the first retry comes within 60 s");
        assert_eq!(deliver(&app).await, 0, "not before it is due");

        app.clock.advance(Duration::from_secs(60));
        receiver.answer(200);
        assert_eq!(deliver(&app).await, 1);
        let second = receiver.taken();
        assert_eq!(second[0].webhook_id(), first[0].webhook_id(), "the same webhook-id for each attempt");
        let log = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"), &app.live).await;
        assert_eq!(log.body["results"][0]["attempt"], 2);
        assert_eq!(log.body["results"][0]["status"], "succeeded");

        // Now it keeps failing: hours apart, for three days.
        receiver.answer(503);
        app.organisation(&app.live, "Globex").await;
        let mut attempts = 0;
        for _ in 0..40 {
            attempts += deliver(&app).await;
            app.clock.advance(Duration::from_secs(6 * 60 * 60));
        }
        assert!((8..=30).contains(&attempts), "backed off, not hammered: {attempts} attempts");
        let shown = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}"), &app.live).await;
        assert_eq!(shown.body["disabled"], true);
        let events = app.get("/v1/events?type=webhook_endpoint.disabled", &app.live).await;
        let disabled = &events.body["results"][0];
        assert_eq!(disabled["data"]["object"]["id"], endpoint_id.as_str());
        assert_eq!(disabled["actor"], json!({"type": "system", "id": null, "key_prefix": null}));
        assert_eq!(disabled["previous_attributes"], json!({"disabled": false}));
        let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("roster_webhook_deliveries_total{outcome=\"given_up\"} 1"), "{metrics}");
        assert!(metrics.contains("roster_webhook_queue_depth 0"), "{metrics}");
    }

    /// A redelivery sends an event again under its webhook-id, to the endpoints that take it
    /// or the one named; the new secret of a rotation signs at once, the old one beside it for
    /// 24 hours.
    async fn redelivery_and_rotation(app) {
        let receiver = Receiver::start().await;
        let (endpoint_id, old_secret) = endpoint(&app, &receiver.url, json!(["organisation.*"])).await;
        let (other_id, _) = endpoint(&app, &receiver.url, json!(["user.*"])).await;
        app.organisation(&app.live, "Acme").await;
        deliver(&app).await;
        let first = receiver.taken().remove(0);
        let event_id = first.json()["id"].as_str().unwrap().to_owned();

        let again = app.post(&format!("/v1/events/{event_id}/redeliver"), &app.live, json!({})).await;
        assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
        assert_eq!(again.body, json!({"object": "event_redelivery", "event_id": event_id, "webhook_endpoint_ids": [endpoint_id]}));
        let bare = app.send(Method::POST, &format!("/v1/events/{event_id}/redeliver"), &[("authorization", &format!("Bearer {}", app.live))], None).await;
        assert_eq!(bare.status, StatusCode::ACCEPTED, "a body is optional: {}", bare.body);
        let all = app.post(&format!("/v1/events/{event_id}/redeliver"), &app.live, json!({"endpoint_id": null})).await;
        assert_eq!((all.status, all.body["webhook_endpoint_ids"].clone()), (StatusCode::ACCEPTED, json!([endpoint_id])), "null: every endpoint");
        let named = app.post(&format!("/v1/events/{event_id}/redeliver"), &app.live, json!({"endpoint_id": other_id})).await;
        assert_eq!((named.status, named.body["webhook_endpoint_ids"].clone()), (StatusCode::ACCEPTED, json!([])), "it does not take organisation events");
        assert_eq!(deliver(&app).await, 1);
        let redelivered = receiver.taken().remove(0);
        assert_eq!(redelivered.webhook_id(), first.webhook_id());
        assert_eq!(redelivered.json(), first.json());

        let rotated = app.post(&format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"), &app.live, json!({})).await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
        let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
        assert!(new_secret.starts_with("whsec_") && new_secret != old_secret);
        let shown = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}"), &app.live).await;
        assert_eq!(shown.body.get("secret"), None, "never shown again");
        app.organisation(&app.live, "Globex").await;
        deliver(&app).await;
        let signed = receiver.taken().remove(0);
        assert!(signed.verifies_with(&new_secret) && signed.verifies_with(&old_secret), "both sign during the overlap");

        app.clock.advance(Duration::from_secs(24 * 60 * 60 + 1));
        app.organisation(&app.live, "Initech").await;
        deliver(&app).await;
        let later = receiver.taken().remove(0);
        let signatures = later.headers["webhook-signature"].to_str().unwrap().to_owned();
        assert_eq!(signatures.split(' ').count(), 1, "the old secret no longer signs: {signatures}");
    }

    /// A slow receiver holds up its own attempt only: another partner's event is delivered
    /// while it waits.
    async fn a_slow_receiver_holds_up_no_one_else(app) {
        let slow = Receiver::start().await;
        slow.answer_after(Duration::from_secs(3));
        let fast = Receiver::start().await;
        endpoint(&app, &slow.url, json!(["organisation.*"])).await;
        let (other_key, _) = app.new_partner("other").await;
        let created = app.post("/v1/webhook-endpoints", &other_key, json!({"url": fast.url, "enabled_events": ["organisation.*"]})).await;
        assert_eq!(created.status, StatusCode::CREATED);
        for n in 0..3 {
            app.organisation(&app.live, &format!("Slow {n}")).await;
        }
        app.organisation(&other_key, "Fast").await;
        let worker = {
            let app = app.state.app().clone();
            tokio::spawn(async move { roster_app::webhooks::deliver_due(&app).await.unwrap() })
        };
        let started = std::time::Instant::now();
        while fast.count() == 0 {
            assert!(started.elapsed() < Duration::from_secs(2), "the fast receiver waited for the slow one");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!worker.is_finished(), "the slow receiver is still answering");
        assert_eq!(worker.await.unwrap(), 4);
        assert_eq!(slow.count(), 3);
    }

    /// An attempt claimed by a node that died before making it is made again once its claim's
    /// lease passes (30 s), by whichever node runs.
    async fn an_attempt_whose_node_died_is_made_again_after_its_lease(app) {
        let receiver = Receiver::start().await;
        endpoint(&app, &receiver.url, json!(["organisation.*"])).await;
        app.organisation(&app.live, "Acme").await;
        let now = app.clock.now();
        let lease_until = roster_core::time::Timestamp(now.millis() + 30_000);
        let dead = app.store.claim_webhook_attempts(now, lease_until, "a node that died", 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(deliver(&app).await, 0, "held by the dead node's claim");
        app.clock.advance(Duration::from_secs(31));
        assert_eq!(deliver(&app).await, 1);
        let taken = receiver.taken();
        assert_eq!((taken.len(), taken[0].json()["type"].as_str()), (1, Some("organisation.created")));
        assert!(!app.store.finish_webhook_attempt(&dead[0].webhook_id, "a node that died", None, None).await.unwrap(), "its claim is gone");
        app.clock.advance(Duration::from_secs(600));
        assert_eq!(deliver(&app).await, 0, "delivered once");
    }

    /// Deleting an endpoint drops its queue and log; it is then not found.
    async fn a_deleted_endpoint_is_gone_with_its_queue(app) {
        let receiver = Receiver::start().await;
        let (endpoint_id, _) = endpoint(&app, &receiver.url, json!(["*"])).await;
        receiver.answer(500);
        app.organisation(&app.live, "Acme").await;
        deliver(&app).await;
        assert_eq!(app.delete(&format!("/v1/webhook-endpoints/{endpoint_id}"), &app.live).await.status, StatusCode::NO_CONTENT);
        for path in [format!("/v1/webhook-endpoints/{endpoint_id}"), format!("/v1/webhook-endpoints/{endpoint_id}/deliveries")] {
            assert_eq!(app.get(&path, &app.live).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        app.clock.advance(Duration::from_secs(600));
        assert_eq!(deliver(&app).await, 0);
        let events = app.get("/v1/events?type=webhook_endpoint.*", &app.live).await;
        let kinds: Vec<&str> = events.body["results"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["webhook_endpoint.deleted", "webhook_endpoint.created"]);
    }
}

on_both_backends! {
    /// Without --webhook-allow-private, URLs that reach loopback, private, link-local or
    /// unresolvable hosts are refused naming `url`, on create and on update; public ones pass.
    async fn private_destinations_are_refused(app) {
        for url in ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.8/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[fd00::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://host.invalid/"] {
            let reply = app.post("/v1/webhook-endpoints", &app.live, json!({"url": url, "enabled_events": ["*"]})).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", reply.body);
            assert_eq!(fields(&reply), ["url"], "{url}");
        }
        let (endpoint_id, _) = endpoint(&app, "https://1.1.1.1/hooks", json!(["*"])).await;
        let moved = app.patch(&format!("/v1/webhook-endpoints/{endpoint_id}"), &app.live, json!({"url": "http://127.0.0.1/"})).await;
        assert_eq!((moved.status, fields(&moved)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["url".to_owned()]));
        assert_eq!(app.get(&format!("/v1/webhook-endpoints/{endpoint_id}"), &app.live).await.body["url"], "https://1.1.1.1/hooks");
    }

    /// Bad input is refused with its fields named, and writes nothing.
    async fn bad_endpoints_are_refused_and_change_nothing(app) {
        for (body, field) in [
            (json!({"enabled_events": ["*"]}), "url"),
            (json!({"url": "ftp://example.com/", "enabled_events": ["*"]}), "url"),
            (json!({"url": "https://user:pw@1.1.1.1/", "enabled_events": ["*"]}), "url"),
            (json!({"url": "https://1.1.1.1/", "enabled_events": []}), "enabled_events"),
            (json!({"url": "https://1.1.1.1/", "enabled_events": ["membership.exploded"]}), "enabled_events.0"),
            (json!({"url": "https://1.1.1.1/", "enabled_events": "*"}), "enabled_events"),
            (json!({"url": "https://1.1.1.1/", "enabled_events": ["*"], "description": "a\u{0}b"}), "description"),
            (json!({"url": "https://1.1.1.1/hook\u{0}", "enabled_events": ["*"]}), "url"),
            (json!({"url": "https://1.1.1.1:0/", "enabled_events": ["*"]}), "url"),
            (json!({"url": "https://1.1.1.1/", "enabled_events": ["*"], "secret": "whsec_mine"}), "secret"),
        ] {
            let reply = app.post("/v1/webhook-endpoints", &app.live, body.clone()).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.body);
            assert_eq!(fields(&reply), [field], "{body}");
        }
        let listed = app.get("/v1/webhook-endpoints", &app.live).await;
        assert_eq!(listed.body["count"], 0, "nothing was written");
        assert_eq!(app.get("/v1/events?type=webhook_endpoint.*", &app.live).await.body["results"], json!([]));
    }

    /// Only admin-group secret keys with the ability manage endpoints, within their partner and
    /// mode; everything else is refused or not found.
    async fn only_admin_keys_reach_their_own_endpoints(app) {
        let (endpoint_id, _) = endpoint(&app, "https://1.1.1.1/hooks", json!(["*"])).await;
        let listed = app.get("/v1/webhook-endpoints", &app.live).await;
        assert_eq!((listed.body["count"].as_u64(), listed.body["results"][0].get("secret")), (Some(1), None));
        let event_id = app.get("/v1/events?limit=1", &app.live).await.body["results"][0]["id"].as_str().unwrap().to_owned();

        let acme = app.organisation(&app.live, "Acme").await;
        let member = app.member(&app.live, &acme, "ada@example.com", "ADMIN").await;
        let user_id = app.get(&format!("/v1/memberships/{member}"), &app.live).await.body["user_id"].as_str().unwrap().to_owned();
        let group_key = app.group_key(&[&acme]).await;
        let organisation_key = app.key(&app.live, json!({"name": "org", "organisation_id": acme})).await;
        let groups = app.get("/v1/partner-groups", &app.live).await.body["results"].clone();
        let admin_group = groups.as_array().unwrap().iter().find(|group| group["is_admin"] == true).unwrap()["id"].clone();
        let publishable = app.key(&app.live, json!({"name": "pk", "type": "publishable", "partner_group_id": admin_group, "abilities": ["*"]})).await;
        let reader = app.key(&app.live, json!({"name": "reader", "partner_group_id": admin_group, "abilities": ["webhook_endpoints:read"]})).await;
        let without = app.key(&app.live, json!({"name": "members", "partner_group_id": admin_group, "abilities": ["memberships:read"]})).await;
        let user_token = app.key(&app.live, json!({"name": "session", "user_id": user_id})).await;
        let jwt = crate::support::jwt_for(&user_id);
        let (foreign_live, _) = app.new_partner("other").await;

        let one = format!("/v1/webhook-endpoints/{endpoint_id}");
        let writes = [
            (Method::POST, "/v1/webhook-endpoints".to_owned(), json!({"url": "https://1.1.1.1/", "enabled_events": ["*"]})),
            (Method::PATCH, one.clone(), json!({"description": "x"})),
            (Method::POST, format!("{one}/rotate-secret"), json!({})),
            (Method::POST, format!("/v1/events/{event_id}/redeliver"), json!({})),
            (Method::DELETE, one.clone(), Value::Null),
        ];
        let reads = [(Method::GET, "/v1/webhook-endpoints".to_owned()), (Method::GET, one.clone()), (Method::GET, format!("{one}/deliveries"))];
        for (key, expected) in [(MASTER_KEY, StatusCode::UNAUTHORIZED), (&user_token, StatusCode::UNAUTHORIZED), (&jwt, StatusCode::UNAUTHORIZED), (&group_key, StatusCode::FORBIDDEN), (&organisation_key, StatusCode::FORBIDDEN), (&publishable, StatusCode::FORBIDDEN), (&without, StatusCode::FORBIDDEN), (&reader, StatusCode::FORBIDDEN)] {
            for (method, path, body) in &writes {
                let body = (!body.is_null()).then(|| body.clone());
                let reply = app.call(method.clone(), path, Some(key), body).await;
                assert_eq!(reply.status, expected, "{method} {path}: {}", reply.body);
            }
        }
        for (key, expected) in [(MASTER_KEY, StatusCode::UNAUTHORIZED), (&user_token, StatusCode::UNAUTHORIZED), (&group_key, StatusCode::FORBIDDEN), (&organisation_key, StatusCode::FORBIDDEN), (&publishable, StatusCode::FORBIDDEN), (&without, StatusCode::FORBIDDEN), (&reader, StatusCode::OK)] {
            for (method, path) in &reads {
                assert_eq!(app.call(method.clone(), path, Some(key), None).await.status, expected, "{method} {path}");
            }
        }
        // Another partner's and the other mode's keys find nothing; nor does anyone a missing id.
        for key in [&foreign_live, &app.test] {
            for (method, path) in &reads[1..] {
                assert_eq!(app.call(method.clone(), path, Some(key), None).await.status, StatusCode::NOT_FOUND, "{path}");
            }
            for (method, path, body) in &writes[1..] {
                let body = (!body.is_null()).then(|| body.clone());
                assert_eq!(app.call(method.clone(), path, Some(key), body).await.status, StatusCode::NOT_FOUND, "{method} {path}");
            }
            assert_eq!(app.get("/v1/webhook-endpoints", key).await.body["count"], 0);
        }
        let missing = app.post(&format!("/v1/events/{event_id}/redeliver"), &app.live, json!({"endpoint_id": "we_01JD9V8Q2S7W6K3X5Y4Z1A2B3C"})).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/v1/webhook-endpoints/we_01JD9V8Q2S7W6K3X5Y4Z1A2B3C", &app.live).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&one, &app.live).await.body["description"], "", "nothing was changed");
    }
}
