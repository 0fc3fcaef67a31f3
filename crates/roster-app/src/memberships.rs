//! Memberships: managers (keys in scope) create, read, change and remove them; users answer
//! their invitations, leave, and read their own. The business rules (last admin, last owner,
//! staff users, uniqueness) hold inside each write's transaction.

use std::net::IpAddr;

use roster_core::{
    Error, Field, ValidationCode,
    error::Result,
    model::{Membership, MembershipRole, MembershipSettings, MembershipStatus},
    page::{ListPage, ListQuery},
    permissions,
    policy::{Access, Resource, Scope, UserPrincipal},
    store::{MembershipFilter, MembershipPatch, NewMembership},
};

use crate::{App, Caller};

/// A membership to create for a user found by e-mail (ignoring case), or created with the
/// names when none has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateMembership {
    pub organisation_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
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

/// The scope in which the caller manages memberships.
fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::Memberships, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

pub async fn create(app: &App, caller: &Caller, new: CreateMembership) -> Result<Membership> {
    let scope = scope(caller, Access::Write)?;
    if new.status == MembershipStatus::Rejected {
        return Err(Error::field(Field::Status, ValidationCode::InvalidChoice, "must be one of: accepted, pending"));
    }
    let membership = NewMembership {
        organisation_id: new.organisation_id,
        email: new.email,
        first_name: new.first_name,
        last_name: new.last_name,
        status: new.status,
        settings: new.settings.apply(&MembershipSettings::new(new.role)),
    };
    app.write(caller, "membership.created", app.store.create_membership(&scope, membership, app.now())).await
}

pub async fn list(
    app: &App,
    caller: &Caller,
    filter: &MembershipFilter,
    query: &ListQuery,
) -> Result<ListPage<Membership>> {
    app.store.list_memberships(&scope(caller, Access::Read)?, filter, query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<Membership> {
    app.store.get_membership(&scope(caller, Access::Read)?, id).await
}

/// The membership of `user_id` in `organisation_id`, if there is one; `NotFound` when the
/// organisation is missing or out of scope.
pub async fn find_by_pair(
    app: &App,
    caller: &Caller,
    organisation_id: &str,
    user_id: &str,
) -> Result<Option<Membership>> {
    let scope = scope(caller, Access::Read)?;
    Ok(app.store.find_membership(&scope, organisation_id, user_id).await?.map(|found| found.membership))
}

/// Only the settings sent change.
pub async fn update(app: &App, caller: &Caller, id: &str, patch: MembershipPatch) -> Result<Membership> {
    let scope = scope(caller, Access::Write)?;
    app.write(caller, "membership.updated", app.store.update_membership(&scope, id, patch, app.now())).await
}

pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(caller, Access::Write)?;
    app.write(caller, "membership.deleted", app.store.delete_membership(&scope, id)).await
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
    let scope = scope(caller, Access::Read)?;
    let Some(found) = app.store.find_membership(&scope, organisation_id, user_id).await? else {
        return Ok(Check { allowed: false, membership_id: None });
    };
    let membership = found.membership;
    let granted = permissions::effective(membership.status, &membership.settings, &found.role_permissions);
    let allowed = permissions::allows(&granted, permission)
        && address.is_none_or(|ip| permissions::address_allowed(&membership.settings.allowed_ips, Some(ip)));
    Ok(Check { allowed, membership_id: Some(membership.id) })
}

/// Whether the caller may act on its own memberships: users alone.
pub fn authorise_own(caller: &Caller) -> Result<()> {
    caller.principal.require_user().map(drop)
}

/// The user's own memberships, of every status unless `status` narrows them.
pub async fn list_own(
    app: &App,
    caller: &Caller,
    status: Option<MembershipStatus>,
    query: &ListQuery,
) -> Result<ListPage<Membership>> {
    let user = caller.principal.require_user()?;
    let filter = MembershipFilter { user_id: Some(user.user_id.clone()), status, ..MembershipFilter::default() };
    app.store.list_memberships(&user.scope(), &filter, query).await
}

/// One of the user's own memberships; anyone else's is not found.
pub async fn get_own(app: &App, caller: &Caller, id: &str) -> Result<Membership> {
    let user = caller.principal.require_user()?;
    own(app, user, id).await
}

async fn own(app: &App, user: &UserPrincipal, id: &str) -> Result<Membership> {
    let membership = app.store.get_membership(&user.scope(), id).await?;
    if membership.user_id != user.user_id {
        return Err(Error::NotFound);
    }
    Ok(membership)
}

/// A user acting through a membership must come from one of its allowed addresses.
fn require_allowed_address(membership: &Membership, caller: &Caller) -> Result<()> {
    if permissions::address_allowed(&membership.settings.allowed_ips, caller.address) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The user accepts or rejects one of its pending invitations.
pub async fn respond(app: &App, caller: &Caller, id: &str, answer: MembershipStatus) -> Result<Membership> {
    let user = caller.principal.require_user()?;
    if answer == MembershipStatus::Pending {
        return Err(Error::field(Field::Status, ValidationCode::InvalidChoice, "must be one of: accepted, rejected"));
    }
    let membership = own(app, user, id).await?;
    require_allowed_address(&membership, caller)?;
    let scope = user.scope();
    let change = app.store.change_membership_status(&scope, id, MembershipStatus::Pending, answer, app.now());
    app.write(caller, "membership.updated", change).await
}

/// The user leaves the organisation; the last admin and the last owner cannot (rules 1–2).
pub async fn leave(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let user = caller.principal.require_user()?;
    let membership = own(app, user, id).await?;
    require_allowed_address(&membership, caller)?;
    app.write(caller, "membership.deleted", app.store.delete_membership(&user.scope(), id)).await
}
