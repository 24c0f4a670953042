//! The job queue: retries with back-off, dead jobs, and exactly-once claiming across nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::jobs::{Handlers, WorkerConfig};
use app::{App, Clock};
use tokio::sync::watch;

use crate::harness::*;

async fn enqueue(app: &App, kind: &str, n: usize, max_attempts: i64) -> Vec<i64> {
    let now = store::micros(app.now());
    let mut tx = app.db.write().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(store::jobs::enqueue(&mut tx, kind, &format!("{{\"i\":{i}}}"), now, max_attempts, now).await.unwrap());
    }
    tx.commit().await.unwrap();
    ids
}

async fn state_of(app: &App, id: i64) -> store::JobRow {
    let mut tx = app.db.read().await.unwrap();
    store::jobs::get(&mut tx, id).await.unwrap().unwrap()
}

both!(
    async fn failing_job_backs_off_then_dies_and_an_admin_can_retry_it(t: &Ctx) {
        let cast = t.seed().await;
        let clock = Clock::manual(jiff::Timestamp::now());
        let app = t.app.clone().with_clock(clock.clone());
        let runs = Arc::new(Mutex::new(0));
        let counter = runs.clone();
        let handlers = Handlers::builtin().with("test.flaky", move |_, _| {
            *counter.lock().unwrap() += 1;
            Box::pin(async { Err("the peer said no".to_string()) })
        });
        let id = enqueue(&app, "test.flaky", 1, 3).await[0];
        let (stop, rx) = watch::channel(false);
        let cfg = WorkerConfig { node: "n1".into(), poll: Duration::from_millis(20), ..Default::default() };
        let worker = tokio::spawn({
            let app = app.clone();
            async move { app.run_worker(handlers, cfg, rx).await }
        });
        let wait_attempts = |n: i64| {
            let app = app.clone();
            async move {
                for _ in 0..300 {
                    let j = state_of(&app, id).await;
                    if j.attempts == n && j.state != "running" {
                        return j;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("job never reached {n} attempts");
            }
        };
        let j = wait_attempts(1).await;
        assert_eq!(j.state, "queued");
        assert_eq!(j.last_error.as_deref(), Some("the peer said no"));
        let first_delay = j.run_at - store::micros(clock.now());
        assert_eq!(first_delay, 5_000_000, "first retry after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(*runs.lock().unwrap(), 1, "not retried before its time");
        clock.set(clock.now() + jiff::SignedDuration::from_secs(6));
        let j = wait_attempts(2).await;
        assert_eq!(j.run_at - store::micros(clock.now()), 10_000_000, "the delay doubles");
        clock.set(clock.now() + jiff::SignedDuration::from_secs(11));
        let j = wait_attempts(3).await;
        assert_eq!(j.state, "dead");
        let dead = app.jobs(&cast.admin, Some("dead"), 10).await.unwrap();
        assert_eq!(dead.iter().map(|j| j.id).collect::<Vec<_>>(), vec![id]);
        let retried = app.retry_job(&cast.admin, id).await.unwrap();
        assert_eq!((retried.state.as_str(), retried.attempts), ("queued", 0));
        assert!(
            matches!(app.retry_job(&cast.admin, id).await, Err(app::Error::Conflict(_))),
            "only dead jobs are retried"
        );
        stop.send(true).unwrap();
        worker.await.unwrap();
    }
);

// Two nodes (each with its own pool and two workers) share one database.
both!(
    async fn two_nodes_run_each_job_exactly_once(t: &Ctx) {
        let second = App::new(store::Db::connect(&store::Options::new(&t.url)).await.unwrap(), app::Config::default());
        let runs: Arc<Mutex<HashMap<i64, Vec<String>>>> = Arc::default();
        let (stop, rx) = watch::channel(false);
        // A long poll: on PostgreSQL the workers must be woken by NOTIFY to finish in time.
        let poll =
            if t.backend == store::Backend::Postgres { Duration::from_secs(60) } else { Duration::from_millis(50) };
        let mut workers = Vec::new();
        for (n, app) in [t.app.clone(), second.clone()].into_iter().enumerate() {
            let (listener, stop_listening) = (app.clone(), rx.clone());
            workers.push(tokio::spawn(async move { listener.run_job_listener(stop_listening).await }));
            for w in 0..2 {
                let runs = runs.clone();
                let node = format!("node{n}/{w}");
                let handlers = Handlers::builtin().with("test.count", move |_, job| {
                    let runs = runs.clone();
                    let node = node.clone();
                    Box::pin(async move {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        runs.lock().unwrap().entry(job.id).or_default().push(node);
                        Ok(())
                    })
                });
                let cfg = WorkerConfig { node: format!("node{n}/{w}"), poll, ..Default::default() };
                let (app, rx) = (app.clone(), rx.clone());
                workers.push(tokio::spawn(async move { app.run_worker(handlers, cfg, rx).await }));
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ids = enqueue(&t.app, "test.count", 150, 3).await;
        let started = std::time::Instant::now();
        while runs.lock().unwrap().len() < ids.len() && started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        for w in workers {
            w.await.unwrap();
        }
        let runs = runs.lock().unwrap().clone();
        assert_eq!(runs.len(), ids.len(), "every job ran within 20 s");
        assert!(runs.values().all(|nodes| nodes.len() == 1), "a job ran twice");
        let nodes: std::collections::HashSet<&str> = runs.values().map(|v| &v[0][..5]).collect();
        assert_eq!(nodes.len(), 2, "both nodes took work");
        for id in ids {
            let j = state_of(&t.app, id).await;
            assert_eq!((j.state.as_str(), j.attempts), ("done", 1));
        }
        second.db.close().await;
    }
);
