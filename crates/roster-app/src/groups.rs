//! Partner groups: only admin-group keys manage them, and a key never takes away its own
//! group's reach (demoting or deleting the group that holds it would lock it out).

use roster_core::{
    Error, Field, FieldError, ValidationCode,
    error::Result,
    ids,
    model::PartnerGroup,
    page::{ListPage, ListQuery},
    policy::{Access, Resource, Scope},
    rules,
    store::{GroupPatch, NewGroup, Transaction},
};

use crate::{App, Caller, Change};

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::PartnerGroups, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

pub async fn create(app: &App, caller: &Caller, new: NewGroup) -> Result<PartnerGroup> {
    let scope = scope(caller, Access::Write)?;
    let now = app.now();
    let group = PartnerGroup {
        id: ids::new_id(ids::GROUP, now),
        partner_id: scope.partner_id().to_owned(),
        name: new.name,
        is_admin: new.is_admin,
        organisation_ids: new.organisation_ids,
        created_at: now,
        updated_at: now,
    };
    app.transaction(caller, "partner_group.created", |tx| {
        let (scope, group) = (scope.clone(), group.clone());
        Box::pin(async move {
            check_organisations(tx, &scope, &group.organisation_ids).await?;
            tx.insert_group(&group).await?;
            tx.assign_group_organisations(&group.id, scope.mode(), &group.organisation_ids).await?;
            let created = tx.lock_group(&scope, &group.id).await?;
            Ok((created.clone(), Change::created(created)))
        })
    })
    .await
}

/// Every id must name an organisation of the partner in the caller's mode.
async fn check_organisations(tx: &mut dyn Transaction, scope: &Scope, organisation_ids: &[String]) -> Result<()> {
    let missing = tx.missing_organisations(scope, organisation_ids).await?;
    Error::unless_invalid(
        missing
            .into_iter()
            .map(|index| {
                FieldError::new(Field::OrganisationIds(index), ValidationCode::InvalidReference, "does not exist")
            })
            .collect(),
    )
}

pub async fn list(app: &App, caller: &Caller, query: &ListQuery) -> Result<ListPage<PartnerGroup>> {
    let scope = scope(caller, Access::Read)?;
    crate::newest_first_only(query)?;
    app.store.list_groups(&scope, query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<PartnerGroup> {
    app.store.get_group(&scope(caller, Access::Read)?, id).await
}

pub async fn update(app: &App, caller: &Caller, id: &str, patch: GroupPatch) -> Result<PartnerGroup> {
    let scope = scope(caller, Access::Write)?;
    if caller.principal.is_held_by_group(id) && patch.is_admin == Some(false) {
        return Err(Error::InvalidRequest("a key cannot take admin rights from the group that holds it".to_owned()));
    }
    let now = app.now();
    app.transaction(caller, "partner_group.updated", |tx| {
        let (scope, id, patch) = (scope.clone(), id.to_owned(), patch.clone());
        Box::pin(async move {
            let demotes = patch.is_admin == Some(false);
            if demotes && !tx.hold_partner(scope.partner_id()).await? {
                return Err(Error::NotFound);
            }
            let current = tx.lock_group(&scope, &id).await?;
            if current.is_admin && demotes {
                rules::check_admin_group_removal(tx.other_admin_group(scope.partner_id(), &id).await?)?;
            }
            if let Some(organisation_ids) = &patch.organisation_ids {
                check_organisations(tx, &scope, organisation_ids).await?;
                tx.assign_group_organisations(&id, scope.mode(), organisation_ids).await?;
            }
            let changed = PartnerGroup {
                name: patch.name.clone().unwrap_or_else(|| current.name.clone()),
                is_admin: patch.is_admin.unwrap_or(current.is_admin),
                updated_at: now,
                ..current.clone()
            };
            tx.update_group(&changed).await?;
            let updated = tx.lock_group(&scope, &id).await?;
            Ok((updated.clone(), Change::updated(current, updated)))
        })
    })
    .await
}

/// Deletes the group and revokes its keys; the partner's last admin group stays.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(caller, Access::Write)?;
    // Deleting its own group would revoke the very key asking: a lock-out, never intended.
    if caller.principal.is_held_by_group(id) {
        return Err(Error::InvalidRequest("a key cannot delete the group that holds it".to_owned()));
    }
    app.transaction(caller, "partner_group.deleted", |tx| {
        let (scope, id) = (scope.clone(), id.to_owned());
        Box::pin(async move {
            // The partner's hold orders this against every other removal of an admin group; the
            // group's own waits for a change to it (a promotion) to commit, so whether it is an
            // admin group is read as it will be deleted.
            if !tx.hold_partner(scope.partner_id()).await? {
                return Err(Error::NotFound);
            }
            let current = tx.lock_group_for_delete(&scope, &id).await?;
            if current.is_admin {
                rules::check_admin_group_removal(tx.other_admin_group(scope.partner_id(), &id).await?)?;
            }
            let removed_keys = tx.delete_group(&id).await?;
            // Its keys went with it: each is revoked.
            let change = removed_keys.into_iter().fold(Change::deleted(current), |change, key| {
                change.after_consequence("api_key.revoked", Change::deleted(key))
            });
            Ok(((), change))
        })
    })
    .await
}
