//! Partner groups: only admin-group keys manage them, and a key never takes away its own
//! group's reach (demoting or deleting the group that holds it would lock it out).

use roster_core::{
    Error,
    error::Result,
    model::PartnerGroup,
    page::{ListPage, ListQuery},
    policy::{Access, Resource, Scope},
    store::{GroupPatch, NewGroup},
};

use crate::{App, Caller};

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::PartnerGroups, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

pub async fn create(app: &App, caller: &Caller, group: NewGroup) -> Result<PartnerGroup> {
    let scope = scope(caller, Access::Write)?;
    app.write(caller, "partner_group.created", app.store.create_group(&scope, group, app.now())).await
}

pub async fn list(app: &App, caller: &Caller, query: &ListQuery) -> Result<ListPage<PartnerGroup>> {
    app.store.list_groups(&scope(caller, Access::Read)?, query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<PartnerGroup> {
    app.store.get_group(&scope(caller, Access::Read)?, id).await
}

pub async fn update(app: &App, caller: &Caller, id: &str, patch: GroupPatch) -> Result<PartnerGroup> {
    let scope = scope(caller, Access::Write)?;
    if caller.principal.is_held_by_group(id) && patch.is_admin == Some(false) {
        return Err(Error::InvalidRequest("a key cannot take admin rights from the group that holds it".to_owned()));
    }
    app.write(caller, "partner_group.updated", app.store.update_group(&scope, id, patch, app.now())).await
}

/// Deletes the group and revokes its keys; the partner's last admin group stays.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(caller, Access::Write)?;
    if caller.principal.is_held_by_group(id) {
        return Err(Error::InvalidRequest("a key cannot delete the group that holds it".to_owned()));
    }
    app.write(caller, "partner_group.deleted", app.store.delete_group(&scope, id, app.now())).await
}
