//! cloudflare's routes: a user (token or JWT) lists, reads, answers and leaves its own
//! memberships. Other credentials are refused: the master key 401, keys 403.

use axum::{
    extract::{FromRequestParts, State},
    http::{Uri, request::Parts},
    response::Response,
};
use roster_app::{Caller, memberships as operations};
use roster_core::{Error, Field, ValidationCode, model::MembershipStatus, policy::Principal};
use serde_json::{Value, json};

use super::{
    errors::Failure,
    query,
    wire::{self, ResultInfo},
};
use crate::{
    auth,
    extract::{IdPath, JsonBody},
    problem::ApiError,
    state::AppState,
};

type Answer = Result<Response, Failure>;

/// A user acting for itself.
pub struct UserCaller(Caller);

impl FromRequestParts<AppState> for UserCaller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let caller = auth::caller(parts, state, auth::bearer(parts)).await?;
        match caller.principal {
            Principal::User(_) => Ok(Self(caller)),
            Principal::Master => Err(Error::Unauthorised.into()),
            Principal::Key(_) => Err(Error::Forbidden.into()),
        }
    }
}

pub async fn list(State(state): State<AppState>, UserCaller(caller): UserCaller, uri: Uri) -> Answer {
    let request = query::parse(uri.query())?;
    let held = state.app.hold_list_rows(request.query.limit).await?;
    let page = operations::list_own(&state.app, &caller, request.filter, &request.query).await?;
    let described = operations::describe_own(&state.app, &caller, page.items).await?;
    drop(held);
    let per_page = u64::from(request.query.limit);
    let info = ResultInfo {
        page: request.page,
        per_page,
        count: u64::try_from(described.len()).unwrap_or(u64::MAX),
        total_count: page.count,
        total_pages: page.count.div_ceil(per_page),
    };
    Ok(wire::success(described.iter().map(wire::membership).collect::<Vec<_>>(), Some(info)))
}

/// One membership of the caller's, described.
async fn described(state: &AppState, caller: &Caller, membership: roster_core::model::Membership) -> Answer {
    let mut described = operations::describe_own(&state.app, caller, vec![membership]).await?;
    // Its organisation was deleted since it was read: as if the delete came first.
    let own = described.pop().ok_or(Error::NotFound)?;
    Ok(wire::success(wire::membership(&own), None))
}

pub async fn show(State(state): State<AppState>, UserCaller(caller): UserCaller, id: IdPath) -> Answer {
    let id = id.checked()?;
    let membership = operations::get_own(&state.app, &caller, &id).await?;
    described(&state, &caller, membership).await
}

/// `{"status": "accepted"|"rejected"}` answers the caller's pending invitation. Other members of
/// the body are ignored, as the vendor does.
pub async fn respond(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    id: IdPath,
    body: Result<JsonBody, ApiError>,
) -> Answer {
    let id = id.checked()?;
    let JsonBody(body) = body?;
    let refuse = |message: &str| Error::field(Field::Status, ValidationCode::InvalidChoice, message);
    let answer = match body.as_object().map(|object| object.get("status")) {
        None => return Err(Error::field("body", ValidationCode::InvalidType, "must be a JSON object").into()),
        Some(Some(Value::String(status))) if status == "accepted" => MembershipStatus::Accepted,
        Some(Some(Value::String(status))) if status == "rejected" => MembershipStatus::Rejected,
        Some(None) => return Err(Error::field(Field::Status, ValidationCode::Required, "is required").into()),
        Some(Some(_)) => return Err(refuse("must be one of: accepted, rejected").into()),
    };
    let membership = operations::respond(&state.app, &caller, &id, answer).await?;
    described(&state, &caller, membership).await
}

/// Leaves the account: 200 with the membership's id (a request body is ignored).
pub async fn leave(State(state): State<AppState>, UserCaller(caller): UserCaller, id: IdPath) -> Answer {
    let id = id.checked()?;
    operations::leave(&state.app, &caller, &id).await?;
    Ok(wire::success(json!({"id": id}), None))
}
