//! Spec §3 "Keys never widen their holder's reach": user tokens come only from admin-group keys,
//! and no minted key outlives the key that minted it.

use reqwest::StatusCode;
use roster_core::time::Timestamp;
use serde_json::json;

use crate::support::{TestApp, membership_body};

fn in_seconds(seconds: i64) -> String {
    Timestamp(Timestamp::now().millis() + seconds * 1000).to_rfc3339()
}

/// User tokens on the partner's admin-key list.
async fn user_tokens(app: &TestApp) -> usize {
    let keys = app.get("/v1/api-keys?limit=1000", &app.live).await;
    keys.body["results"].as_array().unwrap().iter().filter(|key| key["type"] == "user_token").count()
}

on_both_backends! {
    async fn only_admin_group_keys_issue_user_tokens(app) {
        let org_a = app.organisation(&app.live, "A").await;
        let org_b = app.organisation(&app.live, "B").await;
        let member = app.post("/v1/memberships", &app.live, membership_body(&org_a, "ada@example.com", "STANDARD")).await;
        let user = member.body["user_id"].as_str().unwrap().to_owned();
        let mut invitation = membership_body(&org_b, "ada@example.com", "ADMIN");
        invitation["status"] = json!("pending");
        assert_eq!(app.post("/v1/memberships", &app.live, invitation).await.status, StatusCode::CREATED);

        let group_key = app.group_key(&[&org_a]).await;
        let org_key = app.key(&app.live, json!({"name": "org", "organisation_id": org_a, "abilities": ["*"]})).await;
        let group_minter = app.key(&group_key, json!({"name": "minter", "partner_group_id": group_named(&app, "Support").await, "abilities": ["api_keys:write"]})).await;
        for key in [&group_key, &org_key, &group_minter] {
            let minted = app.post("/v1/api-keys", key, json!({"name": "session", "user_id": user})).await;
            assert_eq!((minted.status, minted.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{}", minted.body);
            let typed = app.post("/v1/api-keys", key, json!({"name": "session", "type": "user_token", "user_id": user})).await;
            assert_eq!(typed.status, StatusCode::FORBIDDEN);
        }
        assert_eq!(user_tokens(&app).await, 0, "a refused token was stored");

        // A group that pulls a user in by e-mail still cannot act as that user.
        let pulled = app.post("/v1/memberships", &group_key, membership_body(&org_a, "bob@example.com", "STANDARD")).await;
        assert_eq!(pulled.status, StatusCode::CREATED);
        let bob = pulled.body["user_id"].as_str().unwrap();
        assert_eq!(app.post("/v1/api-keys", &group_key, json!({"name": "s", "user_id": bob})).await.status, StatusCode::FORBIDDEN);

        // An admin-group key needs only api_keys:write.
        let admin_minter = app.key(&app.live, json!({"name": "minter", "partner_group_id": admin_group(&app).await, "abilities": ["api_keys:write"]})).await;
        let token = app.key(&admin_minter, json!({"name": "session", "user_id": user})).await;
        let mine = app.get("/v1/me/memberships", &token).await;
        assert_eq!(mine.body["count"], 2, "{}", mine.body);
        assert_eq!(user_tokens(&app).await, 1);
    }

    async fn a_minted_key_expires_no_later_than_its_minter(app) {
        let short_lived = app
            .post("/v1/api-keys", &app.live, json!({"name": "short", "partner_group_id": admin_group(&app).await, "abilities": ["*"], "expires_at": in_seconds(3600)}))
            .await;
        assert_eq!(short_lived.status, StatusCode::CREATED, "{}", short_lived.body);
        let limit = short_lived.body["expires_at"].clone();
        let minter = short_lived.body["secret"].as_str().unwrap().to_owned();
        let org = app.organisation(&app.live, "A").await;
        let user = app.post("/v1/memberships", &app.live, membership_body(&org, "ada@example.com", "STANDARD")).await.body["user_id"].clone();

        for body in [
            json!({"name": "child", "organisation_id": org, "abilities": ["*"]}),
            json!({"name": "session", "user_id": user}),
        ] {
            let child = app.post("/v1/api-keys", &minter, body).await;
            assert_eq!(child.status, StatusCode::CREATED, "{}", child.body);
            assert_eq!(child.body["expires_at"], limit, "a child without expiry takes its minter's");
        }
        let later = app
            .post("/v1/api-keys", &minter, json!({"name": "later", "organisation_id": org, "abilities": ["*"], "expires_at": in_seconds(7200)}))
            .await;
        assert_eq!(later.field_errors(), ["expires_at: VALIDATION_OUT_OF_RANGE"], "{}", later.body);
        let sooner = app
            .post("/v1/api-keys", &minter, json!({"name": "sooner", "organisation_id": org, "abilities": ["*"], "expires_at": in_seconds(60)}))
            .await;
        assert_eq!(sooner.status, StatusCode::CREATED);
        assert_ne!(sooner.body["expires_at"], limit);
        // A key without expiry mints keys without expiry unless asked.
        let free = app.post("/v1/api-keys", &app.live, json!({"name": "free", "organisation_id": org, "abilities": ["*"]})).await;
        assert_eq!(free.body["expires_at"], serde_json::Value::Null);
    }
}

/// The id of the partner's group named `name`, as its admin key sees it.
async fn group_named(app: &TestApp, name: &str) -> String {
    let groups = app.get("/v1/partner-groups", &app.live).await;
    let group = groups.body["results"].as_array().unwrap().iter().find(|group| group["name"] == name).cloned();
    group.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn admin_group(app: &TestApp) -> String {
    group_named(app, "Admins").await
}

/// `email`'s user id, read with the partner's admin key.
async fn user_id(app: &TestApp, email: &str) -> String {
    let users = app.get(&format!("/v1/users?email={email}"), &app.live).await;
    users.body["results"][0]["id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    async fn a_scoped_key_changes_a_user_only_when_it_reaches_every_membership_of_it(app) {
        let org_a = app.organisation(&app.live, "A").await;
        let org_b = app.organisation(&app.live, "B").await;
        app.member(&app.live, &org_a, "ada@example.com", "STANDARD").await;
        let mut invitation = membership_body(&org_b, "ada@example.com", "STANDARD");
        invitation["status"] = json!("pending");
        assert_eq!(app.post("/v1/memberships", &app.live, invitation).await.status, StatusCode::CREATED);
        app.member(&app.live, &org_a, "bob@example.com", "STANDARD").await;
        let (ada, bob) = (user_id(&app, "ada@example.com").await, user_id(&app, "bob@example.com").await);
        let group_key = app.group_key(&[&org_a]).await;
        let org_key = app.key(&app.live, json!({"name": "org", "organisation_id": org_a, "abilities": ["*"]})).await;

        for key in [&group_key, &org_key] {
            for body in [json!({"email": "mine@example.com"}), json!({"first_name": "Eve"}), json!({})] {
                let reply = app.patch(&format!("/v1/users/{ada}"), key, body).await;
                assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{}", reply.body);
            }
            assert_eq!(app.patch(&format!("/v1/users/{bob}"), key, json!({"first_name": "Robert"})).await.status, StatusCode::OK);
        }
        let unchanged = app.get(&format!("/v1/users/{ada}"), &app.live).await;
        assert_eq!((unchanged.body["email"].as_str(), unchanged.body["first_name"].as_str()), (Some("ada@example.com"), Some("Ada")));
        assert_eq!(app.patch(&format!("/v1/users/{ada}"), &app.live, json!({"first_name": "Augusta"})).await.status, StatusCode::OK);
    }

    async fn a_member_cannot_be_made_staff(app) {
        let org = app.organisation(&app.live, "A").await;
        let member = app.member(&app.live, &org, "ada@example.com", "ADMIN").await;
        let ada = user_id(&app, "ada@example.com").await;
        let refused = app.patch(&format!("/v1/users/{ada}"), &app.live, json!({"is_staff": true})).await;
        assert_eq!((refused.status, refused.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"), "{}", refused.body);
        let check = app.get(&format!("/v1/check?organisation_id={org}&user_id={ada}&permission=members:read"), &app.live).await;
        assert_eq!(check.body["allowed"], true);
        assert_eq!(app.get(&format!("/v1/users/{ada}"), &app.live).await.body["is_staff"], false);
        // Once it holds no membership, it may be.
        assert_eq!(app.delete(&format!("/v1/memberships/{member}"), &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.patch(&format!("/v1/users/{ada}"), &app.live, json!({"is_staff": true})).await.status, StatusCode::OK);
    }

    async fn making_a_user_staff_and_adding_it_to_an_organisation_at_once_never_both_succeed(app) {
        let org = app.organisation(&app.live, "A").await;
        for round in 0..8 {
            let email = format!("user{round}@example.com");
            let user = app.post("/v1/users", &app.live, json!({"email": email, "first_name": "U", "last_name": "V"})).await.id();
            let user_path = format!("/v1/users/{user}");
            let (staff, member) = tokio::join!(
                app.patch(&user_path, &app.live, json!({"is_staff": true})),
                app.post("/v1/memberships", &app.live, membership_body(&org, &email, "STANDARD")),
            );
            let both = staff.status == StatusCode::OK && member.status == StatusCode::CREATED;
            assert!(!both, "round {round}: a staff user became a member");
            for reply in [&staff, &member] {
                assert!(reply.status.is_success() || reply.code() == "INVALID_REQUEST", "{} {}", reply.status, reply.body);
            }
        }
    }

    async fn a_scoped_key_learns_only_that_an_email_is_taken(app) {
        let org_a = app.organisation(&app.live, "A").await;
        let org_b = app.organisation(&app.live, "B").await;
        app.member(&app.live, &org_a, "inside@example.com", "STANDARD").await;
        app.member(&app.live, &org_b, "outside@example.com", "STANDARD").await;
        let group_key = app.group_key(&[&org_a]).await;
        let create = |email: &str| json!({"email": email, "first_name": "X", "last_name": "Y"});
        let inside = app.post("/v1/users", &group_key, create("INSIDE@example.com")).await;
        let outside = app.post("/v1/users", &group_key, create("OUTSIDE@example.com")).await;
        assert_eq!((outside.status, outside.code()), (StatusCode::UNPROCESSABLE_ENTITY, "USER_ALREADY_EXISTS"));
        assert_eq!(inside.body, outside.body, "an out-of-scope user answers as an in-scope one");
        assert!(!outside.body.to_string().contains("usr_"), "no id is given away");

        let mine = user_id(&app, "inside@example.com").await;
        let renamed = app.patch(&format!("/v1/users/{mine}"), &group_key, json!({"email": "outside@example.com"})).await;
        assert_eq!(renamed.body, outside.body);
        let hidden = app.get("/v1/users?email=outside@example.com", &group_key).await;
        assert_eq!(hidden.body["count"], 0);

        // Adding the user to an organisation in scope brings it into scope: the membership
        // shows the stored names, exactly as the user's own record then does.
        let mut pulled_in = membership_body(&org_a, "outside@example.com", "STANDARD");
        pulled_in["first_name"] = json!("Someone");
        let added = app.post("/v1/memberships", &group_key, pulled_in).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        let user = app.get(&format!("/v1/users/{}", added.body["user_id"].as_str().unwrap()), &group_key).await;
        assert_eq!((added.body["first_name"].clone(), user.body["first_name"].clone()), (json!("Ada"), json!("Ada")));
    }
}

on_both_backends! {
    /// A default membership clears the user's other defaults, which may lie outside the key's scope.
    async fn a_scoped_key_makes_a_membership_the_default_only_when_it_reaches_every_membership_of_the_user(app) {
        let org_a = app.organisation(&app.live, "A").await;
        let org_b = app.organisation(&app.live, "B").await;
        let org_c = app.organisation(&app.live, "C").await;
        let in_a = app.member(&app.live, &org_a, "ada@example.com", "STANDARD").await;
        let mut default_in_b = membership_body(&org_b, "ada@example.com", "STANDARD");
        default_in_b["is_default"] = json!(true);
        let in_b = app.post("/v1/memberships", &app.live, default_in_b).await.id();
        let group_key = app.group_key(&[&org_a, &org_c]).await;

        let patched = app.patch(&format!("/v1/memberships/{in_a}"), &group_key, json!({"is_default": true})).await;
        assert_eq!((patched.status, patched.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{}", patched.body);
        let mut default_in_c = membership_body(&org_c, "ada@example.com", "STANDARD");
        default_in_c["is_default"] = json!(true);
        let created = app.post("/v1/memberships", &group_key, default_in_c.clone()).await;
        assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.body);
        assert_eq!(app.get(&format!("/v1/memberships?organisation_id={org_c}"), &app.live).await.body["count"], 0);
        assert_eq!(app.get(&format!("/v1/memberships/{in_b}"), &app.live).await.body["is_default"], true);

        // Within reach, and for the partner's admin key, it is the user's choice as before.
        default_in_c["email"] = json!("bob@example.com");
        assert_eq!(app.post("/v1/memberships", &group_key, default_in_c).await.status, StatusCode::CREATED);
        assert_eq!(app.patch(&format!("/v1/memberships/{in_a}"), &app.live, json!({"is_default": true})).await.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/v1/memberships/{in_b}"), &app.live).await.body["is_default"], false);
    }
}
