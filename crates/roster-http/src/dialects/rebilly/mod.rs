//! rebilly: Rebilly's memberships API (`/compat/rebilly`), so `rebilly-js-sdk` works against
//! Roster with only its URLs changed. Every route is served with the
//! `/organizations/{currentOrg}` prefix the client adds when it is configured with an
//! organisation, and without it.

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

/// `error` in rebilly's shape.
pub fn render(error: ApiError) -> Response {
    errors::Failure::from(error).into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/memberships", get(routes::list))
        .route("/memberships/{organization_id}/{user_id}", get(routes::show).put(routes::upsert).delete(routes::delete))
        .route("/organizations/{current}/memberships", get(routes::list))
        .route(
            "/organizations/{current}/memberships/{organization_id}/{user_id}",
            get(routes::show).put(routes::upsert).delete(routes::delete),
        )
        .fallback(errors::route_not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
}
