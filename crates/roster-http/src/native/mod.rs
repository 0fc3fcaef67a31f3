//! The native API, `/v1/...`: a strict superset of the chargebackstop memberships reference.
//! Each handler asks the application whether the caller may use the endpoint at all, reads its
//! input with the core's parsers, calls one `roster_app` operation and renders the result.

pub(crate) mod api_keys;
mod docs;
mod events;
mod groups;
pub(crate) mod list;
mod me;
pub(crate) mod memberships;
pub(crate) mod organisations;
mod partners;
mod roles;
mod users;
mod webhooks;
pub mod wire;

pub use list::{ListBody, body as list_body};

use axum::{
    Json, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use roster_app::Caller;
use roster_core::{Error, policy::Principal};

use crate::{problem::ApiError, state::AppState};

type JsonResult = Result<Response, ApiError>;
type CreatedResult = Result<(StatusCode, Response), ApiError>;

/// A wire shape as the JSON response body, serialised straight from its struct.
fn json(body: impl Serialize) -> Response {
    Json(body).into_response()
}
type EmptyResult = Result<StatusCode, ApiError>;

/// The native memberships API is partner-level, as its reference says: organisation keys and
/// users are not valid credentials there (401), whatever the operations would let them do
/// through a dialect (spec §3).
fn partner_level(caller: &Caller) -> Result<(), Error> {
    match &caller.principal {
        Principal::User(_) => Err(Error::Unauthorised),
        principal if principal.is_organisation_key() => Err(Error::Unauthorised),
        _ => Ok(()),
    }
}

/// Every native route with its OpenAPI description, from the handlers' annotations.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(partners::create, partners::list))
        .routes(routes!(partners::show))
        .routes(routes!(partners::create_admin_key))
        .routes(routes!(groups::create, groups::list))
        .routes(routes!(groups::show, groups::update, groups::delete))
        .routes(routes!(organisations::create, organisations::list))
        .routes(routes!(organisations::show, organisations::update, organisations::delete))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::show, users::update))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::show, api_keys::revoke))
        .routes(routes!(roles::create, roles::list))
        .routes(routes!(roles::show, roles::update, roles::delete))
        .routes(routes!(memberships::create, memberships::list))
        .routes(routes!(memberships::show, memberships::update, memberships::delete))
        .routes(routes!(memberships::permissions))
        .routes(routes!(memberships::versions))
        .routes(routes!(memberships::check))
        .routes(routes!(events::list))
        .routes(routes!(events::show))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::show, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(me::show))
        .routes(routes!(me::memberships))
        .routes(routes!(me::membership, me::respond, me::leave))
        .split_for_parts()
}
