//! The baseline answers with exactly Roster's JSON for the same rows, on both backends, so the
//! benchmarks compare like with like.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
};

use roster_http::{AppState, Config};
use serde_json::{Value, json};

const MASTER_KEY: &str = "baseline-test-master-key";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the baseline binary on `url` and returns it with its base URL.
fn start_baseline(url: &str) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster-bench-baseline"))
        .args(["--database-url", url])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let address = line.strip_prefix("serving address=").unwrap_or_else(|| panic!("unexpected line {line}"));
    (Server(child), format!("http://{address}"))
}

/// Roster's own router over `url`, in this process.
async fn start_roster(url: &str) -> String {
    let store = roster_store::open(url).await.unwrap();
    let config = Config { master_key: Some(MASTER_KEY.to_owned()), ..Config::default() };
    let app = roster_http::router(AppState::new(Arc::clone(&store), config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    format!("http://{address}")
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn answers_as_roster_does(url: &str) {
    let roster = start_roster(url).await;
    let http = reqwest::Client::new();
    let (_, partner) =
        send(http.post(format!("{roster}/v1/partners")).bearer_auth(MASTER_KEY).json(&json!({"name": "P"}))).await;
    let key = partner["admin_keys"][0]["secret"].as_str().unwrap().to_owned();
    let post = |path: &str, body: Value| http.post(format!("{roster}{path}")).bearer_auth(&key).json(&body);
    let (_, organisation) = send(post("/v1/organisations", json!({"name": "Acme"}))).await;
    let organisation = organisation["id"].as_str().unwrap().to_owned();
    let (_, role) = send(post(
        "/v1/roles",
        json!({"organisation_id": organisation, "name": "Billing",
        "permissions": ["invoices:read"]}),
    ))
    .await;
    let (_, member) = send(post(
        "/v1/memberships",
        json!({"organisation_id": organisation, "first_name": "Ada",
        "last_name": "Lovelace", "email": "ada@example.com", "role": "STANDARD", "permissions": ["customers:read"],
        "role_ids": [role["id"]]}),
    ))
    .await;
    let (membership, user) =
        (member["id"].as_str().unwrap().to_owned(), member["user_id"].as_str().unwrap().to_owned());

    let (_baseline_process, baseline) = start_baseline(url);
    let get = |base: &str, path: &str| {
        let request = http.get(format!("{base}{path}"));
        if base == roster { request.bearer_auth(&key) } else { request }
    };
    let path = format!("/v1/memberships/{membership}");
    assert_eq!(send(get(&baseline, &path)).await, send(get(&roster, &path)).await);
    for permission in ["invoices:read", "customers:read", "customers:write"] {
        let path = format!("/v1/check?organisation_id={organisation}&user_id={user}&permission={permission}");
        let (status, body) = send(get(&baseline, &path)).await;
        assert_eq!((status, &body), (200, &send(get(&roster, &path)).await.1), "{permission}");
        assert_eq!(body["allowed"], permission != "customers:write", "{permission}");
    }
    let stranger = format!("/v1/check?organisation_id={organisation}&user_id=usr_none&permission=invoices:read");
    assert_eq!(send(get(&baseline, &stranger)).await, send(get(&roster, &stranger)).await);
    assert_eq!(send(get(&baseline, "/v1/memberships/mem_missing")).await.0, 404);

    let (status, created) = send(http.post(format!("{baseline}/v1/memberships")).json(&json!({
        "organisation_id": organisation, "first_name": "Grace", "last_name": "Hopper",
        "email": "grace@example.com", "role": "STANDARD"})))
    .await;
    assert_eq!(status, 201);
    let path = format!("/v1/memberships/{}", created["id"].as_str().unwrap());
    assert_eq!(send(get(&roster, &path)).await, (200, created), "what the baseline created, Roster reads the same");

    let (status, patched) = send(http.patch(format!("{baseline}{path}")).json(&json!({"reference": "ref-1"}))).await;
    assert_eq!((status, &patched["reference"]), (200, &json!("ref-1")));
    assert_eq!(send(get(&roster, &path)).await, (200, patched), "what the baseline patched, Roster reads the same");
    let missing = http.patch(format!("{baseline}/v1/memberships/mem_missing")).json(&json!({"reference": "x"}));
    assert_eq!(send(missing).await.0, 404);

    send(post(
        "/v1/memberships",
        json!({"organisation_id": organisation, "first_name": "Alan",
        "last_name": "Turing", "email": "alan@example.com", "role": "ADMIN"}),
    ))
    .await;
    let first = format!("/v1/memberships?organisation_id={organisation}&limit=2");
    let (status, page) = send(get(&baseline, &first)).await;
    assert_eq!((status, page["count"].as_u64(), page["results"].as_array().map(Vec::len)), (200, Some(3), Some(2)));
    assert_eq!(send(get(&roster, &first)).await, (200, page.clone()), "first page");
    let cursor = page["next_cursor"].as_str().unwrap();
    for path in [format!("{first}&cursor={cursor}"), format!("{first}&offset=1"), format!("{first}&offset=3")] {
        assert_eq!(send(get(&baseline, &path)).await, send(get(&roster, &path)).await, "{path}");
    }
}

#[tokio::test]
async fn it_answers_as_roster_does_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    answers_as_roster_does(&format!("sqlite://{}", dir.path().join("bench.db").display())).await;
}

#[tokio::test]
async fn it_answers_as_roster_does_on_postgres() {
    let Some(base) = roster_store::testing::postgres_url() else { return };
    let schema = roster_store::testing::TestSchema::create(&base).await;
    answers_as_roster_does(&schema.url).await;
}
