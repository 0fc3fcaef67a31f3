//! Spec §3: keys, their shapes, abilities, revocation and expiry, the master key.

use reqwest::{StatusCode, header};
use roster_core::{
    model::{KeyHolder, KeyType, Mode},
    policy::Ability,
    provision::{KeySpec, issue_key},
    time::Timestamp,
};
use serde_json::json;

use crate::support::{MASTER_KEY, TestApp};

#[tokio::test]
async fn secrets_are_stored_only_as_hashes() {
    let app = TestApp::start().await;
    let org = app.organisation(&app.live, "Acme").await;
    let secret = app.key(&app.live, json!({"name": "k", "organisation_id": org, "abilities": ["*"]})).await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    let mut stored = std::fs::read(&path).unwrap();
    stored.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let contains = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(&secret), "a secret was stored in clear");
    assert!(!contains(&app.live), "an admin secret was stored in clear");
    assert!(contains(&roster_core::keys::hash(&secret)));
}

on_both_backends! {
    async fn missing_malformed_and_unknown_credentials_are_401(app) {
        let mut typo = app.live.clone();
        typo.replace_range(10..11, if &typo[10..11] == "a" { "b" } else { "a" });
        let made_up = roster_core::keys::generate(KeyType::Secret, Mode::Live);
        for authorization in [
            None,
            Some("Basic dXNlcjpwYXNz".to_owned()),
            Some("Bearer ".to_owned()),
            Some("Bearer sk_live_short".to_owned()),
            Some(format!("Bearer {typo}")),
            Some(format!("Bearer {made_up}")),
        ] {
            let mut request = app.client.get(format!("{}/v1/memberships", app.base));
            if let Some(value) = &authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            let reply = TestApp::reply(request.send().await.unwrap()).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
            assert_eq!(reply.code(), "UNAUTHORISED");
            assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        }
    }

    async fn the_master_key_manages_partners_and_nothing_else(app) {
        assert_eq!(
            app.get("/v1/memberships", MASTER_KEY).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/v1/organisations", MASTER_KEY).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/v1/partners", &app.live).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.post("/v1/partners", &app.live, json!({"name": "x"}))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );

        let partners = app.get("/v1/partners", MASTER_KEY).await;
        assert_eq!(partners.status, StatusCode::OK);
        assert_eq!(partners.body["count"], 1);
        let id = partners.body["results"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let one = app.get(&format!("/v1/partners/{id}"), MASTER_KEY).await;
        assert_eq!(
            (one.status, one.body["name"].as_str()),
            (StatusCode::OK, Some("default"))
        );
        assert_eq!(
            app.get("/v1/partners/ptn_missing", MASTER_KEY).await.status,
            StatusCode::NOT_FOUND
        );
        let invalid = app.post("/v1/partners", MASTER_KEY, json!({})).await;
        assert_eq!(invalid.field_errors(), ["name: VALIDATION_REQUIRED"]);
    }

    async fn a_new_partners_admin_keys_work_in_their_own_mode(app) {
        let (live, test) = app.new_partner("Globex").await;
        assert!(live.starts_with("sk_live_") && test.starts_with("sk_test_"));
        let org = app.organisation(&live, "Globex Live").await;
        assert_eq!(
            app.get(&format!("/v1/organisations/{org}"), &live)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.get(&format!("/v1/organisations/{org}"), &test)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get("/v1/organisations", &test).await.body["count"], 0);
    }

    async fn a_key_cannot_mint_a_key_with_an_ability_it_lacks(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let limited = app
            .key(&app.live, json!({"name": "limited", "organisation_id": org, "abilities": ["api_keys:write", "users:read"]}))
            .await;
        for abilities in [
            json!(["*"]),
            json!(["users:write"]),
            json!(["users:read", "roles:read"]),
        ] {
            let reply = app
                .post(
                    "/v1/api-keys",
                    &limited,
                    json!({"name": "more", "organisation_id": org, "abilities": abilities}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{abilities}");
            assert_eq!(reply.code(), "FORBIDDEN");
        }
        let reply = app
            .post(
                "/v1/api-keys",
                &limited,
                json!({"name": "same", "organisation_id": org, "abilities": ["users:read"]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["abilities"], json!(["users:read"]));
    }

    async fn a_missing_ability_is_403(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let group = app.get("/v1/partner-groups", &app.live).await.body["results"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let reader = app
            .key(
                &app.live,
                json!({"name": "r", "partner_group_id": group, "abilities": ["memberships:read"]}),
            )
            .await;
        assert_eq!(
            app.get("/v1/memberships", &reader).await.status,
            StatusCode::OK
        );
        let write = app
            .post(
                "/v1/memberships",
                &reader,
                crate::support::membership_body(&org, "a@example.com", "ADMIN"),
            )
            .await;
        assert_eq!(
            (write.status, write.code()),
            (StatusCode::FORBIDDEN, "FORBIDDEN")
        );
        assert_eq!(
            app.get("/v1/organisations", &reader).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.get("/v1/users", &reader).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.get("/v1/api-keys", &reader).await.status,
            StatusCode::FORBIDDEN
        );
    }

    async fn revoked_keys_are_401_and_stay_listed_as_revoked(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let created = app
            .post(
                "/v1/api-keys",
                &app.live,
                json!({"name": "temp", "organisation_id": org, "abilities": ["*"]}),
            )
            .await;
        let secret = created.body["secret"].as_str().unwrap().to_owned();
        assert_eq!(
            app.get("/v1/organisations", &secret).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.delete(&format!("/v1/api-keys/{}", created.id()), &app.live)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get("/v1/organisations", &secret).await.status,
            StatusCode::UNAUTHORIZED
        );
        let shown = app
            .get(&format!("/v1/api-keys/{}", created.id()), &app.live)
            .await;
        assert!(shown.body["revoked_at"].is_string());
        assert!(
            shown.body.get("secret").is_none(),
            "the secret is shown once only"
        );
    }

    async fn expired_keys_are_401(app) {
        let partner = app.get("/v1/partners", MASTER_KEY).await.body["results"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let group = app.get("/v1/partner-groups", &app.live).await.body["results"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let long_ago = Timestamp(Timestamp::now().millis() - 60_000);
        let spec = KeySpec {
            name: "old".into(),
            key_type: KeyType::Secret,
            holder: KeyHolder::Group(group.clone()),
            abilities: vec![Ability::All],
            expires_at: Some(Timestamp(long_ago.millis() + 1_000)),
        };
        let issued = issue_key(&partner, Mode::Live, spec, long_ago);
        let mut tx = app.store.begin().await.unwrap();
        tx.insert_api_key(&issued.key, &issued.secret_hash)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let reply = app.get("/v1/organisations", &issued.secret).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "UNAUTHORISED")
        );
    }

    async fn keys_record_when_they_were_last_used(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let created = app
            .post(
                "/v1/api-keys",
                &app.live,
                json!({"name": "k", "organisation_id": org, "abilities": ["*"]}),
            )
            .await;
        assert!(created.body["last_used_at"].is_null());
        let secret = created.body["secret"].as_str().unwrap();
        assert_eq!(
            app.get("/v1/organisations", secret).await.status,
            StatusCode::OK
        );
        app.state.app().key_uses_recorded().await;
        let last_used = app
            .get(&format!("/v1/api-keys/{}", created.id()), &app.live)
            .await
            .body["last_used_at"]
            .clone();
        assert!(last_used.is_string(), "last_used_at was never recorded");
    }

    async fn publishable_keys_are_403_on_memberships(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let publishable = app
            .key(
                &app.live,
                json!({"name": "web", "type": "publishable", "organisation_id": org}),
            )
            .await;
        assert!(publishable.starts_with("pk_live_"));
        let group = app.get("/v1/partner-groups", &app.live).await.body["results"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let group_publishable = app
            .key(
                &app.live,
                json!({"name": "web", "type": "publishable", "partner_group_id": group}),
            )
            .await;
        let reply = app.get("/v1/memberships", &group_publishable).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "FORBIDDEN")
        );
    }

}
