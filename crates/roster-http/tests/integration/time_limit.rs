//! Spec §8: a request answered 503 at its time limit wrote nothing; one whose commit had begun
//! is answered with the commit's outcome instead.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, test_config};

const ORGANISATIONS: usize = 300;
const CONCURRENT: usize = 64;
/// Rounds run until one reaches the time limit, each with one more batch of `CONCURRENT` than
/// the one before (a fast machine, or SQLite committing queued writes together, may need
/// more), at most this many.
const MAX_ROUNDS: usize = 6;

fn config() -> roster_http::Config {
    roster_http::Config { request_timeout: Duration::from_millis(100), ..test_config() }
}

/// Creates an organisation under the same short limit, asking again when a machine busy with
/// other tests answers 503 (which wrote nothing: what this file pins).
async fn organisation_within_the_limit(app: &TestApp, name: &str) -> String {
    for _ in 0..20 {
        let reply = app.post("/v1/organisations", &app.live, json!({"name": name})).await;
        match reply.status {
            StatusCode::CREATED => return reply.id(),
            StatusCode::SERVICE_UNAVAILABLE => continue,
            other => panic!("{other}: {}", reply.body),
        }
    }
    panic!("organisation {name} was answered 503 twenty times");
}

/// Rounds of heavy concurrent writes, heavier each time, against a short time limit: every
/// group answered 201 exists, and none answered 503 does.
async fn every_503_wrote_nothing(app: TestApp) {
    let mut organisation_ids = Vec::new();
    for index in 0..ORGANISATIONS {
        organisation_ids.push(organisation_within_the_limit(&app, &format!("O{index}")).await);
    }
    let (mut created, mut timed_out) = (0, 0);
    for round in 0..MAX_ROUNDS {
        if timed_out > 0 {
            break;
        }
        let replies = join_all((0..CONCURRENT * (round + 1)).map(|index| {
            let body = json!({"name": format!("G{round}-{index}"), "organisation_ids": organisation_ids});
            app.post("/v1/partner-groups", &app.live, body)
        }))
        .await;
        for reply in &replies {
            match reply.status {
                StatusCode::CREATED => created += 1,
                StatusCode::SERVICE_UNAVAILABLE => timed_out += 1,
                other => panic!("{other}: {}", reply.body),
            }
        }
    }
    // The count is read under the same short limit, with a page of one (hundreds of groups of
    // 300 organisations each would not render within it): a busy machine may answer 503, so
    // it asks again (a 503 changes nothing).
    let mut groups = app.get("/v1/partner-groups?limit=1", &app.live).await;
    for _ in 0..20 {
        if groups.status == StatusCode::OK {
            break;
        }
        groups = app.get("/v1/partner-groups?limit=1", &app.live).await;
    }
    let stored = groups.body["count"].as_u64().unwrap_or_else(|| panic!("{}", groups.body)) - 1;
    assert_eq!(stored, created, "{timed_out} answered 503, {created} answered 201, {stored} stored");
    assert!(timed_out > 0, "the time limit was never reached; the test proves nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_503_at_the_time_limit_wrote_nothing_on_sqlite() {
    every_503_wrote_nothing(TestApp::start_sqlite_with(config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_503_at_the_time_limit_wrote_nothing_on_postgres() {
    if let Some(app) = TestApp::start_postgres_with(config()).await {
        every_503_wrote_nothing(app).await;
    }
}
