//! The binary's life cycle on SQLite: first start, migrations, shutdown and `kill -9`.

use std::{
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{MASTER_KEY, Server, admin_key, post, sqlite_url};

#[tokio::test]
async fn the_first_start_prints_admin_keys_once_and_later_starts_print_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("roster.db");
    let first = Server::start(&sqlite_url(&database), None);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !first.stderr().contains("test admin key") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = first.stderr();
    let live = admin_key(&output, "live");
    assert!(live.starts_with("sk_live_") && admin_key(&output, "test").starts_with("sk_test_"));
    let client = reqwest::Client::new();
    let reply = client.get(format!("{}/v1/organisations", first.base)).bearer_auth(&live).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    // The default partner's admin group and live key have events, in the native shape.
    let events: Value =
        client.get(format!("{}/v1/events", first.base)).bearer_auth(&live).send().await.unwrap().json().await.unwrap();
    let results = events["results"].as_array().unwrap();
    assert_eq!(
        results.iter().map(|event| event["type"].as_str().unwrap()).collect::<Vec<_>>(),
        ["api_key.created", "partner_group.created"]
    );
    assert_eq!(results[1]["data"]["object"]["is_admin"], true);
    assert!(live.starts_with(results[0]["data"]["object"]["prefix"].as_str().unwrap()));
    assert!(!events.to_string().contains(&live), "no secret in an event");
    assert!(first.terminate().success());

    let second = Server::start(&sqlite_url(&database), None);
    let reply = client.get(format!("{}/v1/organisations", second.base)).bearer_auth(&live).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "the key of the first start still works");
    let output = second.stderr();
    assert!(!output.contains("sk_live_") && !output.contains("sk_test_"), "a secret was printed again: {output}");
}

#[tokio::test]
async fn with_a_master_key_nothing_is_created_and_partners_are_made_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_url(&dir.path().join("roster.db")), Some(MASTER_KEY));
    let client = reqwest::Client::new();
    let partners = client.get(format!("{}/v1/partners", server.base)).bearer_auth(MASTER_KEY).send().await.unwrap();
    let body: Value = partners.json().await.unwrap();
    assert_eq!(body["count"], 0);
    assert!(!server.stderr().contains("admin key"));
    let created =
        post(&client, format!("{}/v1/partners", server.base), MASTER_KEY, json!({"name": "Acme"})).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[test]
fn migrate_creates_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("fresh.db");
    let url = format!("sqlite://{}", database.display());
    for _ in 0..2 {
        let output =
            Command::new(env!("CARGO_BIN_EXE_roster")).args(["migrate", "--database-url", &url]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert!(database.exists());
    let bad =
        Command::new(env!("CARGO_BIN_EXE_roster")).args(["migrate", "--database-url", "mysql://x"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unsupported database URL"));
}

#[test]
fn a_jwt_secret_shorter_than_32_bytes_refuses_to_start_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("never.db");
    let url = format!("sqlite://{}", database.display());
    let short = "x".repeat(31);
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url, "--jwt-hs256-secret", &short])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--jwt-hs256-secret") && stderr.contains("at least 32"), "{stderr}");
    assert!(!stderr.contains(&short), "the secret was printed: {stderr}");
    assert!(!database.exists(), "a database was created before the configuration was checked");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_url(&dir.path().join("roster.db")), Some(MASTER_KEY));
    let client = reqwest::Client::new();
    let health = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
}

/// Every write acknowledged with a 2xx is on disk: `synchronous=FULL` makes COMMIT durable
/// before the response is sent, so killing the process mid-stream loses none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    acknowledged_writes_survive_kill_9(&sqlite_url(&dir.path().join("roster.db"))).await;
}

/// Writes from four clients at once, kills the server with SIGKILL mid-stream, restarts it
/// on the same database and reads back every write it acknowledged.
pub async fn acknowledged_writes_survive_kill_9(database_url: &str) {
    let server = Server::start(database_url, Some(MASTER_KEY));
    let client = reqwest::Client::new();
    let partner =
        post(&client, format!("{}/v1/partners", server.base), MASTER_KEY, json!({"name": "Acme"})).await.unwrap();
    let partner: Value = partner.json().await.unwrap();
    let key = partner["admin_keys"][0]["secret"].as_str().unwrap().to_owned();
    let org = post(&client, format!("{}/v1/organisations", server.base), &key, json!({"name": "Acme"})).await.unwrap();
    let org = org.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (client, base, key, org, acknowledged) =
                (client.clone(), server.base.clone(), key.clone(), org.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let body = json!({"organisation_id": org, "first_name": "W", "last_name": "N",
                        "email": format!("w{writer}-{n}@example.com"), "role": "ADMIN"});
                    let Ok(response) = post(&client, format!("{base}/v1/memberships"), &key, body).await else {
                        break;
                    };
                    if response.status() != StatusCode::CREATED {
                        break;
                    }
                    let Ok(body) = response.json::<Value>().await else {
                        break;
                    };
                    acknowledged.lock().unwrap().push(body["id"].as_str().unwrap().to_owned());
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 200 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 200, "only {} writes before the kill", acknowledged.len());

    let restarted = Server::start(database_url, Some(MASTER_KEY));
    for id in &acknowledged {
        let reply =
            client.get(format!("{}/v1/memberships/{id}", restarted.base)).bearer_auth(&key).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "acknowledged membership {id} was lost");
    }
}

#[tokio::test]
async fn each_request_is_logged_once_with_its_request_id_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_url(&dir.path().join("roster.db")), Some(MASTER_KEY));
    let client = reqwest::Client::new();
    let partner =
        post(&client, format!("{}/v1/partners", server.base), MASTER_KEY, json!({"name": "Acme"})).await.unwrap();
    let partner: Value = partner.json().await.unwrap();
    let key = partner["admin_keys"][0]["secret"].as_str().unwrap().to_owned();
    let org = post(&client, format!("{}/v1/organisations", server.base), &key, json!({"name": "Acme"})).await.unwrap();
    let org = org.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let issued = client
        .post(format!("{}/v1/api-keys", server.base))
        .bearer_auth(&key)
        .header("x-request-id", "trace-me-4242")
        .json(&json!({"name": "k", "organisation_id": org, "abilities": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.headers()["x-request-id"], "trace-me-4242");
    let secret = issued.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    let refused = client
        .get(format!("{}/v1/memberships?email=ada%40example.com", server.base))
        .bearer_auth("sk_live_bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("trace-me-4242") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = server.stderr();
    let line = log
        .lines()
        .find(|line| line.contains("trace-me-4242"))
        .unwrap_or_else(|| panic!("no line with the id in {log}"));
    assert!(line.contains("/v1/api-keys") && line.contains("201"), "{line}");
    for secret in [MASTER_KEY, key.as_str(), secret.as_str(), "sk_live_bogus", "ada@example.com"] {
        assert!(!log.contains(secret), "the log contains {secret}:\n{log}");
    }
}

#[tokio::test]
async fn an_internal_error_is_answered_without_its_cause_which_is_logged_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("roster.db");
    let server = Server::start(&sqlite_url(&database), Some(MASTER_KEY));
    let client = reqwest::Client::new();
    let partner =
        post(&client, format!("{}/v1/partners", server.base), MASTER_KEY, json!({"name": "Acme"})).await.unwrap();
    let key = partner.json::<Value>().await.unwrap()["admin_keys"][0]["secret"].as_str().unwrap().to_owned();
    // A fault no request can cause: a table dropped behind Roster's back.
    rusqlite::Connection::open(&database).unwrap().execute_batch("DROP TABLE roles").unwrap();
    let reply = client
        .get(format!("{}/v1/roles", server.base))
        .bearer_auth(&key)
        .header("x-request-id", "fault-5150")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.headers()["x-request-id"], "fault-5150");
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["code"], "INTERNAL");
    assert!(!body.to_string().contains("no such table"), "the cause reached the client: {body}");

    let deadline = Instant::now() + Duration::from_secs(5);
    let cause =
        |log: &str| log.lines().find(|line| line.contains("ERROR") && line.contains("fault-5150")).map(str::to_owned);
    while cause(&server.stderr()).is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = server.stderr();
    let line = cause(&log).unwrap_or_else(|| panic!("no error line with the request id in {log}"));
    assert!(line.contains("no such table: roles") && line.contains("/v1/roles"), "{line}");
    assert!(!log.contains(&key), "the log contains the key");
}

#[test]
fn roster_openapi_prints_the_document_the_server_serves() {
    let output = Command::new(env!("CARGO_BIN_EXE_roster")).arg("openapi").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, serde_json::to_value(roster_http::openapi()).unwrap());
}

#[tokio::test]
async fn json_logs_carry_the_request_id_as_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("roster.db"));
    let server = Server::start_with(&url, Some(MASTER_KEY), &["--log-format", "json"]);
    let client = reqwest::Client::new();
    let reply = client
        .get(format!("{}/v1/partners", server.base))
        .bearer_auth(MASTER_KEY)
        .header("x-request-id", "json-77")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("json-77") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = server.stderr();
    let line = log.lines().find(|line| line.contains("json-77")).unwrap_or_else(|| panic!("{log}"));
    let entry: Value = serde_json::from_str(line).unwrap();
    assert_eq!(entry["request_id"], "json-77", "{line}");
    assert_eq!(entry["path"], "/v1/partners");
    assert_eq!(entry["status"], 200);
    assert!(!log.contains(MASTER_KEY));
}

#[tokio::test]
async fn prune_events_deletes_the_events_created_before_a_date_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("roster.db"));
    let server = Server::start(&url, Some(MASTER_KEY));
    let client = reqwest::Client::new();
    let partner =
        post(&client, format!("{}/v1/partners", server.base), MASTER_KEY, json!({"name": "Acme"})).await.unwrap();
    let partner: Value = partner.json().await.unwrap();
    let key = partner["admin_keys"][0]["secret"].as_str().unwrap().to_owned();
    let organisation: Value = post(&client, format!("{}/v1/organisations", server.base), &key, json!({"name": "Acme"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({"organisation_id": organisation["id"], "email": "a@example.com", "first_name": "A", "last_name": "B", "role": "ADMIN"});
    let membership: Value =
        post(&client, format!("{}/v1/memberships", server.base), &key, body).await.unwrap().json().await.unwrap();
    let versions = format!("{}/v1/memberships/{}/versions", server.base, membership["id"].as_str().unwrap());
    let count = |reply: Value| reply["count"].as_u64().unwrap();
    assert_eq!(count(client.get(&versions).bearer_auth(&key).send().await.unwrap().json().await.unwrap()), 1);

    let prune = |before: &str| {
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["prune-events", "--database-url", &url, "--before", before])
            .output()
            .unwrap()
    };
    let none = prune("2000-01-01");
    assert!(none.status.success(), "{}", String::from_utf8_lossy(&none.stderr));
    assert!(String::from_utf8_lossy(&none.stderr).contains("pruned 0 events"));
    assert_eq!(count(client.get(&versions).bearer_auth(&key).send().await.unwrap().json().await.unwrap()), 1);
    let all = prune("2999-01-01T00:00:00Z");
    assert!(
        String::from_utf8_lossy(&all.stderr).contains("pruned 6 events"),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    let after = client.get(&versions).bearer_auth(&key).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::OK, "the membership is still there, its history gone");
    assert_eq!(count(after.json().await.unwrap()), 0);
    let events: Value =
        client.get(format!("{}/v1/events", server.base)).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        events["results"],
        json!([]),
        "the admin group's, keys', organisation's, user's and membership's events"
    );
    let refused = prune("last week");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("RFC 3339"));
}
