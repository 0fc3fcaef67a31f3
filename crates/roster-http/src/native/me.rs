//! `/v1/me`: users acting for themselves, through a user token or a JWT. A user sees only its
//! own memberships here; anyone else's is 404. Acting through a membership (answering an
//! invitation, leaving) honours that membership's `allowed_ips`.

use axum::{
    Json,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
};
use roster_core::{
    Error,
    input::{Fields, choice, present},
    model::{Membership, MembershipStatus},
    permissions::address_allowed,
    policy::{Scope, UserPrincipal},
    store::MembershipFilter,
    time::Timestamp,
};

use super::{EmptyResult, JsonResult, list, wire};
use crate::{
    auth::{Caller, ClientIp},
    extract::{JsonBody, QueryFields},
    state::AppState,
};

pub async fn show(State(state): State<AppState>, Caller(caller): Caller) -> JsonResult {
    let user = caller.require_user()?;
    let found = state.store.find_user(&user.user_id).await?.ok_or(Error::Unauthorised)?;
    Ok(Json(wire::user(&found)))
}

pub async fn memberships(
    State(state): State<AppState>,
    Caller(caller): Caller,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    let user = caller.require_user()?;
    let (query, status) = list::parse(&params, |fields| {
        fields.optional("status", choice(MembershipStatus::CHOICES, MembershipStatus::parse))
    })?;
    let filter = MembershipFilter { user_id: Some(user.user_id.clone()), status, ..MembershipFilter::default() };
    let page = state.store.list_memberships(&user.scope(), &filter, &query).await?;
    Ok(list::render(&uri, &query, page, wire::membership))
}

/// The caller's own membership, or 404 as if missing.
async fn own(state: &AppState, user: &UserPrincipal, id: &str) -> Result<(Scope, Membership), Error> {
    let scope = user.scope();
    let membership = state.store.get_membership(&scope, id).await?;
    if membership.user_id != user.user_id {
        return Err(Error::NotFound);
    }
    Ok((scope, membership))
}

/// A user acting through a membership must come from one of its allowed addresses.
fn require_allowed_address(membership: &Membership, ClientIp(address): &ClientIp) -> Result<(), Error> {
    if address_allowed(&membership.settings.allowed_ips, *address) { Ok(()) } else { Err(Error::Forbidden) }
}

pub async fn membership(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> JsonResult {
    let user = caller.require_user()?;
    Ok(Json(wire::membership(&own(&state, user, &id).await?.1)))
}

/// Accepts or rejects a pending invitation.
pub async fn respond(
    State(state): State<AppState>,
    Caller(caller): Caller,
    client: ClientIp,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let user = caller.require_user()?;
    let mut fields = Fields::of_body(&body)?;
    let answer = fields.required(
        "status",
        choice(&["accepted", "rejected"], |text| {
            MembershipStatus::parse(text).filter(|status| *status != MembershipStatus::Pending)
        }),
    );
    fields.finish()?;
    let (scope, membership) = own(&state, user, &id).await?;
    require_allowed_address(&membership, &client)?;
    let changed = state
        .store
        .change_membership_status(&scope, &id, MembershipStatus::Pending, present(answer)?, Timestamp::now())
        .await?;
    Ok(Json(wire::membership(&changed)))
}

/// Leaves the organisation; the last admin and the last owner cannot (rules 1–2).
pub async fn leave(
    State(state): State<AppState>,
    Caller(caller): Caller,
    client: ClientIp,
    Path(id): Path<String>,
) -> EmptyResult {
    let user = caller.require_user()?;
    let (scope, membership) = own(&state, user, &id).await?;
    require_allowed_address(&membership, &client)?;
    state.store.delete_membership(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
