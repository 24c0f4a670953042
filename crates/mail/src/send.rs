//! Delivery of the outbox over SMTP: the handler of the `mail.send` job. Each job sends one
//! outbox email, once: a row that is no longer queued (already sent, or failed for good) is left
//! alone, so a job run again after a success sends nothing. A 4xx reply or a connection problem
//! fails the job, which is retried with back-off; a 5xx reply marks the email failed with the
//! server's reply, records `mail_failed` on the ticket, and ends the job.

use std::time::Duration;

use app::App;
use app::jobs::Handlers;
use lettre::address::Envelope;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

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

/// An SMTP client for the outbox.
#[derive(Clone)]
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Sender {
    /// A client for `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465` (TLS), as lettre reads them.
    pub fn from_url(url: &str) -> Result<Sender, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(60)))
            .build();
        Ok(Sender { transport })
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
        match self.transport.send_raw(&envelope, &msg.raw).await {
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
