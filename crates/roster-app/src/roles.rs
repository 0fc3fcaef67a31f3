//! Custom roles of an organisation, and the two built-in roles every organisation has
//! (`role_admin`, `role_standard`), which are listed and read but never changed.

use roster_core::{
    Error, Field,
    error::Result,
    ids,
    model::{BUILTIN_ROLES, BuiltinRole, Membership, MembershipSettings, Mode, Role},
    page::{ListPage, ListQuery, Position},
    policy::{Access, Resource, Scope},
    store::{NewRole, RolePatch},
};

use crate::{App, Caller, Change};

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

/// A custom role of an organisation in scope; its name must be free there.
pub async fn create(app: &App, caller: &Caller, new: NewRole) -> Result<Role> {
    let scope = scope(caller, Access::Write)?;
    let now = app.now();
    let role = Role {
        id: ids::new_id(ids::ROLE, now),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        organisation_id: new.organisation_id,
        name: new.name,
        permissions: new.permissions,
        created_at: now,
        updated_at: now,
    };
    app.transaction(caller, "role.created", |tx| {
        let (scope, role) = (scope.clone(), role.clone());
        Box::pin(async move {
            if !tx.hold_organisation(&scope, &role.organisation_id).await? {
                return Err(Error::invalid_reference(Field::OrganisationId));
            }
            if tx.role_name_taken(&role.organisation_id, &role.name, &role.id).await? {
                return Err(Error::RoleAlreadyExists);
            }
            tx.insert_role(&role).await?;
            Ok((role.clone(), Change::created(role)))
        })
    })
    .await
}

pub async fn list(app: &App, caller: &Caller, organisation_id: Option<&str>, query: &ListQuery) -> Result<RolePage> {
    let scope = scope(caller, Access::Read)?;
    crate::newest_first_only(query)?;
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
        mode: scope.mode(),
        organisation_id: organisation_id.map(str::to_owned),
        builtins: if first_page { builtins } else { Vec::new() },
        stored,
        total,
    })
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<AnyRole> {
    let scope = scope(caller, Access::Read)?;
    if let Some(role) = BuiltinRole::find(id) {
        return Ok(AnyRole::Builtin { role, mode: scope.mode() });
    }
    Ok(AnyRole::Stored(app.store.get_role(&scope, id).await?))
}

pub async fn update(app: &App, caller: &Caller, id: &str, patch: RolePatch) -> Result<Role> {
    let scope = scope(caller, Access::Write)?;
    if BuiltinRole::find(id).is_some() {
        return Err(builtin_is_fixed());
    }
    let now = app.now();
    app.transaction(caller, "role.updated", |tx| {
        let (scope, id, patch) = (scope.clone(), id.to_owned(), patch.clone());
        Box::pin(async move {
            let current = tx.lock_role(&scope, &id).await?;
            if patch == RolePatch::default() {
                return Ok((current, Change::none()));
            }
            let updated = Role {
                name: patch.name.unwrap_or_else(|| current.name.clone()),
                permissions: patch.permissions.unwrap_or_else(|| current.permissions.clone()),
                updated_at: now,
                ..current.clone()
            };
            if tx.role_name_taken(&updated.organisation_id, &updated.name, &id).await? {
                return Err(Error::RoleAlreadyExists);
            }
            tx.update_role(&updated).await?;
            Ok((updated.clone(), Change::updated(current, updated)))
        })
    })
    .await
}

/// Deletes the role and removes it from every membership that named it.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(caller, Access::Write)?;
    if BuiltinRole::find(id).is_some() {
        return Err(builtin_is_fixed());
    }
    let now = app.now();
    app.transaction(caller, "role.deleted", |tx| {
        let (scope, id) = (scope.clone(), id.to_owned());
        Box::pin(async move {
            // Holds the organisation too, so no membership change checks role_ids meanwhile.
            let role = tx.lock_role(&scope, &id).await?;
            let mut change = Change::deleted(role.clone());
            for (membership_id, role_ids) in tx.delete_role(&role, now).await? {
                // The role's organisation is in scope, and so are its memberships.
                let after = tx.get_membership(&scope, &membership_id).await?;
                let before =
                    Membership { settings: MembershipSettings { role_ids, ..after.settings.clone() }, ..after.clone() };
                change = change.after_consequence("membership.updated", Change::updated(before, after));
            }
            Ok(((), change))
        })
    })
    .await
}
