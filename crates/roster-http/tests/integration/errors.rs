//! Spec §4: problem documents, bad bodies and bad query parameters, none of which change anything.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, membership_body};

on_both_backends! {
    async fn malformed_json_is_400_invalid_json_and_creates_nothing(app) {
        let response = app
            .client
            .post(format!("{}/v1/organisations", app.base))
            .bearer_auth(&app.live)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        let reply = TestApp::reply(response).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.code(), "INVALID_JSON");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(reply.body["type"], "about:blank");
        assert_eq!(reply.body["status"], 400);
        assert_eq!(
            app.get("/v1/organisations", &app.live).await.body["count"],
            0
        );
    }

    async fn deeply_nested_json_is_refused_without_harm(app) {
        let body = format!(
            "{{\"name\": {}1{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let response = app
            .client
            .post(format!("{}/v1/organisations", app.base))
            .bearer_auth(&app.live)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let reply = TestApp::reply(response).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "INVALID_JSON")
        );
        let health = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }

    async fn a_body_that_is_not_json_content_is_415(app) {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut request = app
                .client
                .post(format!("{}/v1/organisations", app.base))
                .bearer_auth(&app.live)
                .body("{\"name\":\"x\"}");
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let reply = TestApp::reply(request.send().await.unwrap()).await;
            assert_eq!(
                reply.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}"
            );
            assert_eq!(reply.code(), "UNSUPPORTED_MEDIA_TYPE");
        }
        let charset = app
            .client
            .post(format!("{}/v1/organisations", app.base))
            .bearer_auth(&app.live)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body("{\"name\":\"x\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(charset.status(), StatusCode::CREATED);
    }

    async fn a_body_over_one_mebibyte_is_413_and_creates_nothing(app) {
        let name = "x".repeat(1024 * 1024);
        let reply = app
            .post("/v1/organisations", &app.live, json!({ "name": name }))
            .await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.code(), "PAYLOAD_TOO_LARGE");
        // A chunked body without Content-Length is cut off at the same bound.
        let chunks =
            futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
        let response = app
            .client
            .post(format!("{}/v1/organisations", app.base))
            .bearer_auth(&app.live)
            .header(header::CONTENT_TYPE, "application/json")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            app.get("/v1/organisations", &app.live).await.body["count"],
            0
        );
    }

    async fn every_invalid_field_is_listed_with_unknown_fields_first(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let body = json!({
            "organisation_id": org, "first_name": "", "email": "not-an-email", "role": "OWNER",
            "is_owner": "yes", "permissions": ["ok:read", "bad permission"], "allowed_ips": ["10.0.0.0/33"],
            "metadata": {"k": 1}, "access_scope": "everything", "status": "rejected", "surprise": true
        });
        let reply = app.post("/v1/memberships", &app.live, body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.code(), "VALIDATION_UNKNOWN_FIELD");
        assert_eq!(
            reply.field_errors(),
            [
                "surprise: VALIDATION_UNKNOWN_FIELD",
                "first_name: VALIDATION_MIN_LENGTH",
                "last_name: VALIDATION_REQUIRED",
                "email: VALIDATION_INVALID_EMAIL",
                "role: VALIDATION_INVALID_CHOICE",
                "permissions.1: VALIDATION_INVALID_FORMAT",
                "is_owner: VALIDATION_INVALID_TYPE",
                "allowed_ips.0: VALIDATION_INVALID_FORMAT",
                "access_scope: VALIDATION_INVALID_CHOICE",
                "metadata.k: VALIDATION_INVALID_TYPE",
                "status: VALIDATION_INVALID_CHOICE",
            ]
        );
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("email: not a valid email address")
        );
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 0);
    }

    async fn length_and_range_limits_have_their_own_codes(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let mut body = membership_body(&org, &format!("{}@example.com", "a".repeat(250)), "ADMIN");
        body["last_name"] = json!("x".repeat(101));
        body["metadata"] = json!(
            (0..51)
                .map(|i| (format!("k{i}"), json!("v")))
                .collect::<serde_json::Map<_, _>>()
        );
        let reply = app.post("/v1/memberships", &app.live, body).await;
        assert_eq!(
            reply.field_errors(),
            [
                "last_name: VALIDATION_MAX_LENGTH",
                "email: VALIDATION_MAX_LENGTH",
                "metadata: VALIDATION_MAX_LENGTH"
            ]
        );
        let reply = app
            .post(
                "/v1/api-keys",
                &app.live,
                json!({"name": "k", "organisation_id": org, "expires_at": "2001-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(
            reply.field_errors(),
            ["expires_at: VALIDATION_OUT_OF_RANGE"]
        );
    }

    async fn a_body_that_is_not_an_object_is_422(app) {
        let reply = app
            .post("/v1/organisations", &app.live, json!(["Acme"]))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.field_errors(), ["body: VALIDATION_INVALID_TYPE"]);
    }

    async fn query_parameters_are_validated_like_bodies(app) {
        let cases = [
            ("limit=0", "limit: VALIDATION_OUT_OF_RANGE"),
            ("limit=1001", "limit: VALIDATION_OUT_OF_RANGE"),
            ("limit=ten", "limit: VALIDATION_INVALID_TYPE"),
            ("offset=-1", "offset: VALIDATION_OUT_OF_RANGE"),
            ("cursor=garbage", "cursor: VALIDATION_INVALID_FORMAT"),
            ("role=OWNER", "role: VALIDATION_INVALID_CHOICE"),
            ("status=maybe", "status: VALIDATION_INVALID_CHOICE"),
            ("colour=blue", "colour: VALIDATION_UNKNOWN_FIELD"),
        ];
        for (query, expected) in cases {
            let reply = app
                .get(&format!("/v1/memberships?{query}"), &app.live)
                .await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert_eq!(reply.field_errors(), [expected], "{query}");
        }
        let reply = app
            .get("/v1/memberships?limit=1000&offset=0", &app.live)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }

    async fn unknown_routes_are_404_and_wrong_methods_405_problems(app) {
        let reply = app.get("/v1/nothing-here", &app.live).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.code(), "NOT_FOUND");
        let reply = app
            .call(Method::PUT, "/v1/memberships", Some(&app.live), None)
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.code(), "METHOD_NOT_ALLOWED");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(reply.headers.contains_key(header::ALLOW));
    }

    async fn health_answers_and_readiness_follows_the_database(app) {
        let health = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let ready = app
            .client
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
    }
}
