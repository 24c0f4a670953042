//! The real binary: start-up failures, crash safety, database outages, several nodes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_sportello");

struct Server {
    child: Child,
    base: String,
    /// The LMTP listener's address, when started with `--lmtp-listen`.
    lmtp: Option<String>,
}

impl Server {
    fn start(url: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["--database-url", url, "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("SPORTELLO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut lmtp = None;
        let base = loop {
            let line = lines.next().expect("server exited before listening").unwrap();
            if let Some(addr) = line.strip_prefix("sportello: LMTP on ") {
                lmtp = Some(addr.to_string());
            }
            if let Some(addr) = line.strip_prefix("sportello: listening on ") {
                break addr.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, base, lmtp }
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into()
}

fn token(url: &str) -> String {
    let out = Command::new(BIN)
        .args(["--database-url", url, "admin", "token", "--name", "test", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "the token is alone on stdout");
    text.trim().to_string()
}

fn create_queue(base: &str, token: &str) {
    let r = agent()
        .post(format!("{base}/api/v1/queues"))
        .header("Authorization", format!("Bearer {token}"))
        .send_json(json!({"slug": "support", "name": "Support"}))
        .unwrap();
    assert_eq!(r.status(), 201);
}

fn status(base: &str, path: &str, token: &str) -> u16 {
    agent()
        .get(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[test]
fn unreachable_database_at_start_is_a_clear_error_and_non_zero_exit() {
    for url in ["postgres://postgres@127.0.0.1:1/nothing", "sqlite:///proc/no/such/dir/x.db", "mysql://x"] {
        let out = Command::new(BIN).args(["--database-url", url, "serve", "--listen", "127.0.0.1:0"]).output().unwrap();
        assert!(!out.status.success(), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot open the database") || err.contains("unsupported database URL"), "{url}: {err}");
    }
}

#[test]
fn kill_9_during_a_burst_loses_no_acknowledged_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/sportello.db", dir.path().display());
    let tok = token(&url);
    let mut server = Server::start(&url, &["--workers", "1"]);
    create_queue(&server.base, &tok);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (base, tok, stop) = (server.base.clone(), tok.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            let a = agent();
            let mut acknowledged = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 100_000 {
                i += 1;
                let body = json!({"queue": "support", "title": format!("burst {c}-{i}"), "requestor": format!("c{c}@example.net"), "body": "kill me"});
                match a.post(format!("{base}/api/v1/tickets")).header("Authorization", format!("Bearer {tok}")).send_json(body) {
                    Ok(mut r) if r.status() == 201 => {
                        let v: Value = r.body_mut().read_json().unwrap();
                        acknowledged.push(v["number"].as_i64().unwrap());
                    }
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    server.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged: Vec<i64> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert!(acknowledged.len() > 50, "the burst was too small to mean anything: {}", acknowledged.len());
    let server = Server::start(&url, &["--workers", "0"]);
    let a = agent();
    for n in acknowledged.iter().step_by((acknowledged.len() / 20).max(1)) {
        let r = a
            .get(format!("{}/api/v1/tickets/{n}", server.base))
            .header("Authorization", format!("Bearer {tok}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged ticket {n} is not served after the crash");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = store::Db::connect(&store::Options::new(&url)).await.unwrap();
        let mut tx = db.read().await.unwrap();
        let stored: Vec<i64> = store::with_conn!(&mut tx, c => sqlx::query_scalar("SELECT id FROM tickets").fetch_all(&mut *c).await).unwrap();
        let stored: std::collections::HashSet<i64> = stored.into_iter().collect();
        let lost: Vec<&i64> = acknowledged.iter().filter(|n| !stored.contains(n)).collect();
        assert!(lost.is_empty(), "acknowledged tickets lost in the crash: {lost:?}");
        let orphans: i64 = store::with_conn!(&mut tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.ticket_id = t.id AND e.kind = 'created')
                 OR NOT EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id)").fetch_one(&mut *c).await).unwrap();
        assert_eq!(orphans, 0, "a ticket exists without its creation event or first message");
        drop(tx);
        db.close().await;
    });
    eprintln!("{} acknowledged tickets survived kill -9", acknowledged.len());
}

/// One LMTP conversation delivering messages until the server goes away; returns the
/// Message-IDs it answered 250 for.
fn lmtp_burst(addr: &str, client: usize, stop: &std::sync::atomic::AtomicBool) -> Vec<String> {
    use std::io::Write;
    let Ok(stream) = std::net::TcpStream::connect(addr) else { return Vec::new() };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    // A whole reply (multi-line replies end with a line whose code is followed by a space).
    let reply = |r: &mut BufReader<std::net::TcpStream>| -> Option<String> {
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Some(line);
            }
        }
    };
    let mut acknowledged = Vec::new();
    if !reply(&mut r).is_some_and(|l| l.starts_with("220")) {
        return acknowledged;
    }
    if w.write_all(b"LHLO test.example\r\n").is_err() || !reply(&mut r).is_some_and(|l| l.starts_with("250")) {
        return acknowledged;
    }
    let mut i = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        i += 1;
        let id = format!("k{client}-{i}@burst.example");
        // Every third message answers the first one of this client: replies as well as new tickets.
        let thread = if i % 3 == 0 { format!("In-Reply-To: <k{client}-1@burst.example>\r\n") } else { String::new() };
        let msg = format!("MAIL FROM:<c{client}@burst.example>\r\nRCPT TO:<support@op.example>\r\nDATA\r\n");
        let body = format!(
            "From: c{client}@burst.example\r\nTo: support@op.example\r\nSubject: burst {client} {i}\r\nMessage-ID: <{id}>\r\n{thread}\r\nkill me\r\n.\r\n"
        );
        if w.write_all(msg.as_bytes()).is_err() {
            break;
        }
        let ok = (0..3).all(|_| reply(&mut r).is_some_and(|l| l.starts_with('2') || l.starts_with('3')));
        if !ok || w.write_all(body.as_bytes()).is_err() {
            break;
        }
        match reply(&mut r) {
            Some(l) if l.starts_with("250") => acknowledged.push(id),
            _ => break,
        }
    }
    acknowledged
}

#[test]
fn kill_9_during_lmtp_ingestion_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/sportello.db", dir.path().display());
    let tok = token(&url);
    let mut server = Server::start(&url, &["--workers", "1", "--lmtp-listen", "127.0.0.1:0"]);
    create_queue(&server.base, &tok);
    let r = agent()
        .put(format!("{}/api/v1/queues/support/mail", server.base))
        .header("Authorization", format!("Bearer {tok}"))
        .send_json(json!({"address": "support@op.example"}))
        .unwrap();
    assert_eq!(r.status(), 200);
    let lmtp = server.lmtp.clone().expect("the LMTP address is printed");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (lmtp, stop) = (lmtp.clone(), stop.clone());
            std::thread::spawn(move || lmtp_burst(&lmtp, c, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged: Vec<String> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert!(acknowledged.len() > 50, "the burst was too small to mean anything: {}", acknowledged.len());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = store::Db::connect(&store::Options::new(&url)).await.unwrap();
        store::migrate::run(&db).await.unwrap();
        let mut tx = db.read().await.unwrap();
        let stored: Vec<(String, Option<i64>)> = store::with_conn!(&mut tx, c => sqlx::query_as(
            "SELECT m.message_id, t.id FROM mail_messages m LEFT JOIN messages t ON t.id = m.message_row_id WHERE m.direction = 'in'")
            .fetch_all(&mut *c).await).unwrap();
        let stored: std::collections::HashMap<String, Option<i64>> = stored.into_iter().collect();
        let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains_key(*id)).collect();
        assert!(lost.is_empty(), "acknowledged messages lost in the crash: {lost:?}");
        let without: Vec<&String> = acknowledged.iter().filter(|id| stored[*id].is_none()).collect();
        assert!(without.is_empty(), "acknowledged messages without their ticket message: {without:?}");
        drop(tx);
        db.close().await;
    });
    eprintln!("{} messages acknowledged over LMTP survived kill -9", acknowledged.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_and_the_server_recovers_without_restart() {
    let Some(ctx) = Ctx::postgres().await else {
        eprintln!("SPORTELLO_TEST_PG_URL not set: skipped");
        return;
    };
    let url = ctx.url.clone();
    let name = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    ctx.app.db.close().await;
    let tok = tokio::task::spawn_blocking({
        let url = url.clone();
        move || token(&url)
    })
    .await
    .unwrap();
    let server = Server::start(&url, &["--workers", "1"]);
    let base = server.base.clone();
    let get = |path: &'static str| {
        let (base, tok) = (base.clone(), tok.clone());
        tokio::task::spawn_blocking(move || status(&base, path, &tok))
    };
    assert_eq!(get("/healthz").await.unwrap(), 200);
    let admin = pg_admin_url().unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
    let set = |allow: bool| format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allow}");
    sqlx::query(sqlx::AssertSqlSafe(set(false))).execute(&mut conn).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(get("/healthz").await.unwrap(), 503);
    assert_eq!(get("/api/v1/tickets").await.unwrap(), 503);
    sqlx::query(sqlx::AssertSqlSafe(set(true))).execute(&mut conn).await.unwrap();
    let started = Instant::now();
    loop {
        if get("/api/v1/tickets").await.unwrap() == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no recovery within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_nodes_on_one_postgres_run_each_job_once() {
    let Some(ctx) = Ctx::postgres().await else {
        eprintln!("SPORTELLO_TEST_PG_URL not set: skipped");
        return;
    };
    let cast = ctx.seed().await;
    let mut numbers = Vec::new();
    for i in 0..40 {
        numbers.push(ctx.ticket(&cast, "support", &format!("ticket {i}"), "anna@acme.example", "x").await.number);
    }
    let url = ctx.url.clone();
    let tok = tokio::task::spawn_blocking({
        let url = url.clone();
        move || token(&url)
    })
    .await
    .unwrap();
    let a = Server::start(&url, &["--workers", "2", "--node", "alpha"]);
    let b = Server::start(&url, &["--workers", "2", "--node", "beta"]);
    let bases = [a.base.clone(), b.base.clone()];
    // Every title change enqueues a search re-index job, alternately through each node.
    tokio::task::spawn_blocking({
        let (numbers, tok) = (numbers.clone(), tok.clone());
        move || {
            let client = agent();
            for (i, n) in numbers.iter().enumerate() {
                let r = client
                    .patch(format!("{}/api/v1/tickets/{n}", bases[i % 2]))
                    .header("Authorization", format!("Bearer {tok}"))
                    .send_json(json!({"title": format!("renamed {n}")}))
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }
    })
    .await
    .unwrap();
    let started = Instant::now();
    let jobs = loop {
        // The creations also queued their notifications (`mail.send`): the reindex jobs are the test.
        let jobs: Vec<_> = ctx
            .app
            .jobs(&cast.admin, None, 500)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == "search.reindex")
            .collect();
        if jobs.len() == numbers.len() && jobs.iter().all(|j| j.state == "done") {
            break jobs;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "jobs not done: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(jobs.iter().all(|j| j.attempts == 1), "a job was claimed twice");
    let mut tx = ctx.app.db.read().await.unwrap();
    let nodes: Vec<String> = store::with_conn!(&mut tx, c => sqlx::query_scalar("SELECT DISTINCT split_part(locked_by, '/', 1) FROM jobs WHERE kind = 'search.reindex' ORDER BY 1").fetch_all(&mut *c).await).unwrap();
    assert_eq!(nodes, ["alpha", "beta"], "both nodes ran jobs");
    drop(tx);
    drop((a, b));
    ctx.finish().await;
}

#[test]
fn sla_due_prints_the_due_times_of_a_preset_level_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/sportello.db", dir.path().display());
    let run =
        |args: &[&str]| Command::new(BIN).args(["--database-url", &url, "sla", "due"]).args(args).output().unwrap();
    // A blocking fault opened on a Friday at 16:30 on Professional: intervention on Monday at
    // 11:30; restoration 4 business hours later (counted from the intervention due time).
    let out = run(&["--level", "professional", "--severity", "blocking", "--opened", "2026-11-20T16:30:00+01:00"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "intervention due 2026-11-23T11:30:00+01:00\nrestoration due  2026-11-23T16:30:00+01:00\n"
    );
    // Restoration from an actual intervention, as JSON, given in UTC.
    let out = run(&[
        "--level",
        "professional",
        "--severity",
        "blocking",
        "--opened",
        "2026-11-20T15:30:00Z",
        "--intervened",
        "2026-11-20T16:00:00Z",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["restoration_due"], "2026-11-23T12:00:00+01:00");
    // Extended is 24/7; the October DST change is an hour more of wall clock.
    let out =
        run(&["--level", "extended", "--severity", "blocking", "--opened", "2026-10-25T01:30:00+02:00", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intervention_due"], "2026-10-25T04:30:00+01:00");
    for (args, field) in [
        (vec!["--level", "gold", "--severity", "blocking", "--opened", "2026-11-20T16:30:00+01:00"], "--level"),
        (vec!["--level", "advanced", "--severity", "blocking", "--opened", "2026-11-20 16:30"], "--opened"),
        (
            vec![
                "--level",
                "advanced",
                "--severity",
                "blocking",
                "--opened",
                "2026-11-20T16:30:00Z",
                "--intervened",
                "2026-11-19T10:00:00Z",
            ],
            "--intervened",
        ),
    ] {
        let out = run(&args);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(field), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
