//! Test support: every test that uses PostgreSQL gets a schema of its own in the database named
//! by `ROSTER_TEST_POSTGRES_URL`, so tests run in parallel, and the schema is dropped afterwards.

use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the PostgreSQL database tests may use.
pub const POSTGRES_URL_VARIABLE: &str = "ROSTER_TEST_POSTGRES_URL";

/// A schema of its own in the test database, dropped when this is.
pub struct TestSchema {
    /// A URL whose connections use only this schema.
    pub url: String,
    base_url: String,
    schema: String,
}

/// The test database's URL, or `None` (with a notice) when the variable is unset.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{POSTGRES_URL_VARIABLE} is not set: skipping the PostgreSQL variant (CI always sets it)");
            None
        }
    }
}

impl TestSchema {
    /// Creates a fresh schema; panics when the database cannot be reached, because a test that
    /// was asked to use PostgreSQL must not pass without it.
    pub async fn create(base_url: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "roster_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            roster_core::time::Timestamp::now().millis()
        );
        let (client, connection) = tokio_postgres::connect(base_url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|error| panic!("cannot reach PostgreSQL at {base_url}: {error}"));
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap_or_else(|error| panic!("cannot create schema {schema}: {error}"));
        drop(client);
        let _ = driver.await;
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        Self { url, base_url: base_url.to_owned(), schema }
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (base_url, schema) = (self.base_url.clone(), self.schema.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread of its own
        // with a small runtime drops the schema.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&base_url, tokio_postgres::NoTls).await.ok()?;
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.ok()
            })
        });
        let _ = dropped.join();
    }
}

/// Stores a provisioned partner directly, for tests that need one without going through the
/// operations.
pub async fn insert_partner(
    store: &dyn roster_core::store::Store,
    partner: &roster_core::provision::ProvisionedPartner,
) {
    let mut transaction = store.begin().await.unwrap_or_else(|error| panic!("cannot begin: {error}"));
    transaction.insert_partner(partner).await.unwrap_or_else(|error| panic!("cannot store the partner: {error}"));
    transaction.commit().await.unwrap_or_else(|error| panic!("cannot commit: {error}"));
}

/// A database a suite runs its cases on, with what keeps it alive (its directory or schema).
pub struct Backend {
    pub name: &'static str,
    pub store: std::sync::Arc<dyn roster_core::store::Store>,
    _keeps_alive: Box<dyn std::any::Any>,
}

/// Every backend: SQLite on a file and in memory, and PostgreSQL in a schema of its own when
/// `ROSTER_TEST_POSTGRES_URL` is set (CI sets it).
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("cannot make a directory: {error}"));
    let file = format!("sqlite://{}", dir.path().join("roster.db").display());
    let open = |url: String| async move {
        crate::open(&url).await.unwrap_or_else(|error| panic!("cannot open {url}: {error}"))
    };
    let mut backends = vec![
        Backend { name: "sqlite file", store: open(file).await, _keeps_alive: Box::new(dir) },
        Backend { name: "sqlite memory", store: open("sqlite::memory:".to_owned()).await, _keeps_alive: Box::new(()) },
    ];
    if let Some(base) = postgres_url() {
        let schema = TestSchema::create(&base).await;
        let store = open(schema.url.clone()).await;
        backends.push(Backend { name: "postgres", store, _keeps_alive: Box::new(schema) });
    }
    backends
}
