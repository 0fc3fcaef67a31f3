//! The seeder fills an empty database with the promised mix, readable by the real store.

use std::process::Command;

use roster_core::{
    page::ListQuery,
    policy::{OrgScope, Scope},
    store::MembershipFilter,
};

#[tokio::test]
async fn it_fills_an_empty_database_with_the_promised_mix_and_refuses_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_roster-bench-seed"))
            .args(["--database-url", &url, "--organisations", "3", "--members-per-organisation", "700"])
            .output()
            .unwrap()
    };
    let output = run();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["memberships"], 2100);
    assert!(report["admin_key"].as_str().unwrap().starts_with("sk_live_"));

    let store = roster_store::open(&url).await.unwrap();
    let partner = store.list_partners(&ListQuery::default()).await.unwrap().items[0].id.clone();
    let scope = Scope::for_tests(partner, roster_core::model::Mode::Live, OrgScope::All);
    let count = |filter: MembershipFilter| {
        let (store, scope) = (store.clone(), scope.clone());
        async move { store.list_memberships(&scope, &filter, &ListQuery::default()).await.unwrap().count }
    };
    assert_eq!(count(MembershipFilter::default()).await, 2100);
    let admins = MembershipFilter {
        roles: Some(vec![roster_core::model::MembershipRole::Admin]),
        ..MembershipFilter::default()
    };
    assert_eq!(count(admins).await, 3);
    let pending = MembershipFilter {
        statuses: Some(vec![roster_core::model::MembershipStatus::Pending]),
        ..MembershipFilter::default()
    };
    assert_eq!(count(pending).await, 210);
    let sample = report["sample"]["membership_id"].as_str().unwrap();
    let membership = store.get_membership(&scope, sample).await.unwrap();
    assert_eq!(membership.organisation_id, report["sample"]["organisation_id"].as_str().unwrap());

    let again = run();
    assert!(!again.status.success(), "a full database is refused");
}
