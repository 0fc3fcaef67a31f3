//! Roster's storage backends. Each implements [`roster_core::store::Store`]; [`open`] picks one by
//! the URL scheme, so moving from the embedded file to a server changes only `--database-url`.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use roster_core::{Error, store::Store};

pub mod postgres;
/// Column lists and row mapping, public so the benchmark baseline (`bench/baseline`) reads rows
/// exactly as the stores do.
pub mod rows;
mod sql;
pub mod sqlite;
pub mod transfer;

pub use postgres::{PoolOptions, PostgresStore};
pub use sqlite::SqliteStore;

#[cfg(feature = "testing")]
pub mod testing;

/// Opens the database named by `url` with default pool options and brings its schema up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    open_with(url, &PoolOptions::default()).await
}

/// Opens the database named by `url`: `sqlite://PATH`, `sqlite::memory:` or
/// `postgres://…` (`postgresql://…`), and brings its schema up to date.
pub async fn open_with(url: &str, options: &PoolOptions) -> Result<Arc<dyn Store>, Error> {
    if let Some(location) = sqlite::Location::parse(url) {
        return Ok(Arc::new(SqliteStore::open(location).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(url, options).await?));
    }
    Err(Error::InvalidRequest(format!(
        "unsupported database URL {:?}: expected sqlite://PATH, sqlite::memory: or postgres://…",
        redact(url)
    )))
}

/// A URL with any password removed, safe to print.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
