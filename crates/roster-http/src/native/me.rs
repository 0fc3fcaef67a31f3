//! `/v1/me`: users acting for themselves, through a user token or a JWT. A user sees only its
//! own memberships here; anyone else's is 404. Acting through a membership (answering an
//! invitation, leaving) honours that membership's `allowed_ips`.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::{memberships, users};
use roster_core::{
    input::{Fields, choice, present},
    model::MembershipStatus,
    store::MembershipFilter,
};

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    EmptyResult, JsonResult,
    docs::{List, Paging, Problem},
    json, list, wire,
};
use crate::{
    auth::Authenticated,
    extract::{IdPath, JsonBody, QueryFields},
    state::AppState,
};

/// Body of `PATCH /v1/me/memberships/{id}`: the answer to a pending invitation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct Answer {
    #[schema(pattern = "^(accepted|rejected)$", example = "accepted")]
    status: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the filters in the OpenAPI document; the handler reads them with Fields")]
pub struct MeFilters {
    #[param(value_type = Option<super::docs::MembershipStatus>)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/v1/me", tag = "me", security(("user" = [])),
    responses(
        (status = 200, description = "The user acting", body = wire::User),
        (status = 401, description = "UNAUTHORISED: not a user", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated) -> JsonResult {
    Ok(json(wire::user(&users::me(&state.app, &caller).await?)))
}

#[utoipa::path(get, path = "/v1/me/memberships", tag = "me", security(("user" = [])),
    params(Paging, MeFilters),
    responses(
        (status = 200, description = "The user's memberships, every status", body = List<wire::Membership>),
        (status = 401, description = "UNAUTHORISED: not a user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* for a parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn memberships(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    memberships::authorise_own(&caller)?;
    let (query, status) = list::parse(&params, |fields| {
        fields.optional("status", choice(MembershipStatus::CHOICES, MembershipStatus::parse))
    })?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let filter = MembershipFilter { statuses: status.map(|status| vec![status]), ..MembershipFilter::default() };
    let page = memberships::list_own(&state.app, &caller, filter, &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::membership))
}

#[utoipa::path(get, path = "/v1/me/memberships/{id}", tag = "me", security(("user" = [])),
    params(("id" = String, Path, description = "A membership id")),
    responses(
        (status = 200, description = "One of the user's memberships", body = wire::Membership),
        (status = 401, description = "UNAUTHORISED: not a user", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or another user's", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn membership(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    memberships::authorise_own(&caller)?;
    let id = id.checked()?;
    Ok(json(wire::membership(&memberships::get_own(&state.app, &caller, &id).await?)))
}

/// Accepts or rejects a pending invitation.
#[utoipa::path(patch, path = "/v1/me/memberships/{id}", tag = "me", security(("user" = [])),
    params(("id" = String, Path, description = "A membership id")),
    request_body = Answer,
    responses(
        (status = 200, description = "The membership, accepted or rejected", body = wire::Membership),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED: not a user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: from outside the membership's allowed_ips", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or another user's", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_INVALID_CHOICE: not pending, or not accepted/rejected", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn respond(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
    JsonBody(body): JsonBody,
) -> JsonResult {
    memberships::authorise_own(&caller)?;
    let id = id.checked()?;
    let mut fields = Fields::of_body(&body)?;
    let answer = fields.required(
        "status",
        choice(&["accepted", "rejected"], |text| {
            MembershipStatus::parse(text).filter(|status| *status != MembershipStatus::Pending)
        }),
    );
    fields.finish()?;
    let changed = memberships::respond(&state.app, &caller, &id, present(answer)?).await?;
    Ok(json(wire::membership(&changed)))
}

/// Leaves the organisation; the last admin and the last owner cannot (rules 1–2).
#[utoipa::path(delete, path = "/v1/me/memberships/{id}", tag = "me", security(("user" = [])),
    params(("id" = String, Path, description = "A membership id")),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "UNAUTHORISED: not a user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: from outside the membership's allowed_ips", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or another user's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "MEMBERSHIP_DELETION_FORBIDDEN: the last admin or owner", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn leave(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> EmptyResult {
    memberships::authorise_own(&caller)?;
    let id = id.checked()?;
    memberships::leave(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
