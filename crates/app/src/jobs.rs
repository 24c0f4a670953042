//! Background jobs: enqueued in the transaction of the change that causes them, run by workers
//! inside `serve`, retried with exponential back-off, and left `dead` for an admin after too many
//! failures.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use store::{JobRow, Tx};
use tokio::sync::watch;

use crate::access::Actor;
use crate::views::JobView;
use crate::{App, Error, Result};

/// Re-indexes a ticket's messages for search (after a title change or a merge).
pub const REINDEX: &str = "search.reindex";

/// How many times a job is tried before it is dead.
pub const MAX_ATTEMPTS: i64 = 8;

/// The future a job handler returns: `Err` with a message to retry later.
pub type JobFuture = Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send>>;

/// How long a woken worker waits for more enqueues before it looks for work.
pub const WAKE_COALESCE: Duration = Duration::from_millis(25);

/// A job handler.
pub type Handler = Arc<dyn Fn(App, JobRow) -> JobFuture + Send + Sync>;

/// The handlers of every job kind a worker knows.
#[derive(Clone)]
pub struct Handlers(HashMap<String, Handler>);

impl Handlers {
    /// The built-in handlers.
    pub fn builtin() -> Handlers {
        let mut h = Handlers(HashMap::new());
        h = h.with(REINDEX, |app, job| Box::pin(async move { app.run_reindex(&job).await.map_err(|e| e.to_string()) }));
        h = h.with(crate::clocks::RECOMPUTE, |app, job| {
            Box::pin(async move { app.run_recompute(&job).await.map_err(|e| e.to_string()) })
        });
        h = h.with(crate::alerts::FANOUT, |app, job| {
            Box::pin(async move { app.run_alerts(&job).await.map_err(|e| e.to_string()) })
        });
        h
    }

    /// The kinds these handlers run.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.0.keys().cloned().collect();
        k.sort();
        k
    }

    /// Adds (or replaces) the handler of a kind.
    pub fn with(mut self, kind: &str, f: impl Fn(App, JobRow) -> JobFuture + Send + Sync + 'static) -> Handlers {
        self.0.insert(kind.to_owned(), Arc::new(f));
        self
    }
}

/// Enqueues a search re-index of a ticket in the caller's transaction.
pub(crate) async fn enqueue_reindex(tx: &mut Tx, ticket_id: i64, now: i64) -> Result<()> {
    let payload = serde_json::json!({ "ticket": ticket_id }).to_string();
    store::jobs::enqueue(tx, REINDEX, &payload, now, MAX_ATTEMPTS, now).await?;
    Ok(())
}

/// The delay before attempt `attempts + 1`: 5 s doubling each time, at most one hour.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    Duration::from_secs(5u64.saturating_mul(1u64 << exp).min(3600))
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This node's name, recorded on the jobs it claims.
    pub node: String,
    /// How often to look for due jobs when nothing wakes the worker.
    pub poll: Duration,
    /// After this long a running job whose node went silent is queued again.
    pub lease: Duration,
    /// Longest a handler may run.
    pub timeout: Duration,
}

impl Default for WorkerConfig {
    /// Polls every 2 s (wake-ups usually come sooner); 5 minute lease and timeout.
    fn default() -> Self {
        WorkerConfig {
            node: "sportello".into(),
            poll: Duration::from_secs(2),
            lease: Duration::from_secs(300),
            timeout: Duration::from_secs(300),
        }
    }
}

impl App {
    async fn run_reindex(&self, job: &JobRow) -> Result<()> {
        let v: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| Error::Internal(e.to_string()))?;
        let id =
            v.get("ticket").and_then(|t| t.as_i64()).ok_or_else(|| Error::Internal("payload without ticket".into()))?;
        let mut tx = self.db.write().await?;
        if let Some(t) = store::tickets::get(&mut tx, id).await? {
            store::search::reindex_ticket(&mut tx, t.id, &t.title).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Relays PostgreSQL job notifications (from every node) to this process's workers through
    /// [`App::jobs_wake`], on one connection per process, until `shutdown`. Returns at once on
    /// SQLite, where enqueuing wakes the workers in-process.
    pub async fn run_job_listener(&self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match store::jobs::Listener::connect(&self.db).await {
                Ok(Some(mut l)) => loop {
                    tokio::select! {
                        r = l.recv() => match r {
                            Ok(()) => self.jobs_wake.notify_one(),
                            Err(_) => break,
                        },
                        _ = shutdown.changed() => return,
                    }
                },
                Ok(None) => return,
                Err(e) => tracing::debug!(error = %e, "job listener unavailable; workers poll"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Runs jobs until `shutdown` turns true: claims due jobs, runs their handler, completes or
    /// reschedules them. Woken through [`App::jobs_wake`] (in-process enqueues and PostgreSQL
    /// notifications relayed by [`App::run_job_listener`]), else polls every `cfg.poll`.
    pub async fn run_worker(&self, handlers: Handlers, cfg: WorkerConfig, mut shutdown: watch::Receiver<bool>) {
        let wake = self.jobs_wake.clone();
        let mut last_sweep = std::time::Instant::now() - Duration::from_secs(3600);
        let kinds = handlers.kinds();
        while !*shutdown.borrow() {
            if last_sweep.elapsed() > Duration::from_secs(60) {
                last_sweep = std::time::Instant::now();
                self.sweep(&cfg).await;
            }
            let now = store::micros(self.now());
            match store::jobs::claim(&self.db, &cfg.node, now, &kinds).await {
                Ok(Some(job)) => {
                    self.run_one(&handlers, &cfg, job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim jobs"),
            }
            tokio::select! {
                // A burst of enqueues (a busy minute of tickets and their notifications) costs
                // one look for work, not one per job.
                _ = wake.notified() => tokio::time::sleep(WAKE_COALESCE).await,
                _ = tokio::time::sleep(cfg.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn sweep(&self, cfg: &WorkerConfig) {
        let now = self.now();
        let stale = store::micros(now) - cfg.lease.as_micros() as i64;
        match store::jobs::requeue_stale(&self.db, stale, store::micros(now)).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "requeued jobs of silent workers"),
            Err(e) => tracing::warn!(error = %e, "cannot requeue stale jobs"),
        }
        let week_ago = store::micros(now) - 7 * 24 * 3600 * 1_000_000;
        let purge = async {
            let mut tx = self.db.write().await?;
            store::jobs::purge_done(&mut tx, week_ago).await?;
            tx.commit().await
        };
        if let Err(e) = purge.await {
            tracing::warn!(error = %e, "cannot purge done jobs");
        }
    }

    async fn run_one(&self, handlers: &Handlers, cfg: &WorkerConfig, job: JobRow) {
        let started = std::time::Instant::now();
        let result = match handlers.0.get(&job.kind) {
            Some(h) => match tokio::time::timeout(cfg.timeout, h(self.clone(), job.clone())).await {
                Ok(r) => r,
                Err(_) => Err(format!("timed out after {:?}", cfg.timeout)),
            },
            None => Err(format!("no handler for job kind `{}`", job.kind)),
        };
        let now = self.now();
        let outcome = match &result {
            Ok(()) => store::jobs::complete(&self.db, job.id, store::micros(now)).await,
            Err(e) => {
                let retry = (job.attempts < job.max_attempts)
                    .then(|| store::micros(now) + backoff(job.attempts).as_micros() as i64);
                tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, error = %e, dead = retry.is_none(), "job failed");
                store::jobs::fail(&self.db, job.id, e, retry, store::micros(now)).await
            }
        };
        metrics::counter!("sportello_jobs_run_total", "kind" => job.kind.clone(), "outcome" => if result.is_ok() { "ok" } else { "error" }).increment(1);
        metrics::histogram!("sportello_job_duration_seconds", "kind" => job.kind.clone())
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = outcome {
            tracing::error!(job = job.id, error = %e, "cannot record job outcome; it will run again after its lease");
        }
    }

    /// Jobs in a state (`queued`, `running`, `done`, `dead`; all when `None`), newest first. Admins only.
    pub async fn jobs(&self, actor: &Actor, state: Option<&str>, limit: i64) -> Result<Vec<JobView>> {
        actor.require_admin()?;
        if let Some(s) = state
            && ![store::jobs::QUEUED, store::jobs::RUNNING, store::jobs::DONE, store::jobs::DEAD].contains(&s)
        {
            return Err(Error::invalid("state", "one of: queued, running, done, dead"));
        }
        let mut tx = self.db.read().await?;
        Ok(store::jobs::list(&mut tx, state, limit.clamp(1, 500)).await?.into_iter().map(JobView::from).collect())
    }

    /// Sends a dead job back to the queue. Admins only.
    pub async fn retry_job(&self, actor: &Actor, id: i64) -> Result<JobView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let job = store::jobs::get(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("job {id}")))?;
        if !store::jobs::retry(&mut tx, id, now).await? {
            return Err(Error::Conflict(format!("job {id} is {}, not dead", job.state)));
        }
        let job = store::jobs::get(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("job {id}")))?;
        tx.commit().await?;
        Ok(job.into())
    }

    /// How many jobs are in each state (for metrics).
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(store::jobs::counts(&self.db).await?)
    }
}
