//! hsrc: account memberships (`/compat/hsrc`) by workspace member or by e-mail, with secret
//! keys, user tokens and JWTs, test keys on test data. No official client is published; the
//! integration suite is thorough instead.

mod errors;
mod routes;
mod wire;

use axum::{
    Router,
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{problem::ApiError, state::AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/account-memberships", get(routes::list).post(routes::create))
        .route("/v1/account-memberships/", get(routes::list).post(routes::create))
        .route(
            "/v1/account-memberships/{id}",
            get(routes::show).put(routes::replace).patch(routes::change).delete(routes::delete),
        )
        .fallback(errors::route_not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
}

/// `error` in hsrc's envelope.
pub fn render(error: ApiError) -> Response {
    errors::Failure::from(error).into_response()
}
