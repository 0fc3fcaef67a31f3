//! `/v1/partners`: the operator's master key creates partners and receives their admin keys once.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::partners as operations;
use roster_core::{
    input::{Fields, choice, present, text},
    model::Mode,
};

use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    CreatedResult, JsonResult,
    docs::{List, Paging, Problem},
    json, list, wire,
};
use crate::{
    auth::Authenticated,
    extract::{IdPath, JsonBody, QueryFields},
    state::AppState,
};

/// Body of `POST /v1/partners`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreatePartner {
    #[schema(min_length = 1, max_length = 200, example = "Acme Platform")]
    name: String,
}

#[utoipa::path(post, path = "/v1/partners", tag = "partners", security(("master_key" = [])),
    request_body = CreatePartner,
    responses(
        (status = 201, description = "The partner and its admin keys, shown only now", body = wire::PartnerCreated),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED: not the master key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
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
    operations::authorise(&caller)?;
    let mut fields = Fields::of_body(&body)?;
    let name = fields.required("name", text(1, 200));
    fields.finish()?;
    let provisioned = operations::create(&state.app, &caller, present(name)?).await?;
    let body = wire::partner_created(&provisioned.partner, &provisioned.admin_keys);
    Ok((StatusCode::CREATED, json(body)))
}

/// Body of `POST /v1/partners/{id}/admin-keys`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateAdminKey {
    #[schema(pattern = "^(live|test)$", example = "live")]
    mode: String,
}

/// The operator's way back into a partner that lost its keys: a new admin key in the partner's
/// oldest admin group (an admin group is created again if none is left), shown only now.
#[utoipa::path(post, path = "/v1/partners/{id}/admin-keys", tag = "partners", security(("master_key" = [])),
    params(("id" = String, Path, description = "A partner id")),
    request_body = CreateAdminKey,
    responses(
        (status = 201, description = "The admin key, with its secret shown only now", body = wire::ApiKeyCreated),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED: not the master key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_admin_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
    JsonBody(body): JsonBody,
) -> CreatedResult {
    operations::authorise(&caller)?;
    let id = id.checked()?;
    let mut fields = Fields::of_body(&body)?;
    let mode = fields.required(
        "mode",
        choice(&["live", "test"], |text| match text {
            "live" => Some(Mode::Live),
            "test" => Some(Mode::Test),
            _ => None,
        }),
    );
    fields.finish()?;
    let (key, secret) = operations::issue_admin_key(&state.app, &caller, &id, present(mode)?).await?;
    Ok((StatusCode::CREATED, json(wire::api_key_created(&key, secret))))
}

#[utoipa::path(get, path = "/v1/partners", tag = "partners", security(("master_key" = [])),
    params(Paging),
    responses(
        (status = 200, description = "Partners, newest first", body = List<wire::Partner>),
        (status = 401, description = "UNAUTHORISED: not the master key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* (every invalid field)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    operations::authorise(&caller)?;
    let (query, ()) = list::parse(&params, |_| ())?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::partner))
}

#[utoipa::path(get, path = "/v1/partners/{id}", tag = "partners", security(("master_key" = [])),
    params(("id" = String, Path, description = "A partner id")),
    responses(
        (status = 200, description = "The partner", body = wire::Partner),
        (status = 401, description = "UNAUTHORISED: not the master key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    operations::authorise(&caller)?;
    let id = id.checked()?;
    Ok(json(wire::partner(&operations::get(&state.app, &caller, &id).await?)))
}
