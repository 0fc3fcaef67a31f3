//! Spec §3 and §5: a partner always keeps an admin group, also when two admin keys race to
//! remove each other's, and the master key is the operator's way back into a partner.

use reqwest::{Method, StatusCode};
use roster_core::{provision::provision_partner, time::Timestamp};
use serde_json::json;

use crate::support::{MASTER_KEY, TestApp};

const ROUNDS: usize = 8;

/// A partner's id and its live admin key.
async fn partner(app: &TestApp, name: &str) -> (String, String) {
    let reply = app.call(Method::POST, "/v1/partners", Some(MASTER_KEY), Some(json!({"name": name}))).await;
    let live =
        reply.body["admin_keys"].as_array().unwrap().iter().find(|k| k["mode"] == "live").unwrap()["secret"].clone();
    (reply.id(), live.as_str().unwrap().to_owned())
}

/// A second admin group of the partner `key` manages, and a key of it.
async fn second_admin_group(app: &TestApp, key: &str) -> (String, String) {
    let group = app.post("/v1/partner-groups", key, json!({"name": "Second", "is_admin": true})).await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let secret = app.key(key, json!({"name": "second", "partner_group_id": group.id(), "abilities": ["*"]})).await;
    (group.id(), secret)
}

async fn first_group(app: &TestApp, key: &str) -> String {
    let groups = app.get("/v1/partner-groups", key).await;
    groups.body["results"].as_array().unwrap().iter().find(|g| g["name"] == "Admins").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The partner's admin groups, read with a fresh admin key from the master.
async fn admin_groups(app: &TestApp, partner_id: &str) -> usize {
    let key = app.post(&format!("/v1/partners/{partner_id}/admin-keys"), MASTER_KEY, json!({"mode": "live"})).await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let groups = app.get("/v1/partner-groups", key.body["secret"].as_str().unwrap()).await;
    groups.body["results"].as_array().unwrap().iter().filter(|g| g["is_admin"] == true).count()
}

on_both_backends! {
    async fn two_admin_groups_cannot_delete_each_other_at_once(app) {
        for round in 0..ROUNDS {
            let (partner_id, first_key) = partner(&app, &format!("P{round}")).await;
            let first = first_group(&app, &first_key).await;
            let (second, second_key) = second_admin_group(&app, &first_key).await;
            let (to_second, to_first) = (format!("/v1/partner-groups/{second}"), format!("/v1/partner-groups/{first}"));
            let (a, b) = tokio::join!(app.delete(&to_second, &first_key), app.delete(&to_first, &second_key));
            let deleted = [&a, &b].iter().filter(|reply| reply.status == StatusCode::NO_CONTENT).count();
            for reply in [&a, &b] {
                assert!(
                    [StatusCode::NO_CONTENT, StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED].contains(&reply.status),
                    "{} {}", reply.status, reply.body
                );
                if reply.status == StatusCode::BAD_REQUEST {
                    assert_eq!(reply.code(), "INVALID_REQUEST");
                }
            }
            assert!(deleted <= 1, "round {round}: both admin groups were deleted");
            assert_eq!(admin_groups(&app, &partner_id).await, 1, "round {round}");
        }
    }

    async fn two_admin_groups_cannot_demote_each_other_at_once(app) {
        for round in 0..ROUNDS {
            let (partner_id, first_key) = partner(&app, &format!("P{round}")).await;
            let first = first_group(&app, &first_key).await;
            let (second, second_key) = second_admin_group(&app, &first_key).await;
            let demote = json!({"is_admin": false});
            let (to_second, to_first) = (format!("/v1/partner-groups/{second}"), format!("/v1/partner-groups/{first}"));
            let (a, b) = tokio::join!(
                app.patch(&to_second, &first_key, demote.clone()),
                app.patch(&to_first, &second_key, demote.clone()),
            );
            let demoted = [&a, &b].iter().filter(|reply| reply.status == StatusCode::OK).count();
            assert_eq!(demoted, 1, "round {round}: {} {} / {} {}", a.status, a.body, b.status, b.body);
            let refused = if a.status == StatusCode::OK { &b } else { &a };
            assert!(
                [(StatusCode::BAD_REQUEST, "INVALID_REQUEST"), (StatusCode::FORBIDDEN, "FORBIDDEN")].contains(&(refused.status, refused.code())),
                "{} {}", refused.status, refused.body
            );
            assert_eq!(admin_groups(&app, &partner_id).await, 1, "round {round}");
        }
    }

    async fn the_master_key_issues_admin_keys_for_a_partner(app) {
        let (partner_id, first_key) = partner(&app, "P").await;
        let path = format!("/v1/partners/{partner_id}/admin-keys");
        let issued = app.post(&path, MASTER_KEY, json!({"mode": "test"})).await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
        let secret = issued.body["secret"].as_str().unwrap();
        assert!(secret.starts_with("sk_test_"));
        assert_eq!(issued.body["partner_group_id"].as_str(), Some(first_group(&app, &first_key).await.as_str()));
        assert_eq!(issued.body["abilities"], json!(["*"]));
        assert_eq!(app.get("/v1/organisations", secret).await.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/v1/api-keys/{}", issued.id()), &first_key).await.status, StatusCode::NOT_FOUND, "a test key is not in live mode");

        assert_eq!(app.post(&path, &first_key, json!({"mode": "live"})).await.status, StatusCode::UNAUTHORIZED);
        let missing = app.post("/v1/partners/ptn_01ARZ3NDEKTSV4RRFFQ69G5FAV/admin-keys", MASTER_KEY, json!({"mode": "live"})).await;
        assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
        let bad = app.post(&path, MASTER_KEY, json!({"mode": "prod", "extra": 1})).await;
        assert_eq!(bad.field_errors(), ["extra: VALIDATION_UNKNOWN_FIELD", "mode: VALIDATION_INVALID_CHOICE"]);
    }

    async fn the_master_key_recreates_the_admin_group_of_a_partner_that_lost_it(app) {
        // A partner whose only group is not an admin group, as one left without any would be.
        let mut provisioned = provision_partner("Locked out".to_owned(), Timestamp::now());
        provisioned.admin_group.is_admin = false;
        provisioned.admin_keys.clear();
        roster_store::testing::insert_partner(app.store.as_ref(), &provisioned).await;
        let partner_id = provisioned.partner.id;

        let issued = app.post(&format!("/v1/partners/{partner_id}/admin-keys"), MASTER_KEY, json!({"mode": "live"})).await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
        let secret = issued.body["secret"].as_str().unwrap();
        let groups = app.get("/v1/partner-groups", secret).await;
        let admin: Vec<_> = groups.body["results"].as_array().unwrap().iter().filter(|g| g["is_admin"] == true).collect();
        assert_eq!(admin.len(), 1, "{}", groups.body);
        assert_eq!(admin[0]["id"], issued.body["partner_group_id"]);
        assert_eq!(app.post("/v1/organisations", secret, json!({"name": "Back in"})).await.status, StatusCode::CREATED);
    }
}

/// Connections the server under test opens carry this name, so the test can see which of its
/// requests wait on a lock (other tests share the database).
async fn waiting_on_locks(observer: &tokio_postgres::Client, application: &str) -> i64 {
    let row = observer
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            &[&application],
        )
        .await
        .unwrap();
    row.get(0)
}

async fn until_waiting(observer: &tokio_postgres::Client, application: &str, count: i64) {
    for _ in 0..1000 {
        if waiting_on_locks(observer, application).await >= count {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("{count} requests never waited on a lock");
}

/// A group promoted while another key deletes it must be checked as the admin group it has
/// become: here the promotion commits between the delete's first look at the group and its
/// removal, and a third request deletes the partner's other admin group meanwhile. Two
/// sessions hold rows the writes need, so each stops exactly where the race is decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_promoted_while_it_is_deleted_is_counted_as_an_admin_group_on_postgres() {
    let Some(base) = roster_store::testing::postgres_url() else { return };
    let schema = roster_store::testing::TestSchema::create(&base).await;
    let application = format!("lockout_{}", std::process::id());
    let url = format!("{}&application_name={application}", schema.url);
    let app = TestApp::start_with(url, Box::new(schema), crate::support::test_config()).await;
    let connect = || async {
        let (client, connection) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    };
    let (assignments, keys, observer) = (connect().await, connect().await, connect().await);

    let (partner_id, admin_key) = partner(&app, "P").await;
    let first = first_group(&app, &admin_key).await;
    let org = app.organisation(&admin_key, "O").await;
    let promoted =
        app.post("/v1/partner-groups", &admin_key, json!({"name": "N", "organisation_ids": [org]})).await.id();
    let promoted_key =
        app.key(&admin_key, json!({"name": "n", "partner_group_id": promoted, "abilities": ["*"]})).await;
    let other_admin_key =
        app.key(&admin_key, json!({"name": "k2", "partner_group_id": first, "abilities": ["*"]})).await;

    assignments.batch_execute("BEGIN").await.unwrap();
    assignments
        .execute("SELECT 1 FROM group_organisations WHERE group_id = $1 FOR UPDATE", &[&promoted])
        .await
        .unwrap();
    keys.batch_execute("BEGIN").await.unwrap();
    keys.execute("SELECT 1 FROM api_keys WHERE group_id = $1 FOR UPDATE", &[&promoted]).await.unwrap();

    let promoted_path = format!("/v1/partner-groups/{promoted}");
    let promote = tokio::spawn({
        let (client, url, key) = (app.client.clone(), format!("{}{promoted_path}", app.base), admin_key.clone());
        async move {
            client
                .patch(url)
                .bearer_auth(key)
                .json(&json!({"is_admin": true, "organisation_ids": []}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    until_waiting(&observer, &application, 1).await;
    let delete_promoted = tokio::spawn({
        let (client, url, key) = (app.client.clone(), format!("{}{promoted_path}", app.base), other_admin_key.clone());
        async move { client.delete(url).bearer_auth(key).send().await.unwrap().status() }
    });
    until_waiting(&observer, &application, 2).await;
    assignments.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(promote.await.unwrap(), StatusCode::OK);
    until_waiting(&observer, &application, 1).await;
    let delete_first = tokio::spawn({
        let (client, url, key) =
            (app.client.clone(), format!("{}/v1/partner-groups/{first}", app.base), promoted_key.clone());
        async move { client.delete(url).bearer_auth(key).send().await.unwrap().status() }
    });
    // Either the second delete waits for the first (as it must), or it was let through.
    for _ in 0..200 {
        if delete_first.is_finished() || waiting_on_locks(&observer, &application).await >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    keys.batch_execute("ROLLBACK").await.unwrap();
    let answers = (delete_promoted.await.unwrap(), delete_first.await.unwrap());
    assert_ne!(answers, (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT), "both admin groups were deleted");
    assert_eq!(admin_groups(&app, &partner_id).await, 1);
}
