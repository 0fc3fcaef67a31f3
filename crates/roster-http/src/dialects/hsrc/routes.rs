//! hsrc's routes: find the caller (`Authorization: Bearer`), parse, call one `roster_app`
//! operation, render. A body member sent as `null` counts as absent.

use axum::{
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use roster_app::{
    Caller,
    memberships::{self as operations, CreateForUser, CreateMembership, CreatedOrFound, Missing, NewMembership},
};
use roster_core::{
    Error, ValidationCode,
    input::{Fields, email, id, integer, list as list_of, permission, present},
    model::{MembershipRole, MembershipStatus},
    page::{ListQuery, Position},
    policy::Access,
    store::{MembershipFilter, MembershipPatch},
};
use serde_json::Value;

use super::{errors::Failure, wire};
use crate::{
    auth,
    extract::{IdPath, JsonBody, QueryFields},
    problem::ApiError,
    state::AppState,
};

type Answer = Result<Response, Failure>;

const MAX_PERMISSIONS: usize = 100;
const DEFAULT_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 100;

pub struct HsrcCaller(Caller);

impl FromRequestParts<AppState> for HsrcCaller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        Ok(Self(auth::caller(parts, state, auth::bearer(parts)).await?))
    }
}

/// The body's members without those sent as `null`.
fn body_object(body: Result<JsonBody, ApiError>) -> Result<Value, Failure> {
    let JsonBody(body) = body?;
    Ok(match body {
        Value::Object(members) => Value::Object(members.into_iter().filter(|(_, value)| !value.is_null()).collect()),
        other => other,
    })
}

/// `account_id` from the query string or the body (both, different: invalid), or the
/// organisation key's own organisation; `None` when it is missing or invalid (recorded).
fn account_id(fields: &mut Fields<'_>, from_query: Option<&Value>, caller: &Caller) -> Option<String> {
    let from_body = fields.optional("account_id", id);
    let from_query = match from_query.map(id) {
        Some(Ok(account)) => Some(account),
        Some(Err(invalid)) => {
            fields.reject("account_id", invalid.code, invalid.message);
            return None;
        }
        None => None,
    };
    match (from_body, from_query) {
        (Some(body), Some(query)) if body != query => {
            fields.reject("account_id", ValidationCode::InvalidFormat, "differs between the query string and the body");
            None
        }
        (Some(account), _) | (None, Some(account)) => Some(account),
        (None, None) if fields.is_present("account_id") => None,
        (None, None) => {
            let implied = caller.principal.key_organisation().map(str::to_owned);
            if implied.is_none() {
                fields.reject("account_id", ValidationCode::Required, "is required");
            }
            implied
        }
    }
}

/// Adds a user to an account: an accepted membership for a workspace member
/// (`workspace_membership_id`), a pending one for anyone else (`email`). 201 when created; 200
/// with the membership as stored when the user already is a member.
pub async fn create(
    State(state): State<AppState>,
    HsrcCaller(caller): HsrcCaller,
    query: Result<QueryFields, ApiError>,
    body: Result<JsonBody, ApiError>,
) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    let QueryFields(params) = query?;
    let body = body_object(body)?;
    let mut fields = Fields::of_body(&body)?;
    let account = account_id(&mut fields, params.get("account_id"), &caller);
    let workspace_member = fields.optional("workspace_membership_id", id);
    let email = fields.optional("email", email);
    let permissions = fields.optional("permissions", list_of(MAX_PERMISSIONS, permission));
    if fields.is_present("workspace_membership_id") == fields.is_present("email") {
        for name in ["workspace_membership_id", "email"] {
            fields.reject(name, ValidationCode::Required, "send exactly one of workspace_membership_id and email");
        }
    }
    fields.finish()?;
    let organisation_id = present(account)?;
    let settings = MembershipPatch { permissions: Some(permissions.unwrap_or_default()), ..MembershipPatch::default() };
    let new = match (workspace_member, email) {
        (Some(user_id), None) => NewMembership::ForUser(CreateForUser {
            organisation_id,
            user_id,
            role: MembershipRole::Standard,
            status: MembershipStatus::Accepted,
            settings,
        }),
        (None, Some(email)) => NewMembership::ByEmail(CreateMembership {
            organisation_id,
            email,
            first_name: None,
            last_name: None,
            role: MembershipRole::Standard,
            status: MembershipStatus::Pending,
            settings,
        }),
        _ => return Err(Error::internal("exactly one of a workspace member and an e-mail passed validation").into()),
    };
    Ok(match operations::create_unless_member(&state.app, &caller, new).await? {
        CreatedOrFound::Created(membership) => {
            (StatusCode::CREATED, wire::success(wire::account_membership(&membership))).into_response()
        }
        CreatedOrFound::Found(membership) => wire::success(wire::account_membership(&membership)),
    })
}

/// An account's memberships, newest first: `limit` (1–100, default 10) after `starting_after`.
pub async fn list(
    State(state): State<AppState>,
    HsrcCaller(caller): HsrcCaller,
    query: Result<QueryFields, ApiError>,
) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    let QueryFields(params) = query?;
    let mut fields = Fields::new(&params);
    let account = account_id(&mut fields, None, &caller);
    let limit = fields.optional("limit", integer(1, MAX_LIMIT));
    let starting_after = fields.optional("starting_after", id);
    fields.finish()?;
    let account = present(account)?;
    operations::require_organisation(&state.app, &caller, &account, Access::Read, Missing::InvalidReference).await?;
    let limit = u32::try_from(limit.unwrap_or(DEFAULT_LIMIT)).unwrap_or(10);
    let position = starting_after.map_or(Position::Offset(0), Position::StartingAfter);
    let query = ListQuery { limit, position, sort: Vec::new() };
    let filter = MembershipFilter { organisation_ids: Some(vec![account]), ..MembershipFilter::default() };
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, &filter, &query).await?;
    drop(held);
    Ok(wire::page(page.items.iter().map(wire::account_membership).collect(), page.has_more))
}

pub async fn show(State(state): State<AppState>, HsrcCaller(caller): HsrcCaller, id: IdPath) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    Ok(wire::success(wire::account_membership(&operations::get(&state.app, &caller, &id).await?)))
}

/// The permissions sent, all of them: absent is none.
pub async fn replace(
    State(state): State<AppState>,
    HsrcCaller(caller): HsrcCaller,
    id: IdPath,
    body: Result<JsonBody, ApiError>,
) -> Answer {
    write(state, caller, id, body, true).await
}

/// Only what is sent changes.
pub async fn change(
    State(state): State<AppState>,
    HsrcCaller(caller): HsrcCaller,
    id: IdPath,
    body: Result<JsonBody, ApiError>,
) -> Answer {
    write(state, caller, id, body, false).await
}

async fn write(state: AppState, caller: Caller, id: IdPath, body: Result<JsonBody, ApiError>, replace: bool) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    let body = body_object(body)?;
    let mut fields = Fields::of_body(&body)?;
    let permissions = fields.optional("permissions", list_of(MAX_PERMISSIONS, permission));
    fields.finish()?;
    let permissions = if replace { Some(permissions.unwrap_or_default()) } else { permissions };
    let patch = MembershipPatch { permissions, ..MembershipPatch::default() };
    Ok(wire::success(wire::account_membership(&operations::update(&state.app, &caller, &id, patch).await?)))
}

pub async fn delete(State(state): State<AppState>, HsrcCaller(caller): HsrcCaller, id: IdPath) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    operations::delete(&state.app, &caller, &id).await?;
    Ok(wire::done())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn null_members_count_as_absent() {
        let body = body_object(Ok(JsonBody(json!({"email": null, "permissions": ["a:read"]})))).unwrap();
        assert_eq!(body, json!({"permissions": ["a:read"]}));
        let not_an_object = body_object(Ok(JsonBody(json!([null])))).unwrap();
        assert_eq!(not_an_object, json!([null]));
    }
}
