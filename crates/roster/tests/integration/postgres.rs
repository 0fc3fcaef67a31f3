//! Several `roster` nodes on one PostgreSQL database: the database decides races between them,
//! a node killed with SIGKILL loses nothing it acknowledged, and an unreachable database is a
//! fast 503 from which the service recovers by itself.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use roster_core::{page::ListQuery, provision::provision_partner, time::Timestamp};
use roster_store::testing::{TestSchema, postgres_url};
use serde_json::{Value, json};

use crate::{
    lifecycle::acknowledged_writes_survive_kill_9,
    support::{MASTER_KEY, Proxy, Server, post, postgres_authority},
};

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates a partner through `base` and returns its live admin key.
async fn partner_key(client: &reqwest::Client, base: &str) -> String {
    let (status, body) =
        json_of(post(client, format!("{base}/v1/partners"), MASTER_KEY, json!({"name": "Acme"})).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["admin_keys"][0]["secret"].as_str().unwrap().to_owned()
}

async fn create(client: &reqwest::Client, base: &str, key: &str, path: &str, body: Value) -> String {
    let (status, body) = json_of(post(client, format!("{base}{path}"), key, body).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn member(org: &str, email: &str, role: &str, owner: bool) -> Value {
    json!({"organisation_id": org, "first_name": "A", "last_name": "B", "email": email, "role": role, "is_owner": owner})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_keep_uniqueness_and_the_last_admin_and_owner_rules() {
    let Some(base) = postgres_url() else { return };
    let schema = TestSchema::create(&base).await;
    let nodes = [Server::start(&schema.url, Some(MASTER_KEY)), Server::start(&schema.url, Some(MASTER_KEY))];
    let bases = [nodes[0].base.clone(), nodes[1].base.clone()];
    let client = reqwest::Client::new();
    let key = partner_key(&client, &bases[0]).await;

    for round in 0..4 {
        let org = create(&client, &bases[1], &key, "/v1/organisations", json!({"name": format!("Org {round}")})).await;

        // Rule 4: of 20 identical creates spread over both nodes, exactly one succeeds.
        let body = member(&org, "race@example.com", "STANDARD", false);
        let creates =
            join_all((0..20).map(|n| post(&client, format!("{}/v1/memberships", bases[n % 2]), &key, body.clone())))
                .await;
        let mut statuses = Vec::new();
        for response in creates {
            let (status, body) = json_of(response.unwrap()).await;
            assert!(status == StatusCode::CREATED || body["code"] == "MEMBERSHIP_ALREADY_EXISTS", "{status} {body}");
            statuses.push(status);
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1);

        // Rule 1: of simultaneous deletes of the last two admins, through different nodes, one wins.
        let first =
            create(&client, &bases[0], &key, "/v1/memberships", member(&org, "one@example.com", "ADMIN", false)).await;
        let second =
            create(&client, &bases[1], &key, "/v1/memberships", member(&org, "two@example.com", "ADMIN", false)).await;
        let deletes = join_all(
            [&first, &second]
                .iter()
                .enumerate()
                .map(|(n, id)| client.delete(format!("{}/v1/memberships/{id}", bases[n])).bearer_auth(&key).send()),
        )
        .await;
        let statuses: Vec<_> = deletes.into_iter().map(|r| r.unwrap().status()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::NO_CONTENT).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count(), 1, "{statuses:?}");

        // Rule 2: of simultaneous "no longer owner" changes to the last two owners, one wins.
        let owners = [
            create(&client, &bases[0], &key, "/v1/memberships", member(&org, "o1@example.com", "ADMIN", true)).await,
            create(&client, &bases[1], &key, "/v1/memberships", member(&org, "o2@example.com", "ADMIN", true)).await,
        ];
        let patches = join_all(owners.iter().enumerate().map(|(n, id)| {
            client
                .patch(format!("{}/v1/memberships/{id}", bases[n]))
                .bearer_auth(&key)
                .json(&json!({"is_owner": false}))
                .send()
        }))
        .await;
        let mut results = Vec::new();
        for response in patches {
            let (status, body) = json_of(response.unwrap()).await;
            results.push((status, body["code"].as_str().map(str::to_owned)));
        }
        assert_eq!(results.iter().filter(|(s, _)| *s == StatusCode::OK).count(), 1, "{results:?}");
        assert!(results.iter().any(|(_, code)| code.as_deref() == Some("MEMBERSHIP_UPDATE_FORBIDDEN")), "{results:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9_of_a_node() {
    let Some(base) = postgres_url() else { return };
    let schema = TestSchema::create(&base).await;
    acknowledged_writes_survive_kill_9(&schema.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_the_database_is_down_requests_fail_fast_with_503_and_then_recover() {
    let Some(base) = postgres_url() else { return };
    let schema = TestSchema::create(&base).await;
    let authority = postgres_authority(&schema.url);
    let proxy = Proxy::start(authority.clone()).await;
    let url = schema.url.replacen(&authority, &format!("127.0.0.1:{}", proxy.port), 1);
    let server = Server::start_with(&url, Some(MASTER_KEY), &["--database-timeout", "2"]);
    // A hang would outlast this; the service must answer well before it.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let key = partner_key(&client, &server.base).await;
    let org = create(&client, &server.base, &key, "/v1/organisations", json!({"name": "Acme"})).await;
    let member_id =
        create(&client, &server.base, &key, "/v1/memberships", member(&org, "ada@example.com", "ADMIN", false)).await;
    let membership = format!("{}/v1/memberships/{member_id}", server.base);

    proxy.down();
    let ready = client.get(format!("{}/readyz", server.base)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (status, body) = json_of(client.get(&membership).bearer_auth(&key).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("SERVICE_UNAVAILABLE")));
    let write = post(
        &client,
        format!("{}/v1/memberships", server.base),
        &key,
        member(&org, "bob@example.com", "STANDARD", false),
    )
    .await;
    assert_eq!(write.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the process itself stays up");

    proxy.up();
    let started = Instant::now();
    loop {
        let ready = client.get(format!("{}/readyz", server.base)).send().await.unwrap();
        if ready.status() == StatusCode::OK {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(client.get(&membership).bearer_auth(&key).send().await.unwrap().status(), StatusCode::OK);
    create(&client, &server.base, &key, "/v1/memberships", member(&org, "bob@example.com", "STANDARD", false)).await;
}

#[test]
fn migrate_on_postgres_is_idempotent() {
    let Some(base) = postgres_url() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&base));
    for _ in 0..2 {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["migrate", "--database-url", &schema.url])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    drop(schema);
}

fn copy_data(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_roster")).arg("copy-data").args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_data_moves_a_populated_database_from_sqlite_to_postgres_and_back_intact() {
    let Some(base) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = crate::support::sqlite_url(&dir.path().join("roster.db"));
    let client = reqwest::Client::new();
    let collections =
        ["/v1/organisations", "/v1/partner-groups", "/v1/users", "/v1/api-keys", "/v1/memberships?limit=1000"];

    // A populated SQLite database: every kind of row, optional fields set, a revoked key.
    let (key, group_key, revoked_key, before) = {
        let server = Server::start(&sqlite, Some(MASTER_KEY));
        let key = partner_key(&client, &server.base).await;
        let org = create(
            &client,
            &server.base,
            &key,
            "/v1/organisations",
            json!({"name": "Acme", "settings": {"abuse_contact_email": "abuse@acme.test"}}),
        )
        .await;
        let other = create(&client, &server.base, &key, "/v1/organisations", json!({"name": "Globex"})).await;
        let group = create(
            &client,
            &server.base,
            &key,
            "/v1/partner-groups",
            json!({"name": "Support", "organisation_ids": [org]}),
        )
        .await;
        let (_, group_key) = json_of(
            post(
                &client,
                format!("{}/v1/api-keys", server.base),
                &key,
                json!({"name": "g", "partner_group_id": group, "abilities": ["*"]}),
            )
            .await
            .unwrap(),
        )
        .await;
        let (_, revoked) = json_of(
            post(
                &client,
                format!("{}/v1/api-keys", server.base),
                &key,
                json!({"name": "old", "organisation_id": other, "abilities": ["*"]}),
            )
            .await
            .unwrap(),
        )
        .await;
        client
            .delete(format!("{}/v1/api-keys/{}", server.base, revoked["id"].as_str().unwrap()))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        for n in 0..30 {
            let mut body = member(
                if n % 3 == 0 { &other } else { &org },
                &format!("m{n}@example.com"),
                if n < 2 { "ADMIN" } else { "STANDARD" },
                n == 0,
            );
            body["metadata"] = json!({"n": n.to_string()});
            body["permissions"] = json!(["customers:read"]);
            body["allowed_ips"] = json!(["10.0.0.0/8"]);
            if n % 5 == 0 {
                body["status"] = json!("pending");
            }
            create(&client, &server.base, &key, "/v1/memberships", body).await;
        }
        let mut before = Vec::new();
        for path in collections {
            before.push(
                json_of(client.get(format!("{}{path}", server.base)).bearer_auth(&key).send().await.unwrap()).await.1,
            );
        }
        assert!(server.terminate().success());
        (key, group_key["secret"].as_str().unwrap().to_owned(), revoked["secret"].as_str().unwrap().to_owned(), before)
    };

    let schema = TestSchema::create(&base).await;
    let copied = copy_data(&["--from", &sqlite, "--to", &schema.url]);
    let report = String::from_utf8_lossy(&copied.stderr);
    assert!(copied.status.success(), "{report}");
    assert!(report.contains("memberships: 30 in the source, 30 copied, 30 in the target"), "{report}");

    let again = copy_data(&["--from", &sqlite, "--to", &schema.url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--allow-non-empty"));
    let merged = copy_data(&["--from", &sqlite, "--to", &schema.url, "--allow-non-empty"]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    let missing = copy_data(&["--from", "sqlite:///nowhere/roster.db", "--to", &schema.url]);
    assert!(!missing.status.success());

    // The same API answers the same on PostgreSQL, keys included.
    let server = Server::start(&schema.url, Some(MASTER_KEY));
    for (path, expected) in collections.iter().zip(&before) {
        let (status, body) =
            json_of(client.get(format!("{}{path}", server.base)).bearer_auth(&key).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body, expected, "{path}");
    }
    let scoped = client.get(format!("{}/v1/memberships", server.base)).bearer_auth(&group_key).send().await.unwrap();
    assert_eq!(json_of(scoped).await.1["count"], 20);
    let revoked =
        client.get(format!("{}/v1/organisations", server.base)).bearer_auth(&revoked_key).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    // Using the group key records its last use (in the background); wait for it, so the way
    // back is compared with what PostgreSQL really holds.
    let mut on_postgres = Vec::new();
    for _ in 0..100 {
        on_postgres.clear();
        for path in collections {
            let url = format!("{}{path}", server.base);
            on_postgres.push(json_of(client.get(url).bearer_auth(&key).send().await.unwrap()).await.1);
        }
        let keys = on_postgres[3]["results"].as_array().unwrap();
        if keys.iter().filter(|k| k["name"] == "g").all(|k| !k["last_used_at"].is_null()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server);

    // And back: PostgreSQL into a fresh SQLite file gives the same answers again.
    let back = crate::support::sqlite_url(&dir.path().join("back.db"));
    let returned = copy_data(&["--from", &schema.url, "--to", &back]);
    assert!(returned.status.success(), "{}", String::from_utf8_lossy(&returned.stderr));
    let server = Server::start(&back, Some(MASTER_KEY));
    for (path, expected) in collections.iter().zip(&on_postgres) {
        let (_, body) =
            json_of(client.get(format!("{}{path}", server.base)).bearer_auth(&key).send().await.unwrap()).await;
        assert_eq!(&body, expected, "{path} after the round trip");
    }
}

#[tokio::test]
async fn copy_data_names_a_row_postgresql_cannot_hold_and_writes_nothing() {
    let Some(base) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = crate::support::sqlite_url(&dir.path().join("roster.db"));
    // An older Roster let SQLite store a NUL; the store itself still can.
    let dirty = provision_partner("Bad\u{0}name".to_owned(), Timestamp::now());
    {
        let source = roster_store::open(&sqlite).await.unwrap();
        roster_store::testing::insert_partner(
            source.as_ref(),
            &provision_partner("Clean".to_owned(), Timestamp::now()),
        )
        .await;
        roster_store::testing::insert_partner(source.as_ref(), &dirty).await;
    }
    let schema = TestSchema::create(&base).await;
    let refused = copy_data(&["--from", &sqlite, "--to", &schema.url]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&format!("partners row {} holds a NUL character in name", dirty.partner.id)), "{stderr}");
    let target = roster_store::open(&schema.url).await.unwrap();
    assert_eq!(target.list_partners(&ListQuery::default()).await.unwrap().count, 0, "something was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_create_one_user_per_email() {
    let Some(base) = postgres_url() else { return };
    let schema = TestSchema::create(&base).await;
    let nodes = [Server::start(&schema.url, Some(MASTER_KEY)), Server::start(&schema.url, Some(MASTER_KEY))];
    let client = reqwest::Client::new();
    let key = partner_key(&client, &nodes[0].base).await;
    let body = json!({"email": "Same@Example.com", "first_name": "S", "last_name": "E"});
    let creates =
        join_all((0..20).map(|n| post(&client, format!("{}/v1/users", nodes[n % 2].base), &key, body.clone()))).await;
    let mut created = 0;
    for response in creates {
        let (status, body) = json_of(response.unwrap()).await;
        match status {
            StatusCode::CREATED => created += 1,
            _ => assert_eq!(body["code"], "USER_ALREADY_EXISTS", "{status} {body}"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_revoked_through_one_node_is_refused_there_at_once_and_by_the_other_within_its_cache_ttl() {
    let Some(base) = postgres_url() else { return };
    let schema = TestSchema::create(&base).await;
    let ttl = ["--credential-cache-ttl", "300"];
    let nodes = [
        Server::start_with(&schema.url, Some(MASTER_KEY), &ttl),
        Server::start_with(&schema.url, Some(MASTER_KEY), &ttl),
    ];
    let client = reqwest::Client::new();
    let admin = partner_key(&client, &nodes[0].base).await;
    let org = create(&client, &nodes[0].base, &admin, "/v1/organisations", json!({"name": "Acme"})).await;
    let (status, issued) = json_of(
        post(
            &client,
            format!("{}/v1/api-keys", nodes[0].base),
            &admin,
            json!({"name": "ci", "organisation_id": org, "abilities": ["*"]}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let secret = issued["secret"].as_str().unwrap().to_owned();
    let use_key = |node: usize| {
        let request = client.get(format!("{}/v1/api-keys", nodes[node].base)).bearer_auth(&secret);
        async move { request.send().await.unwrap().status() }
    };
    // Both nodes now remember the key.
    assert_eq!((use_key(0).await, use_key(1).await), (StatusCode::OK, StatusCode::OK));

    let revoked = client
        .delete(format!("{}/v1/api-keys/{}", nodes[0].base, issued["id"].as_str().unwrap()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    assert_eq!(use_key(0).await, StatusCode::UNAUTHORIZED, "the node that revoked forgets at once");
    let deadline = Instant::now() + Duration::from_secs(10);
    while use_key(1).await != StatusCode::UNAUTHORIZED {
        assert!(Instant::now() < deadline, "the other node still accepts the revoked key");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
