//! The web console at `/console`: pages rendered on the server (maud) over the same operations
//! as the API, signed in with a secret key. A session lives in the database (any node serves
//! it) and reaches the browser as an `HttpOnly`, `SameSite=Strict` cookie; every form carries
//! the session's CSRF token; every page is sent with a strict Content-Security-Policy. The
//! console decides nothing: it reads a form into the API's own input (the native readers),
//! calls one operation as the session's key, and renders the outcome.

mod assets;
mod pages;
mod request;
mod view;

use axum::{
    Router,
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
    routing::{get, post},
};

use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route("/console/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/console/sign-out", post(pages::sign_out))
        .route("/console/mode", post(pages::switch_mode))
        .route("/console/add-key", post(pages::add_key))
        .route("/console/organisations", get(pages::organisations).post(pages::create_organisation))
        .route("/console/organisations/{id}", get(pages::organisation).post(pages::rename_organisation))
        .route("/console/organisations/{id}/members", post(pages::invite))
        .route("/console/memberships/{id}", get(pages::membership).post(pages::change_membership))
        .route("/console/memberships/{id}/remove", post(pages::remove_membership))
        .route("/console/roles", get(pages::roles))
        .route("/console/keys", get(pages::keys).post(pages::create_key))
        .route("/console/keys/{id}/revoke", post(pages::revoke_key))
        .route("/console/events", get(pages::events))
        .route("/console/webhooks", get(pages::webhooks))
        .route("/console/assets/{name}", get(assets::serve))
}

/// What every console answer carries: scripts, styles and images from the console only, no
/// inline script or style, forms posted to the console only, never framed; pages not cached.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Sends every answer under `/console` with the console's headers: its pages, and also what is
/// answered outside its routes (an unknown path, a wrong method, the time limit).
pub(crate) async fn protect(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let console = path == "/console" || path.starts_with("/console/");
    let mut response = next.run(request).await;
    if !console {
        return response;
    }
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
