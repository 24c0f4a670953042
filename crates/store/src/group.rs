//! Group commit for SQLite's single writer: concurrent write transactions that arrive while the
//! writer is busy run one after the other inside one transaction and are committed together.
//!
//! SQLite writes every page a transaction touched to the log at each commit, and FTS5 flushes a
//! new index segment per transaction; every statement is also a round trip to the connection's
//! thread, and `BEGIN` and `COMMIT` are two of them. Units that share a commit share those round
//! trips and the pages at the right edge of every index (the newest tickets, messages, events and
//! search segment).
//!
//! Units are optimistic: a group runs without savepoints. If one unit fails, the whole group is
//! rolled back and each unit runs again alone in its own transaction, so a failure affects only
//! its own caller. If the commit itself fails, every unit of the group gets the error. Nothing is
//! answered before the commit that holds it has succeeded.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::{Error, Tx};

/// At most this many units share one commit (bounds the latency a unit adds to the others).
const MAX_GROUP: usize = 32;

/// Hands a run's outcome to its caller once the fate of its transaction is known.
type Finish = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// One unit of work, type-erased: each run works on the given transaction and says whether it
/// succeeded. A unit may run twice (grouped, then alone) when another unit of its group failed.
pub(crate) type Unit = Box<dyn for<'a> Fn(&'a mut Tx) -> BoxFuture<'a, (bool, Finish)> + Send + Sync>;

/// The sending side of the group writer, and how many commits held more than one unit.
#[derive(Clone, Debug)]
pub struct Sender {
    pub(crate) units: mpsc::Sender<Unit>,
    pub(crate) grouped_commits: Arc<AtomicU64>,
}

/// Starts the group writer on the single-writer pool.
pub(crate) fn start(write: SqlitePool) -> Sender {
    let (tx, rx) = mpsc::channel(1024);
    let grouped_commits = Arc::new(AtomicU64::new(0));
    tokio::spawn(run(write, rx, grouped_commits.clone()));
    Sender { units: tx, grouped_commits }
}

/// Wraps a typed unit of work into a [`Unit`] and the receiver of its result.
pub(crate) fn unit<T, E, F>(f: F) -> (Unit, oneshot::Receiver<Result<T, E>>)
where
    T: Send + 'static,
    E: From<Error> + Send + 'static,
    F: for<'a> Fn(&'a mut Tx) -> BoxFuture<'a, Result<T, E>> + Send + Sync + 'static,
{
    let (reply, answer) = oneshot::channel();
    let reply = Arc::new(Mutex::new(Some(reply)));
    let f = Arc::new(f);
    let unit: Unit = Box::new(move |tx: &mut Tx| {
        let (f, reply) = (f.clone(), reply.clone());
        Box::pin(async move {
            let outcome = f(tx).await;
            let ok = outcome.is_ok();
            let finish: Finish = Box::new(move |commit: Result<(), Error>| {
                let result = match (outcome, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(E::from(e)),
                    (Err(e), _) => Err(e),
                };
                if let Some(reply) = reply.lock().ok().and_then(|mut r| r.take()) {
                    let _ = reply.send(result);
                }
            });
            (ok, finish)
        })
    });
    (unit, answer)
}

async fn run(write: SqlitePool, mut rx: mpsc::Receiver<Unit>, grouped_commits: Arc<AtomicU64>) {
    while let Some(first) = rx.recv().await {
        let mut units = vec![first];
        while units.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(u) => units.push(u),
                Err(_) => break,
            }
        }
        if units.len() > 1 {
            if together(&write, &units).await {
                grouped_commits.fetch_add(1, Ordering::Relaxed);
            } else {
                for unit in &units {
                    alone(&write, unit).await;
                }
            }
        } else {
            alone(&write, &units[0]).await;
        }
        // Units dropped without an answer (a panic, no transaction) drop their reply channel:
        // their callers see the write as not done, and nothing of theirs was committed.
    }
}

/// Runs a group in one transaction; `false` (and nothing committed) if any unit failed.
async fn together(write: &SqlitePool, units: &[Unit]) -> bool {
    let Ok(tx) = write.begin_with("BEGIN IMMEDIATE").await else {
        return false;
    };
    let mut tx = Tx::Sqlite(tx);
    let mut finishers = Vec::with_capacity(units.len());
    for unit in units {
        match AssertUnwindSafe(unit(&mut tx)).catch_unwind().await {
            Ok((true, finish)) => finishers.push(finish),
            Ok((false, _)) | Err(_) => return false,
        }
    }
    let commit = tx.commit().await;
    for finish in finishers {
        finish(commit.clone());
    }
    true
}

/// Runs one unit in its own transaction.
async fn alone(write: &SqlitePool, unit: &Unit) {
    let tx = match write.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::warn!(error = %e, "the writer could not begin a transaction");
            return;
        }
    };
    let mut tx = Tx::Sqlite(tx);
    match AssertUnwindSafe(unit(&mut tx)).catch_unwind().await {
        Ok((true, finish)) => finish(tx.commit().await),
        Ok((false, finish)) => {
            drop(tx);
            finish(Ok(()));
        }
        Err(_) => tracing::error!("a write panicked; it was rolled back"),
    }
}
