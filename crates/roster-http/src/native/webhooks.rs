//! `/v1/webhook-endpoints` and `POST /v1/events/{id}/redeliver` (spec §9): where a partner's
//! events of one mode are sent, signed per Standard Webhooks. Admin-group keys only: an
//! endpoint receives every event of its mode. The secret is in the creation and rotation
//! responses only.

use axum::{
    extract::{OriginalUri, State},
    http::StatusCode,
};
use roster_app::webhooks::{self as operations, EndpointPatch, NewEndpoint};
use roster_core::{
    input::{Fields, boolean, id, list as list_of, nullable, present, text},
    policy::Access,
    webhooks::{enabled_event, endpoint_url},
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    CreatedResult, EmptyResult, JsonResult,
    docs::{List, Paging, Problem, UncountedList},
    json, list, wire,
};
use crate::{
    auth::Authenticated,
    extract::{IdPath, JsonBody, OptionalJsonBody, QueryFields},
    state::AppState,
};

/// At most this many `enabled_events` entries (there are fewer types than this).
const MAX_ENABLED_EVENTS: usize = 50;
const MAX_DESCRIPTION_LEN: usize = 500;

/// Body of `POST /v1/webhook-endpoints`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct CreateWebhookEndpoint {
    /// Absolute http(s) URL; one that resolves to a loopback, private or link-local address is
    /// refused unless the operator runs with `--webhook-allow-private`.
    #[schema(max_length = 2048, example = "https://hooks.example.com/roster")]
    url: String,
    /// Types (`membership.updated`), `RESOURCE.*`, or `*`.
    #[schema(min_items = 1, max_items = 50, example = json!(["membership.*"]))]
    enabled_events: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    description: String,
}

/// Body of `PATCH /v1/webhook-endpoints/{id}`: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct UpdateWebhookEndpoint {
    #[serde(default)]
    #[schema(max_length = 2048)]
    url: String,
    #[serde(default)]
    #[schema(min_items = 1, max_items = 50)]
    enabled_events: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    description: String,
    /// Disabling drops what the endpoint had queued; enabling it again sends what comes next.
    #[serde(default)]
    disabled: bool,
}

/// Body of `POST /v1/events/{id}/redeliver`, optional.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document; the handler reads it with Fields")]
pub struct Redeliver {
    /// Only this endpoint (if it is enabled and takes the event); by default, or with null,
    /// every enabled endpoint of the event's mode that takes it.
    endpoint_id: Option<String>,
}

fn enabled_events(value: &serde_json::Value) -> roster_core::input::Parsed<Vec<String>> {
    let events = list_of(MAX_ENABLED_EVENTS, enabled_event)(value)?;
    if events.is_empty() {
        return Err(roster_core::input::Invalid::new(
            roster_core::ValidationCode::MinLength,
            "must name at least one event type",
        ));
    }
    Ok(events)
}

#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", security(("partner_key" = [])),
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 201, description = "The endpoint with its signing secret, shown only here", body = wire::WebhookEndpointWithSecret),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: not an admin-group secret key with webhook_endpoints:write", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*, e.g. a url that resolves to a private address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> CreatedResult {
    operations::authorise(&caller, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let url = fields.required("url", endpoint_url);
    let enabled_events = fields.required("enabled_events", enabled_events);
    let description = fields.optional("description", text(0, MAX_DESCRIPTION_LEN));
    fields.finish()?;
    let new = NewEndpoint {
        url: present(url)?,
        enabled_events: present(enabled_events)?,
        description: description.unwrap_or_default(),
    };
    let created = operations::create(&state.app, &caller, new).await?;
    Ok((StatusCode::CREATED, json(wire::webhook_endpoint_with_secret(&created.endpoint, created.secret))))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", security(("partner_key" = [])),
    params(Paging),
    responses(
        (status = 200, description = "The endpoints of the key's partner and mode, newest first", body = List<wire::WebhookEndpoint>),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* for a parameter", body = Problem, content_type = "application/problem+json"),
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
    Ok(list::respond(list::body(&uri, &query, page, wire::webhook_endpoint), held))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A webhook endpoint id")),
    responses(
        (status = 200, description = "The endpoint, without its secret", body = wire::WebhookEndpoint),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing, or of another partner or mode", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> JsonResult {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    Ok(json(wire::webhook_endpoint(&operations::get(&state.app, &caller, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A webhook endpoint id")),
    request_body = UpdateWebhookEndpoint,
    responses(
        (status = 200, description = "The endpoint as changed", body = wire::WebhookEndpoint),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing, or of another partner or mode", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*", body = Problem, content_type = "application/problem+json"),
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
    let patch = EndpointPatch {
        url: fields.optional("url", endpoint_url),
        enabled_events: fields.optional("enabled_events", enabled_events),
        description: fields.optional("description", text(0, MAX_DESCRIPTION_LEN)),
        disabled: fields.optional("disabled", boolean),
    };
    fields.finish()?;
    Ok(json(wire::webhook_endpoint(&operations::update(&state.app, &caller, &id, patch).await?)))
}

#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A webhook endpoint id")),
    responses(
        (status = 204, description = "Deleted, with what it had queued and its deliveries"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing, or of another partner or mode", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(State(state): State<AppState>, Authenticated(caller): Authenticated, id: IdPath) -> EmptyResult {
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    operations::delete(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A webhook endpoint id")),
    responses(
        (status = 200, description = "The endpoint with its new secret; the previous one also signs for 24 hours", body = wire::WebhookEndpointWithSecret),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing, or of another partner or mode", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
) -> JsonResult {
    operations::authorise(&caller, Access::Write)?;
    let id = id.checked()?;
    let rotated = operations::rotate_secret(&state.app, &caller, &id).await?;
    Ok(json(wire::webhook_endpoint_with_secret(&rotated.endpoint, rotated.secret)))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks", security(("partner_key" = [])),
    params(("id" = String, Path, description = "A webhook endpoint id"), Paging),
    responses(
        (status = 200, description = "The endpoint's attempts, newest first; not counted", body = UncountedList<wire::WebhookDelivery>),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: missing, or of another partner or mode", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_* for a parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    id: IdPath,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    let (query, ()) = list::parse(&params, |_| ())?;
    let held = state.app.hold_list_rows(query.limit).await?;
    let page = operations::deliveries(&state.app, &caller, &id, &query).await?;
    Ok(list::respond(list::uncounted_body(&uri, &query, page, wire::webhook_delivery), held))
}

#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "webhooks", security(("partner_key" = [])),
    params(("id" = String, Path, description = "An event id")),
    request_body(content = Option<Redeliver>, description = "Optional: one endpoint only"),
    responses(
        (status = 202, description = "Queued for the endpoints listed", body = wire::Redelivery),
        (status = 400, description = "INVALID_JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHORISED", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "FORBIDDEN: not an admin-group secret key with webhook_endpoints:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND: the event or the endpoint is missing, or of another partner or mode", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_*", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "SERVICE_UNAVAILABLE", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn redeliver(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    event_id: IdPath,
    OptionalJsonBody(body): OptionalJsonBody,
) -> CreatedResult {
    operations::authorise(&caller, Access::Write)?;
    let event_id = event_id.checked()?;
    let endpoint_id = match &body {
        Some(body) => {
            let mut fields = Fields::of_body(body)?;
            let endpoint_id = fields.optional("endpoint_id", nullable(id));
            fields.finish()?;
            endpoint_id.flatten()
        }
        None => None,
    };
    let queued = operations::redeliver(&state.app, &caller, &event_id, endpoint_id.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, json(wire::redelivery(&event_id, queued))))
}
