//! Connections to one SQLite database. SQLite has one writer at a time, so Roster keeps exactly
//! one write connection and queues writers in-process (no "database is locked" under load);
//! every write transaction is `BEGIN IMMEDIATE`, taking the write lock up front, which also
//! serialises writers in other processes on the same file. Reads use a small pool of read
//! connections, which WAL lets run beside the writer. Reads, `BEGIN`, `COMMIT` and the steps
//! whose work grows with the data run on tokio's blocking threads; the short steps of a write
//! transaction run where its request does (see [`WriteTransaction::run`]). Writes that queue
//! for the writer commit together (see [`Batch`]).

use std::{
    path::PathBuf,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

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
    writer: Arc<Mutex<Writer>>,
    readers: Option<Readers>,
    /// Writers waiting to begin. A write that commits while one waits leaves its transaction
    /// open for it, and they commit together (group commit).
    waiting: Arc<AtomicUsize>,
    /// Whether writes commit in batches: for a file, not for a private in-memory database,
    /// whose reads share the write connection and would see a batch before its commit.
    group_commit: bool,
}

/// The write connection, and the batch of writes its open transaction holds, if any.
struct Writer {
    connection: Connection,
    batch: Option<Arc<Batch>>,
}

impl Writer {
    fn new(connection: Connection) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Self { connection, batch: None }))
    }

    /// Commits the open batch, if there is one, and tells its writes how that ended.
    fn commit_batch(&mut self) -> Result<(), Error> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let committed = self.connection.execute_batch("COMMIT").map_err(storage_error);
        if committed.is_err() && !self.connection.is_autocommit() {
            // A COMMIT that failed may leave the transaction open: nothing of it is kept.
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::error!(%error, "could not roll back a SQLite transaction whose commit failed");
            }
        }
        let _ = batch.outcome.set(committed.clone());
        committed
    }

    /// Ends the open transaction when no write waits for its commit: rolled back when none was
    /// released into it. One SQLite rolled back on its own (an I/O error, a full disk) fails
    /// the writes released into it.
    fn settle(&mut self) {
        let released = self.batch.as_ref().map_or(0, |batch| batch.released.load(Ordering::SeqCst));
        if self.connection.is_autocommit() {
            if let Some(batch) = self.batch.take() {
                let _ = batch.outcome.set(Err(Error::Unavailable));
            }
        } else if released == 0 {
            // Also a transaction begun for a write given up before it began its batch.
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::error!(%error, "could not roll back an abandoned SQLite transaction");
            }
            self.batch = None;
        }
    }
}

/// Writes that commit together: each request's transaction is a savepoint of one SQLite
/// transaction, released into it when the request commits, and one `COMMIT` (one flush of the
/// WAL to disk) makes them all durable. Each request answers only once that `COMMIT` is done.
#[derive(Default)]
struct Batch {
    /// How many writes were released into it.
    released: AtomicUsize,
    /// How its `COMMIT` ended, once it has.
    outcome: OnceLock<Result<(), Error>>,
}

/// Counts a writer as waiting to begin while it waits for the write connection, a cancelled
/// wait included.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The savepoint each request's write is, inside its batch's transaction: begun, released into
/// the batch, or rolled back alone.
const SAVEPOINT: &str = "SAVEPOINT roster_write";
const RELEASE: &str = "RELEASE roster_write";
const ROLLBACK_TO: &str = "ROLLBACK TO roster_write; RELEASE roster_write";

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
                Ok(Self { writer: Writer::new(writer), readers: None, waiting: Arc::default(), group_commit: false })
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
                Ok(Self {
                    writer: Writer::new(writer),
                    readers: Some(readers),
                    waiting: Arc::default(),
                    group_commit: true,
                })
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
            return tokio::task::spawn_blocking(move || work(&writer.connection)).await.map_err(join_error)?;
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
            return work(&writer.connection);
        };
        let _permit = readers.available.acquire().await.map_err(Error::internal)?;
        let taken = readers.idle.lock().map_err(Error::internal)?.pop();
        let lent = Lent { connection: Some(taken.ok_or_else(|| Error::internal("no idle read connection"))?), readers };
        lent.connection.as_ref().map_or_else(|| Err(Error::internal("no idle read connection")), work)
    }

    /// Opens a write transaction on the write connection, which it holds until it is committed
    /// or dropped: a savepoint of the batch's `BEGIN IMMEDIATE` transaction, begun here when no
    /// batch is open.
    pub async fn begin(&self) -> Result<WriteTransaction, Error> {
        let writer = {
            let _waiting = Waiting::new(&self.waiting);
            self.writer.clone().lock_owned().await
        };
        let mut transaction = WriteTransaction {
            connection: Some(WriteConnection { writer, in_savepoint: false }),
            gate: commit_gate::current(),
            pool: Shared {
                writer: self.writer.clone(),
                waiting: self.waiting.clone(),
                group_commit: self.group_commit,
            },
        };
        if transaction.connection()?.writer.batch.is_none() {
            // This node's writers queue on the mutex above, so the file lock is free unless
            // another process holds it: taken here without waiting, and only then waited for
            // off the request's thread. A hop to a blocking thread while holding the writer held
            // up every writer queued behind it.
            if !transaction.run(begin_without_waiting)? {
                transaction
                    .run_blocking(|connection| connection.execute_batch("BEGIN IMMEDIATE").map_err(storage_error))
                    .await?;
            }
            transaction.connection_mut()?.writer.batch = Some(Arc::default());
        }
        transaction.run(|connection| connection.execute_batch(SAVEPOINT).map_err(storage_error))?;
        transaction.connection_mut()?.in_savepoint = true;
        Ok(transaction)
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed only if it returns `Ok` and
    /// the request that asked for it has not given up (its [`CommitGate`]): a request abandoned
    /// at its time limit rolls back rather than committing a write its client was told had
    /// failed, and one whose commit has begun waits for it. An open batch is committed first.
    ///
    /// [`CommitGate`]: roster_core::commit_gate::CommitGate
    pub async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, Error> + Send + 'static,
    {
        let mut writer = {
            let _waiting = Waiting::new(&self.waiting);
            self.writer.clone().lock_owned().await
        };
        let gate = commit_gate::current();
        tokio::task::spawn_blocking(move || {
            writer.commit_batch()?;
            let transaction =
                writer.connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(storage_error)?;
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

/// What a write transaction needs of its pool to commit with others.
struct Shared {
    writer: Arc<Mutex<Writer>>,
    waiting: Arc<AtomicUsize>,
    group_commit: bool,
}

/// The write connection, held by one transaction. However it is dropped (the transaction
/// given up, its request abandoned half-way, a panic), its own writes are rolled back first,
/// and the open transaction too when no other write waits for its commit, so the next writer
/// never finds one it cannot use.
struct WriteConnection {
    writer: OwnedMutexGuard<Writer>,
    /// Whether its savepoint is open: its writes are not yet released into the batch.
    in_savepoint: bool,
}

impl Drop for WriteConnection {
    fn drop(&mut self) {
        if self.in_savepoint
            && !self.writer.connection.is_autocommit()
            && let Err(error) = self.writer.connection.execute_batch(ROLLBACK_TO)
        {
            // What is left of this write must not commit with the batch: none of it does.
            tracing::error!(%error, "could not roll back an abandoned SQLite write; failing its batch");
            if let Err(error) = self.writer.connection.execute_batch("ROLLBACK") {
                tracing::error!(%error, "could not roll back a SQLite transaction");
            }
        }
        self.writer.settle();
    }
}

/// Commits a batch whose writes all stopped waiting for it (their requests dropped), so what
/// they released is not left uncommitted until the next write.
struct CommitIfAbandoned {
    writer: Arc<Mutex<Writer>>,
    batch: Arc<Batch>,
}

impl Drop for CommitIfAbandoned {
    fn drop(&mut self) {
        if self.batch.outcome.get().is_some() {
            return;
        }
        let (writer, batch) = (self.writer.clone(), self.batch.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut writer = writer.lock_owned().await;
                if writer.batch.as_ref().is_some_and(|open| Arc::ptr_eq(open, &batch)) {
                    let committed = tokio::task::spawn_blocking(move || writer.commit_batch()).await;
                    if let Ok(Err(error)) | Err(error) = committed.map_err(join_error) {
                        tracing::error!(%error, "could not commit an abandoned batch of writes");
                    }
                }
            });
        }
    }
}

/// One write transaction on the write connection, whose steps run one after another.
pub struct WriteTransaction {
    connection: Option<WriteConnection>,
    gate: Option<std::sync::Arc<commit_gate::CommitGate>>,
    pool: Shared,
}

impl WriteTransaction {
    fn connection(&self) -> Result<&WriteConnection, Error> {
        self.connection.as_ref().ok_or_else(|| Error::internal("a failed step ended the transaction"))
    }

    fn connection_mut(&mut self) -> Result<&mut WriteConnection, Error> {
        self.connection.as_mut().ok_or_else(|| Error::internal("a failed step ended the transaction"))
    }

    /// Runs one short step of the transaction (a few indexed reads or writes of pages SQLite
    /// holds in memory) where the request runs: a hop to a blocking thread per step cost more
    /// than the step. Steps that may wait (for the file lock, for the disk) use [`Self::run_blocking`].
    pub fn run<T, F>(&mut self, work: F) -> Result<T, Error>
    where
        F: FnOnce(&Connection) -> Result<T, Error>,
    {
        work(&self.connection()?.writer.connection)
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
            let outcome = work(&connection.writer.connection);
            (connection, outcome)
        })
        .await
        .map_err(join_error)?;
        self.connection = Some(connection);
        outcome
    }

    /// Commits, unless the request has given up (see [`Pool::write`]). Its writes are released
    /// into the batch; when writers wait to begin, the connection goes to them and they add
    /// theirs, and whoever of the batch next holds the connection commits them all (one flush
    /// for many writes). Otherwise the batch commits now. Either way this answers once the
    /// batch's `COMMIT` has, with its outcome. The write connection is released on the
    /// blocking thread as soon as the commit is durable, not when this request is next polled,
    /// so the next writer does not wait for this request's turn on a worker.
    pub async fn commit(mut self) -> Result<(), Error> {
        if !commit_gate::may_commit(self.gate.as_deref()) {
            return Err(Error::Unavailable);
        }
        self.run(|connection| connection.execute_batch(RELEASE).map_err(storage_error))?;
        let mut connection =
            self.connection.take().ok_or_else(|| Error::internal("a failed step ended the transaction"))?;
        connection.in_savepoint = false;
        let batch =
            connection.writer.batch.clone().ok_or_else(|| Error::internal("a write outside its transaction"))?;
        batch.released.fetch_add(1, Ordering::SeqCst);
        // Kept until this returns: dropped before, with the batch not committed, it commits it.
        let mut _commit_if_abandoned = None;
        if self.pool.group_commit && self.pool.waiting.load(Ordering::SeqCst) > 0 {
            _commit_if_abandoned = Some(CommitIfAbandoned { writer: self.pool.writer.clone(), batch: batch.clone() });
            drop(connection);
            let writer = self.pool.writer.clone().lock_owned().await;
            if let Some(outcome) = batch.outcome.get() {
                return outcome.clone();
            }
            if !writer.batch.as_ref().is_some_and(|open| Arc::ptr_eq(open, &batch)) {
                return Err(Error::internal("a batch of writes ended without an outcome"));
            }
            connection = WriteConnection { writer, in_savepoint: false };
        }
        tokio::task::spawn_blocking(move || {
            let committed = connection.writer.commit_batch();
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
        assert_eq!(begin_without_waiting(&writer.connection), Ok(false), "busy: not begun, and not an error");
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

    async fn file_pool() -> (tempfile::TempDir, Arc<Pool>) {
        let directory = tempfile::tempdir().unwrap();
        let pool = Arc::new(Pool::open(Location::File(directory.path().join("roster.db"))).await.unwrap());
        pool.write(|c| c.execute_batch("CREATE TABLE written (x)").map_err(storage_error)).await.unwrap();
        (directory, pool)
    }

    async fn insert(pool: &Pool, x: i64) -> WriteTransaction {
        let mut transaction = pool.begin().await.unwrap();
        transaction
            .run(|c| c.execute("INSERT INTO written VALUES (?1)", [x]).map(drop).map_err(storage_error))
            .unwrap();
        transaction
    }

    async fn committed(pool: &Pool) -> Vec<i64> {
        pool.read(|c| {
            let mut statement = c.prepare("SELECT x FROM written ORDER BY x").map_err(storage_error)?;
            statement.query_map([], |row| row.get(0)).and_then(Iterator::collect).map_err(storage_error)
        })
        .await
        .unwrap()
    }

    async fn until_a_writer_waits(pool: &Pool) {
        while pool.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    }

    /// A second writer begins while the first commits, and holds the connection until told.
    fn second_writer(
        pool: &Arc<Pool>,
        commits: bool,
    ) -> (
        tokio::sync::oneshot::Receiver<()>,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), Error>>,
    ) {
        let (begun, has_begun) = tokio::sync::oneshot::channel();
        let (go, told) = tokio::sync::oneshot::channel();
        let pool = pool.clone();
        let task = tokio::spawn(async move {
            let transaction = insert(&pool, 2).await;
            begun.send(()).unwrap();
            told.await.unwrap();
            if commits { transaction.commit().await } else { Ok(()) }
        });
        (has_begun, go, task)
    }

    /// A first write committing while a second waits to begin, once the second has begun (with
    /// the connection the first left it): the first's commit, what tells the second to go on
    /// (committing or not), and the second.
    async fn first_committing_while_second_began(
        pool: &Arc<Pool>,
        commits: bool,
    ) -> (
        tokio::task::JoinHandle<Result<(), Error>>,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), Error>>,
    ) {
        let first = insert(pool, 1).await;
        let (has_begun, go, second) = second_writer(pool, commits);
        until_a_writer_waits(pool).await;
        let first = tokio::spawn(first.commit());
        has_begun.await.unwrap();
        (first, go, second)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_committing_while_another_waits_commits_with_it_in_one_transaction() {
        let (_directory, pool) = file_pool().await;
        let (first, go, second) = first_committing_while_second_began(&pool, true).await;
        assert_eq!(committed(&pool).await, Vec::<i64>::new(), "the first waits for the second to commit with it");
        assert!(!first.is_finished(), "and has not answered");
        go.send(()).unwrap();
        assert_eq!((first.await.unwrap(), second.await.unwrap()), (Ok(()), Ok(())));
        assert_eq!(committed(&pool).await, [1, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_given_up_in_a_batch_takes_only_its_own_writes_back() {
        let (_directory, pool) = file_pool().await;
        let (first, go, second) = first_committing_while_second_began(&pool, false).await;
        go.send(()).unwrap();
        assert_eq!(second.await.unwrap(), Ok(()));
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(committed(&pool).await, [1]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_writers_all_stopped_waiting_is_committed_all_the_same() {
        let (_directory, pool) = file_pool().await;
        let (first, go, second) = first_committing_while_second_began(&pool, false).await;
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        go.send(()).unwrap();
        assert_eq!(second.await.unwrap(), Ok(()));
        // The next write finds the batch committed, or commits it first.
        pool.write(|_| Ok(())).await.unwrap();
        assert_eq!(committed(&pool).await, [1]);
        let third = insert(&pool, 3).await;
        assert_eq!(third.commit().await, Ok(()), "the connection is usable");
        assert_eq!(committed(&pool).await, [1, 3]);
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
