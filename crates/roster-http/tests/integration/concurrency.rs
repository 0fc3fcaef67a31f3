//! Spec §6 rules 3–4: the database decides races, so concurrent requests never break the rules.

use futures::future::join_all;
use reqwest::StatusCode;

use crate::support::membership_body;

on_both_backends! {
    /// Repeated on fresh organisations, so the two deletes really overlap at least once.
    async fn of_simultaneous_deletes_of_the_last_two_admins_exactly_one_succeeds(app) {
        for round in 0..5 {
            let org = app.organisation(&app.live, &format!("Acme {round}")).await;
            let first = app.member(&app.live, &org, "one@example.com", "ADMIN").await;
            let second = app.member(&app.live, &org, "two@example.com", "ADMIN").await;
            app.member(&app.live, &org, "std@example.com", "STANDARD").await;
            let paths = [format!("/v1/memberships/{first}"), format!("/v1/memberships/{second}")];
            let replies = join_all(paths.iter().map(|path| app.delete(path, &app.live))).await;
            let deleted = replies.iter().filter(|r| r.status == StatusCode::NO_CONTENT).count();
            let refused = replies.iter().filter(|r| r.code() == "MEMBERSHIP_DELETION_FORBIDDEN").count();
            assert_eq!((deleted, refused), (1, 1));
            let admins = app.get(&format!("/v1/memberships?organisation_id={org}&role=ADMIN"), &app.live).await;
            assert_eq!(admins.body["count"], 1);
        }
    }

    async fn of_twenty_identical_creates_exactly_one_succeeds(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let body = membership_body(&org, "race@example.com", "ADMIN");
        let replies =
            join_all((0..20).map(|_| app.post("/v1/memberships", &app.live, body.clone()))).await;
        let created = replies
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        let refused = replies
            .iter()
            .filter(|r| r.code() == "MEMBERSHIP_ALREADY_EXISTS")
            .count();
        assert_eq!((created, refused), (1, 19));
        assert_eq!(app.get("/v1/memberships", &app.live).await.body["count"], 1);
        assert_eq!(app.get("/v1/users", &app.live).await.body["count"], 1);
    }

    async fn of_simultaneous_demotions_of_the_last_two_admins_exactly_one_succeeds(app) {
        let org = app.organisation(&app.live, "Acme").await;
        let first = app
            .member(&app.live, &org, "one@example.com", "ADMIN")
            .await;
        let second = app
            .member(&app.live, &org, "two@example.com", "ADMIN")
            .await;
        app.member(&app.live, &org, "std@example.com", "STANDARD")
            .await;
        let body = serde_json::json!({"role": "STANDARD"});
        let paths = [
            format!("/v1/memberships/{first}"),
            format!("/v1/memberships/{second}"),
        ];
        let replies = join_all(
            paths
                .iter()
                .map(|path| app.patch(path, &app.live, body.clone())),
        )
        .await;
        let succeeded = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        let refused = replies
            .iter()
            .filter(|r| r.code() == "MEMBERSHIP_UPDATE_FORBIDDEN")
            .count();
        assert_eq!((succeeded, refused), (1, 1));
    }
}
