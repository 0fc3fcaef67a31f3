//! Roles (spec §2, §5), effective permissions and the check endpoint, on each kind of membership.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, membership_body};

async fn role(app: &TestApp, organisation_id: &str, name: &str, permissions: Value) -> String {
    let reply = app
        .post(
            "/v1/roles",
            &app.live,
            json!({"organisation_id": organisation_id, "name": name, "permissions": permissions}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.id()
}

/// Creates a membership from `body` with `extra` fields and returns its id.
async fn member_with(app: &TestApp, organisation_id: &str, email: &str, role: &str, extra: Value) -> String {
    let mut body = membership_body(organisation_id, email, role);
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let reply = app.post("/v1/memberships", &app.live, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.id()
}

async fn check(app: &TestApp, key: &str, organisation_id: &str, user_id: &str, permission: &str) -> (bool, Value) {
    let reply = app
        .get(&format!("/v1/check?organisation_id={organisation_id}&user_id={user_id}&permission={permission}"), key)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["object"], "check");
    (reply.body["allowed"].as_bool().unwrap(), reply.body["membership_id"].clone())
}

async fn user_of(app: &TestApp, membership_id: &str) -> String {
    app.get(&format!("/v1/memberships/{membership_id}"), &app.live).await.body["user_id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    async fn roles_are_created_listed_changed_and_deleted(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let created = app
            .post("/v1/roles", &app.live, json!({"organisation_id": org, "name": "Billing", "permissions": ["invoices:*", "customers:read"]}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(
            (created.body["object"].as_str(), created.body["is_builtin"].as_bool(), &created.body["permissions"]),
            (Some("role"), Some(false), &json!(["invoices:*", "customers:read"]))
        );
        assert!(created.id().starts_with("rol_"));

        let listed = app.get(&format!("/v1/roles?organisation_id={org}"), &app.live).await;
        assert_eq!(listed.body["count"], 3);
        let ids: Vec<&str> = listed.body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["role_admin", "role_standard", created.id().as_str()]);
        assert_eq!(listed.body["results"][0]["permissions"], json!(["*"]));
        assert_eq!(listed.body["results"][1]["organisation_id"], org.as_str());
        let builtin = app.get("/v1/roles/role_standard", &app.live).await;
        assert_eq!((builtin.status, &builtin.body["permissions"]), (StatusCode::OK, &json!(["*:read"])));

        let duplicate = app.post("/v1/roles", &app.live, json!({"organisation_id": org, "name": "Billing"})).await;
        assert_eq!((duplicate.status, duplicate.code()), (StatusCode::UNPROCESSABLE_ENTITY, "ROLE_ALREADY_EXISTS"));
        let other = role(&app, &org, "Support", json!([])).await;
        let rename = app.patch(&format!("/v1/roles/{other}"), &app.live, json!({"name": "Billing"})).await;
        assert_eq!(rename.code(), "ROLE_ALREADY_EXISTS");
        let elsewhere = app.organisation(&app.live, "Globex").await;
        role(&app, &elsewhere, "Billing", json!([])).await;

        let path = format!("/v1/roles/{}", created.id());
        let changed = app.patch(&path, &app.live, json!({"permissions": ["*:read"]})).await;
        assert_eq!((changed.body["name"].as_str(), &changed.body["permissions"]), (Some("Billing"), &json!(["*:read"])));
        let invalid = app.post("/v1/roles", &app.live, json!({"organisation_id": "org_missing", "name": "", "permissions": ["a b"]})).await;
        assert_eq!(invalid.field_errors(), ["name: VALIDATION_MIN_LENGTH", "permissions.0: VALIDATION_INVALID_FORMAT"]);
        let missing_org = app.post("/v1/roles", &app.live, json!({"organisation_id": "org_missing", "name": "X"})).await;
        assert_eq!(missing_org.field_errors(), ["organisation_id: VALIDATION_INVALID_REFERENCE"]);
        for builtin in ["role_admin", "role_standard"] {
            let patch = app.patch(&format!("/v1/roles/{builtin}"), &app.live, json!({"name": "Boss"})).await;
            assert_eq!((patch.status, patch.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"));
            assert_eq!(app.delete(&format!("/v1/roles/{builtin}"), &app.live).await.status, StatusCode::BAD_REQUEST);
        }
        assert_eq!(app.delete(&path, &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&path, &app.live).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/v1/roles?organisation_id={org}"), &app.live).await.body["count"], 3);
    }

    async fn roles_are_scoped_like_their_organisation(app) {
        let mine = app.organisation(&app.live, "Mine").await;
        let theirs = app.organisation(&app.live, "Theirs").await;
        let group_key = app.group_key(&[&mine]).await;
        let hidden = role(&app, &theirs, "Hidden", json!([])).await;
        assert_eq!(app.get(&format!("/v1/roles/{hidden}"), &group_key).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/v1/roles", &group_key).await.body["count"], 0);
        let listed = app.get(&format!("/v1/roles?organisation_id={theirs}"), &group_key).await;
        assert_eq!(listed.body["count"], 0, "no built-ins for an organisation out of scope");
        let refused = app.post("/v1/roles", &group_key, json!({"organisation_id": theirs, "name": "X"})).await;
        assert_eq!(refused.field_errors(), ["organisation_id: VALIDATION_INVALID_REFERENCE"]);
        assert_eq!(app.get(&format!("/v1/roles/{hidden}"), &app.test).await.status, StatusCode::NOT_FOUND);
    }

    async fn role_ids_name_only_custom_roles_of_the_same_organisation(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let other = app.organisation(&app.live, "Globex").await;
        let billing = role(&app, &org, "Billing", json!(["invoices:*"])).await;
        let foreign = role(&app, &other, "Billing", json!([])).await;
        let ok = member_with(&app, &org, "a@example.com", "STANDARD", json!({"role_ids": [billing]})).await;
        assert_eq!(app.get(&format!("/v1/memberships/{ok}"), &app.live).await.body["role_ids"], json!([billing]));
        for role_id in [foreign.as_str(), "role_admin"] {
            let mut body = membership_body(&org, "b@example.com", "STANDARD");
            body["role_ids"] = json!([role_id]);
            let reply = app.post("/v1/memberships", &app.live, body).await;
            assert_eq!(reply.field_errors(), ["role_ids.0: VALIDATION_INVALID_REFERENCE"], "{role_id}");
        }
    }

    async fn deleting_a_role_removes_it_from_memberships(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let billing = role(&app, &org, "Billing", json!(["invoices:*"])).await;
        let support = role(&app, &org, "Support", json!(["tickets:*"])).await;
        let id = member_with(&app, &org, "a@example.com", "STANDARD", json!({"role_ids": [billing, support]})).await;
        assert_eq!(app.delete(&format!("/v1/roles/{billing}"), &app.live).await.status, StatusCode::NO_CONTENT);
        let membership = app.get(&format!("/v1/memberships/{id}"), &app.live).await;
        assert_eq!(membership.body["role_ids"], json!([support]));
        let permissions = app.get(&format!("/v1/memberships/{id}/permissions"), &app.live).await;
        assert_eq!(permissions.body["permissions"], json!(["*:read", "tickets:*"]));
    }

    async fn effective_permissions_combine_direct_role_and_built_in_grants(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let billing = role(&app, &org, "Billing", json!(["invoices:*", "customers:read"])).await;
        let standard = member_with(&app, &org, "s@example.com", "STANDARD",
            json!({"permissions": ["reports:export", "customers:read"], "role_ids": [billing]})).await;
        let reply = app.get(&format!("/v1/memberships/{standard}/permissions"), &app.live).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, json!({"object": "permission_set", "permissions": ["*:read", "customers:read", "invoices:*", "reports:export"]}));
        let admin = member_with(&app, &org, "a@example.com", "ADMIN", json!({"permissions": ["x:y"]})).await;
        assert_eq!(app.get(&format!("/v1/memberships/{admin}/permissions"), &app.live).await.body["permissions"], json!(["*", "x:y"]));
        let owner = member_with(&app, &org, "o@example.com", "STANDARD", json!({"is_owner": true})).await;
        assert_eq!(app.get(&format!("/v1/memberships/{owner}/permissions"), &app.live).await.body["permissions"], json!(["*", "*:read"]));
        let pending = member_with(&app, &org, "p@example.com", "ADMIN", json!({"status": "pending"})).await;
        assert_eq!(app.get(&format!("/v1/memberships/{pending}/permissions"), &app.live).await.body["permissions"], json!([]));
        assert_eq!(app.get("/v1/memberships/mem_missing/permissions", &app.live).await.status, StatusCode::NOT_FOUND);
    }

    async fn the_check_endpoint_answers_for_each_kind_of_membership(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let billing = role(&app, &org, "Billing", json!(["invoices:write"])).await;
        let admin = member_with(&app, &org, "admin@example.com", "ADMIN", json!({})).await;
        let standard = member_with(&app, &org, "std@example.com", "STANDARD", json!({})).await;
        let owner = member_with(&app, &org, "owner@example.com", "STANDARD", json!({"is_owner": true})).await;
        let custom = member_with(&app, &org, "custom@example.com", "STANDARD", json!({"role_ids": [billing]})).await;
        let direct = member_with(&app, &org, "direct@example.com", "STANDARD", json!({"permissions": ["GetCustomerCollection"]})).await;
        let pending = member_with(&app, &org, "pending@example.com", "ADMIN", json!({"status": "pending"})).await;
        let fenced = member_with(&app, &org, "fenced@example.com", "ADMIN", json!({"allowed_ips": ["10.0.0.0/8"]})).await;
        let cases = [
            (&admin, "invoices:write", true),
            (&standard, "invoices:read", true),
            (&standard, "invoices:write", false),
            (&owner, "invoices:write", true),
            (&custom, "invoices:write", true),
            (&custom, "reports:write", false),
            (&direct, "GetCustomerCollection", true),
            (&direct, "GetInvoiceCollection", false),
            (&pending, "invoices:read", false),
        ];
        for (membership, permission, expected) in cases {
            let user = user_of(&app, membership).await;
            let (allowed, membership_id) = check(&app, &app.live, &org, &user, permission).await;
            assert_eq!(allowed, expected, "{membership} {permission}");
            assert_eq!(membership_id, json!(membership));
        }
        let fenced_user = user_of(&app, &fenced).await;
        let inside = app.get(&format!("/v1/check?organisation_id={org}&user_id={fenced_user}&permission=a:b&ip=10.1.2.3"), &app.live).await;
        assert_eq!(inside.body["allowed"], true);
        let outside = app.get(&format!("/v1/check?organisation_id={org}&user_id={fenced_user}&permission=a:b&ip=192.0.2.1"), &app.live).await;
        assert_eq!(outside.body["allowed"], false);

        let stranger = app.post("/v1/users", &app.live, json!({"email": "x@example.com", "first_name": "X", "last_name": "Y"})).await.id();
        assert_eq!(check(&app, &app.live, &org, &stranger, "a:read").await, (false, Value::Null));
        let missing = app.get(&format!("/v1/check?organisation_id=org_missing&user_id={stranger}&permission=a:b"), &app.live).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let other = app.organisation(&app.live, "Elsewhere").await;
        let group_key = app.group_key(&[&other]).await;
        let hidden = app.get(&format!("/v1/check?organisation_id={org}&user_id={stranger}&permission=a:b"), &group_key).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        let invalid = app.get(&format!("/v1/check?organisation_id={org}&permission=a%20b&ip=nope"), &app.live).await;
        assert_eq!(invalid.field_errors(), ["user_id: VALIDATION_REQUIRED", "permission: VALIDATION_INVALID_FORMAT", "ip: VALIDATION_INVALID_FORMAT"]);
        let org_key = app.key(&app.live, json!({"name": "o", "organisation_id": org, "abilities": ["*"]})).await;
        let refused = app.get(&format!("/v1/check?organisation_id={org}&user_id={stranger}&permission=a:b"), &org_key).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
}
