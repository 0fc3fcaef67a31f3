//! rebilly's routes: find the caller (`REB-APIKEY`, else `Authorization: Bearer`), check the
//! `{currentOrg}` of a prefixed path, parse, call one `roster_app` operation, render.

use axum::{
    extract::{FromRequestParts, OriginalUri, State},
    http::{HeaderName, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use roster_app::{
    Caller,
    memberships::{self as operations, Missing, UserWrites},
};
use roster_core::{
    Error,
    input::{Fields, boolean, id, ip_or_cidr, is_id, list as list_of, permission},
    policy::Access,
    store::MembershipPatch,
};

use super::{
    errors::Failure,
    query,
    wire::{self, Links},
};
use crate::{auth, extract::JsonBody, native::list::stream_array, problem::ApiError, state::AppState};

type Answer = Result<Response, Failure>;

const MAX_ROLE_IDS: usize = 50;
const MAX_PERMISSIONS: usize = 100;
const MAX_ALLOWED_IPS: usize = 100;

/// The caller, from `REB-APIKEY` (which wins when both are sent) or `Authorization: Bearer`.
pub struct RebillyCaller(Caller);

impl FromRequestParts<AppState> for RebillyCaller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let api_key = match parts.headers.get("reb-apikey") {
            Some(value) => Some(value.to_str().map_err(|_| Error::Unauthorised)?.trim()),
            None => auth::bearer(parts),
        };
        Ok(Self(auth::caller(parts, state, api_key).await?))
    }
}

/// The ids of the path: `{currentOrg}` when prefixed, then the membership's pair.
pub struct Target {
    current: Option<String>,
    organization_id: Option<String>,
    user_id: Option<String>,
    links: Links,
}

impl FromRequestParts<AppState> for Target {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        // The segments are read from the path the router matched, each decoded on its own: one
        // that does not decode (not UTF-8) is an id that names nothing, a `{currentOrg}` 403
        // and a pair 404, whatever the other segments hold.
        let path = parts.extensions.get::<OriginalUri>().map_or(parts.uri.path(), |uri| uri.0.path());
        let segments: Vec<Option<String>> =
            path.strip_prefix("/compat/rebilly/").unwrap_or_default().split('/').map(decode_segment).collect();
        let (current, pair) = match segments.as_slice() {
            [Some(first), current, _memberships, pair @ ..] if first == "organizations" => {
                (Some(current.clone().unwrap_or_default()), pair)
            }
            [_memberships, pair @ ..] => (None, pair),
            [] => (None, &[][..]),
        };
        let links = Links {
            origin: super::super::origin(parts, state),
            current: current.clone().unwrap_or_else(|| "unknown".to_owned()),
        };
        Ok(Self {
            current,
            organization_id: pair.first().cloned().flatten(),
            user_id: pair.get(1).cloned().flatten(),
            links,
        })
    }
}

fn decode_segment(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment).decode_utf8().ok().map(|decoded| decoded.into_owned())
}

impl Target {
    /// `{currentOrg}`, when sent and not `unknown`, must name an organisation the caller reads
    /// memberships of: anything else is 403, before anything else is looked at.
    async fn check_current(&self, state: &AppState, caller: &Caller) -> Result<(), Error> {
        match self.current.as_deref() {
            None | Some("unknown") => Ok(()),
            Some(current) if !is_id(current) => Err(Error::Forbidden),
            Some(current) => {
                operations::require_organisation(&state.app, caller, current, Access::Read, Missing::Forbidden).await
            }
        }
    }

    /// The membership's pair; an id that could not be one is not found.
    fn pair(&self) -> Result<(&str, &str), Error> {
        match (self.organization_id.as_deref(), self.user_id.as_deref()) {
            (Some(organization_id), Some(user_id)) if is_id(organization_id) && is_id(user_id) => {
                Ok((organization_id, user_id))
            }
            _ => Err(Error::NotFound),
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    RebillyCaller(caller): RebillyCaller,
    target: Target,
    OriginalUri(uri): OriginalUri,
) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    target.check_current(&state, &caller).await?;
    let (filter, query) = query::parse(uri.query())?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, &filter, &query).await?;
    let offset = match query.position {
        roster_core::page::Position::Offset(offset) => offset,
        _ => 0,
    };
    let links = target.links;
    let mut response = stream_array(page.items, move |membership| wire::membership(membership, &links), held);
    let headers = response.headers_mut();
    for (name, value) in
        [("pagination-total", page.count), ("pagination-limit", u64::from(query.limit)), ("pagination-offset", offset)]
    {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    Ok(response)
}

pub async fn show(State(state): State<AppState>, RebillyCaller(caller): RebillyCaller, target: Target) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    target.check_current(&state, &caller).await?;
    let (organization_id, user_id) = target.pair()?;
    let found = operations::find_by_pair(&state.app, &caller, organization_id, user_id).await?;
    let membership = found.ok_or(Error::NotFound)?;
    Ok(axum::Json(wire::membership(&membership, &target.links)).into_response())
}

/// Creates (201) or changes (200) the membership; fields not sent keep their value.
pub async fn upsert(
    State(state): State<AppState>,
    RebillyCaller(caller): RebillyCaller,
    target: Target,
    body: Result<JsonBody, ApiError>,
) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    target.check_current(&state, &caller).await?;
    let (organization_id, user_id) = target.pair()?;
    let JsonBody(body) = body?;
    let mut fields = Fields::of_body(&body)?;
    let patch = MembershipPatch {
        is_owner: fields.optional("isOwner", boolean),
        permissions: fields.optional("permissions", list_of(MAX_PERMISSIONS, permission)),
        role_ids: fields.optional("roleIds", list_of(MAX_ROLE_IDS, id)),
        allowed_ips: fields.optional("allowedIps", list_of(MAX_ALLOWED_IPS, ip_or_cidr)),
        ..MembershipPatch::default()
    };
    // The read-only members of the shape a client read: sent back in a read-modify-write.
    for read_only in ["organization", "user", "isDefault", "createdTime", "updatedTime", "_links", "acl", "_embedded"] {
        fields.optional(read_only, |_| Ok(()));
    }
    fields.finish()?;
    let upserted =
        operations::upsert(&state.app, &caller, organization_id, user_id, patch, UserWrites::AsOwner).await?;
    let shape = wire::membership(&upserted.membership, &target.links);
    if !upserted.created {
        return Ok(axum::Json(shape).into_response());
    }
    let location = HeaderValue::try_from(target.links.membership(organization_id, user_id))
        .map_err(|error| Error::internal(format!("a self link is not a header value: {error}")))?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(shape)).into_response())
}

pub async fn delete(State(state): State<AppState>, RebillyCaller(caller): RebillyCaller, target: Target) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    target.check_current(&state, &caller).await?;
    let (organization_id, user_id) = target.pair()?;
    operations::delete_by_pair(&state.app, &caller, organization_id, user_id, UserWrites::AsOwner).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
