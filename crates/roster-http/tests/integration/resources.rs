//! Spec §5: partner groups, organisations, users and API keys.

use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends! {
    async fn partner_groups_are_created_read_changed_and_deleted(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let created = app
            .post(
                "/v1/partner-groups",
                &app.live,
                json!({"name": "Support", "organisation_ids": [org]}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(
            (
                created.body["object"].as_str(),
                created.body["is_admin"].as_bool()
            ),
            (Some("partner_group"), Some(false))
        );
        assert_eq!(created.body["organisation_ids"], json!([org]));
        let path = format!("/v1/partner-groups/{}", created.id());
        assert_eq!(app.get(&path, &app.live).await.body, created.body);
        let renamed = app
            .patch(
                &path,
                &app.live,
                json!({"name": "Helpdesk", "organisation_ids": []}),
            )
            .await;
        assert_eq!(
            (
                renamed.body["name"].as_str(),
                &renamed.body["organisation_ids"]
            ),
            (Some("Helpdesk"), &json!([]))
        );
        assert_eq!(
            app.get("/v1/partner-groups", &app.live).await.body["count"],
            2
        );
        let invalid = app
            .post(
                "/v1/partner-groups",
                &app.live,
                json!({"name": "X", "organisation_ids": [org, "org_nope"]}),
            )
            .await;
        assert_eq!(
            invalid.field_errors(),
            ["organisation_ids.1: VALIDATION_INVALID_REFERENCE"]
        );
        // A test-mode organisation cannot be assigned with a live key.
        let test_org = app.organisation(&app.test, "Sandbox").await;
        let cross = app
            .patch(&path, &app.live, json!({"organisation_ids": [test_org]}))
            .await;
        assert_eq!(
            cross.field_errors(),
            ["organisation_ids.0: VALIDATION_INVALID_REFERENCE"]
        );
        assert_eq!(
            app.delete(&path, &app.live).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get(&path, &app.live).await.status,
            StatusCode::NOT_FOUND
        );
    }

    async fn deleting_a_group_disables_its_keys(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let group = app
            .post(
                "/v1/partner-groups",
                &app.live,
                json!({"name": "Temp", "organisation_ids": [org]}),
            )
            .await
            .id();
        let key = app
            .key(
                &app.live,
                json!({"name": "k", "partner_group_id": group, "abilities": ["*"]}),
            )
            .await;
        assert_eq!(
            app.get("/v1/organisations", &key).await.status,
            StatusCode::OK
        );
        app.delete(&format!("/v1/partner-groups/{group}"), &app.live)
            .await;
        assert_eq!(
            app.get("/v1/organisations", &key).await.status,
            StatusCode::UNAUTHORIZED
        );
    }

    async fn a_remembered_key_sees_its_groups_demotion_and_its_organisations_deletion_at_once(app) {
        let group = app
            .post("/v1/partner-groups", &app.live, json!({"name": "Second", "is_admin": true}))
            .await
            .id();
        let group_key = app
            .key(&app.live, json!({"name": "g", "partner_group_id": group, "abilities": ["*"]}))
            .await;
        let org = app.organisation(&app.live, "Acme").await;
        let org_key = app
            .key(&app.live, json!({"name": "o", "organisation_id": org, "abilities": ["*"]}))
            .await;
        // Both remembered by the node; writes that change no key keep them so.
        assert_eq!(app.get("/v1/partner-groups", &group_key).await.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/v1/organisations/{org}"), &org_key).await.status, StatusCode::OK);
        let renamed = app.patch(&format!("/v1/organisations/{org}"), &app.live, json!({"name": "Acme 2"})).await;
        assert_eq!(renamed.status, StatusCode::OK);
        assert_eq!(app.get("/v1/partner-groups", &group_key).await.status, StatusCode::OK);

        let demoted = app.patch(&format!("/v1/partner-groups/{group}"), &app.live, json!({"is_admin": false})).await;
        assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
        assert_eq!(
            app.get("/v1/partner-groups", &group_key).await.status,
            StatusCode::FORBIDDEN,
            "no longer an admin group's key"
        );
        let deleted = app.delete(&format!("/v1/organisations/{org}"), &app.live).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get(&format!("/v1/organisations/{org}"), &org_key).await.status,
            StatusCode::UNAUTHORIZED
        );
    }

    async fn organisations_are_created_read_changed_and_deleted_with_their_memberships(app) {
        let created = app
            .post(
                "/v1/organisations",
                &app.live,
                json!({"name": "Acme", "settings": {"abuse_contact_email": "abuse@acme.test"}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(
            created.body["settings"],
            json!({"enforce_twofactor": false, "abuse_contact_email": "abuse@acme.test"})
        );
        let org = created.id();
        let path = format!("/v1/organisations/{org}");
        let changed = app
            .patch(
                &path,
                &app.live,
                json!({"settings": {"enforce_twofactor": true}}),
            )
            .await;
        assert_eq!(
            changed.body["settings"],
            json!({"enforce_twofactor": true, "abuse_contact_email": "abuse@acme.test"})
        );
        assert_eq!(changed.body["name"], "Acme");
        let invalid = app
            .patch(
                &path,
                &app.live,
                json!({"settings": {"abuse_contact_email": "nope", "colour": 1}}),
            )
            .await;
        assert_eq!(
            invalid.field_errors(),
            [
                "settings.colour: VALIDATION_UNKNOWN_FIELD",
                "settings.abuse_contact_email: VALIDATION_INVALID_EMAIL"
            ]
        );

        let member = app
            .member(&app.live, &org, "ada@example.com", "ADMIN")
            .await;
        let org_key = app
            .key(
                &app.live,
                json!({"name": "k", "organisation_id": org, "abilities": ["*"]}),
            )
            .await;
        assert_eq!(
            app.delete(&path, &app.live).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get(&path, &app.live).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get(&format!("/v1/memberships/{member}"), &app.live)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/v1/organisations", &org_key).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/v1/users", &app.live).await.body["count"],
            1,
            "users outlive their memberships"
        );
    }

    async fn users_are_unique_by_email_ignoring_case(app) {
        let body = json!({"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace"});
        let created = app.post("/v1/users", &app.live, body).await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(
            (
                created.body["object"].as_str(),
                created.body["is_staff"].as_bool()
            ),
            (Some("user"), Some(false))
        );
        let duplicate = app
            .post(
                "/v1/users",
                &app.live,
                json!({"email": "ada@example.COM", "first_name": "A", "last_name": "L"}),
            )
            .await;
        assert_eq!(
            (duplicate.status, duplicate.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "USER_ALREADY_EXISTS")
        );
        let other = app
            .post(
                "/v1/users",
                &app.live,
                json!({"email": "bob@example.com", "first_name": "B", "last_name": "B"}),
            )
            .await;
        let taken = app
            .patch(
                &format!("/v1/users/{}", other.id()),
                &app.live,
                json!({"email": "ADA@example.com"}),
            )
            .await;
        assert_eq!(taken.code(), "USER_ALREADY_EXISTS");
        let renamed = app
            .patch(
                &format!("/v1/users/{}", created.id()),
                &app.live,
                json!({"last_name": "King"}),
            )
            .await;
        assert_eq!(
            (
                renamed.body["last_name"].as_str(),
                renamed.body["email"].as_str()
            ),
            (Some("King"), Some("Ada@Example.com"))
        );
        let found = app
            .get("/v1/users?email=ada%40EXAMPLE.com", &app.live)
            .await;
        assert_eq!(found.body["count"], 1);
        assert_eq!(
            app.get(&format!("/v1/users/{}", created.id()), &app.live)
                .await
                .status,
            StatusCode::OK
        );
        // The same e-mail is a different user in test mode.
        let test = app
            .post(
                "/v1/users",
                &app.test,
                json!({"email": "ada@example.com", "first_name": "A", "last_name": "L"}),
            )
            .await;
        assert_eq!(test.status, StatusCode::CREATED);
    }

    async fn api_keys_are_issued_listed_and_need_exactly_one_holder(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let group = app.get("/v1/partner-groups", &app.live).await.body["results"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let neither = app
            .post("/v1/api-keys", &app.live, json!({"name": "k"}))
            .await;
        assert_eq!(
            neither.field_errors(),
            ["partner_group_id: VALIDATION_REQUIRED"]
        );
        let both = app
            .post(
                "/v1/api-keys",
                &app.live,
                json!({"name": "k", "organisation_id": org, "partner_group_id": group}),
            )
            .await;
        assert_eq!(
            both.field_errors(),
            ["organisation_id: VALIDATION_INVALID_CHOICE"]
        );
        let bad = app
            .post(
                "/v1/api-keys",
                &app.live,
                json!({"name": "k", "organisation_id": org, "abilities": ["fly"], "type": "x"}),
            )
            .await;
        assert_eq!(
            bad.field_errors(),
            [
                "type: VALIDATION_INVALID_CHOICE",
                "abilities.0: VALIDATION_INVALID_CHOICE"
            ]
        );

        let created = app
            .post(
                "/v1/api-keys",
                &app.test,
                json!({"name": "ci", "partner_group_id": group, "abilities": ["memberships:read"], "expires_at": "2999-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let secret = created.body["secret"].as_str().unwrap();
        assert!(secret.starts_with("sk_test_"));
        assert_eq!(created.body["prefix"].as_str(), Some(&secret[..12]));
        assert_eq!(created.body["expires_at"], "2999-01-01T00:00:00.000Z");
        assert_eq!(created.body["livemode"], false);
        let listed = app.get("/v1/api-keys", &app.test).await;
        assert_eq!(
            listed.body["count"], 2,
            "the test admin key and the new one"
        );
        assert!(
            listed.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k.get("secret").is_none())
        );
        assert_eq!(
            app.get(&format!("/v1/api-keys/{}", created.id()), &app.live)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/v1/memberships", secret).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.get("/v1/api-keys/key_missing", &app.live).await.body["code"],
            Value::from("NOT_FOUND")
        );
    }

    async fn a_key_cannot_lock_itself_out(app) {
        let groups = app.get("/v1/partner-groups", &app.live).await;
        let admin_group = groups.body["results"][0]["id"].as_str().unwrap().to_owned();
        let own_key = app.get("/v1/api-keys", &app.live).await.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| app.live.starts_with(k["prefix"].as_str().unwrap()) && k["livemode"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/v1/partner-groups/{admin_group}");
        let delete = app.delete(&path, &app.live).await;
        assert_eq!((delete.status, delete.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"));
        let demote = app.patch(&path, &app.live, json!({"is_admin": false})).await;
        assert_eq!((demote.status, demote.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"));
        let revoke = app.delete(&format!("/v1/api-keys/{own_key}"), &app.live).await;
        assert_eq!((revoke.status, revoke.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"));
        assert_eq!(app.get("/v1/organisations", &app.live).await.status, StatusCode::OK, "still works");
        // Another key may do it.
        let other = app.key(&app.live, json!({"name": "second", "partner_group_id": admin_group, "abilities": ["*"]})).await;
        assert_eq!(app.delete(&format!("/v1/api-keys/{own_key}"), &other).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get("/v1/organisations", &app.live).await.status, StatusCode::UNAUTHORIZED);
    }
}
