//! `/v1/organisations`. Organisation keys see and change only their own organisation and may not
//! create or delete organisations; a non-admin group's new organisation is assigned to it.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::organisations as operations;
use roster_core::{
    Error,
    input::{Fields, boolean, email, nullable, present, text},
    model::OrganisationSettings,
    policy::Access,
    store::{NewOrganisation, OrganisationPatch},
};

use serde::Deserialize;
use serde_json::Value;
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

fn read_settings(fields: &mut Fields<'_>) -> Option<OrganisationPatch> {
    fields.nested("settings", |settings| OrganisationPatch {
        name: None,
        enforce_twofactor: settings.optional("enforce_twofactor", boolean),
        abuse_contact_email: settings.optional("abuse_contact_email", nullable(email)),
    })
}

/// Body of `POST /v1/organisations`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateOrganisation {
    #[schema(min_length = 1, max_length = 200, example = "Acme")]
    name: String,
    #[serde(default)]
    settings: SettingsBody,
}

/// Body of `PATCH /v1/organisations/{id}`: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct UpdateOrganisation {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[serde(default)]
    settings: SettingsBody,
}

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct SettingsBody {
    #[serde(default)]
    enforce_twofactor: bool,
    #[schema(format = Email, max_length = 254)]
    abuse_contact_email: Option<String>,
}

#[utoipa::path(post, path = "/v1/organisations", tag = "organisations", security(("partner_key" = [])),
    request_body = CreateOrganisation,
    responses(
        (status = 201, description = "The organisation", body = wire::Organisation),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: an organisation key, a publishable key, or no organisations:write", body = Problem, content_type = "application/problem+json"),
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
    operations::authorise(&caller, Access::Write, true)?;
    let organisation = operations::create(&state.app, &caller, read_new_organisation(&body)?).await?;
    Ok((StatusCode::CREATED, json(wire::organisation(&organisation))))
}

/// Reads the body of `POST /v1/organisations` (the console's form reads the same).
pub(crate) fn read_new_organisation(body: &Value) -> Result<NewOrganisation, Error> {
    let mut fields = Fields::of_body(body)?;
    let name = fields.required("name", text(1, 200));
    let settings = read_settings(&mut fields).unwrap_or_default();
    fields.finish()?;
    Ok(NewOrganisation {
        name: present(name)?,
        settings: OrganisationSettings {
            enforce_twofactor: settings.enforce_twofactor.unwrap_or(false),
            abuse_contact_email: settings.abuse_contact_email.flatten(),
        },
    })
}

#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", security(("partner_key" = []), ("organisation_key" = [])),
    params(Paging),
    responses(
        (status = 200, description = "Organisations in scope, newest first", body = List<wire::Organisation>),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    operations::authorise(&caller, Access::Read, false)?;
    let (query, ()) = list::parse(&params, |_| ())?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::organisation))
}

#[utoipa::path(get, path = "/v1/organisations/{id}", tag = "organisations", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "An organisation id")),
    responses(
        (status = 200, description = "The organisation", body = wire::Organisation),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    operations::authorise(&caller, Access::Read, false)?;
    let id = id.checked()?;
    Ok(json(wire::organisation(&operations::get(&state.app, &caller, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/organisations/{id}", tag = "organisations", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "An organisation id")),
    request_body = UpdateOrganisation,
    responses(
        (status = 200, description = "The organisation as changed", body = wire::Organisation),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
    JsonBody(body): JsonBody,
) -> JsonResult {
    operations::authorise(&caller, Access::Write, false)?;
    let id = id.checked()?;
    let patch = read_organisation_patch(&body)?;
    Ok(json(wire::organisation(&operations::update(&state.app, &caller, &id, patch).await?)))
}

/// Reads the body of `PATCH /v1/organisations/{id}` (the console's renaming reads the same).
pub(crate) fn read_organisation_patch(body: &Value) -> Result<OrganisationPatch, Error> {
    let mut fields = Fields::of_body(body)?;
    let name = fields.optional("name", text(1, 200));
    let settings = read_settings(&mut fields).unwrap_or_default();
    fields.finish()?;
    Ok(OrganisationPatch { name, ..settings })
}

#[utoipa::path(delete, path = "/v1/organisations/{id}", tag = "organisations", security(("partner_key" = [])),
    params(("id" = String, Path, description = "An organisation id")),
    responses(
        (status = 204, description = "Deleted, with its memberships, roles and keys"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: an organisation key, a publishable key, or no organisations:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> EmptyResult {
    operations::authorise(&caller, Access::Write, false)?;
    let id = id.checked()?;
    operations::delete(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
