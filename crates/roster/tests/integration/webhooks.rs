//! Webhooks from the real binary (spec §9): an event acknowledged the moment before `kill -9`
//! is delivered once a node runs again, and two nodes on one PostgreSQL database deliver each
//! event once. Delivery runs on real time here, so these wait (bounded) for what arrives.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post as route_post};
use reqwest::StatusCode;
use roster_store::testing::{TestSchema, postgres_url};
use serde_json::{Value, json};

use crate::support::{MASTER_KEY, Server, admin_key, post, sqlite_url};

/// What a receiver took: each delivery's `webhook-id` and event.
type Taken = Arc<Mutex<Vec<(String, Value)>>>;

async fn take(State(taken): State<Taken>, headers: HeaderMap, body: Bytes) -> &'static str {
    let webhook_id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    taken.lock().unwrap().push((webhook_id, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    "ok"
}

/// A receiver on `address` (a fresh loopback port when none), answering 200 to everything.
async fn receiver(address: Option<SocketAddr>) -> (SocketAddr, Taken, tokio::task::JoinHandle<()>) {
    let taken = Taken::default();
    let router = axum::Router::new().route("/hook", route_post(take)).with_state(taken.clone());
    let listener = tokio::net::TcpListener::bind(address.unwrap_or_else(|| ([127, 0, 0, 1], 0).into())).await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, taken, server)
}

/// Waits up to `within` until `done` holds of what was taken.
async fn wait_for(taken: &Taken, within: Duration, done: impl Fn(&[(String, Value)]) -> bool) {
    let started = Instant::now();
    while !done(&taken.lock().unwrap()) {
        assert!(started.elapsed() < within, "not delivered within {within:?}: {:?}", taken.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_endpoint(client: &reqwest::Client, base: &str, key: &str, url: &str) {
    let created = post(
        client,
        format!("{base}/v1/webhook-endpoints"),
        key,
        json!({"url": url, "enabled_events": ["organisation.*"]}),
    );
    let created = created.await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

/// The receiver is unreachable until after the kill, so the event can only arrive from the
/// outbox the restarted node reads: whether the killed node had tried it (and failed), was
/// trying it (its lease passes), or had not got to it.
async fn an_event_acknowledged_before_kill_9_arrives_after_restart(database_url: &str, master_key: Option<&str>) {
    let args = ["--webhook-allow-private"];
    let server = Server::start_with(database_url, master_key, &args);
    let client = reqwest::Client::new();
    let key = match master_key {
        Some(master) => {
            let partner = post(&client, format!("{}/v1/partners", server.base), master, json!({"name": "Acme"}));
            let body: Value = partner.await.unwrap().json().await.unwrap();
            body["admin_keys"][0]["secret"].as_str().unwrap().to_owned()
        }
        None => admin_key(&server.stderr(), "live"),
    };
    // A port nothing listens on yet.
    let address = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    create_endpoint(&client, &server.base, &key, &format!("http://{address}/hook")).await;
    let created = post(&client, format!("{}/v1/organisations", server.base), &key, json!({"name": "Durable"}));
    let created = created.await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let organisation: Value = created.json().await.unwrap();

    let (_, taken, _receiving) = receiver(Some(address)).await;
    let _restarted = Server::start_with(database_url, master_key, &args);
    // A retry comes within 15 s, an attempt cut off by the kill within the 30 s lease.
    wait_for(&taken, Duration::from_secs(60), |taken| {
        taken.iter().any(|(_, event)| event["data"]["object"]["id"] == organisation["id"])
    })
    .await;
    let taken = taken.lock().unwrap();
    assert_eq!(taken[0].1["type"], "organisation.created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite_an_event_acknowledged_before_kill_9_arrives_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    an_event_acknowledged_before_kill_9_arrives_after_restart(&sqlite_url(&dir.path().join("roster.db")), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_an_event_acknowledged_before_kill_9_arrives_after_restart() {
    let Some(base) = postgres_url() else { return };
    let schema = TestSchema::create(&base).await;
    an_event_acknowledged_before_kill_9_arrives_after_restart(&schema.url, Some(MASTER_KEY)).await;
}

/// Both nodes deliver (each wakes on its own writes and polls for the other's), and a healthy
/// receiver gets every event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres_deliver_each_event_once() {
    let Some(base) = postgres_url() else { return };
    let schema = TestSchema::create(&base).await;
    let args = ["--webhook-allow-private"];
    let nodes = [
        Server::start_with(&schema.url, Some(MASTER_KEY), &args),
        Server::start_with(&schema.url, Some(MASTER_KEY), &args),
    ];
    let client = reqwest::Client::new();
    let partner = post(&client, format!("{}/v1/partners", nodes[0].base), MASTER_KEY, json!({"name": "Acme"}));
    let partner: Value = partner.await.unwrap().json().await.unwrap();
    let key = partner["admin_keys"][0]["secret"].as_str().unwrap().to_owned();
    let (address, taken, _receiving) = receiver(None).await;
    create_endpoint(&client, &nodes[0].base, &key, &format!("http://{address}/hook")).await;

    const WRITES: usize = 60;
    let writes = (0..WRITES).map(|n| {
        let url = format!("{}/v1/organisations", nodes[n % 2].base);
        post(&client, url, &key, json!({"name": format!("Org {n}")}))
    });
    for response in futures::future::join_all(writes).await {
        assert_eq!(response.unwrap().status(), StatusCode::CREATED);
    }
    wait_for(&taken, Duration::from_secs(30), |taken| taken.len() >= WRITES).await;
    // Both nodes poll every second: anything sent twice would have arrived by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let taken = taken.lock().unwrap();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for (webhook_id, event) in taken.iter() {
        assert!(webhook_id.starts_with("msg_"));
        *per_event.entry(event["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(per_event.len(), WRITES, "every event");
    assert!(per_event.values().all(|times| *times == 1), "each once: {per_event:?}");
}
