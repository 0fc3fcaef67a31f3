//! Spec §2 and §5: the membership endpoints, their full shape, filters and pages.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::membership_body;

fn redacted(value: &Value) -> Value {
    let mut value = value.clone();
    for field in ["id", "organisation_id", "user_id", "created_at", "updated_at"] {
        if value.get(field).is_some() {
            value[field] = json!(format!("[{field}]"));
        }
    }
    value
}

on_both_backends! {
    async fn a_new_membership_has_every_field_with_its_defaults(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let reply = app
            .post(
                "/v1/memberships",
                &app.live,
                membership_body(&org, "ada@example.com", "ADMIN"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        assert!(reply.id().starts_with("mem_") && reply.id().len() <= 50);
        assert_eq!(reply.body["organisation_id"], org.as_str());
        let created_at = reply.body["created_at"].as_str().unwrap();
        assert_eq!(created_at.len(), "2018-01-01T12:00:00.000Z".len());
        assert!(created_at.ends_with('Z'));
        // A file snapshot, shared by both backends: the wire shape is the same on each.
        insta::assert_json_snapshot!("membership_wire_shape", redacted(&reply.body));
        let read = app
            .get(&format!("/v1/memberships/{}", reply.id()), &app.live)
            .await;
        assert_eq!((read.status, &read.body), (StatusCode::OK, &reply.body));
    }

    async fn every_optional_field_is_stored_as_sent(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let mut body = membership_body(&org, "ada@example.com", "STANDARD");
        let extra = json!({
            "is_alert_action_required_email_enabled": false, "is_alert_resolved_email_enabled": false,
            "is_alert_dismissed_email_enabled": true, "is_evidence_requested_email_enabled": false,
            "permissions": ["customers:read", "*:write", "GetCustomerCollection"], "is_owner": true, "is_default": true,
            "allowed_ips": ["10.0.0.0/8", "2001:db8::1"], "status": "pending", "api_access_enabled": false,
            "access_scope": "full_access", "test_enabled": true, "reference": "crm-42", "reference_origin": "hubspot",
            "metadata": {"tier": "gold"}, "role_ids": []
        });
        for (field, value) in extra.as_object().unwrap() {
            body[field] = value.clone();
        }
        let reply = app.post("/v1/memberships", &app.live, body.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        for (field, value) in extra.as_object().unwrap() {
            assert_eq!(&reply.body[field], value, "{field}");
        }
        let read = app
            .get(&format!("/v1/memberships/{}", reply.id()), &app.live)
            .await;
        assert_eq!(read.body, reply.body);
    }

    async fn the_user_is_found_by_email_ignoring_case_and_keeps_its_names(app) {
        let first = app.organisation(&app.live, "First").await;
        let second = app.organisation(&app.live, "Second").await;
        let a = app
            .post(
                "/v1/memberships",
                &app.live,
                membership_body(&first, "Ada@Example.com", "ADMIN"),
            )
            .await;
        let mut body = membership_body(&second, "ada@EXAMPLE.com", "STANDARD");
        body["first_name"] = json!("Augusta");
        let b = app.post("/v1/memberships", &app.live, body).await;
        assert_eq!(b.status, StatusCode::CREATED);
        assert_eq!(a.body["user_id"], b.body["user_id"]);
        assert_eq!(b.body["first_name"], "Ada");
        assert_eq!(b.body["email"], "Ada@Example.com");
        assert_eq!(app.get("/v1/users", &app.live).await.body["count"], 1);
    }

    async fn a_second_membership_for_the_same_user_and_organisation_is_refused(app) {
        let org = app.organisation(&app.live, "Acme").await;
        app.member(&app.live, &org, "ada@example.com", "ADMIN")
            .await;
        let reply = app
            .post(
                "/v1/memberships",
                &app.live,
                membership_body(&org, "ADA@example.com", "STANDARD"),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "MEMBERSHIP_ALREADY_EXISTS"
            )
        );
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 1);
    }

    async fn staff_users_cannot_be_members(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let staff = app
            .post("/v1/users", &app.live, json!({"email": "ops@example.com", "first_name": "O", "last_name": "P", "is_staff": true}))
            .await;
        assert_eq!(staff.status, StatusCode::CREATED);
        let reply = app
            .post(
                "/v1/memberships",
                &app.live,
                membership_body(&org, "OPS@example.com", "ADMIN"),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
        );
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 0);
    }

    async fn role_ids_must_name_roles_of_the_organisation(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let mut body = membership_body(&org, "ada@example.com", "ADMIN");
        body["role_ids"] = json!(["rol_01ARZ3NDEKTSV4RRFFQ69G5FAV"]);
        let reply = app.post("/v1/memberships", &app.live, body).await;
        assert_eq!(
            reply.field_errors(),
            ["role_ids.0: VALIDATION_INVALID_REFERENCE"]
        );
        assert_eq!(
            app.get("/v1/users", &app.live).await.body["count"],
            0,
            "no user was left behind"
        );
        let id = app
            .member(&app.live, &org, "ada@example.com", "ADMIN")
            .await;
        let patch = app
            .patch(
                &format!("/v1/memberships/{id}"),
                &app.live,
                json!({"role_ids": ["rol_x"]}),
            )
            .await;
        assert_eq!(
            patch.field_errors(),
            ["role_ids.0: VALIDATION_INVALID_REFERENCE"]
        );
    }

    async fn patch_changes_only_what_is_sent_and_an_empty_patch_changes_nothing(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let id = app
            .member(&app.live, &org, "ada@example.com", "ADMIN")
            .await;
        let path = format!("/v1/memberships/{id}");
        let before = app.get(&path, &app.live).await.body;
        let unchanged = app.patch(&path, &app.live, json!({})).await;
        assert_eq!(
            (unchanged.status, &unchanged.body),
            (StatusCode::OK, &before)
        );

        app.clock.advance(std::time::Duration::from_millis(5));
        let changed = app
            .patch(&path, &app.live, json!({"is_evidence_requested_email_enabled": false, "metadata": {"a": "b"}, "reference": "r"}))
            .await;
        assert_eq!(changed.status, StatusCode::OK);
        for (field, value) in changed.body.as_object().unwrap() {
            match field.as_str() {
                "is_evidence_requested_email_enabled" => assert_eq!(value, false),
                "metadata" => assert_eq!(value, &json!({"a": "b"})),
                "reference" => assert_eq!(value, "r"),
                "updated_at" => assert_ne!(value, &before["updated_at"]),
                _ => assert_eq!(value, &before[field], "{field} changed"),
            }
        }
        let cleared = app
            .patch(&path, &app.live, json!({"reference": null}))
            .await;
        assert_eq!(cleared.body["reference"], Value::Null);

        // A PATCH answers the membership as stored: exactly what a read then finds.
        let everything = json!({
            "permissions": ["b:read", "a:write", "b:read"], "allowed_ips": ["10.0.0.0/8", "2001:db8::1", "10.0.0.0/8"],
            "metadata": {"z": "1", "a": "2"}, "is_owner": true, "is_default": true, "access_scope": "full_access",
            "api_access_enabled": false, "test_enabled": true, "reference_origin": "crm", "role": "STANDARD"
        });
        let second_admin = app.member(&app.live, &org, "grace@example.com", "ADMIN").await;
        assert!(!second_admin.is_empty());
        let patched = app.patch(&path, &app.live, everything).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        assert_eq!(app.get(&path, &app.live).await.body, patched.body);
    }

    async fn identity_and_status_fields_cannot_be_patched(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let id = app
            .member(&app.live, &org, "ada@example.com", "ADMIN")
            .await;
        for field in [
            "organisation_id",
            "user_id",
            "email",
            "first_name",
            "last_name",
            "status",
            "id",
            "created_at",
        ] {
            let reply = app
                .patch(
                    &format!("/v1/memberships/{id}"),
                    &app.live,
                    json!({ field: "x" }),
                )
                .await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
            assert_eq!(
                reply.field_errors(),
                [format!("{field}: VALIDATION_UNKNOWN_FIELD")]
            );
        }
    }

    async fn a_user_has_at_most_one_default_membership(app) {
        let first = app.organisation(&app.live, "First").await;
        let second = app.organisation(&app.live, "Second").await;
        let mut body = membership_body(&first, "ada@example.com", "ADMIN");
        body["is_default"] = json!(true);
        let a = app.post("/v1/memberships", &app.live, body).await.id();
        let b = app
            .member(&app.live, &second, "ada@example.com", "ADMIN")
            .await;
        let made_default = app
            .patch(
                &format!("/v1/memberships/{b}"),
                &app.live,
                json!({"is_default": true}),
            )
            .await;
        assert_eq!(made_default.body["is_default"], true);
        assert_eq!(
            app.get(&format!("/v1/memberships/{a}"), &app.live)
                .await
                .body["is_default"],
            false
        );
    }

    async fn delete_removes_the_membership(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let id = app
            .member(&app.live, &org, "ada@example.com", "ADMIN")
            .await;
        let reply = app
            .delete(&format!("/v1/memberships/{id}"), &app.live)
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (StatusCode::NO_CONTENT, &Value::Null)
        );
        assert_eq!(
            app.get(&format!("/v1/memberships/{id}"), &app.live)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.delete(&format!("/v1/memberships/{id}"), &app.live)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }

    async fn lists_filter_by_organisation_user_email_role_and_status(app) {
        let first = app.organisation(&app.live, "First").await;
        let second = app.organisation(&app.live, "Second").await;
        let ada = app
            .post(
                "/v1/memberships",
                &app.live,
                membership_body(&first, "ada@example.com", "ADMIN"),
            )
            .await;
        app.member(&app.live, &first, "bob@example.com", "STANDARD")
            .await;
        app.member(&app.live, &second, "ada@example.com", "STANDARD")
            .await;
        let mut invite = membership_body(&second, "cy@example.com", "STANDARD");
        invite["status"] = json!("pending");
        app.post("/v1/memberships", &app.live, invite).await;
        let user = ada.body["user_id"].as_str().unwrap();
        let cases = [
            (format!("organisation_id={first}"), 2),
            (format!("user_id={user}"), 2),
            ("email=ADA%40example.com".to_owned(), 2),
            ("role=ADMIN".to_owned(), 1),
            ("status=pending".to_owned(), 1),
            (
                format!("organisation_id={second}&role=STANDARD&status=accepted"),
                1,
            ),
            ("email=nobody%40example.com".to_owned(), 0),
        ];
        for (query, expected) in cases {
            let reply = app
                .get(&format!("/v1/memberships?{query}"), &app.live)
                .await;
            assert_eq!(reply.body["count"], expected, "{query}");
            assert_eq!(
                reply.body["results"].as_array().unwrap().len(),
                expected,
                "{query}"
            );
        }
    }

    async fn lists_are_newest_first_and_page_by_offset_and_by_cursor(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let mut created = Vec::new();
        for n in 0..7 {
            created.push(
                app.member(&app.live, &org, &format!("m{n}@example.com"), "ADMIN")
                    .await,
            );
        }
        created.reverse();

        let first = app.get("/v1/memberships?limit=3", &app.live).await;
        assert_eq!(first.body["object"], "list");
        assert_eq!(first.body["count"], 7);
        assert_eq!(first.body["previous"], Value::Null);
        // The next page of an offset page is linked by cursor, which costs the same at any depth.
        let next_cursor = first.body["next_cursor"].as_str().unwrap();
        assert_eq!(first.body["next"], format!("/v1/memberships?limit=3&cursor={next_cursor}"));
        let ids = |reply: &crate::support::Reply| -> Vec<String> {
            reply.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(&first), created[0..3]);
        let second = app
            .get(first.body["next"].as_str().unwrap(), &app.live)
            .await;
        assert_eq!(ids(&second), created[3..6]);
        let second_by_offset = app.get("/v1/memberships?limit=3&offset=3", &app.live).await;
        assert_eq!(ids(&second_by_offset), created[3..6]);
        assert_eq!(second_by_offset.body["previous"], "/v1/memberships?limit=3&offset=0");
        let last = app.get("/v1/memberships?limit=3&offset=6", &app.live).await;
        assert_eq!(
            (ids(&last), &last.body["next"], &last.body["next_cursor"]),
            (created[6..].to_vec(), &Value::Null, &Value::Null)
        );

        let mut walked = Vec::new();
        let mut cursor = first.body["next_cursor"].as_str().map(str::to_owned);
        walked.extend(ids(&first));
        while let Some(position) = cursor {
            let page = app
                .get(
                    &format!("/v1/memberships?limit=3&cursor={position}"),
                    &app.live,
                )
                .await;
            assert_eq!(page.status, StatusCode::OK);
            assert_eq!(page.body["count"], 7);
            assert_eq!(page.body["previous"], Value::Null);
            walked.extend(ids(&page));
            cursor = page.body["next_cursor"].as_str().map(str::to_owned);
            if let Some(next) = &cursor {
                assert_eq!(
                    page.body["next"],
                    format!("/v1/memberships?limit=3&cursor={next}")
                );
            }
        }
        assert_eq!(walked, created);
        let both = app
            .get(
                &format!(
                    "/v1/memberships?offset=1&cursor={}",
                    first.body["next_cursor"].as_str().unwrap()
                ),
                &app.live,
            )
            .await;
        assert_eq!(both.field_errors(), ["cursor: VALIDATION_INVALID_FORMAT"]);
    }

    async fn the_last_admin_cannot_be_removed_or_demoted_while_others_remain(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let admin = app
            .member(&app.live, &org, "admin@example.com", "ADMIN")
            .await;
        let path = format!("/v1/memberships/{admin}");
        // Alone, the admin may be demoted and removed.
        assert_eq!(
            app.patch(&path, &app.live, json!({"role": "STANDARD"}))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.patch(&path, &app.live, json!({"role": "ADMIN"}))
                .await
                .status,
            StatusCode::OK
        );
        let standard = app
            .member(&app.live, &org, "std@example.com", "STANDARD")
            .await;
        let mut pending = membership_body(&org, "pending@example.com", "ADMIN");
        pending["status"] = json!("pending");
        let pending_admin = app.post("/v1/memberships", &app.live, pending).await.id();

        let delete = app.delete(&path, &app.live).await;
        assert_eq!(
            (delete.status, delete.code()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "MEMBERSHIP_DELETION_FORBIDDEN"
            )
        );
        let demote = app
            .patch(
                &path,
                &app.live,
                json!({"role": "STANDARD", "reference": "x"}),
            )
            .await;
        assert_eq!(
            (demote.status, demote.code()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "MEMBERSHIP_UPDATE_FORBIDDEN"
            )
        );
        let after = app.get(&path, &app.live).await.body;
        assert_eq!(
            (after["role"].as_str(), &after["reference"]),
            (Some("ADMIN"), &Value::Null),
            "nothing changed"
        );
        // A pending admin does not count; a second accepted one does.
        assert_eq!(
            app.delete(&format!("/v1/memberships/{pending_admin}"), &app.live)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        app.patch(
            &format!("/v1/memberships/{standard}"),
            &app.live,
            json!({"role": "ADMIN"}),
        )
        .await;
        assert_eq!(
            app.patch(&path, &app.live, json!({"role": "STANDARD"}))
                .await
                .status,
            StatusCode::OK
        );
    }

    async fn the_last_owner_cannot_be_removed_or_unset_while_others_remain(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let mut body = membership_body(&org, "owner@example.com", "ADMIN");
        body["is_owner"] = json!(true);
        let owner = app.post("/v1/memberships", &app.live, body).await.id();
        app.member(&app.live, &org, "admin@example.com", "ADMIN")
            .await;
        let path = format!("/v1/memberships/{owner}");
        let unset = app
            .patch(&path, &app.live, json!({"is_owner": false}))
            .await;
        assert_eq!(unset.code(), "MEMBERSHIP_UPDATE_FORBIDDEN");
        let delete = app.delete(&path, &app.live).await;
        assert_eq!(delete.code(), "MEMBERSHIP_DELETION_FORBIDDEN");
        assert_eq!(
            app.patch(&path, &app.live, json!({"role": "STANDARD"}))
                .await
                .status,
            StatusCode::OK,
            "another admin remains"
        );
    }

    async fn a_permission_of_three_parts_is_stored_and_matches_only_itself(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let mut body = membership_body(&org, "ada@example.com", "STANDARD");
        body["permissions"] = json!(["account:account:read", "billing:*"]);
        let created = app.post("/v1/memberships", &app.live, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let user = created.body["user_id"].as_str().unwrap();
        let check = |permission: &str| format!("/v1/check?organisation_id={org}&user_id={user}&permission={permission}");
        assert_eq!(app.get(&check("account:account:read"), &app.live).await.body["allowed"], true);
        assert_eq!(app.get(&check("billing:account:read"), &app.live).await.body["allowed"], false, "billing:* is not billing:account:read");
        assert_eq!(app.get(&check("account:account:write"), &app.live).await.body["allowed"], false);
        let bad = app.patch(&format!("/v1/memberships/{}", created.id()), &app.live, json!({"permissions": ["a:*:c"]})).await;
        assert_eq!(bad.field_errors(), ["permissions.0: VALIDATION_INVALID_FORMAT"]);
    }
}
