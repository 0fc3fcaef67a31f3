//! Spec §7 commercelayer: Commerce Layer's memberships at `/compat/commercelayer/api`, JSON:API
//! 1.0 documents, invitations by e-mail, with partner and organisation keys, user tokens and JWTs.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

const API: &str = "/compat/commercelayer/api/memberships";
const JSON_API: &str = "application/vnd.api+json";

/// A request as the official client sends it: JSON:API `Accept` and `Content-Type` on every one.
async fn send(app: &TestApp, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
    let bearer = format!("Bearer {key}");
    let headers = [("authorization", bearer.as_str()), ("accept", JSON_API), ("content-type", JSON_API)];
    app.send(method, &format!("{API}{path}"), &headers, body.map(|body| serde_json::to_vec(&body).unwrap())).await
}

async fn get(app: &TestApp, path: &str, key: &str) -> Reply {
    send(app, Method::GET, path, key, None).await
}

fn invitation(email: &str, organisation: &str, role: &str) -> Value {
    json!({"data": {"type": "memberships", "attributes": {"user_email": email}, "relationships": {
        "organization": {"data": {"type": "organizations", "id": organisation}},
        "role": {"data": {"type": "roles", "id": role}},
    }}})
}

async fn invite(app: &TestApp, key: &str, email: &str, organisation: &str, role: &str) -> Reply {
    send(app, Method::POST, "", key, Some(invitation(email, organisation, role))).await
}

fn patch(id: &str, attributes: Value, relationships: Value) -> Value {
    json!({"data": {"type": "memberships", "id": id, "attributes": attributes, "relationships": relationships}})
}

fn role(id: &str) -> Value {
    json!({"role": {"data": {"type": "roles", "id": id}}})
}

/// A JSON:API error document with `status` on every error object, as `application/vnd.api+json`.
fn assert_error(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let errors = reply.body["errors"].as_array().unwrap_or_else(|| panic!("no errors[]: {}", reply.body));
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(error["status"], status.as_str(), "{}", reply.body);
        assert!(error["title"].is_string() && error["detail"].is_string() && error["code"].is_string(), "{error}");
    }
    assert_eq!(reply.headers.get("content-type").unwrap(), JSON_API);
}

fn code(reply: &Reply) -> &str {
    reply.body["errors"][0]["code"].as_str().unwrap_or("")
}

fn pointers(reply: &Reply) -> Vec<&str> {
    reply.body["errors"].as_array().unwrap().iter().filter_map(|error| error["source"]["pointer"].as_str()).collect()
}

fn parameters(reply: &Reply) -> Vec<&str> {
    reply.body["errors"].as_array().unwrap().iter().filter_map(|error| error["source"]["parameter"].as_str()).collect()
}

fn ids(reply: &Reply) -> Vec<&str> {
    reply.body["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap()).collect()
}

async fn native(app: &TestApp, id: &str) -> Value {
    let reply = app.get(&format!("/v1/memberships/{id}"), &app.live).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn custom_role(app: &TestApp, organisation: &str, name: &str) -> String {
    let reply = app
        .post(
            "/v1/roles",
            &app.live,
            json!({"organisation_id": organisation, "name": name, "permissions": ["invoices:read"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.id()
}

async fn user_token(app: &TestApp, membership_id: &str) -> String {
    let user = native(app, membership_id).await["user_id"].clone();
    app.key(&app.live, json!({"name": "session", "user_id": user})).await
}

on_both_backends! {
    async fn an_invitation_is_a_pending_membership_shaped_as_the_reference_shows(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let created = invite(&app, &app.live, "John.Doe@Example.com", &acme, "role_admin").await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.headers.get("content-type").unwrap(), JSON_API);
        let data = &created.body["data"];
        let id = data["id"].as_str().unwrap();
        let own = format!("http://localhost{API}/{id}");
        assert_eq!(data["links"]["self"], own.as_str(), "links are absolute, from the request's Host");
        assert_eq!(created.headers.get("location").unwrap(), own.as_str());
        for relationship in ["organization", "role", "application_memberships", "membership_profile", "versions"] {
            assert_eq!(data["relationships"][relationship]["links"], json!({
                "self": format!("{own}/relationships/{relationship}"), "related": format!("{own}/{relationship}"),
            }));
            assert!(data["relationships"][relationship].get("data").is_none(), "linkage only when included");
        }
        let mut redacted = data.clone();
        redacted["id"] = json!("[id]");
        redacted["links"] = json!("[links]");
        redacted["relationships"] = json!("[relationships]");
        for time in ["created_at", "updated_at"] {
            assert!(redacted["attributes"][time].as_str().unwrap().ends_with('Z'));
            redacted["attributes"][time] = json!(format!("[{time}]"));
        }
        insta::assert_json_snapshot!("commercelayer_membership_shape", redacted);

        let natively = native(&app, id).await;
        assert_eq!((natively["status"].as_str(), natively["role"].as_str(), natively["first_name"].clone()), (Some("pending"), Some("ADMIN"), Value::Null));

        // An existing user is found whatever the case of its e-mail, and keeps its names.
        app.post("/v1/users", &app.live, json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"})).await;
        let found = invite(&app, &app.live, "GRACE@example.com", &acme, "role_standard").await;
        assert_eq!(found.status, StatusCode::CREATED, "{}", found.body);
        let attributes = &found.body["data"]["attributes"];
        assert_eq!((attributes["user_email"].as_str(), attributes["user_first_name"].as_str(), attributes["status"].as_str()), (Some("grace@example.com"), Some("Grace"), Some("pending")));
    }

    async fn content_is_negotiated_as_json_api_asks(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let bearer = format!("Bearer {}", app.live);
        let body = serde_json::to_vec(&invitation("ada@example.com", &acme, "role_standard")).unwrap();
        for content_type in [None, Some("application/json"), Some("application/vnd.api+json; charset=utf-8"), Some("text/plain")] {
            let mut headers = vec![("authorization", bearer.as_str())];
            headers.extend(content_type.map(|value| ("content-type", value)));
            let refused = app.send(Method::POST, API, &headers, Some(body.clone())).await;
            assert_error(&refused, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let listed = app.get(&format!("/v1/memberships?organisation_id={acme}"), &app.live).await;
        assert_eq!(listed.body["count"], 0, "a refused body wrote nothing");

        let with_parameters = [("authorization", bearer.as_str()), ("accept", "application/vnd.api+json; ext=bulk")];
        assert_error(&app.send(Method::GET, API, &with_parameters, None).await, StatusCode::NOT_ACCEPTABLE);
        for accept in ["application/vnd.api+json; ext=bulk, application/vnd.api+json", "*/*", "application/json"] {
            let reply = app.send(Method::GET, API, &[("authorization", bearer.as_str()), ("accept", accept)], None).await;
            assert_eq!(reply.status, StatusCode::OK, "{accept}: {}", reply.body);
            assert_eq!(reply.headers.get("content-type").unwrap(), JSON_API);
        }
        // A Content-Type on a bodiless GET is ignored, as the official client sends one.
        let reply = app.send(Method::GET, API, &[("authorization", bearer.as_str()), ("content-type", "text/plain")], None).await;
        assert_eq!(reply.status, StatusCode::OK);
        let created = invite(&app, &app.live, "ada@example.com", &acme, "role_standard").await;
        let id = created.body["data"]["id"].as_str().unwrap();
        let deleted = app.send(Method::DELETE, &format!("{API}/{id}"), &[("authorization", bearer.as_str()), ("content-type", "text/plain")], None).await;
        assert_eq!((deleted.status, deleted.body.clone()), (StatusCode::NO_CONTENT, Value::Null));

        let malformed = app.send(Method::POST, API, &[("authorization", bearer.as_str()), ("content-type", JSON_API)], Some(b"{\"data\":".to_vec())).await;
        assert_error(&malformed, StatusCode::BAD_REQUEST);
        for document in [json!({"meta": {}}), json!({"data": []}), json!([1])] {
            let reply = send(&app, Method::POST, "", &app.live, Some(document.clone())).await;
            assert_error(&reply, StatusCode::BAD_REQUEST);
        }
        let huge = vec![b' '; roster_http::MAX_BODY_BYTES + 1];
        let reply = app.send(Method::POST, API, &[("authorization", bearer.as_str()), ("content-type", JSON_API)], Some(huge)).await;
        assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE);
        assert_error(&send(&app, Method::PUT, "", &app.live, None).await, StatusCode::METHOD_NOT_ALLOWED);
        assert_error(&get(&app, "/x/y/z", &app.live).await, StatusCode::NOT_FOUND);
    }

    async fn a_create_points_at_every_invalid_member(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let beta = app.organisation(&app.live, "Beta").await;
        let beta_role = custom_role(&app, &beta, "Billing").await;

        let empty = send(&app, Method::POST, "", &app.live, Some(json!({"data": {"type": "memberships"}}))).await;
        assert_error(&empty, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(pointers(&empty), ["/data/attributes/user_email", "/data/relationships/organization", "/data/relationships/role"]);

        let everything_wrong = send(&app, Method::POST, "", &app.live, Some(json!({"data": {"type": "memberships",
            "attributes": {"user_email": "not an email", "status": "active", "access_scope": "everything", "metadata": {"k": 1}},
            "relationships": {"organization": {"data": {"type": "roles", "id": acme}}, "role": {"data": null},
                "application_memberships": {"data": [{"type": "application_memberships", "id": "x"}]}, "user": {}}}}))).await;
        assert_error(&everything_wrong, StatusCode::UNPROCESSABLE_ENTITY);
        let mut at = pointers(&everything_wrong);
        at.sort_unstable();
        assert_eq!(at, ["/data/attributes/access_scope", "/data/attributes/metadata/k", "/data/attributes/status",
            "/data/attributes/user_email", "/data/relationships/application_memberships",
            "/data/relationships/organization", "/data/relationships/role", "/data/relationships/user"]);

        for (organisation, role, pointer) in [
            ("org_missing", "role_standard", "/data/relationships/organization"),
            ("org\u{0}nul", "role_standard", "/data/relationships/organization"),
            (acme.as_str(), beta_role.as_str(), "/data/relationships/role"),
            (acme.as_str(), "rol_missing", "/data/relationships/role"),
            (acme.as_str(), "admin", "/data/relationships/role"),
        ] {
            let reply = invite(&app, &app.live, "ada@example.com", organisation, role).await;
            assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(pointers(&reply), [pointer], "{organisation} {role}");
        }

        let mut typed = invitation("ada@example.com", &acme, "role_standard");
        typed["data"]["type"] = json!("users");
        assert_error(&send(&app, Method::POST, "", &app.live, Some(typed)).await, StatusCode::CONFLICT);
        let mut with_id = invitation("ada@example.com", &acme, "role_standard");
        with_id["data"]["id"] = json!("mem_mine");
        let refused = send(&app, Method::POST, "", &app.live, Some(with_id)).await;
        assert_error(&refused, StatusCode::FORBIDDEN);
        assert_eq!(pointers(&refused), ["/data/id"]);
        assert_eq!(app.get(&format!("/v1/memberships?organisation_id={acme}"), &app.live).await.body["count"], 0, "nothing refused was written");

        assert_eq!(invite(&app, &app.live, "ada@example.com", &acme, "role_standard").await.status, StatusCode::CREATED);
        let again = invite(&app, &app.live, "ADA@example.com", &acme, "role_admin").await;
        assert_error(&again, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code(&again), "MEMBERSHIP_ALREADY_EXISTS");
    }

    async fn twenty_racing_invitations_create_one(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let replies = futures::future::join_all((0..20).map(|_| invite(&app, &app.live, "race@example.com", &acme, "role_standard"))).await;
        let statuses: Vec<StatusCode> = replies.iter().map(|reply| reply.status).collect();
        assert_eq!(statuses.iter().filter(|status| **status == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert!(replies.iter().filter(|reply| reply.status != StatusCode::CREATED).all(|reply| code(reply) == "MEMBERSHIP_ALREADY_EXISTS"));
    }

    async fn lists_filter_sort_page_and_include_as_the_client_asks(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let beta = app.organisation(&app.live, "Beta").await;
        let billing = custom_role(&app, &acme, "Billing").await;
        let owner = app.member(&app.live, &acme, "owner@example.com", "ADMIN").await;
        let standard = app.member(&app.live, &acme, "standard@example.com", "STANDARD").await;
        let invited = invite(&app, &app.live, "invited@example.com", &acme, &billing).await.body["data"]["id"].as_str().unwrap().to_owned();
        let in_beta = app.member(&app.live, &beta, "beta@example.com", "ADMIN").await;

        let all = get(&app, "", &app.live).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        assert_eq!(ids(&all), [in_beta.as_str(), &invited, &standard, &owner], "newest first");
        assert_eq!(all.body["meta"], json!({"record_count": 4, "page_count": 1}));
        assert!(all.body.get("included").is_none());

        let page = get(&app, "?page%5Bnumber%5D=2&page%5Bsize%5D=1&filter%5Bq%5D%5Bstatus_eq%5D=active&sort=created_at", &app.live).await;
        assert_eq!(ids(&page), [standard.as_str()]);
        assert_eq!(page.body["meta"], json!({"record_count": 3, "page_count": 3}));
        let link = |number: u64| format!("http://localhost{API}?filter%5Bq%5D%5Bstatus_eq%5D=active&sort=created_at&page%5Bnumber%5D={number}&page%5Bsize%5D=1");
        assert_eq!(page.body["links"], json!({"first": link(1), "prev": link(1), "next": link(3), "last": link(3)}));
        let past = get(&app, "?page[number]=9&page[size]=25", &app.live).await;
        assert_eq!((past.body["data"].clone(), past.body["meta"]["record_count"].clone()), (json!([]), json!(4)));
        assert_eq!(past.body["links"]["next"], Value::Null);

        for (query, expected) in [
            ("filter[q][status_eq]=pending".to_owned(), vec![invited.as_str()]),
            ("filter[q][status_in]=pending,rejected".to_owned(), vec![invited.as_str()]),
            (format!("filter[status]=active&filter[organization_id]={acme}"), vec![standard.as_str(), owner.as_str()]),
            (format!("filter[q][organization_id_eq]={beta}"), vec![in_beta.as_str()]),
            (format!("filter[q][organization_id_in]={beta},{acme}&filter[q][status_eq]=pending"), vec![invited.as_str()]),
            ("filter[q][organization_id_eq]=org_elsewhere".to_owned(), vec![]),
            ("filter[q][user_email_eq]=OWNER%40example.com".to_owned(), vec![owner.as_str()]),
            ("filter[user_email]=nobody@example.com".to_owned(), vec![]),
            (format!("sort=-updated_at,created_at&filter[q][organization_id_eq]={acme}"), vec![invited.as_str(), standard.as_str(), owner.as_str()]),
        ] {
            let reply = get(&app, &format!("?{query}"), &app.live).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
            assert_eq!(ids(&reply), expected, "{query}");
            assert_eq!(reply.body["meta"]["record_count"], expected.len(), "{query}");
        }

        assert_error(&get(&app, "?filter[q][organization_id_eq]=", &app.live).await, StatusCode::BAD_REQUEST);
        let included = get(&app, "?include=organization%2Crole", &app.live).await;
        assert_eq!(included.status, StatusCode::OK, "{}", included.body);
        let mut resources: Vec<(String, String)> = included.body["included"].as_array().unwrap().iter()
            .map(|resource| (resource["type"].as_str().unwrap().to_owned(), resource["id"].as_str().unwrap().to_owned())).collect();
        resources.sort();
        let mut expected = vec![("organizations".to_owned(), acme.clone()), ("organizations".to_owned(), beta.clone()),
            ("roles".to_owned(), billing.clone()), ("roles".to_owned(), "role_admin".to_owned()), ("roles".to_owned(), "role_standard".to_owned())];
        expected.sort();
        assert_eq!(resources, expected, "each included resource once");
        let first = &included.body["data"][0]["relationships"];
        assert_eq!((first["organization"]["data"].clone(), first["role"]["data"].clone()),
            (json!({"type": "organizations", "id": beta}), json!({"type": "roles", "id": "role_admin"})));
        assert!(first["versions"].get("data").is_none());
        let billing_role = included.body["included"].as_array().unwrap().iter().find(|resource| resource["id"] == billing.as_str()).unwrap();
        assert_eq!((billing_role["attributes"]["name"].as_str(), billing_role["attributes"]["kind"].as_str()), (Some("Billing"), Some("custom")));
        let only_roles = get(&app, "?include=role", &app.live).await;
        assert!(only_roles.body["included"].as_array().unwrap().iter().all(|resource| resource["type"] == "roles"), "nothing unrequested");

        let sparse = get(&app, "?fields[memberships]=status,organization&fields[organizations]=name&include=organization&page[size]=1", &app.live).await;
        let item = &sparse.body["data"][0];
        assert_eq!(item["attributes"], json!({"status": "active"}));
        assert_eq!(item["relationships"].as_object().unwrap().keys().collect::<Vec<_>>(), ["organization"]);
        assert_eq!(sparse.body["included"][0]["attributes"], json!({"name": "Beta"}));

        let refused = get(&app, "?page[size]=26&page[number]=0&sort=name&include=versions&filter[q][name_cont]=x&filter[q][status_eq]=accepted&limit=1", &app.live).await;
        assert_error(&refused, StatusCode::BAD_REQUEST);
        let mut named = parameters(&refused);
        named.sort_unstable();
        assert_eq!(named, ["filter[q][name_cont]", "filter[q][status_eq]", "include", "limit", "page[number]", "page[size]", "sort"]);
    }

    async fn a_patch_changes_only_what_it_may_and_answers_the_whole_resource(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let beta = app.organisation(&app.live, "Beta").await;
        let billing = custom_role(&app, &acme, "Billing").await;
        let beta_role = custom_role(&app, &beta, "Beta role").await;
        let admin = app.member(&app.live, &acme, "admin@example.com", "ADMIN").await;
        let other = app.member(&app.live, &acme, "other@example.com", "ADMIN").await;

        let changed = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(patch(&other,
            json!({"access_scope": "all_access", "reference": "ref-1", "metadata": {"plan": "pro"}}), role(&billing)))).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        let attributes = &changed.body["data"]["attributes"];
        assert_eq!((attributes["access_scope"].as_str(), attributes["reference"].as_str(), attributes["metadata"].clone(), attributes["user_first_name"].as_str()),
            (Some("all_access"), Some("ref-1"), json!({"plan": "pro"}), Some("Ada")));
        assert_eq!(changed.body["data"]["relationships"]["role"]["links"]["related"], format!("http://localhost{API}/{other}/role"));
        let natively = native(&app, &other).await;
        assert_eq!((natively["access_scope"].as_str(), natively["role"].as_str(), natively["role_ids"].clone(), natively["reference_origin"].clone()),
            (Some("full_access"), Some("STANDARD"), json!([billing]), Value::Null));
        let related = get(&app, &format!("/{other}/role"), &app.live).await;
        assert_eq!(related.body["data"]["id"], billing.as_str());

        // Only what is sent changes; role_admin is ADMIN without custom roles.
        let promoted = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(json!({"data": {"type": "memberships", "id": other, "relationships": role("role_admin")}}))).await;
        assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
        assert_eq!(promoted.body["data"]["attributes"]["reference"], "ref-1");
        let natively = native(&app, &other).await;
        assert_eq!((natively["role"].as_str(), natively["role_ids"].clone()), (Some("ADMIN"), json!([])));
        let unchanged = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(json!({"data": {"type": "memberships", "id": other}}))).await;
        assert_eq!((unchanged.status, unchanged.body["data"]["attributes"]["updated_at"].clone()), (StatusCode::OK, promoted.body["data"]["attributes"]["updated_at"].clone()));

        let refused = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(patch(&other,
            json!({"user_email": "x@example.com", "status": "active", "owner": true, "reference": 5}),
            json!({"organization": {"data": {"type": "organizations", "id": beta}}, "role": {"data": {"type": "roles", "id": beta_role}}})))).await;
        assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY);
        let mut at = pointers(&refused);
        at.sort_unstable();
        assert_eq!(at, ["/data/attributes/owner", "/data/attributes/reference", "/data/attributes/status", "/data/attributes/user_email", "/data/relationships/organization"]);
        let foreign_role = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(patch(&other, json!({}), role(&beta_role)))).await;
        assert_error(&foreign_role, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(pointers(&foreign_role), ["/data/relationships/role"]);

        for (document, pointer) in [
            (json!({"data": {"type": "users", "id": other}}), "/data/type"),
            (json!({"data": {"type": "memberships", "id": admin}}), "/data/id"),
        ] {
            let reply = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(document)).await;
            assert_error(&reply, StatusCode::CONFLICT);
            assert_eq!(pointers(&reply), [pointer]);
        }
        // JSON:API lets a resource object carry meta and links; they say nothing here.
        let annotated = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(json!({"meta": {"a": 1}, "jsonapi": {"version": "1.0"},
            "data": {"type": "memberships", "id": other, "meta": {"b": 2}, "links": {"self": "x"}}}))).await;
        assert_eq!(annotated.status, StatusCode::OK, "{}", annotated.body);
        let dotted = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(patch(&other, json!({"metadata": {"a.b": 5}}), json!({})))).await;
        assert_eq!(pointers(&dotted), ["/data/attributes/metadata/a.b"]);
        let no_id = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(json!({"data": {"type": "memberships"}}))).await;
        assert_error(&no_id, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(pointers(&no_id), ["/data/id"]);
        assert_eq!(native(&app, &other).await["role"], "ADMIN", "nothing refused was written");

        // Rule 1: while others are members, the last admin is not demoted, nor deleted.
        assert_eq!(send(&app, Method::DELETE, &format!("/{admin}"), &app.live, None).await.status, StatusCode::NO_CONTENT);
        app.member(&app.live, &acme, "third@example.com", "STANDARD").await;
        let demoted = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(patch(&other, json!({}), role("role_standard")))).await;
        assert_error(&demoted, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!((code(&demoted), pointers(&demoted)), ("MEMBERSHIP_UPDATE_FORBIDDEN", vec!["/data/relationships/role"]));
        let to_custom = send(&app, Method::PATCH, &format!("/{other}"), &app.live, Some(patch(&other, json!({}), role(&billing)))).await;
        assert_eq!(code(&to_custom), "MEMBERSHIP_UPDATE_FORBIDDEN");
        let deleted = send(&app, Method::DELETE, &format!("/{other}"), &app.live, None).await;
        assert_error(&deleted, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code(&deleted), "MEMBERSHIP_DELETION_FORBIDDEN");

        let missing = send(&app, Method::PATCH, "/mem_missing", &app.live, Some(patch("mem_missing", json!({}), json!({})))).await;
        assert_error(&missing, StatusCode::NOT_FOUND);
        assert_error(&send(&app, Method::DELETE, "/mem_missing", &app.live, None).await, StatusCode::NOT_FOUND);
    }

    async fn related_resources_and_relationships_are_served(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let billing = custom_role(&app, &acme, "Billing").await;
        let admin = app.member(&app.live, &acme, "admin@example.com", "ADMIN").await;
        let standard = app.member(&app.live, &acme, "standard@example.com", "STANDARD").await;
        let custom = invite(&app, &app.live, "custom@example.com", &acme, &billing).await.body["data"]["id"].as_str().unwrap().to_owned();

        let organization = get(&app, &format!("/{admin}/organization"), &app.live).await;
        assert_eq!(organization.status, StatusCode::OK, "{}", organization.body);
        let data = &organization.body["data"];
        assert_eq!((data["id"].as_str(), data["type"].as_str(), data["attributes"]["name"].as_str()), (Some(acme.as_str()), Some("organizations"), Some("Acme")));
        let natively = app.get(&format!("/v1/organisations/{acme}"), &app.live).await;
        assert_eq!(data["attributes"]["created_at"], natively.body["created_at"]);

        for (membership, id, name, kind) in [(&admin, "role_admin", "Admin", "admin"), (&standard, "role_standard", "Standard", "read_only"), (&custom, billing.as_str(), "Billing", "custom")] {
            let reply = get(&app, &format!("/{membership}/role"), &app.live).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let data = &reply.body["data"];
            assert_eq!((data["id"].as_str(), data["type"].as_str(), data["attributes"]["name"].as_str(), data["attributes"]["kind"].as_str()), (Some(id), Some("roles"), Some(name), Some(kind)));
            let linkage = get(&app, &format!("/{membership}/relationships/role"), &app.live).await;
            assert_eq!(linkage.body["data"], json!({"type": "roles", "id": id}));
            assert_eq!(linkage.body["links"]["related"], format!("http://localhost{API}/{membership}/role"));
        }
        let linkage = get(&app, &format!("/{admin}/relationships/organization"), &app.live).await;
        assert_eq!(linkage.body["data"], json!({"type": "organizations", "id": acme}));
        for (path, expected) in [
            ("application_memberships", json!({"data": [], "meta": {"record_count": 0, "page_count": 0}})),
            ("membership_profile", json!({"data": null})),
        ] {
            let reply = get(&app, &format!("/{admin}/{path}"), &app.live).await;
            assert_eq!((reply.status, reply.body.clone()), (StatusCode::OK, expected), "{path}");
            let linkage = get(&app, &format!("/{admin}/relationships/{path}"), &app.live).await;
            assert_eq!(linkage.status, StatusCode::OK, "{path}");
        }
        for path in ["organization", "role", "versions", "membership_profile", "application_memberships", "relationships/role", "relationships/versions"] {
            assert_error(&get(&app, &format!("/mem_missing/{path}"), &app.live).await, StatusCode::NOT_FOUND);
            let unserved = get(&app, &format!("/mem_missing/{path}?bogus=1"), &app.live).await;
            assert_error(&unserved, StatusCode::BAD_REQUEST);
            assert_eq!(parameters(&unserved), ["bogus"], "{path}");
        }
        let sparse = get(&app, &format!("/{admin}/organization?fields[organizations]=name"), &app.live).await;
        assert_eq!(sparse.body["data"]["attributes"], json!({"name": "Acme"}));
        assert_error(&get(&app, &format!("/{admin}/organization?include=role"), &app.live).await, StatusCode::BAD_REQUEST);

        let one = get(&app, &format!("/{custom}?include=role,organization"), &app.live).await;
        let types: Vec<&str> = one.body["included"].as_array().unwrap().iter().map(|resource| resource["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["organizations", "roles"]);
        assert_error(&get(&app, &format!("/{custom}?page[size]=2"), &app.live).await, StatusCode::BAD_REQUEST);
    }

    async fn related_reads_racing_a_delete_answer_as_if_the_delete_came_first(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        for round in 0..5 {
            let billing = custom_role(&app, &acme, &format!("Billing {round}")).await;
            let id = invite(&app, &app.live, &format!("r{round}@example.com"), &acme, &billing).await.body["data"]["id"].as_str().unwrap().to_owned();
            let reads = futures::future::join_all((0..8).map(|n| {
                let path = if n % 2 == 0 { format!("/{id}/role") } else { format!("/{id}?include=role") };
                let app = &app;
                async move { get(app, &path, &app.live).await }
            }));
            let role_path = format!("/v1/roles/{billing}");
            let (replies, deleted) = tokio::join!(reads, app.delete(&role_path, &app.live));
            assert_eq!(deleted.status, StatusCode::NO_CONTENT);
            for reply in replies {
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                if let Some(included) = reply.body["included"].as_array() {
                    let linked = &reply.body["data"]["relationships"]["role"]["data"]["id"];
                    assert!(included.iter().any(|role| &role["id"] == linked), "full linkage: {}", reply.body);
                }
            }
        }
    }

    async fn versions_are_the_membership_history_also_after_its_deletion(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let id = invite(&app, &app.live, "v@example.com", &acme, "role_standard").await.body["data"]["id"].as_str().unwrap().to_owned();
        let changed = send(&app, Method::PATCH, &format!("/{id}"), &app.live, Some(patch(&id, json!({"reference": "r1"}), json!({})))).await;
        assert_eq!(changed.status, StatusCode::OK);
        assert_eq!(send(&app, Method::DELETE, &format!("/{id}"), &app.live, None).await.status, StatusCode::NO_CONTENT);

        let versions = get(&app, &format!("/{id}/versions"), &app.live).await;
        assert_eq!(versions.status, StatusCode::OK, "{}", versions.body);
        assert_eq!(versions.body["meta"], json!({"record_count": 3, "page_count": 1}));
        let events: Vec<&str> = versions.body["data"].as_array().unwrap().iter().map(|version| version["attributes"]["event"].as_str().unwrap()).collect();
        assert_eq!(events, ["destroy", "update", "create"], "newest first");
        let update = &versions.body["data"][1];
        assert_eq!(update["type"], "versions");
        assert_eq!((update["attributes"]["item_type"].as_str(), update["attributes"]["item_id"].as_str()), (Some("memberships"), Some(id.as_str())));
        assert_eq!(update["attributes"]["object_changes"], json!({"reference": [null, "r1"]}));
        assert_eq!(update["attributes"]["who"]["type"], "key");
        let created = &versions.body["data"][2]["attributes"]["object_changes"];
        assert_eq!(created["status"], json!([null, "pending"]));

        let paged = get(&app, &format!("/{id}/versions?page[size]=1&page[number]=2"), &app.live).await;
        assert_eq!((paged.body["data"][0]["attributes"]["event"].as_str(), paged.body["meta"]["page_count"].as_u64()), (Some("update"), Some(3)));
        let link = |number: u64| format!("http://localhost{API}/{id}/versions?page%5Bnumber%5D={number}&page%5Bsize%5D=1");
        assert_eq!(paged.body["links"], json!({"first": link(1), "prev": link(1), "next": link(3), "last": link(3)}));
        let linkage = get(&app, &format!("/{id}/relationships/versions"), &app.live).await;
        assert_eq!(linkage.body["data"].as_array().unwrap().len(), 3);
        assert_eq!(linkage.body["data"][0]["type"], "versions");
        assert_eq!(linkage.body["links"]["related"], format!("http://localhost{API}/{id}/versions"));
        assert_eq!(linkage.body["links"]["self"], format!("http://localhost{API}/{id}/relationships/versions"));

        let other = app.new_partner("Other").await.0;
        assert_error(&get(&app, &format!("/{id}/versions"), &other).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, &format!("/{id}/versions"), &app.test).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, &format!("/{acme}/versions"), &app.live).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, &format!("/{id}/versions?include=role"), &app.live).await, StatusCode::BAD_REQUEST);
    }

    async fn resend_answers_204_for_a_pending_invitation_only(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let active = app.member(&app.live, &acme, "active@example.com", "ADMIN").await;
        let pending = invite(&app, &app.live, "pending@example.com", &acme, "role_standard").await.body["data"]["id"].as_str().unwrap().to_owned();
        let resent = send(&app, Method::POST, &format!("/{pending}/resend"), &app.live, Some(json!({"data": {}}))).await;
        assert_eq!((resent.status, resent.body.clone()), (StatusCode::NO_CONTENT, Value::Null));
        let bearer = format!("Bearer {}", app.live);
        let bare = app.send(Method::POST, &format!("{API}/{pending}/resend"), &[("authorization", bearer.as_str())], None).await;
        assert_eq!(bare.status, StatusCode::NO_CONTENT, "{}", bare.body);
        let refused = send(&app, Method::POST, &format!("/{active}/resend"), &app.live, Some(json!({"data": {}}))).await;
        assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body["errors"][0].get("source").is_none(), "no member of the request is at fault: {}", refused.body);
        assert_error(&send(&app, Method::POST, "/mem_missing/resend", &app.live, None).await, StatusCode::NOT_FOUND);
        let wrong_type = app.send(Method::POST, &format!("{API}/{pending}/resend"), &[("authorization", bearer.as_str()), ("content-type", "application/json")], Some(b"{\"data\":{}}".to_vec())).await;
        assert_error(&wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    async fn every_credential_reaches_what_the_spec_says(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let beta = app.organisation(&app.live, "Beta").await;
        let admin = app.member(&app.live, &acme, "admin@example.com", "ADMIN").await;
        let reader = app.member(&app.live, &acme, "reader@example.com", "STANDARD").await;
        let in_beta = app.member(&app.live, &beta, "beta@example.com", "ADMIN").await;

        let none = app.send(Method::GET, API, &[("accept", JSON_API)], None).await;
        assert_error(&none, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&none), "UNAUTHORIZED");
        let basic = app.send(Method::GET, API, &[("authorization", "Basic YTpi")], None).await;
        assert_eq!(code(&basic), "INVALID_TOKEN", "a credential was sent, just not a valid one");
        let flipped = format!("{}{}", &app.live[..app.live.len() - 1], if app.live.ends_with('a') { 'b' } else { 'a' });
        for invalid in ["sk_live_nope", flipped.as_str(), crate::support::MASTER_KEY] {
            let reply = get(&app, "", invalid).await;
            assert_error(&reply, StatusCode::UNAUTHORIZED);
            assert_eq!(code(&reply), "INVALID_TOKEN", "{invalid}");
        }
        let publishable = app.key(&app.live, json!({"name": "pub", "type": "publishable", "organisation_id": acme})).await;
        assert_error(&get(&app, "", &publishable).await, StatusCode::FORBIDDEN);
        assert_error(&invite(&app, &publishable, "x@example.com", &acme, "role_standard").await, StatusCode::FORBIDDEN);

        // An organisation key: its organisation only; another is missing.
        let acme_key = app.key(&app.live, json!({"name": "acme", "organisation_id": acme, "abilities": ["memberships:read", "memberships:write"]})).await;
        assert_eq!(ids(&get(&app, "", &acme_key).await), [reader.as_str(), &admin]);
        assert_error(&get(&app, &format!("/{in_beta}"), &acme_key).await, StatusCode::NOT_FOUND);
        assert_error(&get(&app, &format!("/{in_beta}/organization"), &acme_key).await, StatusCode::NOT_FOUND);
        assert_error(&send(&app, Method::DELETE, &format!("/{in_beta}"), &acme_key, None).await, StatusCode::NOT_FOUND);
        let foreign = invite(&app, &acme_key, "x@example.com", &beta, "role_standard").await;
        assert_error(&foreign, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(pointers(&foreign), ["/data/relationships/organization"]);
        assert_eq!(invite(&app, &acme_key, "x@example.com", &acme, "role_standard").await.status, StatusCode::CREATED);
        let read_only = app.key(&app.live, json!({"name": "ro", "organisation_id": acme, "abilities": ["memberships:read"]})).await;
        assert_error(&invite(&app, &read_only, "y@example.com", &acme, "role_standard").await, StatusCode::FORBIDDEN);
        assert_error(&send(&app, Method::POST, &format!("/{admin}/resend"), &read_only, None).await, StatusCode::FORBIDDEN);

        // A non-admin group's key: its organisations only.
        let group = app.group_key(&[&beta]).await;
        assert_eq!(ids(&get(&app, "", &group).await), [in_beta.as_str()]);
        assert_error(&get(&app, &format!("/{admin}/role"), &group).await, StatusCode::NOT_FOUND);

        // Users: where their accepted membership grants memberships:read / write.
        let admin_token = user_token(&app, &admin).await;
        assert_eq!(get(&app, "?page[size]=25", &admin_token).await.body["meta"]["record_count"], 3);
        assert_eq!(invite(&app, &admin_token, "z@example.com", &acme, "role_standard").await.status, StatusCode::CREATED);
        assert_error(&get(&app, &format!("/{in_beta}"), &admin_token).await, StatusCode::NOT_FOUND);
        let reader_token = user_token(&app, &reader).await;
        assert_eq!(get(&app, &format!("/{admin}?include=organization"), &reader_token).await.status, StatusCode::OK);
        assert_error(&invite(&app, &reader_token, "w@example.com", &acme, "role_standard").await, StatusCode::FORBIDDEN);
        assert_error(&send(&app, Method::PATCH, &format!("/{admin}"), &reader_token, Some(patch(&admin, json!({"reference": "x"}), json!({})))).await, StatusCode::FORBIDDEN);
        assert_error(&send(&app, Method::DELETE, &format!("/{admin}"), &reader_token, None).await, StatusCode::FORBIDDEN);
        let beta_user = native(&app, &in_beta).await["user_id"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {}", crate::support::jwt_for(&beta_user));
        let as_jwt = app.send(Method::GET, API, &[("authorization", bearer.as_str())], None).await;
        assert_eq!(ids(&as_jwt), [in_beta.as_str()]);
        let into_acme = app.send(Method::POST, API, &[("authorization", bearer.as_str()), ("content-type", JSON_API)], Some(serde_json::to_vec(&invitation("v@example.com", &acme, "role_standard")).unwrap())).await;
        assert_error(&into_acme, StatusCode::UNPROCESSABLE_ENTITY);

        // Modes never mix: a test key sees no live membership.
        assert_eq!(get(&app, "", &app.test).await.body["meta"]["record_count"], 0);
        assert_error(&get(&app, &format!("/{admin}"), &app.test).await, StatusCode::NOT_FOUND);
        let test_org = invite(&app, &app.test, "t@example.com", &acme, "role_standard").await;
        assert_eq!(pointers(&test_org), ["/data/relationships/organization"]);
    }

    async fn the_same_memberships_are_seen_natively_and_here(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let body = json!({"organisation_id": acme, "email": "n@example.com", "first_name": "N", "last_name": "M",
            "role": "STANDARD", "access_scope": "full_access", "is_owner": true, "reference_origin": "crm"});
        let natively = app.post("/v1/memberships", &app.live, body).await;
        let id = natively.id();
        let here = get(&app, &format!("/{id}"), &app.live).await;
        let attributes = &here.body["data"]["attributes"];
        assert_eq!((attributes["status"].as_str(), attributes["access_scope"].as_str(), attributes["owner"].as_bool(), attributes["reference_origin"].as_str()),
            (Some("active"), Some("all_access"), Some(true), Some("crm")));
        let pending = app.post("/v1/memberships", &app.live, json!({"organisation_id": acme, "email": "p@example.com", "first_name": "P", "last_name": "Q", "role": "STANDARD", "status": "pending"})).await.id();
        assert_eq!(get(&app, &format!("/{pending}"), &app.live).await.body["data"]["attributes"]["status"], "pending");
        assert_eq!(send(&app, Method::DELETE, &format!("/{pending}"), &app.live, None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/v1/memberships/{pending}"), &app.live).await.status, StatusCode::NOT_FOUND);
    }

    async fn bad_bytes_are_refused_and_write_nothing(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let bearer = format!("Bearer {}", app.live);
        let headers = [("authorization", bearer.as_str()), ("content-type", JSON_API)];
        for attributes in [json!({"user_email": "a\u{0}b@example.com"}), json!({"user_email": "a@example.com", "reference": "x\u{0}"}),
            json!({"user_email": "a@example.com", "metadata": {"k": "\u{0}"}}), json!({"user_email": 5})] {
            let mut document = invitation("ignored@example.com", &acme, "role_standard");
            document["data"]["attributes"] = attributes.clone();
            let reply = send(&app, Method::POST, "", &app.live, Some(document)).await;
            assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let not_utf8 = app.send(Method::POST, API, &headers, Some(b"{\"data\":{\"type\":\"memberships\",\"attributes\":{\"user_email\":\"\xff\"}}}".to_vec())).await;
        assert_error(&not_utf8, StatusCode::BAD_REQUEST);
        for query in ["?filter[q][status_eq]=%FF", "?filter%00=1", "?sort=%00", "?filter[q][user_email_eq]=a%00b", "?filter[q][organization_id_eq]=%00"] {
            assert_error(&get(&app, query, &app.live).await, StatusCode::BAD_REQUEST);
        }
        for path in ["/mem%00x", "/%FF", "/a%20b/role", &format!("/{}", "m".repeat(51))] {
            assert_error(&get(&app, path, &app.live).await, StatusCode::NOT_FOUND);
        }
        assert_eq!(app.get(&format!("/v1/memberships?organisation_id={acme}"), &app.live).await.body["count"], 0);
    }
}

/// Behind a trusted proxy that says the client used https, links are https.
#[tokio::test]
async fn links_are_https_only_when_a_trusted_proxy_says_so() {
    let config =
        roster_http::Config { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..crate::support::test_config() };
    let app = TestApp::start_sqlite_with(config).await;
    let bearer = format!("Bearer {}", app.live);
    let acme = app.organisation(&app.live, "Acme").await;
    app.member(&app.live, &acme, "a@example.com", "ADMIN").await;
    let forwarded =
        [("authorization", bearer.as_str()), ("x-forwarded-proto", "https"), ("host", "roster.example.com")];
    let reply = app.send(Method::GET, API, &forwarded, None).await;
    assert!(
        reply.body["data"][0]["links"]["self"]
            .as_str()
            .unwrap()
            .starts_with("https://roster.example.com/compat/commercelayer/api/memberships/"),
        "{}",
        reply.body
    );

    let untrusted = TestApp::start().await;
    let bearer = format!("Bearer {}", untrusted.live);
    let acme = untrusted.organisation(&untrusted.live, "Acme").await;
    untrusted.member(&untrusted.live, &acme, "a@example.com", "ADMIN").await;
    let forwarded =
        [("authorization", bearer.as_str()), ("x-forwarded-proto", "https"), ("host", "roster.example.com")];
    let reply = untrusted.send(Method::GET, API, &forwarded, None).await;
    assert!(
        reply.body["data"][0]["links"]["self"].as_str().unwrap().starts_with("http://roster.example.com/"),
        "{}",
        reply.body
    );
}
