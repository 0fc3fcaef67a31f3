//! cloudflare: Cloudflare's user memberships API (`/compat/cloudflare`): a user sees, answers
//! and leaves its own memberships, so Cloudflare's official Python client works against Roster
//! with only its base URL changed. Users only (user tokens and JWTs).

mod errors;
mod query;
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
        .route("/memberships", get(routes::list))
        .route("/memberships/{id}", get(routes::show).put(routes::respond).delete(routes::leave))
        .fallback(errors::route_not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
}

/// `error` in cloudflare's envelope.
pub fn render(error: ApiError) -> Response {
    errors::Failure::from(error).into_response()
}
