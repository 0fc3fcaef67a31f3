//! Connections to one SQLite database. SQLite has one writer at a time, so Roster keeps exactly
//! one write connection and queues writers in-process (no "database is locked" under load);
//! every write transaction is `BEGIN IMMEDIATE`, taking the write lock up front, which also
//! serialises writers in other processes on the same file. Reads use a small pool of read
//! connections, which WAL lets run beside the writer. Reads, `BEGIN`, `COMMIT` and the steps
//! whose work grows with the data run on tokio's blocking threads; the short steps of a write
//! transaction run where its request does (see [`WriteTransaction::run`]).

use std::{path::PathBuf, sync::Arc, time::Duration};

use roster_core::Error;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::{Mutex, OwnedMutexGuard, Semaphore};

use super::migrations;
use roster_core::commit_gate;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    /// One private in-memory database: a single connection serves reads and writes, because
    /// every new connection to `:memory:` would open a different, empty database.
    Memory,
}

impl Location {
    /// `sqlite::memory:`, `sqlite://PATH` (relative or, with a third slash, absolute) or
    /// `sqlite:PATH`. Query parameters are not supported and make the URL invalid.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("sqlite:")?;
        if rest == ":memory:" || rest == "//:memory:" {
            return Some(Self::Memory);
        }
        let path = rest.strip_prefix("//").unwrap_or(rest);
        (!path.is_empty() && !path.contains('?')).then(|| Self::File(PathBuf::from(path)))
    }
}

const READERS: usize = 4;
/// How long a write waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Pool {
    writer: Arc<Mutex<Connection>>,
    readers: Option<Readers>,
}

struct Readers {
    idle: Arc<std::sync::Mutex<Vec<Connection>>>,
    available: Arc<Semaphore>,
}

/// A read connection taken from the idle ones, put back when dropped, a panicking read included.
struct Lent<'a> {
    connection: Option<Connection>,
    readers: &'a Readers,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.readers.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(connection);
        }
    }
}

pub(crate) fn storage_error(error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => Error::Unavailable,
        _ => Error::internal(format!("sqlite: {error}")),
    }
}

fn configure(connection: &Connection, file: bool) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    if file {
        connection.pragma_update(None, "journal_mode", "WAL")?;
    }
    // FULL: a transaction is durable once COMMIT returns, so an acknowledged write survives
    // `kill -9` and power loss alike.
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// `BEGIN IMMEDIATE` if the file lock is free now: whether it began. Busy is not an error here.
fn begin_without_waiting(connection: &Connection) -> Result<bool, Error> {
    connection.busy_timeout(Duration::ZERO).map_err(storage_error)?;
    let began = connection.execute_batch("BEGIN IMMEDIATE");
    connection.busy_timeout(BUSY_TIMEOUT).map_err(storage_error)?;
    match began {
        Ok(()) => Ok(true),
        Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(error) => Err(storage_error(error)),
    }
}

fn join_error(error: tokio::task::JoinError) -> Error {
    Error::internal(format!("database task failed: {error}"))
}

impl Pool {
    pub async fn open(location: Location) -> Result<Self, Error> {
        tokio::task::spawn_blocking(move || Self::open_blocking(location)).await.map_err(join_error)?
    }

    fn open_blocking(location: Location) -> Result<Self, Error> {
        match location {
            Location::Memory => {
                let writer = Connection::open_in_memory().map_err(storage_error)?;
                configure(&writer, false).map_err(storage_error)?;
                migrations::run(&writer)?;
                Ok(Self { writer: Arc::new(Mutex::new(writer)), readers: None })
            }
            Location::File(path) => {
                let writer = Connection::open(&path).map_err(storage_error)?;
                configure(&writer, true).map_err(storage_error)?;
                migrations::run(&writer)?;
                let mut idle = Vec::with_capacity(READERS);
                for _ in 0..READERS {
                    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                    let reader = Connection::open_with_flags(&path, flags).map_err(storage_error)?;
                    configure(&reader, false).map_err(storage_error)?;
                    idle.push(reader);
                }
                let readers = Readers {
                    idle: Arc::new(std::sync::Mutex::new(idle)),
                    available: Arc::new(Semaphore::new(READERS)),
                };
                Ok(Self { writer: Arc::new(Mutex::new(writer)), readers: Some(readers) })
            }
        }
    }

    /// Connections: the writer and the readers, all opened at start.
    pub fn status(&self) -> roster_core::store::PoolStatus {
        let readers = self.readers.as_ref().map_or(0, |_| READERS);
        let idle_readers = self.readers.as_ref().map_or(0, |r| r.available.available_permits());
        let writer_idle = usize::from(self.writer.try_lock().is_ok());
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        roster_core::store::PoolStatus {
            max: count(readers + 1),
            open: count(readers + 1),
            idle: count(idle_readers + writer_idle),
            waiting: 0,
        }
    }

    /// Runs `work` on a read connection.
    pub async fn read<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            let writer = self.writer.clone().lock_owned().await;
            return tokio::task::spawn_blocking(move || work(&writer)).await.map_err(join_error)?;
        };
        let permit = readers.available.clone().acquire_owned().await.map_err(Error::internal)?;
        let idle = readers.idle.clone();
        tokio::task::spawn_blocking(move || {
            let taken = idle.lock().map_err(Error::internal)?.pop();
            let connection = taken.ok_or_else(|| Error::internal("no idle read connection"))?;
            let result = work(&connection);
            idle.lock().map_err(Error::internal)?.push(connection);
            drop(permit);
            result
        })
        .await
        .map_err(join_error)?
    }

    /// Like [`Pool::read`], run on the calling thread: for reads of one row by an index (a
    /// membership by id, by organisation and user), which take microseconds, where the hop to a
    /// blocking thread and back cost more than the read (see `docs/decisions.md`).
    pub async fn read_inline<T>(&self, work: impl FnOnce(&Connection) -> Result<T, Error>) -> Result<T, Error> {
        let Some(readers) = &self.readers else {
            let writer = self.writer.lock().await;
            return work(&writer);
        };
        let _permit = readers.available.acquire().await.map_err(Error::internal)?;
        let taken = readers.idle.lock().map_err(Error::internal)?.pop();
        let lent = Lent { connection: Some(taken.ok_or_else(|| Error::internal("no idle read connection"))?), readers };
        lent.connection.as_ref().map_or_else(|| Err(Error::internal("no idle read connection")), work)
    }

    /// Opens a `BEGIN IMMEDIATE` transaction on the write connection, which it holds until it
    /// is committed or dropped.
    pub async fn begin(&self) -> Result<WriteTransaction, Error> {
        let writer = WriteConnection(self.writer.clone().lock_owned().await);
        let mut transaction = WriteTransaction { connection: Some(writer), gate: commit_gate::current() };
        // This node's writers queue on the mutex above, so the file lock is free unless another
        // process holds it: taken here without waiting, and only then waited for off the
        // request's thread. A hop to a blocking thread while holding the writer held up every
        // writer queued behind it.
        if transaction.run(begin_without_waiting)? {
            return Ok(transaction);
        }
        transaction
            .run_blocking(|connection| connection.execute_batch("BEGIN IMMEDIATE").map_err(storage_error))
            .await?;
        Ok(transaction)
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed only if it returns `Ok` and
    /// the request that asked for it has not given up (its [`CommitGate`]): a request abandoned
    /// at its time limit rolls back rather than committing a write its client was told had
    /// failed, and one whose commit has begun waits for it.
    ///
    /// [`CommitGate`]: roster_core::commit_gate::CommitGate
    pub async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, Error> + Send + 'static,
    {
        let mut writer = self.writer.clone().lock_owned().await;
        let gate = commit_gate::current();
        tokio::task::spawn_blocking(move || {
            let transaction =
                writer.transaction_with_behavior(TransactionBehavior::Immediate).map_err(storage_error)?;
            let value = work(&transaction)?;
            if !commit_gate::may_commit(gate.as_deref()) {
                return Err(Error::Unavailable);
            }
            transaction.commit().map_err(storage_error)?;
            Ok(value)
        })
        .await
        .map_err(join_error)?
    }
}

/// The write connection, held by one transaction. However it is dropped (the transaction
/// given up, its request abandoned half-way, a panic), an open transaction rolls back first, so
/// the next writer never finds one.
struct WriteConnection(OwnedMutexGuard<Connection>);

impl Drop for WriteConnection {
    fn drop(&mut self) {
        if !self.0.is_autocommit()
            && let Err(error) = self.0.execute_batch("ROLLBACK")
        {
            tracing::error!(%error, "could not roll back an abandoned SQLite transaction");
        }
    }
}

/// One `BEGIN IMMEDIATE` transaction on the write connection, whose steps run on blocking
/// threads one after another.
pub struct WriteTransaction {
    connection: Option<WriteConnection>,
    gate: Option<std::sync::Arc<commit_gate::CommitGate>>,
}

impl WriteTransaction {
    /// Runs one short step of the transaction (a few indexed reads or writes of pages SQLite
    /// holds in memory) where the request runs: a hop to a blocking thread per step cost more
    /// than the step. Steps that may wait (for the file lock, for the disk) use [`Self::run_blocking`].
    pub fn run<T, F>(&mut self, work: F) -> Result<T, Error>
    where
        F: FnOnce(&Connection) -> Result<T, Error>,
    {
        let connection =
            self.connection.as_ref().ok_or_else(|| Error::internal("a failed step ended the transaction"))?;
        work(&connection.0)
    }

    /// Runs one step of the transaction on a blocking thread.
    pub async fn run_blocking<T, F>(&mut self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let connection =
            self.connection.take().ok_or_else(|| Error::internal("a failed step ended the transaction"))?;
        let (connection, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = work(&connection.0);
            (connection, outcome)
        })
        .await
        .map_err(join_error)?;
        self.connection = Some(connection);
        outcome
    }

    /// Commits, unless the request has given up (see [`Pool::write`]). The write connection is
    /// released on the blocking thread as soon as the commit is durable, not when this request
    /// is next polled, so the next writer does not wait for this request's turn on a worker.
    pub async fn commit(mut self) -> Result<(), Error> {
        if !commit_gate::may_commit(self.gate.as_deref()) {
            return Err(Error::Unavailable);
        }
        let connection =
            self.connection.take().ok_or_else(|| Error::internal("a failed step ended the transaction"))?;
        tokio::task::spawn_blocking(move || {
            let committed = connection.0.execute_batch("COMMIT").map_err(storage_error);
            drop(connection);
            committed
        })
        .await
        .map_err(join_error)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_for_another_process_holding_the_file_lock_and_then_begins() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("roster.db");
        let pool = Arc::new(Pool::open(Location::File(path.clone())).await.unwrap());
        let other_process = Connection::open(&path).unwrap();
        other_process.execute_batch("BEGIN IMMEDIATE").unwrap();

        let writer = pool.writer.lock().await;
        assert_eq!(begin_without_waiting(&writer), Ok(false), "busy: not begun, and not an error");
        drop(writer);

        let writer = tokio::spawn({
            let pool = pool.clone();
            async move {
                let mut transaction = pool.begin().await?;
                transaction.run(|c| c.execute_batch("CREATE TABLE written (x)").map_err(storage_error))?;
                transaction.commit().await
            }
        });
        tokio::task::spawn_blocking(move || other_process.execute_batch("COMMIT").unwrap()).await.unwrap();
        assert_eq!(writer.await.unwrap(), Ok(()));
        let written = pool.read(|c| c.query_row("SELECT COUNT(*) FROM written", [], |_| Ok(())).map_err(storage_error));
        assert_eq!(written.await, Ok(()));
    }

    #[test]
    fn urls_name_a_file_or_memory() {
        assert_eq!(Location::parse("sqlite::memory:"), Some(Location::Memory));
        assert_eq!(Location::parse("sqlite://roster.db"), Some(Location::File("roster.db".into())));
        assert_eq!(Location::parse("sqlite:///var/lib/roster.db"), Some(Location::File("/var/lib/roster.db".into())));
        assert_eq!(Location::parse("sqlite:data/r.db"), Some(Location::File("data/r.db".into())));
        assert_eq!(Location::parse("postgres://localhost/roster"), None);
        assert_eq!(Location::parse("sqlite://"), None);
    }
}
