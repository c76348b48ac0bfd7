//! The embedded store: one SQLite file, ACID and crash-safe.
//!
//! Each collection is a table named `{prefix}{collection}` whose rows hold the
//! record as JSON text beside the key columns the queries filter on. The file
//! runs in WAL mode with `synchronous=FULL`, so a committed write survives a
//! crash or a power cut, and readers never wait for the writer.
//!
//! Writes go through one connection owned by a writer thread, inside
//! `IMMEDIATE` transactions (so two processes sharing the file also
//! serialize); the writes waiting at once share one transaction and one
//! fsync ([`writer`]). Reads go through a few read-only connections on
//! tokio's blocking pool.

mod idempotency;
mod records;
mod rows;
mod schema;
mod shared;
mod writer;
mod writes;

use crate::store::{StoreError, StoreResult, validate_prefix};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long a write waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An embedded [`Store`](crate::store::Store) in one SQLite file.
pub struct SqliteStore {
    prefix: String,
    tables: schema::Tables,
    location: String,
    writer: writer::Writer,
    readers: Vec<Arc<Mutex<Connection>>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in the file at `path`, with
    /// collections named after `prefix`.
    ///
    /// # Errors
    /// `InvalidConfiguration` for a bad prefix; `Unavailable` when the file
    /// cannot be opened or its tables cannot be created.
    pub async fn open(path: impl AsRef<Path>, prefix: &str) -> StoreResult<Self> {
        validate_prefix(prefix)?;
        let path = path.as_ref().to_path_buf();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, prefix))
            .await
            .map_err(join_error)?
    }

    /// A store that lives in memory only, for tests and throwaway runs.
    ///
    /// # Errors
    /// `InvalidConfiguration` for a bad prefix; `Unavailable` if SQLite fails.
    pub fn in_memory(prefix: &str) -> StoreResult<Self> {
        validate_prefix(prefix)?;
        let connection = Connection::open_in_memory().map_err(|e| map_error(e, "open"))?;
        configure(&connection, false)?;
        let tables = schema::Tables::new(prefix);
        tables.create(&connection)?;
        let connection = Arc::new(Mutex::new(connection));
        Ok(SqliteStore {
            prefix: prefix.to_owned(),
            writer: writer::Writer::start(connection.clone(), tables.clone())?,
            tables,
            location: ":memory:".to_owned(),
            // One in-memory database has one connection: it reads too.
            readers: vec![connection],
            next_reader: AtomicUsize::new(0),
        })
    }

    fn open_blocking(path: PathBuf, prefix: String) -> StoreResult<Self> {
        let location = path.display().to_string();
        // The file and its journals are the owner's alone (SQLite gives the
        // journals it creates the database file's mode; older ones are
        // tightened here).
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{location}{suffix}"));
            if suffix.is_empty() || file.exists() {
                crate::private_fs::restrict_file(&file).map_err(|e| {
                    StoreError::Unavailable(format!("restrict {}: {e}", file.display()))
                })?;
            }
        }
        let writer =
            Connection::open(&path).map_err(|e| map_error(e, &format!("open {location}")))?;
        configure(&writer, true)?;
        let tables = schema::Tables::new(&prefix);
        tables.create(&writer)?;
        let reader_count = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        let mut readers = Vec::with_capacity(reader_count);
        for _ in 0..reader_count {
            let reader = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| map_error(e, &format!("open {location} for reading")))?;
            reader
                .busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| map_error(e, "configure"))?;
            readers.push(Arc::new(Mutex::new(reader)));
        }
        Ok(SqliteStore {
            prefix,
            writer: writer::Writer::start(Arc::new(Mutex::new(writer)), tables.clone())?,
            tables,
            location,
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Runs `read` on a reader connection, on the blocking pool.
    async fn read<T, F>(&self, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &schema::Tables) -> StoreResult<T> + Send + 'static,
    {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let readers = self.readers.clone();
        let tables = self.tables.clone();
        tokio::task::spawn_blocking(move || {
            // Take the first idle reader from a rotating start; when all are
            // busy, wait for the one at the start.
            let count = readers.len();
            let guard = (0..count)
                .find_map(|i| readers[(start + i) % count].try_lock().ok())
                .unwrap_or_else(|| lock(&readers[start % count]));
            read(&guard, &tables)
        })
        .await
        .map_err(join_error)?
    }

    /// Runs `write` on the writer connection, in a transaction it may share
    /// with other writes (each still atomic on its own).
    async fn write<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &schema::Tables) -> StoreResult<T> + Send + 'static,
    {
        self.writer.write(write).await
    }
}

/// Locks a connection. A panic while holding it leaves the connection usable
/// (an open transaction is rolled back when its guard drops), so poisoning is
/// ignored.
fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(PoisonError::into_inner)
}

fn configure(connection: &Connection, file: bool) -> StoreResult<()> {
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map_error(e, "configure"))?;
    if file {
        let mode: String = connection
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(|e| map_error(e, "enable WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "the database file does not accept WAL mode (got {mode})"
            )));
        }
    }
    connection
        .execute_batch("PRAGMA synchronous=FULL;")
        .map_err(|e| map_error(e, "configure"))
}

fn join_error(error: tokio::task::JoinError) -> StoreError {
    StoreError::Unavailable(format!("store worker stopped: {error}"))
}

/// Maps an SQLite error by its code: unique violations are `AlreadyExists`,
/// a damaged file is `Corrupt`, everything else (locked, busy, I/O, cannot
/// open, full disk) is `Unavailable`.
fn map_error(error: rusqlite::Error, doing: &str) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation)
            if matches!(
                error.extended_code(),
                Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
                    | Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
            ) =>
        {
            StoreError::AlreadyExists(format!("{doing}: {error}"))
        }
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
            StoreError::Corrupt(format!("{doing}: {error}"))
        }
        _ => StoreError::Unavailable(format!("{doing}: {error}")),
    }
}

trait ExtendedCode {
    fn extended_code(&self) -> Option<std::ffi::c_int>;
}

impl ExtendedCode for rusqlite::Error {
    fn extended_code(&self) -> Option<std::ffi::c_int> {
        match self {
            rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
            _ => None,
        }
    }
}
