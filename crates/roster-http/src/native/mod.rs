//! The native API, `/v1/...`: a strict superset of the chargebackstop memberships reference.
//! Each handler reads its input with the core's parsers, asks the caller's principal for a scope
//! (the endpoint's policy, readable at its top), calls the store, and renders the result.

mod api_keys;
mod groups;
mod list;
mod me;
mod memberships;
mod organisations;
mod partners;
mod roles;
mod users;
mod wire;

use axum::{
    Json, Router,
    http::StatusCode,
    routing::{get, post},
};
use serde_json::Value;

use crate::{problem::ApiError, state::AppState};

type JsonResult = Result<Json<Value>, ApiError>;
type CreatedResult = Result<(StatusCode, Json<Value>), ApiError>;
type EmptyResult = Result<StatusCode, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/partners", post(partners::create).get(partners::list))
        .route("/v1/partners/{id}", get(partners::show))
        .route("/v1/partner-groups", post(groups::create).get(groups::list))
        .route("/v1/partner-groups/{id}", get(groups::show).patch(groups::update).delete(groups::delete))
        .route("/v1/organisations", post(organisations::create).get(organisations::list))
        .route(
            "/v1/organisations/{id}",
            get(organisations::show).patch(organisations::update).delete(organisations::delete),
        )
        .route("/v1/users", post(users::create).get(users::list))
        .route("/v1/users/{id}", get(users::show).patch(users::update))
        .route("/v1/api-keys", post(api_keys::create).get(api_keys::list))
        .route("/v1/api-keys/{id}", get(api_keys::show).delete(api_keys::revoke))
        .route("/v1/roles", post(roles::create).get(roles::list))
        .route("/v1/roles/{id}", get(roles::show).patch(roles::update).delete(roles::delete))
        .route("/v1/check", get(memberships::check))
        .route("/v1/memberships/{id}/permissions", get(memberships::permissions))
        .route("/v1/me", get(me::show))
        .route("/v1/me/memberships", get(me::memberships))
        .route("/v1/me/memberships/{id}", get(me::membership).patch(me::respond).delete(me::leave))
        .route("/v1/memberships", post(memberships::create).get(memberships::list))
        .route("/v1/memberships/{id}", get(memberships::show).patch(memberships::update).delete(memberships::delete))
}
