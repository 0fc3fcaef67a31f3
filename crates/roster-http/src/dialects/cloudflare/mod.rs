//! cloudflare: Cloudflare's user memberships API (`/compat/cloudflare`): a user sees, answers
//! and leaves its own memberships, so Cloudflare's official Python client works against Roster
//! with only its base URL changed. Users only (user tokens and JWTs).

mod errors;
mod query;
mod routes;
mod wire;

use axum::{Router, routing::get};

pub use errors::Cloudflare;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    super::with_fallbacks::<Cloudflare>(
        Router::new()
            .route("/memberships", get(routes::list))
            .route("/memberships/{id}", get(routes::show).put(routes::respond).delete(routes::leave)),
    )
}
