//! The HTTP edges every endpoint shares: request ids, OPTIONS, HEAD, CORS and nesting limits.

use reqwest::{Method, StatusCode, header};
use roster_http::Config;

use crate::support::{TestApp, test_config};

async fn sqlite_app(config: Config) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    TestApp::start_with(url, Box::new(dir), config).await
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sent_one_is_echoed() {
    let app = TestApp::start().await;
    let generated = app.client.get(format!("{}/v1/memberships", app.base)).bearer_auth(&app.live).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let missing = app.client.get(format!("{}/nowhere", app.base)).send().await.unwrap();
    assert!(missing.headers().contains_key("x-request-id"), "problem responses carry one too");
    let echoed = app
        .client
        .get(format!("{}/v1/memberships", app.base))
        .bearer_auth(&app.live)
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-chosen-42");
    // An id too long or of other characters is replaced: it is logged and recorded in events.
    let long = "x".repeat(129);
    for unkept in [long.as_str(), "two words", "<b>"] {
        let replaced =
            app.client.get(format!("{}/healthz", app.base)).header("x-request-id", unkept).send().await.unwrap();
        let id = replaced.headers()["x-request-id"].to_str().unwrap();
        assert!(id != unkept && id.len() == 36, "{unkept} came back as {id}");
    }
}

#[tokio::test]
async fn options_lists_a_routes_methods_and_head_answers_like_get_without_a_body() {
    let app = TestApp::start().await;
    let options = app.client.request(Method::OPTIONS, format!("{}/v1/memberships", app.base)).send().await.unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    let allow = options.headers()[header::ALLOW].to_str().unwrap().to_owned();
    for method in ["GET", "POST", "HEAD"] {
        assert!(allow.contains(method), "{allow}");
    }
    let unknown = app.client.request(Method::OPTIONS, format!("{}/v1/nowhere", app.base)).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let head = app.client.head(format!("{}/v1/memberships", app.base)).bearer_auth(&app.live).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.bytes().await.unwrap().is_empty());
    let unauthorised = app.client.head(format!("{}/v1/memberships", app.base)).send().await.unwrap();
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cors_is_off_by_default_and_follows_the_configured_origins() {
    let app = TestApp::start().await;
    let plain = app
        .client
        .get(format!("{}/v1/memberships", app.base))
        .bearer_auth(&app.live)
        .header(header::ORIGIN, "https://app.test")
        .send()
        .await
        .unwrap();
    assert!(!plain.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    let app = sqlite_app(Config { cors_origins: vec!["https://app.test".to_owned()], ..test_config() }).await;
    let preflight = app
        .client
        .request(Method::OPTIONS, format!("{}/v1/memberships", app.base))
        .header(header::ORIGIN, "https://app.test")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.test");
    let allowed = app
        .client
        .get(format!("{}/v1/memberships", app.base))
        .bearer_auth(&app.live)
        .header(header::ORIGIN, "https://app.test")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.test");
    let foreign = app
        .client
        .get(format!("{}/v1/memberships", app.base))
        .bearer_auth(&app.live)
        .header(header::ORIGIN, "https://evil.test")
        .send()
        .await
        .unwrap();
    assert!(!foreign.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn json_nested_deeper_than_the_limit_is_refused_before_parsing() {
    let app = TestApp::start().await;
    let send = |depth: usize| {
        let body = format!(r#"{{"name": "Acme", "settings": {{"x": {}1{}}}}}"#, "[".repeat(depth), "]".repeat(depth));
        app.client
            .post(format!("{}/v1/organisations", app.base))
            .bearer_auth(&app.live)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    let deep = TestApp::reply(send(31).await.unwrap()).await;
    assert_eq!((deep.status, deep.code()), (StatusCode::BAD_REQUEST, "INVALID_JSON"));
    assert!(deep.body["detail"].as_str().unwrap().contains("deeper than 32"));
    let shallow = TestApp::reply(send(3).await.unwrap()).await;
    assert_eq!(shallow.status, StatusCode::UNPROCESSABLE_ENTITY, "parsed, then refused as an unknown field");
}

#[tokio::test]
async fn metrics_count_and_time_requests_by_route_template_and_show_the_pool() {
    let app = TestApp::start().await;
    let org = app.organisation(&app.live, "Acme").await;
    let member = app.member(&app.live, &org, "ada@example.com", "ADMIN").await;
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/v1/memberships/{member}"), &app.live).await.status, StatusCode::OK);
    }
    app.get("/v1/memberships/mem_missing", &app.live).await;
    let invented = Method::from_bytes(b"BREW").unwrap();
    app.client.request(invented, format!("{}/v1/memberships/{member}", app.base)).send().await.unwrap();
    let response = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    let found = |needle: &str| text.lines().any(|line| line.contains(needle));
    assert!(found(r#"roster_http_requests_total{method="GET",route="/v1/memberships/{id}",status="200"} 3"#), "{text}");
    assert!(found(r#"roster_http_requests_total{method="GET",route="/v1/memberships/{id}",status="404"} 1"#));
    assert!(
        found(
            r#"roster_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/memberships/{id}",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(found(r#"roster_database_pool_connections{state="max"} 5"#), "{text}");
    assert!(found(r#"roster_database_pool_connections{state="idle"}"#));
    assert!(!text.contains(&member), "ids never label a series");
    assert!(!text.contains("BREW"), "invented methods never label a series either: {text}");
    assert!(found(r#"roster_http_requests_total{method="OTHER",route="/v1/memberships/{id}",status="405"} 1"#));
}
