//! The dialects (spec §7): other vendors' membership APIs, served over the same operations so
//! a client written for the vendor works by changing its base URL. Each parses its wire format,
//! calls `roster_app` operations and renders their results and errors in its own shapes; none
//! decides anything of its own.

mod rebilly;

use axum::Router;

use crate::state::AppState;

/// Every dialect under its `/compat/<name>` prefix.
pub fn routes() -> Router<AppState> {
    Router::new().nest("/compat/rebilly", rebilly::routes())
}
