//! Connections to PostgreSQL: a deadpool pool whose every wait is bounded, so a database that is
//! down makes requests fail fast with `Unavailable` (503) instead of hanging, and a pool that
//! replaces broken connections by itself, so the service recovers when the database returns.

use std::{future::Future, time::Duration};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Timeouts};
use roster_core::Error;
use tokio_postgres::{NoTls, error::SqlState};

/// How a PostgreSQL store connects.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Connections per node; several nodes share the server's `max_connections`.
    pub max_connections: usize,
    /// The longest wait for a connection, for connecting, and for one statement.
    pub timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_connections: 16, timeout: Duration::from_secs(5) }
    }
}

/// Why a database step failed: a domain error to return, or a database error that may be
/// retried (serialisation failures and deadlocks) or mapped.
#[derive(Debug)]
pub enum Failure {
    Domain(Error),
    Database(tokio_postgres::Error),
    Pool(PoolError),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Domain(error)
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Database(error)
    }
}

impl From<PoolError> for Failure {
    fn from(error: PoolError) -> Self {
        Self::Pool(error)
    }
}

pub type Step<T> = Result<T, Failure>;

impl Failure {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Database(error)
            if matches!(error.code(), Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED))
    }

    /// The constraint a unique violation names, if this is one.
    pub fn unique_violation(&self) -> Option<&str> {
        let Self::Database(error) = self else {
            return None;
        };
        let db = error.as_db_error()?;
        (*db.code() == SqlState::UNIQUE_VIOLATION).then(|| db.constraint()).flatten()
    }

    /// As [`Self::into_error`], but a conflict the database asks to retry is `Contention`, for
    /// the caller that runs the whole transaction again.
    pub fn into_retryable_error(self) -> Error {
        if self.is_retryable() { Error::Contention } else { self.into_error() }
    }

    pub fn into_error(self) -> Error {
        match self {
            Self::Domain(error) => error,
            Self::Pool(error) => {
                tracing::warn!(%error, "no database connection");
                Error::Unavailable
            }
            Self::Database(error) => database_error(&error),
        }
    }
}

/// Connection trouble, an overloaded or restarting server, and statement timeouts are
/// `Unavailable`: the client may retry. Anything else is a bug worth a 500 and a log line.
fn database_error(error: &tokio_postgres::Error) -> Error {
    let unavailable = match error.code() {
        None => true,
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                    SqlState::QUERY_CANCELED,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                ]
                .contains(code)
        }
    };
    if unavailable {
        tracing::warn!(%error, "database unavailable");
        Error::Unavailable
    } else {
        Error::internal(format!("postgres: {error}"))
    }
}

const MAX_ATTEMPTS: u32 = 5;

/// Statements one connection keeps prepared. The builder's texts are bounded but many (merged
/// ranges of 1 to 32 organisations × range limits × status and role filters), and each keeps
/// its plan in the server process: a client walking through them all must not grow every
/// server process without end. Everyday traffic uses far fewer.
const MAX_PREPARED_STATEMENTS: usize = 512;

#[derive(Clone)]
pub struct Connections {
    pool: Pool,
}

impl Connections {
    pub fn new(url: &str, options: &PoolOptions) -> Result<Self, Error> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| Error::InvalidRequest(format!("invalid PostgreSQL URL: {e}")))?;
        let statement_timeout = format!("-c statement_timeout={}", options.timeout.as_millis());
        let server_options = match config.get_options() {
            Some(existing) => format!("{existing} {statement_timeout}"),
            None => statement_timeout,
        };
        config.options(&server_options).connect_timeout(options.timeout).keepalives(true);
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let timeouts =
            Timeouts { wait: Some(options.timeout), create: Some(options.timeout), recycle: Some(options.timeout) };
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .timeouts(timeouts)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::internal(format!("cannot build the PostgreSQL pool: {e}")))?;
        Ok(Self { pool })
    }

    pub fn status(&self) -> roster_core::store::PoolStatus {
        let status = self.pool.status();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        roster_core::store::PoolStatus {
            max: count(status.max_size),
            open: count(status.size),
            idle: count(status.available),
            waiting: count(status.waiting),
        }
    }

    /// A pooled connection, its prepared statements emptied when more than
    /// [`MAX_PREPARED_STATEMENTS`] have gathered.
    pub async fn get(&self) -> Step<Object> {
        let connection = self.pool.get().await?;
        if connection.statement_cache.size() > MAX_PREPARED_STATEMENTS {
            connection.statement_cache.clear();
        }
        Ok(connection)
    }

    /// Runs `attempt` until it succeeds or fails for good. Each attempt is one transaction that
    /// `attempt` opens and commits; serialisation failures and deadlocks are retried.
    pub async fn retrying<T, F, Fut>(&self, attempt: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Step<T>> + Send,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) if failure.is_retryable() && tries < MAX_ATTEMPTS => {
                    tracing::debug!(tries, "retrying a transaction after a conflict");
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(tries))).await;
                }
                Err(failure) => return Err(failure.into_error()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Raises the SQLSTATE a serialisation failure carries, as PostgreSQL itself would.
    const CONFLICT: &str = "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$";

    async fn connections() -> Option<Connections> {
        let url = std::env::var("ROSTER_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())?;
        Some(Connections::new(&url, &PoolOptions::default()).unwrap())
    }

    #[tokio::test]
    async fn serialisation_failures_are_retried_until_the_transaction_succeeds() {
        let Some(connections) = connections().await else {
            return;
        };
        let attempts = AtomicU32::new(0);
        let outcome = connections
            .retrying(|| async {
                let client = connections.get().await?;
                if attempts.fetch_add(1, Ordering::SeqCst) < 2 {
                    client.batch_execute(CONFLICT).await?;
                }
                Step::Ok("done")
            })
            .await;
        assert_eq!(outcome, Ok("done"));
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_conflict_that_never_clears_is_unavailable_not_internal() {
        let Some(connections) = connections().await else {
            return;
        };
        let attempts = AtomicU32::new(0);
        let outcome: Result<(), Error> = connections
            .retrying(|| async {
                attempts.fetch_add(1, Ordering::SeqCst);
                connections.get().await?.batch_execute(CONFLICT).await?;
                Step::Ok(())
            })
            .await;
        assert_eq!(outcome, Err(Error::Unavailable));
        assert_eq!(attempts.load(Ordering::SeqCst), MAX_ATTEMPTS);
    }

    #[tokio::test]
    async fn a_connection_keeps_a_bounded_number_of_prepared_statements() {
        let Some(url) = std::env::var("ROSTER_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty()) else {
            return;
        };
        let options = PoolOptions { max_connections: 1, ..PoolOptions::default() };
        let connections = Connections::new(&url, &options).unwrap();
        {
            let client = connections.get().await.unwrap();
            for n in 0..=MAX_PREPARED_STATEMENTS {
                client.prepare_cached(&format!("SELECT {n}")).await.unwrap();
            }
            assert_eq!(client.statement_cache.size(), MAX_PREPARED_STATEMENTS + 1);
        }
        let client = connections.get().await.unwrap();
        assert_eq!(client.statement_cache.size(), 0);
        let prepared: i64 = client
            .query_one("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement NOT LIKE '%pg_prepared%'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(prepared, 0, "the server's statements are closed too");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_within_the_timeout() {
        let options = PoolOptions { max_connections: 1, timeout: Duration::from_millis(500) };
        // Nothing listens on port 1; the connection is refused at once.
        let connections = Connections::new("postgres://postgres@127.0.0.1:1/none", &options).unwrap();
        let outcome = connections.retrying(|| async { Step::Ok(connections.get().await?.is_closed()) }).await;
        assert_eq!(outcome, Err(Error::Unavailable));
    }
}
