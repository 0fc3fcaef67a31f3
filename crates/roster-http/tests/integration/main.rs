//! The HTTP integration suite: a real server on loopback, over a real SQLite database.

mod auth;
mod concurrency;
mod errors;
mod memberships;
mod persistence;
mod resources;
mod scope;
mod support;
