//! Spec §3 "Scope hides": what each kind of key reaches, and that nothing else is even visible.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, membership_body};

struct World {
    app: TestApp,
    org_a: String,
    org_b: String,
    member_a: String,
    member_b: String,
    foreign_member: String,
    group_key: String,
    org_key: String,
}

/// Two organisations of one partner (a non-admin group is assigned only the first), one
/// membership in each, and a membership of another partner.
async fn world(app: TestApp) -> World {
    let org_a = app.organisation(&app.live, "A").await;
    let org_b = app.organisation(&app.live, "B").await;
    let member_a = app.member(&app.live, &org_a, "a@example.com", "ADMIN").await;
    let member_b = app.member(&app.live, &org_b, "b@example.com", "ADMIN").await;
    let (other_live, _) = app.new_partner("Other").await;
    let other_org = app.organisation(&other_live, "X").await;
    let foreign_member = app.member(&other_live, &other_org, "x@example.com", "ADMIN").await;
    let group_key = app.group_key(&[&org_a]).await;
    let org_key = app.key(&app.live, json!({"name": "org", "organisation_id": org_a, "abilities": ["*"]})).await;
    World { app, org_a, org_b, member_a, member_b, foreign_member, group_key, org_key }
}

on_both_backends! {
    async fn each_key_kind_reaches_exactly_its_memberships(app) {
        let w = world(app).await;
        let app = &w.app;
        let missing = "mem_01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned();
        let ok = StatusCode::OK;
        let hidden = StatusCode::NOT_FOUND;
        let matrix = [
            (
                &app.live,
                [
                    (&w.member_a, ok),
                    (&w.member_b, ok),
                    (&w.foreign_member, hidden),
                    (&missing, hidden),
                ],
            ),
            (
                &w.group_key,
                [
                    (&w.member_a, ok),
                    (&w.member_b, hidden),
                    (&w.foreign_member, hidden),
                    (&missing, hidden),
                ],
            ),
        ];
        for (key, cases) in &matrix {
            for (id, expected) in cases {
                let path = format!("/v1/memberships/{id}");
                let read = app.get(&path, key).await;
                assert_eq!(read.status, *expected, "GET {id}");
                let patch = app
                    .patch(
                        &path,
                        key,
                        json!({"is_alert_resolved_email_enabled": false}),
                    )
                    .await;
                assert_eq!(patch.status, *expected, "PATCH {id}");
                if *expected == hidden {
                    let delete = app.delete(&path, key).await;
                    assert_eq!(
                        (delete.status, delete.code()),
                        (hidden, "NOT_FOUND"),
                        "DELETE {id}"
                    );
                }
            }
        }
        // The hidden objects are untouched.
        let b = app
            .get(&format!("/v1/memberships/{}", w.member_b), &app.live)
            .await;
        assert_eq!(
            b.body["is_alert_resolved_email_enabled"], false,
            "the admin key changed it"
        );
    }

    async fn organisation_keys_are_401_on_every_membership_endpoint(app) {
        let w = world(app).await;
        let app = &w.app;
        let one = format!("/v1/memberships/{}", w.member_a);
        let cases = [
            (Method::GET, "/v1/memberships".to_owned(), None),
            (
                Method::POST,
                "/v1/memberships".to_owned(),
                Some(membership_body(&w.org_a, "n@example.com", "ADMIN")),
            ),
            (Method::GET, one.clone(), None),
            (Method::PATCH, one.clone(), Some(json!({}))),
            (Method::DELETE, one.clone(), None),
        ];
        for (method, path, body) in cases {
            let reply = app
                .call(method.clone(), &path, Some(&w.org_key), body)
                .await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNAUTHORIZED, "UNAUTHORISED"),
                "{method} {path}"
            );
        }
        assert_eq!(
            app.get(&one, &app.live).await.status,
            StatusCode::OK,
            "still there"
        );
    }

    async fn lists_and_counts_show_only_what_is_in_scope(app) {
        let w = world(app).await;
        let app = &w.app;
        let admin = app.get("/v1/memberships", &app.live).await;
        assert_eq!(admin.body["count"], 2);
        let group = app.get("/v1/memberships", &w.group_key).await;
        assert_eq!(group.body["count"], 1);
        assert_eq!(group.body["results"][0]["id"], w.member_a.as_str());
        let filtered = app
            .get(
                &format!("/v1/memberships?organisation_id={}", w.org_b),
                &w.group_key,
            )
            .await;
        assert_eq!(
            (filtered.status, filtered.body["count"].as_u64()),
            (StatusCode::OK, Some(0))
        );

        let orgs = app.get("/v1/organisations", &w.group_key).await;
        assert_eq!(orgs.body["count"], 1);
        let org_view = app.get("/v1/organisations", &w.org_key).await;
        assert_eq!(
            (
                org_view.body["count"].as_u64(),
                org_view.body["results"][0]["id"].as_str()
            ),
            (Some(1), Some(w.org_a.as_str()))
        );
        assert_eq!(
            app.get(&format!("/v1/organisations/{}", w.org_b), &w.org_key)
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        let users = app.get("/v1/users", &w.group_key).await;
        assert_eq!(users.body["count"], 1);
        assert_eq!(users.body["results"][0]["email"], "a@example.com");
        assert_eq!(app.get("/v1/users", &app.live).await.body["count"], 2);
    }

    async fn creating_in_an_out_of_scope_organisation_is_an_invalid_reference(app) {
        let w = world(app).await;
        let app = &w.app;
        let reply = app
            .post(
                "/v1/memberships",
                &w.group_key,
                membership_body(&w.org_b, "new@example.com", "STANDARD"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            reply.field_errors(),
            ["organisation_id: VALIDATION_INVALID_REFERENCE"]
        );
        let missing = app
            .post(
                "/v1/memberships",
                &app.live,
                membership_body("org_nope", "new@example.com", "STANDARD"),
            )
            .await;
        assert_eq!(
            missing.field_errors(),
            ["organisation_id: VALIDATION_INVALID_REFERENCE"]
        );
        assert_eq!(
            app.get("/v1/memberships", &app.live).await.body["count"],
            2,
            "nothing was created"
        );
    }

    async fn a_non_admin_groups_new_organisation_is_assigned_to_it(app) {
        let w = world(app).await;
        let app = &w.app;
        let created = app
            .post("/v1/organisations", &w.group_key, json!({"name": "Mine"}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(
            app.get("/v1/organisations", &w.group_key).await.body["count"],
            2
        );
        app.member(&w.group_key, &created.id(), "c@example.com", "ADMIN")
            .await;
        assert_eq!(
            app.get("/v1/memberships", &w.group_key).await.body["count"],
            2
        );
    }

    async fn only_admin_groups_manage_groups_and_organisation_keys_cannot_create_organisations(app) {
        let w = world(app).await;
        let app = &w.app;
        for key in [&w.group_key, &w.org_key] {
            assert_eq!(
                app.get("/v1/partner-groups", key).await.status,
                StatusCode::FORBIDDEN
            );
            let reply = app
                .post(
                    "/v1/partner-groups",
                    key,
                    json!({"name": "sneaky", "is_admin": true}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
        }
        assert_eq!(
            app.post("/v1/organisations", &w.org_key, json!({"name": "New"}))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let delete = app
            .delete(&format!("/v1/organisations/{}", w.org_a), &w.org_key)
            .await;
        assert_eq!(delete.status, StatusCode::FORBIDDEN);
        let rename = app
            .patch(
                &format!("/v1/organisations/{}", w.org_a),
                &w.org_key,
                json!({"name": "Renamed"}),
            )
            .await;
        assert_eq!(
            (rename.status, rename.body["name"].as_str()),
            (StatusCode::OK, Some("Renamed"))
        );
    }

    async fn keys_are_issued_only_to_holders_in_scope(app) {
        let w = world(app).await;
        let app = &w.app;
        let admin_group = app.get("/v1/partner-groups", &app.live).await.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["is_admin"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let cases = [
            (
                &w.group_key,
                json!({"name": "k", "organisation_id": w.org_b}),
                "organisation_id: VALIDATION_INVALID_REFERENCE",
            ),
            (
                &w.group_key,
                json!({"name": "k", "partner_group_id": admin_group}),
                "partner_group_id: VALIDATION_INVALID_REFERENCE",
            ),
            (
                &w.org_key,
                json!({"name": "k", "partner_group_id": admin_group}),
                "partner_group_id: VALIDATION_INVALID_REFERENCE",
            ),
        ];
        for (key, body, expected) in cases {
            let reply = app.post("/v1/api-keys", key, body.clone()).await;
            assert_eq!(reply.field_errors(), [expected], "{body}");
        }
        let own = app
            .post(
                "/v1/api-keys",
                &w.group_key,
                json!({"name": "k", "organisation_id": w.org_a}),
            )
            .await;
        assert_eq!(own.status, StatusCode::CREATED);
        // A group key sees its own group's keys and its organisations' keys, not the admin group's.
        let listed = app.get("/v1/api-keys", &w.group_key).await;
        let holders: Vec<_> = listed.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["partner_group_id"].clone())
            .collect();
        assert!(!holders.contains(&json!(admin_group)));
        assert_eq!(listed.body["count"], 3, "{}", listed.body);
    }

    async fn live_and_test_data_never_mix(app) {
        let w = world(app).await;
        let app = &w.app;
        assert_eq!(
            app.get(&format!("/v1/memberships/{}", w.member_a), &app.test)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get("/v1/memberships", &app.test).await.body["count"], 0);
        assert_eq!(app.get("/v1/users", &app.test).await.body["count"], 0);
        let reply = app
            .post(
                "/v1/memberships",
                &app.test,
                membership_body(&w.org_a, "t@example.com", "ADMIN"),
            )
            .await;
        assert_eq!(
            reply.field_errors(),
            ["organisation_id: VALIDATION_INVALID_REFERENCE"]
        );

        let test_org = app.organisation(&app.test, "Sandbox").await;
        let test_member = app
            .post(
                "/v1/memberships",
                &app.test,
                membership_body(&test_org, "a@example.com", "ADMIN"),
            )
            .await;
        assert_eq!(test_member.status, StatusCode::CREATED);
        assert_eq!(test_member.body["livemode"], false);
        assert_ne!(
            test_member.body["user_id"],
            app.get(&format!("/v1/memberships/{}", w.member_a), &app.live)
                .await
                .body["user_id"]
        );
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 2);
        assert_eq!(
            app.get(&format!("/v1/organisations/{test_org}"), &app.live)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }

    async fn each_key_kind_reaches_exactly_its_organisations_users_and_keys(app) {
        let w = world(app).await;
        let app = &w.app;
        let (other_live, _) = app.new_partner("Third").await;
        let foreign_org = app.organisation(&other_live, "Y").await;
        let user_of = |member: &str| {
            let member = member.to_owned();
            async move {
                app.get(&format!("/v1/memberships/{member}"), &app.live)
                    .await
                    .body["user_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let (user_a, user_b) = (user_of(&w.member_a).await, user_of(&w.member_b).await);
        let missing_org = "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned();
        let (ok, hidden) = (StatusCode::OK, StatusCode::NOT_FOUND);
        let cases = [
            (&app.live, format!("/v1/organisations/{}", w.org_b), ok),
            (
                &app.live,
                format!("/v1/organisations/{foreign_org}"),
                hidden,
            ),
            (
                &app.live,
                format!("/v1/organisations/{missing_org}"),
                hidden,
            ),
            (&app.live, format!("/v1/users/{user_b}"), ok),
            (&w.group_key, format!("/v1/organisations/{}", w.org_a), ok),
            (
                &w.group_key,
                format!("/v1/organisations/{}", w.org_b),
                hidden,
            ),
            (
                &w.group_key,
                format!("/v1/organisations/{foreign_org}"),
                hidden,
            ),
            (&w.group_key, format!("/v1/users/{user_a}"), ok),
            (&w.group_key, format!("/v1/users/{user_b}"), hidden),
            (&w.org_key, format!("/v1/organisations/{}", w.org_a), ok),
            (&w.org_key, format!("/v1/organisations/{}", w.org_b), hidden),
            (
                &w.org_key,
                format!("/v1/organisations/{missing_org}"),
                hidden,
            ),
            (&w.org_key, format!("/v1/users/{user_a}"), ok),
            (&w.org_key, format!("/v1/users/{user_b}"), hidden),
        ];
        for (key, path, expected) in cases {
            assert_eq!(app.get(&path, key).await.status, expected, "GET {path}");
            let patch = app.patch(&path, key, json!({})).await;
            assert_eq!(patch.status, expected, "PATCH {path}");
        }
        for key in [&w.group_key, &w.org_key] {
            let delete = app
                .delete(&format!("/v1/organisations/{}", w.org_b), key)
                .await;
            assert!(
                matches!(delete.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{}",
                delete.status
            );
        }
        assert_eq!(
            app.get(&format!("/v1/organisations/{}", w.org_b), &app.live)
                .await
                .status,
            StatusCode::OK
        );
    }
}
