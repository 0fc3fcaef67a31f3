//! The storage conformance suite: every case runs on every backend, through the `Store` trait
//! only, so a behaviour that holds on one backend and not on another fails here.

use std::{future::Future, sync::Arc};

use roster_core::{
    Error, ids,
    model::{Actor, ActorKind, ApiKey, Event, Membership, Organisation, PartnerGroup, Role, User},
    model::{KeyHolder, KeyType, MembershipRole, MembershipSettings, MembershipStatus, Mode, OrganisationSettings},
    model::{WebhookDelivery, WebhookEndpoint, WebhookSecrets},
    page::{Cursor, ListQuery, Listed, Position, Sort, SortKey},
    policy::{Ability, OrgScope, Scope},
    provision::{KeySpec, issue_key, provision_partner},
    rules::OrgTally,
    store::{ConsoleSession, Inserted, Subscription, WebhookMessage, WebhookQueue},
    store::{EventFilter, MembershipAccess, MembershipFilter, NewOrganisation, NewRole, Store, UserHold},
    time::Timestamp,
};
use roster_store::testing;

async fn on_every_backend<F, Fut>(case: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in testing::backends().await {
        eprintln!("backend: {}", backend.name);
        case(backend.store.clone()).await;
    }
}

const NOW: Timestamp = Timestamp(1_700_000_000_000);

/// A partner with its admin group; returns the admin scope in live mode.
async fn partner(store: &dyn Store) -> Scope {
    let provisioned = provision_partner("Acme".into(), NOW);
    testing::insert_partner(store, &provisioned).await;
    Scope::for_tests(provisioned.partner.id, Mode::Live, OrgScope::All)
}

async fn organisation(store: &dyn Store, scope: &Scope, name: &str) -> String {
    let new = NewOrganisation {
        name: name.into(),
        settings: OrganisationSettings { enforce_twofactor: false, abuse_contact_email: None },
    };
    let organisation = Organisation {
        id: ids::new_id(ids::ORGANISATION, NOW),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        name: new.name,
        settings: new.settings,
        created_at: NOW,
        updated_at: NOW,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_organisation(&organisation).await.unwrap();
    let stored = tx.get_organisation(scope, &organisation.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored, organisation);
    stored.id
}

/// Stores a role through the transaction primitives.
async fn add_role(store: &dyn Store, scope: &Scope, new: NewRole) -> Role {
    let role = Role {
        id: ids::new_id(ids::ROLE, NOW),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        organisation_id: new.organisation_id,
        name: new.name,
        permissions: new.permissions,
        created_at: NOW,
        updated_at: NOW,
    };
    let mut tx = store.begin().await.unwrap();
    assert!(tx.hold_organisation(scope, &role.organisation_id).await.unwrap());
    assert!(!tx.role_name_taken(&role.organisation_id, &role.name, &role.id).await.unwrap());
    tx.insert_role(&role).await.unwrap();
    assert_eq!(tx.lock_role(scope, &role.id).await.unwrap(), role);
    tx.commit().await.unwrap();
    role
}

/// Stores a key through the transaction primitives.
async fn store_key(store: &dyn Store, key: &ApiKey, secret_hash: &str) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_key(key, secret_hash).await.unwrap();
    tx.commit().await.unwrap();
}

fn new_user(scope: &Scope, email: &str, at: Timestamp) -> User {
    User {
        id: ids::new_id(ids::USER, at),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        email: email.into(),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        is_staff: false,
        created_at: at,
        updated_at: at,
    }
}

fn new_membership(
    scope: &Scope,
    organisation_id: &str,
    user_id: &str,
    role: MembershipRole,
    at: Timestamp,
) -> Membership {
    Membership {
        id: ids::new_id(ids::MEMBERSHIP, at),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        organisation_id: organisation_id.into(),
        organisation_name: String::new(),
        user_id: user_id.into(),
        first_name: None,
        last_name: None,
        email: String::new(),
        settings: MembershipSettings::new(role),
        status: MembershipStatus::Accepted,
        created_at: at,
        updated_at: at,
    }
}

/// Adds a group of the partner with `organisation_ids`, through the transaction primitives.
async fn add_group(
    store: &dyn Store,
    scope: &Scope,
    is_admin: bool,
    organisation_ids: &[String],
    at: Timestamp,
) -> PartnerGroup {
    let group = PartnerGroup {
        id: ids::new_id(ids::GROUP, at),
        partner_id: scope.partner_id().to_owned(),
        name: "group".into(),
        is_admin,
        organisation_ids: Vec::new(),
        created_at: at,
        updated_at: at,
    };
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.missing_organisations(scope, organisation_ids).await.unwrap(), Vec::<usize>::new());
    tx.insert_group(&group).await.unwrap();
    tx.assign_group_organisations(&group.id, scope.mode(), organisation_ids).await.unwrap();
    let stored = tx.lock_group(scope, &group.id).await.unwrap();
    tx.commit().await.unwrap();
    stored
}

/// Adds an accepted membership for the user with `email` (stored first when missing), through
/// the transaction primitives, and returns it as read back.
async fn add_member(
    store: &dyn Store,
    scope: &Scope,
    organisation_id: &str,
    email: &str,
    role: MembershipRole,
    at: Timestamp,
) -> Membership {
    let mut tx = store.begin().await.unwrap();
    assert!(tx.hold_organisation_for_new_member(scope, organisation_id).await.unwrap());
    let new = new_user(scope, email, at);
    let user = match tx.insert_user_unless_email_taken(&new).await.unwrap() {
        Some(stored) => {
            assert_eq!(stored, new, "a new user answered as stored");
            stored
        }
        None => tx.user_by_email(scope, email, UserHold::Share).await.unwrap().unwrap(),
    };
    let membership = new_membership(scope, organisation_id, &user.id, role, at);
    let Inserted::Stored(stored) = tx.insert_membership(&membership).await.unwrap() else {
        panic!("the organisation had a membership of the user")
    };
    assert_eq!(stored, tx.get_membership(scope, &membership.id).await.unwrap(), "answered as a read answers it");
    tx.commit().await.unwrap();
    stored
}

#[tokio::test]
async fn partners_are_stored_and_listed_and_only_the_first_is_created_first() {
    on_every_backend(|store| async move {
        let mut tx = store.begin().await.unwrap();
        assert!(!tx.hold_partners().await.unwrap(), "none yet");
        tx.insert_partner(&provision_partner("default".into(), NOW)).await.unwrap();
        assert!(tx.hold_partners().await.unwrap());
        tx.commit().await.unwrap();
        let scope = partner(store.as_ref()).await;
        assert_eq!(store.get_partner(scope.partner_id()).await.unwrap().name, "Acme");
        assert_eq!(store.get_partner("ptn_missing").await, Err(Error::NotFound));
        let page = store.list_partners(&ListQuery::default()).await.unwrap();
        assert_eq!((page.count, page.items.len(), page.has_more), (2, 2, false));
        store.ping().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn reopening_a_database_keeps_its_data_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("again.db").display());
    let scope = partner(roster_store::open(&url).await.unwrap().as_ref()).await;
    let reopened = roster_store::open(&url).await.unwrap();
    assert_eq!(reopened.get_partner(scope.partner_id()).await.unwrap().name, "Acme");
}

#[tokio::test]
async fn keys_are_found_by_hash_revoked_and_touched() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let org = organisation(store.as_ref(), &scope, "A").await;
        let spec = KeySpec {
            name: "k".into(),
            key_type: KeyType::Secret,
            holder: KeyHolder::Organisation(org.clone()),
            abilities: vec![Ability::All],
            expires_at: None,
        };
        let issued = issue_key(scope.partner_id(), Mode::Live, spec, NOW);
        store_key(store.as_ref(), &issued.key, &issued.secret_hash).await;
        let found = store.find_api_key(&issued.secret_hash).await.unwrap().unwrap();
        assert_eq!((found.key.holder, found.group_is_admin), (KeyHolder::Organisation(org), false));
        assert_eq!(store.find_api_key("0".repeat(64).as_str()).await.unwrap(), None);
        store.touch_api_key(&issued.key.id, Timestamp(NOW.0 + 5)).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.get_api_key(&scope, &issued.key.id).await.unwrap().revoked_at, None);
        tx.revoke_api_key(&issued.key.id, Timestamp(NOW.0 + 9)).await.unwrap();
        tx.revoke_api_key(&issued.key.id, Timestamp(NOW.0 + 10)).await.unwrap();
        tx.commit().await.unwrap();
        let key = store.get_api_key(&scope, &issued.key.id).await.unwrap();
        assert_eq!((key.last_used_at, key.revoked_at), (Some(Timestamp(NOW.0 + 5)), Some(Timestamp(NOW.0 + 9))));
        let admin_group = store.list_groups(&scope, &ListQuery::default()).await.unwrap().items[0].id.clone();
        let spec = KeySpec {
            name: "a".into(),
            key_type: KeyType::Secret,
            holder: KeyHolder::Group(admin_group),
            abilities: vec![],
            expires_at: None,
        };
        let group_key = issue_key(scope.partner_id(), Mode::Live, spec, NOW);
        store_key(store.as_ref(), &group_key.key, &group_key.secret_hash).await;
        assert!(store.find_api_key(&group_key.secret_hash).await.unwrap().unwrap().group_is_admin);
    })
    .await;
}

#[tokio::test]
async fn scopes_limit_what_is_seen() {
    on_every_backend(|store| async move {
        let admin = partner(store.as_ref()).await;
        let a = organisation(store.as_ref(), &admin, "A").await;
        let b = organisation(store.as_ref(), &admin, "B").await;
        let group = add_group(store.as_ref(), &admin, false, std::slice::from_ref(&a), NOW).await;
        assert_eq!(group.organisation_ids, vec![a.clone()]);
        add_member(store.as_ref(), &admin, &a, "a@example.com", MembershipRole::Admin, NOW).await;
        let in_b = add_member(store.as_ref(), &admin, &b, "b@example.com", MembershipRole::Admin, NOW).await;

        let grouped = Scope::for_tests(admin.partner_id(), admin.mode(), OrgScope::Group(group.id.clone()));
        let page = store.list_memberships(&grouped, &MembershipFilter::default(), &ListQuery::default()).await.unwrap();
        assert_eq!(page.count, 1);
        assert_eq!(store.get_membership(&grouped, &in_b.id).await, Err(Error::NotFound));
        assert_eq!(store.list_users(&grouped, None, &ListQuery::default()).await.unwrap().count, 1);
        let single = Scope::for_tests(admin.partner_id(), admin.mode(), OrgScope::Organisation(b.clone()));
        assert_eq!(store.list_organisations(&single, &ListQuery::default()).await.unwrap().count, 1);
        assert_eq!(store.get_organisation(&single, &a).await, Err(Error::NotFound));
        let test_mode = Scope::for_tests(admin.partner_id(), Mode::Test, admin.orgs().clone());
        assert_eq!(store.get_membership(&test_mode, &in_b.id).await, Err(Error::NotFound));
        assert_eq!(store.list_organisations(&test_mode, &ListQuery::default()).await.unwrap().count, 0);

        // A membership found by organisation and user, only where the scope reaches.
        let found = store.find_membership(&admin, &b, &in_b.user_id).await.unwrap();
        assert_eq!(found, Some(MembershipAccess { membership: in_b.clone(), role_permissions: Vec::new() }));
        assert_eq!(store.find_membership(&grouped, &b, &in_b.user_id).await, Err(Error::NotFound));
        assert_eq!(store.find_membership(&test_mode, &b, &in_b.user_id).await, Err(Error::NotFound));
        assert_eq!(store.find_membership(&admin, "org_missing", &in_b.user_id).await, Err(Error::NotFound));
        assert_eq!(store.find_membership(&admin, &a, &in_b.user_id).await, Ok(None), "not a member of A");

        // ... with what its custom roles grant, read with it.
        let role =
            NewRole { organisation_id: b.clone(), name: "billing".into(), permissions: vec!["invoices:read".into()] };
        let role = add_role(store.as_ref(), &admin, role).await;
        let mut with_role = in_b.clone();
        with_role.settings.role_ids = vec![role.id];
        let mut tx = store.begin().await.unwrap();
        tx.update_membership(&with_role).await.unwrap();
        tx.commit().await.unwrap();
        let found = store.find_membership(&admin, &b, &in_b.user_id).await.unwrap().unwrap();
        assert_eq!(found.role_permissions, vec!["invoices:read".to_owned()]);
    })
    .await;
}

#[tokio::test]
async fn an_update_returns_the_membership_exactly_as_every_later_read_does() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let org = organisation(store.as_ref(), &scope, "A").await;
        let member = add_member(store.as_ref(), &scope, &org, "ada@example.com", MembershipRole::Admin, NOW).await;
        let mut changed = member.clone();
        // Keys in an order PostgreSQL's JSONB does not keep (it sorts by length, then bytes).
        // And floats whose shortest text must parse back to the same number (float_roundtrip).
        changed.settings.metadata = serde_json::from_str(
            r#"{"zeta": 1, "a": {"y": 2, "b": 3}, "mid": [1, "x"], "f": [1.2345678901234567e-30, 0.1, 9007199254740993.5]}"#,
        )
        .unwrap();
        changed.settings.reference = Some("ref-1".into());
        changed.updated_at = Timestamp(NOW.millis() + 5);
        let mut tx = store.begin().await.unwrap();
        let returned = tx.update_membership(&changed).await.unwrap();
        let read_in_transaction = tx.get_membership(&scope, &member.id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(returned, read_in_transaction);
        let read_after = store.get_membership(&scope, &member.id).await.unwrap();
        assert_eq!(returned, read_after);
        assert_eq!(
            serde_json::to_string(&returned.settings.metadata).unwrap(),
            serde_json::to_string(&read_after.settings.metadata).unwrap(),
            "the same key order"
        );
        assert_eq!(returned.settings.reference.as_deref(), Some("ref-1"));
    })
    .await;
}

/// Multi-threaded: its last call is a refused write (see below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_one_per_email_and_memberships_one_per_user_and_organisation() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let org = organisation(store.as_ref(), &scope, "A").await;
        let created = add_member(store.as_ref(), &scope, &org, "Ada@Example.com", MembershipRole::Admin, NOW).await;
        assert_eq!(created.email, "Ada@Example.com");
        assert_eq!(created.organisation_name, "A", "read with its organisation's name");

        let mut tx = store.begin().await.unwrap();
        let taken = tx.insert_user_unless_email_taken(&new_user(&scope, "ada@example.COM", NOW)).await.unwrap();
        assert_eq!(taken, None, "the e-mail is taken, whatever its case");
        let user = tx.user_by_email(&scope, "ADA@example.com", UserHold::Update).await.unwrap().unwrap();
        assert_eq!((user.id.as_str(), user.email.as_str()), (created.user_id.as_str(), "Ada@Example.com"));
        let again = new_membership(&scope, &org, &user.id, MembershipRole::Standard, NOW);
        assert_eq!(
            tx.insert_membership(&again).await.unwrap(),
            Inserted::Existing(created.id.clone()),
            "the existing one"
        );
        assert_eq!(tx.get_membership(&scope, &again.id).await, Err(Error::NotFound), "nothing stored");
        let test_mode = Scope::for_tests(scope.partner_id(), Mode::Test, scope.orgs().clone());
        assert_eq!(tx.user_by_email(&test_mode, "ada@example.com", UserHold::Share).await.unwrap(), None);
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let staff = User { is_staff: true, ..new_user(&scope, "ops@example.com", NOW) };
        tx.insert_user(&staff).await.unwrap();
        assert!(tx.email_taken(&scope, "OPS@example.com", "usr_other").await.unwrap());
        assert!(!tx.email_taken(&scope, "ops@example.com", &staff.id).await.unwrap());
        let again = User { id: "usr_again".into(), ..new_user(&scope, "Ops@Example.com", NOW) };
        assert_eq!(tx.insert_user(&again).await, Err(Error::UserAlreadyExists));
    })
    .await;
}

/// Multi-threaded: the rollback of the dropped transaction runs on the runtime while the test's
/// schema is being dropped (a blocking wait).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_before_commit_writes_nothing() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let org = organisation(store.as_ref(), &scope, "A").await;
        {
            let mut tx = store.begin().await.unwrap();
            tx.insert_user_unless_email_taken(&new_user(&scope, "gone@example.com", NOW)).await.unwrap();
            assert!(tx.user_by_email(&scope, "gone@example.com", UserHold::Share).await.unwrap().is_some());
        }
        let users = store.list_users(&scope, Some("gone@example.com"), &ListQuery::default()).await.unwrap();
        assert_eq!(users.count, 0);
        // The connection the dropped transaction held serves the next one cleanly.
        add_member(store.as_ref(), &scope, &org, "next@example.com", MembershipRole::Admin, NOW).await;
    })
    .await;
}

#[tokio::test]
async fn appends_of_one_transaction_are_numbered_in_their_order_per_partner() {
    on_every_backend(|store| async move {
        let a = partner(store.as_ref()).await;
        let b = partner(store.as_ref()).await;
        let mut tx = store.begin().await.unwrap();
        tx.append_events(&[event(&a, "mem_1", None, "membership.deleted")]).await.unwrap();
        tx.append_events(&[
            event(&a, "mem_2", None, "membership.deleted"),
            event(&a, "mem_3", None, "membership.deleted"),
        ])
        .await
        .unwrap();
        tx.append_events(&[event(&b, "mem_4", None, "membership.deleted")]).await.unwrap();
        tx.append_events(&[event(&a, "org_1", None, "organisation.deleted")]).await.unwrap();
        tx.commit().await.unwrap();
        let numbered = |scope: Scope| {
            let store = store.clone();
            async move {
                let page = store.list_events(&scope, &EventFilter::default(), &ListQuery::default()).await.unwrap();
                page.items.into_iter().map(|event| (event.object_id, event.sequence)).collect::<Vec<_>>()
            }
        };
        let expected: Vec<(String, i64)> =
            [("org_1", 4), ("mem_3", 3), ("mem_2", 2), ("mem_1", 1)].map(|(id, n)| (id.to_owned(), n)).into();
        assert_eq!(numbered(a.clone()).await, expected);
        assert_eq!(numbered(b.clone()).await, [("mem_4".to_owned(), 1)]);
    })
    .await;
}

#[tokio::test]
async fn a_failed_append_fails_its_transaction_whether_it_fails_at_once_or_with_the_commit() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let first = event(&scope, "mem_1", None, "membership.created");
        let mut tx = store.begin().await.unwrap();
        tx.append_events(std::slice::from_ref(&first)).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        tx.insert_user_unless_email_taken(&new_user(&scope, "gone@example.com", NOW)).await.unwrap();
        // The same id again: the insert fails, now (SQLite) or with the commit (PostgreSQL).
        let appended = tx.append_events(&[Event { object_id: "mem_2".into(), ..first.clone() }]).await;
        let outcome = match appended {
            Ok(()) => tx.commit().await,
            Err(error) => {
                drop(tx);
                Err(error)
            }
        };
        assert!(outcome.is_err(), "{outcome:?}");
        let users = store.list_users(&scope, Some("gone@example.com"), &ListQuery::default()).await.unwrap();
        assert_eq!(users.count, 0, "nothing of it written");
        let all = store.list_events(&scope, &EventFilter::default(), &ListQuery::default()).await.unwrap();
        assert_eq!(all.items.iter().map(|event| event.object_id.as_str()).collect::<Vec<_>>(), ["mem_1"]);
        // The connection serves the next transaction cleanly.
        let org = organisation(store.as_ref(), &scope, "A").await;
        add_member(store.as_ref(), &scope, &org, "next@example.com", MembershipRole::Admin, NOW).await;
    })
    .await;
}

#[tokio::test]
async fn the_primitives_read_what_the_rules_decide_with() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let a = organisation(store.as_ref(), &scope, "A").await;
        let b = organisation(store.as_ref(), &scope, "B").await;
        let admin = add_member(store.as_ref(), &scope, &a, "x@example.com", MembershipRole::Admin, NOW).await;
        let standard = add_member(store.as_ref(), &scope, &a, "y@example.com", MembershipRole::Standard, NOW).await;
        let in_b = add_member(store.as_ref(), &scope, &b, "x@example.com", MembershipRole::Admin, NOW).await;
        let role = NewRole { organisation_id: a.clone(), name: "billing".into(), permissions: vec![] };
        let role = add_role(store.as_ref(), &scope, role).await;

        let mut tx = store.begin().await.unwrap();
        assert!(!tx.hold_organisation_for_new_member(&scope, "org_missing").await.unwrap());
        let only_b = Scope::for_tests(scope.partner_id(), scope.mode(), OrgScope::Organisation(b.clone()));
        assert!(!tx.hold_organisation_for_new_member(&only_b, &a).await.unwrap(), "out of scope");
        let wanted = [role.id.clone(), "rol_nope".into(), role.id.clone(), "rol_other".into()];
        assert_eq!(tx.missing_roles(&a, &wanted).await.unwrap(), vec![1, 3]);
        assert_eq!(tx.missing_roles(&b, &wanted[..1]).await.unwrap(), vec![0], "another organisation's role");
        assert_eq!(tx.tally(&a, &admin.id).await.unwrap(), OrgTally { others: 1, other_admins: 0, other_owners: 0 });
        assert_eq!(tx.tally(&a, &standard.id).await.unwrap(), OrgTally { others: 1, other_admins: 1, other_owners: 0 });
        assert_eq!(tx.membership_reach(&scope, &admin.user_id).await.unwrap(), (true, false));
        assert_eq!(tx.membership_reach(&only_b, &admin.user_id).await.unwrap(), (true, true));
        assert_eq!(tx.lock_membership(&only_b, &admin.id).await, Err(Error::NotFound));

        let mut locked = tx.lock_membership(&scope, &admin.id).await.unwrap();
        tx.hold_user(&locked.user_id).await.unwrap();
        locked.settings.is_default = true;
        locked.settings.role_ids = vec![role.id.clone()];
        locked.status = MembershipStatus::Pending;
        locked.updated_at = Timestamp(NOW.0 + 5);
        tx.update_membership(&locked).await.unwrap();
        let cleared = tx.clear_other_defaults(&locked.user_id, &locked.id, Timestamp(NOW.0 + 5)).await.unwrap();
        assert!(!cleared.contains(&locked.id), "the membership kept as default is not among those cleared");
        assert_eq!(tx.get_membership(&scope, &locked.id).await.unwrap(), locked, "every column written");
        tx.delete_membership(&standard.id).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(store.get_membership(&scope, &standard.id).await, Err(Error::NotFound));
        assert!(!store.get_membership(&scope, &in_b.id).await.unwrap().settings.is_default);
        let mut tx = store.begin().await.unwrap();
        assert!(tx.lock_organisation(&scope, &a).await.unwrap());
        tx.delete_organisation(&a).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.get_membership(&scope, &admin.id).await, Err(Error::NotFound));
        let filter = MembershipFilter { user_ids: Some(vec![admin.user_id.clone()]), ..MembershipFilter::default() };
        assert_eq!(store.list_memberships(&scope, &filter, &ListQuery::default()).await.unwrap().count, 1);
    })
    .await;
}

#[tokio::test]
async fn an_organisation_is_emptied_a_page_of_members_at_a_time_and_the_counts_follow() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let a = organisation(store.as_ref(), &scope, "A").await;
        let b = organisation(store.as_ref(), &scope, "B").await;
        let mut members = Vec::new();
        for n in 0..5 {
            let role = if n == 0 { MembershipRole::Admin } else { MembershipRole::Standard };
            members.push(add_member(store.as_ref(), &scope, &a, &format!("m{n}@example.com"), role, NOW).await);
        }
        let in_b = add_member(store.as_ref(), &scope, &b, "m0@example.com", MembershipRole::Admin, NOW).await;
        members.sort_by(|x, y| x.user_id.cmp(&y.user_id));
        let role = add_role(
            store.as_ref(),
            &scope,
            NewRole { organisation_id: a.clone(), name: "r".into(), permissions: vec![] },
        )
        .await;

        let mut tx = store.begin().await.unwrap();
        assert!(tx.lock_organisation(&scope, &a).await.unwrap());
        let mut pages: Vec<Vec<Membership>> = Vec::new();
        loop {
            let after = pages.last().and_then(|page| page.last()).map_or("", |last| last.user_id.as_str());
            let page = tx.delete_organisation_memberships(&a, after, 2).await.unwrap();
            if page.is_empty() {
                break;
            }
            pages.push(page);
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(pages.concat(), members, "each as it was, by user id, with its user and organisation");
        let removed = tx.delete_organisation(&a).await.unwrap();
        assert_eq!(removed.roles, vec![role]);
        tx.commit().await.unwrap();

        let everyone =
            store.list_memberships(&scope, &MembershipFilter::default(), &ListQuery::default()).await.unwrap();
        assert_eq!((everyone.count, everyone.items), (1, vec![in_b]), "the counters lost exactly the deleted");
    })
    .await;
}

#[tokio::test]
async fn cursor_pages_walk_every_row_once_even_within_one_millisecond() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let org = organisation(store.as_ref(), &scope, "A").await;
        let mut ids = Vec::new();
        for n in 0..9 {
            let at = Timestamp(NOW.0 + n / 3);
            let email = format!("m{n}@example.com");
            ids.push(add_member(store.as_ref(), &scope, &org, &email, MembershipRole::Admin, at).await.id);
        }
        let mut walked = Vec::new();
        let mut query = ListQuery { limit: 2, ..ListQuery::default() };
        loop {
            let page = store.list_memberships(&scope, &MembershipFilter::default(), &query).await.unwrap();
            assert_eq!(page.count, 9);
            walked.extend(page.items.iter().map(|m| (m.created_at, m.id.clone())));
            let Some(last) = page.items.last().filter(|_| page.has_more) else {
                break;
            };
            query.position = Position::After(Cursor { created_at: last.created_at.millis(), id: last.id.clone() });
        }
        let mut expected = walked.clone();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(walked, expected, "newest first, then id descending");
        assert_eq!(walked.len(), 9);
        let mut seen: Vec<_> = walked.into_iter().map(|(_, id)| id).collect();
        seen.sort();
        ids.sort();
        assert_eq!(seen, ids);
    })
    .await;
}

#[tokio::test]
async fn groups_are_read_changed_and_deleted_with_their_keys_and_admin_keys_land_in_the_oldest() {
    on_every_backend(|store| async move {
        let admin = partner(store.as_ref()).await;
        let first = store.list_groups(&admin, &ListQuery::default()).await.unwrap().items[0].clone();
        let a = organisation(store.as_ref(), &admin, "A").await;
        let second = add_group(store.as_ref(), &admin, true, &[], Timestamp(NOW.0 + 1)).await;

        let spec = KeySpec {
            name: "held by the first".into(),
            key_type: KeyType::Secret,
            holder: KeyHolder::Group(first.id.clone()),
            abilities: vec![Ability::All],
            expires_at: None,
        };
        let issued = issue_key(admin.partner_id(), Mode::Test, spec, NOW);
        store_key(store.as_ref(), &issued.key, &issued.secret_hash).await;

        let mut tx = store.begin().await.unwrap();
        assert!(!tx.hold_partner("ptn_missing").await.unwrap());
        assert!(tx.hold_partner(admin.partner_id()).await.unwrap());
        assert_eq!(tx.oldest_admin_group(admin.partner_id()).await.unwrap(), Some(first.id.clone()));
        assert_eq!(tx.oldest_admin_group("ptn_missing").await.unwrap(), None);
        assert!(tx.other_admin_group(admin.partner_id(), &first.id).await.unwrap());
        assert_eq!(tx.missing_organisations(&admin, &["org_nope".into(), a.clone()]).await.unwrap(), vec![0]);
        let test_mode = Scope::for_tests(admin.partner_id(), Mode::Test, admin.orgs().clone());
        assert_eq!(tx.missing_organisations(&test_mode, std::slice::from_ref(&a)).await.unwrap(), vec![0]);
        let mut demoted = tx.lock_group(&admin, &second.id).await.unwrap();
        demoted.is_admin = false;
        demoted.name = "second".into();
        demoted.updated_at = Timestamp(NOW.0 + 9);
        tx.update_group(&demoted).await.unwrap();
        tx.assign_group_organisations(&second.id, Mode::Live, std::slice::from_ref(&a)).await.unwrap();
        demoted.organisation_ids = vec![a.clone()];
        assert_eq!(tx.lock_group(&admin, &second.id).await.unwrap(), demoted);
        assert!(!tx.other_admin_group(admin.partner_id(), &first.id).await.unwrap());
        tx.delete_group(&first.id).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(store.get_group(&admin, &first.id).await, Err(Error::NotFound));
        assert_eq!(store.find_api_key(&issued.secret_hash).await.unwrap(), None, "its keys went with it");
    })
    .await;
}

#[tokio::test]
async fn the_remaining_primitives_read_write_and_hold_what_they_say() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let a = organisation(store.as_ref(), &scope, "A").await;
        let b = organisation(store.as_ref(), &scope, "B").await;
        let member = add_member(store.as_ref(), &scope, &a, "m@example.com", MembershipRole::Admin, NOW).await;
        let group = add_group(store.as_ref(), &scope, false, &[], NOW).await;
        let role = add_role(
            store.as_ref(),
            &scope,
            NewRole { organisation_id: a.clone(), name: "billing".into(), permissions: vec!["x:read".into()] },
        )
        .await;
        let only_b = Scope::for_tests(scope.partner_id(), scope.mode(), OrgScope::Organisation(b.clone()));
        let test_mode = Scope::for_tests(scope.partner_id(), Mode::Test, OrgScope::All);

        let mut tx = store.begin().await.unwrap();
        // Groups: held for adding to, for deleting, and organisations added one at a time.
        assert!(tx.hold_group(scope.partner_id(), &group.id).await.unwrap());
        assert!(!tx.hold_group("ptn_other", &group.id).await.unwrap());
        tx.add_group_organisation(&group.id, &b).await.unwrap();
        let for_delete = tx.lock_group_for_delete(&scope, &group.id).await.unwrap();
        assert_eq!(for_delete.organisation_ids, vec![b.clone()]);
        assert_eq!(tx.lock_group_for_delete(&scope, "grp_missing").await, Err(Error::NotFound));
        // Organisations: rewritten whole.
        let mut renamed = tx.get_organisation(&scope, &a).await.unwrap();
        renamed.name = "A2".into();
        renamed.settings.abuse_contact_email = Some("abuse@example.com".into());
        renamed.updated_at = Timestamp(NOW.0 + 1);
        tx.update_organisation(&renamed).await.unwrap();
        assert_eq!(tx.get_organisation(&scope, &a).await.unwrap(), renamed);
        assert_eq!(tx.get_organisation(&only_b, &a).await, Err(Error::NotFound));
        // Users: by id partner-wide, in scope only through a membership, locked and rewritten.
        let user = tx.user_by_id(&only_b, &member.user_id, UserHold::Share).await.unwrap().unwrap();
        assert_eq!(user.email, "m@example.com");
        assert_eq!(tx.user_by_id(&test_mode, &member.user_id, UserHold::Share).await.unwrap(), None);
        assert!(tx.user_in_scope(&scope, &member.user_id).await.unwrap());
        assert!(!tx.user_in_scope(&only_b, &member.user_id).await.unwrap(), "no membership in B");
        assert_eq!(tx.lock_user(&only_b, &member.user_id).await, Err(Error::NotFound));
        let mut changed = tx.lock_user(&scope, &member.user_id).await.unwrap();
        changed.email = "New@Example.com".into();
        changed.first_name = Some("Grace".into());
        changed.last_name = None;
        changed.updated_at = Timestamp(NOW.0 + 2);
        tx.update_user(&changed).await.unwrap();
        assert_eq!(tx.lock_user(&scope, &member.user_id).await.unwrap(), changed);
        assert!(tx.email_taken(&scope, "new@example.com", "usr_other").await.unwrap());
        // Memberships: found by organisation and user.
        assert_eq!(tx.membership_id(&a, &member.user_id).await.unwrap(), Some(member.id.clone()));
        assert_eq!(tx.membership_id(&b, &member.user_id).await.unwrap(), None);
        let mut with_role = tx.lock_membership(&scope, &member.id).await.unwrap();
        with_role.settings.role_ids = vec![role.id.clone()];
        tx.update_membership(&with_role).await.unwrap();
        // Roles: renamed, refused a taken name, and deleted out of the memberships naming them.
        let mut renamed_role = tx.lock_role(&scope, &role.id).await.unwrap();
        renamed_role.name = "finance".into();
        renamed_role.updated_at = Timestamp(NOW.0 + 3);
        tx.update_role(&renamed_role).await.unwrap();
        assert_eq!(tx.lock_role(&scope, &role.id).await.unwrap(), renamed_role);
        assert_eq!(tx.lock_role(&only_b, &role.id).await, Err(Error::NotFound));
        tx.delete_role(&renamed_role, Timestamp(NOW.0 + 4)).await.unwrap();
        let after = tx.get_membership(&scope, &member.id).await.unwrap();
        assert_eq!((after.settings.role_ids.len(), after.updated_at), (0, Timestamp(NOW.0 + 4)));
        assert_eq!(tx.lock_role(&scope, &role.id).await, Err(Error::NotFound));
        tx.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn list_counts_from_the_counters_match_the_rows_through_every_kind_of_write() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let (a, b) = (organisation(store.as_ref(), &scope, "A").await, organisation(store.as_ref(), &scope, "B").await);
        let gone = organisation(store.as_ref(), &scope, "Gone").await;
        let mut made = Vec::new();
        for (n, org) in [&a, &a, &a, &b, &b, &gone].into_iter().enumerate() {
            let role = if n % 2 == 0 { MembershipRole::Admin } else { MembershipRole::Standard };
            made.push(add_member(store.as_ref(), &scope, org, &format!("m{n}@example.com"), role, NOW).await);
        }
        let mut tx = store.begin().await.unwrap();
        let mut pending = tx.lock_membership(&scope, &made[1].id).await.unwrap();
        pending.status = MembershipStatus::Pending;
        pending.settings.role = MembershipRole::Admin;
        tx.update_membership(&pending).await.unwrap();
        tx.delete_membership(&made[2].id).await.unwrap();
        assert!(tx.lock_organisation(&scope, &gone).await.unwrap());
        tx.delete_organisation(&gone).await.unwrap();
        tx.commit().await.unwrap();

        let only_b = Scope::for_tests(scope.partner_id(), scope.mode(), OrgScope::Organisation(b.clone()));
        let test_mode = Scope::for_tests(scope.partner_id(), Mode::Test, OrgScope::All);
        let filters = [
            MembershipFilter::default(),
            MembershipFilter { organisation_ids: Some(vec![a.clone()]), ..Default::default() },
            MembershipFilter { statuses: Some(vec![MembershipStatus::Pending]), ..Default::default() },
            MembershipFilter { roles: Some(vec![MembershipRole::Admin]), ..Default::default() },
            MembershipFilter {
                organisation_ids: Some(vec![a.clone(), b.clone()]),
                statuses: Some(vec![MembershipStatus::Accepted]),
                roles: Some(vec![MembershipRole::Standard]),
                ..Default::default()
            },
            MembershipFilter { organisation_ids: Some(Vec::new()), ..Default::default() },
        ];
        for seen_by in [&scope, &only_b, &test_mode] {
            for filter in &filters {
                let all = ListQuery { limit: 1000, ..ListQuery::default() };
                let page = store.list_memberships(seen_by, filter, &all).await.unwrap();
                assert_eq!(page.count, page.items.len() as u64, "{filter:?} as {seen_by:?}");
            }
        }
        let every = store.list_memberships(&scope, &MembershipFilter::default(), &ListQuery::default()).await.unwrap();
        assert_eq!(every.count, 4, "six made, one deleted, one with its organisation");
    })
    .await;
}

#[tokio::test]
async fn filtered_pages_by_cursor_and_offset_hold_exactly_the_matches_newest_first_in_every_scope() {
    on_every_backend(|store| async move {
        let admin = partner(store.as_ref()).await;
        let stranger = partner(store.as_ref()).await;
        let [a, b, c] = [
            organisation(store.as_ref(), &admin, "A").await,
            organisation(store.as_ref(), &admin, "B").await,
            organisation(store.as_ref(), &admin, "C").await,
        ];
        let foreign = organisation(store.as_ref(), &stranger, "F").await;
        let group = add_group(store.as_ref(), &admin, false, &[a.clone(), b.clone()], NOW).await;
        let mut stored = Vec::new();
        for n in 0..18_u32 {
            let org = [&a, &b, &c][n as usize % 3];
            let role = if n % 4 == 0 { MembershipRole::Admin } else { MembershipRole::Standard };
            // Pairs share a millisecond: ties are broken by id.
            let at = Timestamp(NOW.0 + i64::from(n / 2));
            let member = add_member(store.as_ref(), &admin, org, &format!("m{n}@example.com"), role, at).await;
            let status = match n % 5 {
                0 => MembershipStatus::Rejected,
                1 | 3 => MembershipStatus::Pending,
                _ => MembershipStatus::Accepted,
            };
            let mut tx = store.begin().await.unwrap();
            let mut changed = tx.lock_membership(&admin, &member.id).await.unwrap();
            changed.status = status;
            changed.settings.is_owner = n % 3 == 1;
            changed.settings.is_default = n % 7 == 2;
            tx.update_membership(&changed).await.unwrap();
            stored.push(tx.get_membership(&admin, &member.id).await.unwrap());
            tx.commit().await.unwrap();
        }
        add_member(store.as_ref(), &stranger, &foreign, "f@example.com", MembershipRole::Admin, NOW).await;
        stored.sort_by(|x, y| (y.created_at, &y.id).cmp(&(x.created_at, &x.id)));

        let scopes = [
            (admin.clone(), vec![&a, &b, &c]),
            (Scope::for_tests(admin.partner_id(), admin.mode(), OrgScope::Group(group.id.clone())), vec![&a, &b]),
            (Scope::for_tests(admin.partner_id(), admin.mode(), OrgScope::Organisation(b.clone())), vec![&b]),
            (
                Scope::for_tests(admin.partner_id(), admin.mode(), OrgScope::Organisations(vec![a.clone(), c.clone()])),
                vec![&a, &c],
            ),
            (Scope::for_tests(admin.partner_id(), Mode::Test, OrgScope::All), vec![]),
        ];
        let organisations = |ids: &[&String]| Some(ids.iter().map(|id| (*id).clone()).collect::<Vec<_>>());
        let filters = [
            MembershipFilter::default(),
            MembershipFilter { organisation_ids: organisations(&[&a]), ..Default::default() },
            MembershipFilter { organisation_ids: organisations(&[&c, &a, &c]), ..Default::default() },
            MembershipFilter { organisation_ids: organisations(&[&foreign]), ..Default::default() },
            MembershipFilter { statuses: Some(vec![MembershipStatus::Pending]), ..Default::default() },
            MembershipFilter { roles: Some(vec![MembershipRole::Admin]), ..Default::default() },
            MembershipFilter {
                statuses: Some(vec![MembershipStatus::Accepted, MembershipStatus::Rejected]),
                roles: Some(vec![MembershipRole::Standard]),
                ..Default::default()
            },
            MembershipFilter {
                organisation_ids: organisations(&[&a, &b, &foreign]),
                statuses: Some(vec![MembershipStatus::Pending]),
                ..Default::default()
            },
            MembershipFilter {
                organisation_ids: organisations(&[&b]),
                roles: Some(vec![MembershipRole::Admin]),
                ..Default::default()
            },
            MembershipFilter { organisation_ids: Some(Vec::new()), ..Default::default() },
            MembershipFilter { statuses: Some(Vec::new()), ..Default::default() },
            MembershipFilter { is_owner: Some(true), ..Default::default() },
            MembershipFilter { is_owner: Some(false), is_default: Some(false), ..Default::default() },
            MembershipFilter {
                organisation_ids: organisations(&[&a, &b]),
                is_default: Some(true),
                statuses: Some(vec![MembershipStatus::Accepted]),
                ..Default::default()
            },
        ];
        for (scope, reached) in &scopes {
            for filter in &filters {
                let expected: Vec<&str> = stored
                    .iter()
                    .filter(|m| scope.mode() == m.mode && reached.contains(&&m.organisation_id))
                    .filter(|m| filter.organisation_ids.as_ref().is_none_or(|ids| ids.contains(&m.organisation_id)))
                    .filter(|m| filter.statuses.as_ref().is_none_or(|statuses| statuses.contains(&m.status)))
                    .filter(|m| filter.roles.as_ref().is_none_or(|roles| roles.contains(&m.settings.role)))
                    .filter(|m| filter.is_owner.is_none_or(|is_owner| m.settings.is_owner == is_owner))
                    .filter(|m| filter.is_default.is_none_or(|is_default| m.settings.is_default == is_default))
                    .map(|m| m.id.as_str())
                    .collect();
                let context = format!("{filter:?} in {:?}", scope.orgs());

                let (mut by_cursor, mut query) = (Vec::new(), ListQuery { limit: 2, ..ListQuery::default() });
                loop {
                    let page = store.list_memberships(scope, filter, &query).await.unwrap();
                    assert_eq!(page.count, expected.len() as u64, "{context}");
                    by_cursor.extend(page.items.iter().map(|m| m.id.clone()));
                    let Some(last) = page.items.last().filter(|_| page.has_more) else { break };
                    query.position =
                        Position::After(Cursor { created_at: last.created_at.millis(), id: last.id.clone() });
                }
                assert_eq!(by_cursor, expected, "by cursor: {context}");

                let mut by_offset = Vec::new();
                for offset in (0..expected.len() as u64 + 3).step_by(3) {
                    let query = ListQuery { limit: 3, position: Position::Offset(offset), ..ListQuery::default() };
                    let page = store.list_memberships(scope, filter, &query).await.unwrap();
                    assert_eq!(page.has_more, offset + 3 < expected.len() as u64, "{context} at {offset}");
                    by_offset.extend(page.items.iter().map(|m| m.id.clone()));
                }
                assert_eq!(by_offset, expected, "by offset: {context}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn memberships_sort_by_id_status_and_organisation_name_then_newest_first_and_filter_by_that_name() {
    on_every_backend(|store| async move {
        let admin = partner(store.as_ref()).await;
        let beta = organisation(store.as_ref(), &admin, "Beta").await;
        let alpha = organisation(store.as_ref(), &admin, "Alpha").await;
        let mut stored = Vec::new();
        for n in 0..8_u32 {
            let org = if n % 3 == 0 { &alpha } else { &beta };
            let at = Timestamp(NOW.0 + i64::from(n / 2));
            let member =
                add_member(store.as_ref(), &admin, org, &format!("s{n}@example.com"), MembershipRole::Standard, at)
                    .await;
            let mut tx = store.begin().await.unwrap();
            let mut changed = tx.lock_membership(&admin, &member.id).await.unwrap();
            changed.status =
                [MembershipStatus::Pending, MembershipStatus::Accepted, MembershipStatus::Rejected][n as usize % 3];
            tx.update_membership(&changed).await.unwrap();
            stored.push(tx.get_membership(&admin, &member.id).await.unwrap());
            tx.commit().await.unwrap();
        }
        let newest_first = |x: &Membership, y: &Membership| (y.created_at, &y.id).cmp(&(x.created_at, &x.id));
        for (key, descending) in [(SortKey::Id, false), (SortKey::Status, true), (SortKey::OrganisationName, false)] {
            let mut expected = stored.clone();
            expected.sort_by(|x, y| {
                let order = match key {
                    SortKey::Id => x.id.cmp(&y.id),
                    SortKey::Status => x.status.as_str().cmp(y.status.as_str()),
                    _ => x.organisation_name.cmp(&y.organisation_name),
                };
                (if descending { order.reverse() } else { order }).then_with(|| newest_first(x, y))
            });
            let query = ListQuery { limit: 100, sort: vec![Sort { key, descending }], ..ListQuery::default() };
            let page = store.list_memberships(&admin, &MembershipFilter::default(), &query).await.unwrap();
            let ids = |memberships: &[Membership]| memberships.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&page.items), ids(&expected), "{key:?} descending {descending}");
        }
        let named = MembershipFilter { organisation_name: Some("Alpha".to_owned()), ..MembershipFilter::default() };
        let page = store.list_memberships(&admin, &named, &ListQuery::default()).await.unwrap();
        assert_eq!((page.count, page.items.iter().all(|m| m.organisation_id == alpha)), (3, true));
        let nobody = MembershipFilter { organisation_name: Some("alpha".to_owned()), ..MembershipFilter::default() };
        assert_eq!(store.list_memberships(&admin, &nobody, &ListQuery::default()).await.unwrap().count, 0, "exact");
    })
    .await;
}

fn event(scope: &Scope, object_id: &str, organisation_id: Option<&str>, kind: &str) -> Event {
    Event {
        id: ids::new_id(ids::EVENT, NOW),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        kind: kind.to_owned(),
        object_id: object_id.to_owned(),
        organisation_id: organisation_id.map(str::to_owned),
        actor: Actor { kind: ActorKind::Key, id: Some("key_1".into()), key_prefix: Some("sk_live_ab".into()) },
        request_id: "req_1".into(),
        object: serde_json::json!({"id": object_id, "metadata": {"z": "1", "a": "2"}}),
        previous_attributes: Some(serde_json::json!({"reference": null})),
        sequence: 0,
        created_at: NOW,
    }
}

#[tokio::test]
async fn events_take_increasing_sequences_per_partner_and_are_read_back_per_object_in_scope() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let other = partner(store.as_ref()).await;
        let org = organisation(store.as_ref(), &scope, "A").await;
        let appended = event(&scope, "mem_1", Some(&org), "membership.updated");
        let mut tx = store.begin().await.unwrap();
        let deleted = event(&scope, "mem_1", Some(&org), "membership.deleted");
        tx.append_events(&[appended.clone(), deleted]).await.unwrap();
        tx.append_events(&[event(&other, "mem_2", None, "membership.created")]).await.unwrap();
        tx.commit().await.unwrap();
        {
            let mut dropped = store.begin().await.unwrap();
            dropped.append_events(&[event(&scope, "mem_1", Some(&org), "membership.updated")]).await.unwrap();
        }
        let mut tx = store.begin().await.unwrap();
        tx.append_events(&[event(&scope, "mem_9", None, "user.created")]).await.unwrap();
        tx.commit().await.unwrap();
        let sequences = |scope: Scope| {
            let store = store.clone();
            async move {
                let page = store.list_events(&scope, &EventFilter::default(), &ListQuery::default()).await.unwrap();
                page.items.iter().map(|event| event.sequence).collect::<Vec<_>>()
            }
        };
        assert_eq!(sequences(scope.clone()).await, [3, 2, 1], "a rolled-back append takes no number");
        assert_eq!(sequences(other.clone()).await, [1], "per partner");

        let page = store.list_object_events(&scope, "mem_1", &ListQuery::default()).await.unwrap();
        assert_eq!((page.count, page.items.len()), (2, 2));
        assert_eq!(page.items[0].kind, "membership.deleted", "newest first");
        assert_eq!(page.items[1], Event { sequence: 1, ..appended });
        let first = ListQuery { limit: 1, ..ListQuery::default() };
        let one = store.list_object_events(&scope, "mem_1", &first).await.unwrap();
        assert!(one.has_more);
        let after = ListQuery { position: Position::After(one.items[0].position()), ..first };
        let rest = store.list_object_events(&scope, "mem_1", &after).await.unwrap();
        assert_eq!((rest.items[0].sequence, rest.has_more), (1, false));

        let elsewhere =
            Scope::for_tests(scope.partner_id().to_owned(), Mode::Live, OrgScope::Organisation("org_other".into()));
        assert_eq!(store.list_object_events(&elsewhere, "mem_1", &ListQuery::default()).await.unwrap().count, 0);
        let test_mode = Scope::for_tests(scope.partner_id().to_owned(), Mode::Test, OrgScope::All);
        assert_eq!(store.list_object_events(&test_mode, "mem_1", &ListQuery::default()).await.unwrap().count, 0);
        assert_eq!(store.list_object_events(&other, "mem_1", &ListQuery::default()).await.unwrap().count, 0);
    })
    .await;
}

fn endpoint(scope: &Scope, enabled_events: &[&str]) -> WebhookEndpoint {
    WebhookEndpoint {
        id: ids::new_id(ids::WEBHOOK_ENDPOINT, NOW),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        url: "https://hooks.example.com/in".into(),
        enabled_events: enabled_events.iter().map(|kind| (*kind).to_owned()).collect(),
        description: "billing".into(),
        disabled: false,
        created_at: NOW,
        updated_at: NOW,
    }
}

#[tokio::test]
async fn the_outbox_hands_each_due_attempt_to_one_claim_until_its_lease_passes() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let hook = endpoint(&scope, &["membership.*"]);
        let secrets = WebhookSecrets { current: "whsec_a".into(), previous: None, previous_expires_at: None };
        let appended = event(&scope, "mem_1", None, "membership.created");
        let message = WebhookMessage {
            id: ids::new_id(ids::WEBHOOK_MESSAGE, NOW),
            endpoint_id: hook.id.clone(),
            event_id: appended.id.clone(),
        };
        let mut tx = store.begin().await.unwrap();
        tx.insert_webhook_endpoint(&hook, &secrets).await.unwrap();
        assert_eq!(
            tx.webhook_subscriptions(scope.partner_id(), Mode::Live).await.unwrap(),
            vec![Subscription { endpoint_id: hook.id.clone(), enabled_events: vec!["membership.*".into()] }]
        );
        assert_eq!(tx.webhook_subscriptions(scope.partner_id(), Mode::Test).await.unwrap(), vec![], "other mode");
        tx.append_events(std::slice::from_ref(&appended)).await.unwrap();
        tx.enqueue_webhook_messages(std::slice::from_ref(&message), NOW).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.webhook_queue().await.unwrap(), WebhookQueue { depth: 1, oldest_queued_at: Some(NOW) });

        let lease_until = Timestamp(NOW.millis() + 30_000);
        assert_eq!(
            store.claim_webhook_attempts(Timestamp(NOW.millis() - 1), lease_until, "a", 10).await.unwrap(),
            vec![]
        );
        let claimed = store.claim_webhook_attempts(NOW, lease_until, "a", 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let attempt = &claimed[0];
        assert_eq!(
            (attempt.webhook_id.as_str(), attempt.attempt, attempt.lease.as_str()),
            (message.id.as_str(), 1, "a")
        );
        assert_eq!((attempt.url.as_str(), &attempt.secrets), (hook.url.as_str(), &secrets));
        assert_eq!(attempt.event.as_ref().map(|event| event.id.as_str()), Some(appended.id.as_str()));
        assert_eq!(store.claim_webhook_attempts(NOW, lease_until, "b", 10).await.unwrap(), vec![], "claimed once");

        // Its node died: past the lease, another claims it, and the first can no longer finish it.
        let retaken = store.claim_webhook_attempts(lease_until, Timestamp(lease_until.millis() + 30_000), "b", 10);
        let retaken = retaken.await.unwrap();
        assert_eq!((retaken.len(), retaken[0].attempt), (1, 2));
        let delivery = |attempt: u32, succeeded: bool| WebhookDelivery {
            id: ids::new_id(ids::WEBHOOK_DELIVERY, NOW),
            endpoint_id: hook.id.clone(),
            event_id: appended.id.clone(),
            webhook_id: message.id.clone(),
            attempt,
            succeeded,
            response_status: Some(if succeeded { 200 } else { 500 }),
            latency_ms: 12,
            next_retry_at: None,
            created_at: NOW,
        };
        let late = delivery(1, false);
        assert!(!store.finish_webhook_attempt(&message.id, "a", Some(&late), Some(NOW)).await.unwrap(), "lease lost");
        let done = delivery(2, true);
        assert!(store.finish_webhook_attempt(&message.id, "b", Some(&done), None).await.unwrap());
        assert_eq!(store.webhook_queue().await.unwrap(), WebhookQueue::default());
        let far = Timestamp(NOW.millis() + 86_400_000);
        assert_eq!(store.claim_webhook_attempts(far, far, "c", 10).await.unwrap(), vec![], "delivered");
        let log = store.list_webhook_deliveries(&hook.id, &ListQuery::default()).await.unwrap();
        assert_eq!(log.items.len(), 2, "both attempts are logged");

        // A redelivery queues the same message again, with its id.
        let mut tx = store.begin().await.unwrap();
        let again = WebhookMessage { id: ids::new_id(ids::WEBHOOK_MESSAGE, NOW), ..message.clone() };
        tx.enqueue_webhook_messages(&[again], far).await.unwrap();
        tx.commit().await.unwrap();
        let redelivered = store.claim_webhook_attempts(far, far, "c", 10).await.unwrap();
        assert_eq!((redelivered[0].webhook_id.as_str(), redelivered[0].attempt), (message.id.as_str(), 3));

        // Retention: what was made before a moment goes, what was made at it stays.
        assert_eq!(store.prune_webhook_log(NOW, 100).await.unwrap(), 0);
        assert_eq!(
            store.prune_webhook_log(Timestamp(NOW.millis() + 1), 100).await.unwrap(),
            3,
            "a message, two attempts"
        );
        assert_eq!(store.webhook_queue().await.unwrap().depth, 0);
        assert_eq!(store.list_webhook_deliveries(&hook.id, &ListQuery::default()).await.unwrap().items, vec![]);

        // Disabling an endpoint drops what it had queued; deleting it drops its log.
        let mut tx = store.begin().await.unwrap();
        let (locked, _) = tx.lock_webhook_endpoint(&scope, &hook.id).await.unwrap();
        tx.update_webhook_endpoint(&WebhookEndpoint { disabled: true, ..locked }).await.unwrap();
        assert_eq!(tx.webhook_subscriptions(scope.partner_id(), Mode::Live).await.unwrap(), vec![]);
        tx.commit().await.unwrap();
        assert_eq!(store.webhook_queue().await.unwrap().depth, 0);
        let test_mode = Scope::for_tests(scope.partner_id().to_owned(), Mode::Test, OrgScope::All);
        assert_eq!(store.get_webhook_endpoint(&test_mode, &hook.id).await, Err(Error::NotFound));
        let mut tx = store.begin().await.unwrap();
        tx.delete_webhook_endpoint(&hook.id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.list_webhook_deliveries(&hook.id, &ListQuery::default()).await.unwrap().items, vec![]);
        assert_eq!(store.get_webhook_endpoint(&scope, &hook.id).await, Err(Error::NotFound));
    })
    .await;
}

#[tokio::test]
async fn messages_are_queued_only_for_an_endpoint_that_is_there_and_enabled() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let secrets = WebhookSecrets { current: "whsec_a".into(), previous: None, previous_expires_at: None };
        let disabled = WebhookEndpoint { disabled: true, ..endpoint(&scope, &["*"]) };
        let appended = event(&scope, "mem_1", None, "membership.created");
        let message = |endpoint_id: &str| WebhookMessage {
            id: ids::new_id(ids::WEBHOOK_MESSAGE, NOW),
            endpoint_id: endpoint_id.to_owned(),
            event_id: appended.id.clone(),
        };
        let mut tx = store.begin().await.unwrap();
        tx.insert_webhook_endpoint(&disabled, &secrets).await.unwrap();
        tx.append_events(std::slice::from_ref(&appended)).await.unwrap();
        tx.enqueue_webhook_messages(&[message(&disabled.id), message("we_gone")], NOW).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.webhook_queue().await.unwrap(), WebhookQueue::default());
    })
    .await;
}

/// A write reads its endpoints before it queues for them: an endpoint deleted or disabled by a
/// write that commits in between takes nothing, and the write still commits.
#[tokio::test]
async fn an_endpoint_removed_between_a_write_reading_it_and_queueing_for_it_takes_nothing() {
    for backend in testing::backends().await {
        // SQLite has one writer: no write can commit in between.
        if backend.name != "postgres" {
            continue;
        }
        let store = backend.store.clone();
        let scope = partner(store.as_ref()).await;
        let secrets = WebhookSecrets { current: "whsec_a".into(), previous: None, previous_expires_at: None };
        let (deleted, disabled) = (endpoint(&scope, &["*"]), endpoint(&scope, &["*"]));
        let mut tx = store.begin().await.unwrap();
        tx.insert_webhook_endpoint(&deleted, &secrets).await.unwrap();
        tx.insert_webhook_endpoint(&disabled, &secrets).await.unwrap();
        tx.commit().await.unwrap();

        let mut writing = store.begin().await.unwrap();
        let subscriptions = writing.webhook_subscriptions(scope.partner_id(), Mode::Live).await.unwrap();
        assert_eq!(subscriptions.len(), 2);
        let mut removing = store.begin().await.unwrap();
        removing.delete_webhook_endpoint(&deleted.id).await.unwrap();
        let (locked, _) = removing.lock_webhook_endpoint(&scope, &disabled.id).await.unwrap();
        removing.update_webhook_endpoint(&WebhookEndpoint { disabled: true, ..locked }).await.unwrap();
        removing.commit().await.unwrap();

        let appended = event(&scope, "mem_1", None, "membership.created");
        let messages: Vec<WebhookMessage> = subscriptions
            .iter()
            .map(|subscription| WebhookMessage {
                id: ids::new_id(ids::WEBHOOK_MESSAGE, NOW),
                endpoint_id: subscription.endpoint_id.clone(),
                event_id: appended.id.clone(),
            })
            .collect();
        writing.append_events(std::slice::from_ref(&appended)).await.unwrap();
        writing.enqueue_webhook_messages(&messages, NOW).await.unwrap();
        writing.commit().await.unwrap();
        assert_eq!(store.webhook_queue().await.unwrap(), WebhookQueue::default());
    }
}

#[tokio::test]
async fn console_sessions_are_found_until_they_expire_changed_deleted_and_pruned() {
    on_every_backend(|store| async move {
        let later = Timestamp(NOW.millis() + 60_000);
        let session = ConsoleSession {
            id_hash: "session-hash".into(),
            live_key_hash: Some("live-key-hash".into()),
            test_key_hash: None,
            mode: Mode::Live,
            created_at: NOW,
            expires_at: later,
        };
        store.insert_console_session(&session).await.unwrap();
        assert_eq!(store.console_session("session-hash", NOW).await.unwrap(), Some(session.clone()));
        assert_eq!(store.console_session("other-hash", NOW).await.unwrap(), None);
        assert_eq!(store.console_session("session-hash", later).await.unwrap(), None, "expired");

        let switched =
            ConsoleSession { test_key_hash: Some("test-key-hash".into()), mode: Mode::Test, ..session.clone() };
        assert!(store.update_console_session(&switched).await.unwrap());
        assert_eq!(store.console_session("session-hash", NOW).await.unwrap(), Some(switched.clone()));

        let other =
            ConsoleSession { id_hash: "other-hash".into(), expires_at: Timestamp(later.millis() + 1), ..session };
        store.insert_console_session(&other).await.unwrap();
        assert_eq!(store.prune_console_sessions(NOW, 10).await.unwrap(), 0);
        assert_eq!(store.prune_console_sessions(later, 10).await.unwrap(), 1, "only the one expired by then");
        assert_eq!(store.console_session("other-hash", NOW).await.unwrap(), Some(other.clone()));
        store.delete_console_session("other-hash").await.unwrap();
        assert_eq!(store.console_session("other-hash", NOW).await.unwrap(), None);
        assert!(!store.update_console_session(&other).await.unwrap(), "gone");
    })
    .await;
}

#[tokio::test]
async fn organisations_are_found_by_the_start_of_their_name_in_name_order_within_scope() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let names = ["beta Labs", "Alpha", "alphabet", "ALPHA two", "Älpha", "Zed", "alp"];
        let mut ids = std::collections::HashMap::new();
        for name in names {
            ids.insert(name, organisation(store.as_ref(), &scope, name).await);
        }
        let found = |prefix: &'static str, scope: Scope, limit: u32| {
            let store = store.clone();
            async move {
                let found = store.search_organisations(&scope, prefix, limit).await.unwrap();
                found.into_iter().map(|organisation| organisation.name).collect::<Vec<_>>()
            }
        };
        assert_eq!(
            found("alpha", scope.clone(), 10).await,
            ["Alpha", "ALPHA two", "alphabet"],
            "ASCII in any case, by name"
        );
        assert_eq!(found("ALP", scope.clone(), 2).await, ["alp", "Alpha"], "at most the limit");
        assert_eq!(found("älpha", scope.clone(), 10).await, Vec::<String>::new(), "other letters exactly");
        assert_eq!(found("Älpha", scope.clone(), 10).await, ["Älpha"]);
        assert_eq!(found("beta l", scope.clone(), 10).await, ["beta Labs"]);
        assert_eq!(found("x", scope.clone(), 10).await, Vec::<String>::new());

        let group = add_group(store.as_ref(), &scope, false, &[ids["alphabet"].clone()], NOW).await;
        let grouped = Scope::for_tests(scope.partner_id().to_owned(), Mode::Live, OrgScope::Group(group.id));
        assert_eq!(found("alpha", grouped, 10).await, ["alphabet"], "a group's own");
        let test_mode = Scope::for_tests(scope.partner_id().to_owned(), Mode::Test, OrgScope::All);
        assert_eq!(found("alpha", test_mode, 10).await, Vec::<String>::new(), "modes never mix");
    })
    .await;
}

#[tokio::test]
async fn members_are_found_by_the_start_of_their_name_in_name_order_within_scope() {
    on_every_backend(|store| async move {
        let scope = partner(store.as_ref()).await;
        let acme = organisation(store.as_ref(), &scope, "Acme").await;
        let other = organisation(store.as_ref(), &scope, "Other").await;
        let add = |organisation: String, email: &'static str, first: &'static str, last: &'static str, role| {
            let (store, scope) = (store.clone(), scope.clone());
            async move {
                let mut tx = store.begin().await.unwrap();
                assert!(tx.hold_organisation_for_new_member(&scope, &organisation).await.unwrap());
                let user = User {
                    first_name: Some(first.into()),
                    last_name: Some(last.into()),
                    ..new_user(&scope, email, NOW)
                };
                let user = tx.insert_user_unless_email_taken(&user).await.unwrap().unwrap();
                let membership = new_membership(&scope, &organisation, &user.id, role, NOW);
                assert!(matches!(tx.insert_membership(&membership).await.unwrap(), Inserted::Stored(_)));
                tx.commit().await.unwrap();
            }
        };
        add(acme.clone(), "ann@x.example", "Ann", "Lee", MembershipRole::Admin).await;
        add(acme.clone(), "anna@x.example", "anna", "Berg", MembershipRole::Standard).await;
        add(acme.clone(), "bob@x.example", "Bob", "Ann", MembershipRole::Standard).await;
        add(other.clone(), "andy@x.example", "Andy", "Other", MembershipRole::Standard).await;
        let emails = |found: Vec<Membership>| found.into_iter().map(|member| member.email).collect::<Vec<_>>();
        let everyone = MembershipFilter::default();
        let found = store.search_members(&scope, &acme, "AN", &everyone, 10).await.unwrap();
        assert_eq!(
            emails(found),
            ["ann@x.example", "anna@x.example"],
            "this organisation's, by first name then last, any case"
        );
        let found = store.search_members(&scope, &acme, "ann l", &everyone, 10).await.unwrap();
        assert_eq!(emails(found), ["ann@x.example"]);
        let found = store.search_members(&scope, &acme, "an", &everyone, 1).await.unwrap();
        assert_eq!(emails(found), ["ann@x.example"], "at most the limit");
        let admins = MembershipFilter { roles: Some(vec![MembershipRole::Standard]), ..MembershipFilter::default() };
        assert_eq!(emails(store.search_members(&scope, &acme, "an", &admins, 10).await.unwrap()), ["anna@x.example"]);
        let group = add_group(store.as_ref(), &scope, false, std::slice::from_ref(&other), NOW).await;
        let grouped = Scope::for_tests(scope.partner_id().to_owned(), Mode::Live, OrgScope::Group(group.id));
        assert_eq!(
            store.search_members(&grouped, &acme, "an", &everyone, 10).await.unwrap(),
            vec![],
            "outside the group"
        );
        let test_mode = Scope::for_tests(scope.partner_id().to_owned(), Mode::Test, OrgScope::All);
        assert_eq!(
            store.search_members(&test_mode, &acme, "an", &everyone, 10).await.unwrap(),
            vec![],
            "modes never mix"
        );
    })
    .await;
}
