//! `/v1/partner-groups`: only admin-group keys manage groups.

use axum::{
    Json,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
};
use roster_core::{
    input::{Fields, boolean, id, list as list_of, present, text},
    policy::{Access, Api},
    store::{GroupPatch, NewGroup},
    time::Timestamp,
};

use super::{CreatedResult, EmptyResult, JsonResult, list, wire};
use crate::{
    auth::Caller,
    extract::{JsonBody, QueryFields},
    state::AppState,
};

const MAX_ORGANISATIONS: usize = 1000;

pub async fn create(State(state): State<AppState>, Caller(caller): Caller, JsonBody(body): JsonBody) -> CreatedResult {
    let scope = caller.scope_for(Api::PartnerGroups, Access::Write)?;
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
    let group = state.store.create_group(&scope, group, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(wire::group(&group))))
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    let scope = caller.scope_for(Api::PartnerGroups, Access::Read)?;
    let (query, ()) = list::parse(&params, |_| ())?;
    let page = state.store.list_groups(&scope, &query).await?;
    Ok(list::render(&uri, &query, page, wire::group))
}

pub async fn show(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> JsonResult {
    let scope = caller.scope_for(Api::PartnerGroups, Access::Read)?;
    Ok(Json(wire::group(&state.store.get_group(&scope, &id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(group_id): Path<String>,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let scope = caller.scope_for(Api::PartnerGroups, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let patch = GroupPatch {
        name: fields.optional("name", text(1, 100)),
        is_admin: fields.optional("is_admin", boolean),
        organisation_ids: fields.optional("organisation_ids", list_of(MAX_ORGANISATIONS, id)),
    };
    fields.finish()?;
    Ok(Json(wire::group(&state.store.update_group(&scope, &group_id, patch, Timestamp::now()).await?)))
}

pub async fn delete(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> EmptyResult {
    let scope = caller.scope_for(Api::PartnerGroups, Access::Write)?;
    state.store.delete_group(&scope, &id, Timestamp::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
