//! Storage for Sportello on SQLite or PostgreSQL, chosen by the database URL.
//!
//! One [`Db`] enum dispatches to per-backend SQL where the dialects differ; identical SQL (with
//! `$N` placeholders, which both accept) is shared through the [`with_conn!`] macro. Instants are
//! stored as integer microseconds since the Unix epoch on both backends, so the same comparisons,
//! indices and ordering hold everywhere.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Runs `$body` with `$c` bound to the transaction's connection, once per backend.
#[macro_export]
macro_rules! with_conn {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(tx) => {
                let $c = &mut **tx;
                $body
            }
            $crate::Tx::Postgres(tx) => {
                let $c = &mut **tx;
                $body
            }
        }
    };
}

pub mod account;
pub mod alerts;
pub mod blobs;
pub mod bulk;
pub mod events;
pub mod group;
pub mod imap;
pub mod inventory;
pub mod invitations;
pub mod jobs;
pub mod mail;
pub mod migrate;
pub mod notices;
pub mod outbox;
pub mod people;
pub mod queues;
pub mod rows;
pub mod search;
pub mod sessions;
pub mod sla;
pub mod status;
pub mod storm;
pub mod tickets;

pub use futures_util::future::BoxFuture;
pub use rows::*;

/// A storage failure, sorted by what the caller can do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The database cannot be reached or is busy; retrying later may succeed.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or reference constraint refused the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data could not be understood (a bug or a hand-edited database).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database URL or configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Other(String),
}

/// Result of a storage operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Protocol(_) => {
                Error::Unavailable(e.to_string())
            }
            E::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                match code.as_str() {
                    // PostgreSQL: unique, foreign key, check violations.
                    "23505" | "23503" | "23514" => Error::Conflict(db.message().to_owned()),
                    // PostgreSQL: connection failures, shutdown, too many connections, database
                    // closed to connections or missing, authentication refused, serialisation
                    // failures and deadlocks (a retry later succeeds).
                    c if c.starts_with("08")
                        || c.starts_with("57P")
                        || ["53300", "55000", "3D000", "28000", "28P01", "40001", "40P01"].contains(&c) =>
                    {
                        Error::Unavailable(db.message().to_owned())
                    }
                    // SQLite: busy / locked, and constraint violations (primary key, unique, foreign key).
                    "5" | "6" | "261" | "517" => Error::Unavailable(db.message().to_owned()),
                    "1555" | "2067" | "787" | "19" => Error::Conflict(db.message().to_owned()),
                    _ => Error::Other(e.to_string()),
                }
            }
            E::ColumnDecode { .. } | E::Decode(_) | E::ColumnNotFound(_) => Error::Corrupt(e.to_string()),
            _ => Error::Other(e.to_string()),
        }
    }
}

/// Parses a stored enum name, or reports corrupt data.
pub(crate) fn parse<T: FromStr<Err = String>>(text: &str) -> Result<T> {
    text.parse().map_err(Error::Corrupt)
}

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A handle on the database: cheap to clone, shared by every request and worker.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite: one writer connection (writes are serialised in the process) and a reader pool.
    Sqlite {
        /// The single writer.
        write: SqlitePool,
        /// Readers (WAL lets them run beside the writer).
        read: SqlitePool,
        /// The group writer (see [`Db::write_grouped`]).
        group: group::Sender,
    },
    /// PostgreSQL: one pool for everything.
    Postgres(PgPool),
}

/// A transaction on either backend. Dropping it without [`Tx::commit`] rolls it back.
pub enum Tx {
    /// SQLite transaction.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// How a [`Db`] is opened.
#[derive(Debug, Clone)]
pub struct Options {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    /// Maximum connections (PostgreSQL pool, SQLite readers).
    pub max_connections: u32,
    /// How long to wait for a connection before reporting the database unavailable.
    pub acquire_timeout: Duration,
}

impl Options {
    /// Defaults for a server: 16 connections, 5 s acquire timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Options { url: url.into(), max_connections: 16, acquire_timeout: Duration::from_secs(5) }
    }
}

impl Db {
    /// Opens the database named by the URL (creating an SQLite file and its folder if missing).
    pub async fn connect(options: &Options) -> Result<Db> {
        let url = options.url.trim();
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(Error::Config("the SQLite URL has no file path: use sqlite://PATH".into()));
            }
            if let Some(parent) = Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::Config(format!("cannot create the folder {}: {e}", parent.display())))?;
            }
            let base = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("temp_store", "memory")
                .pragma("journal_size_limit", "67108864");
            // The writer keeps a larger page cache; it never checkpoints on commit (a background
            // task does, see `checkpoint`), so no request waits for the WAL to be copied back.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(options.acquire_timeout.max(Duration::from_secs(10)))
                .connect_with(base.clone().pragma("cache_size", "-16000").pragma("wal_autocheckpoint", "0"))
                .await?;
            // Readers: at most 8 (the machine's cores are the limit, not connections), 4 MB cache each.
            let read = SqlitePoolOptions::new()
                .max_connections(options.max_connections.clamp(2, 8))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(base.pragma("cache_size", "-4000"))
                .await?;
            let db = Db::Sqlite { write: write.clone(), read: read.clone(), group: group::start(write.clone()) };
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if read.is_closed() {
                        break;
                    }
                    if let Err(e) = checkpoint(&read, &write).await {
                        tracing::debug!(error = %e, "checkpoint skipped");
                    }
                }
            });
            Ok(db)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts =
                PgConnectOptions::from_str(url).map_err(|e| Error::Config(format!("bad PostgreSQL URL: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(Error::Config(format!(
                "unsupported database URL `{url}`: use sqlite://PATH or postgres://USER@HOST/DB"
            )))
        }
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once.
    pub async fn write(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Runs `f` in a write transaction and commits it; the result is returned after the commit.
    /// On SQLite, calls that arrive while the writer is busy share one commit, and `f` may run
    /// twice (when a unit it was grouped with failed, see the `group` module); on PostgreSQL each
    /// call has its own transaction.
    pub async fn write_grouped<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: for<'a> Fn(&'a mut Tx) -> futures_util::future::BoxFuture<'a, Result<T, E>> + Send + Sync + 'static,
    {
        match self {
            Db::Sqlite { group, .. } => {
                let (unit, answer) = group::unit(f);
                let gone = || E::from(Error::Unavailable("the write was not committed; try again".into()));
                group.units.send(unit).await.map_err(|_| gone())?;
                answer.await.map_err(|_| gone())?
            }
            Db::Postgres(_) => {
                let mut tx = self.write().await?;
                let v = f(&mut tx).await?;
                tx.commit().await?;
                Ok(v)
            }
        }
    }

    /// How many commits of [`Db::write_grouped`] held more than one unit (always 0 on PostgreSQL).
    pub fn grouped_commits(&self) -> u64 {
        match self {
            Db::Sqlite { group, .. } => group.grouped_commits.load(std::sync::atomic::Ordering::Relaxed),
            Db::Postgres(_) => 0,
        }
    }

    /// Begins a read-only transaction: a consistent snapshot for the reads of one request.
    pub async fn read(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { read, .. } => Tx::Sqlite(read.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin_with("BEGIN READ ONLY").await?),
        })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        let mut tx = self.read().await?;
        with_conn!(&mut tx, c => sqlx::query("SELECT 1").execute(&mut *c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Closes every connection (waits for checked-out ones).
    pub async fn close(&self) {
        match self {
            Db::Sqlite { write, read, .. } => {
                write.close().await;
                read.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// The PostgreSQL pool, for LISTEN/NOTIFY.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match self {
            Db::Postgres(p) => Some(p),
            Db::Sqlite { .. } => None,
        }
    }
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Which engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Write-ahead log frames (64 MB of 4 KB pages) beyond which the writer pauses to restart the log.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// Copies the write-ahead log back into the database file without blocking the writer or readers
/// (PASSIVE); past 64 MB it briefly takes the writer's turn to restart the log, so the log stays
/// bounded under constant writes. Every SQLite `Db` runs it every 250 ms in the background.
async fn checkpoint(read: &SqlitePool, write: &SqlitePool) -> Result<()> {
    let (log, done): (i64, i64) = {
        let mut c = read.acquire().await?;
        let (_, log, done): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *c).await?;
        (log, done)
    };
    // A writer that is never idle starves passive checkpoints: the log is only reset when a write
    // begins after a complete checkpoint. Past the limit, take the writer's turn and restart it.
    if log > WAL_RESTART_FRAMES || (log > 0 && done < log / 2 && log > WAL_RESTART_FRAMES / 2) {
        let mut c = write.acquire().await?;
        sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(&mut *c).await?;
    }
    Ok(())
}

/// A value bound to a dynamically built query.
#[derive(Debug, Clone)]
pub enum Arg {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
    /// An integer or NULL.
    OptInt(Option<i64>),
    /// A string or NULL.
    OptText(Option<String>),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// Binds a list of [`Arg`]s to a query, on whichever backend.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                $crate::Arg::Int(i) => q.bind(*i),
                $crate::Arg::Text(s) => q.bind(s.clone()),
                $crate::Arg::OptInt(i) => q.bind(*i),
                $crate::Arg::OptText(s) => q.bind(s.clone()),
                $crate::Arg::Bytes(b) => q.bind(b.clone()),
            };
        }
        q
    }};
}
pub(crate) use bind_args;

/// Builds `$1, $2, …` placeholders for `n` values starting after `start` existing ones.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start + 1..=start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Builds `($1, $2), ($3, $4)`: `rows` groups of `cols` placeholders.
pub(crate) fn value_rows(rows: usize, cols: usize) -> String {
    (0..rows).map(|r| format!("({})", placeholders(r * cols, cols))).collect::<Vec<_>>().join(", ")
}

/// `rows` copies of `shape` (one row such as `(#, #, 'queued', #)`), each `#` a parameter:
/// anonymous `?` on SQLite (it resolves `$N` names with a linear search per parameter, which is
/// quadratic on statements of thousands of parameters), `$1, $2, …` on PostgreSQL.
pub(crate) fn param_rows(sqlite: bool, rows: usize, shape: &str) -> String {
    let mut out = String::with_capacity(rows * (shape.len() + 16));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        for ch in shape.chars() {
            if ch != '#' {
                out.push(ch);
            } else if sqlite {
                out.push('?');
            } else {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
        }
    }
    out
}

/// Microseconds since the Unix epoch, as stored.
pub fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

/// The instant for stored microseconds.
pub fn instant(us: i64) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_microsecond(us).map_err(|e| Error::Corrupt(e.to_string()))
}

/// SHA-256 of some bytes, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
