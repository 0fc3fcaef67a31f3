//! Users acting for themselves (spec §3, §5): user tokens, JWTs and each way a JWT is refused,
//! invitations answered, leaving, and `allowed_ips` with and without trusted proxies.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use roster_http::Config;
use serde_json::{Value, json};

use crate::support::{JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, TestApp, membership_body, test_config};

fn now() -> i64 {
    roster_core::time::Timestamp::now().millis() / 1000
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "exp": now() + 600})
}

fn hs256(claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(JWT_SECRET)).unwrap()
}

/// Creates a membership (with `extra` fields) for `email` and returns (membership id, user id).
async fn invite(app: &TestApp, organisation_id: &str, email: &str, extra: Value) -> (String, String) {
    let mut body = membership_body(organisation_id, email, "STANDARD");
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let reply = app.post("/v1/memberships", &app.live, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.id(), reply.body["user_id"].as_str().unwrap().to_owned())
}

async fn user_token(app: &TestApp, user_id: &str) -> String {
    app.key(&app.live, json!({"name": "session", "user_id": user_id})).await
}

on_both_backends! {
    async fn user_tokens_are_issued_for_users_in_scope_and_act_as_them(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, user) = invite(&app, &org, "ada@example.com", json!({})).await;
        let created = app.post("/v1/api-keys", &app.live, json!({"name": "session", "user_id": user})).await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!((created.body["type"].as_str(), created.body["user_id"].as_str()), (Some("user_token"), Some(user.as_str())));
        let token = created.body["secret"].as_str().unwrap().to_owned();
        assert!(token.starts_with("ut_live_"));

        let me = app.get("/v1/me", &token).await;
        assert_eq!((me.status, me.body["id"].as_str(), me.body["object"].as_str()), (StatusCode::OK, Some(user.as_str()), Some("user")));
        let one = format!("/v1/memberships/{}", created.id());
        for (method, path) in [
            (Method::GET, "/v1/memberships".to_owned()),
            (Method::POST, "/v1/memberships".to_owned()),
            (Method::GET, one.clone()),
            (Method::PATCH, one.clone()),
            (Method::DELETE, one.clone()),
            (Method::GET, "/v1/organisations".to_owned()),
            (Method::GET, "/v1/partners".to_owned()),
        ] {
            let body = matches!(method, Method::POST | Method::PATCH).then(|| json!({}));
            let reply = app.call(method.clone(), &path, Some(&token), body).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
        assert_eq!(app.get("/v1/me", &app.live).await.status, StatusCode::UNAUTHORIZED, "a partner key is not a user");

        let refused = app.post("/v1/api-keys", &app.live, json!({"name": "s", "user_id": user, "abilities": ["*"], "type": "secret"})).await;
        assert_eq!(refused.field_errors(), ["abilities: VALIDATION_INVALID_CHOICE", "type: VALIDATION_INVALID_CHOICE"]);
        let orphan = app.post("/v1/api-keys", &app.live, json!({"name": "s", "type": "user_token", "organisation_id": org})).await;
        assert_eq!(orphan.field_errors(), ["type: VALIDATION_INVALID_CHOICE"]);
        let other = app.organisation(&app.live, "Elsewhere").await;
        let group_key = app.group_key(&[&other]).await;
        let not_admin = app.post("/v1/api-keys", &group_key, json!({"name": "s", "user_id": user})).await;
        assert_eq!((not_admin.status, not_admin.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "only admin-group keys issue user tokens");

        assert_eq!(app.delete(&format!("/v1/api-keys/{}", created.id()), &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get("/v1/me", &token).await.status, StatusCode::UNAUTHORIZED);
    }

    async fn a_jwt_naming_a_user_acts_as_that_user_and_every_flaw_is_401(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, user) = invite(&app, &org, "ada@example.com", json!({})).await;
        let good = hs256(&claims(&user));
        let me = app.get("/v1/me", &good).await;
        assert_eq!((me.status, me.body["email"].as_str()), (StatusCode::OK, Some("ada@example.com")));
        assert_eq!(app.get("/v1/me/memberships", &good).await.body["count"], 1);

        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims(&user).to_string())
        );
        let wrong_algorithm =
            jsonwebtoken::encode(&Header::new(Algorithm::HS384), &claims(&user), &EncodingKey::from_secret(JWT_SECRET)).unwrap();
        let bad_signature =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(&user), &EncodingKey::from_secret(b"another secret entirely, long enough")).unwrap();
        let with = |field: &str, value: Value| {
            let mut changed = claims(&user);
            changed[field] = value;
            hs256(&changed)
        };
        let mut no_expiry = claims(&user);
        no_expiry.as_object_mut().unwrap().remove("exp");
        let mut critical = Header::new(Algorithm::HS256);
        critical.crit = Some(vec!["http://example.com/ext".to_owned()]);
        let with_crit = jsonwebtoken::encode(&critical, &claims(&user), &EncodingKey::from_secret(JWT_SECRET)).unwrap();
        let signed_with_header = |header: &str| {
            let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims(&user).to_string()));
            let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(JWT_SECRET), Algorithm::HS256).unwrap();
            format!("{message}.{signature}")
        };
        assert_eq!(app.get("/v1/me", &signed_with_header(r#"{"alg":"HS256","typ":"JWT"}"#)).await.status, StatusCode::OK);
        let mut in_time = claims(&user);
        in_time["nbf"] = json!(now() - 10);
        in_time["iat"] = json!(now() + 2);
        assert_eq!(app.get("/v1/me", &hs256(&in_time)).await.status, StatusCode::OK, "nbf past and iat within the leeway");
        let cases = [
            ("alg none", unsigned),
            ("wrong algorithm", wrong_algorithm),
            ("bad signature", bad_signature),
            ("wrong issuer", with("iss", json!("https://evil.test"))),
            ("wrong audience", with("aud", json!("someone-else"))),
            ("expired", with("exp", json!(now() - 3600))),
            ("unknown user", with("sub", json!("usr_01ARZ3NDEKTSV4RRFFQ69G5FAV"))),
            ("no expiry", hs256(&no_expiry)),
            ("not valid before an hour from now", with("nbf", json!(now() + 3600))),
            ("issued an hour from now", with("iat", json!(now() + 3600))),
            ("iat not a number", with("iat", json!("yesterday"))),
            ("a crit header", with_crit),
            ("a null crit header", signed_with_header(r#"{"alg":"HS256","typ":"JWT","crit":null}"#)),
            ("iat null", with("iat", Value::Null)),
            ("a NUL in sub", with("sub", json!("usr_\u{0}"))),
            ("sub not an id", with("sub", json!("usr 1"))),
            ("garbage", "not.a.jwt".to_owned()),
        ];
        for (flaw, token) in cases {
            let reply = app.get("/v1/me", &token).await;
            assert_eq!((reply.status, reply.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORISED"), "{flaw}");
        }
    }

    async fn an_invitation_accepted_grants_and_one_rejected_grants_nothing(app) {
        let org = app.organisation(&app.live, "Acme").await;
        app.member(&app.live, &org, "admin@example.com", "ADMIN").await;
        let (accepted, ada) = invite(&app, &org, "ada@example.com", json!({"status": "pending"})).await;
        let other = app.organisation(&app.live, "Globex").await;
        let (rejected, _) = invite(&app, &other, "ada@example.com", json!({"status": "pending", "role": "ADMIN"})).await;
        let token = user_token(&app, &ada).await;
        let check = |organisation: String| format!("/v1/check?organisation_id={organisation}&user_id={ada}&permission=invoices:read");
        assert_eq!(app.get(&check(org.clone()), &app.live).await.body["allowed"], false, "pending grants nothing");

        let listed = app.get("/v1/me/memberships", &token).await;
        assert_eq!(listed.body["count"], 2);
        let answer = app.patch(&format!("/v1/me/memberships/{accepted}"), &token, json!({"status": "accepted"})).await;
        assert_eq!((answer.status, answer.body["status"].as_str()), (StatusCode::OK, Some("accepted")));
        assert_eq!(app.get(&check(org.clone()), &app.live).await.body["allowed"], true);
        let again = app.patch(&format!("/v1/me/memberships/{accepted}"), &token, json!({"status": "rejected"})).await;
        assert_eq!(again.field_errors(), ["status: VALIDATION_INVALID_CHOICE"]);

        let refusal = app.patch(&format!("/v1/me/memberships/{rejected}"), &token, json!({"status": "rejected"})).await;
        assert_eq!(refusal.body["status"], "rejected");
        assert_eq!(app.get(&check(other.clone()), &app.live).await.body["allowed"], false);
        let permissions = app.get(&format!("/v1/memberships/{rejected}/permissions"), &app.live).await;
        assert_eq!(permissions.body["permissions"], json!([]));
        let visible = app.get("/v1/me/memberships?status=rejected", &token).await;
        assert_eq!((visible.body["count"].as_u64(), visible.body["results"][0]["id"].as_str()), (Some(1), Some(rejected.as_str())));
        let pending_again = app.patch(&format!("/v1/me/memberships/{rejected}"), &token, json!({"status": "pending"})).await;
        assert_eq!(pending_again.field_errors(), ["status: VALIDATION_INVALID_CHOICE"]);
        let unknown = app.patch(&format!("/v1/me/memberships/{rejected}"), &token, json!({"status": "accepted", "role": "ADMIN"})).await;
        assert_eq!(unknown.field_errors(), ["role: VALIDATION_UNKNOWN_FIELD"]);
    }

    async fn a_user_sees_and_changes_only_its_own_memberships(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (mine, ada) = invite(&app, &org, "ada@example.com", json!({"status": "pending"})).await;
        let (theirs, _) = invite(&app, &org, "bob@example.com", json!({"status": "pending"})).await;
        let token = user_token(&app, &ada).await;
        assert_eq!(app.get(&format!("/v1/me/memberships/{mine}"), &token).await.status, StatusCode::OK);
        let path = format!("/v1/me/memberships/{theirs}");
        assert_eq!(app.get(&path, &token).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.patch(&path, &token, json!({"status": "accepted"})).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&path, &token).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/v1/memberships/{theirs}"), &app.live).await.body["status"], "pending", "untouched");
    }

    async fn a_user_may_leave_unless_it_is_the_last_admin(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (admin, admin_user) = invite(&app, &org, "admin@example.com", json!({"role": "ADMIN"})).await;
        let (member, member_user) = invite(&app, &org, "member@example.com", json!({})).await;
        let admin_token = user_token(&app, &admin_user).await;
        let leave = app.delete(&format!("/v1/me/memberships/{admin}"), &admin_token).await;
        assert_eq!((leave.status, leave.code()), (StatusCode::UNPROCESSABLE_ENTITY, "MEMBERSHIP_DELETION_FORBIDDEN"));
        let member_token = hs256(&claims(&member_user));
        assert_eq!(app.delete(&format!("/v1/me/memberships/{member}"), &member_token).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/v1/memberships/{member}"), &app.live).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&format!("/v1/me/memberships/{admin}"), &admin_token).await.status, StatusCode::NO_CONTENT, "now alone");
    }

    async fn allowed_ips_fence_a_user_acting_through_a_membership(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (fenced, ada) = invite(&app, &org, "ada@example.com", json!({"status": "pending", "allowed_ips": ["10.0.0.0/8"]})).await;
        let (open, _) = invite(&app, &app.organisation(&app.live, "Open").await, "ada@example.com", json!({"status": "pending"})).await;
        let token = user_token(&app, &ada).await;
        // The suite's server trusts no proxy: the socket peer (127.0.0.1) is the client.
        let spoofed = app
            .client
            .patch(format!("{}/v1/me/memberships/{fenced}", app.base))
            .bearer_auth(&token)
            .header("x-forwarded-for", "10.1.2.3")
            .json(&json!({"status": "accepted"}))
            .send()
            .await
            .unwrap();
        let reply = TestApp::reply(spoofed).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
        assert_eq!(app.get(&format!("/v1/memberships/{fenced}"), &app.live).await.body["status"], "pending");
        let elsewhere = app.patch(&format!("/v1/me/memberships/{open}"), &token, json!({"status": "accepted"})).await;
        assert_eq!(elsewhere.status, StatusCode::OK, "an open membership is not fenced");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let config = Config { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..test_config() };
    let app = TestApp::start_with(url, Box::new(dir), config).await;
    let org = app.organisation(&app.live, "Acme").await;
    let (fenced, ada) =
        invite(&app, &org, "ada@example.com", json!({"status": "pending", "allowed_ips": ["10.0.0.0/8"]})).await;
    let token = user_token(&app, &ada).await;
    let send = |forwarded: &'static str| {
        app.client
            .patch(format!("{}/v1/me/memberships/{fenced}", app.base))
            .bearer_auth(&token)
            .header("x-forwarded-for", forwarded)
            .json(&json!({"status": "accepted"}))
            .send()
    };
    // The right-most untrusted entry counts: a client cannot prepend its way in.
    assert_eq!(send("10.9.9.9, 203.0.113.7").await.unwrap().status(), StatusCode::FORBIDDEN);
    // An entry that is not an IP address ends the walk as an unknown client, which no fence
    // admits: what stands left of it was written by the client.
    for unparsable in
        ["10.9.9.9, 203.0.113.5:4444", "10.9.9.9, [2001:db8::5]", "10.9.9.9, unknown", "10.9.9.9,,127.0.0.1"]
    {
        assert_eq!(send(unparsable).await.unwrap().status(), StatusCode::FORBIDDEN, "{unparsable}");
    }
    assert_eq!(app.get(&format!("/v1/memberships/{fenced}"), &app.live).await.body["status"], "pending");
    assert_eq!(send("203.0.113.7, 10.1.2.3, 127.0.0.1").await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn ipv4_clients_of_an_ipv6_socket_match_ipv4_allowed_ips() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let app = TestApp::start_on(url, Some(dir)).await;
    let org = app.organisation(&app.live, "Acme").await;
    let (fenced, ada) =
        invite(&app, &org, "ada@example.com", json!({"status": "pending", "allowed_ips": ["127.0.0.1/32"]})).await;
    let token = user_token(&app, &ada).await;
    // A second server on the same store, listening on every IPv6 and (mapped) IPv4 address.
    let state = roster_http::AppState::new(app.store.clone(), test_config());
    let listener = tokio::net::TcpListener::bind("[::]:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let service = roster_http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    let reply = app
        .client
        .patch(format!("http://127.0.0.1:{port}/v1/me/memberships/{fenced}"))
        .bearer_auth(&token)
        .json(&json!({"status": "accepted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "::ffff:127.0.0.1 is 127.0.0.1");
    server.abort();
}

#[tokio::test]
async fn rs256_tokens_are_verified_with_the_configured_public_key() {
    let public = include_bytes!("fixtures/jwt-test-public.pem");
    let private = include_bytes!("fixtures/jwt-test-private.pem");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let jwt = roster_http::JwtVerifier::rs256(public, None, None).unwrap();
    let app = TestApp::start_with(url, Box::new(dir), Config { jwt: Some(jwt), ..test_config() }).await;
    let org = app.organisation(&app.live, "Acme").await;
    let (_, ada) = invite(&app, &org, "ada@example.com", json!({})).await;
    let claims = json!({"sub": ada, "exp": now() + 600});
    let signed =
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &EncodingKey::from_rsa_pem(private).unwrap())
            .unwrap();
    assert_eq!(app.get("/v1/me", &signed).await.status, StatusCode::OK);
    // Algorithm confusion: an HS256 token keyed with the public key must not pass.
    let confused =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(public)).unwrap();
    assert_eq!(app.get("/v1/me", &confused).await.status, StatusCode::UNAUTHORIZED);
}
