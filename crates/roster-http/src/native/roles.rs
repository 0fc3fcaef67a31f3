//! `/v1/roles`: custom roles of an organisation, and the two built-in roles every organisation
//! has (`role_admin`, `role_standard`), which are listed and read but never changed.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::roles::{self as operations, AnyRole};
use roster_core::{
    input::{Fields, id, list as list_of, permission, present, text},
    policy::Access,
    store::{NewRole, RolePatch},
};

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    CreatedResult, EmptyResult, JsonResult,
    docs::{List, Paging, Problem},
    json, list, wire,
};
use crate::{
    auth::Authenticated,
    extract::{IdPath, JsonBody, QueryFields},
    state::AppState,
};

const MAX_PERMISSIONS: usize = 100;

/// Body of `POST /v1/roles`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateRole {
    organisation_id: String,
    /// Unique in the organisation.
    #[schema(min_length = 1, max_length = 100, example = "Billing")]
    name: String,
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<super::docs::Permission>)]
    permissions: Vec<String>,
}

/// Body of `PATCH /v1/roles/{id}`: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct UpdateRole {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<super::docs::Permission>)]
    permissions: Vec<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the filters in the OpenAPI document; the handler reads them with Fields")]
pub struct RoleFilters {
    organisation_id: Option<String>,
}

#[utoipa::path(post, path = "/v1/roles", tag = "roles", security(("partner_key" = []), ("organisation_key" = [])),
    request_body = CreateRole,
    responses(
        (status = 201, description = "The role", body = wire::Role),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*, ROLE_ALREADY_EXISTS", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> CreatedResult {
    operations::authorise(&caller, Access::Write)?;
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
    let role = operations::create(&state.app, &caller, role).await?;
    Ok((StatusCode::CREATED, json(wire::role(&role))))
}

/// With `organisation_id`, the first page starts with the two built-in roles, which `count`
/// includes; they are not stored, so they take no place in `limit`.
#[utoipa::path(get, path = "/v1/roles", tag = "roles", security(("partner_key" = []), ("organisation_key" = [])),
    params(Paging, RoleFilters),
    responses(
        (status = 200, description = "Roles in scope; with organisation_id, the built-in roles first", body = List<wire::Role>),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    operations::authorise(&caller, Access::Read)?;
    let (query, organisation_id) = list::parse(&params, |fields| fields.optional("organisation_id", id))?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, organisation_id.as_deref(), &query).await?;
    let mut listed = list::body(&uri, &query, page.stored, wire::role);
    listed.count = page.total;
    let builtins =
        page.builtins.iter().map(|builtin| wire::builtin_role(builtin, page.mode, page.organisation_id.as_deref()));
    listed.results.splice(0..0, builtins);
    Ok(list::respond(listed, held))
}

#[utoipa::path(get, path = "/v1/roles/{id}", tag = "roles", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "A role (or role_admin, role_standard) id")),
    responses(
        (status = 200, description = "The role", body = wire::Role),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, role_id: IdPath) -> JsonResult {
    operations::authorise(&caller, Access::Read)?;
    let role_id = role_id.checked()?;
    Ok(json(match operations::get(&state.app, &caller, &role_id).await? {
        AnyRole::Builtin { role, mode } => wire::builtin_role(&role, mode, None),
        AnyRole::Stored(role) => wire::role(&role),
    }))
}

#[utoipa::path(patch, path = "/v1/roles/{id}", tag = "roles", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "A role id")),
    request_body = UpdateRole,
    responses(
        (status = 200, description = "The role as changed", body = wire::Role),
        (status = 400, description = "INVALID_JSON; INVALID_REQUEST for a built-in role", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*, ROLE_ALREADY_EXISTS", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    role_id: IdPath,
    JsonBody(body): JsonBody,
) -> JsonResult {
    operations::authorise(&caller, Access::Write)?;
    let role_id = role_id.checked()?;
    let mut fields = Fields::of_body(&body)?;
    let patch = RolePatch {
        name: fields.optional("name", text(1, 100)),
        permissions: fields.optional("permissions", list_of(MAX_PERMISSIONS, permission)),
    };
    fields.finish()?;
    Ok(json(wire::role(&operations::update(&state.app, &caller, &role_id, patch).await?)))
}

#[utoipa::path(delete, path = "/v1/roles/{id}", tag = "roles", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "A role id")),
    responses(
        (status = 204, description = "Deleted, and removed from memberships"),
        (status = 400, description = "INVALID_REQUEST for a built-in role", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    role_id: IdPath,
) -> EmptyResult {
    operations::authorise(&caller, Access::Write)?;
    let role_id = role_id.checked()?;
    operations::delete(&state.app, &caller, &role_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
