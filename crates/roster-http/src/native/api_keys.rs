//! `/v1/api-keys`. A key is held by a partner group, an organisation or (a user token) a user
//! within the caller's scope, lives in the caller's mode, and may not carry abilities its creator lacks. The secret
//! is in the creation response only; DELETE revokes.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::api_keys::{self as operations, NewApiKey};
use roster_core::{
    Error, ValidationCode,
    input::{Fields, Invalid, choice, future_timestamp, id, list as list_of, present, text},
    model::{KeyHolder, KeyType},
    policy::{Ability, Access},
    time::Timestamp,
};
use serde_json::Value;

use serde::Deserialize;
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

const HOLDER_FIELDS: [&str; 3] = ["partner_group_id", "organisation_id", "user_id"];

fn ability(value: &Value) -> Result<Ability, Invalid> {
    value.as_str().and_then(Ability::parse).ok_or_else(|| {
        Invalid::new(ValidationCode::InvalidChoice, format!("must be one of: {}", Ability::choices().join(", ")))
    })
}

/// Body of `POST /v1/api-keys`: exactly one holder.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateApiKey {
    #[schema(min_length = 1, max_length = 100, example = "CI")]
    name: String,
    /// `secret` (default) or `publishable`; a key with `user_id` is a `user_token`.
    #[serde(default)]
    #[schema(value_type = super::docs::KeyType)]
    r#type: String,
    partner_group_id: Option<String>,
    organisation_id: Option<String>,
    /// Issues a user token acting as this user (no abilities).
    user_id: Option<String>,
    /// `*` or `resource:read|write` for memberships, organisations, users, roles, api_keys,
    /// partner_groups, webhook_endpoints.
    #[serde(default)]
    #[schema(max_items = 32, example = json!(["memberships:read"]))]
    abilities: Vec<String>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

#[utoipa::path(post, path = "/v1/api-keys", tag = "api keys", security(("partner_key" = []), ("organisation_key" = [])),
    request_body = CreateApiKey,
    responses(
        (status = 201, description = "The key, with its secret shown only now", body = wire::ApiKeyCreated),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key, no api_keys:write, abilities the caller lacks, or a user token from a key outside an admin group", body = Problem, content_type = "application/problem+json"),
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
    operations::authorise(&caller, Access::Write)?;
    let new = read_new_key(&body, state.app.now())?;
    let (key, secret) = operations::create(&state.app, &caller, new).await?;
    let body = wire::api_key_created(&key, secret);
    Ok((StatusCode::CREATED, json(body)))
}

/// Reads the body of `POST /v1/api-keys` at `now` (the console's form reads the same).
pub(crate) fn read_new_key(body: &Value, now: Timestamp) -> Result<NewApiKey, Error> {
    let mut fields = Fields::of_body(body)?;
    let name = fields.required("name", text(1, 100));
    let key_type = fields.optional("type", choice(KeyType::CHOICES, KeyType::parse));
    let group_id = fields.optional("partner_group_id", id);
    let organisation_id = fields.optional("organisation_id", id);
    let user_id = fields.optional("user_id", id);
    let abilities = fields.optional("abilities", list_of(32, ability));
    let expires_at = fields.optional("expires_at", future_timestamp(now));
    let holders: Vec<&str> = HOLDER_FIELDS.into_iter().filter(|holder| fields.is_present(holder)).collect();
    match holders.as_slice() {
        [] => fields.reject(
            "partner_group_id",
            ValidationCode::Required,
            "give one of partner_group_id, organisation_id, user_id",
        ),
        [_] => {}
        [_, extra @ ..] => {
            for holder in extra {
                fields.reject(
                    holder,
                    ValidationCode::InvalidChoice,
                    "give exactly one of partner_group_id, organisation_id, user_id",
                );
            }
        }
    }
    let for_user = fields.is_present("user_id");
    if for_user && fields.is_present("abilities") {
        fields.reject(
            "abilities",
            ValidationCode::InvalidChoice,
            "user tokens carry no abilities: they act as their user",
        );
    }
    match key_type {
        Some(KeyType::UserToken) if !for_user => {
            fields.reject("type", ValidationCode::InvalidChoice, "a user_token is held by a user_id")
        }
        Some(KeyType::Secret | KeyType::Publishable) if for_user => {
            fields.reject("type", ValidationCode::InvalidChoice, "a key held by a user is a user_token")
        }
        _ => {}
    }
    fields.finish()?;
    let holder = KeyHolder::from_ids(group_id, organisation_id, user_id)
        .ok_or_else(|| Error::internal("a key holder passed validation without being exactly one"))?;
    Ok(NewApiKey { name: present(name)?, key_type, holder, abilities: abilities.unwrap_or_default(), expires_at })
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api keys", security(("partner_key" = []), ("organisation_key" = [])),
    params(Paging),
    responses(
        (status = 200, description = "Keys in scope, newest first", body = List<wire::ApiKey>),
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
    let (query, ()) = list::parse(&params, |_| ())?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::list(&state.app, &caller, &query).await?;
    Ok(list::render(&uri, &query, (page, held), wire::api_key))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api keys", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "An API key id")),
    responses(
        (status = 200, description = "The key, without its secret", body = wire::ApiKey),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    Ok(json(wire::api_key(&operations::get(&state.app, &caller, &id).await?)))
}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api keys", security(("partner_key" = []), ("organisation_key" = [])),
    params(("id" = String, Path, description = "An API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "INVALID_REQUEST: a key cannot revoke itself", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: publishable key or missing ability", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing or out of scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> EmptyResult {
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    operations::revoke(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
