//! Memberships: managers (keys in scope) create, read, change and remove them; users answer
//! their invitations, leave, and read their own. The business rules (last admin, last owner,
//! staff users, uniqueness) hold inside each write's transaction.

use std::net::IpAddr;

use roster_core::{
    Error, Field, FieldError, ValidationCode,
    error::Result,
    ids,
    model::{Membership, MembershipRole, MembershipSettings, MembershipStatus, Organisation, Partner, Role, User},
    page::{ListPage, ListQuery, Listed, MAX_LIMIT, Position},
    permissions,
    policy::{self, Access, Principal, Resource, Scope},
    rules,
    store::{Inserted, MembershipFilter, MembershipPatch, Transaction, UserHold},
    time::Timestamp,
};

use crate::{App, Caller, Change};

/// A membership to create for a user found by e-mail (ignoring case), or created with the
/// names (none, for an invitation by e-mail alone) when none has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateMembership {
    pub organisation_id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: MembershipRole,
    /// `accepted`, or `pending` for an invitation its user answers. Only the user rejects.
    pub status: MembershipStatus,
    /// Settings beyond the role's defaults.
    pub settings: MembershipPatch,
}

/// The answer of `check`: whether the user may, and through which membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub allowed: bool,
    pub membership_id: Option<String>,
}

/// What a user principal needs in an organisation to write its memberships (keys are not
/// affected): the permission, or, as rebilly's reference says, the permission and `is_owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserWrites {
    WithPermission,
    AsOwner,
}

/// The scope in which the caller reads or manages memberships: a key's, or for a user, the
/// organisations where its own accepted membership grants `memberships:read|write` (spec §3).
pub(crate) async fn scope(app: &App, caller: &Caller, access: Access) -> Result<Scope> {
    scope_with(app, caller, access, UserWrites::WithPermission).await
}

async fn scope_with(app: &App, caller: &Caller, access: Access, writes: UserWrites) -> Result<Scope> {
    let Principal::User(user) = &caller.principal else {
        return caller.principal.key_scope(Resource::Memberships, access);
    };
    let required = policy::membership_permission(access);
    let owner_only = access == Access::Write && writes == UserWrites::AsOwner;
    let mut organisations = Vec::new();
    let filter = MembershipFilter {
        user_ids: Some(vec![user.user_id.clone()]),
        statuses: Some(vec![MembershipStatus::Accepted]),
        ..MembershipFilter::default()
    };
    let mut query = ListQuery { limit: MAX_LIMIT, ..ListQuery::default() };
    loop {
        let page = app.store.list_memberships(&user.scope(), &filter, &query).await?;
        for membership in &page.items {
            let granted = permissions_of(app, membership).await?;
            // A user acts through its membership only from the addresses it allows.
            let fenced_out = !permissions::address_allowed(&membership.settings.allowed_ips, caller.address);
            if permissions::allows(&granted, required) && (!owner_only || membership.settings.is_owner) && !fenced_out {
                organisations.push(membership.organisation_id.clone());
            }
        }
        match page.items.last().filter(|_| page.has_more) {
            Some(last) => query.position = Position::After(last.position()),
            None => break,
        }
    }
    Ok(user.member_scope(organisations))
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors. A user's access
/// depends on the organisation, so it is decided by each operation.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    match &caller.principal {
        Principal::User(_) => Ok(()),
        principal => principal.key_scope(Resource::Memberships, access).map(drop),
    }
}

pub async fn create(app: &App, caller: &Caller, new: CreateMembership) -> Result<Membership> {
    let scope = scope(app, caller, Access::Write).await?;
    if new.status == MembershipStatus::Rejected {
        return Err(Error::field(Field::Status, ValidationCode::InvalidChoice, "must be one of: accepted, pending"));
    }
    let now = app.now();
    let user = User {
        id: ids::new_id(ids::USER, now),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        email: new.email.clone(),
        first_name: new.first_name.clone(),
        last_name: new.last_name.clone(),
        is_staff: false,
        created_at: now,
        updated_at: now,
    };
    let membership = Membership {
        id: ids::new_id(ids::MEMBERSHIP, now),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        organisation_id: new.organisation_id,
        organisation_name: String::new(),
        user_id: String::new(),
        first_name: new.first_name,
        last_name: new.last_name,
        email: new.email,
        settings: new.settings.apply(&MembershipSettings::new(new.role)),
        status: new.status,
        created_at: now,
        updated_at: now,
    };
    let organisation_id = membership.organisation_id.clone();
    let created = app
        .transaction(caller, "membership.created", |tx| {
            let (scope, user, membership) = (scope.clone(), user.clone(), membership.clone());
            Box::pin(async move { create_in(tx, &scope, user, membership).await })
        })
        .await;
    forbidden_if_member(app, caller, &organisation_id, created).await
}

/// Adds `membership` for the user with `user`'s e-mail, creating `user` when there is none.
async fn create_in(
    tx: &mut dyn Transaction,
    scope: &Scope,
    user: User,
    mut membership: Membership,
) -> Result<(Membership, Change)> {
    if !tx.hold_organisation_for_new_member(scope, &membership.organisation_id).await? {
        return Err(Error::invalid_reference(Field::OrganisationId));
    }
    check_roles(tx, &membership.organisation_id, &membership.settings.role_ids).await?;
    // Insert-then-read finds the user whichever of two racing creates stored it, and holds it
    // (against being made staff, or, for a default, against any change) until the commit. A
    // user this transaction stored is held already: no other sees it before the commit.
    let member = match tx.insert_user_unless_email_taken(&user).await? {
        Some(stored) => stored,
        None => {
            let hold = if membership.settings.is_default { UserHold::Update } else { UserHold::Share };
            // Missing only when a concurrent change took the e-mail away after the insert found
            // it taken: the transaction runs again and finds the e-mail free.
            tx.user_by_email(scope, &user.email, hold).await?.ok_or(Error::Contention)?
        }
    };
    rules::check_new_member(member.is_staff)?;
    if membership.settings.is_default {
        check_reaches_every_membership(tx, scope, &member.id).await?;
    }
    membership.user_id = member.id.clone();
    let (created, change) = insert_member(tx, scope, &membership).await?;
    // The user found is the one this transaction stored when it has the id given to it.
    let change =
        if member.id == user.id { change.after_consequence("user.created", Change::created(member)) } else { change };
    Ok((created, change))
}

/// Stores the membership of a user found (held) and checked, unless the organisation already
/// has one for that user; a default clears the user's others.
async fn insert_member(
    tx: &mut dyn Transaction,
    scope: &Scope,
    membership: &Membership,
) -> Result<(Membership, Change)> {
    let created = match tx.insert_membership(membership).await? {
        Inserted::Stored(created) => created,
        Inserted::Existing(existing_id) => return Err(Error::MembershipAlreadyExists { existing_id }),
    };
    let cleared = if membership.settings.is_default {
        clear_other_defaults(tx, scope, &membership.user_id, &membership.id, membership.created_at).await?
    } else {
        Vec::new()
    };
    Ok((created.clone(), with_cleared_defaults(Change::created(created), cleared)))
}

/// A membership to create: for a user found by e-mail or created, or for an existing user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewMembership {
    ByEmail(CreateMembership),
    ForUser(CreateForUser),
}

/// What [`create_unless_member`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatedOrFound {
    Created(Membership),
    /// The user already was a member: the membership as stored, unchanged.
    Found(Membership),
}

/// Creates the membership, or finds the one the user already has in the organisation (hsrc's
/// create). A membership found while being deleted is created again: a create never answers
/// that something is missing because of a concurrent delete.
pub async fn create_unless_member(app: &App, caller: &Caller, new: NewMembership) -> Result<CreatedOrFound> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let created = match new.clone() {
            NewMembership::ByEmail(new) => create(app, caller, new).await,
            NewMembership::ForUser(new) => create_for_user(app, caller, new).await,
        };
        let existing_id = match created {
            Ok(membership) => return Ok(CreatedOrFound::Created(membership)),
            Err(Error::MembershipAlreadyExists { existing_id }) => existing_id,
            Err(other) => return Err(other),
        };
        // Read in the scope the caller created in: it may write there without reading.
        let scope = scope(app, caller, Access::Write).await?;
        match app.store.get_membership(&scope, &existing_id).await {
            Ok(found) => return Ok(CreatedOrFound::Found(found)),
            Err(Error::NotFound) => {}
            Err(other) => return Err(other),
        }
    }
    Err(Error::Contention)
}

/// A membership to create for an existing user of the caller's partner and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateForUser {
    pub organisation_id: String,
    pub user_id: String,
    pub role: MembershipRole,
    pub status: MembershipStatus,
    pub settings: MembershipPatch,
}

/// Adds a membership for an existing user; an organisation or a user that is missing or out of
/// scope is an invalid reference of its field (a user with an accepted membership in the
/// organisation but without the access is `Forbidden`).
pub async fn create_for_user(app: &App, caller: &Caller, new: CreateForUser) -> Result<Membership> {
    let organisation_id = new.organisation_id.clone();
    let scope = scope(app, caller, Access::Write).await?;
    let membership = new_for_user(app, &scope, new)?;
    let created = app
        .transaction(caller, "membership.created", |tx| {
            let (scope, membership) = (scope.clone(), membership.clone());
            Box::pin(async move { create_for_user_in(tx, &scope, membership, Missing::InvalidReference).await })
        })
        .await;
    forbidden_if_member(app, caller, &organisation_id, created).await
}

/// How an organisation or user that is missing or out of scope answers: not found where a path
/// names it (rebilly's pair), an invalid reference of its field where a body or query does
/// (hsrc), forbidden where it names the caller's own context (rebilly's `{currentOrg}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    NotFound,
    InvalidReference,
    Forbidden,
}

impl Missing {
    fn of(self, field: Field) -> Error {
        match self {
            Self::NotFound => Error::NotFound,
            Self::InvalidReference => Error::invalid_reference(field),
            Self::Forbidden => Error::Forbidden,
        }
    }
}

fn new_for_user(app: &App, scope: &Scope, new: CreateForUser) -> Result<Membership> {
    if new.status == MembershipStatus::Rejected {
        return Err(Error::field(Field::Status, ValidationCode::InvalidChoice, "must be one of: accepted, pending"));
    }
    let now = app.now();
    Ok(Membership {
        id: ids::new_id(ids::MEMBERSHIP, now),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        organisation_id: new.organisation_id,
        organisation_name: String::new(),
        user_id: new.user_id,
        first_name: None,
        last_name: None,
        email: String::new(),
        settings: new.settings.apply(&MembershipSettings::new(new.role)),
        status: new.status,
        created_at: now,
        updated_at: now,
    })
}

async fn create_for_user_in(
    tx: &mut dyn Transaction,
    scope: &Scope,
    membership: Membership,
    missing: Missing,
) -> Result<(Membership, Change)> {
    if !tx.hold_organisation_for_new_member(scope, &membership.organisation_id).await? {
        return Err(missing.of(Field::OrganisationId));
    }
    let hold = if membership.settings.is_default { UserHold::Update } else { UserHold::Share };
    let member = tx.user_by_id(scope, &membership.user_id, hold).await?.ok_or_else(|| missing.of(Field::UserId))?;
    check_roles(tx, &membership.organisation_id, &membership.settings.role_ids).await?;
    rules::check_new_member(member.is_staff)?;
    if membership.settings.is_default {
        check_reaches_every_membership(tx, scope, &member.id).await?;
    }
    insert_member(tx, scope, &membership).await
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    pub membership: Membership,
    pub created: bool,
}

/// Changes the settings `patch` sends of the user's membership in the organisation, or, when it
/// has none, creates an accepted STANDARD one with them (rebilly's PUT). A user principal writes
/// as `writes` says. Two racing upserts of one pair create it once and change it once.
pub async fn upsert(
    app: &App,
    caller: &Caller,
    organisation_id: &str,
    user_id: &str,
    patch: MembershipPatch,
    writes: UserWrites,
) -> Result<Upserted> {
    let scope = scope_with(app, caller, Access::Write, writes).await?;
    let owner = acting_owner(caller, writes);
    let upserted = upsert_in_scope(app, caller, &scope, organisation_id, user_id, patch, owner).await;
    forbidden_if_member(app, caller, organisation_id, upserted).await
}

/// The user who must still be an owner when its write commits: a user writing as an owner.
fn acting_owner(caller: &Caller, writes: UserWrites) -> Option<String> {
    match &caller.principal {
        Principal::User(user) if writes == UserWrites::AsOwner => Some(user.user_id.clone()),
        _ => None,
    }
}

/// The owner check of `scope_with`, again under the organisation's lock: the scope was
/// computed before the transaction, and a demotion committed since must win (a demoted owner
/// never writes after its demotion). Rules and roles are not re-read; `is_owner` and the
/// status are what a demotion changes.
async fn check_still_owner(
    tx: &mut dyn Transaction,
    scope: &Scope,
    organisation_id: &str,
    user_id: &str,
) -> Result<()> {
    let still = match tx.membership_id(organisation_id, user_id).await? {
        Some(id) => {
            let own = tx.get_membership(scope, &id).await?;
            own.status == MembershipStatus::Accepted && own.settings.is_owner
        }
        None => false,
    };
    if still { Ok(()) } else { Err(Error::Forbidden) }
}

async fn upsert_in_scope(
    app: &App,
    caller: &Caller,
    scope: &Scope,
    organisation_id: &str,
    user_id: &str,
    patch: MembershipPatch,
    owner: Option<String>,
) -> Result<Upserted> {
    let new = CreateForUser {
        organisation_id: organisation_id.to_owned(),
        user_id: user_id.to_owned(),
        role: MembershipRole::Standard,
        status: MembershipStatus::Accepted,
        settings: patch.clone(),
    };
    let membership = new_for_user(app, scope, new)?;
    let now = app.now();
    app.transaction(caller, "membership.upserted", |tx| {
        let (scope, membership, patch, owner) = (scope.clone(), membership.clone(), patch.clone(), owner.clone());
        Box::pin(async move {
            // Whether it creates or changes is decided under the organisation's lock, so racing
            // upserts of the organisation take turns instead of deadlocking on the upgrade from
            // a create's hold to a change's.
            if !tx.lock_organisation(&scope, &membership.organisation_id).await? {
                return Err(Error::NotFound);
            }
            if let Some(owner) = &owner {
                check_still_owner(tx, &scope, &membership.organisation_id, owner).await?;
            }
            let existing_id = match tx.membership_id(&membership.organisation_id, &membership.user_id).await? {
                Some(id) => id,
                None => match create_for_user_in(tx, &scope, membership, Missing::NotFound).await {
                    Ok((created, change)) => return Ok((Upserted { membership: created, created: true }, change)),
                    // A racing upsert created it first: this one changes it.
                    Err(Error::MembershipAlreadyExists { existing_id }) => existing_id,
                    Err(other) => return Err(other),
                },
            };
            let (membership, change) = update_in(tx, &scope, &existing_id, &patch, now).await?;
            Ok((Upserted { membership, created: false }, change))
        })
    })
    .await
}

/// `role_ids` must name custom roles of the organisation.
async fn check_roles(tx: &mut dyn Transaction, organisation_id: &str, role_ids: &[String]) -> Result<()> {
    let missing = tx.missing_roles(organisation_id, role_ids).await?;
    Error::unless_invalid(
        missing
            .into_iter()
            .map(|index| FieldError::new(Field::RoleIds(index), ValidationCode::InvalidReference, "does not exist"))
            .collect(),
    )
}

/// A default membership clears the user's other defaults, so the caller must reach every
/// membership of the user (the rule of `rules::check_user_update`).
async fn check_reaches_every_membership(tx: &mut dyn Transaction, scope: &Scope, user_id: &str) -> Result<()> {
    let (has_memberships, outside) = tx.membership_reach(scope, user_id).await?;
    rules::check_user_update(outside, has_memberships, false)
}

pub async fn list(
    app: &App,
    caller: &Caller,
    filter: &MembershipFilter,
    query: &ListQuery,
) -> Result<ListPage<Membership>> {
    let scope = scope(app, caller, Access::Read).await?;
    let query = resolve_position(app, &scope, query, filter.organisation_ids.as_deref()).await?;
    app.store.list_memberships(&scope, filter, &query).await
}

/// The memberships of `organisation_id` the caller reads whose people's names start with
/// `prefix`, of the statuses and roles `filter` names, in name order, at most `limit` (found
/// among the first 10,000 of the partner's people with such names).
pub async fn search_by_name(
    app: &App,
    caller: &Caller,
    organisation_id: &str,
    prefix: &str,
    filter: &MembershipFilter,
    limit: u32,
) -> Result<Vec<Membership>> {
    let scope = scope(app, caller, Access::Read).await?;
    app.store.search_members(&scope, organisation_id, prefix, filter, limit).await
}

/// Cursors page the newest-first order only, and `starting_after` names a membership the
/// caller sees, in one of `organisations` when the list names them: it becomes that
/// membership's cursor.
async fn resolve_position(
    app: &App,
    scope: &Scope,
    query: &ListQuery,
    organisations: Option<&[String]>,
) -> Result<ListQuery> {
    match &query.position {
        Position::Offset(_) => Ok(query.clone()),
        Position::After(_) | Position::StartingAfter(_) if !query.newest_first() => Err(Error::InvalidRequest(
            "a cursor pages the newest-first order only; page another order with an offset".to_owned(),
        )),
        Position::After(_) => Ok(query.clone()),
        Position::StartingAfter(id) => match app.store.get_membership(scope, id).await {
            Ok(after) if organisations.is_some_and(|named| !named.contains(&after.organisation_id)) => {
                Err(Error::invalid_reference(Field::StartingAfter))
            }
            Ok(after) => Ok(ListQuery { position: Position::After(after.position()), ..query.clone() }),
            Err(Error::NotFound) => Err(Error::invalid_reference(Field::StartingAfter)),
            Err(other) => Err(other),
        },
    }
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<Membership> {
    let found = app.store.get_membership(&scope(app, caller, Access::Read).await?, id).await;
    forbidden_if_member_by_id(app, caller, id, found).await
}

/// The membership of `user_id` in `organisation_id`, if there is one; `NotFound` when the
/// organisation is missing or out of scope.
pub async fn find_by_pair(
    app: &App,
    caller: &Caller,
    organisation_id: &str,
    user_id: &str,
) -> Result<Option<Membership>> {
    let scope = scope(app, caller, Access::Read).await?;
    let found = app.store.find_membership(&scope, organisation_id, user_id).await;
    let found = forbidden_if_member(app, caller, organisation_id, found).await?;
    Ok(found.map(|found| found.membership))
}

/// `outcome`, unless it says the organisation is missing or out of scope (`NotFound`, or an
/// invalid reference of the organisation) to a user with an accepted membership there: the
/// scope left the organisation out because that membership does not grant the access or
/// fences out the caller's address, so it is `Forbidden` (spec §2).
async fn forbidden_if_member<T>(app: &App, caller: &Caller, organisation_id: &str, outcome: Result<T>) -> Result<T> {
    let Principal::User(user) = &caller.principal else {
        return outcome;
    };
    let says_missing = match &outcome {
        Err(Error::NotFound) => true,
        Err(Error::Validation(fields)) => fields
            .iter()
            .any(|error| error.field == Field::OrganisationId && error.code == ValidationCode::InvalidReference),
        _ => false,
    };
    if !says_missing {
        return outcome;
    }
    // An organisation of another partner or mode is not found here either: the outcome stands.
    match app.store.find_membership(&user.scope(), organisation_id, &user.user_id).await {
        Ok(Some(own)) if own.membership.status == MembershipStatus::Accepted => Err(Error::Forbidden),
        Ok(_) | Err(Error::NotFound) => outcome,
        Err(other) => Err(other),
    }
}

/// `outcome` of an operation on membership `id`, with [`forbidden_if_member`] applied to the
/// organisation the membership is in.
async fn forbidden_if_member_by_id<T>(app: &App, caller: &Caller, id: &str, outcome: Result<T>) -> Result<T> {
    let (Err(Error::NotFound), Principal::User(user)) = (&outcome, &caller.principal) else {
        return outcome;
    };
    match app.store.get_membership(&user.scope(), id).await {
        Ok(target) => forbidden_if_member(app, caller, &target.organisation_id, outcome).await,
        Err(_) => outcome,
    }
}

/// Whether the caller may use memberships with `access` in `organisation_id`: an organisation
/// that is missing or out of scope answers as `missing` says (hsrc's `account_id`, rebilly's
/// `{currentOrg}`), and `Forbidden` to a user whose membership there does not grant the access.
pub async fn require_organisation(
    app: &App,
    caller: &Caller,
    organisation_id: &str,
    access: Access,
    missing: Missing,
) -> Result<()> {
    let scope = scope(app, caller, access).await?;
    let found = match app.store.get_organisation(&scope, organisation_id).await {
        Ok(_) => Ok(()),
        Err(Error::NotFound) => Err(missing.of(Field::OrganisationId)),
        Err(other) => Err(other),
    };
    forbidden_if_member(app, caller, organisation_id, found).await
}

/// Removes the user's membership in the organisation (rebilly's DELETE). A user principal
/// leaves its own membership (rules 1–2 and its address fence apply) and removes another
/// user's as `writes` says; `NotFound` when there is none in scope.
pub async fn delete_by_pair(
    app: &App,
    caller: &Caller,
    organisation_id: &str,
    user_id: &str,
    writes: UserWrites,
) -> Result<()> {
    if let Principal::User(user) = &caller.principal
        && user.user_id == user_id
    {
        let own = app.store.find_membership(&user.scope(), organisation_id, user_id).await?;
        let id = own.ok_or(Error::NotFound)?.membership.id;
        return leave(app, caller, &id).await;
    }
    let scope = scope_with(app, caller, Access::Write, writes).await?;
    let found = app.store.find_membership(&scope, organisation_id, user_id).await;
    let found = forbidden_if_member(app, caller, organisation_id, found).await?;
    let id = found.ok_or(Error::NotFound)?.membership.id;
    let owner = acting_owner(caller, writes);
    app.transaction(caller, "membership.deleted", |tx| {
        let (scope, id, owner, organisation_id) =
            (scope.clone(), id.clone(), owner.clone(), organisation_id.to_owned());
        Box::pin(async move {
            if let Some(owner) = &owner {
                if !tx.lock_organisation(&scope, &organisation_id).await? {
                    return Err(Error::NotFound);
                }
                check_still_owner(tx, &scope, &organisation_id, owner).await?;
            }
            delete_in(tx, &scope, &id, None).await
        })
    })
    .await
}

/// Only the settings sent change.
pub async fn update(app: &App, caller: &Caller, id: &str, patch: MembershipPatch) -> Result<Membership> {
    let scope = scope(app, caller, Access::Write).await?;
    let now = app.now();
    let updated = app
        .transaction(caller, "membership.updated", |tx| {
            let (scope, id, patch) = (scope.clone(), id.to_owned(), patch.clone());
            Box::pin(async move { update_in(tx, &scope, &id, &patch, now).await })
        })
        .await;
    forbidden_if_member_by_id(app, caller, id, updated).await
}

async fn update_in(
    tx: &mut dyn Transaction,
    scope: &Scope,
    id: &str,
    patch: &MembershipPatch,
    now: Timestamp,
) -> Result<(Membership, Change)> {
    let current = tx.lock_membership(scope, id).await?;
    if let Some(role_ids) = &patch.role_ids {
        check_roles(tx, &current.organisation_id, role_ids).await?;
    }
    let next = patch.apply(&current.settings);
    if next == current.settings {
        return Ok((current, Change::none()));
    }
    if rules::needs_tally(&current.settings, &next) {
        let tally = tx.tally(&current.organisation_id, &current.id).await?;
        rules::check_update(current.status, &current.settings, &next, tally)?;
    }
    let becomes_default = next.is_default && !current.settings.is_default;
    if becomes_default {
        tx.hold_user(&current.user_id).await?;
        check_reaches_every_membership(tx, scope, &current.user_id).await?;
    }
    let updated = tx.update_membership(&Membership { settings: next, updated_at: now, ..current.clone() }).await?;
    let cleared =
        if becomes_default { clear_other_defaults(tx, scope, &current.user_id, id, now).await? } else { Vec::new() };
    Ok((updated.clone(), with_cleared_defaults(Change::updated(current, updated), cleared)))
}

/// Clears `is_default` on the user's memberships other than `except` (the caller reaches every
/// membership of the user: `check_reaches_every_membership`); each one changed, as its update.
async fn clear_other_defaults(
    tx: &mut dyn Transaction,
    scope: &Scope,
    user_id: &str,
    except: &str,
    now: Timestamp,
) -> Result<Vec<Change>> {
    let mut cleared = Vec::new();
    for id in tx.clear_other_defaults(user_id, except, now).await? {
        let after = tx.get_membership(scope, &id).await?;
        // Only `is_default` (and `updated_at`) changed: the membership before is the one after
        // with it set.
        let before =
            Membership { settings: MembershipSettings { is_default: true, ..after.settings.clone() }, ..after.clone() };
        cleared.push(Change::updated(before, after));
    }
    Ok(cleared)
}

/// `change`, having cleared the defaults `cleared` on its way.
fn with_cleared_defaults(change: Change, cleared: Vec<Change>) -> Change {
    cleared.into_iter().fold(change, |change, other| change.after_consequence("membership.updated", other))
}

pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(app, caller, Access::Write).await?;
    let deleted = app
        .transaction(caller, "membership.deleted", |tx| {
            let (scope, id) = (scope.clone(), id.to_owned());
            Box::pin(async move { delete_in(tx, &scope, &id, None).await })
        })
        .await;
    forbidden_if_member_by_id(app, caller, id, deleted).await
}

/// Removes the membership, unless it is the last admin or owner (rules 1–2). With `member`,
/// only that user's own membership is found, and it is left only from an allowed address.
async fn delete_in(
    tx: &mut dyn Transaction,
    scope: &Scope,
    id: &str,
    member: Option<(&str, Option<IpAddr>)>,
) -> Result<((), Change)> {
    if let Some((user_id, _)) = member {
        check_owned(tx, scope, id, user_id).await?;
    }
    let current = tx.lock_membership(scope, id).await?;
    if let Some((_, address)) = member {
        require_allowed_address(&current, address)?;
    }
    if current.status == MembershipStatus::Accepted {
        let tally = tx.tally(&current.organisation_id, &current.id).await?;
        rules::check_delete(current.status, &current.settings, tally)?;
    }
    tx.delete_membership(id).await?;
    Ok(((), Change::deleted(current)))
}

/// What the membership lets its user do, sorted and without duplicates.
pub async fn effective_permissions(app: &App, caller: &Caller, id: &str) -> Result<Vec<String>> {
    let membership = get(app, caller, id).await?;
    permissions_of(app, &membership).await
}

async fn permissions_of(app: &App, membership: &Membership) -> Result<Vec<String>> {
    let from_roles = app.store.role_permissions(&membership.organisation_id, &membership.settings.role_ids).await?;
    Ok(permissions::effective(membership.status, &membership.settings, &from_roles))
}

/// May `user_id` do `permission` in `organisation_id`, from `address` when one is given?
pub async fn check(
    app: &App,
    caller: &Caller,
    organisation_id: &str,
    user_id: &str,
    permission: &str,
    address: Option<IpAddr>,
) -> Result<Check> {
    let scope = scope(app, caller, Access::Read).await?;
    let Some(found) = app.store.find_membership(&scope, organisation_id, user_id).await? else {
        return Ok(Check { allowed: false, membership_id: None });
    };
    let membership = found.membership;
    let granted = permissions::effective(membership.status, &membership.settings, &found.role_permissions);
    let allowed = permissions::allows(&granted, permission)
        && address.is_none_or(|ip| permissions::address_allowed(&membership.settings.allowed_ips, Some(ip)));
    Ok(Check { allowed, membership_id: Some(membership.id) })
}

/// What memberships refer to beyond themselves that a wire format shows beside them
/// (commercelayer's `include`): their organisations, and one custom role of each.
#[derive(Debug, Clone, Copy, Default)]
pub struct References {
    pub organisations: bool,
    /// The custom role of a membership to read, if it shows one.
    pub role: Option<fn(&Membership) -> Option<&str>>,
}

/// The organisations and custom roles that memberships refer to, each read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Referenced {
    pub organisations: Vec<Organisation>,
    pub roles: Vec<Role>,
}

/// How often memberships are read again when something they refer to was deleted between the
/// two reads, before the request is answered `Unavailable`.
const CONSISTENT_READ_ATTEMPTS: usize = 3;

/// Membership `id` with what it refers to, as of one moment: when a referenced organisation or
/// role is gone by the time it is looked up, a concurrent delete changed (or removed) the
/// membership, so it is read again; the answer is as if the delete came first.
pub async fn get_with_references(
    app: &App,
    caller: &Caller,
    id: &str,
    references: References,
) -> Result<(Membership, Referenced)> {
    for _ in 0..CONSISTENT_READ_ATTEMPTS {
        let membership = get(app, caller, id).await?;
        if let Some(found) = referenced(app, caller, std::slice::from_ref(&membership), references).await? {
            return Ok((membership, found));
        }
    }
    Err(Error::Unavailable)
}

/// A page of memberships with what they refer to, read as `get_with_references` reads one.
pub async fn list_with_references(
    app: &App,
    caller: &Caller,
    filter: &MembershipFilter,
    query: &ListQuery,
    references: References,
) -> Result<(ListPage<Membership>, Referenced)> {
    for _ in 0..CONSISTENT_READ_ATTEMPTS {
        let page = list(app, caller, filter, query).await?;
        if let Some(found) = referenced(app, caller, &page.items, references).await? {
            return Ok((page, found));
        }
    }
    Err(Error::Unavailable)
}

/// What `memberships` refer to, read in the scope where the caller reads memberships; `None`
/// when one of them is missing (deleted since the memberships were read).
async fn referenced(
    app: &App,
    caller: &Caller,
    memberships: &[Membership],
    references: References,
) -> Result<Option<Referenced>> {
    let mut found = Referenced::default();
    if memberships.is_empty() || (!references.organisations && references.role.is_none()) {
        return Ok(Some(found));
    }
    let scope = scope(app, caller, Access::Read).await?;
    if references.organisations {
        for id in unique(memberships.iter().map(|membership| membership.organisation_id.as_str())) {
            match app.store.get_organisation(&scope, id).await {
                Ok(organisation) => found.organisations.push(organisation),
                Err(Error::NotFound) => return Ok(None),
                Err(other) => return Err(other),
            }
        }
    }
    if let Some(role_of) = references.role {
        for id in unique(memberships.iter().filter_map(role_of)) {
            match app.store.get_role(&scope, id).await {
                Ok(role) => found.roles.push(role),
                Err(Error::NotFound) => return Ok(None),
                Err(other) => return Err(other),
            }
        }
    }
    Ok(Some(found))
}

fn unique<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for id in ids {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

/// Asks for the invitation of pending membership `id` to be sent again (commercelayer's
/// `resend`): the caller must be able to change it, and it must still be pending. Roster sends
/// no mail itself, so there is nothing more to do.
pub async fn resend_invitation(app: &App, caller: &Caller, id: &str) -> Result<Membership> {
    let scope = scope(app, caller, Access::Write).await?;
    let found = app.store.get_membership(&scope, id).await;
    let membership = forbidden_if_member_by_id(app, caller, id, found).await?;
    if membership.status != MembershipStatus::Pending {
        let message = "only a pending membership's invitation can be resent";
        return Err(Error::field(Field::Status, ValidationCode::InvalidChoice, message));
    }
    Ok(membership)
}

/// Whether the caller may act on its own memberships: users alone.
pub fn authorise_own(caller: &Caller) -> Result<()> {
    caller.principal.require_user().map(drop)
}

/// The user's own memberships that `filter` matches (its `user_ids` are the caller's).
pub async fn list_own(
    app: &App,
    caller: &Caller,
    filter: MembershipFilter,
    query: &ListQuery,
) -> Result<ListPage<Membership>> {
    let user = caller.principal.require_user()?;
    let filter = MembershipFilter { user_ids: Some(vec![user.user_id.clone()]), ..filter };
    let scope = user.scope();
    let query = resolve_position(app, &scope, query, None).await?;
    app.store.list_memberships(&scope, &filter, &query).await
}

/// A user's own membership with what it shows beyond itself: its organisation, the partner
/// managing it, its custom roles' names (in `role_ids` order) and the permissions it grants
/// once accepted (what accepting an invitation would grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnMembership {
    pub membership: Membership,
    pub organisation: Organisation,
    pub partner: Partner,
    pub role_names: Vec<String>,
    pub grants_once_accepted: Vec<String>,
}

/// `memberships` (the caller's own, as `list_own` and `get_own` give them) described; one
/// whose organisation was deleted since it was read is left out.
pub async fn describe_own(app: &App, caller: &Caller, memberships: Vec<Membership>) -> Result<Vec<OwnMembership>> {
    let user = caller.principal.require_user()?;
    let scope = user.scope();
    let partner = app.store.get_partner(scope.partner_id()).await?;
    let mut described = Vec::with_capacity(memberships.len());
    for membership in memberships {
        // Deleted since the memberships were read: as if the delete came first.
        let organisation = match app.store.get_organisation(&scope, &membership.organisation_id).await {
            Ok(organisation) => organisation,
            Err(Error::NotFound) => continue,
            Err(other) => return Err(other),
        };
        let mut roles = Vec::new();
        for id in &membership.settings.role_ids {
            match app.store.get_role(&scope, id).await {
                Ok(role) => roles.push(role),
                // Deleted since: it grants nothing and has no name.
                Err(Error::NotFound) => {}
                Err(other) => return Err(other),
            }
        }
        let from_roles: Vec<String> = roles.iter().flat_map(|role| role.permissions.iter().cloned()).collect();
        let grants_once_accepted =
            permissions::effective(MembershipStatus::Accepted, &membership.settings, &from_roles);
        described.push(OwnMembership {
            role_names: roles.into_iter().map(|role| role.name).collect(),
            grants_once_accepted,
            organisation,
            partner: partner.clone(),
            membership,
        });
    }
    Ok(described)
}

/// One of the user's own memberships; anyone else's is not found.
pub async fn get_own(app: &App, caller: &Caller, id: &str) -> Result<Membership> {
    let user = caller.principal.require_user()?;
    let membership = app.store.get_membership(&user.scope(), id).await?;
    if membership.user_id != user.user_id {
        return Err(Error::NotFound);
    }
    Ok(membership)
}

/// Another user's membership is not found, before its organisation is locked: a user never
/// holds up the writes of an organisation it is not a member of.
async fn check_owned(tx: &mut dyn Transaction, scope: &Scope, id: &str, user_id: &str) -> Result<()> {
    if tx.get_membership(scope, id).await?.user_id != user_id {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// A user acts through its own membership (`check_owned`) only from one of its allowed
/// addresses.
fn require_allowed_address(membership: &Membership, address: Option<IpAddr>) -> Result<()> {
    if !permissions::address_allowed(&membership.settings.allowed_ips, address) {
        return Err(Error::Forbidden);
    }
    Ok(())
}

/// The user accepts or rejects one of its pending invitations.
pub async fn respond(app: &App, caller: &Caller, id: &str, answer: MembershipStatus) -> Result<Membership> {
    let user = caller.principal.require_user()?;
    if answer == MembershipStatus::Pending {
        return Err(Error::field(Field::Status, ValidationCode::InvalidChoice, "must be one of: accepted, rejected"));
    }
    let (scope, now) = (user.scope(), app.now());
    let operation = if answer == MembershipStatus::Accepted { "membership.accepted" } else { "membership.rejected" };
    app.transaction(caller, operation, |tx| {
        let (scope, id, user_id) = (scope.clone(), id.to_owned(), user.user_id.clone());
        let address = caller.address;
        Box::pin(async move {
            // Accepting changes who counts for rules 1–2, so it takes the organisation's lock.
            check_owned(tx, &scope, &id, &user_id).await?;
            let current = tx.lock_membership(&scope, &id).await?;
            require_allowed_address(&current, address)?;
            if current.status != MembershipStatus::Pending {
                let message = format!("only a pending membership can change to {}", answer.as_str());
                return Err(Error::field(Field::Status, ValidationCode::InvalidChoice, message));
            }
            let answered =
                tx.update_membership(&Membership { status: answer, updated_at: now, ..current.clone() }).await?;
            Ok((answered.clone(), Change::updated(current, answered)))
        })
    })
    .await
}

/// The user leaves the organisation; the last admin and the last owner cannot (rules 1–2).
pub async fn leave(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let user = caller.principal.require_user()?;
    let scope = user.scope();
    app.transaction(caller, "membership.left", |tx| {
        let (scope, id, user_id) = (scope.clone(), id.to_owned(), user.user_id.clone());
        let address = caller.address;
        Box::pin(async move { delete_in(tx, &scope, &id, Some((&user_id, address))).await })
    })
    .await
}
