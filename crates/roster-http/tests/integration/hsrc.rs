//! Spec §7 hsrc: account memberships at `/compat/hsrc`, by workspace member or e-mail, in
//! hsrc's envelope, with secret keys, user tokens and JWTs, and test keys on test data.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, membership_body};

const BASE: &str = "/compat/hsrc/v1/account-memberships";

async fn call(app: &TestApp, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
    app.call(method, &format!("{BASE}{path}"), Some(key), body).await
}

async fn user(app: &TestApp, key: &str, email: &str) -> String {
    let reply = app.post("/v1/users", key, json!({"email": email, "first_name": "Grace", "last_name": "Hopper"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.id()
}

/// hsrc's error envelope: `code` the status, `details` an object.
fn assert_error(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        (reply.body["success"].clone(), reply.body["error"]["code"].clone()),
        (json!(false), json!(status.as_u16())),
        "{}",
        reply.body
    );
    assert!(reply.body["message"].is_string() && reply.body["error"]["message"].is_string());
    assert!(reply.body["error"]["details"].is_object(), "{}", reply.body);
    assert_eq!(reply.headers.get("content-type").unwrap(), "application/json");
}

async fn session(app: &TestApp, user: &Value) -> String {
    app.key(&app.live, json!({"name": "session", "user_id": user})).await
}

fn details(reply: &Reply) -> Vec<String> {
    let mut fields: Vec<String> = reply.body["error"]["details"].as_object().unwrap().keys().cloned().collect();
    fields.sort();
    fields
}

on_both_backends! {
    async fn a_workspace_member_is_added_accepted_and_an_email_invited_pending(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let added = call(&app, Method::POST, "", &app.live, Some(json!({"account_id": account, "workspace_membership_id": grace, "permissions": ["account:account:read"]}))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        assert_eq!((added.body["message"].clone(), added.body["success"].clone()), (json!("success"), json!(true)));
        let data = &added.body["data"];
        assert_eq!(data["object"], "account_membership");
        assert_eq!((data["workspace_membership_id"].as_str(), data["user_id"].as_str()), (Some(grace.as_str()), Some(grace.as_str())));
        assert_eq!(data["permissions"], json!(["account:account:read"]));
        assert_eq!(data["user"], json!({"id": grace, "email": "grace@example.com", "name": "Grace Hopper"}));
        let native = app.get(&format!("/v1/memberships/{}", data["id"].as_str().unwrap()), &app.live).await;
        assert_eq!((native.body["status"].as_str(), native.body["role"].as_str(), native.body["is_owner"].as_bool()), (Some("accepted"), Some("STANDARD"), Some(false)));
        assert_eq!((native.body["created_at"].clone(), native.body["updated_at"].clone()), (data["created_at"].clone(), data["updated_at"].clone()));

        let invited = call(&app, Method::POST, &format!("/?account_id={account}"), &app.live, Some(json!({"email": "Outside@Example.com", "permissions": null}))).await;
        assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
        let data = &invited.body["data"];
        assert_eq!((data["workspace_membership_id"].clone(), data["permissions"].clone(), data["user"]["name"].clone()), (Value::Null, json!([]), Value::Null));
        let mut redacted = data.clone();
        for field in ["id", "account_id", "user_id", "created_at", "updated_at"] {
            redacted[field] = json!(format!("[{field}]"));
        }
        redacted["user"]["id"] = json!("[user.id]");
        insta::assert_json_snapshot!("hsrc_account_membership_shape", redacted);
        let native = app.get(&format!("/v1/memberships/{}", data["id"].as_str().unwrap()), &app.live).await;
        assert_eq!(native.body["status"], "pending");
    }

    async fn a_second_create_answers_200_with_the_membership_as_stored(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let body = json!({"account_id": account, "email": "ada@example.com", "permissions": ["a:read"]});
        let first = call(&app, Method::POST, "", &app.live, Some(body)).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let again = call(&app, Method::POST, "", &app.live, Some(json!({"account_id": account, "email": "ADA@example.com", "permissions": ["b:write"]}))).await;
        assert_eq!((again.status, &again.body["data"]), (StatusCode::OK, &first.body["data"]), "nothing changed");
    }

    async fn twenty_simultaneous_creates_make_one_membership(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let replies = futures::future::join_all((0..20).map(|_| {
            call(&app, Method::POST, "", &app.live, Some(json!({"account_id": account, "email": "ada@example.com"})))
        }))
        .await;
        let created = replies.iter().filter(|reply| reply.status == StatusCode::CREATED).count();
        let existing = replies.iter().filter(|reply| reply.status == StatusCode::OK).count();
        assert_eq!((created, existing), (1, 19), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
        let ids: std::collections::BTreeSet<_> = replies.iter().map(|reply| reply.body["data"]["id"].to_string()).collect();
        assert_eq!(ids.len(), 1);
    }

    async fn a_bad_create_is_422_naming_each_field_and_writes_nothing(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let other = app.organisation(&app.live, "Other").await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let (foreign_live, _) = app.new_partner("foreign").await;
        let foreign_account = app.organisation(&foreign_live, "F").await;
        let foreign_user = user(&app, &foreign_live, "f@example.com").await;
        let test_account = app.organisation(&app.test, "T").await;
        let cases = [
            (json!({"account_id": account}), vec!["email", "workspace_membership_id"]),
            (json!({"account_id": account, "email": "a@example.com", "workspace_membership_id": grace}), vec!["email", "workspace_membership_id"]),
            (json!({"email": "a@example.com"}), vec!["account_id"]),
            (json!({"account_id": account, "email": "not an email", "role": "ADMIN"}), vec!["email", "role"]),
            (json!({"account_id": account, "email": "a@example.com", "permissions": "x"}), vec!["permissions"]),
            (json!({"account_id": account, "email": "a\u{0}@example.com"}), vec!["email"]),
            (json!({"account_id": foreign_account, "email": "a@example.com"}), vec!["account_id"]),
            (json!({"account_id": test_account, "email": "a@example.com"}), vec!["account_id"]),
            (json!({"account_id": "acc_missing", "email": "a@example.com"}), vec!["account_id"]),
            (json!({"account_id": account, "workspace_membership_id": foreign_user}), vec!["workspace_membership_id"]),
            (json!({"account_id": account, "workspace_membership_id": "usr_missing"}), vec!["workspace_membership_id"]),
        ];
        for (body, fields) in cases {
            let reply = call(&app, Method::POST, "", &app.live, Some(body.clone())).await;
            assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(details(&reply), fields, "{body}");
        }
        let differs = call(&app, Method::POST, &format!("?account_id={other}"), &app.live, Some(json!({"account_id": account, "email": "a@example.com"}))).await;
        assert_eq!(details(&differs), ["account_id"]);
        assert_error(&call(&app, Method::POST, "", &app.live, Some(json!([]))).await, StatusCode::UNPROCESSABLE_ENTITY);
        let headers = [("authorization", format!("Bearer {}", app.live)), ("content-type", "application/json".to_owned())];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_error(&app.send(Method::POST, BASE, &headers, Some(b"{\"email\":".to_vec())).await, StatusCode::BAD_REQUEST);
        assert_error(&app.send(Method::POST, BASE, &headers, Some(vec![b' '; 2 * 1024 * 1024])).await, StatusCode::PAYLOAD_TOO_LARGE);
        let text = [headers[0], ("content-type", "text/plain")];
        assert_error(&app.send(Method::POST, BASE, &text, Some(b"{}".to_vec())).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 0);
    }

    async fn the_list_pages_an_account_newest_first_with_has_more(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let other = app.organisation(&app.live, "Other").await;
        let mut ids = Vec::new();
        for n in 0..5 {
            let reply = call(&app, Method::POST, "", &app.live, Some(json!({"account_id": account, "email": format!("u{n}@example.com")}))).await;
            ids.push(reply.body["data"]["id"].as_str().unwrap().to_owned());
        }
        call(&app, Method::POST, "", &app.live, Some(json!({"account_id": other, "email": "x@example.com"}))).await;
        ids.reverse();
        let first = call(&app, Method::GET, &format!("?account_id={account}&limit=2"), &app.live, None).await;
        let page_ids = |reply: &Reply| -> Vec<String> { reply.body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect() };
        assert_eq!((page_ids(&first), first.body["has_more"].clone()), (ids[..2].to_vec(), json!(true)));
        let last = call(&app, Method::GET, &format!("/?account_id={account}&limit=3&starting_after={}", ids[1]), &app.live, None).await;
        assert_eq!((page_ids(&last), last.body["has_more"].clone()), (ids[2..].to_vec(), json!(false)));
        let all = call(&app, Method::GET, &format!("?account_id={account}"), &app.live, None).await;
        assert_eq!(page_ids(&all), ids, "limit 10 by default");
        for query in [format!("?account_id={account}&limit=0"), format!("?account_id={account}&limit=101"), "?limit=5".to_owned(),
            format!("?account_id={account}&starting_after=mem_missing"), "?account_id=acc_missing".to_owned(), format!("?account_id={account}&bogus=1")] {
            assert_error(&call(&app, Method::GET, &query, &app.live, None).await, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let org_key = app.key(&app.live, json!({"name": "org", "organisation_id": account, "abilities": ["*"]})).await;
        assert_eq!(page_ids(&call(&app, Method::GET, "", &org_key, None).await), ids, "an organisation key's account is implied");
        assert_error(&call(&app, Method::GET, &format!("?account_id={other}"), &org_key, None).await, StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn put_replaces_patch_changes_and_delete_removes(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let created = call(&app, Method::POST, "", &app.live, Some(json!({"account_id": account, "email": "ada@example.com", "permissions": ["a:read", "b:read"]}))).await;
        let id = created.body["data"]["id"].as_str().unwrap().to_owned();
        let path = format!("/{id}");
        let patched = call(&app, Method::PATCH, &path, &app.live, Some(json!({}))).await;
        assert_eq!(patched.body["data"]["permissions"], json!(["a:read", "b:read"]), "PATCH changes only what is sent");
        let patched = call(&app, Method::PATCH, &path, &app.live, Some(json!({"permissions": ["c:write"]}))).await;
        assert_eq!(patched.body["data"]["permissions"], json!(["c:write"]));
        let replaced = call(&app, Method::PUT, &path, &app.live, Some(json!({"permissions": null}))).await;
        assert_eq!((replaced.status, replaced.body["data"]["permissions"].clone()), (StatusCode::OK, json!([])), "absent is none");
        let unknown = call(&app, Method::PUT, &path, &app.live, Some(json!({"permissions": [], "user_id": "x"}))).await;
        assert_eq!(details(&unknown), ["user_id"]);
        assert_eq!(call(&app, Method::GET, &path, &app.live, None).await.body["data"]["id"], id.as_str());
        let deleted = call(&app, Method::DELETE, &path, &app.live, None).await;
        assert_eq!((deleted.status, deleted.body.clone()), (StatusCode::OK, json!({"message": "success", "success": true})));
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({}));
            assert_error(&call(&app, method, &path, &app.live, body).await, StatusCode::NOT_FOUND);
        }
        assert_error(&call(&app, Method::GET, "/a%00b", &app.live, None).await, StatusCode::NOT_FOUND);
        assert_error(&call(&app, Method::POST, &path, &app.live, Some(json!({}))).await, StatusCode::METHOD_NOT_ALLOWED);
        assert_error(&app.call(Method::GET, "/compat/hsrc/v1/other", Some(&app.live), None).await, StatusCode::NOT_FOUND);
    }

    async fn the_last_admin_cannot_be_removed(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let admin = app.member(&app.live, &account, "admin@example.com", "ADMIN").await;
        app.member(&app.live, &account, "other@example.com", "STANDARD").await;
        assert_error(&call(&app, Method::DELETE, &format!("/{admin}"), &app.live, None).await, StatusCode::CONFLICT);
    }

    async fn each_credential_acts_in_its_own_scope_and_mode(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let other = app.organisation(&app.live, "Other").await;
        let in_other = app.member(&app.live, &other, "o@example.com", "ADMIN").await;
        let reader = app.post("/v1/memberships", &app.live, membership_body(&account, "reader@example.com", "STANDARD")).await;
        let admin = app.post("/v1/memberships", &app.live, membership_body(&account, "admin@example.com", "ADMIN")).await;
        let (reader_token, admin_token) =
            (session(&app, &reader.body["user_id"]).await, session(&app, &admin.body["user_id"]).await);

        assert_eq!(call(&app, Method::GET, &format!("?account_id={account}"), &reader_token, None).await.status, StatusCode::OK);
        let denied = call(&app, Method::POST, "", &reader_token, Some(json!({"account_id": account, "email": "n@example.com"}))).await;
        assert_error(&denied, StatusCode::FORBIDDEN);
        assert_error(&call(&app, Method::DELETE, &format!("/{}", admin.id()), &reader_token, None).await, StatusCode::FORBIDDEN);
        let added = call(&app, Method::POST, "", &admin_token, Some(json!({"account_id": account, "email": "n@example.com"}))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        // An account without the user's accepted membership answers as missing.
        assert_error(&call(&app, Method::GET, &format!("?account_id={other}"), &admin_token, None).await, StatusCode::UNPROCESSABLE_ENTITY);
        assert_error(&call(&app, Method::GET, &format!("/{in_other}"), &admin_token, None).await, StatusCode::NOT_FOUND);

        let publishable = app.key(&app.live, json!({"name": "web", "type": "publishable", "organisation_id": account})).await;
        assert_error(&call(&app, Method::GET, &format!("?account_id={account}"), &publishable, None).await, StatusCode::FORBIDDEN);
        assert_error(&call(&app, Method::GET, &format!("?account_id={account}"), "sk_live_nope", None).await, StatusCode::UNAUTHORIZED);
        assert_error(&app.send(Method::GET, &format!("{BASE}?account_id={account}"), &[], None).await, StatusCode::UNAUTHORIZED);
        // A test key acts on test data: the live account and membership are not there.
        assert_error(&call(&app, Method::GET, &format!("?account_id={account}"), &app.test, None).await, StatusCode::UNPROCESSABLE_ENTITY);
        assert_error(&call(&app, Method::GET, &format!("/{in_other}"), &app.test, None).await, StatusCode::NOT_FOUND);
        let test_account = app.organisation(&app.test, "Test").await;
        let test_created = call(&app, Method::POST, "", &app.test, Some(json!({"account_id": test_account, "email": "t@example.com"}))).await;
        assert_eq!(test_created.status, StatusCode::CREATED);
        assert_error(&call(&app, Method::GET, &format!("/{}", test_created.body["data"]["id"].as_str().unwrap()), &app.live, None).await, StatusCode::NOT_FOUND);
    }

    async fn an_account_a_user_cannot_reach_is_422_whether_or_not_it_exists(app) {
        let mine = app.organisation(&app.live, "Mine").await;
        let stranger = app.organisation(&app.live, "Stranger").await;
        let (foreign_live, _) = app.new_partner("foreign").await;
        let foreign = app.organisation(&foreign_live, "F").await;
        let test_account = app.organisation(&app.test, "T").await;
        let member = app.post("/v1/memberships", &app.live, membership_body(&mine, "ada@example.com", "ADMIN")).await;
        let token = session(&app, &member.body["user_id"]).await;
        for account in [stranger.as_str(), foreign.as_str(), test_account.as_str(), "org_missing"] {
            let listed = call(&app, Method::GET, &format!("?account_id={account}"), &token, None).await;
            assert_error(&listed, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(details(&listed), ["account_id"], "{account}");
            let created = call(&app, Method::POST, "", &token, Some(json!({"account_id": account, "email": "n@example.com"}))).await;
            assert_eq!(details(&created), ["account_id"], "{account}");
        }
    }

    async fn starting_after_must_be_in_the_listed_account(app) {
        let a = app.organisation(&app.live, "A").await;
        let b = app.organisation(&app.live, "B").await;
        let in_b = app.member(&app.live, &b, "b@example.com", "ADMIN").await;
        app.member(&app.live, &a, "a@example.com", "ADMIN").await;
        let listed = call(&app, Method::GET, &format!("?account_id={a}&starting_after={in_b}"), &app.live, None).await;
        assert_error(&listed, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(details(&listed), ["starting_after"]);
    }

    async fn a_key_that_only_writes_gets_the_stored_membership_on_a_second_create(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let writer = app.key(&app.live, json!({"name": "writer", "organisation_id": account, "abilities": ["memberships:write"]})).await;
        let body = json!({"email": "ada@example.com"});
        let first = call(&app, Method::POST, "", &writer, Some(body.clone())).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let again = call(&app, Method::POST, "", &writer, Some(body)).await;
        assert_eq!((again.status, &again.body["data"]), (StatusCode::OK, &first.body["data"]));
        assert_error(&call(&app, Method::GET, "", &writer, None).await, StatusCode::FORBIDDEN);
    }

    async fn a_jwt_user_reads_and_writes_where_its_membership_allows(app) {
        let account = app.organisation(&app.live, "Acme").await;
        let admin = app.post("/v1/memberships", &app.live, membership_body(&account, "admin@example.com", "ADMIN")).await;
        let claims = json!({"sub": admin.body["user_id"], "iss": crate::support::JWT_ISSUER, "aud": crate::support::JWT_AUDIENCE,
            "exp": roster_core::time::Timestamp::now().millis() / 1000 + 600});
        let jwt = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::support::JWT_SECRET)).unwrap();
        let listed = call(&app, Method::GET, &format!("?account_id={account}"), &jwt, None).await;
        assert_eq!((listed.status, listed.body["data"][0]["id"].clone()), (StatusCode::OK, json!(admin.id())));
        let added = call(&app, Method::POST, "", &jwt, Some(json!({"account_id": account, "email": "n@example.com"}))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    }
}
