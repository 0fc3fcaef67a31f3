//! The operations against every store: SQLite (file and memory) and PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set (CI sets it). The rules are decided here, once, with what
//! the store's transaction primitives read, so each case runs on every backend.

use std::{future::Future, sync::Arc, time::Duration};

use roster_app::{
    App, Caller, Config,
    memberships::{self, CreateMembership},
    users,
};
use roster_core::{
    Error, Field,
    model::{KeyHolder, KeyType, MembershipRole, MembershipStatus, Mode, OrganisationSettings},
    page::{ListQuery, Position, Sort, SortKey},
    policy::{Ability, OrgScope, Principal, Scope},
    provision::{KeySpec, issue_key, provision_partner},
    store::{
        GroupPatch, MembershipFilter, MembershipPatch, NewGroup, NewOrganisation, NewRole, NewUser, Store, UserPatch,
    },
    time::{ManualClock, Timestamp},
};
use roster_store::testing;

const START: Timestamp = Timestamp(1_700_000_000_000);

/// A partner on one backend, with the app serving it and the admin key's caller.
struct World {
    app: App,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    admin: Caller,
    scope: Scope,
}

impl World {
    async fn new(store: Arc<dyn Store>) -> Self {
        let clock = Arc::new(ManualClock::at(START));
        let app = App::new(store.clone(), Config { clock: clock.clone(), ..Config::default() });
        let provisioned = provision_partner("Acme".into(), START);
        testing::insert_partner(store.as_ref(), &provisioned).await;
        let live = provisioned.admin_keys.iter().find(|key| key.key.mode == Mode::Live).unwrap();
        let admin = caller(app.authenticate(&live.secret).await.unwrap());
        let scope = Scope::for_tests(provisioned.partner.id, Mode::Live, OrgScope::All);
        Self { app, clock, store, admin, scope }
    }

    async fn organisation(&self, name: &str) -> String {
        let new = NewOrganisation {
            name: name.into(),
            settings: OrganisationSettings { enforce_twofactor: false, abuse_contact_email: None },
        };
        roster_app::organisations::create(&self.app, &self.admin, new).await.unwrap().id
    }

    async fn add(&self, organisation_id: &str, email: &str, role: MembershipRole) -> roster_core::model::Membership {
        memberships::create(&self.app, &self.admin, membership(organisation_id, email, role)).await.unwrap()
    }

    /// Stores a key as issued, whoever would have been allowed to.
    async fn store_key(&self, issued: &roster_core::provision::IssuedKey) {
        let mut tx = self.store.begin().await.unwrap();
        tx.insert_api_key(&issued.key, &issued.secret_hash).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// A user token of `user_id`, acting from `address`.
    async fn user(&self, user_id: &str, address: Option<&str>) -> Caller {
        let spec = KeySpec {
            name: "token".into(),
            key_type: KeyType::UserToken,
            holder: KeyHolder::User(user_id.into()),
            abilities: Vec::new(),
            expires_at: None,
        };
        let issued = issue_key(self.scope.partner_id(), Mode::Live, spec, START);
        self.store_key(&issued).await;
        let mut user = caller(self.app.authenticate(&issued.secret).await.unwrap());
        user.address = address.map(|address| address.parse().unwrap());
        user
    }
}

fn caller(principal: Principal) -> Caller {
    Caller { principal, request_id: "req_test".into(), address: None }
}

fn membership(organisation_id: &str, email: &str, role: MembershipRole) -> CreateMembership {
    CreateMembership {
        organisation_id: organisation_id.into(),
        email: email.into(),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        role,
        status: MembershipStatus::Accepted,
        settings: MembershipPatch::default(),
    }
}

async fn on_every_backend<F, Fut>(case: F)
where
    F: Fn(World) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in testing::backends().await {
        eprintln!("backend: {}", backend.name);
        case(World::new(backend.store.clone()).await).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_finds_its_user_by_email_ignoring_case_and_is_one_per_organisation() {
    on_every_backend(|world| async move {
        let org = world.organisation("A").await;
        let first = world.add(&org, "Ada@Example.com", MembershipRole::Admin).await;
        assert_eq!((first.email.as_str(), first.created_at), ("Ada@Example.com", START), "dated by the clock");
        let again =
            memberships::create(&world.app, &world.admin, membership(&org, "ada@EXAMPLE.com", MembershipRole::Admin));
        assert_eq!(again.await, Err(Error::MembershipAlreadyExists { existing_id: first.id.clone() }));
        let other = world.organisation("B").await;
        let second = world.add(&other, "ADA@example.com", MembershipRole::Standard).await;
        assert_eq!(second.user_id, first.user_id, "the same user");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_users_are_never_members_and_a_refused_create_leaves_nothing_behind() {
    on_every_backend(|world| async move {
        let org = world.organisation("A").await;
        let staff =
            NewUser { email: "ops@example.com".into(), first_name: "O".into(), last_name: "P".into(), is_staff: true };
        users::create(&world.app, &world.admin, staff).await.unwrap();
        let refused =
            memberships::create(&world.app, &world.admin, membership(&org, "ops@example.com", MembershipRole::Admin));
        assert!(matches!(refused.await, Err(Error::InvalidRequest(_))));

        let mut with_roles = membership(&org, "new@example.com", MembershipRole::Standard);
        with_roles.settings.role_ids = Some(vec!["rol_nope".into()]);
        let Err(Error::Validation(errors)) = memberships::create(&world.app, &world.admin, with_roles).await else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].field, Field::RoleIds(0));
        let found = users::list(&world.app, &world.admin, Some("new@example.com"), &Default::default()).await;
        assert_eq!(found.unwrap().count, 0, "no user without its membership");

        let missing = memberships::create(
            &world.app,
            &world.admin,
            membership("org_missing", "x@example.com", MembershipRole::Admin),
        );
        let Err(Error::Validation(errors)) = missing.await else { panic!("expected a validation error") };
        assert_eq!(errors[0].field, Field::OrganisationId);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_and_the_last_owner_stay_while_others_remain() {
    on_every_backend(|world| async move {
        let org = world.organisation("A").await;
        let admin = world.add(&org, "admin@example.com", MembershipRole::Admin).await;
        let owner_patch = MembershipPatch { is_owner: Some(true), ..MembershipPatch::default() };
        memberships::update(&world.app, &world.admin, &admin.id, owner_patch).await.unwrap();
        let other = world.add(&org, "other@example.com", MembershipRole::Standard).await;

        let demote = MembershipPatch { role: Some(MembershipRole::Standard), ..MembershipPatch::default() };
        let refused = memberships::update(&world.app, &world.admin, &admin.id, demote.clone()).await;
        assert!(matches!(refused, Err(Error::MembershipUpdateForbidden(_))));
        let disown = MembershipPatch { is_owner: Some(false), ..MembershipPatch::default() };
        let refused = memberships::update(&world.app, &world.admin, &admin.id, disown).await;
        assert!(matches!(refused, Err(Error::MembershipUpdateForbidden(_))));
        let refused = memberships::delete(&world.app, &world.admin, &admin.id).await;
        assert!(matches!(refused, Err(Error::MembershipDeletionForbidden(_))));

        memberships::delete(&world.app, &world.admin, &other.id).await.unwrap();
        let alone = memberships::update(&world.app, &world.admin, &admin.id, demote).await.unwrap();
        assert_eq!(alone.settings.role, MembershipRole::Standard, "alone, it may be demoted");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_membership_clears_the_users_others_and_custom_roles_must_exist() {
    on_every_backend(|world| async move {
        let (a, b) = (world.organisation("A").await, world.organisation("B").await);
        let in_a = world.add(&a, "x@example.com", MembershipRole::Admin).await;
        let mut default_b = membership(&b, "x@example.com", MembershipRole::Admin);
        default_b.settings.is_default = Some(true);
        let in_b = memberships::create(&world.app, &world.admin, default_b).await.unwrap();
        world.clock.advance(Duration::from_secs(1));
        let make_default = MembershipPatch { is_default: Some(true), ..MembershipPatch::default() };
        let now_default = memberships::update(&world.app, &world.admin, &in_a.id, make_default).await.unwrap();
        assert!(now_default.settings.is_default);
        assert_eq!(now_default.updated_at, Timestamp(START.0 + 1000));
        assert!(!memberships::get(&world.app, &world.admin, &in_b.id).await.unwrap().settings.is_default);

        let role =
            NewRole { organisation_id: a.clone(), name: "billing".into(), permissions: vec!["invoices:*".into()] };
        let role = roster_app::roles::create(&world.app, &world.admin, role).await.unwrap();
        let roles =
            MembershipPatch { role_ids: Some(vec![role.id.clone(), "rol_nope".into()]), ..MembershipPatch::default() };
        let Err(Error::Validation(errors)) = memberships::update(&world.app, &world.admin, &in_a.id, roles).await
        else {
            panic!("expected a validation error")
        };
        assert_eq!(errors.iter().map(|e| e.field.clone()).collect::<Vec<_>>(), [Field::RoleIds(1)]);
        let roles = MembershipPatch { role_ids: Some(vec![role.id]), ..MembershipPatch::default() };
        memberships::update(&world.app, &world.admin, &in_a.id, roles).await.unwrap();
        let granted = memberships::effective_permissions(&world.app, &world.admin, &in_a.id).await.unwrap();
        assert!(granted.contains(&"invoices:*".to_owned()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_answer_and_leave_only_their_own_memberships_from_allowed_addresses() {
    on_every_backend(|world| async move {
        let org = world.organisation("A").await;
        let admin = world.add(&org, "admin@example.com", MembershipRole::Admin).await;
        let mut invitation = membership(&org, "guest@example.com", MembershipRole::Standard);
        invitation.status = MembershipStatus::Pending;
        invitation.settings.allowed_ips = Some(vec!["10.0.0.0/8".into()]);
        let invited = memberships::create(&world.app, &world.admin, invitation).await.unwrap();

        let outside = world.user(&invited.user_id, Some("192.0.2.1")).await;
        let answer = memberships::respond(&world.app, &outside, &invited.id, MembershipStatus::Accepted).await;
        assert_eq!(answer, Err(Error::Forbidden), "outside the allowed addresses");
        let unknown = world.user(&invited.user_id, None).await;
        let answer = memberships::respond(&world.app, &unknown, &invited.id, MembershipStatus::Accepted).await;
        assert_eq!(answer, Err(Error::Forbidden), "an unknown address fails every fence");
        let someone_else = world.user(&admin.user_id, Some("10.1.1.1")).await;
        let answer = memberships::respond(&world.app, &someone_else, &invited.id, MembershipStatus::Accepted).await;
        assert_eq!(answer, Err(Error::NotFound), "another user's invitation is not found");

        let guest = world.user(&invited.user_id, Some("10.1.1.1")).await;
        let accepted = memberships::respond(&world.app, &guest, &invited.id, MembershipStatus::Accepted).await.unwrap();
        assert_eq!(accepted.status, MembershipStatus::Accepted);
        let twice = memberships::respond(&world.app, &guest, &invited.id, MembershipStatus::Rejected).await;
        assert!(matches!(twice, Err(Error::Validation(ref errors)) if errors[0].field == Field::Status));

        let refused = memberships::leave(&world.app, &someone_else, &admin.id).await;
        assert!(matches!(refused, Err(Error::MembershipDeletionForbidden(_))), "the last admin stays");
        memberships::leave(&world.app, &guest, &invited.id).await.unwrap();
        assert_eq!(memberships::get(&world.app, &world.admin, &invited.id).await, Err(Error::NotFound));
        let keys_cannot = memberships::leave(&world.app, &world.admin, &admin.id).await;
        assert_eq!(keys_cannot, Err(Error::Unauthorised), "leaving is for users");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_stops_working_when_the_clock_passes_its_expiry() {
    on_every_backend(|world| async move {
        let spec = KeySpec {
            name: "short".into(),
            key_type: KeyType::Secret,
            holder: KeyHolder::Group(match &world.admin.principal {
                Principal::Key(key) => match &key.holder {
                    roster_core::policy::Holder::Group { id, .. } => id.clone(),
                    other => panic!("not a group key: {other:?}"),
                },
                other => panic!("not a key: {other:?}"),
            }),
            abilities: vec![Ability::All],
            expires_at: Some(Timestamp(START.0 + 60_000)),
        };
        let issued = issue_key(world.scope.partner_id(), Mode::Live, spec, START);
        world.store_key(&issued).await;
        assert!(world.app.authenticate(&issued.secret).await.is_ok());
        world.clock.advance(Duration::from_secs(60));
        // The credential memory is keyed by time too: a key past its expiry is refused at once.
        assert_eq!(world.app.authenticate(&issued.secret).await, Err(Error::Unauthorised));
        world.app.key_uses_recorded().await;
        let used = world.store.find_api_key(&issued.secret_hash).await.unwrap().unwrap().key.last_used_at;
        assert_eq!(used, Some(START), "its one use is recorded, at the clock's time");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_keeps_its_last_admin_group() {
    on_every_backend(|world| async move {
        let own_group =
            roster_app::groups::list(&world.app, &world.admin, &Default::default()).await.unwrap().items[0].clone();
        let demote = GroupPatch { is_admin: Some(false), ..GroupPatch::default() };
        let refused = roster_app::groups::update(&world.app, &world.admin, &own_group.id, demote.clone()).await;
        assert!(matches!(refused, Err(Error::InvalidRequest(_))), "a key keeps its own group's rights");

        // A key of another admin group reaches the first, and still may not remove the last.
        let other = NewGroup { name: "ops".into(), is_admin: false, organisation_ids: Vec::new() };
        let other = roster_app::groups::create(&world.app, &world.admin, other).await.unwrap();
        let spec = KeySpec {
            name: "ops".into(),
            key_type: KeyType::Secret,
            holder: KeyHolder::Group(other.id.clone()),
            abilities: vec![Ability::All],
            expires_at: None,
        };
        let issued = issue_key(world.scope.partner_id(), Mode::Live, spec, START);
        world.store_key(&issued).await;
        let promote = GroupPatch { is_admin: Some(true), ..GroupPatch::default() };
        roster_app::groups::update(&world.app, &world.admin, &other.id, promote).await.unwrap();
        let ops = caller(world.app.authenticate(&issued.secret).await.unwrap());

        roster_app::groups::update(&world.app, &ops, &own_group.id, demote.clone()).await.unwrap();
        let last = roster_app::groups::delete(&world.app, &world.admin, &other.id).await;
        assert!(matches!(last, Err(Error::InvalidRequest(ref message)) if message.contains("last")));
        let Err(Error::Validation(errors)) = roster_app::groups::update(
            &world.app,
            &ops,
            &own_group.id,
            GroupPatch { organisation_ids: Some(vec!["org_nope".into()]), ..GroupPatch::default() },
        )
        .await
        else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].field, Field::OrganisationIds(0));
        roster_app::groups::delete(&world.app, &ops, &own_group.id).await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_never_made_staff_and_a_scoped_key_changes_only_users_it_fully_reaches() {
    on_every_backend(|world| async move {
        let (a, b) = (world.organisation("A").await, world.organisation("B").await);
        let member = world.add(&a, "m@example.com", MembershipRole::Admin).await;
        world.add(&b, "m@example.com", MembershipRole::Admin).await;
        let staff = UserPatch { is_staff: Some(true), ..UserPatch::default() };
        let refused = users::update(&world.app, &world.admin, &member.user_id, staff).await;
        assert!(matches!(refused, Err(Error::InvalidRequest(_))));

        let spec = KeySpec {
            name: "a only".into(),
            key_type: KeyType::Secret,
            holder: KeyHolder::Organisation(a.clone()),
            abilities: vec![Ability::All],
            expires_at: None,
        };
        let issued = issue_key(world.scope.partner_id(), Mode::Live, spec, START);
        world.store_key(&issued).await;
        let org_key = caller(world.app.authenticate(&issued.secret).await.unwrap());
        let rename = UserPatch { first_name: Some("Grace".into()), ..UserPatch::default() };
        let refused = users::update(&world.app, &org_key, &member.user_id, rename.clone()).await;
        assert_eq!(refused, Err(Error::Forbidden), "the user is also a member of B");

        world.clock.advance(Duration::from_secs(2));
        let renamed = users::update(&world.app, &world.admin, &member.user_id, rename).await.unwrap();
        assert_eq!((renamed.first_name.as_deref(), renamed.updated_at), (Some("Grace"), Timestamp(START.0 + 2000)));
        world.add(&a, "taken@example.com", MembershipRole::Standard).await;
        let taken = UserPatch { email: Some("TAKEN@example.com".into()), ..UserPatch::default() };
        let refused = users::update(&world.app, &world.admin, &member.user_id, taken).await;
        assert_eq!(refused, Err(Error::UserAlreadyExists));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_read_and_manage_memberships_where_their_own_membership_allows() {
    on_every_backend(|world| async move {
        let (x, y) = (world.organisation("X").await, world.organisation("Y").await);
        let admin = world.add(&x, "admin@example.com", MembershipRole::Admin).await;
        let standard = world.add(&x, "standard@example.com", MembershipRole::Standard).await;
        let elsewhere = world.add(&y, "y@example.com", MembershipRole::Admin).await;
        let admin_user = world.user(&admin.user_id, None).await;
        let standard_user = world.user(&standard.user_id, None).await;

        let seen = memberships::list(&world.app, &admin_user, &Default::default(), &Default::default()).await.unwrap();
        let mut ids: Vec<_> = seen.items.iter().map(|m| m.id.clone()).collect();
        ids.sort();
        let mut expected = vec![admin.id.clone(), standard.id.clone()];
        expected.sort();
        assert_eq!(ids, expected, "X's memberships, not Y's");
        assert_eq!(memberships::get(&world.app, &admin_user, &elsewhere.id).await, Err(Error::NotFound));

        // STANDARD grants *:read: reading, not writing.
        assert!(memberships::get(&world.app, &standard_user, &admin.id).await.is_ok());
        let denied = memberships::create(
            &world.app,
            &standard_user,
            membership(&x, "new@example.com", MembershipRole::Standard),
        );
        assert_eq!(denied.await, Err(Error::Forbidden), "a member without the access is forbidden, not unaware");
        let added =
            memberships::create(&world.app, &admin_user, membership(&x, "new@example.com", MembershipRole::Standard));
        assert_eq!(added.await.unwrap().organisation_id, x);
        let refused = memberships::delete(&world.app, &standard_user, &admin.id).await;
        assert_eq!(refused, Err(Error::Forbidden));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_creates_once_then_changes_only_what_it_sends_and_can_require_an_owner() {
    on_every_backend(|world| async move {
        let org = world.organisation("A").await;
        let admin = world.add(&org, "admin@example.com", MembershipRole::Admin).await;
        let other_org = world.organisation("B").await;
        let user = world.add(&other_org, "u@example.com", MembershipRole::Standard).await.user_id;

        let permissions =
            MembershipPatch { permissions: Some(vec!["invoices:read".into()]), ..MembershipPatch::default() };
        let mut racers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (app, caller, org, user, patch) =
                (world.app.clone(), world.admin.clone(), org.clone(), user.clone(), permissions.clone());
            racers.spawn(async move {
                memberships::upsert(&app, &caller, &org, &user, patch, memberships::UserWrites::AsOwner).await
            });
        }
        let mut created = 0;
        while let Some(outcome) = racers.join_next().await {
            let upserted = outcome.unwrap().unwrap();
            created += usize::from(upserted.created);
            assert_eq!(upserted.membership.settings.permissions, vec!["invoices:read".to_owned()]);
            assert_eq!(
                (upserted.membership.settings.role, upserted.membership.status),
                (MembershipRole::Standard, MembershipStatus::Accepted)
            );
        }
        assert_eq!(created, 1, "one create, the others change it");

        let owner = MembershipPatch { is_owner: Some(true), ..MembershipPatch::default() };
        let changed =
            memberships::upsert(&world.app, &world.admin, &org, &user, owner, memberships::UserWrites::AsOwner)
                .await
                .unwrap();
        assert!(!changed.created);
        assert_eq!(changed.membership.settings.permissions, vec!["invoices:read".to_owned()], "unsent, kept");

        // The organisation's admin may write memberships, but is not an owner.
        let admin_user = world.user(&admin.user_id, None).await;
        let as_owner = memberships::upsert(
            &world.app,
            &admin_user,
            &org,
            &user,
            MembershipPatch::default(),
            memberships::UserWrites::AsOwner,
        );
        assert_eq!(as_owner.await.map(|u| u.created), Err(Error::Forbidden));
        let with_permission = memberships::upsert(
            &world.app,
            &admin_user,
            &org,
            &user,
            MembershipPatch::default(),
            memberships::UserWrites::WithPermission,
        );
        assert_eq!(with_permission.await.map(|u| u.created), Ok(false));
        let stranger = memberships::upsert(
            &world.app,
            &world.admin,
            &org,
            "usr_missing",
            MembershipPatch::default(),
            memberships::UserWrites::AsOwner,
        );
        assert_eq!(stranger.await.map(|u| u.created), Err(Error::NotFound));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_by_sets_sort_by_any_key_and_start_after_a_membership() {
    on_every_backend(|world| async move {
        let (a, b, c) = (world.organisation("A").await, world.organisation("B").await, world.organisation("C").await);
        let mut made = Vec::new();
        for (org, email) in [(&a, "1@example.com"), (&b, "2@example.com"), (&c, "3@example.com"), (&a, "4@example.com")]
        {
            made.push(world.add(org, email, MembershipRole::Admin).await);
            world.clock.advance(Duration::from_millis(10));
        }
        let owner = MembershipPatch { is_owner: Some(true), ..MembershipPatch::default() };
        memberships::update(&world.app, &world.admin, &made[0].id, owner).await.unwrap();
        let ids = |page: roster_core::page::ListPage<roster_core::model::Membership>| {
            page.items.into_iter().map(|m| m.id).collect::<Vec<_>>()
        };
        let list = |filter: MembershipFilter, query: ListQuery| {
            let (app, admin) = (world.app.clone(), world.admin.clone());
            async move { memberships::list(&app, &admin, &filter, &query).await }
        };

        let in_a_or_b = MembershipFilter { organisation_ids: Some(vec![a.clone(), b.clone()]), ..Default::default() };
        let page = list(in_a_or_b, ListQuery::default()).await.unwrap();
        assert_eq!((page.count, ids(page)), (3, vec![made[3].id.clone(), made[1].id.clone(), made[0].id.clone()]));
        let none = MembershipFilter { organisation_ids: Some(Vec::new()), ..Default::default() };
        assert_eq!(list(none, ListQuery::default()).await.unwrap().count, 0, "an empty set matches nothing");
        let accepted_admins = MembershipFilter {
            statuses: Some(vec![MembershipStatus::Accepted, MembershipStatus::Pending]),
            roles: Some(vec![MembershipRole::Admin]),
            ..Default::default()
        };
        assert_eq!(list(accepted_admins, ListQuery::default()).await.unwrap().count, 4);

        // Updated ascending: the owner change made the first one the most recently updated.
        let by_update =
            ListQuery { sort: vec![Sort { key: SortKey::Updated, descending: false }], ..ListQuery::default() };
        let order = ids(list(MembershipFilter::default(), by_update.clone()).await.unwrap());
        assert_eq!(order, [&made[1], &made[2], &made[3], &made[0]].map(|m| m.id.clone()));
        let by_organisation =
            ListQuery { sort: vec![Sort { key: SortKey::Organisation, descending: false }], ..ListQuery::default() };
        let grouped = list(MembershipFilter::default(), by_organisation).await.unwrap();
        let organisations: Vec<_> = grouped.items.iter().map(|m| m.organisation_id.clone()).collect();
        let mut sorted = organisations.clone();
        sorted.sort();
        assert_eq!(organisations, sorted);

        let after_second = ListQuery { position: Position::StartingAfter(made[2].id.clone()), ..ListQuery::default() };
        let rest = ids(list(MembershipFilter::default(), after_second).await.unwrap());
        assert_eq!(rest, vec![made[1].id.clone(), made[0].id.clone()], "newest first, after the one named");
        let unknown = ListQuery { position: Position::StartingAfter("mem_nope".into()), ..ListQuery::default() };
        let refused = list(MembershipFilter::default(), unknown).await;
        assert!(matches!(refused, Err(Error::Validation(ref errors)) if errors[0].field == Field::StartingAfter));
        let cursor_and_sort = ListQuery { position: Position::StartingAfter(made[2].id.clone()), ..by_update };
        assert!(matches!(list(MembershipFilter::default(), cursor_and_sort).await, Err(Error::InvalidRequest(_))));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_manages_memberships_only_from_the_addresses_its_membership_allows() {
    on_every_backend(|world| async move {
        let org = world.organisation("A").await;
        let mut fenced = membership(&org, "admin@example.com", MembershipRole::Admin);
        fenced.settings.allowed_ips = Some(vec!["10.0.0.0/8".into()]);
        let admin = memberships::create(&world.app, &world.admin, fenced).await.unwrap();
        let inside = world.user(&admin.user_id, Some("10.2.3.4")).await;
        let outside = world.user(&admin.user_id, Some("192.0.2.1")).await;
        assert!(memberships::get(&world.app, &inside, &admin.id).await.is_ok());
        assert_eq!(memberships::get(&world.app, &outside, &admin.id).await, Err(Error::Forbidden));
        let from_outside =
            memberships::create(&world.app, &outside, membership(&org, "new@example.com", MembershipRole::Standard));
        assert_eq!(from_outside.await, Err(Error::Forbidden));
        let from_inside =
            memberships::create(&world.app, &inside, membership(&org, "new@example.com", MembershipRole::Standard));
        assert!(from_inside.await.is_ok());
    })
    .await;
}

/// PostgreSQL only: whether a request waits on a lock is only observable with row locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_another_users_invitation_is_not_found_without_waiting_for_its_organisation() {
    let Some(base) = testing::postgres_url() else { return };
    let schema = testing::TestSchema::create(&base).await;
    let world = World::new(roster_store::open(&schema.url).await.unwrap()).await;
    let org = world.organisation("A").await;
    let mut invitation = membership(&org, "guest@example.com", MembershipRole::Standard);
    invitation.status = MembershipStatus::Pending;
    let invited = memberships::create(&world.app, &world.admin, invitation).await.unwrap();
    let other = world.add(&world.organisation("B").await, "other@example.com", MembershipRole::Admin).await;
    let stranger = world.user(&other.user_id, None).await;

    let mut holder = world.store.begin().await.unwrap();
    assert!(holder.lock_organisation(&world.scope, &org).await.unwrap());
    let answer = memberships::respond(&world.app, &stranger, &invited.id, MembershipStatus::Accepted);
    let answer = tokio::time::timeout(Duration::from_secs(10), answer).await;
    assert_eq!(answer.expect("it waited for the organisation's lock"), Err(Error::NotFound));
    let leave = tokio::time::timeout(Duration::from_secs(10), memberships::leave(&world.app, &stranger, &invited.id));
    assert_eq!(leave.await.expect("it waited for the organisation's lock"), Err(Error::NotFound));
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_other_than_memberships_refuse_a_sort_or_a_starting_after() {
    on_every_backend(|world| async move {
        let sorted = ListQuery { sort: vec![Sort { key: SortKey::Updated, descending: true }], ..ListQuery::default() };
        let after = ListQuery { position: Position::StartingAfter("usr_1".into()), ..ListQuery::default() };
        for query in [sorted, after] {
            let users = users::list(&world.app, &world.admin, None, &query).await;
            assert!(matches!(users, Err(Error::InvalidRequest(_))));
            let organisations = roster_app::organisations::list(&world.app, &world.admin, &query).await;
            assert!(matches!(organisations, Err(Error::InvalidRequest(_))));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_by_email_alone_makes_a_user_without_names_until_one_is_given() {
    on_every_backend(|world| async move {
        let org = world.organisation("A").await;
        let mut invitation = membership(&org, "nameless@example.com", MembershipRole::Standard);
        (invitation.first_name, invitation.last_name) = (None, None);
        invitation.status = MembershipStatus::Pending;
        let invited = memberships::create(&world.app, &world.admin, invitation).await.unwrap();
        assert_eq!((invited.first_name.as_deref(), invited.last_name.as_deref()), (None, None));
        let user = users::get(&world.app, &world.admin, &invited.user_id).await.unwrap();
        assert_eq!((user.first_name, user.last_name), (None, None));
        let named = UserPatch { first_name: Some("Ada".into()), ..UserPatch::default() };
        let user = users::update(&world.app, &world.admin, &invited.user_id, named).await.unwrap();
        assert_eq!((user.first_name.as_deref(), user.last_name.as_deref()), (Some("Ada"), None));
        let read = memberships::get(&world.app, &world.admin, &invited.id).await.unwrap();
        assert_eq!(read.first_name.as_deref(), Some("Ada"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_whose_organisation_was_deleted_since_it_was_read_is_left_out_of_its_description() {
    on_every_backend(|world| async move {
        let kept = world.organisation("Kept").await;
        let gone = world.organisation("Gone").await;
        let first =
            memberships::create(&world.app, &world.admin, membership(&kept, "ada@example.com", MembershipRole::Admin));
        let first = first.await.unwrap();
        let second =
            memberships::create(&world.app, &world.admin, membership(&gone, "ada@example.com", MembershipRole::Admin));
        second.await.unwrap();
        let ada = world.user(&first.user_id, None).await;
        let own = memberships::list_own(&world.app, &ada, Default::default(), &Default::default()).await.unwrap();
        assert_eq!(own.items.len(), 2);
        roster_app::organisations::delete(&world.app, &world.admin, &gone).await.unwrap();
        let described = memberships::describe_own(&world.app, &ada, own.items).await.unwrap();
        let organisations: Vec<&str> = described.iter().map(|own| own.organisation.id.as_str()).collect();
        assert_eq!(organisations, [kept.as_str()]);
    })
    .await;
}
