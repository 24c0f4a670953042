//! IMAP polling: for each mailbox an admin configured, log in, take every message whose UID
//! is above the last one taken, deliver it like any other message, then flag it `\Seen` or move
//! it to the done folder.
//!
//! Nothing is lost and nothing is taken twice:
//! - a message is delivered (committed) before its UID is recorded, and its UID is recorded
//!   before it is flagged or moved; a crash in between only means the message is fetched again,
//!   and the application recognises its Message-ID (same queue) and changes nothing;
//! - the position is kept per UIDVALIDITY: when the server renumbers the folder (a new
//!   UIDVALIDITY), polling starts again from the first message, with the same Message-ID check;
//! - a message that cannot be delivered because the database is down stops the poll before it,
//!   to be tried at the next one; a malformed or refused one, or one the application fails on
//!   while the database answers, is quarantined and counts as taken (one message never blocks a
//!   mailbox).
//!
//! Each mailbox is polled by one node at a time (a lease in the database), every `interval`.

use std::sync::Arc;
use std::time::Duration;

use app::App;
use app::mailboxes::{ImapSecurity, PollTask};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::deliver::{DeliverError, Delivered};

/// How the poller runs.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// This node's name (the lease holder).
    pub node: String,
    /// How often each mailbox is polled.
    pub interval: Duration,
    /// How long a node may hold a mailbox before another may take it over.
    pub lease: Duration,
    /// Messages larger than this are not fetched: kept in the quarantine as their headers.
    pub max_bytes: u32,
    /// Messages taken per poll at most (the rest wait for the next one).
    pub batch: usize,
    /// How long one network step may take.
    pub timeout: Duration,
    /// Certificates trusted besides the system's (a private CA's, PEM).
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            node: "node".into(),
            interval: Duration::from_secs(60),
            lease: Duration::from_secs(600),
            max_bytes: 25 * 1024 * 1024,
            batch: 500,
            timeout: Duration::from_secs(60),
            extra_roots: Vec::new(),
        }
    }
}

/// Reads PEM certificates (for [`PollerConfig::extra_roots`]).
pub fn read_roots(pem: &[u8]) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

/// What one poll of one mailbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Messages delivered (tickets, replies, duplicates, held).
    pub taken: usize,
    /// Messages kept in the quarantine (unreadable, refused, too large).
    pub quarantined: usize,
    /// The folder's UIDVALIDITY.
    pub uid_validity: u32,
    /// The highest UID taken.
    pub last_uid: u32,
}

/// Why a poll stopped.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The server could not be reached, refused the login or broke the conversation.
    #[error("IMAP: {0}")]
    Imap(String),
    /// A message could not be stored for now (the database); the poll stops before it.
    #[error("delivery failed for now: {0}")]
    Temporary(String),
    /// Another node took the mailbox over (this one held it too long).
    #[error("the lease was lost")]
    LeaseLost,
}

fn imap_err(e: impl std::fmt::Display) -> PollError {
    PollError::Imap(e.to_string())
}

/// Polls mailboxes until `stop` turns true: each due mailbox in turn, then a pause.
pub async fn run(app: App, cfg: PollerConfig, mut stop: watch::Receiver<bool>) {
    let cfg = Arc::new(cfg);
    loop {
        if *stop.borrow() {
            return;
        }
        loop {
            let task = match app.claim_imap_mailbox(&cfg.node, cfg.interval, cfg.lease).await {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "IMAP: cannot look for mailboxes to poll");
                    break;
                }
            };
            let report = tokio::select! {
                r = poll_mailbox(&app, &task, &cfg) => r,
                _ = stop.changed() => Err(PollError::Imap("stopped".into())),
            };
            let (taken, error) = match &report {
                Ok(r) => {
                    tracing::info!(mailbox = %task.name, taken = r.taken, quarantined = r.quarantined, "IMAP mailbox polled");
                    (r.taken + r.quarantined, None)
                }
                Err(e) => {
                    tracing::warn!(mailbox = %task.name, error = %e, "IMAP poll failed");
                    (0, Some(e.to_string()))
                }
            };
            if let Err(e) = app.imap_finish(&task, taken, error.as_deref()).await {
                tracing::warn!(mailbox = %task.name, error = %e, "IMAP: cannot record the poll");
            }
            if *stop.borrow() {
                return;
            }
        }
        // Look again soon: a mailbox becomes due `interval` after its last poll.
        let pause = cfg.interval.min(Duration::from_secs(5));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Polls one mailbox once (the caller holds its lease).
pub async fn poll_mailbox(app: &App, task: &PollTask, cfg: &PollerConfig) -> Result<PollReport, PollError> {
    let tcp = tokio::time::timeout(cfg.timeout, tokio::net::TcpStream::connect((task.host.as_str(), task.port)))
        .await
        .map_err(|_| PollError::Imap(format!("no answer from {}:{}", task.host, task.port)))?
        .map_err(|e| PollError::Imap(format!("cannot connect to {}:{}: {e}", task.host, task.port)))?;
    let _ = tcp.set_nodelay(true);
    match task.security {
        ImapSecurity::None => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, cfg).await?;
            session(client, app, task, cfg).await
        }
        ImapSecurity::Tls => {
            let tls = tls_connect(tcp, &task.host, cfg).await?;
            let mut client = async_imap::Client::new(tls);
            greeting(&mut client, cfg).await?;
            session(client, app, task, cfg).await
        }
        ImapSecurity::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, cfg).await?;
            step(cfg, client.run_command_and_check_ok("STARTTLS", None)).await?;
            let tls = tls_connect(client.into_inner(), &task.host, cfg).await?;
            session(async_imap::Client::new(tls), app, task, cfg).await
        }
    }
}

/// One network step, bounded by the configured timeout.
async fn step<T, E: std::fmt::Display>(
    cfg: &PollerConfig,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, PollError> {
    match tokio::time::timeout(cfg.timeout, f).await {
        Ok(r) => r.map_err(imap_err),
        Err(_) => Err(PollError::Imap("the server did not answer in time".into())),
    }
}

async fn greeting<T>(client: &mut async_imap::Client<T>, cfg: &PollerConfig) -> Result<(), PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    match step(cfg, client.read_response()).await? {
        Some(_) => Ok(()),
        None => Err(PollError::Imap("the server closed the connection before greeting".into())),
    }
}

async fn tls_connect(
    tcp: tokio::net::TcpStream,
    host: &str,
    cfg: &PollerConfig,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, PollError> {
    use tokio_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = if cfg.extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(cfg.extra_roots.iter().cloned(), provider.clone())
    }
    .map_err(|e| PollError::Imap(format!("TLS set-up: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PollError::Imap(format!("TLS set-up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| PollError::Imap(format!("`{host}` is not a server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    step(cfg, connector.connect(name, tcp)).await.map_err(|e| PollError::Imap(format!("TLS with {host}: {e}")))
}

/// Drops the server's unsolicited responses (the poller needs none; unread they would pile up).
fn drain<T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send>(s: &mut async_imap::Session<T>) {
    while s.unsolicited_responses.try_recv().is_ok() {}
}

async fn session<T>(
    client: async_imap::Client<T>,
    app: &App,
    task: &PollTask,
    cfg: &PollerConfig,
) -> Result<PollReport, PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut s = match tokio::time::timeout(cfg.timeout, client.login(&task.username, &task.password)).await {
        Ok(Ok(s)) => s,
        Ok(Err((e, _))) => return Err(PollError::Imap(format!("login refused: {e}"))),
        Err(_) => return Err(PollError::Imap("the server did not answer the login in time".into())),
    };
    let result = take_new(&mut s, app, task, cfg).await;
    drain(&mut s);
    // A polite goodbye; the poll's outcome does not depend on it.
    let _ = tokio::time::timeout(Duration::from_secs(5), s.logout()).await;
    result
}

async fn take_new<T>(
    s: &mut async_imap::Session<T>,
    app: &App,
    task: &PollTask,
    cfg: &PollerConfig,
) -> Result<PollReport, PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mailbox = step(cfg, s.select(&task.folder)).await?;
    drain(s);
    let uid_validity = mailbox.uid_validity.ok_or_else(|| PollError::Imap("the server gave no UIDVALIDITY".into()))?;
    // A renumbered folder (or the first poll): from the beginning.
    let start = if task.uid_validity == Some(uid_validity) { task.last_uid } else { 0 };
    let mut report = PollReport { uid_validity, last_uid: start, ..Default::default() };
    if task.uid_validity != Some(uid_validity) && !app.imap_advance(task, uid_validity, 0).await.map_err(temp)? {
        return Err(PollError::LeaseLost);
    }
    if mailbox.exists == 0 {
        return Ok(report);
    }
    // Moving needs MOVE, or COPY with UIDPLUS's `UID EXPUNGE` (a plain EXPUNGE could remove
    // messages flagged by someone else); without either, messages are only flagged `\Seen`.
    let move_to = match &task.done_folder {
        Some(f) => {
            let caps = step(cfg, s.capabilities()).await?;
            if caps.has_str("MOVE") {
                Some((f.clone(), true))
            } else if caps.has_str("UIDPLUS") {
                Some((f.clone(), false))
            } else {
                tracing::warn!(mailbox = %task.name, "the server has neither MOVE nor UIDPLUS: messages are flagged, not moved");
                None
            }
        }
        None => None,
    };
    // `n:*` always includes the last message, even when its UID is below n: filter.
    let mut uids: Vec<u32> = step(cfg, s.uid_search(format!("UID {}:*", start.saturating_add(1))))
        .await?
        .into_iter()
        .filter(|u| *u > start)
        .collect();
    drain(s);
    uids.sort_unstable();
    uids.truncate(cfg.batch);
    for uid in uids {
        let (size, raw) = fetch_one(s, uid, cfg).await?;
        drain(s);
        match raw {
            Some(raw) => match crate::deliver::deliver(app, &raw, &task.delivery).await {
                Ok(Delivered::Taken(_)) => report.taken += 1,
                Ok(Delivered::Malformed(_) | Delivered::Rejected(_)) => report.quarantined += 1,
                // The mailbox's queue was deleted or renamed: nothing can be taken.
                Err(DeliverError::NoSuchAddress(what)) => {
                    return Err(PollError::Temporary(format!("no queue for this mailbox: {what}")));
                }
                // The database away: stop before this message, take it at the next poll. The
                // database answering: the failure is this message's (the application could not
                // take it), so it is kept aside rather than blocking every message after it.
                Err(DeliverError::Temporary(e)) => {
                    if app.health().await.is_err() {
                        return Err(PollError::Temporary(e));
                    }
                    let queue = app.mail_target(&task.delivery).await.ok().map(|t| t.queue.queue_id);
                    app.quarantine_mail(&raw, "rejected", &e, queue, "", "").await.map_err(temp)?;
                    tracing::warn!(mailbox = %task.name, uid, error = %e, "a message the application could not take was kept in the quarantine");
                    report.quarantined += 1;
                }
            },
            None => {
                let header = fetch_header(s, uid, cfg).await?;
                drain(s);
                let detail = format!("{size} bytes, over the limit of {} (only the header is kept)", cfg.max_bytes);
                let queue = app.mail_target(&task.delivery).await.ok().map(|t| t.queue.queue_id);
                app.quarantine_mail(&header, "too_large", &detail, queue, "", "").await.map_err(temp)?;
                report.quarantined += 1;
            }
        }
        report.last_uid = uid;
        if !app.imap_advance(task, uid_validity, uid).await.map_err(temp)? {
            return Err(PollError::LeaseLost);
        }
        mark_done(s, uid, move_to.as_ref(), cfg).await?;
        drain(s);
    }
    Ok(report)
}

fn temp(e: app::Error) -> PollError {
    PollError::Temporary(e.to_string())
}

/// Fetches one message: its size, and its bytes when within the limit.
async fn fetch_one<T>(
    s: &mut async_imap::Session<T>,
    uid: u32,
    cfg: &PollerConfig,
) -> Result<(u32, Option<Vec<u8>>), PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let size = {
        let fetches: Vec<_> = step(cfg, async {
            let stream = s.uid_fetch(uid.to_string(), "(UID RFC822.SIZE)").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?;
        fetches.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.size).unwrap_or(0)
    };
    if size > cfg.max_bytes {
        return Ok((size, None));
    }
    let fetches: Vec<_> = step(cfg, async {
        let stream = s.uid_fetch(uid.to_string(), "(UID BODY.PEEK[])").await?;
        stream.try_collect::<Vec<_>>().await
    })
    .await?;
    let body = fetches.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.body()).map(<[u8]>::to_vec);
    match body {
        Some(b) => Ok((size, Some(b))),
        None => Err(PollError::Imap(format!("the server sent no body for UID {uid}"))),
    }
}

/// The header of a message too large to fetch whole.
async fn fetch_header<T>(s: &mut async_imap::Session<T>, uid: u32, cfg: &PollerConfig) -> Result<Vec<u8>, PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let fetches: Vec<_> = step(cfg, async {
        let stream = s.uid_fetch(uid.to_string(), "(UID BODY.PEEK[HEADER])").await?;
        stream.try_collect::<Vec<_>>().await
    })
    .await?;
    Ok(fetches.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.header()).map(<[u8]>::to_vec).unwrap_or_default())
}

/// Flags a taken message `\Seen`, or moves it to the done folder (MOVE, or COPY then delete).
async fn mark_done<T>(
    s: &mut async_imap::Session<T>,
    uid: u32,
    move_to: Option<&(String, bool)>,
    cfg: &PollerConfig,
) -> Result<(), PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let set = uid.to_string();
    match move_to {
        Some((folder, true)) => step(cfg, s.uid_mv(&set, folder)).await,
        Some((folder, false)) => {
            step(cfg, s.uid_copy(&set, folder)).await?;
            step(cfg, async {
                let stream = s.uid_store(&set, "+FLAGS.SILENT (\\Seen \\Deleted)").await?;
                stream.try_collect::<Vec<_>>().await
            })
            .await?;
            step(cfg, async {
                let stream = s.uid_expunge(&set).await?;
                stream.try_collect::<Vec<_>>().await
            })
            .await
            .map(|_| ())
        }
        None => step(cfg, async {
            let stream = s.uid_store(&set, "+FLAGS.SILENT (\\Seen)").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await
        .map(|_| ()),
    }
}
