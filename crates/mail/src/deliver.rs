//! One message in, whichever way it came (LMTP, the pipe, IMAP): parse it, hand it to the
//! application, and keep what cannot be read aside instead of losing it.

use app::App;
use app::ingest::Outcome;
use app::mail::Delivery;

/// What became of a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The application took it (a ticket, a reply, a duplicate, held for moderation…).
    Taken(Outcome),
    /// It could not be read as an email: kept in the quarantine with this id.
    Malformed(i64),
    /// It was read but refused as input (e.g. a field out of bounds): kept in the quarantine.
    Rejected(i64),
}

/// Why a delivery failed; the sender should try again later unless `NoSuchAddress`.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// No queue receives mail at this address.
    #[error("no queue receives mail at this address: {0}")]
    NoSuchAddress(String),
    /// The database is unavailable or something failed: nothing was written; retry.
    #[error("temporary failure: {0}")]
    Temporary(String),
}

/// Delivers one raw message. `Ok` means it is committed (ticket, reply, or quarantine).
pub async fn deliver(app: &App, raw: &[u8], delivery: &Delivery) -> Result<Delivered, DeliverError> {
    let temporary = |e: app::Error| DeliverError::Temporary(e.to_string());
    let mail = match crate::parse::parse(raw) {
        Ok(m) => m,
        Err(e) => {
            let queue = app.mail_target(delivery).await.ok().map(|t| t.queue.queue_id);
            let id = app.quarantine_mail(raw, "malformed", &e.to_string(), queue, "", "").await.map_err(temporary)?;
            tracing::warn!(quarantine = id, error = %e, "an unreadable message was kept in the quarantine");
            return Ok(Delivered::Malformed(id));
        }
    };
    let (from, subject) = (mail.from.as_ref().map(|f| f.email.clone()).unwrap_or_default(), mail.subject.clone());
    match app.ingest_mail(mail, delivery).await {
        Ok(outcome) => Ok(Delivered::Taken(outcome)),
        Err(app::Error::NotFound(what)) => Err(DeliverError::NoSuchAddress(what)),
        Err(
            e @ (app::Error::Invalid(_)
            | app::Error::Forbidden(_)
            | app::Error::Transition { .. }
            | app::Error::Conflict(_)),
        ) => {
            let queue = app.mail_target(delivery).await.ok().map(|t| t.queue.queue_id);
            let id = app
                .quarantine_mail(raw, "rejected", &e.to_string(), queue, &from, &subject)
                .await
                .map_err(temporary)?;
            tracing::warn!(quarantine = id, error = %e, "a message the application refused was kept in the quarantine");
            Ok(Delivered::Rejected(id))
        }
        Err(e) => Err(temporary(e)),
    }
}
