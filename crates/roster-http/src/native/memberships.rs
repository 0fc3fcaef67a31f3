//! `/v1/memberships`: partner-level only, per the chargebackstop reference. Organisation keys
//! get 401 and publishable keys 403 (see [`roster_core::policy`]).

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use std::net::IpAddr;

use roster_app::{events::AsOf, memberships as operations};
use roster_core::{
    Error, ValidationCode,
    input::{
        Fields, Invalid, boolean, choice, email, id, ip_or_cidr, list as list_of, metadata, permission, present,
        reference, text, timestamp,
    },
    model::{AccessScope, MembershipRole, MembershipStatus},
    policy::Access,
    store::{MembershipFilter, MembershipPatch},
};

use serde_json::Value;
use std::collections::HashMap;

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    CreatedResult, EmptyResult, JsonResult,
    docs::{self, List, Paging, Problem},
    json, list, partner_level, wire,
};
use crate::{
    auth::Authenticated,
    extract::{IdPath, JsonBody, QueryFields},
    state::AppState,
};

const MAX_ROLE_IDS: usize = 50;
const MAX_PERMISSIONS: usize = 100;
const MAX_ALLOWED_IPS: usize = 100;

/// Body of `POST /v1/memberships`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateMembership {
    /// An organisation in the caller's scope.
    organisation_id: String,
    /// Used when the user is created; an existing user keeps its names.
    #[schema(min_length = 1, max_length = 100, example = "Ada")]
    first_name: String,
    #[schema(min_length = 1, max_length = 100, example = "Lovelace")]
    last_name: String,
    /// The user is found by this address (ignoring case) or created.
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    email: String,
    #[schema(value_type = docs::MembershipRole)]
    role: String,
    #[serde(flatten)]
    settings: MembershipSettingsBody,
    /// `accepted` (default) or `pending` (an invitation the user answers).
    #[serde(default)]
    #[schema(value_type = String, example = "accepted", pattern = "^(accepted|pending)$")]
    status: String,
}

/// Body of `PATCH /v1/memberships/{id}`: only the fields sent change; `{}` changes nothing.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct UpdateMembership {
    #[serde(default)]
    #[schema(value_type = docs::MembershipRole)]
    role: String,
    #[serde(flatten)]
    settings: MembershipSettingsBody,
}

/// The fields a membership's managers may set.
#[derive(Deserialize, ToSchema)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct MembershipSettingsBody {
    #[serde(default)]
    is_alert_action_required_email_enabled: bool,
    #[serde(default)]
    is_alert_resolved_email_enabled: bool,
    #[serde(default)]
    is_alert_dismissed_email_enabled: bool,
    #[serde(default)]
    is_evidence_requested_email_enabled: bool,
    /// Custom roles of the same organisation.
    #[serde(default)]
    #[schema(max_items = 50)]
    role_ids: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<docs::Permission>)]
    permissions: Vec<String>,
    #[serde(default)]
    is_owner: bool,
    /// At most one per user: setting it clears the user's others.
    #[serde(default)]
    is_default: bool,
    /// IP addresses or CIDR blocks the user may act from; empty allows any.
    #[serde(default)]
    #[schema(max_items = 100, example = json!(["10.0.0.0/8"]))]
    allowed_ips: Vec<String>,
    #[serde(default)]
    api_access_enabled: bool,
    #[serde(default)]
    #[schema(value_type = docs::AccessScope)]
    access_scope: String,
    #[serde(default)]
    test_enabled: bool,
    #[schema(max_length = 255)]
    reference: Option<String>,
    #[schema(max_length = 255)]
    reference_origin: Option<String>,
    /// At most 50 keys of up to 40 characters, string values of up to 500.
    #[serde(default)]
    #[schema(value_type = HashMap<String, String>)]
    metadata: HashMap<String, String>,
}

/// Filters of `GET /v1/memberships`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the filters in the OpenAPI document; the handler reads them with Fields")]
pub struct MembershipFilters {
    organisation_id: Option<String>,
    user_id: Option<String>,
    /// Compared ignoring case.
    #[param(max_length = 254)]
    email: Option<String>,
    #[param(value_type = Option<docs::MembershipRole>)]
    role: Option<String>,
    #[param(value_type = Option<docs::MembershipStatus>)]
    status: Option<String>,
}

/// Parameters of `GET /v1/check`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the parameters in the OpenAPI document; the handler reads them with Fields")]
pub struct CheckParams {
    organisation_id: String,
    user_id: String,
    /// The permission to check, e.g. `invoices:write`.
    #[param(
        pattern = r"^(\*|[A-Za-z0-9_.-]+|(\*|[A-Za-z0-9_.-]+):(\*|[A-Za-z0-9_.-]+)|[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+){2,})$",
        max_length = 100
    )]
    permission: String,
    /// When given, the membership's `allowed_ips` must contain it.
    #[param(min_length = 1)]
    ip: Option<String>,
}

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
        reference: fields.optional("reference", reference),
        reference_origin: fields.optional("reference_origin", reference),
        metadata: fields.optional("metadata", metadata),
    }
}

/// A partner invites (`pending`) or adds (`accepted`); only the user may reject.
fn initial_status(text: &str) -> Option<MembershipStatus> {
    MembershipStatus::parse(text).filter(|status| *status != MembershipStatus::Rejected)
}

#[utoipa::path(post, path = "/v1/memberships", tag = "memberships", security(("partner_key" = [])),
    request_body = CreateMembership,
    responses(
        (status = 201, description = "The membership", body = wire::Membership),
        (status = 400, description = "INVALID_JSON; INVALID_REQUEST when the user is staff", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key, no memberships:write, or is_default for a user with memberships outside the key's scope", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field), MEMBERSHIP_ALREADY_EXISTS", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> CreatedResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Write)?;
    let membership = read_new_membership(&body)?;
    let membership = operations::create(&state.app, &caller, membership).await?;
    Ok((StatusCode::CREATED, json(wire::membership(&membership))))
}

/// Reads the body of `POST /v1/memberships` (the console's invitation reads the same).
pub(crate) fn read_new_membership(body: &Value) -> Result<operations::CreateMembership, Error> {
    let mut fields = Fields::of_body(body)?;
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
    Ok(operations::CreateMembership {
        organisation_id: present(organisation_id)?,
        email: present(email)?,
        first_name: Some(present(first_name)?),
        last_name: Some(present(last_name)?),
        role: present(settings.role)?,
        status: status.unwrap_or(MembershipStatus::Accepted),
        settings,
    })
}

#[utoipa::path(get, path = "/v1/memberships", tag = "memberships", security(("partner_key" = [])),
    params(Paging, MembershipFilters),
    responses(
        (status = 200, description = "Memberships in scope, newest first", body = List<wire::Membership>),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key, or no memberships:read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* for a parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Read)?;
    let (query, filter) = list::parse(&params, |fields| MembershipFilter {
        organisation_ids: fields.optional("organisation_id", id).map(|id| vec![id]),
        user_ids: fields.optional("user_id", id).map(|id| vec![id]),
        email: fields.optional("email", text(1, roster_core::input::MAX_EMAIL_LEN)),
        roles: fields.optional("role", choice(MembershipRole::CHOICES, MembershipRole::parse)).map(|role| vec![role]),
        statuses: fields
            .optional("status", choice(MembershipStatus::CHOICES, MembershipStatus::parse))
            .map(|status| vec![status]),
        ..MembershipFilter::default()
    })?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, &filter, &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::membership))
}

/// `as_of`: the membership as it was at that moment.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the parameter in the OpenAPI document; the handler reads it with Fields")]
pub struct AsOfParam {
    /// RFC 3339: answer the membership as it was then (its version of then), also when it has
    /// been deleted since.
    as_of: Option<String>,
}

#[utoipa::path(get, path = "/v1/memberships/{id}", tag = "memberships", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A membership id"), AsOfParam),
    responses(
        (status = 200, description = "The membership (as it was at `as_of`, when given)", body = wire::Membership),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope (at `as_of`: not existing then)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_INVALID_FORMAT: `as_of` is not RFC 3339", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
    QueryFields(params): QueryFields,
) -> JsonResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Read)?;
    let mut fields = Fields::new(&params);
    let as_of = fields.optional("as_of", timestamp);
    fields.finish()?;
    let id = id.checked()?;
    let Some(at) = as_of else {
        return Ok(json(wire::membership(&operations::get(&state.app, &caller, &id).await?)));
    };
    Ok(match roster_app::events::membership_as_of(&state.app, &caller, &id, at).await? {
        AsOf::Recorded(shown) => json(shown),
        AsOf::Unrecorded(membership) => json(wire::membership(&membership)),
    })
}

#[utoipa::path(patch, path = "/v1/memberships/{id}", tag = "memberships", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A membership id")),
    request_body = UpdateMembership,
    responses(
        (status = 200, description = "The membership as changed", body = wire::Membership),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key, no memberships:write, or is_default for a user with memberships outside the key's scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*; MEMBERSHIP_UPDATE_FORBIDDEN (last admin or owner)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
    JsonBody(body): JsonBody,
) -> JsonResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    let patch = read_membership_patch(&body)?;
    Ok(json(wire::membership(&operations::update(&state.app, &caller, &id, patch).await?)))
}

/// Reads the body of `PATCH /v1/memberships/{id}` (the console's changes read the same).
pub(crate) fn read_membership_patch(body: &Value) -> Result<MembershipPatch, Error> {
    let mut fields = Fields::of_body(body)?;
    let patch = read_settings(&mut fields);
    fields.finish()?;
    Ok(patch)
}

#[utoipa::path(delete, path = "/v1/memberships/{id}", tag = "memberships", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A membership id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "MEMBERSHIP_DELETION_FORBIDDEN (last admin or owner)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> EmptyResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    operations::delete(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the membership lets its user do, sorted and without duplicates.
#[utoipa::path(get, path = "/v1/memberships/{id}/permissions", tag = "memberships", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A membership id")),
    responses(
        (status = 200, description = "Its effective permissions", body = wire::PermissionSet),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn permissions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
) -> JsonResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    let permissions = operations::effective_permissions(&state.app, &caller, &id).await?;
    Ok(json(wire::permission_set(&permissions)))
}

/// The membership's versions: every event that touched it, newest first, also after it was
/// deleted.
#[utoipa::path(get, path = "/v1/memberships/{id}/versions", tag = "memberships", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A membership id, also of one deleted since"), Paging),
    responses(
        (status = 200, description = "Its events, newest first", body = List<wire::Event>),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key, or no memberships:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: no such membership in scope, now or before", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* for a parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn versions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
    QueryFields(params): QueryFields,
) -> JsonResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Read)?;
    let (query, ()) = list::parse(&params, |_| ())?;
    let id = id.checked()?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = roster_app::events::membership_versions(&state.app, &caller, &id, &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::event))
}

/// `GET /v1/check`: may this user do this in this organisation (from this address)?
#[utoipa::path(get, path = "/v1/check", tag = "memberships", security(("partner_key" = [])),
    params(CheckParams),
    responses(
        (status = 200, description = "Whether the user may", body = wire::Check),
        (status = 401, description = "UNAUTHORISED, also for organisation keys", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: the organisation is missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* for a parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn check(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    QueryFields(params): QueryFields,
) -> JsonResult {
    partner_level(&caller)?;
    operations::authorise(&caller, Access::Read)?;
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
    let check = operations::check(&state.app, &caller, &organisation_id, &user_id, &required, address).await?;
    Ok(json(wire::check(check.allowed, check.membership_id.as_deref())))
}
