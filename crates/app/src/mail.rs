//! Email as the application sees it: what the mail channel parsed from a MIME message, where it
//! was delivered, and what became of it. The channel (crate `mail`) parses and transports; the
//! decisions (which ticket, which sender, loops, masking) are taken here, like every other way in.

use crate::tickets::AttachmentInput;

/// A mailbox: address (lowercased) and display name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    /// The address, lowercased.
    pub email: String,
    /// The display name, decoded (may be empty).
    pub name: String,
}

/// What an automatic-message check needs from the headers (RFC 3834 and common practice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoHeaders {
    /// `Auto-Submitted`, when present.
    pub auto_submitted: Option<String>,
    /// `Precedence`, when present.
    pub precedence: Option<String>,
    /// `X-Auto-Response-Suppress`, when present.
    pub x_auto_response_suppress: Option<String>,
    /// `List-Id` or `List-Unsubscribe` present (a mailing list).
    pub list: bool,
}

/// A delivery status notification (RFC 3464): mail we sent did not arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounce {
    /// The recipients that failed (`Final-Recipient`), lowercased.
    pub recipients: Vec<String>,
    /// Their status codes (`5.1.1`), in the same order.
    pub statuses: Vec<String>,
    /// The `Message-ID` of the returned message, when the report includes its headers.
    pub original_message_id: Option<String>,
    /// Whether every failure is permanent (5.x.x).
    pub permanent: bool,
}

/// One email, parsed.
#[derive(Debug, Clone, Default)]
pub struct InboundMail {
    /// The message as received, byte for byte (kept for agents).
    pub raw: Vec<u8>,
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, without angle brackets, oldest first.
    pub references: Vec<String>,
    /// `From`.
    pub from: Option<Mailbox>,
    /// `Reply-To`, when it differs from `From`.
    pub reply_to: Option<Mailbox>,
    /// `To` addresses.
    pub to: Vec<Mailbox>,
    /// `Cc` addresses.
    pub cc: Vec<Mailbox>,
    /// The subject, decoded (RFC 2047).
    pub subject: String,
    /// The text body: the text/plain part, or text derived from the HTML part.
    pub text: String,
    /// The HTML body, as sent (the application sanitises it).
    pub html: Option<String>,
    /// Attachments and inline images.
    pub attachments: Vec<AttachmentInput>,
    /// Headers that mark automatic messages.
    pub auto: AutoHeaders,
    /// Set when the message is a delivery status notification.
    pub bounce: Option<Bounce>,
}

/// What a message delivered to an address asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailAction {
    /// Correspondence: a new ticket or a public reply.
    Correspond,
    /// An internal comment (the queue's comment address).
    Comment,
}

/// Where a message was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// To an address (LMTP `RCPT TO`, IMAP mailbox address): the queue and action come from it,
    /// a plus-address (`support+310@…`) names a ticket.
    Address(String),
    /// To a queue and action named by the operator (`mail ingest --queue`, an IMAP mailbox).
    Queue {
        /// Queue slug.
        queue: String,
        /// Correspond or comment.
        action: MailAction,
    },
}

/// The email a change comes from, recorded in the change's own transaction (threading by
/// Message-ID, the raw message for agents, and no second ingestion of the same delivery).
#[derive(Debug, Clone)]
pub struct MailOrigin {
    /// `Message-ID` without angle brackets.
    pub message_id: String,
    /// The sender's address, lowercased.
    pub from: String,
    /// The message as received.
    pub raw: Vec<u8>,
    /// What it became: `new_ticket`, `reply` or `comment`.
    pub outcome: &'static str,
    /// An automatic message, or a sender over the hourly limit: recorded, but it triggers no
    /// automatic mail.
    pub quiet: bool,
    /// The sender's address was marked as bouncing: a message from it shows that it works again.
    pub sender_bounced: bool,
}

impl MailOrigin {
    /// Stores the raw message (unless it was emptied, e.g. because sensitive data was masked
    /// out of its text) and the record of this email beside ticket `ticket_id`, message `message_row_id`.
    pub(crate) async fn record(
        &self,
        tx: &mut store::Tx,
        ticket_id: i64,
        message_row_id: i64,
        now: i64,
    ) -> crate::Result<()> {
        let sha = if self.raw.is_empty() { None } else { Some(store::blobs::put(tx, &self.raw, now).await?) };
        let rec = store::mail::MailRecord {
            direction: "in",
            message_id: self.message_id.clone(),
            from_address: self.from.clone(),
            raw_sha256: sha,
            outcome: self.outcome.to_owned(),
        };
        store::mail::insert(tx, &rec, Some(ticket_id), Some(message_row_id), now).await?;
        if self.sender_bounced {
            store::mail::clear_bouncing(tx, &self.from).await?;
        }
        Ok(())
    }
}
