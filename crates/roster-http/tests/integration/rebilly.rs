//! Spec §7 rebilly: Rebilly's memberships API at `/compat/rebilly`, over the same data as the
//! native API, with its credentials, shapes, list grammar and errors.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, membership_body};

const PREFIX: &str = "/compat/rebilly";

/// A rebilly request with `REB-APIKEY`, from host `roster.test`, with a JSON body when given.
async fn rebilly(app: &TestApp, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
    let mut headers = vec![("reb-apikey", key), ("host", "roster.test")];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    app.send(method, &format!("{PREFIX}{path}"), &headers, body.map(|body| serde_json::to_vec(&body).unwrap())).await
}

async fn get(app: &TestApp, path: &str, key: &str) -> Reply {
    rebilly(app, Method::GET, path, key, None).await
}

async fn put(app: &TestApp, path: &str, key: &str, body: Value) -> Reply {
    rebilly(app, Method::PUT, path, key, Some(body)).await
}

async fn delete(app: &TestApp, path: &str, key: &str) -> Reply {
    rebilly(app, Method::DELETE, path, key, None).await
}

/// A native membership: (membership id, user id).
async fn member(
    app: &TestApp,
    key: &str,
    organisation_id: &str,
    email: &str,
    role: &str,
    extra: Value,
) -> (String, String) {
    let mut body = membership_body(organisation_id, email, role);
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let reply = app.post("/v1/memberships", key, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.id(), reply.body["user_id"].as_str().unwrap().to_owned())
}

/// A user of the partner with no membership yet.
async fn user(app: &TestApp, key: &str, email: &str) -> String {
    let reply = app.post("/v1/users", key, json!({"email": email, "first_name": "Grace", "last_name": "Hopper"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.id()
}

async fn user_token(app: &TestApp, user_id: &str) -> String {
    app.key(&app.live, json!({"name": "session", "user_id": user_id})).await
}

fn invalid_fields(reply: &Reply) -> Vec<String> {
    reply.body["invalidFields"]
        .as_array()
        .map(|fields| fields.iter().map(|f| f["field"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn header(reply: &Reply, name: &str) -> String {
    reply.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The error shape: `{status, title, detail, error}` as JSON, `status` the HTTP status.
fn assert_error(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["status"], status.as_u16(), "{}", reply.body);
    for member in ["title", "detail", "error"] {
        assert!(reply.body[member].is_string(), "{member} in {}", reply.body);
    }
    assert_eq!(header(reply, "content-type"), "application/json");
}

on_both_backends! {
    async fn a_membership_reads_in_rebillys_shape_with_the_native_ids_and_times(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (id, user) = member(&app, &app.live, &org, "ada@example.com", "ADMIN",
            json!({"is_owner": true, "permissions": ["invoices:read"], "allowed_ips": ["10.0.0.0/8"]})).await;
        let native = app.get(&format!("/v1/memberships/{id}"), &app.live).await;
        let read = get(&app, &format!("/organizations/{org}/memberships/{org}/{user}"), &app.live).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(read.body["organization"], json!({"id": org, "name": "Acme"}));
        assert_eq!(read.body["user"]["id"], user.as_str());
        assert_eq!(read.body["createdTime"], native.body["created_at"]);
        assert_eq!(read.body["updatedTime"], native.body["updated_at"]);
        assert_eq!(
            read.body["_links"],
            json!([{"rel": "self", "href": format!("http://roster.test/compat/rebilly/organizations/{org}/memberships/{org}/{user}")}])
        );
        let mut redacted = read.body.clone();
        redacted["organization"]["id"] = json!("[organization.id]");
        redacted["user"]["id"] = json!("[user.id]");
        for field in ["createdTime", "updatedTime", "_links"] {
            redacted[field] = json!(format!("[{field}]"));
        }
        insta::assert_json_snapshot!("rebilly_membership_shape", redacted);

        let unprefixed = get(&app, &format!("/memberships/{org}/{user}"), &app.live).await;
        let unknown = get(&app, &format!("/organizations/unknown/memberships/{org}/{user}"), &app.live).await;
        for reply in [&unprefixed, &unknown] {
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body["_links"][0]["href"].as_str().unwrap(),
                format!("http://roster.test/compat/rebilly/organizations/unknown/memberships/{org}/{user}"));
        }
        let bearer = app.get(&format!("{PREFIX}/memberships/{org}/{user}"), &app.live).await;
        assert_eq!(bearer.status, StatusCode::OK, "Authorization: Bearer works too");
    }

    async fn an_unrestricted_membership_has_empty_lists_and_a_name_from_what_the_user_has(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let invited = app.post("/v1/memberships", &app.live, json!({
            "organisation_id": org, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
            "role": "STANDARD", "status": "pending"})).await;
        let user = invited.body["user_id"].as_str().unwrap();
        let read = get(&app, &format!("/memberships/{org}/{user}"), &app.live).await;
        assert_eq!(read.body["allowedIps"], json!([]));
        assert_eq!(read.body["roleIds"], json!([]));
        assert_eq!(read.body["user"]["name"], "Ada Lovelace");
        assert_eq!((read.body["isOwner"].as_bool(), read.body["isDefault"].as_bool()), (Some(false), Some(false)));
    }

    async fn the_list_holds_every_status_in_scope_with_its_pagination_headers(app) {
        let a = app.organisation(&app.live, "A").await;
        let b = app.organisation(&app.live, "B").await;
        member(&app, &app.live, &a, "a1@example.com", "ADMIN", json!({"is_owner": true})).await;
        member(&app, &app.live, &a, "a2@example.com", "STANDARD", json!({"status": "pending"})).await;
        member(&app, &app.live, &b, "b1@example.com", "ADMIN", json!({})).await;
        let (other_live, _) = app.new_partner("other").await;
        let foreign = app.organisation(&other_live, "F").await;
        member(&app, &other_live, &foreign, "f@example.com", "ADMIN", json!({})).await;

        let all = get(&app, &format!("/organizations/{a}/memberships"), &app.live).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        assert_eq!(all.body.as_array().unwrap().len(), 3, "every organisation in scope, not only {{currentOrg}}'s");
        assert_eq!((header(&all, "pagination-total"), header(&all, "pagination-limit"), header(&all, "pagination-offset")),
            ("3".to_owned(), "100".to_owned(), "0".to_owned()));
        let emails = |reply: &Reply| -> Vec<String> {
            reply.body.as_array().unwrap().iter().map(|m| m["user"]["email"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(emails(&all), ["b1@example.com", "a2@example.com", "a1@example.com"], "newest first");

        let in_a = get(&app, &format!("/memberships?filter=organizationId:{a}"), &app.live).await;
        assert_eq!(emails(&in_a), ["a2@example.com", "a1@example.com"]);
        let owners = get(&app, &format!("/memberships?filter=organizationId:{a},{b}%3BisOwner:true"), &app.live).await;
        assert_eq!(emails(&owners), ["a1@example.com"]);
        assert_eq!(header(&owners, "pagination-total"), "1");
        let foreign_only = get(&app, &format!("/memberships?filter=organizationId:{foreign}"), &app.live).await;
        assert_eq!((foreign_only.body.clone(), header(&foreign_only, "pagination-total")), (json!([]), "0".to_owned()));

        let paged = get(&app, "/memberships?limit=1&offset=1&sort=createdTime", &app.live).await;
        assert_eq!(emails(&paged), ["a2@example.com"]);
        assert_eq!((header(&paged, "pagination-total"), header(&paged, "pagination-limit"), header(&paged, "pagination-offset")),
            ("3".to_owned(), "1".to_owned(), "1".to_owned()));
        let none = get(&app, "/memberships?limit=0", &app.live).await;
        assert_eq!((none.body.clone(), header(&none, "pagination-total")), (json!([]), "3".to_owned()));
        let by_email_of_user = get(&app, "/memberships?sort=-userId", &app.live).await;
        let users: Vec<String> = by_email_of_user.body.as_array().unwrap().iter().map(|m| m["user"]["id"].as_str().unwrap().to_owned()).collect();
        let mut sorted = users.clone();
        sorted.sort_by(|x, y| y.cmp(x));
        assert_eq!(users, sorted);
    }

    async fn a_bad_list_parameter_is_a_422_naming_it(app) {
        for (query, field) in [
            ("limit=1001", "limit"), ("limit=-1", "limit"), ("limit=ten", "limit"), ("offset=-5", "offset"),
            ("filter=isOwner", "filter"), ("filter=isOwner:yes", "filter"), ("filter=name:x", "filter"),
            ("sort=name", "sort"), ("sort=userId&sort=createdTime", "sort"), ("filter=userId:a&filter=userId:b", "filter"),
        ] {
            let reply = get(&app, &format!("/memberships?{query}"), &app.live).await;
            assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(invalid_fields(&reply), [field], "{query}");
        }
        let nul = get(&app, "/memberships?filter=userId:usr%00x;organizationId:%00", &app.live).await;
        assert_eq!((nul.status, nul.body.clone()), (StatusCode::OK, json!([])), "an id that cannot be one matches nothing");
    }

    async fn put_creates_an_accepted_standard_membership_then_changes_only_what_it_sends(app) {
        let org = app.organisation(&app.live, "Acme").await;
        member(&app, &app.live, &org, "admin@example.com", "ADMIN", json!({"is_owner": true})).await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let path = format!("/organizations/{org}/memberships/{org}/{grace}");
        let created = put(&app, &path, &app.live, json!({"permissions": ["invoices:read"], "allowedIps": ["10.0.0.1"]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(header(&created, "location"), format!("http://roster.test/compat/rebilly{path}"));
        assert_eq!(created.body["isOwner"], false);
        let native = app.get(&format!("/v1/memberships?organisation_id={org}&user_id={grace}"), &app.live).await;
        let stored = &native.body["results"][0];
        assert_eq!((stored["status"].as_str(), stored["role"].as_str()), (Some("accepted"), Some("STANDARD")));
        assert_eq!(stored["created_at"], created.body["createdTime"]);

        app.clock.advance(std::time::Duration::from_secs(5));
        let changed = put(&app, &path, &app.live, json!({"isOwner": true})).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        assert_eq!(changed.body["permissions"], json!(["invoices:read"]), "unsent fields keep their value");
        assert_eq!(changed.body["allowedIps"], json!(["10.0.0.1"]));
        assert_eq!(changed.body["isOwner"], true);
        assert_ne!(changed.body["updatedTime"], created.body["updatedTime"]);

        // A client's read-modify-write sends the read-only members back: they are ignored.
        let mut read = get(&app, &path, &app.live).await.body;
        read["permissions"] = json!(["*"]);
        read["isDefault"] = json!(true);
        read["acl"] = json!([]);
        read["_embedded"] = json!({});
        let written = put(&app, &path, &app.live, read).await;
        assert_eq!(written.status, StatusCode::OK, "{}", written.body);
        assert_eq!((written.body["permissions"].clone(), written.body["isDefault"].clone()), (json!(["*"]), json!(false)));
        let native = app.get(&format!("/v1/memberships?organisation_id={org}&user_id={grace}"), &app.live).await;
        assert_eq!(native.body["results"][0]["permissions"], json!(["*"]), "seen natively");
    }

    async fn a_bad_put_is_refused_and_changes_nothing(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let path = format!("/memberships/{org}/{grace}");
        let unknown = put(&app, &path, &app.live, json!({"isOwner": true, "role": "ADMIN", "status": "pending"})).await;
        assert_error(&unknown, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(invalid_fields(&unknown), ["role", "status"]);
        let typed = put(&app, &path, &app.live, json!({"isOwner": "yes", "permissions": ["ok:read", "bad\u{0}"], "roleIds": "x", "allowedIps": ["nope"]})).await;
        assert_error(&typed, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(invalid_fields(&typed), ["isOwner", "permissions.1", "roleIds", "allowedIps.0"]);
        let array = put(&app, &path, &app.live, json!([])).await;
        assert_error(&array, StatusCode::UNPROCESSABLE_ENTITY);
        let headers = [("reb-apikey", app.live.as_str()), ("content-type", "application/json")];
        let malformed = app.send(Method::PUT, &format!("{PREFIX}{path}"), &headers, Some(b"{\"isOwner\":".to_vec())).await;
        assert_error(&malformed, StatusCode::BAD_REQUEST);
        let not_utf8 = app.send(Method::PUT, &format!("{PREFIX}{path}"), &headers, Some(b"{\"permissions\":[\"\xff\"]}".to_vec())).await;
        assert_error(&not_utf8, StatusCode::BAD_REQUEST);
        let huge = app.send(Method::PUT, &format!("{PREFIX}{path}"), &headers, Some(vec![b' '; 2 * 1024 * 1024])).await;
        assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE);
        let text = [("reb-apikey", app.live.as_str()), ("content-type", "text/plain")];
        let wrong_type = app.send(Method::PUT, &format!("{PREFIX}{path}"), &text, Some(b"{}".to_vec())).await;
        assert_error(&wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let listed = app.get(&format!("/v1/memberships?user_id={grace}"), &app.live).await;
        assert_eq!(listed.body["count"], 0, "nothing was written");
    }

    async fn ids_outside_the_scope_are_not_found_and_create_nothing(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (other_live, _) = app.new_partner("other").await;
        let foreign_org = app.organisation(&other_live, "F").await;
        let foreign_user = user(&app, &other_live, "f@example.com").await;
        let test_user = user(&app, &app.test, "t@example.com").await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let long = "x".repeat(51);
        for path in [
            format!("/memberships/{org}/{foreign_user}"),
            format!("/memberships/{org}/{test_user}"),
            format!("/memberships/{foreign_org}/{grace}"),
            format!("/memberships/{org}/usr_missing"),
            format!("/memberships/{long}/{grace}"),
            format!("/memberships/{org}/{long}"),
            format!("/memberships/{org}/a%00b"),
            format!("/memberships/{org}/%FF"),
            format!("/organizations/{org}/memberships/{org}/%FF"),
            "/memberships/organizations/%FF".to_owned(),
        ] {
            assert_error(&put(&app, &path, &app.live, json!({})).await, StatusCode::NOT_FOUND);
            assert_error(&get(&app, &path, &app.live).await, StatusCode::NOT_FOUND);
            assert_error(&delete(&app, &path, &app.live).await, StatusCode::NOT_FOUND);
        }
        let listed = app.get("/v1/memberships", &app.live).await;
        assert_eq!(listed.body["count"], 0);
        let listed = app.get("/v1/memberships", &other_live).await;
        assert_eq!(listed.body["count"], 0);
    }

    async fn a_current_organisation_that_is_not_the_callers_is_forbidden_first(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, user_id) = member(&app, &app.live, &org, "ada@example.com", "ADMIN", json!({})).await;
        let (other_live, _) = app.new_partner("other").await;
        let foreign = app.organisation(&other_live, "F").await;
        let test_org = app.organisation(&app.test, "T").await;
        let long = "o".repeat(51);
        for current in [foreign.as_str(), test_org.as_str(), "org_missing", long.as_str(), "a%00b"] {
            let list = format!("/organizations/{current}/memberships?limit=nope");
            assert_error(&get(&app, &list, &app.live).await, StatusCode::FORBIDDEN);
            for path in [
                format!("/organizations/{current}/memberships/{org}/{user_id}"),
                format!("/organizations/{current}/memberships/{long}/usr_missing"),
            ] {
                assert_error(&get(&app, &path, &app.live).await, StatusCode::FORBIDDEN);
                assert_error(&delete(&app, &path, &app.live).await, StatusCode::FORBIDDEN);
            }
            let path = format!("/organizations/{current}/memberships/{org}/{user_id}");
            assert_error(&put(&app, &path, &app.live, json!({"isOwner": "bad"})).await, StatusCode::FORBIDDEN);
        }
        let still = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
        assert_eq!(still.body["count"], 1);
    }

    async fn delete_removes_the_membership_unless_it_is_the_last_admin_or_owner(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, admin) = member(&app, &app.live, &org, "admin@example.com", "ADMIN", json!({})).await;
        let (_, owner) = member(&app, &app.live, &org, "owner@example.com", "STANDARD", json!({"is_owner": true})).await;
        let (_, standard) = member(&app, &app.live, &org, "s@example.com", "STANDARD", json!({})).await;
        let last_admin = delete(&app, &format!("/memberships/{org}/{admin}"), &app.live).await;
        assert_error(&last_admin, StatusCode::CONFLICT);
        let last_owner = put(&app, &format!("/memberships/{org}/{owner}"), &app.live, json!({"isOwner": false})).await;
        assert_error(&last_owner, StatusCode::CONFLICT);
        let gone = delete(&app, &format!("/memberships/{org}/{standard}"), &app.live).await;
        assert_eq!((gone.status, gone.body.clone()), (StatusCode::NO_CONTENT, Value::Null));
        assert_error(&delete(&app, &format!("/memberships/{org}/{standard}"), &app.live).await, StatusCode::NOT_FOUND);
        let left = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
        assert_eq!(left.body["count"], 2);
    }

    async fn each_credential_sees_what_its_scope_holds(app) {
        let a = app.organisation(&app.live, "A").await;
        let b = app.organisation(&app.live, "B").await;
        let (_, in_a) = member(&app, &app.live, &a, "a@example.com", "ADMIN", json!({})).await;
        let (_, in_b) = member(&app, &app.live, &b, "b@example.com", "ADMIN", json!({})).await;
        let org_key = app.key(&app.live, json!({"name": "org", "organisation_id": a, "abilities": ["*"]})).await;
        let group_key = app.group_key(&[&b]).await;
        let publishable = app.key(&app.live, json!({"name": "pub", "type": "publishable", "organisation_id": a})).await;

        let seen = |reply: &Reply| reply.body.as_array().map(|items| items.len()).unwrap_or(usize::MAX);
        assert_eq!(seen(&get(&app, "/memberships", &org_key).await), 1);
        assert_eq!(seen(&get(&app, "/memberships", &group_key).await), 1);
        assert_eq!(seen(&get(&app, "/memberships", &app.test).await), 0, "test keys see test data only");
        assert_eq!(get(&app, &format!("/memberships/{a}/{in_a}"), &org_key).await.status, StatusCode::OK);
        assert_error(&get(&app, &format!("/memberships/{b}/{in_b}"), &org_key).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, &format!("/organizations/{b}/memberships"), &org_key).await, StatusCode::FORBIDDEN);
        assert_error(&get(&app, &format!("/memberships/{a}/{in_a}"), &group_key).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, &format!("/memberships/{a}/{in_a}"), &app.test).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, "/memberships", &publishable).await, StatusCode::FORBIDDEN);
        assert_error(&put(&app, &format!("/memberships/{a}/{in_a}"), &publishable, json!({})).await, StatusCode::FORBIDDEN);
        assert_error(&get(&app, "/memberships", "sk_live_not_a_key").await, StatusCode::UNAUTHORIZED);
        let anonymous = app.send(Method::GET, &format!("{PREFIX}/memberships"), &[], None).await;
        assert_error(&anonymous, StatusCode::UNAUTHORIZED);
        let master = get(&app, "/memberships", crate::support::MASTER_KEY).await;
        assert_error(&master, StatusCode::UNAUTHORIZED);

        // REB-APIKEY wins over Authorization when both are sent.
        let bearer = format!("Bearer {}", app.live);
        let both = [("reb-apikey", "sk_live_not_a_key"), ("authorization", bearer.as_str())];
        assert_error(&app.send(Method::GET, &format!("{PREFIX}/memberships"), &both, None).await, StatusCode::UNAUTHORIZED);
        let both = [("reb-apikey", org_key.as_str()), ("authorization", bearer.as_str())];
        let reply = app.send(Method::GET, &format!("{PREFIX}/memberships"), &both, None).await;
        assert_eq!(seen(&reply), 1, "the organisation key's scope, not the partner's");
    }

    async fn a_user_writes_as_an_owner_and_leaves_its_own_membership(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, owner) = member(&app, &app.live, &org, "owner@example.com", "ADMIN", json!({"is_owner": true})).await;
        let (_, admin) = member(&app, &app.live, &org, "admin@example.com", "ADMIN", json!({})).await;
        let (_, reader) = member(&app, &app.live, &org, "reader@example.com", "STANDARD", json!({})).await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let (owner_token, admin_token, reader_token) =
            (user_token(&app, &owner).await, user_token(&app, &admin).await, user_token(&app, &reader).await);

        assert_eq!(get(&app, &format!("/organizations/{org}/memberships"), &reader_token).await.status, StatusCode::OK);
        // An admin that is not an owner may not PUT, not even its own membership: a member of the
        // organisation is forbidden, not unaware of it.
        assert_error(&put(&app, &format!("/memberships/{org}/{grace}"), &admin_token, json!({})).await, StatusCode::FORBIDDEN);
        assert_error(&put(&app, &format!("/memberships/{org}/{admin}"), &admin_token, json!({"permissions": ["*"]})).await, StatusCode::FORBIDDEN);
        assert_error(&delete(&app, &format!("/memberships/{org}/{reader}"), &admin_token).await, StatusCode::FORBIDDEN);
        let added = put(&app, &format!("/organizations/{org}/memberships/{org}/{grace}"), &owner_token, json!({})).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        // The last owner cannot leave; a reader can.
        assert_error(&delete(&app, &format!("/memberships/{org}/{owner}"), &owner_token).await, StatusCode::CONFLICT);
        assert_eq!(delete(&app, &format!("/memberships/{org}/{reader}"), &reader_token).await.status, StatusCode::NO_CONTENT);
        assert_eq!(delete(&app, &format!("/memberships/{org}/{grace}"), &owner_token).await.status, StatusCode::NO_CONTENT);
        let left = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
        assert_eq!(left.body["count"], 2);
    }

    async fn a_jwt_user_acts_like_its_token_and_only_from_its_allowed_addresses(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, owner) = member(&app, &app.live, &org, "owner@example.com", "ADMIN", json!({"is_owner": true})).await;
        let (_, fenced) = member(&app, &app.live, &org, "fenced@example.com", "ADMIN",
            json!({"is_owner": true, "allowed_ips": ["10.0.0.0/8"]})).await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let claims = |sub: &str| json!({"sub": sub, "iss": crate::support::JWT_ISSUER, "aud": crate::support::JWT_AUDIENCE,
            "exp": roster_core::time::Timestamp::now().millis() / 1000 + 600});
        let jwt = |sub: &str| jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims(sub),
            &jsonwebtoken::EncodingKey::from_secret(crate::support::JWT_SECRET)).unwrap();
        let bearer = format!("Bearer {}", jwt(&owner));
        let headers = [("authorization", bearer.as_str()), ("content-type", "application/json")];
        let path = format!("{PREFIX}/organizations/{org}/memberships/{org}/{grace}");
        let added = app.send(Method::PUT, &path, &headers, Some(b"{}".to_vec())).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);

        // Requests come from 127.0.0.1, outside 10.0.0.0/8: the fenced owner reaches nothing.
        let bearer = format!("Bearer {}", jwt(&fenced));
        let headers = [("authorization", bearer.as_str()), ("content-type", "application/json")];
        let listed = app.send(Method::GET, &format!("{PREFIX}/organizations/{org}/memberships"), &headers, None).await;
        assert_error(&listed, StatusCode::FORBIDDEN);
        let changed = app.send(Method::PUT, &format!("{PREFIX}/memberships/{org}/{grace}"), &headers, Some(b"{\"isOwner\":true}".to_vec())).await;
        assert_error(&changed, StatusCode::FORBIDDEN);
        let read = app.send(Method::GET, &format!("{PREFIX}/memberships/{org}/{grace}"), &headers, None).await;
        assert_error(&read, StatusCode::FORBIDDEN);
        let removed = app.send(Method::DELETE, &format!("{PREFIX}/memberships/{org}/{grace}"), &headers, None).await;
        assert_error(&removed, StatusCode::FORBIDDEN);
        let left = app.send(Method::DELETE, &format!("{PREFIX}/memberships/{org}/{fenced}"), &headers, None).await;
        assert_error(&left, StatusCode::FORBIDDEN);
        let still = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
        assert_eq!(still.body["count"], 3);
        assert_eq!(still.body["results"][0]["is_owner"], false, "grace stays as added");
    }

    async fn a_membership_created_here_is_read_changed_and_deleted_natively_and_back(app) {
        let org = app.organisation(&app.live, "Acme").await;
        member(&app, &app.live, &org, "admin@example.com", "ADMIN", json!({})).await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let path = format!("/memberships/{org}/{grace}");
        let created = put(&app, &path, &app.live, json!({"permissions": ["a:read"]})).await;
        let native = app.get(&format!("/v1/memberships?user_id={grace}"), &app.live).await;
        let id = native.body["results"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(native.body["results"][0]["created_at"], created.body["createdTime"]);
        let patched = app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"permissions": ["b:write"]})).await;
        assert_eq!(patched.status, StatusCode::OK);
        let read = get(&app, &path, &app.live).await;
        assert_eq!((read.body["permissions"].clone(), read.body["updatedTime"].clone()), (json!(["b:write"]), patched.body["updated_at"].clone()));
        assert_eq!(delete(&app, &path, &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/v1/memberships/{id}"), &app.live).await.status, StatusCode::NOT_FOUND);
    }

    async fn other_methods_and_paths_answer_in_rebillys_shape(app) {
        let post = rebilly(&app, Method::POST, "/memberships", &app.live, Some(json!({}))).await;
        assert_error(&post, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&post, "allow"), "GET,HEAD");
        let patch = rebilly(&app, Method::PATCH, "/memberships/org_a/usr_b", &app.live, Some(json!({}))).await;
        assert_error(&patch, StatusCode::METHOD_NOT_ALLOWED);
        assert_error(&get(&app, "/customers", &app.live).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, "/", &app.live).await, StatusCode::NOT_FOUND);
    }

    async fn racing_upserts_of_one_pair_create_it_once(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let grace = user(&app, &app.live, "grace@example.com").await;
        let path = format!("/memberships/{org}/{grace}");
        let replies = futures::future::join_all((0..10).map(|n| {
            let (app, path) = (&app, path.clone());
            async move { put(app, &path, &app.live, json!({"permissions": [format!("p{n}:read")]})).await }
        }))
        .await;
        let statuses: Vec<StatusCode> = replies.iter().map(|reply| reply.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 9, "{statuses:?}");
        let listed = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
        assert_eq!(listed.body["count"], 1);
    }

    async fn racing_deletes_never_remove_the_last_admin(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let (_, first) = member(&app, &app.live, &org, "a1@example.com", "ADMIN", json!({})).await;
        let (_, second) = member(&app, &app.live, &org, "a2@example.com", "ADMIN", json!({})).await;
        member(&app, &app.live, &org, "s@example.com", "STANDARD", json!({})).await;
        let (first, second) = (format!("/memberships/{org}/{first}"), format!("/memberships/{org}/{second}"));
        let (one, two) = tokio::join!(delete(&app, &first, &app.live), delete(&app, &second, &app.live));
        let mut statuses = [one.status, two.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::CONFLICT]);
        let admins = app.get(&format!("/v1/memberships?organisation_id={org}&role=ADMIN"), &app.live).await;
        assert_eq!(admins.body["count"], 1);
    }

    async fn racing_demotions_never_remove_the_last_owner(app) {
        let org = app.organisation(&app.live, "Acme").await;
        member(&app, &app.live, &org, "admin@example.com", "ADMIN", json!({})).await;
        let (_, first) = member(&app, &app.live, &org, "o1@example.com", "STANDARD", json!({"is_owner": true})).await;
        let (_, second) = member(&app, &app.live, &org, "o2@example.com", "STANDARD", json!({"is_owner": true})).await;
        let (first, second) = (format!("/memberships/{org}/{first}"), format!("/memberships/{org}/{second}"));
        let demote = json!({"isOwner": false});
        let (one, two) = tokio::join!(put(&app, &first, &app.live, demote.clone()), put(&app, &second, &app.live, demote.clone()));
        let mut statuses = [one.status, two.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
        let listed = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
        let owners = listed.body["results"].as_array().unwrap().iter().filter(|m| m["is_owner"] == true).count();
        assert_eq!(owners, 1);
    }

    async fn a_staff_user_cannot_be_made_a_member(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let staff = app.post("/v1/users", &app.live, json!({"email": "staff@example.com", "first_name": "S", "last_name": "T", "is_staff": true})).await;
        assert_eq!(staff.status, StatusCode::CREATED, "{}", staff.body);
        let reply = put(&app, &format!("/memberships/{org}/{}", staff.id()), &app.live, json!({})).await;
        assert_error(&reply, StatusCode::BAD_REQUEST);
        let listed = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
        assert_eq!(listed.body["count"], 0);
    }
}
