//! `/v1/events`: every committed change, newest first (spec §9), scoped like the objects: a
//! key lists the events of the resources its abilities let it read, in its partner, mode and
//! organisations.

use axum::extract::{OriginalUri, State};
use roster_app::events::{self as operations, EventQuery};
use roster_core::input::{Fields, id, text, timestamp};
use utoipa::IntoParams;

use super::{
    JsonResult,
    docs::{Paging, Problem, UncountedList},
    json, list, wire,
};
use crate::{
    auth::Authenticated,
    extract::{IdPath, QueryFields},
    state::AppState,
};

/// The longest `type` filter: a resource and an action.
const MAX_TYPE_LEN: usize = 100;

/// Filters of `GET /v1/events`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the filters in the OpenAPI document; the handler reads them with Fields")]
pub struct EventFilters {
    /// A type (`membership.updated`), every type of a resource (`membership.*`), or `*`.
    #[param(example = "membership.*")]
    r#type: Option<String>,
    /// The events of one object.
    object_id: Option<String>,
    /// That organisation's own events and its objects'.
    organisation_id: Option<String>,
    /// Created at or after (RFC 3339).
    created_gte: Option<String>,
    /// Created before (RFC 3339).
    created_lt: Option<String>,
}

#[utoipa::path(get, path = "/v1/events", tag = "events", security(("partner_key" = [])),
    params(Paging, EventFilters),
    responses(
        (status = 200, description = "Events in scope, newest first (in commit order); not counted", body = UncountedList<wire::Event>),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key, or a key that reads none of the resources with events", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* for a parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    operations::authorise(&caller)?;
    let (query, wanted) = list::parse(&params, |fields: &mut Fields<'_>| EventQuery {
        kind: fields.optional("type", text(1, MAX_TYPE_LEN)),
        object_id: fields.optional("object_id", id),
        organisation_id: fields.optional("organisation_id", id),
        created_gte: fields.optional("created_gte", timestamp),
        created_lt: fields.optional("created_lt", timestamp),
    })?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, wanted, &query).await?;
    Ok(list::respond(list::uncounted_body(&uri, &query, page, wire::event), held))
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", security(("partner_key" = [])),
    params(("id" = String, Path, description = "An event id")),
    responses(
        (status = 200, description = "The event", body = wire::Event),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    operations::authorise(&caller)?;
    let id = id.checked()?;
    Ok(json(wire::event(&operations::get(&state.app, &caller, &id).await?)))
}
