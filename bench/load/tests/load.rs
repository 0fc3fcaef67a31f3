//! The load generator against a tiny local server: every measured request counted, errors
//! counted apart, `{n}` substituted.

use std::{
    process::Command,
    sync::{Arc, Mutex},
};

use axum::{Router, routing::post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_measures_the_requests_it_was_asked_for_and_counts_errors_apart() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new().route(
        "/echo",
        post(move |body: String| {
            let record = record.clone();
            async move {
                let failing = body.contains("\"n\": 7}");
                record.lock().unwrap().push(body);
                if failing { axum::http::StatusCode::INTERNAL_SERVER_ERROR } else { axum::http::StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_roster-bench-load"))
            .arg(format!("http://{address}/echo"))
            .args([
                "--method",
                "POST",
                "--body",
                r#"{"n": {n}}"#,
                "--concurrency",
                "4",
                "--requests",
                "200",
                "--warmup",
                "5",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["requests"].as_u64().unwrap() + report["errors"].as_u64().unwrap(), 200);
    assert_eq!(report["errors"], 1, "request 7 failed and was measured as an error");
    assert!(report["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(report["p99_ms"].as_f64().unwrap() >= report["p50_ms"].as_f64().unwrap());
    let bodies = seen.lock().unwrap();
    assert_eq!(bodies.len(), 205);
    assert!(bodies.contains(&r#"{"n": 204}"#.to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_rate_it_sends_on_schedule_instead_of_as_fast_as_it_can() {
    let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_roster-bench-load"))
            .arg(format!("http://{address}/"))
            .args(["--rate", "100", "--requests", "50", "--warmup", "5", "--concurrency", "8"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["requests"], 50);
    // Unscheduled, a local server answers thousands a second; on schedule, never above the rate
    // (the clock starts after the warm-up, hence the margin).
    assert!(report["throughput"].as_f64().unwrap() < 120.0, "{report}");
}
