//! Roster's domain core: the model, input parsing, who may do what, the business rules, errors
//! with stable codes, and the storage trait that backends implement. It does no IO, so every
//! front-end (native API, dialects) and every backend (SQLite, PostgreSQL) shares it.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod commit_gate;
pub mod error;
pub mod ids;
pub mod input;
pub mod keys;
pub mod model;
pub mod page;
pub mod permissions;
pub mod policy;
pub mod provision;
pub mod rules;
pub mod store;
pub mod time;
pub mod webhooks;

pub use error::{Error, Field, FieldError, ValidationCode};
