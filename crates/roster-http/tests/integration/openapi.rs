//! The OpenAPI document: generated from the handlers, served, pinned, and readable offline.

use reqwest::{StatusCode, header};

use crate::support::TestApp;

#[test]
fn the_openapi_document_is_pinned() {
    // A change to any route, parameter, body or response shows in review as a snapshot diff.
    insta::assert_json_snapshot!("openapi", roster_http::openapi());
}

#[test]
fn every_operation_documents_its_security_and_its_problems() {
    let document = serde_json::to_value(roster_http::openapi()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = document["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["master_key", "partner_key", "organisation_key", "user"] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 19, "{}", paths.len());
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            assert!(operation["security"].as_array().is_some_and(|s| !s.is_empty()), "{method} {path}: no security");
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("401"), "{method} {path}: 401 undocumented");
            assert!(responses.contains_key("503"), "{method} {path}: 503 undocumented");
            for (status, response) in
                responses.iter().filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
            {
                assert!(
                    response["content"]["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem",
                    "{method} {path} {status}: not a problem document"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_served_and_the_reference_page_needs_no_internet() {
    let app = TestApp::start().await;
    let served: serde_json::Value =
        app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, serde_json::to_value(roster_http::openapi()).unwrap());

    let page = app.client.get(format!("{}/docs/", app.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://"), "the page loads nothing from the internet");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let response = app.client.get(format!("{}/docs/{asset}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let initializer = app.client.get(format!("{}/docs/swagger-initializer.js", app.base)).send().await.unwrap();
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
}
