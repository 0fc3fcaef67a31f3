//! `/v1/users`. Users belong to the partner; a non-admin group or an organisation key sees those
//! with a membership in its organisations.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::users as operations;
use roster_core::{
    input::{Fields, boolean, email, present, text},
    policy::Access,
    store::{NewUser, UserPatch},
};

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

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

/// Body of `POST /v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateUser {
    /// Unique per partner and mode, ignoring case.
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    email: String,
    #[schema(min_length = 1, max_length = 100, example = "Ada")]
    first_name: String,
    #[schema(min_length = 1, max_length = 100, example = "Lovelace")]
    last_name: String,
    #[serde(default)]
    is_staff: bool,
}

/// Body of `PATCH /v1/users/{id}`: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct UpdateUser {
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    first_name: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    last_name: String,
    #[serde(default)]
    is_staff: bool,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the filters in the OpenAPI document; the handler reads them with Fields")]
pub struct UserFilters {
    /// Compared ignoring case.
    #[param(max_length = 254)]
    email: Option<String>,
}

#[utoipa::path(post, path = "/v1/users", tag = "users", security(("partner_key" = []), ("organisation_key" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "The user", body = wire::User),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*, USER_ALREADY_EXISTS", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> CreatedResult {
    operations::authorise(&caller, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let email = fields.required("email", email);
    let first_name = fields.required("first_name", text(1, 100));
    let last_name = fields.required("last_name", text(1, 100));
    let is_staff = fields.optional("is_staff", boolean);
    fields.finish()?;
    let user = NewUser {
        email: present(email)?,
        first_name: present(first_name)?,
        last_name: present(last_name)?,
        is_staff: is_staff.unwrap_or(false),
    };
    let user = operations::create(&state.app, &caller, user).await?;
    Ok((StatusCode::CREATED, json(wire::user(&user))))
}

#[utoipa::path(get, path = "/v1/users", tag = "users", security(("partner_key" = []), ("organisation_key" = [])),
    params(Paging, UserFilters),
    responses(
        (status = 200, description = "Users in scope, newest first", body = List<wire::User>),
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
    operations::authorise(&caller, Access::Read)?;
    let (query, email) =
        list::parse(&params, |fields| fields.optional("email", text(1, roster_core::input::MAX_EMAIL_LEN)))?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, email.as_deref(), &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::user))
}

#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "A user id")),
    responses(
        (status = 200, description = "The user", body = wire::User),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    Ok(json(wire::user(&operations::get(&state.app, &caller, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "A user id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The user as changed", body = wire::User),
        (status = 400, description = "INVALID_JSON; INVALID_REQUEST: is_staff for a user with memberships", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key, missing ability, or a user with memberships outside the key's scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*, USER_ALREADY_EXISTS", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
    JsonBody(body): JsonBody,
) -> JsonResult {
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    let mut fields = Fields::of_body(&body)?;
    let patch = UserPatch {
        email: fields.optional("email", email),
        first_name: fields.optional("first_name", text(1, 100)),
        last_name: fields.optional("last_name", text(1, 100)),
        is_staff: fields.optional("is_staff", boolean),
    };
    fields.finish()?;
    Ok(json(wire::user(&operations::update(&state.app, &caller, &id, patch).await?)))
}
