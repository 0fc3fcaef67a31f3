//! `/v1/memberships`: partner-level only, per the chargebackstop reference. Organisation keys
//! get 401 and publishable keys 403 (see [`roster_core::policy`]).

use axum::{
    Json,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
};
use std::net::IpAddr;

use roster_core::{
    Error, ValidationCode,
    input::{
        Fields, Invalid, boolean, choice, email, id, ip_or_cidr, list as list_of, metadata, nullable, permission,
        present, text,
    },
    model::{AccessScope, Membership, MembershipRole, MembershipSettings, MembershipStatus},
    page::ListQuery,
    policy::{Access, Api},
    store::{MembershipFilter, MembershipPatch, NewMembership},
    time::Timestamp,
};

use super::{CreatedResult, EmptyResult, JsonResult, list, wire};
use crate::{
    auth::Caller,
    extract::{JsonBody, QueryFields},
    state::AppState,
};

const MAX_ROLE_IDS: usize = 50;
const MAX_PERMISSIONS: usize = 100;
const MAX_ALLOWED_IPS: usize = 100;
const MAX_REFERENCE_LEN: usize = 255;

/// The fields a membership's managers may set, on create and on update alike.
fn read_settings(fields: &mut Fields<'_>) -> MembershipPatch {
    MembershipPatch {
        role: fields.optional("role", choice(MembershipRole::CHOICES, MembershipRole::parse)),
        alert_action_required: fields.optional("is_alert_action_required_email_enabled", boolean),
        alert_resolved: fields.optional("is_alert_resolved_email_enabled", boolean),
        alert_dismissed: fields.optional("is_alert_dismissed_email_enabled", boolean),
        evidence_requested: fields.optional("is_evidence_requested_email_enabled", boolean),
        role_ids: fields.optional("role_ids", list_of(MAX_ROLE_IDS, id)),
        permissions: fields.optional("permissions", list_of(MAX_PERMISSIONS, permission)),
        is_owner: fields.optional("is_owner", boolean),
        is_default: fields.optional("is_default", boolean),
        allowed_ips: fields.optional("allowed_ips", list_of(MAX_ALLOWED_IPS, ip_or_cidr)),
        api_access_enabled: fields.optional("api_access_enabled", boolean),
        access_scope: fields.optional("access_scope", choice(AccessScope::CHOICES, AccessScope::parse)),
        test_enabled: fields.optional("test_enabled", boolean),
        reference: fields.optional("reference", nullable(text(0, MAX_REFERENCE_LEN))),
        reference_origin: fields.optional("reference_origin", nullable(text(0, MAX_REFERENCE_LEN))),
        metadata: fields.optional("metadata", metadata),
    }
}

/// A partner invites (`pending`) or adds (`accepted`); only the user may reject.
fn initial_status(text: &str) -> Option<MembershipStatus> {
    MembershipStatus::parse(text).filter(|status| *status != MembershipStatus::Rejected)
}

pub async fn create(State(state): State<AppState>, Caller(caller): Caller, JsonBody(body): JsonBody) -> CreatedResult {
    let scope = caller.scope_for(Api::Memberships, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let organisation_id = fields.required("organisation_id", id);
    let first_name = fields.required("first_name", text(1, 100));
    let last_name = fields.required("last_name", text(1, 100));
    let email = fields.required("email", email);
    if !fields.is_present("role") {
        fields.reject("role", ValidationCode::Required, "is required");
    }
    let settings = read_settings(&mut fields);
    let status = fields.optional("status", choice(&["accepted", "pending"], initial_status));
    fields.finish()?;
    let membership = NewMembership {
        organisation_id: present(organisation_id)?,
        email: present(email)?,
        first_name: present(first_name)?,
        last_name: present(last_name)?,
        status: status.unwrap_or(MembershipStatus::Accepted),
        settings: settings.apply(&MembershipSettings::new(present(settings.role)?)),
    };
    let membership = state.store.create_membership(&scope, membership, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(wire::membership(&membership))))
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    let scope = caller.scope_for(Api::Memberships, Access::Read)?;
    let (query, filter) = list::parse(&params, |fields| MembershipFilter {
        organisation_id: fields.optional("organisation_id", id),
        user_id: fields.optional("user_id", id),
        email: fields.optional("email", text(1, roster_core::input::MAX_EMAIL_LEN)),
        role: fields.optional("role", choice(MembershipRole::CHOICES, MembershipRole::parse)),
        status: fields.optional("status", choice(MembershipStatus::CHOICES, MembershipStatus::parse)),
    })?;
    let page = state.store.list_memberships(&scope, &filter, &query).await?;
    Ok(list::render(&uri, &query, page, wire::membership))
}

pub async fn show(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> JsonResult {
    let scope = caller.scope_for(Api::Memberships, Access::Read)?;
    Ok(Json(wire::membership(&state.store.get_membership(&scope, &id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let scope = caller.scope_for(Api::Memberships, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let patch = read_settings(&mut fields);
    fields.finish()?;
    Ok(Json(wire::membership(&state.store.update_membership(&scope, &id, patch, Timestamp::now()).await?)))
}

pub async fn delete(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> EmptyResult {
    let scope = caller.scope_for(Api::Memberships, Access::Write)?;
    state.store.delete_membership(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the membership lets its user do, sorted and without duplicates.
pub async fn permissions(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> JsonResult {
    let scope = caller.scope_for(Api::Memberships, Access::Read)?;
    let membership = state.store.get_membership(&scope, &id).await?;
    let permissions = effective_permissions(&state, &membership).await?;
    Ok(Json(wire::permission_set(&permissions)))
}

pub async fn effective_permissions(state: &AppState, membership: &Membership) -> Result<Vec<String>, Error> {
    let from_roles = state.store.role_permissions(&membership.organisation_id, &membership.settings.role_ids).await?;
    Ok(roster_core::permissions::effective(membership.status, &membership.settings, &from_roles))
}

/// `GET /v1/check`: may this user do this in this organisation (from this address)?
pub async fn check(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryFields(params): QueryFields,
) -> JsonResult {
    let scope = caller.scope_for(Api::Memberships, Access::Read)?;
    let mut fields = Fields::new(&params);
    let organisation_id = fields.required("organisation_id", id);
    let user_id = fields.required("user_id", id);
    let required = fields.required("permission", permission);
    let address = fields.optional("ip", |value| {
        value
            .as_str()
            .and_then(|text| text.parse::<IpAddr>().ok())
            .ok_or_else(|| Invalid::new(ValidationCode::InvalidFormat, "must be an IP address"))
    });
    fields.finish()?;
    let (organisation_id, user_id, required) = (present(organisation_id)?, present(user_id)?, present(required)?);
    state.store.get_organisation(&scope, &organisation_id).await?;
    let filter = MembershipFilter {
        organisation_id: Some(organisation_id),
        user_id: Some(user_id),
        ..MembershipFilter::default()
    };
    let page = state.store.list_memberships(&scope, &filter, &ListQuery { limit: 1, ..ListQuery::default() }).await?;
    let Some(membership) = page.items.first() else {
        return Ok(Json(wire::check(false, None)));
    };
    let granted = effective_permissions(&state, membership).await?;
    let allowed = roster_core::permissions::allows(&granted, &required)
        && address.is_none_or(|ip| roster_core::permissions::address_allowed(&membership.settings.allowed_ips, ip));
    Ok(Json(wire::check(allowed, Some(&membership.id))))
}
