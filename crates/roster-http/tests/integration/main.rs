//! The HTTP integration suite: a real server on loopback over a real database. Most tests run
//! twice, as `name::sqlite` and `name::postgres` (the latter when `ROSTER_TEST_POSTGRES_URL` is
//! set, as CI does); the few about the SQLite file itself run on SQLite only.

/// Declares tests whose body runs against a fresh server on each backend.
macro_rules! on_both_backends {
    ($($(#[doc = $doc:literal])* async fn $name:ident($app:ident) $body:block)+) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn case($app: crate::support::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    case(crate::support::TestApp::start().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = crate::support::TestApp::start_postgres().await {
                        case(app).await;
                    }
                }
            }
        )+
    };
}

mod auth;
mod bad_bytes;
mod cloudflare;
mod commercelayer;
mod concurrency;
mod console;
mod edges;
mod errors;
mod events;
mod hsrc;
mod lockout;
mod memberships;
mod openapi;
mod parent_deletes;
mod persistence;
mod principals;
mod reach;
mod rebilly;
mod resources;
mod roles;
mod scope;
mod support;
mod time_limit;
mod webhooks;
