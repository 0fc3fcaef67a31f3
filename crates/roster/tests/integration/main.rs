//! The real `roster` binary, run as a child process: its life cycle, durability, and several
//! nodes on one PostgreSQL database.

mod lifecycle;
mod postgres;
mod support;
mod webhooks;
