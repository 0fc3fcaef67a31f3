//! Spec §7 cloudflare: a user's own memberships at `/compat/cloudflare`, in Cloudflare's
//! envelope, with its list parameters, integer error codes and permission matrix.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, membership_body};

const PREFIX: &str = "/compat/cloudflare";

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    app.call(method, &format!("{PREFIX}{path}"), Some(token), body).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    call(app, Method::GET, path, token, None).await
}

/// A membership of a new or existing user (`extra` added to the native body): (id, user id).
async fn member(app: &TestApp, organisation_id: &str, email: &str, role: &str, extra: Value) -> (String, String) {
    let mut body = membership_body(organisation_id, email, role);
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let reply = app.post("/v1/memberships", &app.live, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.id(), reply.body["user_id"].as_str().unwrap().to_owned())
}

async fn token(app: &TestApp, key: &str, user_id: &str) -> String {
    app.key(key, json!({"name": "session", "user_id": user_id})).await
}

/// The error envelope with one error of `code`.
fn assert_error(reply: &Reply, status: StatusCode, code: u64) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["success"], false, "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["code"], code, "{}", reply.body);
    assert!(reply.body["errors"][0]["message"].is_string());
    assert_eq!((reply.body["messages"].clone(), reply.body["result"].clone()), (json!([]), Value::Null));
    assert_eq!(reply.headers.get("content-type").unwrap(), "application/json");
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["result"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

on_both_backends! {
    async fn a_membership_shows_its_account_roles_and_what_accepting_would_grant(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let role = app.post("/v1/roles", &app.live, json!({"organisation_id": org, "name": "DNS editor",
            "permissions": ["dns:write", "dns_records:*", "zones:read"]})).await;
        assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
        let (id, user) = member(&app, &org, "ada@example.com", "STANDARD",
            json!({"status": "pending", "role_ids": [role.id()], "permissions": ["billing:write"]})).await;
        let token = token(&app, &app.live, &user).await;
        let reply = get(&app, &format!("/memberships/{id}"), &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!((reply.body["success"].clone(), reply.body["errors"].clone(), reply.body["messages"].clone()), (json!(true), json!([]), json!([])));
        let result = &reply.body["result"];
        let organisation = app.get(&format!("/v1/organisations/{org}"), &app.live).await;
        assert_eq!(result["account"]["created_on"], organisation.body["created_at"]);
        assert_eq!(result["account"]["id"], org.as_str());
        assert_eq!(result["roles"], json!(["Standard", "DNS editor"]));
        assert_eq!(result["status"], "pending");
        // STANDARD grants *:read; the role and the membership add the rest, as if accepted.
        assert_eq!(result["permissions"]["dns"], json!({"read": true, "write": true}));
        assert_eq!(result["permissions"]["dns_records"], json!({"read": true, "write": true}));
        assert_eq!(result["permissions"]["billing"], json!({"read": true, "write": true}));
        assert_eq!(result["permissions"]["zones"], json!({"read": true, "write": false}));
        assert_eq!(result["permissions"]["waf"], json!({"read": true, "write": false}));
        let mut redacted = result.clone();
        redacted["id"] = json!("[id]");
        redacted["account"]["id"] = json!("[account.id]");
        redacted["account"]["created_on"] = json!("[created_on]");
        redacted["account"]["managed_by"]["parent_org_id"] = json!("[partner id]");
        insta::assert_json_snapshot!("cloudflare_membership_shape", redacted);
    }

    async fn the_list_pages_filters_and_orders_the_users_own_memberships(app) {
        let names = ["Delta", "Alpha", "Charlie", "Bravo", "Echo", "Foxtrot", "Golf"];
        let mut organisations = Vec::new();
        for name in names {
            organisations.push(app.organisation(&app.live, name).await);
        }
        let (first, user) = member(&app, &organisations[0], "ada@example.com", "ADMIN", json!({})).await;
        let mut mine = vec![first];
        for (index, org) in organisations.iter().enumerate().skip(1) {
            let status = if index == 6 { "pending" } else { "accepted" };
            mine.push(member(&app, org, "ada@example.com", "STANDARD", json!({"status": status})).await.0);
        }
        // Someone else's membership and a rejected one stay out of the default list.
        member(&app, &organisations[0], "other@example.com", "STANDARD", json!({})).await;
        let token = token(&app, &app.live, &user).await;
        let invited = member(&app, &app.organisation(&app.live, "Hotel").await, "ada@example.com", "STANDARD", json!({"status": "pending"})).await.0;
        let rejected = call(&app, Method::PUT, &format!("/memberships/{invited}"), &token, Some(json!({"status": "rejected"}))).await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);

        let first_page = get(&app, "/memberships?per_page=5", &token).await;
        assert_eq!(first_page.body["result_info"], json!({"page": 1, "per_page": 5, "count": 5, "total_count": 7, "total_pages": 2}));
        let newest_first: Vec<String> = mine.iter().rev().cloned().collect();
        assert_eq!(ids(&first_page), newest_first[..5]);
        let second = get(&app, "/memberships?per_page=5.0&page=2.0", &token).await;
        assert_eq!(ids(&second), newest_first[5..]);
        assert_eq!(second.body["result_info"]["count"], 2);
        let past = get(&app, "/memberships?per_page=5&page=3", &token).await;
        assert_eq!((past.status, past.body["result"].clone(), past.body["result_info"]["total_pages"].clone()), (StatusCode::OK, json!([]), json!(2)));

        let by_name = get(&app, "/memberships?order=account.name&per_page=50", &token).await;
        let account_names: Vec<&str> = by_name.body["result"].as_array().unwrap().iter().map(|m| m["account"]["name"].as_str().unwrap()).collect();
        assert_eq!(account_names, ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf"]);
        let by_id_desc = get(&app, "/memberships?order=id&direction=desc", &token).await;
        let mut sorted = mine.clone();
        sorted.sort_by(|x, y| y.cmp(x));
        assert_eq!(ids(&by_id_desc), sorted);
        let by_status = get(&app, "/memberships?order=status&status=pending", &token).await;
        assert_eq!(ids(&by_status), [mine[6].clone()]);
        assert_eq!(ids(&get(&app, "/memberships?status=rejected", &token).await), [invited]);
        assert_eq!(ids(&get(&app, "/memberships?name=Charlie", &token).await), [mine[2].clone()]);
        assert_eq!(ids(&get(&app, "/memberships?account.name=Echo&unknown=1", &token).await), [mine[4].clone()]);
        assert_eq!(ids(&get(&app, "/memberships?name=charlie", &token).await), Vec::<String>::new(), "exact");
        assert_eq!(get(&app, "/memberships", &token).await.body["result_info"]["total_pages"], 1);
    }

    async fn a_bad_list_parameter_is_400_with_code_1004(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, user) = member(&app, &org, "ada@example.com", "ADMIN", json!({})).await;
        let token = token(&app, &app.live, &user).await;
        for query in ["page=0", "page=1.5", "page=x", "per_page=4", "per_page=51", "status=active", "order=name",
            "direction=up", "name=a%00b", "page=%FF"] {
            assert_error(&get(&app, &format!("/memberships?{query}"), &token).await, StatusCode::BAD_REQUEST, 1004);
        }
        let none = app.get("/v1/me/memberships", &token).await;
        assert_eq!(none.status, StatusCode::OK);
    }

    async fn only_users_may_call_it_and_each_sees_only_its_own(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (mine, user) = member(&app, &org, "ada@example.com", "ADMIN", json!({})).await;
        let (theirs, other) = member(&app, &org, "bob@example.com", "STANDARD", json!({})).await;
        let own = token(&app, &app.live, &user).await;
        let other_token = token(&app, &app.live, &other).await;
        assert_eq!(ids(&get(&app, "/memberships", &other_token).await), [theirs]);
        assert_error(&get(&app, &format!("/memberships/{mine}"), &other_token).await, StatusCode::NOT_FOUND, 1003);
        assert_error(&call(&app, Method::PUT, &format!("/memberships/{mine}"), &other_token, Some(json!({"status": "accepted"}))).await, StatusCode::NOT_FOUND, 1003);
        assert_error(&call(&app, Method::DELETE, &format!("/memberships/{mine}"), &other_token, None).await, StatusCode::NOT_FOUND, 1003);
        assert_error(&get(&app, "/memberships/mem_missing", &own).await, StatusCode::NOT_FOUND, 1003);
        assert_error(&get(&app, "/memberships/a%00b", &own).await, StatusCode::NOT_FOUND, 1003);

        let org_key = app.key(&app.live, json!({"name": "org", "organisation_id": org, "abilities": ["*"]})).await;
        let publishable = app.key(&app.live, json!({"name": "web", "type": "publishable", "organisation_id": org})).await;
        for key in [app.live.as_str(), org_key.as_str(), publishable.as_str()] {
            assert_error(&get(&app, "/memberships", key).await, StatusCode::FORBIDDEN, 10000);
        }
        for credential in [crate::support::MASTER_KEY, "ut_live_not_a_token", "nonsense"] {
            assert_error(&get(&app, "/memberships", credential).await, StatusCode::UNAUTHORIZED, 10000);
        }
        let anonymous = app.send(Method::GET, &format!("{PREFIX}/memberships"), &[], None).await;
        assert_error(&anonymous, StatusCode::UNAUTHORIZED, 10000);
        let revoked_id = app.get("/v1/api-keys?limit=100", &app.live).await.body["results"].as_array().unwrap().iter()
            .find(|key| key["user_id"] == user.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(app.delete(&format!("/v1/api-keys/{revoked_id}"), &app.live).await.status, StatusCode::NO_CONTENT);
        assert_error(&get(&app, "/memberships", &own).await, StatusCode::UNAUTHORIZED, 10000);

        // A test-mode user sees test memberships only.
        let test_org = app.organisation(&app.test, "Test org").await;
        let test_member = app.post("/v1/memberships", &app.test, membership_body(&test_org, "ada@example.com", "ADMIN")).await;
        let test_token = token(&app, &app.test, test_member.body["user_id"].as_str().unwrap()).await;
        assert_eq!(ids(&get(&app, "/memberships", &test_token).await), [test_member.id()]);
    }

    async fn a_jwt_user_sees_its_memberships(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (mine, user) = member(&app, &org, "ada@example.com", "ADMIN", json!({})).await;
        let claims = json!({"sub": user, "iss": crate::support::JWT_ISSUER, "aud": crate::support::JWT_AUDIENCE,
            "exp": roster_core::time::Timestamp::now().millis() / 1000 + 600});
        let jwt = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::support::JWT_SECRET)).unwrap();
        assert_eq!(ids(&get(&app, "/memberships", &jwt).await), [mine]);
    }

    async fn an_invitation_is_accepted_or_rejected_once_and_seen_everywhere(app) {
        let a = app.organisation(&app.live, "A").await;
        let b = app.organisation(&app.live, "B").await;
        let (invited_a, user) = member(&app, &a, "ada@example.com", "STANDARD", json!({"status": "pending"})).await;
        let (invited_b, _) = member(&app, &b, "ada@example.com", "STANDARD", json!({"status": "pending"})).await;
        let token = token(&app, &app.live, &user).await;
        let path = format!("/memberships/{invited_a}");
        for body in [json!({}), json!({"status": "pending"}), json!({"status": 1}), json!([]), json!("accepted")] {
            assert_error(&call(&app, Method::PUT, &path, &token, Some(body)).await, StatusCode::BAD_REQUEST, 1004);
        }
        let malformed = app.send(Method::PUT, &format!("{PREFIX}{path}"),
            &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")], Some(b"{\"status\":".to_vec())).await;
        assert_error(&malformed, StatusCode::BAD_REQUEST, 1004);
        let text = app.send(Method::PUT, &format!("{PREFIX}{path}"),
            &[("authorization", &format!("Bearer {token}")), ("content-type", "text/plain")], Some(b"{}".to_vec())).await;
        assert_error(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE, 1004);
        let huge = app.send(Method::PUT, &format!("{PREFIX}{path}"),
            &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")], Some(vec![b' '; 2 * 1024 * 1024])).await;
        assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, 1004);

        let accepted = call(&app, Method::PUT, &path, &token, Some(json!({"status": "accepted", "extra": true}))).await;
        assert_eq!((accepted.status, accepted.body["result"]["status"].clone()), (StatusCode::OK, json!("accepted")), "{}", accepted.body);
        let again = call(&app, Method::PUT, &path, &token, Some(json!({"status": "rejected"}))).await;
        assert_error(&again, StatusCode::BAD_REQUEST, 1004);
        let rejected = call(&app, Method::PUT, &format!("/memberships/{invited_b}"), &token, Some(json!({"status": "rejected"}))).await;
        assert_eq!(rejected.body["result"]["status"], "rejected");
        let native = app.get(&format!("/v1/memberships/{invited_a}"), &app.live).await;
        assert_eq!(native.body["status"], "accepted");
        let me = app.get("/v1/me/memberships?status=rejected", &token).await;
        assert_eq!(me.body["results"][0]["id"], invited_b.as_str());
    }

    async fn leaving_answers_the_id_and_the_last_admin_cannot_leave(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (admin, admin_user) = member(&app, &org, "admin@example.com", "ADMIN", json!({})).await;
        let (standard, user) = member(&app, &org, "ada@example.com", "STANDARD", json!({})).await;
        let admin_token = token(&app, &app.live, &admin_user).await;
        let token = token(&app, &app.live, &user).await;
        let last = call(&app, Method::DELETE, &format!("/memberships/{admin}"), &admin_token, None).await;
        assert_error(&last, StatusCode::CONFLICT, 1005);
        assert_eq!(last.headers.get("x-should-retry").unwrap(), "false");
        // The client sends Content-Type: application/json and no body.
        let left = app.send(Method::DELETE, &format!("{PREFIX}/memberships/{standard}"),
            &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")], None).await;
        assert_eq!((left.status, left.body.clone()), (StatusCode::OK, json!({"success": true, "errors": [], "messages": [], "result": {"id": standard}})));
        assert_eq!(app.get(&format!("/v1/memberships/{standard}"), &app.live).await.status, StatusCode::NOT_FOUND);
    }

    async fn a_user_outside_its_allowed_addresses_cannot_answer_or_leave(app) {
        let org = app.organisation(&app.live, "Acme").await;
        member(&app, &org, "admin@example.com", "ADMIN", json!({})).await;
        let (fenced, user) = member(&app, &org, "ada@example.com", "STANDARD", json!({"status": "pending", "allowed_ips": ["10.0.0.0/8"]})).await;
        let token = token(&app, &app.live, &user).await;
        assert_eq!(get(&app, &format!("/memberships/{fenced}"), &token).await.status, StatusCode::OK);
        let answered = call(&app, Method::PUT, &format!("/memberships/{fenced}"), &token, Some(json!({"status": "accepted"}))).await;
        assert_error(&answered, StatusCode::FORBIDDEN, 10000);
        assert_error(&call(&app, Method::DELETE, &format!("/memberships/{fenced}"), &token, None).await, StatusCode::FORBIDDEN, 10000);
        assert_eq!(app.get(&format!("/v1/memberships/{fenced}"), &app.live).await.body["status"], "pending");
    }

    async fn other_paths_and_methods_answer_in_the_envelope(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, user) = member(&app, &org, "ada@example.com", "ADMIN", json!({})).await;
        let token = token(&app, &app.live, &user).await;
        assert_error(&get(&app, "/accounts", &token).await, StatusCode::NOT_FOUND, 1003);
        for path in ["/compat/cloudflare/", "/compat/cloudflare"] {
            let prefix = app.call(Method::GET, path, Some(&token), None).await;
            assert_error(&prefix, StatusCode::NOT_FOUND, 1003);
        }
        let ignored = get(&app, "/memberships?foo=%FF&%FF=1&page=99999999999999999999", &token).await;
        assert_eq!((ignored.status, ignored.body["result"].clone()), (StatusCode::OK, json!([])));
        let post = call(&app, Method::POST, "/memberships", &token, Some(json!({}))).await;
        assert_error(&post, StatusCode::METHOD_NOT_ALLOWED, 1004);
    }
}
