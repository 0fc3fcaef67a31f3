//! Spec §6 and §8: a NUL byte, which PostgreSQL cannot store, is a validation error in bodies
//! and queries and names nothing in a path, on both backends; nothing is written.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{MASTER_KEY, membership_body};

const NUL: &str = "\u{0}";

on_both_backends! {
    async fn a_nul_in_any_body_string_is_422_and_writes_nothing(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let member = app.member(&app.live, &org, "ada@example.com", "ADMIN").await;
        let nul = |text: &str| format!("{text}{NUL}");
        let mut membership = membership_body(&org, &nul("bob@example.com"), "STANDARD");
        membership["first_name"] = json!(nul("Bob"));
        membership["reference"] = json!(nul("ref"));
        membership["metadata"] = json!({nul("key"): "v"});
        let created = app.post("/v1/memberships", &app.live, membership).await;
        assert_eq!(
            created.field_errors(),
            [
                "first_name: VALIDATION_INVALID_FORMAT",
                "email: VALIDATION_INVALID_FORMAT",
                "reference: VALIDATION_INVALID_FORMAT",
                &format!("metadata.key{NUL}: VALIDATION_INVALID_FORMAT"),
            ],
            "{}", created.body
        );
        let value = app.patch(&format!("/v1/memberships/{member}"), &app.live, json!({"metadata": {"k": nul("v")}, "reference_origin": nul("o")})).await;
        assert_eq!(value.field_errors(), ["reference_origin: VALIDATION_INVALID_FORMAT", "metadata.k: VALIDATION_INVALID_FORMAT"]);

        let cases = [
            (MASTER_KEY, "/v1/partners", json!({"name": nul("P")}), "name"),
            (app.live.as_str(), "/v1/organisations", json!({"name": nul("O")}), "name"),
            (app.live.as_str(), "/v1/partner-groups", json!({"name": nul("G")}), "name"),
            (app.live.as_str(), "/v1/users", json!({"email": "u@example.com", "first_name": "U", "last_name": nul("L")}), "last_name"),
            (app.live.as_str(), "/v1/roles", json!({"organisation_id": org, "name": nul("R"), "permissions": []}), "name"),
            (app.live.as_str(), "/v1/api-keys", json!({"name": nul("k"), "organisation_id": org}), "name"),
        ];
        for (key, path, body, field) in cases {
            let reply = app.post(path, key, body).await;
            assert_eq!(reply.field_errors(), [format!("{field}: VALIDATION_INVALID_FORMAT")], "{path}: {}", reply.body);
        }
        let user = app.get("/v1/users", &app.live).await.body["results"][0]["id"].as_str().unwrap().to_owned();
        let renamed = app.patch(&format!("/v1/users/{user}"), &app.live, json!({"first_name": nul("A")})).await;
        assert_eq!(renamed.field_errors(), ["first_name: VALIDATION_INVALID_FORMAT"]);

        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 1);
        assert_eq!(app.get("/v1/users", &app.live).await.body["count"], 1);
        assert_eq!(app.get("/v1/organisations", &app.live).await.body["count"], 1);
        assert_eq!(app.get(&format!("/v1/roles?organisation_id={org}"), &app.live).await.body["count"], 2, "the built-in roles only");
        let unchanged = app.get(&format!("/v1/memberships/{member}"), &app.live).await;
        assert_eq!((unchanged.body["metadata"].clone(), unchanged.body["first_name"].clone()), (json!({}), json!("Ada")));
    }

    async fn a_nul_or_bytes_that_are_not_utf8_in_a_query_are_422(app) {
        let org = app.organisation(&app.live, "Acme").await;
        for path in [
            "/v1/users?email=a%00@example.com".to_owned(),
            "/v1/memberships?email=%00".to_owned(),
            "/v1/memberships?user_id=usr_%00".to_owned(),
            format!("/v1/check?organisation_id={org}&user_id=usr_%00&permission=a:b"),
            format!("/v1/check?organisation_id={org}&user_id=usr_1&permission=a:b%00"),
        ] {
            let reply = app.get(&path, &app.live).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", reply.body);
            assert!(reply.code().starts_with("VALIDATION_"), "{path}: {}", reply.body);
        }
        // Bytes that are not UTF-8 are refused too, not searched for as replacement characters.
        for (path, field) in [
            ("/v1/memberships?email=%FF", "email"),
            ("/v1/users?email=a%FF@example.com", "email"),
            ("/v1/memberships?limit=10&%FF=1", "query"),
        ] {
            let reply = app.get(path, &app.live).await;
            assert_eq!(reply.field_errors(), [format!("{field}: VALIDATION_INVALID_FORMAT")], "{path}: {}", reply.body);
        }
        let spaced = app.get("/v1/users?email=a+b%40example.com", &app.live).await;
        assert_eq!((spaced.status, spaced.body["count"].clone()), (StatusCode::OK, json!(0)), "+ is a space, as in forms");
    }

    async fn a_path_id_that_cannot_be_an_id_is_404(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let member = app.post("/v1/memberships", &app.live, membership_body(&org, "ada@example.com", "ADMIN")).await;
        let user = member.body["user_id"].as_str().unwrap();
        let token = app.key(&app.live, json!({"name": "session", "user_id": user})).await;
        for bad in ["mem_%00", "%00", "org_%FF", "a%20b", &"x".repeat(51)] {
            for (method, path, key) in [
                (Method::GET, format!("/v1/memberships/{bad}"), app.live.as_str()),
                (Method::PATCH, format!("/v1/memberships/{bad}"), app.live.as_str()),
                (Method::DELETE, format!("/v1/memberships/{bad}"), app.live.as_str()),
                (Method::GET, format!("/v1/memberships/{bad}/permissions"), app.live.as_str()),
                (Method::GET, format!("/v1/organisations/{bad}"), app.live.as_str()),
                (Method::DELETE, format!("/v1/organisations/{bad}"), app.live.as_str()),
                (Method::GET, format!("/v1/users/{bad}"), app.live.as_str()),
                (Method::PATCH, format!("/v1/users/{bad}"), app.live.as_str()),
                (Method::GET, format!("/v1/roles/{bad}"), app.live.as_str()),
                (Method::GET, format!("/v1/api-keys/{bad}"), app.live.as_str()),
                (Method::DELETE, format!("/v1/api-keys/{bad}"), app.live.as_str()),
                (Method::GET, format!("/v1/partner-groups/{bad}"), app.live.as_str()),
                (Method::GET, format!("/v1/partners/{bad}"), MASTER_KEY),
                (Method::POST, format!("/v1/partners/{bad}/admin-keys"), MASTER_KEY),
                (Method::GET, format!("/v1/me/memberships/{bad}"), token.as_str()),
                (Method::DELETE, format!("/v1/me/memberships/{bad}"), token.as_str()),
            ] {
                let body = matches!(method, Method::PATCH | Method::POST).then(|| json!({"mode": "live"}));
                let body = if method == Method::PATCH { Some(json!({})) } else { body };
                let reply = app.call(method.clone(), &path, Some(key), body).await;
                assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"), "{method} {path}: {}", reply.body);
            }
        }
        // A credential refused by an endpoint is refused whatever the path holds.
        let org_key = app.key(&app.live, json!({"name": "org", "organisation_id": org, "abilities": ["*"]})).await;
        let publishable = app.key(&app.live, json!({"name": "pk", "type": "publishable", "organisation_id": org})).await;
        for (path, key, expected) in [
            ("/v1/memberships/mem_%00", MASTER_KEY, StatusCode::UNAUTHORIZED),
            ("/v1/memberships/mem_%00", org_key.as_str(), StatusCode::UNAUTHORIZED),
            ("/v1/partners/ptn_%00", app.live.as_str(), StatusCode::UNAUTHORIZED),
            ("/v1/me/memberships/mem_%00", app.live.as_str(), StatusCode::UNAUTHORIZED),
            ("/v1/organisations/org_%00", publishable.as_str(), StatusCode::FORBIDDEN),
        ] {
            assert_eq!(app.get(path, key).await.status, expected, "{path}");
        }
    }
}
