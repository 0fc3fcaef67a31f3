//! hsrc: account memberships (`/compat/hsrc`) by workspace member or by e-mail, with secret
//! keys, user tokens and JWTs, test keys on test data. No official client is published; the
//! integration suite is thorough instead.

mod errors;
mod routes;
mod wire;

use axum::{Router, routing::get};

pub use errors::Hsrc;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    super::with_fallbacks::<Hsrc>(
        Router::new()
            .route("/v1/account-memberships", get(routes::list).post(routes::create))
            .route("/v1/account-memberships/", get(routes::list).post(routes::create))
            .route(
                "/v1/account-memberships/{id}",
                get(routes::show).put(routes::replace).patch(routes::change).delete(routes::delete),
            ),
    )
}
