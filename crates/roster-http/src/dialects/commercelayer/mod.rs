//! commercelayer: Commerce Layer's provisioning memberships API (`/compat/commercelayer`),
//! JSON:API 1.0, so `@commercelayer/provisioning-sdk` works against Roster once a request
//! interceptor rewrites its origin (it has no base-URL option). Partner keys, organisation keys,
//! user tokens and JWT users.

mod document;
mod errors;
mod query;
mod routes;
mod wire;

use axum::{
    Router, middleware,
    routing::{get, post},
};

pub use errors::Commercelayer;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    let membership = "/api/memberships/{id}";
    let mut router = Router::new()
        .route("/api/memberships", get(routes::list).post(routes::create))
        .route(membership, get(routes::show).patch(routes::update).delete(routes::delete))
        .route(&format!("{membership}/resend"), post(routes::resend))
        .route(&format!("{membership}/organization"), get(routes::organization))
        .route(&format!("{membership}/role"), get(routes::role))
        .route(&format!("{membership}/application_memberships"), get(routes::empty_collection))
        .route(&format!("{membership}/membership_profile"), get(routes::no_resource))
        .route(&format!("{membership}/versions"), get(routes::versions))
        .route(&format!("{membership}/relationships/versions"), get(routes::versions_linkage));
    for relationship in routes::RELATIONSHIPS {
        router = router.route(
            &format!("{membership}/relationships/{relationship}"),
            get(move |state, caller, links, uri, id| routes::linkage(state, caller, links, uri, id, relationship)),
        );
    }
    super::with_fallbacks::<Commercelayer>(router).layer(middleware::from_fn(document::negotiate))
}
