//! The job queue: rows enqueued in the transaction of the change that causes them, claimed by
//! workers (`FOR UPDATE SKIP LOCKED` on PostgreSQL; the single writer on SQLite).

use sqlx::Row;

use crate::{Db, JobRow, Result, Tx};

/// The PostgreSQL channel that wakes workers when a job is enqueued.
pub const NOTIFY_CHANNEL: &str = "sportello_jobs";

/// Queued, waiting for its run-at time.
pub const QUEUED: &str = "queued";
/// Claimed by a worker.
pub const RUNNING: &str = "running";
/// Done.
pub const DONE: &str = "done";
/// Failed too many times; waits for an admin.
pub const DEAD: &str = "dead";

const COLS: &str =
    "id, kind, payload, state, attempts, max_attempts, run_at, locked_by, last_error, created_at, updated_at";

macro_rules! job_row {
    ($r:expr) => {
        (|| -> Result<JobRow> {
            Ok(JobRow {
                id: $r.try_get("id")?,
                kind: $r.try_get("kind")?,
                payload: $r.try_get("payload")?,
                state: $r.try_get("state")?,
                attempts: $r.try_get("attempts")?,
                max_attempts: $r.try_get("max_attempts")?,
                run_at: $r.try_get("run_at")?,
                locked_by: $r.try_get("locked_by")?,
                last_error: $r.try_get("last_error")?,
                created_at: $r.try_get("created_at")?,
                updated_at: $r.try_get("updated_at")?,
            })
        })()
    };
}

/// Enqueues a job in the caller's transaction; it becomes visible (and wakes workers) at commit.
pub async fn enqueue(tx: &mut Tx, kind: &str, payload: &str, run_at: i64, max_attempts: i64, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(&mut *tx, c => sqlx::query_scalar(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at)
         VALUES ($1, $2, 'queued', 0, $3, $4, $5, $5) RETURNING id")
        .bind(kind).bind(payload).bind(max_attempts).bind(run_at).bind(now).fetch_one(&mut *c).await)?;
    if let Tx::Postgres(c) = tx {
        sqlx::query("SELECT pg_notify($1, $2)").bind(NOTIFY_CHANNEL).bind(kind).execute(&mut **c).await?;
    }
    Ok(id)
}

/// Wakes the workers of every node (PostgreSQL `NOTIFY`, delivered at commit); nothing on
/// SQLite, where all workers are in this process.
pub async fn notify(tx: &mut Tx, kind: &str) -> Result<()> {
    if let Tx::Postgres(c) = tx {
        sqlx::query("SELECT pg_notify($1, $2)").bind(NOTIFY_CHANNEL).bind(kind).execute(&mut **c).await?;
    }
    Ok(())
}

/// Claims the next due job for `node`, or `None` when nothing is due.
pub async fn claim(db: &Db, node: &str, now: i64, kinds: &[String]) -> Result<Option<JobRow>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    // Look on a reader first: on SQLite the writer is one connection, and a worker woken by
    // every enqueue must not take it from the changes themselves just to find nothing to do.
    let probe = format!(
        "SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $1 AND kind IN ({}) LIMIT 1",
        crate::placeholders(1, kinds.len())
    );
    let mut probe_args = vec![crate::Arg::Int(now)];
    probe_args.extend(kinds.iter().map(|k| crate::Arg::Text(k.clone())));
    let mut rx = db.read().await?;
    let due: Option<i64> = with_conn!(&mut rx, c =>
        crate::bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(probe)), &probe_args).fetch_optional(&mut *c).await)?;
    drop(rx);
    if due.is_none() {
        return Ok(None);
    }
    let mut tx = db.write().await?;
    let lock = match tx {
        Tx::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        Tx::Sqlite(_) => "",
    };
    // Only kinds this worker can run: a node without an SMTP server leaves `mail.send` queued
    // for one that has it.
    let sql = format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, locked_at = $2, attempts = attempts + 1, updated_at = $2
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $2 AND kind IN ({}) ORDER BY run_at, id LIMIT 1 {lock})
         RETURNING {COLS}",
        crate::placeholders(2, kinds.len())
    );
    let mut args = vec![crate::Arg::Text(node.to_owned()), crate::Arg::Int(now)];
    args.extend(kinds.iter().map(|k| crate::Arg::Text(k.clone())));
    let job = with_conn!(&mut tx, c => {
        let r = crate::bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).fetch_optional(&mut *c).await?;
        r.map(|r| job_row!(r)).transpose()
    })?;
    tx.commit().await?;
    Ok(job)
}

/// Marks a claimed job done (keeping the node that ran it in `locked_by`).
pub async fn complete(db: &Db, id: i64, now: i64) -> Result<()> {
    let mut tx = db.write().await?;
    with_conn!(&mut tx, c => sqlx::query("UPDATE jobs SET state = 'done', locked_at = NULL, last_error = NULL, updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

/// Records a failure: back to `queued` at `retry_at`, or `dead` when `retry_at` is `None`.
pub async fn fail(db: &Db, id: i64, error: &str, retry_at: Option<i64>, now: i64) -> Result<()> {
    let mut tx = db.write().await?;
    let (state, run_at) = match retry_at {
        Some(t) => (QUEUED, t),
        None => (DEAD, now),
    };
    with_conn!(&mut tx, c => sqlx::query(
        "UPDATE jobs SET state = $2, run_at = $3, last_error = $4, locked_by = NULL, locked_at = NULL, updated_at = $5 WHERE id = $1")
        .bind(id).bind(state).bind(run_at).bind(error).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

/// Puts back jobs whose worker stopped answering (claimed before `stale_before`), or marks them
/// dead when they used up their attempts (a job that kills its node cannot loop); returns how many.
pub async fn requeue_stale(db: &Db, stale_before: i64, now: i64) -> Result<u64> {
    let mut tx = db.write().await?;
    let n = with_conn!(&mut tx, c => sqlx::query(
        "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
             last_error = CASE WHEN attempts >= max_attempts THEN 'its worker stopped answering' ELSE last_error END,
             locked_by = NULL, locked_at = NULL, run_at = $2, updated_at = $2
         WHERE state = 'running' AND locked_at < $1")
        .bind(stale_before).bind(now).execute(&mut *c).await?.rows_affected());
    tx.commit().await?;
    Ok(n)
}

/// Deletes done jobs last changed before `before`; returns how many.
pub async fn purge_done(tx: &mut Tx, before: i64) -> Result<u64> {
    let n = with_conn!(tx, c => sqlx::query("DELETE FROM jobs WHERE state = 'done' AND updated_at < $1")
        .bind(before).execute(&mut *c).await?.rows_affected());
    Ok(n)
}

/// Jobs in a state (all when `None`), newest first, at most `limit`.
pub async fn list(tx: &mut Tx, state: Option<&str>, limit: i64) -> Result<Vec<JobRow>> {
    let sql = format!("SELECT {COLS} FROM jobs WHERE ($1 = '' OR state = $1) ORDER BY id DESC LIMIT $2");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state.unwrap_or("")).bind(limit).fetch_all(&mut *c).await?;
        rows.iter().map(|r| job_row!(r)).collect()
    })
}

/// The job with this id.
pub async fn get(tx: &mut Tx, id: i64) -> Result<Option<JobRow>> {
    let sql = format!("SELECT {COLS} FROM jobs WHERE id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| job_row!(r)).transpose()
    })
}

/// Sends a dead job back to the queue, due now, with its attempts reset; returns whether it was dead.
pub async fn retry(tx: &mut Tx, id: i64, now: i64) -> Result<bool> {
    let n = with_conn!(&mut *tx, c => sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, updated_at = $2 WHERE id = $1 AND state = 'dead'")
        .bind(id).bind(now).execute(&mut *c).await?.rows_affected());
    if n > 0
        && let Tx::Postgres(c) = tx
    {
        sqlx::query("SELECT pg_notify($1, 'retry')").bind(NOTIFY_CHANNEL).execute(&mut **c).await?;
    }
    Ok(n > 0)
}

/// How many jobs are in each state.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>> {
    let mut tx = db.read().await?;
    let rows: Vec<(String, i64)> = with_conn!(&mut tx, c => sqlx::query_as(
        "SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state").fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Wakes a worker when a job is enqueued on PostgreSQL (LISTEN/NOTIFY).
pub struct Listener(sqlx::postgres::PgListener);

impl Listener {
    /// Listens on the jobs channel; `None` on SQLite (workers there poll, and are woken in-process).
    pub async fn connect(db: &Db) -> Result<Option<Listener>> {
        match db.pg_pool() {
            Some(pool) => {
                let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
                l.listen(NOTIFY_CHANNEL).await?;
                Ok(Some(Listener(l)))
            }
            None => Ok(None),
        }
    }

    /// Waits for the next notification.
    pub async fn recv(&mut self) -> Result<()> {
        self.0.recv().await?;
        Ok(())
    }
}
