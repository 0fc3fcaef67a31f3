//! `/v1/partner-groups`: only admin-group keys manage groups.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::groups as operations;
use roster_core::{
    input::{Fields, boolean, id, list as list_of, present, text},
    policy::Access,
    store::{GroupPatch, NewGroup},
};

use serde::Deserialize;
use utoipa::ToSchema;

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

const MAX_ORGANISATIONS: usize = 1000;

/// Body of `POST /v1/partner-groups`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateGroup {
    #[schema(min_length = 1, max_length = 100, example = "Support")]
    name: String,
    #[serde(flatten)]
    rest: GroupBody,
}

/// Body of `PATCH /v1/partner-groups/{id}`: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct UpdateGroup {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[serde(flatten)]
    rest: GroupBody,
}

/// The fields of a group besides its name.
#[derive(Deserialize, ToSchema)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct GroupBody {
    #[serde(default)]
    is_admin: bool,
    /// Organisations of the caller's mode; replaces the group's in that mode.
    #[serde(default)]
    #[schema(max_items = 1000)]
    organisation_ids: Vec<String>,
}

#[utoipa::path(post, path = "/v1/partner-groups", tag = "partner groups", security(("partner_key" = [])),
    request_body = CreateGroup,
    responses(
        (status = 201, description = "The group", body = wire::PartnerGroup),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: not an admin group's key, or no partner_groups:write", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> CreatedResult {
    operations::authorise(&caller, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let name = fields.required("name", text(1, 100));
    let is_admin = fields.optional("is_admin", boolean);
    let organisation_ids = fields.optional("organisation_ids", list_of(MAX_ORGANISATIONS, id));
    fields.finish()?;
    let group = NewGroup {
        name: present(name)?,
        is_admin: is_admin.unwrap_or(false),
        organisation_ids: organisation_ids.unwrap_or_default(),
    };
    let group = operations::create(&state.app, &caller, group).await?;
    Ok((StatusCode::CREATED, json(wire::group(&group))))
}

#[utoipa::path(get, path = "/v1/partner-groups", tag = "partner groups", security(("partner_key" = [])),
    params(Paging),
    responses(
        (status = 200, description = "Groups, newest first", body = List<wire::PartnerGroup>),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: not an admin group's key", body = Problem, content_type = "application/problem+json"),
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
    let (query, ()) = list::parse(&params, |_| ())?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::group))
}

#[utoipa::path(get, path = "/v1/partner-groups/{id}", tag = "partner groups", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A partner group id")),
    responses(
        (status = 200, description = "The group", body = wire::PartnerGroup),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: not an admin group's key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    Ok(json(wire::group(&operations::get(&state.app, &caller, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/partner-groups/{id}", tag = "partner groups", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A partner group id")),
    request_body = UpdateGroup,
    responses(
        (status = 200, description = "The group as changed", body = wire::PartnerGroup),
        (status = 400, description = "INVALID_JSON; INVALID_REQUEST: is_admin false on the group holding the key asking", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: not an admin group's key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    group_id: IdPath,
    JsonBody(body): JsonBody,
) -> JsonResult {
    operations::authorise(&caller, Access::Write)?;
    let group_id = group_id.checked()?;
    let mut fields = Fields::of_body(&body)?;
    let patch = GroupPatch {
        name: fields.optional("name", text(1, 100)),
        is_admin: fields.optional("is_admin", boolean),
        organisation_ids: fields.optional("organisation_ids", list_of(MAX_ORGANISATIONS, id)),
    };
    fields.finish()?;
    Ok(json(wire::group(&operations::update(&state.app, &caller, &group_id, patch).await?)))
}

#[utoipa::path(delete, path = "/v1/partner-groups/{id}", tag = "partner groups", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A partner group id")),
    responses(
        (status = 204, description = "Deleted, with its keys"),
        (status = 400, description = "INVALID_REQUEST: the group holds the key asking", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: not an admin group's key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> EmptyResult {
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    operations::delete(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
