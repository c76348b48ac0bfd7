//! The single writer, with group commit.
//!
//! With `synchronous=FULL` every commit waits for an fsync, which costs far
//! more than the writes themselves. So one thread owns the writing
//! connection and takes write jobs from a queue: it runs every job waiting
//! at that moment inside ONE `IMMEDIATE` transaction, each job inside its own
//! savepoint, and commits them with one fsync. A job that fails is rolled
//! back to its savepoint alone; the others still commit. No job is answered
//! before the transaction holding it is durable, so a caller that saw `Ok`
//! never loses its write, exactly as with one transaction per write.

use super::schema::Tables;
use super::{lock, map_error};
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The most jobs one transaction takes, so that a long queue still commits
/// (and answers) in steps.
const MAX_BATCH: usize = 256;

/// A write waiting for the writer: runs inside the open transaction, then
/// learns whether that transaction committed.
trait Job: Send {
    /// Runs the write; answers whether it succeeded (and must be kept).
    fn run(&mut self, connection: &Connection, tables: &Tables) -> bool;
    /// Answers the caller: its own result when `committed` is `Ok`, else the
    /// reason the whole transaction was lost.
    fn answer(self: Box<Self>, committed: Result<(), &StoreError>);
}

struct Pending<T, F> {
    write: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &Tables) -> StoreResult<T> + Send + 'static,
{
    fn run(&mut self, connection: &Connection, tables: &Tables) -> bool {
        let Some(write) = self.write.take() else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(|| write(connection, tables)))
            .unwrap_or_else(|_| Err(StoreError::Unavailable("a store write panicked".to_owned())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), &StoreError>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Unavailable(
                "the store write was never run".to_owned(),
            )),
            // A job that failed on its own says why, even when the whole
            // transaction was lost afterwards.
            (Err(_), Some(Err(own))) => Err(own),
            (Err(error), _) => Err(copy(error)),
        };
        // The caller may have stopped waiting; the write stands either way.
        let _ = self.reply.send(answer);
    }
}

/// The handle callers queue writes on.
pub(super) struct Writer {
    queue: Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread over `connection`. The thread ends when the
    /// last handle is dropped.
    pub(super) fn start(connection: Arc<Mutex<Connection>>, tables: Tables) -> StoreResult<Self> {
        let (queue, jobs) = std::sync::mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("calsync-sqlite-writer".to_owned())
            .spawn(move || serve(&connection, &tables, &jobs))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the store writer: {e}")))?;
        Ok(Writer { queue })
    }

    /// Queues `write` and waits until it is committed (or failed).
    pub(super) async fn write<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Tables) -> StoreResult<T> + Send + 'static,
    {
        let (job, answer) = job(write);
        self.queue
            .send(job)
            .map_err(|_| StoreError::Unavailable("the store writer stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store writer stopped".to_owned()))?
    }
}

/// `write` as a job for the writer thread, and where its answer comes.
fn job<T, F>(write: F) -> (Box<dyn Job>, oneshot::Receiver<StoreResult<T>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection, &Tables) -> StoreResult<T> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job = Box::new(Pending {
        write: Some(write),
        result: None,
        reply,
    });
    (job, answer)
}

/// The writer thread: waits for a job, takes every other job already
/// waiting, and runs them as one transaction.
fn serve(connection: &Mutex<Connection>, tables: &Tables, jobs: &Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let connection = lock(connection);
        let committed = run_batch(&connection, tables, &mut batch);
        drop(connection);
        for job in batch.drain(..) {
            job.answer(committed.as_ref().map(|_| ()));
        }
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint.
fn run_batch(
    connection: &Connection,
    tables: &Tables,
    batch: &mut [Box<dyn Job>],
) -> StoreResult<()> {
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| map_error(e, "begin transaction"))?;
    let ran = batch
        .iter_mut()
        .try_for_each(|job| run_one(connection, tables, job.as_mut()));
    let ended = ran.and_then(|()| {
        connection
            .execute_batch("COMMIT")
            .map_err(|e| map_error(e, "commit"))
    });
    if ended.is_err() && !connection.is_autocommit() {
        // The transaction is lost either way; rolling back frees the
        // connection for the next batch.
        if let Err(error) = connection.execute_batch("ROLLBACK") {
            tracing::error!(%error, "rolling back a failed store transaction failed");
        }
    }
    ended
}

/// Runs one job in a savepoint: kept when it succeeds, undone when it fails.
fn run_one(connection: &Connection, tables: &Tables, job: &mut dyn Job) -> StoreResult<()> {
    connection
        .execute_batch("SAVEPOINT job")
        .map_err(|e| map_error(e, "begin write"))?;
    let end = if job.run(connection, tables) {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    connection
        .execute_batch(end)
        .map_err(|e| map_error(e, "end write"))
}

/// The same error again, for each job of a lost transaction.
fn copy(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::AlreadyExists(m) => StoreError::AlreadyExists(m.clone()),
        StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::InvalidConfiguration(m) => StoreError::InvalidConfiguration(m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(connection: &Connection, name: &str) -> StoreResult<()> {
        connection
            .execute("INSERT INTO t (name) VALUES (?1)", [name])
            .map(drop)
            .map_err(|e| map_error(e, "insert"))
    }

    fn names(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare("SELECT name FROM t ORDER BY name")
            .unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_failing_write_rolls_back_alone_and_each_gets_its_answer() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (name TEXT PRIMARY KEY)")
            .unwrap();
        let tables = Tables::new("T.");
        let (first, first_answer) = job(|c, _| insert(c, "a"));
        // Writes one row, then fails: the row must not stay.
        let (failing, failing_answer) = job(|c, _| {
            insert(c, "b")?;
            insert(c, "a")
        });
        let (panicking, panicking_answer) = job(|c, _| -> StoreResult<()> {
            insert(c, "p")?;
            panic!("a bug in one write")
        });
        let (last, last_answer) = job(|c, _| insert(c, "c").map(|()| 7));
        let mut batch = vec![first, failing, panicking, last];
        let committed = run_batch(&connection, &tables, &mut batch);
        assert!(committed.is_ok(), "{committed:?}");
        for job in batch {
            job.answer(committed.as_ref().map(|_| ()));
        }
        assert!(connection.is_autocommit(), "the transaction is closed");
        assert_eq!(names(&connection), ["a", "c"]);
        assert!(first_answer.blocking_recv().unwrap().is_ok());
        assert!(matches!(
            failing_answer.blocking_recv().unwrap(),
            Err(StoreError::AlreadyExists(_))
        ));
        assert!(matches!(
            panicking_answer.blocking_recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(last_answer.blocking_recv().unwrap().unwrap(), 7);
    }

    #[test]
    fn a_lost_transaction_fails_every_write_in_it() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (name TEXT PRIMARY KEY)")
            .unwrap();
        let tables = Tables::new("T.");
        let (kept, kept_answer) = job(|c, _| insert(c, "a"));
        // Ending the outer transaction from inside a job breaks the batch.
        let (breaking, _) = job(|c, _| {
            c.execute_batch("ROLLBACK")
                .map_err(|e| map_error(e, "rollback"))
        });
        let mut batch = vec![kept, breaking];
        let committed = run_batch(&connection, &tables, &mut batch);
        assert!(committed.is_err());
        for job in batch {
            job.answer(committed.as_ref().map(|_| ()));
        }
        assert!(connection.is_autocommit());
        assert!(names(&connection).is_empty());
        assert!(kept_answer.blocking_recv().unwrap().is_err());
    }
}
