//! Delivery of the outbox over SMTP: the handler of the `mail.send` job. Each job sends one
//! outbox email, once: a row that is no longer queued (already sent, or failed for good) is left
//! alone, so a job run again after a success sends nothing. A 4xx reply or a connection problem
//! fails the job, which is retried with back-off; a 5xx reply marks the email failed with the
//! server's reply, records `mail_failed` on the ticket, and ends the job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::App;
use app::jobs::Handlers;
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted it.
    Sent,
    /// Nothing to do: unknown, already sent or failed.
    Skipped,
    /// The server refused it for good (its reply).
    Refused(String),
}

/// How the SMTP server is reached, from `smtp://`, `smtps://` URLs.
#[derive(Debug, Clone)]
struct Server {
    host: String,
    port: u16,
    /// TLS from the first byte (`smtps://`).
    implicit_tls: bool,
    /// STARTTLS: `required` (`?tls=required`), `opportunistic` (`?tls=opportunistic`: when the
    /// server offers it) or `none` (the default for `smtp://`, as lettre reads such URLs: a relay
    /// on the same host or network).
    starttls: Starttls,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Starttls {
    Required,
    Opportunistic,
    Never,
}

/// Why an email was not sent.
#[derive(Debug)]
enum SendError {
    /// The server's reply, or lettre's view of the conversation.
    Smtp(lettre::transport::smtp::Error),
    /// The connection.
    Io(String),
}

impl SendError {
    /// A 5xx reply: sending again would not help.
    fn is_permanent(&self) -> bool {
        matches!(self, SendError::Smtp(e) if e.is_permanent())
    }
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        SendError::Smtp(e)
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Smtp(e) => write!(f, "{e}"),
            SendError::Io(e) => f.write_str(e),
        }
    }
}

/// Connections kept open between emails (each job takes one, or opens one).
const IDLE_CONNECTIONS: usize = 8;

/// An SMTP client for the outbox: its own connections, with Nagle's algorithm off (lettre
/// writes a message's final dot on its own; with Nagle on, each email waited for the server's
/// delayed acknowledgement, some 40 ms), kept open and reused.
#[derive(Clone)]
pub struct Sender {
    server: Arc<Server>,
    idle: Arc<Mutex<Vec<AsyncSmtpConnection>>>,
}

fn parse_url(url: &str) -> Result<Server, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("SMTP URL `{url}`: no scheme"))?;
    let implicit_tls = match scheme {
        "smtp" => false,
        "smtps" => true,
        _ => return Err(format!("SMTP URL: `{scheme}` is not smtp or smtps")),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| format!("SMTP URL: port `{p}`"))?)
        }
        _ => (hostport, if implicit_tls { 465 } else { 25 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    if host.is_empty() {
        return Err("SMTP URL: no host".into());
    }
    let decode = |s: &str| -> String {
        // Percent-decoding of user and password (`%40` for `@`).
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Some(b) =
                    std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let credentials = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        Credentials::new(decode(user), decode(pass))
    });
    let mut starttls = Starttls::Never;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("tls", "required")) => starttls = Starttls::Required,
            Some(("tls", "opportunistic")) => starttls = Starttls::Opportunistic,
            Some(("tls", "none")) => starttls = Starttls::Never,
            _ => return Err(format!("SMTP URL: unknown parameter `{pair}`")),
        }
    }
    let hello = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| ClientId::Domain(h.trim().to_owned()))
        .unwrap_or_default();
    Ok(Server { host, port, implicit_tls, starttls, credentials, hello, timeout: Duration::from_secs(60) })
}

impl Sender {
    /// A client for `smtp://host:25` (plain), `smtp://host:25?tls=opportunistic` (STARTTLS when
    /// offered), `smtp://host:587?tls=required` (STARTTLS or nothing), or
    /// `smtps://user:pass@host:465` (TLS).
    pub fn from_url(url: &str) -> Result<Sender, String> {
        Ok(Sender { server: Arc::new(parse_url(url)?), idle: Arc::default() })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &*self.server;
        let mut conn = if s.implicit_tls {
            // lettre wraps the socket itself here (its TLS stream is the only one it takes), with
            // Nagle's algorithm on.
            let tls = TlsParameters::new(s.host.clone())?;
            AsyncSmtpConnection::connect_tokio1((s.host.as_str(), s.port), Some(s.timeout), &s.hello, Some(tls), None)
                .await?
        } else {
            let tcp = tokio::time::timeout(s.timeout, tokio::net::TcpStream::connect((s.host.as_str(), s.port)))
                .await
                .map_err(|_| SendError::Io("no answer from the SMTP server".into()))?
                .map_err(|e| SendError::Io(format!("cannot connect to the SMTP server: {e}")))?;
            tcp.set_nodelay(true).map_err(|e| SendError::Io(e.to_string()))?;
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &s.hello).await?
        };
        let offers_tls = conn.can_starttls();
        match s.starttls {
            Starttls::Required | Starttls::Opportunistic if offers_tls => {
                conn.starttls(TlsParameters::new(s.host.clone())?, &s.hello).await?;
            }
            Starttls::Required => {
                return Err(SendError::Io("the SMTP server does not offer STARTTLS, which is required".into()));
            }
            _ => {}
        }
        if let Some(c) = &s.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c).await?;
        }
        Ok(conn)
    }

    /// Sends over an idle connection if one works, else over a new one; the connection goes
    /// back to the idle ones after a success.
    async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let reused = self.idle.lock().ok().and_then(|mut v| v.pop());
        if let Some(mut conn) = reused {
            match conn.send(envelope, raw).await {
                Ok(_) => {
                    self.keep(conn);
                    return Ok(());
                }
                // A refusal is the server's answer, whatever the connection.
                Err(e) if e.is_permanent() => {
                    self.keep(conn);
                    return Err(SendError::Smtp(e));
                }
                // The server closed an idle connection, or a 4xx: once more on a new one.
                Err(_) => conn.abort().await,
            }
        }
        let mut conn = self.connect().await?;
        let r = conn.send(envelope, raw).await;
        if r.is_ok() || r.as_ref().is_err_and(|e| e.is_permanent()) {
            self.keep(conn);
        } else {
            conn.abort().await;
        }
        r.map(|_| ()).map_err(SendError::Smtp)
    }

    fn keep(&self, conn: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_CONNECTIONS
        {
            idle.push(conn);
        }
    }

    /// The handlers plus the `mail.send` job's.
    pub fn register(self, handlers: Handlers) -> Handlers {
        handlers.with(app::notify::SEND, move |app, job| {
            let sender = self.clone();
            Box::pin(async move {
                let id = app::notify::outbox_id_of(&job.payload).ok_or_else(|| format!("payload {}", job.payload))?;
                let last = job.attempts >= job.max_attempts;
                sender.deliver(&app, id, last).await.map(|_| ())
            })
        })
    }

    /// Sends outbox email `id` if it is still queued. `Err` asks for a retry (the attempt is
    /// recorded on the row); on the `last_attempt` the row is marked failed instead.
    pub async fn deliver(&self, app: &App, id: i64, last_attempt: bool) -> Result<Outcome, String> {
        let msg = app.outbox_message(id).await.map_err(|e| e.to_string())?;
        let Some(msg) = msg.filter(|m| m.state == "queued") else {
            return Ok(Outcome::Skipped);
        };
        let envelope = envelope(&msg.sender, &msg.recipients);
        let envelope = match envelope {
            Ok(e) => e,
            Err(e) => {
                app.mark_outbox_failed(id, &e).await.map_err(|e| e.to_string())?;
                return Ok(Outcome::Refused(e));
            }
        };
        match self.send(&envelope, &msg.raw).await {
            Ok(_) => {
                app.mark_outbox_sent(id).await.map_err(|e| e.to_string())?;
                Ok(Outcome::Sent)
            }
            Err(e) if e.is_permanent() => {
                let reply = e.to_string();
                tracing::warn!(outbox = id, error = %reply, "the SMTP server refused an email");
                app.mark_outbox_failed(id, &reply).await.map_err(|e| e.to_string())?;
                Ok(Outcome::Refused(reply))
            }
            Err(e) => {
                let error = e.to_string();
                if last_attempt {
                    let reply = format!("gave up: {error}");
                    app.mark_outbox_failed(id, &reply).await.map_err(|e| e.to_string())?;
                    return Ok(Outcome::Refused(reply));
                }
                app.mark_outbox_attempt(id, &error).await.map_err(|e| e.to_string())?;
                Err(error)
            }
        }
    }
}

/// The handlers plus a `mail.send` that sends nothing (for tests that drain every job): the job ends and the
/// email stays queued in the outbox, to be sent once a server is configured
/// ([`app::App::resume_outbox`] at start enqueues it again).
pub fn hold(handlers: Handlers) -> Handlers {
    handlers.with(app::notify::SEND, |_, _| Box::pin(async { Ok(()) }))
}

fn envelope(sender: &str, recipients: &[String]) -> Result<Envelope, String> {
    let from: Address = sender.parse().map_err(|e| format!("sender `{sender}`: {e}"))?;
    let to = recipients
        .iter()
        .map(|r| r.parse::<Address>().map_err(|e| format!("recipient `{r}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| e.to_string())
}
