//! `sportello serve`: the HTTP server and the job workers, until SIGTERM or Ctrl-C.

use anyhow::Context;
use tokio::sync::watch;

use crate::cli::ServeArgs;

/// How often `serve` looks whether the line tallies are stale (a look is one small read).
const TALLY_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the server until a termination signal, then drains requests and workers.
pub async fn serve(database_url: &str, args: ServeArgs) -> anyhow::Result<()> {
    let mut app = crate::cli::open(database_url, args.db_connections).await?;
    let config = std::sync::Arc::make_mut(&mut app.config);
    config.public_url = args.public_url.as_deref().map(|u| u.trim_end_matches('/').to_owned());
    config.mail_from = args.mail_from.clone();
    let mut handlers = app::jobs::Handlers::builtin();
    match &args.smtp_url {
        Some(url) => {
            handlers = mail::send::Sender::from_url(url).map_err(anyhow::Error::msg)?.register(handlers);
            let resumed = app.resume_outbox().await?;
            tracing::info!(resumed, "sending notification email through the SMTP server");
        }
        None => {
            // No mail.send handler: the jobs stay queued (for a node with a server, or this one
            // once restarted with --smtp-url).
            tracing::warn!("no --smtp-url: notification email is queued in the outbox but not sent");
        }
    }
    if args.demo && crate::demo::is_empty(&app).await? {
        let logins = crate::demo::seed(&app).await?;
        println!("{logins}");
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let node = args.node.clone().unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
    let mut workers = Vec::new();
    if args.workers > 0 {
        let (app, stop) = (app.clone(), stop_rx.clone());
        workers.push(tokio::spawn(async move { app.run_job_listener(stop).await }));
    }
    for i in 0..args.workers {
        let cfg = app::jobs::WorkerConfig { node: format!("{node}/{i}"), ..Default::default() };
        let (app, stop) = (app.clone(), stop_rx.clone());
        let handlers = handlers.clone();
        workers.push(tokio::spawn(async move { app.run_worker(handlers, cfg, stop).await }));
    }
    let pages = web::pages::PagesConfig {
        secure_cookies: args.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
        public_url: args.public_url.as_deref().map(|u| u.trim_end_matches('/').to_owned()),
        ..Default::default()
    };
    if let Some(listen) = &args.lmtp_listen {
        let cfg = mail::lmtp::LmtpConfig { hostname: hostname(), ..Default::default() };
        let bound = mail::lmtp::serve(app.clone(), mail::lmtp::Listen::parse(listen), cfg, stop_rx.clone())
            .await
            .with_context(|| format!("cannot take LMTP on {listen}"))?;
        println!("sportello: LMTP on {bound}");
    }
    if args.sla_interval > 0 {
        let every = std::time::Duration::from_secs(args.sla_interval);
        let (sla, stop) = (app.clone(), stop_rx.clone());
        workers.push(tokio::spawn(async move { sla.run_sla_sweeper(every, stop).await }));
        // Maintenance windows move their notices at the same pace.
        let (notices, stop) = (app.clone(), stop_rx.clone());
        workers.push(tokio::spawn(async move { notices.run_notice_sweeper(every, stop).await }));
        // Line tallies found stale (an import by another process) are counted again.
        let (tallies, stop) = (app.clone(), stop_rx.clone());
        workers.push(tokio::spawn(async move { tallies.run_line_tallies(every.max(TALLY_EVERY), stop).await }));
    }
    if args.imap_interval > 0 {
        let extra_roots = match &args.imap_ca_file {
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
                mail::imap::read_roots(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            }
            None => Vec::new(),
        };
        let cfg = mail::imap::PollerConfig {
            node: node.clone(),
            interval: std::time::Duration::from_secs(args.imap_interval),
            extra_roots,
            ..Default::default()
        };
        let (app, stop) = (app.clone(), stop_rx.clone());
        workers.push(tokio::spawn(async move { mail::imap::run(app, cfg, stop).await }));
    }
    // The first portal page and the first status page after a start would otherwise compile the
    // visible notices and place every notice of the page while their reader waits.
    let warm = app.clone();
    tokio::spawn(async move {
        match warm.warm_caches().await {
            Ok(w) => tracing::info!(
                visible_notices = w.visible_notices,
                status_notices = ?w.status_notices,
                ms = w.took.as_millis() as u64,
                "caches warmed"
            ),
            Err(e) => tracing::warn!(error = %e, "warming the caches failed; the first readers fill them"),
        }
    });
    let router = web::router_with(app.clone(), pages);
    tracing::info!(%addr, backend = ?app.db.backend(), database = %crate::redact(database_url), "serving");
    println!("sportello: listening on http://{addr}");
    let shutdown = async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    };
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await.context("the server failed")?;
    for w in workers {
        let _ = w.await;
    }
    app.db.close().await;
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "node".into())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
