//! Ingesting an email: where it goes (queue, action, ticket), who sent it, and what it becomes —
//! a new ticket, a reply, a comment, a bounce, or a message kept aside. Every way in (LMTP, the
//! pipe, IMAP) ends here, and from here in the same ticket use cases as the web and the API.

use domain::{Channel, MessageKind, Reference, Role};

use crate::access::{Actor, TicketAccess, ticket_access};
use crate::mail::{Delivery, InboundMail, MailAction, MailOrigin};
use crate::tickets::{MessageInput, NewTicketInput};
use crate::{App, Error, Result};

/// A queue's email settings (addresses, policies), as stored.
pub use store::mail::QueueMail as QueueMailSettings;

/// Records, in `tx`, an inbound email that is on no ticket, with its bytes.
async fn record_inbound(
    tx: &mut store::Tx,
    mail: &InboundMail,
    message_id: &str,
    outcome: &str,
    now: i64,
) -> Result<()> {
    let sha = store::blobs::put(tx, &mail.raw, now).await?;
    let rec = store::mail::MailRecord {
        direction: "in",
        message_id: message_id.to_owned(),
        from_address: mail.from.as_ref().map(|f| f.email.trim().to_lowercase()).unwrap_or_default(),
        raw_sha256: Some(sha),
        outcome: outcome.to_owned(),
    };
    store::mail::insert(tx, &rec, None, None, now).await?;
    Ok(())
}

/// Messages from one sender per hour beyond which they are stored but answered by nothing.
pub const SENDER_HOURLY_LIMIT: i64 = 30;

/// What an ingested email became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new ticket.
    NewTicket(i64),
    /// A public reply on a ticket.
    Reply(i64),
    /// An internal comment on a ticket (an agent's comment address, or a stranger's message).
    Comment(i64),
    /// A delivery status notification about mail we sent; attached to its ticket, if known.
    Bounce(Option<i64>),
    /// The same message was ingested before (a redelivery): nothing done again.
    Duplicate(Option<i64>),
    /// Kept aside in the quarantine (unknown sender held for moderation, nothing to comment on…).
    Held(i64),
    /// An unknown sender on a members-only queue: recorded, no ticket opened.
    Refused,
}

impl Outcome {
    /// The outcome's name, as recorded.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::NewTicket(_) => "new_ticket",
            Outcome::Reply(_) => "reply",
            Outcome::Comment(_) => "comment",
            Outcome::Bounce(_) => "bounce",
            Outcome::Duplicate(_) => "duplicate",
            Outcome::Held(_) => "held",
            Outcome::Refused => "refused",
        }
    }

    /// The ticket concerned, if any.
    pub fn ticket(&self) -> Option<i64> {
        match self {
            Outcome::NewTicket(t) | Outcome::Reply(t) | Outcome::Comment(t) => Some(*t),
            Outcome::Bounce(t) | Outcome::Duplicate(t) => *t,
            Outcome::Held(_) | Outcome::Refused => None,
        }
    }
}

/// Where a delivery goes: a queue, an action, and maybe a ticket named by a plus-address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTarget {
    /// The queue's email settings.
    pub queue: store::mail::QueueMail,
    /// Correspondence or comment.
    pub action: MailAction,
    /// The ticket of a plus-address (`support+310@…`).
    pub ticket: Option<i64>,
}

impl App {
    /// Where mail delivered this way goes; `NotFound` when no queue has that address.
    pub async fn mail_target(&self, delivery: &Delivery) -> Result<MailTarget> {
        let queues = match self.notice_cache.queue_list.get(&()) {
            Some(list) => list,
            None => self.queue_mail_list(&mut self.db.read().await?).await?,
        };
        match delivery {
            Delivery::Address(address) => {
                let (base, tag) = domain::mail::split_plus(address);
                let is = |a: &Option<String>| a.as_deref() == Some(base.as_str());
                let queue = queues
                    .iter()
                    .find(|q| is(&q.address) || is(&q.comment_address))
                    .cloned()
                    .ok_or_else(|| Error::NotFound(format!("no queue receives mail for {base}")))?;
                let action = if is(&queue.comment_address) { MailAction::Comment } else { MailAction::Correspond };
                let ticket = tag.and_then(|t| t.parse::<i64>().ok()).filter(|n| *n > 0);
                Ok(MailTarget { queue, action, ticket })
            }
            Delivery::Queue { queue, action } => {
                let slug = queue.to_ascii_lowercase();
                let queue = queues
                    .iter()
                    .find(|q| q.slug == slug)
                    .cloned()
                    .ok_or_else(|| Error::NotFound(format!("queue {queue}")))?;
                Ok(MailTarget { queue, action: *action, ticket: None })
            }
        }
    }

    /// Every queue's email settings (names, prefixes, addresses, policies), from this
    /// process's short cache when fresh, else read in `tx`.
    pub(crate) async fn queue_mail_list(
        &self,
        tx: &mut store::Tx,
    ) -> Result<std::sync::Arc<Vec<store::mail::QueueMail>>> {
        if let Some(list) = self.notice_cache.queue_list.get(&()) {
            return Ok(list);
        }
        let list = std::sync::Arc::new(store::mail::all_queue_mail(tx).await?);
        self.notice_cache.queue_list.put((), list.clone());
        Ok(list)
    }

    /// Keeps a message aside (malformed, held for moderation, refused) for admins to inspect.
    pub async fn quarantine_mail(
        &self,
        raw: &[u8],
        reason: &str,
        detail: &str,
        queue_id: Option<i64>,
        from: &str,
        subject: &str,
    ) -> Result<i64> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let sha = store::blobs::put(&mut tx, raw, now).await?;
        let id = store::mail::quarantine(&mut tx, reason, detail, queue_id, from, subject, &sha, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records an email that changed no ticket (a bounce without a ticket), in its own transaction.
    async fn record_mail_only(&self, mail: &InboundMail, message_id: &str, outcome: &str) -> Result<()> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        record_inbound(&mut tx, mail, message_id, outcome, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ingests one parsed email delivered to `delivery`. Each outcome is committed before this
    /// returns (an LMTP server answers 250 only then); a redelivered message is recognised by
    /// its Message-ID and changes nothing.
    pub async fn ingest_mail(&self, mut mail: InboundMail, delivery: &Delivery) -> Result<Outcome> {
        let target = self.mail_target(delivery).await?;
        let message_id = match &mail.message_id {
            Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
            // Without a Message-ID, the content identifies the message (a redelivery is the same bytes).
            _ => format!("{}@sportello.invalid", crate::auth::token_hash(&String::from_utf8_lossy(&mail.raw))),
        };
        let mut tx = self.db.read().await?;
        let from = mail.from.as_ref().map(|f| f.email.trim().to_lowercase()).unwrap_or_default();
        let hour_ago = store::micros(self.now() - jiff::SignedDuration::from_hours(1));
        // Seen before? How chatty is the sender, and do they bounce? One round trip.
        let facts = store::mail::sender_facts(&mut tx, &message_id, target.queue.queue_id, &from, hour_ago).await?;
        if let Some((ticket, _)) = facts.seen {
            return Ok(Outcome::Duplicate(ticket));
        }
        let subject = mail.subject.clone();
        // Automatic messages and chatty senders are recorded but answered by nothing (no loops).
        let verdict = domain::mail::auto_reply_allowed(
            mail.auto.auto_submitted.as_deref(),
            mail.auto.precedence.as_deref(),
            mail.auto.x_auto_response_suppress.as_deref(),
            mail.auto.list,
            &from,
        );
        let recent = if from.is_empty() { 0 } else { facts.recent };
        let quiet = verdict != domain::mail::AutoVerdict::Allowed || recent >= SENDER_HOURLY_LIMIT;

        // A delivery status notification about mail we sent.
        if let Some(bounce) = mail.bounce.clone() {
            let ticket = match &bounce.original_message_id {
                Some(id) => store::mail::ticket_of_message_ids(&mut tx, std::slice::from_ref(id)).await?,
                None => None,
            };
            drop(tx);
            let now = store::micros(self.now());
            if bounce.permanent {
                let mut w = self.db.write().await?;
                for (i, r) in bounce.recipients.iter().enumerate() {
                    let status = bounce.statuses.get(i).map(String::as_str).unwrap_or("");
                    store::mail::mark_bouncing(&mut w, r, status, now).await?;
                }
                w.commit().await?;
                self.forget_notice_cache();
            }
            return match ticket {
                Some(t) => {
                    let body = format!(
                        "Delivery failed for {} ({}).\n\n{}",
                        bounce.recipients.join(", "),
                        bounce.statuses.join(", "),
                        mail.text
                    );
                    let input = MessageInput {
                        kind: MessageKind::Comment,
                        body,
                        body_html: None,
                        attachments: std::mem::take(&mut mail.attachments),
                        status: None,
                        owner: None,
                        time: None,
                    };
                    let origin = MailOrigin {
                        message_id,
                        from,
                        raw: mail.raw,
                        outcome: "bounce",
                        quiet: true,
                        sender_bounced: false,
                    };
                    self.write_message(&Actor::system(Channel::Email), t, input, Some(origin)).await?;
                    Ok(Outcome::Bounce(Some(t)))
                }
                None => {
                    self.record_mail_only(&mail, &message_id, "bounce").await?;
                    Ok(Outcome::Bounce(None))
                }
            };
        }

        if from.is_empty() {
            drop(tx);
            let id = self
                .quarantine_mail(&mail.raw, "no_sender", "no From address", Some(target.queue.queue_id), "", &subject)
                .await?;
            return Ok(Outcome::Held(id));
        }

        // A message from an address we marked as bouncing shows that it works again.
        let sender_bounced = facts.bouncing;

        // Who wrote: an agent (by their address), a known contact, or a stranger.
        let user = store::people::user_by_email(&mut tx, &from).await?.filter(|u| u.active);
        let sender: Option<Actor> = match &user {
            Some(u) if matches!(u.role, Role::Admin | Role::Agent | Role::Partner) => {
                Some(self.user_actor(&mut tx, u, u.role, Channel::Email).await?)
            }
            _ => None,
        };
        let contact = match sender {
            Some(_) => None,
            None => store::people::contact_by_email(&mut tx, &from).await?,
        };
        let sender = match (sender, &contact) {
            (Some(a), _) => Some(a),
            (None, Some(c)) => Some(Actor::contact(c, Channel::Email)),
            (None, None) => None,
        };

        // Which ticket: the plus-address, the subject tag, then our Message-IDs it answers.
        let queues = self.queue_mail_list(&mut tx).await?;
        let known: Vec<&str> = queues.iter().map(|q| q.reference_prefix.as_str()).collect();
        let mut ticket = target.ticket.or_else(|| Reference::find_in_subject(&subject, &known).map(|r| r.number));
        if ticket.is_none() {
            let mut ids = mail.in_reply_to.clone();
            ids.extend(mail.references.iter().rev().cloned());
            ticket = store::mail::ticket_of_message_ids(&mut tx, &ids).await?;
        }
        // A ticket that does not exist (a stale tag) is as good as none.
        let ticket_row = match ticket {
            Some(n) => crate::tickets::resolve(&mut tx, n).await.ok(),
            None => None,
        };
        let access = match (&ticket_row, &sender) {
            (Some(t), Some(a)) => ticket_access(&mut tx, a, t).await.ok(),
            _ => None,
        };
        drop(tx);

        let action_kind = match target.action {
            MailAction::Comment => MessageKind::Comment,
            MailAction::Correspond => MessageKind::Reply,
        };
        // Card numbers, IBANs and fiscal codes do not belong in a ticket: masked in the text kept,
        // and the raw message (which still holds them) is not kept at all.
        let mut body = mail.text.clone();
        let mut html = mail.html.clone();
        let mut masked = Vec::new();
        if target.queue.mask_sensitive {
            let m = domain::mail::mask_sensitive(&body);
            body = m.text;
            masked.extend(m.found);
            if let Some(h) = &html {
                let m = domain::mail::mask_sensitive(h);
                html = Some(m.text);
                masked.extend(m.found);
            }
        }
        let keep_raw = |raw: Vec<u8>| if masked.is_empty() { raw } else { Vec::new() };
        let attachments = std::mem::take(&mut mail.attachments);

        if let Some(t) = &ticket_row {
            match (&sender, access) {
                // A participant: the requestor side replies; staff reply or comment by address.
                (Some(actor), Some(a)) => {
                    let kind = if matches!(a, TicketAccess::Customer) { MessageKind::Reply } else { action_kind };
                    let input = MessageInput {
                        kind,
                        body,
                        body_html: html,
                        attachments,
                        status: None,
                        owner: None,
                        time: None,
                    };
                    let outcome = if kind == MessageKind::Reply { "reply" } else { "comment" };
                    let origin =
                        MailOrigin { message_id, from, raw: keep_raw(mail.raw), outcome, quiet, sender_bounced };
                    self.write_message(actor, t.id, input, Some(origin)).await?;
                    self.forget_cleared_bounce(sender_bounced);
                    self.note_masked(t.id, &masked, mail.from.as_ref(), quiet).await?;
                    return Ok(if kind == MessageKind::Reply { Outcome::Reply(t.id) } else { Outcome::Comment(t.id) });
                }
                // Someone else: nobody injects text into another customer's ticket.
                _ if target.queue.stranger_reply == "comment" => {
                    let note = format!(
                        "Email from {from}, who is not a participant of this ticket (kept as an internal comment for review):\n\n{body}"
                    );
                    let input = MessageInput {
                        kind: MessageKind::Comment,
                        body: note,
                        body_html: None,
                        attachments,
                        status: None,
                        owner: None,
                        time: None,
                    };
                    let origin = MailOrigin {
                        message_id,
                        from,
                        raw: keep_raw(mail.raw),
                        outcome: "comment",
                        quiet: true,
                        sender_bounced,
                    };
                    self.write_message(&Actor::system(Channel::Email), t.id, input, Some(origin)).await?;
                    self.forget_cleared_bounce(sender_bounced);
                    self.note_masked(t.id, &masked, None, true).await?;
                    return Ok(Outcome::Comment(t.id));
                }
                _ => {}
            }
        }

        // No ticket to join (or a stranger opening their own): a new ticket, by queue policy.
        if target.action == MailAction::Comment {
            let id = self
                .quarantine_mail(
                    &mail.raw,
                    "no_ticket",
                    "a comment that names no ticket",
                    Some(target.queue.queue_id),
                    &from,
                    &subject,
                )
                .await?;
            return Ok(Outcome::Held(id));
        }
        let actor = match sender {
            Some(a) if !a.is_staff() => a,
            // Staff writing to the queue's address open a ticket for no one else: as themselves.
            Some(a) => a,
            None => match target.queue.unknown_sender.as_str() {
                "hold" => {
                    let id = self
                        .quarantine_mail(
                            &mail.raw,
                            "unknown_sender",
                            "held for moderation",
                            Some(target.queue.queue_id),
                            &from,
                            &subject,
                        )
                        .await?;
                    return Ok(Outcome::Held(id));
                }
                "refuse" => {
                    // Recorded, and answered politely unless the message was automatic, the
                    // sender over the hourly limit, or their address bounces.
                    let now = store::micros(self.now());
                    let mut w = self.db.write().await?;
                    record_inbound(&mut w, &mail, &message_id, "refused", now).await?;
                    if !quiet
                        && !sender_bounced
                        && let Some(sender) = &mail.from
                    {
                        self.queue_refusal(&mut w, &target.queue, sender, &subject, &message_id, now).await?;
                    }
                    w.commit().await?;
                    self.jobs_wake.notify_one();
                    return Ok(Outcome::Refused);
                }
                _ => Actor::system(Channel::Email),
            },
        };
        let title = {
            let t = subject.trim();
            if t.is_empty() { "(no subject)".to_owned() } else { t.chars().take(200).collect() }
        };
        let queue_addresses: Vec<String> =
            [target.queue.address.clone(), target.queue.comment_address.clone()].into_iter().flatten().collect();
        let cc: Vec<String> = mail
            .cc
            .iter()
            .chain(mail.to.iter())
            .map(|m| m.email.to_lowercase())
            .filter(|e| *e != from && !queue_addresses.contains(&domain::mail::split_plus(e).0))
            .collect();
        let input = NewTicketInput {
            queue: target.queue.slug.clone(),
            title,
            requestors: vec![from.clone()],
            cc,
            body,
            body_html: html,
            attachments,
            ..Default::default()
        };
        let origin =
            MailOrigin { message_id, from, raw: keep_raw(mail.raw), outcome: "new_ticket", quiet, sender_bounced };
        let view = self.open_ticket(&actor, input, Some(origin)).await?;
        self.forget_cleared_bounce(sender_bounced);
        self.note_masked(view.number, &masked, mail.from.as_ref(), quiet).await?;
        Ok(Outcome::NewTicket(view.number))
    }
}

impl App {
    /// After a message from a bouncing address cleared its mark (with the change it made), the
    /// cached bounce flags of watchers are stale.
    fn forget_cleared_bounce(&self, sender_bounced: bool) {
        if sender_bounced {
            self.forget_notice_cache();
        }
    }

    /// Tells the ticket's agents that sensitive data was masked in a message (an internal comment).
    /// Unless `quiet`, the sender is asked (by email) to use a safer channel.
    async fn note_masked(
        &self,
        ticket: i64,
        found: &[domain::mail::SensitiveKind],
        sender: Option<&crate::mail::Mailbox>,
        quiet: bool,
    ) -> Result<()> {
        if found.is_empty() {
            return Ok(());
        }
        let mut kinds: Vec<&str> = found.iter().map(|k| k.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        if !quiet && let Some(sender) = sender {
            let now = store::micros(self.now());
            let mut w = self.db.write().await?;
            let t = crate::tickets::resolve(&mut w, ticket).await?;
            let contact = store::people::contact_by_email(&mut w, &sender.email).await?;
            let to = store::outbox::Recipient {
                email: sender.email.clone(),
                name: sender.name.clone(),
                language: contact.map(|c| c.language).unwrap_or_default(),
                cc: false,
                bouncing: store::mail::is_bouncing(&mut w, &sender.email).await?,
            };
            self.notify_masked(&mut w, &t, to, &kinds.join(", "), now).await?;
            w.commit().await?;
            self.jobs_wake.notify_one();
        }
        let input = MessageInput {
            kind: MessageKind::Comment,
            body: format!(
                "Sensitive data was masked in the last message ({}); the original email was not kept. \
                 Ask the requestor to send such data through a safer channel.",
                kinds.join(", ")
            ),
            body_html: None,
            attachments: Vec::new(),
            status: None,
            owner: None,
            time: None,
        };
        self.write_message(&Actor::system(Channel::Email), ticket, input, None).await?;
        Ok(())
    }
}

/// A queue's email settings, as an admin sets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueMailInput {
    /// The address that opens tickets and takes replies (`support@example.net`), or none.
    pub address: Option<String>,
    /// The address for agents' internal comments (`support-comment@example.net`), or none.
    pub comment_address: Option<String>,
    /// Unknown senders: `create` (default), `hold` or `refuse`.
    pub unknown_sender: Option<String>,
    /// Tagged mail from a non-participant: `comment` (default) or `new_ticket`.
    pub stranger_reply: Option<String>,
    /// Mask IBANs, card numbers and fiscal codes in inbound bodies (default on).
    pub mask_sensitive: Option<bool>,
}

impl App {
    /// A queue's email settings. Staff only.
    pub async fn queue_mail(&self, actor: &Actor, slug: &str) -> Result<store::mail::QueueMail> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let q = store::queues::by_slug(&mut tx, &slug.to_ascii_lowercase())
            .await?
            .ok_or_else(|| Error::NotFound(format!("queue {slug}")))?;
        store::mail::queue_mail_by_id(&mut tx, q.id).await?.ok_or_else(|| Error::NotFound(format!("queue {slug}")))
    }

    /// Sets a queue's email settings (fields left `None` keep their value). Admins only.
    pub async fn set_queue_mail(
        &self,
        actor: &Actor,
        slug: &str,
        input: QueueMailInput,
    ) -> Result<store::mail::QueueMail> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut p = crate::error::Problems::default();
        let mut address = |field: &str, v: &Option<String>| -> Option<String> {
            let v = v.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
            let (base, tag) = domain::mail::split_plus(v);
            match domain::mail::normalize_address(&base) {
                Some(a) if tag.is_none() => Some(a),
                _ => {
                    p.add(field, "an address like support@example.net (no +tag)");
                    Some(base)
                }
            }
        };
        let new_address = address("address", &input.address);
        let new_comment = address("comment_address", &input.comment_address);
        if new_address.is_some() && new_address == new_comment {
            p.add("comment_address", "must differ from the address");
        }
        if let Some(u) = &input.unknown_sender
            && !["create", "hold", "refuse"].contains(&u.as_str())
        {
            p.add("unknown_sender", "one of: create, hold, refuse");
        }
        if let Some(s) = &input.stranger_reply
            && !["comment", "new_ticket"].contains(&s.as_str())
        {
            p.add("stranger_reply", "one of: comment, new_ticket");
        }
        p.finish()?;
        let mut tx = self.db.write().await?;
        let q = store::queues::by_slug(&mut tx, &slug.to_ascii_lowercase())
            .await?
            .ok_or_else(|| Error::NotFound(format!("queue {slug}")))?;
        let mut m = store::mail::queue_mail_by_id(&mut tx, q.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("queue {slug}")))?;
        let before = m.clone();
        if input.address.is_some() {
            m.address = new_address;
        }
        if input.comment_address.is_some() {
            m.comment_address = new_comment;
        }
        for a in [&m.address, &m.comment_address].into_iter().flatten() {
            if let Some(other) = store::mail::queue_by_address(&mut tx, a).await?
                && other.queue_id != q.id
            {
                return Err(Error::Conflict(format!("{a} already belongs to queue {}", other.slug)));
            }
        }
        if let Some(u) = input.unknown_sender {
            m.unknown_sender = u;
        }
        if let Some(s) = input.stranger_reply {
            m.stranger_reply = s;
        }
        if let Some(b) = input.mask_sensitive {
            m.mask_sensitive = b;
        }
        store::mail::set_queue_mail(&mut tx, &m).await?;
        if m != before {
            let old = format!("{before:?}");
            let new = format!("{m:?}");
            crate::admin::audit(&mut tx, actor, None, "queue", q.id, "set", Some("mail"), Some(old), Some(new), now)
                .await?;
        }
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(m)
    }
}

/// A message kept in the quarantine, as an admin sees it.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantineView {
    /// Id.
    pub id: i64,
    /// Why: `malformed`, `rejected`, `unknown_sender`, `no_sender`, `no_ticket`, `too_large`.
    pub reason: String,
    /// The details (the parser's or the application's error).
    pub detail: String,
    /// The queue it was meant for (slug), if known.
    pub queue: Option<String>,
    /// The sender's address, if it could be read.
    pub from: String,
    /// The subject, if it could be read.
    pub subject: String,
    /// `held` or `discarded`.
    pub state: String,
    /// When it arrived.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub received_at: jiff::Timestamp,
    /// Its size in bytes.
    pub size: usize,
}

impl App {
    fn quarantine_view(q: store::mail::QuarantineRow, queues: &[store::QueueRow], size: usize) -> QuarantineView {
        QuarantineView {
            id: q.id,
            reason: q.reason,
            detail: q.detail,
            queue: q.queue_id.and_then(|id| queues.iter().find(|x| x.id == id)).map(|x| x.slug.clone()),
            from: q.from_address,
            subject: q.subject,
            state: q.state,
            received_at: crate::views::ts(q.received_at),
            size,
        }
    }

    /// The quarantine: messages `held` (or `discarded`), newest first, a page of at most 200
    /// below id `before`. Admins only.
    pub async fn quarantined(&self, actor: &Actor, state: &str, before: Option<i64>) -> Result<Vec<QuarantineView>> {
        actor.require_admin()?;
        if !matches!(state, "held" | "discarded") {
            return Err(Error::invalid("state", "held or discarded"));
        }
        let mut tx = self.db.read().await?;
        let queues = store::queues::all(&mut tx).await?;
        let rows = store::mail::quarantined(&mut tx, state, before, 200).await?;
        let mut out = Vec::with_capacity(rows.len());
        for q in rows {
            let size = store::blobs::get(&mut tx, &q.raw_sha256).await?.map(|b| b.len()).unwrap_or(0);
            out.push(Self::quarantine_view(q, &queues, size));
        }
        Ok(out)
    }

    /// One quarantined message and its bytes as received. Admins only.
    pub async fn quarantined_raw(&self, actor: &Actor, id: i64) -> Result<(QuarantineView, Vec<u8>)> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        let q = store::mail::quarantined_one(&mut tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("quarantined message {id}")))?;
        let raw = store::blobs::get(&mut tx, &q.raw_sha256)
            .await?
            .ok_or_else(|| Error::Internal(format!("blob {} missing", q.raw_sha256)))?;
        let queues = store::queues::all(&mut tx).await?;
        Ok((Self::quarantine_view(q, &queues, raw.len()), raw))
    }

    /// Discards a held message (it stays on record as discarded). Admins only.
    pub async fn discard_quarantined(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        if store::mail::quarantined_one(&mut tx, id).await?.is_none() {
            return Err(Error::NotFound(format!("quarantined message {id}")));
        }
        if !store::mail::decide_quarantined(&mut tx, id, "discarded", now).await? {
            return Err(Error::Conflict(format!("quarantined message {id} was already decided")));
        }
        crate::admin::audit(&mut tx, actor, None, "quarantine", id, "discarded", None, None, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The email a ticket message came from, as received, when it was kept (not when sensitive
    /// data was masked out of it). Staff who may see the ticket only: it holds every header.
    pub async fn message_raw(&self, actor: &Actor, number: i64, message_id: i64) -> Result<Vec<u8>> {
        let mut tx = self.db.read().await?;
        let t = crate::tickets::resolve(&mut tx, number).await?;
        let access = crate::access::ticket_access(&mut tx, actor, &t).await?;
        crate::access::check_ticket(access, crate::access::TicketAction::See, t.id)?;
        let not_found = || Error::NotFound(format!("the original email of message {message_id}"));
        if !actor.is_staff() {
            return Err(not_found());
        }
        let m = store::tickets::message(&mut tx, message_id).await?.ok_or_else(not_found)?;
        if m.ticket_id != t.id {
            return Err(not_found());
        }
        let sha = store::mail::raw_of_message(&mut tx, m.id).await?.ok_or_else(not_found)?;
        store::blobs::get(&mut tx, &sha).await?.ok_or_else(|| Error::Internal(format!("blob {sha} missing")))
    }
}
