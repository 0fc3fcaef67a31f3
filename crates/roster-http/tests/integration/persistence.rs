//! Data outlives the process that wrote it, and the in-memory database works end to end.

use reqwest::StatusCode;

use crate::support::TestApp;

#[tokio::test]
async fn data_survives_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let app = TestApp::start_on(url.clone(), None).await;
    let org = app.organisation(&app.live, "Acme").await;
    let member = app
        .member(&app.live, &org, "ada@example.com", "ADMIN")
        .await;
    let key = app.live.clone();
    drop(app);

    let store = roster_store::open(&url).await.unwrap();
    let (base, server) = crate::support::serve(store).await;
    let reply = reqwest::Client::new()
        .get(format!("{base}/v1/memberships/{member}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    server.abort();
}

#[tokio::test]
async fn the_in_memory_database_serves_the_whole_api() {
    let app = TestApp::start_on("sqlite::memory:".to_owned(), None).await;
    let org = app.organisation(&app.live, "Acme").await;
    let member = app
        .member(&app.live, &org, "ada@example.com", "ADMIN")
        .await;
    assert_eq!(
        app.get(&format!("/v1/memberships/{member}"), &app.live)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 1);
}
