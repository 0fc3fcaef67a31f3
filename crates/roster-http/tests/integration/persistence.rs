//! Data outlives the process that wrote it, and the in-memory database works end to end.

use reqwest::StatusCode;

use roster_http::Config;

use crate::support::TestApp;

#[tokio::test]
async fn data_survives_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let app = TestApp::start_on(url.clone(), None).await;
    let org = app.organisation(&app.live, "Acme").await;
    let member = app.member(&app.live, &org, "ada@example.com", "ADMIN").await;
    let key = app.live.clone();
    drop(app);

    let store = roster_store::open(&url).await.unwrap();
    let (base, server) = crate::support::serve(store, crate::support::test_config()).await;
    let reply =
        reqwest::Client::new().get(format!("{base}/v1/memberships/{member}")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    server.abort();
}

#[tokio::test]
async fn the_in_memory_database_serves_the_whole_api() {
    let app = TestApp::start_on("sqlite::memory:".to_owned(), None).await;
    let org = app.organisation(&app.live, "Acme").await;
    let member = app.member(&app.live, &org, "ada@example.com", "ADMIN").await;
    assert_eq!(app.get(&format!("/v1/memberships/{member}"), &app.live).await.status, StatusCode::OK);
    assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 1);
}

#[tokio::test]
async fn a_request_past_its_time_limit_is_503_and_its_write_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let app = TestApp::start_with(
        url,
        Box::new(dir),
        Config { request_timeout: std::time::Duration::from_millis(300), ..crate::support::test_config() },
    )
    .await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let reply = app.post("/v1/organisations", &app.live, serde_json::json!({"name": "Late"})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"));
    assert!(reply.body["detail"].as_str().unwrap().contains("did not finish within 300 ms"), "{}", reply.body);
    assert!(reply.headers.contains_key("x-request-id"), "a timed-out answer carries its request id too");
    // The abandoned write gets the lock once it is released, and must not commit.
    blocker.execute_batch("COMMIT").unwrap();
    // On a busy machine the abandoned write may hold the writer for longer than this app's
    // short time limit while it rolls back; a 503 then is that limit, not the behaviour pinned.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = app.post("/v1/organisations", &app.live, serde_json::json!({"name": "On time"})).await;
        if reply.status == StatusCode::CREATED {
            break;
        }
        assert!(
            reply.status == StatusCode::SERVICE_UNAVAILABLE && std::time::Instant::now() < deadline,
            "{}",
            reply.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let names: Vec<_> = app.get("/v1/organisations", &app.live).await.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["On time"]);
}

#[tokio::test]
async fn a_write_that_cannot_get_the_database_lock_is_503_and_changes_nothing() {
    let app = TestApp::start().await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    // Another process holds SQLite's write lock for longer than Roster's busy timeout.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let reply = app.post("/v1/organisations", &app.live, serde_json::json!({"name": "Blocked"})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"));
    assert_eq!(reply.headers[reqwest::header::CONTENT_TYPE], "application/problem+json");
    blocker.execute_batch("COMMIT").unwrap();
    assert_eq!(app.get("/v1/organisations", &app.live).await.body["count"], 0);
    app.organisation(&app.live, "Unblocked").await;
}
