//! rebilly: Rebilly's memberships API (`/compat/rebilly`), so `rebilly-js-sdk` works against
//! Roster with only its URLs changed. Every route is served with the
//! `/organizations/{currentOrg}` prefix the client adds when it is configured with an
//! organisation, and without it.

mod errors;
mod query;
mod routes;
mod wire;

use axum::{Router, routing::get};

pub use errors::Rebilly;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    super::with_fallbacks::<Rebilly>(
        Router::new()
            .route("/memberships", get(routes::list))
            .route(
                "/memberships/{organization_id}/{user_id}",
                get(routes::show).put(routes::upsert).delete(routes::delete),
            )
            .route("/organizations/{current}/memberships", get(routes::list))
            .route(
                "/organizations/{current}/memberships/{organization_id}/{user_id}",
                get(routes::show).put(routes::upsert).delete(routes::delete),
            ),
    )
}
