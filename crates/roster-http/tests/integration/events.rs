//! Spec §9: every successful write appends its event in its own transaction, and a
//! membership's versions read them back, newest first, also after its deletion.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

async fn versions(app: &TestApp, id: &str, key: &str) -> Reply {
    app.get(&format!("/v1/memberships/{id}/versions?limit=100"), key).await
}

/// The types of the membership's events, oldest first.
async fn kinds(app: &TestApp, id: &str) -> Vec<String> {
    let reply = versions(app, id, &app.live).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut kinds: Vec<String> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

async fn newest(app: &TestApp, id: &str) -> Value {
    versions(app, id, &app.live).await.body["results"][0].clone()
}

async fn user_token(app: &TestApp, membership_id: &str) -> (String, String) {
    let user = app.get(&format!("/v1/memberships/{membership_id}"), &app.live).await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = app.key(&app.live, json!({"name": "session", "user_id": user})).await;
    (user, token)
}

/// `count` members of the organisation (`m{n}@example.com`, the first an admin), added 16 at a
/// time; their ids.
async fn many_members(app: &TestApp, organisation_id: &str, count: usize) -> Vec<String> {
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(|n| async move {
            let role = if n == 0 { "ADMIN" } else { "STANDARD" };
            app.member(&app.live, organisation_id, &format!("m{n}@example.com"), role).await
        })
        .buffer_unordered(16)
        .collect()
        .await
}

on_both_backends! {
    async fn every_membership_write_appends_exactly_its_event(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        app.member(&app.live, &acme, "admin@example.com", "ADMIN").await;
        let bearer = format!("Bearer {}", app.live);
        let body = serde_json::to_vec(&json!({"organisation_id": acme, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "role": "STANDARD", "status": "pending"})).unwrap();
        let created = app.send(Method::POST, "/v1/memberships", &[("authorization", bearer.as_str()), ("content-type", "application/json"), ("x-request-id", "req-create-1")], Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.id();
        let event = newest(&app, &id).await;
        assert_eq!((event["object"].as_str(), event["type"].as_str(), event["request_id"].as_str(), event["livemode"].as_bool()), (Some("event"), Some("membership.created"), Some("req-create-1"), Some(true)));
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["data"]["object"], created.body, "the object as the write left it, in the native shape");
        assert_eq!(event["previous_attributes"], Value::Null);
        assert_eq!(event["actor"]["type"], "key");
        assert!(app.live.starts_with(event["actor"]["key_prefix"].as_str().unwrap()));
        assert!(event["actor"]["id"].as_str().unwrap().starts_with("key_"));

        // An update records the old values of exactly what changed; nothing changed, no event.
        let changed = app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"reference": "crm-1", "permissions": ["a:read"], "metadata": {"k": "v"}})).await;
        assert_eq!(changed.status, StatusCode::OK);
        let event = newest(&app, &id).await;
        assert_eq!(event["type"], "membership.updated");
        assert_eq!(event["previous_attributes"], json!({"reference": null, "permissions": [], "metadata": {}}));
        assert_eq!(event["data"]["object"], changed.body);
        assert_eq!(app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"reference": "crm-1"})).await.status, StatusCode::OK);
        assert_eq!(app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({})).await.status, StatusCode::OK);
        // A refused write writes no event.
        assert_eq!(app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"role_ids": ["rol_missing"]})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(kinds(&app, &id).await, ["membership.created", "membership.updated"]);

        // The invited user answers: its own actor, its token's prefix.
        let (user, token) = user_token(&app, &id).await;
        let accepted = app.patch(&format!("/v1/me/memberships/{id}"), &token, json!({"status": "accepted"})).await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        let event = newest(&app, &id).await;
        assert_eq!(event["type"], "membership.accepted");
        assert_eq!(event["previous_attributes"], json!({"status": "pending"}));
        assert_eq!((event["actor"]["type"].as_str(), event["actor"]["id"].as_str()), (Some("user"), Some(user.as_str())));
        assert!(token.starts_with(event["actor"]["key_prefix"].as_str().unwrap()));

        let left = app.delete(&format!("/v1/me/memberships/{id}"), &token).await;
        assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
        let event = newest(&app, &id).await;
        assert_eq!((event["type"].as_str(), event["previous_attributes"].clone()), (Some("membership.left"), Value::Null));
        assert_eq!(event["data"]["object"]["status"], "accepted", "a removed membership is shown as it was");
        assert_eq!(kinds(&app, &id).await, ["membership.created", "membership.updated", "membership.accepted", "membership.left"]);

        let rejected = app.post("/v1/memberships", &app.live, json!({"organisation_id": acme, "email": "r@example.com", "first_name": "R", "last_name": "S", "role": "STANDARD", "status": "pending"})).await.id();
        let (_, token) = user_token(&app, &rejected).await;
        assert_eq!(app.patch(&format!("/v1/me/memberships/{rejected}"), &token, json!({"status": "rejected"})).await.status, StatusCode::OK);
        assert_eq!(app.delete(&format!("/v1/memberships/{rejected}"), &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(kinds(&app, &rejected).await, ["membership.created", "membership.rejected", "membership.deleted"]);

        // Sequences increase in commit order within the partner.
        let all = versions(&app, &id, &app.live).await;
        let sequences: Vec<i64> = all.body["results"].as_array().unwrap().iter().map(|event| event["sequence"].as_i64().unwrap()).collect();
        assert!(sequences.windows(2).all(|pair| pair[0] > pair[1]), "{sequences:?}");
    }

    async fn an_upsert_is_recorded_as_the_create_or_update_it_was(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let user = app.post("/v1/users", &app.live, json!({"email": "g@example.com", "first_name": "G", "last_name": "H"})).await.id();
        let path = format!("/compat/rebilly/memberships/{acme}/{user}");
        let headers = [("reb-apikey", app.live.as_str()), ("content-type", "application/json")];
        assert_eq!(app.send(Method::PUT, &path, &headers, Some(b"{}".to_vec())).await.status, StatusCode::CREATED);
        assert_eq!(app.send(Method::PUT, &path, &headers, Some(b"{\"isOwner\":true}".to_vec())).await.status, StatusCode::OK);
        let id = app.get(&format!("/v1/memberships?organisation_id={acme}"), &app.live).await.body["results"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(kinds(&app, &id).await, ["membership.created", "membership.updated"]);
        assert_eq!(newest(&app, &id).await["previous_attributes"], json!({"is_owner": false}));
    }

    async fn a_jwt_user_is_recorded_without_a_key_prefix(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let id = app.post("/v1/memberships", &app.live, json!({"organisation_id": acme, "email": "j@example.com", "first_name": "J", "last_name": "K", "role": "STANDARD", "status": "pending"})).await.id();
        let user = app.get(&format!("/v1/memberships/{id}"), &app.live).await.body["user_id"].as_str().unwrap().to_owned();
        let claims = json!({"sub": user, "iss": crate::support::JWT_ISSUER, "aud": crate::support::JWT_AUDIENCE,
            "exp": roster_core::time::Timestamp::now().millis() / 1000 + 600});
        let jwt = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::support::JWT_SECRET)).unwrap();
        assert_eq!(app.patch(&format!("/v1/me/memberships/{id}"), &jwt, json!({"status": "accepted"})).await.status, StatusCode::OK);
        assert_eq!(newest(&app, &id).await["actor"], json!({"type": "user", "id": user, "key_prefix": null}));
    }

    async fn versions_are_scoped_like_their_membership_and_outlive_it(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let beta = app.organisation(&app.live, "Beta").await;
        let id = app.member(&app.live, &acme, "a@example.com", "STANDARD").await;
        for n in 0..4 {
            app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"reference": format!("r{n}")})).await;
        }
        assert_eq!(app.delete(&format!("/v1/memberships/{id}"), &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/v1/memberships/{id}"), &app.live).await.status, StatusCode::NOT_FOUND);

        // Cursor paging, newest first, after the deletion.
        let first = app.get(&format!("/v1/memberships/{id}/versions?limit=4"), &app.live).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!((first.body["count"].as_u64(), first.body["results"].as_array().unwrap().len()), (Some(6), 4));
        assert_eq!(first.body["results"][0]["type"], "membership.deleted");
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = app.get(&format!("/v1/memberships/{id}/versions?limit=4&cursor={cursor}"), &app.live).await;
        let types: Vec<&str> = second.body["results"].as_array().unwrap().iter().map(|event| event["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["membership.updated", "membership.created"]);
        assert_eq!(second.body["next_cursor"], Value::Null);

        let other_partner = app.new_partner("Other").await.0;
        let beta_group = app.group_key(&[&beta]).await;
        let acme_group = app.group_key(&[&acme]).await;
        let organisation_key = app.key(&app.live, json!({"name": "o", "organisation_id": acme, "abilities": ["*"]})).await;
        let group = app.post("/v1/partner-groups", &app.live, json!({"name": "Users only", "organisation_ids": [acme]})).await.id();
        let publishable = app.key(&app.live, json!({"name": "p", "type": "publishable", "partner_group_id": group})).await;
        let unable = app.key(&app.live, json!({"name": "u", "partner_group_id": group, "abilities": ["users:read"]})).await;
        assert_eq!(versions(&app, &id, &acme_group).await.body["count"], 6);
        for (key, status) in [
            (&other_partner, StatusCode::NOT_FOUND),
            (&app.test, StatusCode::NOT_FOUND),
            (&beta_group, StatusCode::NOT_FOUND),
            (&organisation_key, StatusCode::UNAUTHORIZED),
            (&publishable, StatusCode::FORBIDDEN),
            (&unable, StatusCode::FORBIDDEN),
        ] {
            assert_eq!(versions(&app, &id, key).await.status, status, "{key}");
        }
        for missing in ["mem_missing", acme.as_str(), "mem%00x"] {
            assert_eq!(versions(&app, missing, &app.live).await.status, StatusCode::NOT_FOUND, "{missing}");
        }
        let refused = app.get(&format!("/v1/memberships/{id}/versions?limit=0&colour=red"), &app.live).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.field_errors().len(), 2, "{}", refused.body);
    }

    async fn as_of_answers_the_membership_as_it_was_then(app) {
        use roster_core::time::Clock;
        let acme = app.organisation(&app.live, "Acme").await;
        app.clock.advance(std::time::Duration::from_secs(1));
        let before = app.clock.now();
        app.clock.advance(std::time::Duration::from_secs(1));
        let id = app.member(&app.live, &acme, "a@example.com", "STANDARD").await;
        let created = app.clock.now();
        app.clock.advance(std::time::Duration::from_secs(60));
        assert_eq!(app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"reference": "r1"})).await.status, StatusCode::OK);
        let changed = app.clock.now();
        app.clock.advance(std::time::Duration::from_secs(60));
        assert_eq!(app.delete(&format!("/v1/memberships/{id}"), &app.live).await.status, StatusCode::NO_CONTENT);
        let deleted = app.clock.now();

        let at = |time: roster_core::time::Timestamp| {
            let text = time.to_rfc3339();
            let app = &app;
            let id = &id;
            async move { app.get(&format!("/v1/memberships/{id}?as_of={}", text.replace(':', "%3A")), &app.live).await }
        };
        let then = at(created).await;
        assert_eq!((then.status, then.body["reference"].clone(), then.body["id"].as_str()), (StatusCode::OK, Value::Null, Some(id.as_str())));
        let later = at(roster_core::time::Timestamp(changed.millis() + 30_000)).await;
        assert_eq!(later.body["reference"], "r1");
        for gone in [before, deleted, roster_core::time::Timestamp(deleted.millis() + 1)] {
            assert_eq!(at(gone).await.status, StatusCode::NOT_FOUND, "{}", gone.to_rfc3339());
        }
        let other = app.new_partner("Other").await.0;
        assert_eq!(app.get(&format!("/v1/memberships/{id}?as_of={}", created.to_rfc3339()), &other).await.status, StatusCode::NOT_FOUND);
        let malformed = app.get(&format!("/v1/memberships/{id}?as_of=yesterday"), &app.live).await;
        assert_eq!((malformed.status, malformed.field_errors()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["as_of: VALIDATION_INVALID_FORMAT".to_owned()]));
        let unknown = app.get(&format!("/v1/memberships/{id}?colour=red"), &app.live).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn the_events_list_is_scoped_filtered_and_paged_newest_first(app) {
        use roster_core::time::Clock;
        let acme = app.organisation(&app.live, "Acme").await;
        let beta = app.organisation(&app.live, "Beta").await;
        let in_acme = app.member(&app.live, &acme, "a@example.com", "ADMIN").await;
        app.clock.advance(std::time::Duration::from_secs(10));
        let later = app.clock.now();
        let in_beta = app.member(&app.live, &beta, "b@example.com", "ADMIN").await;
        app.post("/v1/roles", &app.live, json!({"organisation_id": acme, "name": "Billing", "permissions": []})).await;
        app.patch(&format!("/v1/memberships/{in_acme}"), &app.live, json!({"reference": "r"})).await;
        let beta_group = app.group_key(&[&beta]).await;
        let types = |reply: &Reply| -> Vec<String> {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            assert!(reply.body.get("count").is_none(), "events are not counted");
            reply.body["results"].as_array().unwrap().iter().map(|event| event["type"].as_str().unwrap().to_owned()).collect()
        };

        let all = app.get("/v1/events?limit=100", &app.live).await;
        assert_eq!(types(&all), ["api_key.created", "partner_group.created", "membership.updated", "role.created",
            "membership.created", "user.created", "membership.created", "user.created", "organisation.created",
            "organisation.created", "api_key.created", "partner_group.created"]);
        // The user a membership create made is its consequence: its event comes first, with the
        // same request.
        let (user_created, membership_created) = (&all.body["results"][5], &all.body["results"][4]);
        assert_eq!(user_created["request_id"], membership_created["request_id"]);
        assert_eq!(user_created["data"]["object"]["id"], membership_created["data"]["object"]["user_id"]);
        assert_eq!(user_created["sequence"].as_i64().unwrap() + 1, membership_created["sequence"].as_i64().unwrap());
        let sequences: Vec<i64> = all.body["results"].as_array().unwrap().iter().map(|event| event["sequence"].as_i64().unwrap()).collect();
        assert!(sequences.windows(2).all(|pair| pair[0] > pair[1]));
        let first = &all.body["results"][3];
        let one = app.get(&format!("/v1/events/{}", first["id"].as_str().unwrap()), &app.live).await;
        assert_eq!(&one.body, first);

        let by_object = format!("type=*&object_id={in_acme}");
        for (query, expected) in [
            ("type=membership.created", vec!["membership.created", "membership.created"]),
            ("type=membership.*", vec!["membership.updated", "membership.created", "membership.created"]),
            (by_object.as_str(), vec!["membership.updated", "membership.created"]),
            ("type=invoice.*", vec![]),
            ("type=membership", vec![]),
        ] {
            assert_eq!(types(&app.get(&format!("/v1/events?{query}"), &app.live).await), expected, "{query}");
        }
        let in_organisation = types(&app.get(&format!("/v1/events?organisation_id={acme}&created_lt=2999-01-01T00%3A00%3A00Z&type=*"), &app.live).await);
        assert_eq!(in_organisation, ["membership.updated", "role.created", "membership.created", "organisation.created"]);
        let since = later.to_rfc3339().replace(':', "%3A");
        assert_eq!(types(&app.get(&format!("/v1/events?created_gte={since}&type=membership.*"), &app.live).await), ["membership.updated", "membership.created"]);
        assert_eq!(types(&app.get(&format!("/v1/events?created_lt={since}&type=membership.*"), &app.live).await), ["membership.created"]);

        // Cursor pages walk every event once.
        let mut seen = Vec::new();
        let mut path = "/v1/events?limit=3".to_owned();
        loop {
            let page = app.get(&path, &app.live).await;
            seen.extend(page.body["results"].as_array().unwrap().iter().map(|event| event["id"].clone()));
            match page.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/events?limit=3&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, all.body["results"].as_array().unwrap().iter().map(|event| event["id"].clone()).collect::<Vec<_>>());

        // A non-admin group sees its organisations' events only: no users, groups or keys of groups.
        assert_eq!(types(&app.get("/v1/events", &beta_group).await), ["membership.created", "organisation.created"], "no user events");
        let acme_event = app.get(&format!("/v1/events?organisation_id={acme}&limit=1"), &app.live).await.body["results"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/v1/events/{acme_event}"), &beta_group).await.status, StatusCode::NOT_FOUND);
        let group_event = all.body["results"][1]["id"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/v1/events/{group_event}"), &beta_group).await.status, StatusCode::NOT_FOUND);
        // An organisation key: its organisation's events, but not its memberships', which the
        // native API keeps to partner keys (spec §3).
        let organisation_key = app.key(&app.live, json!({"name": "o", "organisation_id": acme, "abilities": ["*"]})).await;
        assert_eq!(types(&app.get("/v1/events", &organisation_key).await), ["api_key.created", "role.created", "organisation.created"], "its own creation too");
        assert_eq!(app.get(&format!("/v1/events/{group_event}"), &organisation_key).await.status, StatusCode::NOT_FOUND);
        let membership_event = app.get(&format!("/v1/events?object_id={in_acme}&limit=1"), &app.live).await.body["results"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/v1/events/{membership_event}"), &organisation_key).await.status, StatusCode::NOT_FOUND);
        let memberships_only = app.key(&app.live, json!({"name": "m", "organisation_id": acme, "abilities": ["memberships:read"]})).await;
        assert_eq!(app.get("/v1/events", &memberships_only).await.status, StatusCode::FORBIDDEN);
        // Other modes and partners see none of it; who reads nothing is refused.
        assert_eq!(types(&app.get("/v1/events", &app.test).await), ["api_key.created"], "the test key's own creation only");
        assert_eq!(app.get(&format!("/v1/events/{acme_event}"), &app.test).await.status, StatusCode::NOT_FOUND);
        let other = app.new_partner("Other").await.0;
        assert_eq!(app.get(&format!("/v1/events/{acme_event}"), &other).await.status, StatusCode::NOT_FOUND);
        let publishable = app.key(&app.live, json!({"name": "p", "type": "publishable", "organisation_id": acme})).await;
        assert_eq!(app.get("/v1/events", &publishable).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get("/v1/events", crate::support::MASTER_KEY).await.status, StatusCode::UNAUTHORIZED);
        let (_, token) = user_token(&app, &in_beta).await;
        assert_eq!(app.get("/v1/events", &token).await.status, StatusCode::UNAUTHORIZED);
        for path in ["/v1/events/evt_missing", "/v1/events/evt%00x"] {
            assert_eq!(app.get(path, &app.live).await.status, StatusCode::NOT_FOUND);
        }
        // A membership for a user who exists makes no user.
        app.member(&app.live, &acme, "b@example.com", "STANDARD").await;
        assert_eq!(types(&app.get("/v1/events?limit=2", &app.live).await), ["membership.created", "api_key.created"]);
        let refused = app.get("/v1/events?limit=0&created_gte=yesterday&colour=red&organisation_id=a%00b", &app.live).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.field_errors().len(), 4, "{}", refused.body);
    }

    async fn an_event_has_the_time_of_its_write_and_a_write_that_changes_nothing_has_none(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let id = app.member(&app.live, &acme, "a@example.com", "STANDARD").await;
        let changed = app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"permissions": ["x:y"]})).await;
        let updated_at = changed.body["updated_at"].as_str().unwrap().replace(':', "%3A");
        let then = app.get(&format!("/v1/memberships/{id}?as_of={updated_at}"), &app.live).await;
        assert_eq!(then.body["permissions"], json!(["x:y"]), "as_of the write's own time is the write");
        assert_eq!(newest(&app, &id).await["created_at"], changed.body["updated_at"]);
        let created_at = app.get(&format!("/v1/memberships/{id}"), &app.live).await.body["created_at"].as_str().unwrap().replace(':', "%3A");
        assert_eq!(app.get(&format!("/v1/memberships/{id}?as_of={created_at}"), &app.live).await.body["permissions"], json!([]));

        let before = app.get("/v1/events?limit=1", &app.live).await.body["results"][0]["id"].clone();
        for (path, body) in [
            (format!("/v1/organisations/{acme}"), json!({"name": "Acme"})),
            (format!("/v1/memberships/{id}"), json!({"permissions": ["x:y"]})),
        ] {
            assert_eq!(app.patch(&path, &app.live, body).await.status, StatusCode::OK);
        }
        assert_eq!(app.get("/v1/events?limit=1", &app.live).await.body["results"][0]["id"], before, "nothing a reader sees changed");
    }

    async fn clearing_another_default_and_making_a_partner_are_recorded_as_their_consequences(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let beta = app.organisation(&app.live, "Beta").await;
        let first = app.member(&app.live, &acme, "a@example.com", "STANDARD").await;
        let second = app.member(&app.live, &beta, "a@example.com", "STANDARD").await;
        assert_eq!(app.patch(&format!("/v1/memberships/{first}"), &app.live, json!({"is_default": true})).await.status, StatusCode::OK);
        let request = app.patch(&format!("/v1/memberships/{second}"), &app.live, json!({"is_default": true})).await;
        assert_eq!(request.status, StatusCode::OK);
        let cleared = newest(&app, &first).await;
        assert_eq!((cleared["type"].as_str(), cleared["previous_attributes"].clone()), (Some("membership.updated"), json!({"is_default": true})));
        assert_eq!(cleared["data"]["object"]["is_default"], false);
        assert_eq!(cleared["request_id"], newest(&app, &second).await["request_id"], "one request");
        let as_of = app.get(&format!("/v1/memberships/{first}?as_of={}", request.body["updated_at"].as_str().unwrap().replace(':', "%3A")), &app.live).await;
        assert_eq!(as_of.body["is_default"], false);

        let created = app.post("/v1/partners", crate::support::MASTER_KEY, json!({"name": "New"})).await;
        let key = created.body["admin_keys"].as_array().unwrap().iter().find(|key| key["mode"] == "live").unwrap()["secret"].as_str().unwrap().to_owned();
        let events = app.get("/v1/events", &key).await;
        let types: Vec<&str> = events.body["results"].as_array().unwrap().iter().map(|event| event["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["api_key.created", "partner_group.created"], "the live key and the admin group, made by the master key");
        assert_eq!(events.body["results"][0]["actor"], json!({"type": "master", "id": null, "key_prefix": null}));
        assert!(!events.body.to_string().contains(&key), "no secret in an event");
    }

    async fn deleting_a_role_or_a_group_records_what_went_with_it(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let billing = app.post("/v1/roles", &app.live, json!({"organisation_id": acme, "name": "Billing", "permissions": []})).await.id();
        let support = app.post("/v1/roles", &app.live, json!({"organisation_id": acme, "name": "Support", "permissions": []})).await.id();
        let id = app.member(&app.live, &acme, "a@example.com", "STANDARD").await;
        app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"role_ids": [billing, support]})).await;
        assert_eq!(app.delete(&format!("/v1/roles/{billing}"), &app.live).await.status, StatusCode::NO_CONTENT);
        let changed = newest(&app, &id).await;
        assert_eq!((changed["type"].as_str(), changed["previous_attributes"].clone()), (Some("membership.updated"), json!({"role_ids": [billing, support]})));
        assert_eq!(changed["data"]["object"]["role_ids"], json!([support]));
        let deleted = app.get("/v1/events?type=role.deleted", &app.live).await;
        assert_eq!(deleted.body["results"][0]["request_id"], changed["request_id"]);

        let group = app.post("/v1/partner-groups", &app.live, json!({"name": "Support", "organisation_ids": [acme]})).await.id();
        let kept = app.post("/v1/api-keys", &app.live, json!({"name": "k", "partner_group_id": group, "abilities": ["*"]})).await.id();
        let revoked = app.post("/v1/api-keys", &app.live, json!({"name": "r", "partner_group_id": group, "abilities": ["*"]})).await.id();
        assert_eq!(app.delete(&format!("/v1/api-keys/{revoked}"), &app.live).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.delete(&format!("/v1/partner-groups/{group}"), &app.live).await.status, StatusCode::NO_CONTENT);
        let newest_events = app.get("/v1/events?limit=2", &app.live).await;
        let types: Vec<&str> = newest_events.body["results"].as_array().unwrap().iter().map(|event| event["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["partner_group.deleted", "api_key.revoked"]);
        assert_eq!(newest_events.body["results"][1]["data"]["object"]["id"], kept.as_str(), "the key revoked before is not revoked again");
    }

    async fn deleting_an_organisation_records_every_membership_role_key_and_group_it_takes(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let other = app.organisation(&app.live, "Other").await;
        let kept = app.member(&app.live, &other, "kept@example.com", "ADMIN").await;
        // More members than the delete takes at a time.
        let members = many_members(&app, &acme, 1_001).await;
        let sample = app.get(&format!("/v1/memberships/{}", members[500]), &app.live).await.body;
        let role = app.post("/v1/roles", &app.live, json!({"organisation_id": acme, "name": "Billing", "permissions": []})).await.id();
        let key = app.key(&app.live, json!({"name": "acme", "organisation_id": acme, "abilities": ["*"]})).await;
        let key_id = app.get("/v1/api-keys?limit=1", &app.live).await.body["results"][0]["id"].as_str().unwrap().to_owned();
        let group = app.post("/v1/partner-groups", &app.live, json!({"name": "Support", "organisation_ids": [acme, other]})).await;
        assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);

        let bearer = format!("Bearer {}", app.live);
        let deleted = app.send(Method::DELETE, &format!("/v1/organisations/{acme}"), &[("authorization", bearer.as_str()), ("x-request-id", "req-delete-acme")], None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);

        let mut events = Vec::new();
        let mut path = "/v1/events?limit=100".to_owned();
        loop {
            let page = app.get(&path, &app.live).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let results = page.body["results"].as_array().unwrap();
            let before = events.len();
            events.extend(results.iter().take_while(|event| event["request_id"] == "req-delete-acme").cloned());
            match page.body["next_cursor"].as_str() {
                Some(cursor) if events.len() == before + results.len() => path = format!("/v1/events?limit=100&cursor={cursor}"),
                _ => break,
            }
        }
        // Newest first: the organisation, then what went with it, then its memberships.
        let types: Vec<&str> = events.iter().map(|event| event["type"].as_str().unwrap()).collect();
        assert_eq!(types[..4], ["organisation.deleted", "partner_group.updated", "api_key.revoked", "role.deleted"]);
        assert_eq!(types.len(), 4 + 1_001);
        assert!(types[4..].iter().all(|kind| *kind == "membership.deleted"));
        let mut deleted_ids: Vec<&str> = events[4..].iter().map(|event| event["data"]["object"]["id"].as_str().unwrap()).collect();
        deleted_ids.sort_unstable();
        let mut member_ids: Vec<&str> = members.iter().map(String::as_str).collect();
        member_ids.sort_unstable();
        assert_eq!(deleted_ids, member_ids, "one event for each membership");
        let sample_event = events.iter().find(|event| event["data"]["object"]["id"] == sample["id"]).unwrap();
        assert_eq!(sample_event["data"]["object"], sample, "the membership as it was, in the native shape");
        assert_eq!(sample_event["previous_attributes"], Value::Null);
        let sequences: Vec<i64> = events.iter().map(|event| event["sequence"].as_i64().unwrap()).collect();
        assert!(sequences.windows(2).all(|pair| pair[0] > pair[1]), "each its own sequence, in order");
        assert_eq!((events[1]["data"]["object"]["organisation_ids"].clone(), events[1]["previous_attributes"]["organisation_ids"].clone()), (json!([other]), json!([acme, other])));
        assert_eq!((events[2]["data"]["object"]["id"].as_str(), events[3]["data"]["object"]["id"].as_str()), (Some(key_id.as_str()), Some(role.as_str())));

        // The history outlives the membership, the counts are right, the other organisation kept.
        assert_eq!(newest(&app, &members[0]).await["type"], "membership.deleted");
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 1);
        assert_eq!(app.get(&format!("/v1/memberships/{kept}"), &app.live).await.status, StatusCode::OK);
        assert_eq!(app.get("/v1/organisations", &key).await.status, StatusCode::UNAUTHORIZED, "its key went with it");
    }

    /// Writes of the same partner racing the delete (members added elsewhere, a group it
    /// belongs to renamed, shared users' memberships made default elsewhere, which clears the
    /// default on theirs being deleted) all succeed, the delete too, and every member it
    /// removed has its event.
    async fn an_organisation_delete_racing_other_writes_of_its_partner_loses_nothing(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let other = app.organisation(&app.live, "Other").await;
        let members = many_members(&app, &acme, 1_200).await;
        let mut elsewhere = vec![app.member(&app.live, &other, "owner@example.com", "ADMIN").await];
        for n in 0..20 {
            elsewhere.push(app.member(&app.live, &other, &format!("m{n}@example.com"), "STANDARD").await);
        }
        let group = app.post("/v1/partner-groups", &app.live, json!({"name": "Both", "organisation_ids": [acme, other]})).await.id();

        let acme_path = format!("/v1/organisations/{acme}");
        let delete = app.delete(&acme_path, &app.live);
        let racing = futures::future::join_all((0..60).map(|n| {
            let (app, other, group, elsewhere) = (&app, &other, &group, &elsewhere);
            async move {
                match n % 3 {
                    0 => app.post("/v1/memberships", &app.live, crate::support::membership_body(other, &format!("new{n}@example.com"), "STANDARD")).await.status,
                    1 => app.patch(&format!("/v1/partner-groups/{group}"), &app.live, json!({"name": format!("Both {n}")})).await.status,
                    _ => app.patch(&format!("/v1/memberships/{}", elsewhere[1 + n % 20]), &app.live, json!({"is_default": true})).await.status,
                }
            }
        }));
        let (deleted, raced) = futures::join!(delete, racing);
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
        assert!(raced.iter().all(|status| status.is_success()), "{raced:?}");

        let mut removed = Vec::new();
        let mut path = "/v1/events?type=membership.deleted&limit=100".to_owned();
        loop {
            let page = app.get(&path, &app.live).await;
            removed.extend(page.body["results"].as_array().unwrap().iter().map(|event| event["data"]["object"]["id"].as_str().unwrap().to_owned()));
            match page.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/events?type=membership.deleted&limit=100&cursor={cursor}"),
                None => break,
            }
        }
        removed.sort_unstable();
        let mut expected = members.clone();
        expected.sort_unstable();
        assert_eq!(removed, expected);
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 21 + 20);
    }

    async fn racing_writes_get_distinct_increasing_sequences(app) {
        let acme = app.organisation(&app.live, "Acme").await;
        let id = app.member(&app.live, &acme, "a@example.com", "STANDARD").await;
        let writes = futures::future::join_all((0..20).map(|n| {
            let app = &app;
            let id = &id;
            async move { app.patch(&format!("/v1/memberships/{id}"), &app.live, json!({"reference": format!("r{n}")})).await.status }
        }))
        .await;
        assert!(writes.iter().all(|status| *status == StatusCode::OK), "{writes:?}");
        let all = versions(&app, &id, &app.live).await;
        let mut sequences: Vec<i64> = all.body["results"].as_array().unwrap().iter().map(|event| event["sequence"].as_i64().unwrap()).collect();
        assert_eq!(sequences.len(), 21);
        assert!(sequences.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {sequences:?}");
        sequences.dedup();
        assert_eq!(sequences.len(), 21);
        // Each update's previous value is the value the one committed before it wrote.
        let results = all.body["results"].as_array().unwrap();
        for pair in results.windows(2) {
            assert_eq!(pair[0]["previous_attributes"]["reference"], pair[1]["data"]["object"]["reference"]);
        }
    }
}
