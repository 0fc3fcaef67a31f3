//! Custom roles of an organisation, and the two built-in roles every organisation has
//! (`role_admin`, `role_standard`), which are listed and read but never changed.

use roster_core::{
    Error,
    error::Result,
    model::{BUILTIN_ROLES, BuiltinRole, Mode, Role},
    page::{ListPage, ListQuery, Position},
    policy::{Access, Resource, Scope},
    store::{NewRole, RolePatch},
};

use crate::{App, Caller};

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::Roles, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

fn builtin_is_fixed() -> Error {
    Error::InvalidRequest("built-in roles cannot be changed or deleted".to_owned())
}

/// A page of roles. With an organisation, its two built-in roles count in `total` and head the
/// first page; they are not stored, so they take no place in the page's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePage {
    pub mode: Mode,
    pub organisation_id: Option<String>,
    /// The built-in roles this page shows first.
    pub builtins: Vec<BuiltinRole>,
    /// The stored roles, with a count that leaves the built-in roles out.
    pub stored: ListPage<Role>,
    /// Every role the list holds, built-in ones included.
    pub total: u64,
}

/// A role by id: built-in or stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyRole {
    Builtin { role: BuiltinRole, mode: Mode },
    Stored(Role),
}

pub async fn create(app: &App, caller: &Caller, role: NewRole) -> Result<Role> {
    let scope = scope(caller, Access::Write)?;
    app.write(caller, "role.created", app.store.create_role(&scope, role, app.now())).await
}

pub async fn list(app: &App, caller: &Caller, organisation_id: Option<&str>, query: &ListQuery) -> Result<RolePage> {
    let scope = scope(caller, Access::Read)?;
    let stored = app.store.list_roles(&scope, organisation_id, query).await?;
    let builtins = match organisation_id {
        Some(organisation_id) => match app.store.get_organisation(&scope, organisation_id).await {
            Ok(_) => BUILTIN_ROLES.to_vec(),
            Err(Error::NotFound) => Vec::new(),
            Err(other) => return Err(other),
        },
        None => Vec::new(),
    };
    let total = stored.count + builtins.len() as u64;
    let first_page = query.position == Position::Offset(0);
    Ok(RolePage {
        mode: scope.mode,
        organisation_id: organisation_id.map(str::to_owned),
        builtins: if first_page { builtins } else { Vec::new() },
        stored,
        total,
    })
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<AnyRole> {
    let scope = scope(caller, Access::Read)?;
    if let Some(role) = BuiltinRole::find(id) {
        return Ok(AnyRole::Builtin { role, mode: scope.mode });
    }
    Ok(AnyRole::Stored(app.store.get_role(&scope, id).await?))
}

pub async fn update(app: &App, caller: &Caller, id: &str, patch: RolePatch) -> Result<Role> {
    let scope = scope(caller, Access::Write)?;
    if BuiltinRole::find(id).is_some() {
        return Err(builtin_is_fixed());
    }
    app.write(caller, "role.updated", app.store.update_role(&scope, id, patch, app.now())).await
}

/// Deletes the role and removes it from every membership that named it.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(caller, Access::Write)?;
    if BuiltinRole::find(id).is_some() {
        return Err(builtin_is_fixed());
    }
    app.write(caller, "role.deleted", app.store.delete_role(&scope, id, app.now())).await
}
