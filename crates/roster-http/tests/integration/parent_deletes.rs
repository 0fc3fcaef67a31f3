//! Spec §6: a child written while its parent is deleted answers as if the delete came first
//! (404, 422, or 401 for a key whose group is gone), never 5xx, and leaves no orphan.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, membership_body};

const ROUNDS: usize = 6;

/// The body of a child of the organisation whose id it is given.
type ChildBody = fn(&str) -> Value;

fn assert_clear(reply: &Reply, what: &str) {
    let expected = [
        StatusCode::OK,
        StatusCode::CREATED,
        StatusCode::NO_CONTENT,
        StatusCode::UNAUTHORIZED,
        StatusCode::NOT_FOUND,
        StatusCode::UNPROCESSABLE_ENTITY,
    ];
    assert!(expected.contains(&reply.status), "{what}: {} {}", reply.status, reply.body);
}

/// Races `child` (a POST or PATCH) against the delete at `parent`, asserting both answers are
/// clear; returns whether the child was written.
async fn race(app: &TestApp, child: (&str, &str, Value, bool), parent: &str, what: &str) -> bool {
    let (path, key, body, is_patch) = child;
    let write = async { if is_patch { app.patch(path, key, body).await } else { app.post(path, key, body).await } };
    let (written, deleted) = tokio::join!(write, app.delete(parent, &app.live));
    assert_clear(&written, what);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{what}: the delete {}", deleted.body);
    written.status.is_success()
}

on_both_backends! {
    async fn children_of_an_organisation_being_deleted_are_refused_or_go_with_it(app) {
        let group = app.post("/v1/partner-groups", &app.live, json!({"name": "G"})).await.id();
        for round in 0..ROUNDS {
            let cases: [(&str, ChildBody, bool); 5] = [
                ("/v1/roles", |org| json!({"organisation_id": org, "name": "R", "permissions": []}), false),
                ("/v1/api-keys", |org| json!({"name": "k", "organisation_id": org, "abilities": ["*"]}), false),
                ("/v1/partner-groups", |org| json!({"name": "g", "organisation_ids": [org]}), false),
                ("group", |org| json!({"organisation_ids": [org]}), true),
                ("/v1/memberships", |org| membership_body(org, "ada@example.com", "ADMIN"), false),
            ];
            for (path, body, is_patch) in cases {
                let org = app.organisation(&app.live, &format!("O{round}")).await;
                let path = if path == "group" { format!("/v1/partner-groups/{group}") } else { path.to_owned() };
                let what = format!("round {round}: {path}");
                race(&app, (&path, &app.live, body(&org), is_patch), &format!("/v1/organisations/{org}"), &what).await;
                // Whatever was written went with the organisation.
                let memberships = app.get(&format!("/v1/memberships?organisation_id={org}"), &app.live).await;
                assert_eq!(memberships.body["count"], 0, "{what}");
                let groups = app.get("/v1/partner-groups?limit=1000", &app.live).await;
                let holding = groups.body["results"].as_array().unwrap().iter().filter(|g| g["organisation_ids"].as_array().unwrap().contains(&json!(org))).count();
                assert_eq!(holding, 0, "{what}: a group still names the deleted organisation");
            }
        }
    }

    async fn children_of_a_group_being_deleted_are_refused_or_go_with_it(app) {
        let org = app.organisation(&app.live, "O").await;
        for round in 0..ROUNDS {
            let group = app.post("/v1/partner-groups", &app.live, json!({"name": "G", "organisation_ids": [org]})).await.id();
            let parent = format!("/v1/partner-groups/{group}");
            let what = format!("round {round}");
            race(&app, ("/v1/api-keys", &app.live, json!({"name": "k", "partner_group_id": group, "abilities": ["*"]}), false), &parent, &what).await;

            let group = app.post("/v1/partner-groups", &app.live, json!({"name": "G"})).await.id();
            let parent = format!("/v1/partner-groups/{group}");
            race(&app, (&parent, &app.live, json!({"organisation_ids": [org]}), true), &parent, &what).await;

            let group = app.post("/v1/partner-groups", &app.live, json!({"name": "G", "organisation_ids": [org]})).await.id();
            let group_key = app.key(&app.live, json!({"name": "g", "partner_group_id": group, "abilities": ["*"]})).await;
            let parent = format!("/v1/partner-groups/{group}");
            race(&app, ("/v1/organisations", &group_key, json!({"name": "Mine"}), false), &parent, &what).await;
        }
        let keys = app.get("/v1/api-keys?limit=1000", &app.live).await;
        let groups = app.get("/v1/partner-groups?limit=1000", &app.live).await;
        let group_ids: Vec<&Value> = groups.body["results"].as_array().unwrap().iter().map(|g| &g["id"]).collect();
        for key in keys.body["results"].as_array().unwrap() {
            assert!(key["partner_group_id"].is_null() || group_ids.contains(&&key["partner_group_id"]), "orphan key {key}");
        }
    }
}
