//! `/v1/roles`: custom roles of an organisation, and the two built-in roles every organisation
//! has (`role_admin`, `role_standard`), which are listed and read but never changed.

use axum::{
    Json,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
};
use roster_core::{
    Error,
    input::{Fields, id, list as list_of, permission, present, text},
    model::{BUILTIN_ROLES, BuiltinRole},
    policy::{Access, Api, Resource},
    store::{NewRole, RolePatch},
    time::Timestamp,
};

use super::{CreatedResult, EmptyResult, JsonResult, list, wire};
use crate::{
    auth::Caller,
    extract::{JsonBody, QueryFields},
    state::AppState,
};

const API: Api = Api::Scoped(Resource::Roles);
const MAX_PERMISSIONS: usize = 100;

fn builtin_is_fixed() -> Error {
    Error::InvalidRequest("built-in roles cannot be changed or deleted".to_owned())
}

pub async fn create(State(state): State<AppState>, Caller(caller): Caller, JsonBody(body): JsonBody) -> CreatedResult {
    let scope = caller.scope_for(API, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let organisation_id = fields.required("organisation_id", id);
    let name = fields.required("name", text(1, 100));
    let permissions = fields.optional("permissions", list_of(MAX_PERMISSIONS, permission));
    fields.finish()?;
    let role = NewRole {
        organisation_id: present(organisation_id)?,
        name: present(name)?,
        permissions: permissions.unwrap_or_default(),
    };
    let role = state.store.create_role(&scope, role, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(wire::role(&role))))
}

/// With `organisation_id`, the first page starts with the two built-in roles, which `count`
/// includes; they are not stored, so they take no place in `limit`.
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    let scope = caller.scope_for(API, Access::Read)?;
    let (query, organisation_id) = list::parse(&params, |fields| fields.optional("organisation_id", id))?;
    let page = state.store.list_roles(&scope, organisation_id.as_deref(), &query).await?;
    let builtins = match &organisation_id {
        Some(organisation_id) => match state.store.get_organisation(&scope, organisation_id).await {
            Ok(_) => BUILTIN_ROLES.to_vec(),
            Err(Error::NotFound) => Vec::new(),
            Err(other) => return Err(other.into()),
        },
        None => Vec::new(),
    };
    let first_page = query.position == roster_core::page::Position::Offset(0);
    let mut listed = list::render(&uri, &query, page, wire::role);
    if let Some(object) = listed.0.as_object_mut() {
        if let Some(count) = object.get("count").and_then(|c| c.as_u64()) {
            object.insert("count".to_owned(), (count + builtins.len() as u64).into());
        }
        if first_page && let Some(results) = object.get_mut("results").and_then(|r| r.as_array_mut()) {
            for (index, builtin) in builtins.iter().enumerate() {
                results.insert(index, wire::builtin_role(builtin, scope.mode, organisation_id.as_deref()));
            }
        }
    }
    Ok(listed)
}

pub async fn show(State(state): State<AppState>, Caller(caller): Caller, Path(role_id): Path<String>) -> JsonResult {
    let scope = caller.scope_for(API, Access::Read)?;
    if let Some(builtin) = BuiltinRole::find(&role_id) {
        return Ok(Json(wire::builtin_role(&builtin, scope.mode, None)));
    }
    Ok(Json(wire::role(&state.store.get_role(&scope, &role_id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(role_id): Path<String>,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let scope = caller.scope_for(API, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let patch = RolePatch {
        name: fields.optional("name", text(1, 100)),
        permissions: fields.optional("permissions", list_of(MAX_PERMISSIONS, permission)),
    };
    fields.finish()?;
    if BuiltinRole::find(&role_id).is_some() {
        return Err(builtin_is_fixed().into());
    }
    Ok(Json(wire::role(&state.store.update_role(&scope, &role_id, patch, Timestamp::now()).await?)))
}

pub async fn delete(State(state): State<AppState>, Caller(caller): Caller, Path(role_id): Path<String>) -> EmptyResult {
    let scope = caller.scope_for(API, Access::Write)?;
    if BuiltinRole::find(&role_id).is_some() {
        return Err(builtin_is_fixed().into());
    }
    state.store.delete_role(&scope, &role_id, Timestamp::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
