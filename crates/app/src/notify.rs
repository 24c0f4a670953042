//! Outbound email notifications. A change to a ticket renders its notices (per recipient, in
//! their language, from admin-editable templates) into RFC 5322 messages, stores them in the
//! outbox and enqueues a `mail.send` job for each, all in the change's own transaction. The mail
//! channel delivers them over SMTP and reports back through [`App::mark_outbox_sent`] and
//! [`App::mark_outbox_failed`].
//!
//! Who gets what:
//! - a new ticket: an acknowledgement (`ack`) to the requestors when it came by email, or from
//!   a contact or partner on the web or API, and not when staff opened it for the customer (they
//!   talk to the customer themselves); a notice (`agent_new`) to the agents who see the queue;
//! - an agent's public reply: the reply (`reply`) to the requestors and Cc;
//! - a customer's public reply: a notice (`agent_reply`) to the owner, if any;
//! - resolution: a notice (`resolved`) to the requestors, unless a reply went out in the same change.
//!
//! Nobody gets mail about their own action, twice for one change, or at an address that
//! bounces. A change from an email marked quiet (automatic, or over the sender's rate) sends
//! nothing automatic.

use domain::{Channel, MessageKind, Reference, Status};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes, Message};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use store::{TicketRow, Tx};

use crate::access::{Actor, Who};
use crate::{App, Error, Result};

/// The job kind that delivers one outbox row.
pub const SEND: &str = "mail.send";

/// How many times delivery of one email is tried before its job is dead.
pub const SEND_ATTEMPTS: i64 = 12;

/// The kinds of notification, each with a template per language.
pub const KINDS: [&str; 10] = [
    "ack",
    "reply",
    "resolved",
    "agent_new",
    "agent_reply",
    "refused",
    "masked",
    "agent_sla_warning",
    "agent_sla_breach",
    crate::alerts::KIND,
];

/// The languages with embedded templates; others fall back to English.
pub const LANGUAGES: [&str; 3] = ["en", "it", "ca"];

/// How many earlier Message-IDs of a ticket go in `References`.
const REFERENCES: i64 = 20;

macro_rules! embedded {
    ($($lang:literal => [$($kind:literal),*]),*) => {
        fn default_template(language: &str, kind: &str) -> Option<&'static str> {
            match (language, kind) {
                $($(($lang, $kind) => Some(include_str!(concat!("../templates/mail/", $lang, "/", $kind, ".txt"))),)*)*
                _ => None,
            }
        }
    };
}

embedded!(
    "en" => ["ack", "reply", "resolved", "agent_new", "agent_reply", "refused", "masked", "agent_sla_warning", "agent_sla_breach", "notice_alert"],
    "it" => ["ack", "reply", "resolved", "agent_new", "agent_reply", "refused", "masked", "agent_sla_warning", "agent_sla_breach", "notice_alert"],
    "ca" => ["ack", "reply", "resolved", "agent_new", "agent_reply", "refused", "masked", "agent_sla_warning", "agent_sla_breach", "notice_alert"]
);

/// Splits a template file into its `Subject:` line and its body (after the blank line).
fn split_file(text: &str) -> (String, String) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first.strip_prefix("Subject:").unwrap_or(first).trim().to_owned();
    let body = rest.strip_prefix('\n').or_else(|| rest.strip_prefix("\r\n")).unwrap_or(rest);
    (subject, body.to_owned())
}

/// A template of one kind and language, as an admin sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailTemplateView {
    /// `ack`, `reply`, `resolved`, `agent_new` or `agent_reply`.
    pub kind: String,
    /// `en`, `it` or `ca`.
    pub language: String,
    /// The subject template (the ticket's tag is put in front of it).
    pub subject: String,
    /// The body template.
    pub body: String,
    /// Whether an admin changed it (else it is the embedded default).
    pub overridden: bool,
}

/// A rendered notification: subject (without the ticket tag) and body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RenderedMail {
    /// The subject.
    pub subject: String,
    /// The body text.
    pub body: String,
}

/// An email of the outbox, ready to hand to the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Outbox id.
    pub id: i64,
    /// The ticket it is about.
    pub ticket_id: Option<i64>,
    /// The kind of notification.
    pub kind: String,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    /// The envelope sender.
    pub sender: String,
    /// The envelope recipients.
    pub recipients: Vec<String>,
    /// `Message-ID` without angle brackets.
    pub message_id: String,
    /// The formatted message.
    pub raw: Vec<u8>,
    /// Attempts so far.
    pub attempts: i64,
    /// The last error (the server's reply when failed).
    pub last_error: Option<String>,
}

#[derive(Serialize)]
struct TicketVars {
    reference: String,
    number: i64,
    title: String,
    status: String,
    queue: String,
}

#[derive(Serialize)]
struct MessageVars {
    author: String,
    body: String,
}

#[derive(Serialize)]
struct PersonVars {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct CustomerVars {
    code: String,
    name: String,
}

#[derive(Serialize, Default)]
struct SlaVars {
    phase: String,
    due: String,
}

#[derive(Serialize)]
struct Vars {
    sla: SlaVars,
    ticket: TicketVars,
    message: MessageVars,
    customer: CustomerVars,
    recipient: PersonVars,
    portal_url: String,
}

fn environment() -> Environment<'static> {
    // No loader: templates come only from the binary and the database (no file system access).
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_recursion_limit(50);
    env
}

fn describe(e: &minijinja::Error) -> String {
    let what = e.detail().map(str::to_owned).unwrap_or_else(|| e.kind().to_string());
    match e.line() {
        Some(line) => format!("line {line}: {what}"),
        None => what,
    }
}

/// A subject and body template compiled once, rendered for many recipients.
pub(crate) struct Compiled {
    env: Environment<'static>,
}

impl Compiled {
    /// Compiles a template pair; `Err((field, message))` names the part and the line.
    fn new(subject: &str, body: &str) -> std::result::Result<Compiled, (&'static str, String)> {
        let mut env = environment();
        env.add_template_owned("subject", subject.to_owned()).map_err(|e| ("subject", describe(&e)))?;
        env.add_template_owned("body", body.to_owned()).map_err(|e| ("body", describe(&e)))?;
        Ok(Compiled { env })
    }

    /// Renders both parts with `vars`; the subject comes out on one line.
    pub(crate) fn render<V: Serialize>(&self, vars: &V) -> std::result::Result<RenderedMail, (&'static str, String)> {
        let one = |field: &'static str| -> std::result::Result<String, (&'static str, String)> {
            let tpl = self.env.get_template(field).map_err(|e| (field, describe(&e)))?;
            tpl.render(vars).map_err(|e| (field, describe(&e)))
        };
        let subject = one("subject")?;
        let body = one("body")?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(RenderedMail { subject, body })
    }
}

/// Renders a subject and body template; `Err((field, message))` names the part and the line.
fn render<V: Serialize>(
    subject: &str,
    body: &str,
    vars: &V,
) -> std::result::Result<RenderedMail, (&'static str, String)> {
    Compiled::new(subject, body)?.render(vars)
}

/// Renders the embedded default of a kind and language (when an admin's version fails).
pub(crate) fn render_default<V: Serialize>(language: &str, kind: &str, vars: &V) -> Result<RenderedMail> {
    let (s, b) = split_file(default_template(language, kind).unwrap_or_default());
    render(&s, &b, vars).map_err(|(f, e)| Error::Internal(format!("default template {language}/{kind} {f}: {e}")))
}

fn check_kind(kind: &str, language: &str) -> Result<()> {
    if !KINDS.contains(&kind) {
        return Err(Error::invalid("kind", format!("one of: {}", KINDS.join(", "))));
    }
    if !LANGUAGES.contains(&language) {
        return Err(Error::invalid("language", format!("one of: {}", LANGUAGES.join(", "))));
    }
    Ok(())
}

/// The template language for a stored language (`it-IT` → `it`; unknown ones → `en`).
pub(crate) fn language_of(l: &str) -> &'static str {
    let l = l.get(..2).unwrap_or("").to_ascii_lowercase();
    LANGUAGES.iter().copied().find(|x| *x == l).unwrap_or("en")
}

/// The sample data a template of `kind` is checked against before it is saved.
fn sample_for(kind: &str) -> serde_json::Value {
    if kind == crate::alerts::KIND {
        crate::alerts::sample_vars()
    } else {
        serde_json::to_value(sample_vars()).unwrap_or_default()
    }
}

/// Sample data for a template of any kind (a candidate previewed without its kind): the
/// tickets' variables and the alerts' together.
fn sample_any() -> serde_json::Value {
    let mut all = serde_json::to_value(sample_vars()).unwrap_or_default();
    if let (Some(all), serde_json::Value::Object(alert)) = (all.as_object_mut(), crate::alerts::sample_vars()) {
        for (k, v) in alert {
            all.entry(k).or_insert(v);
        }
    }
    all
}

fn sample_vars() -> Vars {
    Vars {
        sla: SlaVars { phase: "intervention".into(), due: "2026-11-23 11:30 CET".into() },
        ticket: TicketVars {
            reference: "support#310".into(),
            number: 310,
            title: "No dial tone on line 0341 555 123".into(),
            status: "open".into(),
            queue: "Support".into(),
        },
        message: MessageVars {
            author: "Anna Rossi".into(),
            body: "Since this morning the line has no dial tone.\nThe router shows DSL up.".into(),
        },
        customer: CustomerVars { code: "ACME".into(), name: "Acme S.p.A.".into() },
        recipient: PersonVars { name: "Anna Rossi".into(), email: "anna@acme.example".into() },
        portal_url: "https://help.example/portal/tickets/310".into(),
    }
}

/// The template in force: the admin's, else the embedded default.
async fn template_in_force(tx: &mut Tx, language: &str, kind: &str) -> Result<(String, String, bool)> {
    if let Some((s, b)) = store::outbox::template(tx, language, kind).await? {
        return Ok((s, b, true));
    }
    let text =
        default_template(language, kind).ok_or_else(|| Error::NotFound(format!("template {language}/{kind}")))?;
    let (s, b) = split_file(text);
    Ok((s, b, false))
}

/// The domain part of an address (`localhost` when there is none).
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).filter(|d| !d.is_empty()).unwrap_or("localhost")
}

/// One change's notification of one kind, to be rendered per recipient.
pub(crate) struct Notice<'a> {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// The ticket after the change.
    pub ticket: &'a TicketRow,
    /// The message it is about (the new one, or empty).
    pub body: &'a str,
    /// The message row, for the email's record.
    pub message_row_id: Option<i64>,
    /// The conversation's earlier Message-IDs when the caller knows them (a new ticket's);
    /// else they are read.
    pub thread: Option<&'a [String]>,
    /// For SLA notices: the phase (`intervention`, `restoration`) and its due instant as text.
    pub sla: Option<(&'static str, String)>,
}

/// Whether the email a change comes from asks for no automatic mail (automatic, or over the
/// sender's rate).
pub(crate) fn quiet(origin: Option<&crate::mail::MailOrigin>) -> bool {
    origin.is_some_and(|o| o.quiet)
}

/// One email to put in the outbox.
pub(crate) struct Email<'a> {
    pub kind: &'static str,
    pub ticket_id: Option<i64>,
    pub message_row_id: Option<i64>,
    pub from: &'a Mailbox,
    pub from_addr: &'a str,
    pub reply_to: &'a Mailbox,
    /// Recipients: header mailbox and envelope address.
    pub to: &'a [(Mailbox, String)],
    pub subject: String,
    pub body: String,
    /// Earlier Message-IDs of the conversation (the last one is answered).
    pub thread: &'a [String],
    /// More header fields (name, value), such as `List-Unsubscribe`.
    pub headers: &'a [(&'static str, String)],
}

/// An email formatted and waiting to be stored with the others of its change.
pub(crate) struct Pending {
    kind: &'static str,
    ticket_id: Option<i64>,
    message_row_id: Option<i64>,
    message_id: String,
    sender: String,
    /// A JSON array of addresses.
    recipients: String,
    sha256: String,
    raw: Vec<u8>,
}

/// Formats `e` as an RFC 5322 message.
pub(crate) fn prepare_email(e: Email<'_>, domain: &str, now: i64) -> Result<Pending> {
    let stem = e.ticket_id.map(|t| format!("ticket-{t}")).unwrap_or_else(|| "notice".into());
    let message_id = format!("{stem}.{:016x}@{domain}", rand::random::<u64>());
    // All recipients in one `To` header, set once (adding them one by one re-parses the
    // header each time).
    let to_header: Mailboxes = e.to.iter().map(|(m, _)| m.clone()).collect();
    let mut b = Message::builder()
        .from(e.from.clone())
        .reply_to(e.reply_to.clone())
        .header(lettre::message::header::To::from(to_header))
        .subject(e.subject)
        .message_id(Some(format!("<{message_id}>")))
        .date(std::time::SystemTime::from(crate::views::ts(now)));
    if let Some(last) = e.thread.last() {
        b = b.in_reply_to(format!("<{last}>"));
        b = b.references(e.thread.iter().map(|i| format!("<{i}>")).collect::<Vec<_>>().join(" "));
    }
    // RFC 3834: answers to a message are auto-replied, the rest auto-generated; an agent's
    // reply is a person's message.
    let auto = match e.kind {
        "ack" | "refused" | "masked" => Some("auto-replied"),
        "reply" => None,
        _ => Some("auto-generated"),
    };
    if let Some(v) = auto {
        let name = HeaderName::new_from_ascii("Auto-Submitted".into()).map_err(|e| Error::Internal(e.to_string()))?;
        b = b.raw_header(HeaderValue::new(name, v.into()));
    }
    for (n, v) in e.headers {
        let name = HeaderName::new_from_ascii((*n).to_owned()).map_err(|e| Error::Internal(e.to_string()))?;
        b = b.raw_header(HeaderValue::new(name, v.clone()));
    }
    let msg = b.header(ContentType::TEXT_PLAIN).body(e.body).map_err(|e| Error::Internal(e.to_string()))?;
    let raw = msg.formatted();
    let emails: Vec<&String> = e.to.iter().map(|(_, a)| a).collect();
    let recipients = serde_json::to_string(&emails).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Pending {
        kind: e.kind,
        ticket_id: e.ticket_id,
        message_row_id: e.message_row_id,
        message_id,
        sender: e.from_addr.to_owned(),
        recipients,
        sha256: store::sha256_hex(&raw),
        raw,
    })
}

/// Stores a change's emails in the outbox with their records and `mail.send` jobs, in `tx`
/// (a few statements for all of them); returns how many.
pub(crate) async fn flush(tx: &mut Tx, pending: Vec<Pending>, now: i64) -> Result<usize> {
    Ok(flush_ids(tx, pending, now).await?.len())
}

/// As [`flush`], returning the outbox ids in the order of `pending`.
pub(crate) async fn flush_ids(tx: &mut Tx, pending: Vec<Pending>, now: i64) -> Result<Vec<i64>> {
    let items: Vec<store::outbox::Queued<'_>> = pending
        .iter()
        .map(|p| store::outbox::Queued {
            outbox: store::outbox::NewOutbox {
                ticket_id: p.ticket_id,
                kind: p.kind,
                message_id: &p.message_id,
                sender: &p.sender,
                recipients: &p.recipients,
                raw_sha256: &p.sha256,
            },
            raw: p.raw.clone(),
            message_row_id: p.message_row_id,
        })
        .collect();
    let ids = store::outbox::queue_many(tx, &items, SEND, SEND_ATTEMPTS, now).await?;
    for p in &pending {
        metrics::counter!("sportello_mail_queued_total", "kind" => p.kind).increment(1);
    }
    Ok(ids)
}

/// Whether a new ticket opened by `actor` is acknowledged to its requestors: when it came from
/// the customer's side or by email, not when staff opened it for the customer (they talk to the
/// customer themselves).
pub(crate) fn acknowledges(actor: &Actor) -> bool {
    matches!(actor.who, Who::Contact { .. } | Who::Partner { .. }) || actor.channel == Channel::Email
}

/// What every notice of one change shares, read once for the change.
pub(crate) struct Setting {
    /// The ticket's queue: name, reference prefix, addresses.
    queue: store::mail::QueueMail,
    /// The ticket's customer.
    customer: Option<store::CustomerRow>,
}

impl App {
    /// The compiled template in force for (language, kind), from this process's short cache
    /// when fresh.
    pub(crate) async fn compiled_template(
        &self,
        tx: &mut Tx,
        language: &'static str,
        kind: &'static str,
    ) -> Result<std::sync::Arc<Compiled>> {
        if let Some(c) = self.notice_cache.templates.get(&(language, kind)) {
            return Ok(c);
        }
        let (s, b, overridden) = template_in_force(tx, language, kind).await?;
        let compiled = match Compiled::new(&s, &b) {
            Ok(c) => c,
            // An override that stopped compiling (checked when saved, so rare): the default.
            Err((field, e)) => {
                tracing::warn!(kind, language, field, error = %e, overridden, "mail template does not compile; using the default");
                let (s, b) = split_file(default_template(language, kind).unwrap_or_default());
                Compiled::new(&s, &b).map_err(|(f, e)| Error::Internal(format!("default template {f}: {e}")))?
            }
        };
        let compiled = std::sync::Arc::new(compiled);
        self.notice_cache.templates.put((language, kind), compiled.clone());
        Ok(compiled)
    }

    /// Forgets the cached templates, queues and watchers (after an admin's change).
    pub(crate) fn forget_notice_cache(&self) {
        self.notice_cache.clear();
    }

    /// The agents who see a queue (from the short cache when fresh).
    async fn queue_watchers(&self, tx: &mut Tx, queue_id: i64) -> Result<Vec<store::outbox::Recipient>> {
        if let Some(w) = self.notice_cache.watchers.get(&queue_id) {
            return Ok(w);
        }
        let w = store::outbox::queue_watchers(tx, queue_id).await?;
        self.notice_cache.watchers.put(queue_id, w.clone());
        Ok(w)
    }

    /// Reads what the notices of one change to `t` share; `customer` when the caller has it.
    pub(crate) async fn notice_setting(
        &self,
        tx: &mut Tx,
        t: &TicketRow,
        customer: Option<store::CustomerRow>,
    ) -> Result<Setting> {
        let queue = self
            .queue_mail_list(tx)
            .await?
            .iter()
            .find(|q| q.queue_id == t.queue_id)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("ticket {} without queue", t.id)))?;
        let customer = match (customer, t.customer_id) {
            (Some(c), Some(id)) if c.id == id => Some(c),
            (_, Some(id)) => store::people::customer(tx, id).await?,
            (_, None) => None,
        };
        Ok(Setting { queue, customer })
    }

    /// Renders `notice` for each recipient and puts it in the outbox with its `mail.send` job,
    /// in the caller's transaction; returns how many emails were queued.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn queue_notice(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        setting: &Setting,
        notice: &Notice<'_>,
        recipients: Vec<store::outbox::Recipient>,
        out: &mut Vec<Pending>,
        now: i64,
    ) -> Result<usize> {
        let t = notice.ticket;
        let me = actor.email.as_deref();
        let mut seen: Vec<String> = Vec::new();
        let mut to = Vec::new();
        for r in recipients {
            let email = r.email.trim().to_lowercase();
            if r.bouncing || email.is_empty() || Some(email.as_str()) == me || seen.contains(&email) {
                continue;
            }
            seen.push(email.clone());
            to.push(store::outbox::Recipient { email, ..r });
        }
        if to.is_empty() {
            return Ok(0);
        }
        let (queue, customer) = (&setting.queue, &setting.customer);
        let reference = Reference::new(&queue.reference_prefix, t.id).to_string();
        let agent_side = notice.kind.starts_with("agent_");
        // Agents' notices stay out of the customer's thread: they need no thread to join.
        let thread = match notice.thread {
            _ if agent_side => Vec::new(),
            Some(known) => known.to_vec(),
            None => store::outbox::message_ids_of_ticket(tx, t.id, REFERENCES).await?,
        };
        let from_addr = self.config.mail_from.trim().to_owned();
        let domain = domain_of(&from_addr).to_owned();
        let parse_box = |name: &str, email: &str| -> Result<Mailbox> {
            let address = email.parse().map_err(|e| Error::Internal(format!("address `{email}`: {e}")))?;
            Ok(Mailbox::new((!name.trim().is_empty()).then(|| name.trim().to_owned()), address))
        };
        let from = parse_box(&queue.name, &from_addr)?;
        let reply_to = match queue.address.clone() {
            Some(a) => parse_box(&queue.name, &a)?,
            None => from.clone(),
        };
        // Customers get one email each (their name, their address alone). A queue's agents get one
        // email per language with all of them as recipients: a busy queue's new tickets must not
        // cost a rendered message, a blob and a job per agent.
        let batches: Vec<Vec<store::outbox::Recipient>> = if notice.kind == "agent_new" {
            let mut by_language: Vec<Vec<store::outbox::Recipient>> = Vec::new();
            for r in to {
                match by_language.iter_mut().find(|b| language_of(&b[0].language) == language_of(&r.language)) {
                    Some(b) => b.push(r),
                    None => by_language.push(vec![r]),
                }
            }
            by_language
        } else {
            to.into_iter().map(|r| vec![r]).collect()
        };
        let mut queued = 0;
        for batch in batches {
            let r = if batch.len() == 1 {
                batch[0].clone()
            } else {
                store::outbox::Recipient { name: String::new(), ..batch[0].clone() }
            };
            let language = language_of(&r.language);
            let template = self.compiled_template(tx, language, notice.kind).await?;
            let portal_url = match &self.config.public_url {
                Some(base) if agent_side => format!("{}/tickets/{}", base.trim_end_matches('/'), t.id),
                Some(base) => format!("{}/portal/tickets/{}", base.trim_end_matches('/'), t.id),
                None => String::new(),
            };
            let vars = Vars {
                sla: notice
                    .sla
                    .as_ref()
                    .map(|(p, d)| SlaVars { phase: (*p).to_owned(), due: d.clone() })
                    .unwrap_or_default(),
                ticket: TicketVars {
                    reference: reference.clone(),
                    number: t.id,
                    title: t.title.clone(),
                    status: t.status.as_str().to_owned(),
                    queue: queue.name.clone(),
                },
                message: MessageVars { author: actor.label.clone(), body: notice.body.to_owned() },
                customer: CustomerVars {
                    code: customer.as_ref().map(|c| c.code.clone()).unwrap_or_default(),
                    name: customer.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
                },
                recipient: PersonVars { name: r.name.clone(), email: r.email.clone() },
                portal_url,
            };
            let rendered = match template.render(&vars) {
                Ok(m) => m,
                Err((field, e)) => {
                    // An override that stopped rendering (checked when saved, so rare): the default.
                    tracing::warn!(kind = notice.kind, language, field, error = %e, "mail template does not render; using the default");
                    let (s, b) = split_file(default_template(language, notice.kind).unwrap_or_default());
                    render(&s, &b, &vars).map_err(|(f, e)| Error::Internal(format!("default template {f}: {e}")))?
                }
            };
            let mut rcpts = Vec::new();
            for one in &batch {
                match parse_box(&one.name, &one.email) {
                    Ok(m) => rcpts.push((m, one.email.clone())),
                    Err(_) => tracing::warn!(address = %one.email, "not a deliverable address; notice skipped"),
                }
            }
            if rcpts.is_empty() {
                continue;
            }
            let email = Email {
                kind: notice.kind,
                ticket_id: Some(t.id),
                message_row_id: notice.message_row_id,
                from: &from,
                from_addr: &from_addr,
                reply_to: &reply_to,
                to: &rcpts,
                subject: format!("[{reference}] {}", rendered.subject),
                body: rendered.body,
                thread: &thread,
                headers: &[],
            };
            out.push(prepare_email(email, &domain, now)?);
            queued += 1;
        }
        Ok(queued)
    }

    /// Puts in the outbox, in `tx`, the polite answer to a sender a members-only queue does not
    /// serve (nothing was opened). Written in English, the language of a stranger being unknown
    /// (admins may make the template bilingual).
    pub(crate) async fn queue_refusal(
        &self,
        tx: &mut Tx,
        queue: &store::mail::QueueMail,
        to: &crate::mail::Mailbox,
        subject: &str,
        in_reply_to: &str,
        now: i64,
    ) -> Result<()> {
        let language = "en";
        let template = self.compiled_template(tx, language, "refused").await?;
        let vars = Vars {
            sla: SlaVars::default(),
            ticket: TicketVars {
                reference: String::new(),
                number: 0,
                title: subject.to_owned(),
                status: String::new(),
                queue: queue.name.clone(),
            },
            message: MessageVars { author: String::new(), body: String::new() },
            customer: CustomerVars { code: String::new(), name: String::new() },
            recipient: PersonVars { name: to.name.clone(), email: to.email.clone() },
            portal_url: self
                .config
                .public_url
                .as_ref()
                .map(|b| format!("{}/portal", b.trim_end_matches('/')))
                .unwrap_or_default(),
        };
        let rendered =
            template.render(&vars).map_err(|(f, e)| Error::Internal(format!("refused template {f}: {e}")))?;
        let from_addr = self.config.mail_from.trim().to_owned();
        let domain = domain_of(&from_addr).to_owned();
        let parse_box = |name: &str, email: &str| -> Result<Mailbox> {
            let address = email.parse().map_err(|e| Error::Internal(format!("address `{email}`: {e}")))?;
            Ok(Mailbox::new((!name.trim().is_empty()).then(|| name.trim().to_owned()), address))
        };
        let Ok(rcpt) = parse_box(&to.name, &to.email) else {
            return Ok(());
        };
        let from = parse_box(&queue.name, &from_addr)?;
        let reply_to = match &queue.address {
            Some(a) => parse_box(&queue.name, a)?,
            None => from.clone(),
        };
        let thread = [in_reply_to.to_owned()];
        let email = Email {
            kind: "refused",
            ticket_id: None,
            message_row_id: None,
            from: &from,
            from_addr: &from_addr,
            reply_to: &reply_to,
            to: &[(rcpt, to.email.clone())],
            subject: rendered.subject,
            body: rendered.body,
            thread: &thread,
            headers: &[],
        };
        let pending = prepare_email(email, &domain, now)?;
        flush(tx, vec![pending], now).await?;
        Ok(())
    }

    /// Asks the sender of a message whose sensitive data was masked to use a safer channel.
    pub(crate) async fn notify_masked(
        &self,
        tx: &mut Tx,
        t: &TicketRow,
        to: store::outbox::Recipient,
        kinds: &str,
        now: i64,
    ) -> Result<usize> {
        let setting = self.notice_setting(tx, t, None).await?;
        let notice = Notice { kind: "masked", ticket: t, body: kinds, message_row_id: None, thread: None, sla: None };
        let mut out = Vec::new();
        self.queue_notice(tx, &Actor::system(Channel::Email), &setting, &notice, vec![to], &mut out, now).await?;
        flush(tx, out, now).await
    }

    /// A new ticket: the acknowledgement to its `requestors` (when [`acknowledges`] says so)
    /// and the notice to the queue's agents. `customer` is the ticket's customer when the caller
    /// has read it; `thread` the Message-ID of the email it came from, if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn notify_opened(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        t: &TicketRow,
        customer: Option<store::CustomerRow>,
        requestors: Vec<store::outbox::Recipient>,
        thread: &[String],
        body: &str,
        message_row_id: i64,
        now: i64,
    ) -> Result<()> {
        let setting = self.notice_setting(tx, t, customer).await?;
        let mut out = Vec::new();
        if acknowledges(actor) {
            // The acknowledgement goes to the author too: it carries the reference.
            let mut as_author = Actor::system(actor.channel);
            as_author.label = actor.label.clone();
            let notice = Notice {
                kind: "ack",
                ticket: t,
                body,
                message_row_id: Some(message_row_id),
                thread: Some(thread),
                sla: None,
            };
            self.queue_notice(tx, &as_author, &setting, &notice, requestors, &mut out, now).await?;
        }
        let agents = self.queue_watchers(tx, t.queue_id).await?;
        let notice = Notice {
            kind: "agent_new",
            ticket: t,
            body,
            message_row_id: Some(message_row_id),
            thread: None,
            sla: None,
        };
        self.queue_notice(tx, actor, &setting, &notice, agents, &mut out, now).await?;
        flush(tx, out, now).await?;
        Ok(())
    }

    /// A public reply or a status change on a ticket: the reply to the customer's side, the
    /// customer's reply to the owner, the resolution notice.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn notify_changed(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        before: Status,
        t: &TicketRow,
        message: Option<(MessageKind, &str, i64)>,
        from_staff: bool,
        now: i64,
    ) -> Result<bool> {
        let resolving = t.status == Status::Resolved && before != Status::Resolved;
        let replying = matches!(message, Some((MessageKind::Reply, _, _)));
        if !resolving && !replying {
            return Ok(false);
        }
        let setting = self.notice_setting(tx, t, None).await?;
        let mut out = Vec::new();
        let mut replied = false;
        let mut queued = 0;
        if let Some((MessageKind::Reply, body, mid)) = message {
            if from_staff {
                let contacts = store::outbox::ticket_contacts(tx, t.id).await?;
                let notice =
                    Notice { kind: "reply", ticket: t, body, message_row_id: Some(mid), thread: None, sla: None };
                queued = self.queue_notice(tx, actor, &setting, &notice, contacts, &mut out, now).await?;
                replied = queued > 0;
            } else if let Some(owner) = t.owner_id
                && let Some(u) = store::people::user(tx, owner).await?
                && u.active
            {
                let bouncing = store::mail::is_bouncing(tx, &u.email.to_lowercase()).await?;
                let to = vec![store::outbox::Recipient {
                    email: u.email,
                    name: u.name,
                    language: u.language.unwrap_or_default(),
                    cc: false,
                    bouncing,
                }];
                let notice =
                    Notice { kind: "agent_reply", ticket: t, body, message_row_id: Some(mid), thread: None, sla: None };
                queued += self.queue_notice(tx, actor, &setting, &notice, to, &mut out, now).await?;
            }
        }
        if resolving && !replied {
            let requestors: Vec<_> =
                store::outbox::ticket_contacts(tx, t.id).await?.into_iter().filter(|c| !c.cc).collect();
            let notice =
                Notice { kind: "resolved", ticket: t, body: "", message_row_id: None, thread: None, sla: None };
            queued += self.queue_notice(tx, actor, &setting, &notice, requestors, &mut out, now).await?;
        }
        flush(tx, out, now).await?;
        Ok(queued > 0)
    }

    /// A warning or breach of a ticket's SLA clock: to the owner, else to the queue's agents.
    pub(crate) async fn notify_sla(
        &self,
        tx: &mut Tx,
        t: &TicketRow,
        alarm: &domain::clock::Alarm,
        due: String,
        now: i64,
    ) -> Result<usize> {
        use domain::clock::Alarm;
        let (kind, phase) = match alarm {
            Alarm::Warning(p) => ("agent_sla_warning", p),
            Alarm::Breach(p) => ("agent_sla_breach", p),
            Alarm::Met(_) => return Ok(0),
        };
        let owner = match t.owner_id {
            Some(id) => store::people::user(tx, id).await?.filter(|u| u.active),
            None => None,
        };
        let to = match owner {
            Some(u) => {
                let bouncing = store::mail::is_bouncing(tx, &u.email.to_lowercase()).await?;
                let language = u.language.unwrap_or_default();
                vec![store::outbox::Recipient { email: u.email, name: u.name, language, cc: false, bouncing }]
            }
            None => self.queue_watchers(tx, t.queue_id).await?,
        };
        let setting = self.notice_setting(tx, t, None).await?;
        let notice =
            Notice { kind, ticket: t, body: "", message_row_id: None, thread: None, sla: Some((phase.as_str(), due)) };
        let mut out = Vec::new();
        let system = Actor::system(Channel::System);
        let n = self.queue_notice(tx, &system, &setting, &notice, to, &mut out, now).await?;
        flush(tx, out, now).await?;
        Ok(n)
    }

    /// A notification template as in force (the admin's, else the default). Admins only.
    pub async fn mail_template(&self, actor: &Actor, kind: &str, language: &str) -> Result<MailTemplateView> {
        actor.require_admin()?;
        check_kind(kind, language)?;
        let mut tx = self.db.read().await?;
        let (subject, body, overridden) = template_in_force(&mut tx, language, kind).await?;
        Ok(MailTemplateView { kind: kind.into(), language: language.into(), subject, body, overridden })
    }

    /// Every notification template, by language and kind. Admins only.
    pub async fn mail_templates(&self, actor: &Actor) -> Result<Vec<MailTemplateView>> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for language in LANGUAGES {
            for kind in KINDS {
                let (subject, body, overridden) = template_in_force(&mut tx, language, kind).await?;
                out.push(MailTemplateView { kind: kind.into(), language: language.into(), subject, body, overridden });
            }
        }
        Ok(out)
    }

    /// Replaces a notification template; one that does not render with sample data is refused
    /// (`Invalid` naming the part and the line). Admins only.
    pub async fn set_mail_template(
        &self,
        actor: &Actor,
        kind: &str,
        language: &str,
        subject: &str,
        body: &str,
    ) -> Result<MailTemplateView> {
        actor.require_admin()?;
        check_kind(kind, language)?;
        if subject.trim().is_empty() {
            return Err(Error::invalid("subject", "must not be empty"));
        }
        if subject.len() > 1000 || body.len() > 100_000 {
            return Err(Error::invalid("body", "at most 1000 bytes of subject and 100000 of body"));
        }
        render(subject, body, &sample_for(kind)).map_err(|(field, e)| Error::invalid(field, e))?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        store::outbox::set_template(&mut tx, language, kind, subject, body, now).await?;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "mail_template",
            0,
            "updated",
            Some(kind),
            None,
            Some(language.into()),
            now,
        )
        .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(MailTemplateView {
            kind: kind.into(),
            language: language.into(),
            subject: subject.into(),
            body: body.into(),
            overridden: true,
        })
    }

    /// Goes back to the embedded default of a template. Admins only.
    pub async fn reset_mail_template(&self, actor: &Actor, kind: &str, language: &str) -> Result<MailTemplateView> {
        actor.require_admin()?;
        check_kind(kind, language)?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        if store::outbox::delete_template(&mut tx, language, kind).await? {
            crate::admin::audit(
                &mut tx,
                actor,
                None,
                "mail_template",
                0,
                "reset",
                Some(kind),
                None,
                Some(language.into()),
                now,
            )
            .await?;
        }
        let (subject, body, overridden) = template_in_force(&mut tx, language, kind).await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(MailTemplateView { kind: kind.into(), language: language.into(), subject, body, overridden })
    }

    /// Renders the template in force with sample data (what an admin checks before saving). Admins only.
    pub async fn preview_mail(&self, actor: &Actor, kind: &str, language: &str) -> Result<RenderedMail> {
        actor.require_admin()?;
        check_kind(kind, language)?;
        let mut tx = self.db.read().await?;
        let (subject, body, _) = template_in_force(&mut tx, language, kind).await?;
        render(&subject, &body, &sample_for(kind)).map_err(|(field, e)| Error::invalid(field, e))
    }

    /// Renders a candidate template with sample data without saving it. Admins only.
    pub async fn preview_mail_template(&self, actor: &Actor, subject: &str, body: &str) -> Result<RenderedMail> {
        actor.require_admin()?;
        render(subject, body, &sample_any()).map_err(|(field, e)| Error::invalid(field, e))
    }

    /// How many emails wait in the outbox (queued, not yet sent or failed).
    pub async fn outbox_queued_count(&self) -> Result<i64> {
        let mut tx = self.db.read().await?;
        Ok(store::outbox::count_in_state(&mut tx, "queued").await?)
    }

    /// An outbox email with its bytes (for the delivery job), or `None` when unknown.
    pub async fn outbox_message(&self, id: i64) -> Result<Option<OutboxMessage>> {
        let mut tx = self.db.read().await?;
        let Some(row) = store::outbox::get(&mut tx, id).await? else {
            return Ok(None);
        };
        let raw = store::blobs::get(&mut tx, &row.raw_sha256)
            .await?
            .ok_or_else(|| Error::Internal(format!("blob {} of outbox {id} missing", row.raw_sha256)))?;
        let recipients: Vec<String> =
            serde_json::from_str(&row.recipients).map_err(|e| Error::Internal(format!("outbox {id}: {e}")))?;
        Ok(Some(OutboxMessage {
            id: row.id,
            ticket_id: row.ticket_id,
            kind: row.kind,
            state: row.state,
            sender: row.sender,
            recipients,
            message_id: row.message_id,
            raw,
            attempts: row.attempts,
            last_error: row.last_error,
        }))
    }

    /// The outbox emails of a ticket, oldest first, without their bytes. Staff only.
    pub async fn ticket_outbox(&self, actor: &Actor, number: i64) -> Result<Vec<OutboxMessage>> {
        if !actor.is_staff() {
            return Err(Error::Forbidden("the outbox is for the operator's staff".into()));
        }
        let mut tx = self.db.read().await?;
        let t = crate::tickets::resolve(&mut tx, number).await?;
        let rows = store::outbox::of_ticket(&mut tx, t.id).await?;
        Ok(rows
            .into_iter()
            .map(|row| OutboxMessage {
                id: row.id,
                ticket_id: row.ticket_id,
                kind: row.kind,
                state: row.state,
                sender: row.sender,
                recipients: serde_json::from_str(&row.recipients).unwrap_or_default(),
                message_id: row.message_id,
                raw: Vec::new(),
                attempts: row.attempts,
                last_error: row.last_error,
            })
            .collect())
    }

    /// Enqueues a `mail.send` job for every queued email without one (emails queued while no
    /// SMTP server was configured); returns how many.
    pub async fn resume_outbox(&self) -> Result<usize> {
        let now = store::micros(self.now());
        // Read and enqueue in one write transaction: on SQLite nothing else enqueues between
        // them. (Two PostgreSQL nodes starting at the same instant could still both enqueue
        // one email; see docs/architecture.md.)
        let mut tx = self.db.write().await?;
        let ids = store::outbox::queued_without_job(&mut tx, SEND).await?;
        for id in &ids {
            let payload = serde_json::json!({ "outbox": id }).to_string();
            store::jobs::enqueue(&mut tx, SEND, &payload, now, SEND_ATTEMPTS, now).await?;
        }
        tx.commit().await?;
        if !ids.is_empty() {
            self.jobs_wake.notify_one();
        }
        Ok(ids.len())
    }

    /// Records that the SMTP server accepted an outbox email; false when it was not queued.
    pub async fn mark_outbox_sent(&self, id: i64) -> Result<bool> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let done = store::outbox::mark_sent(&mut tx, id, now).await?;
        tx.commit().await?;
        if done {
            metrics::counter!("sportello_mail_sent_total").increment(1);
        }
        Ok(done)
    }

    /// Records a failed attempt to be retried (a 4xx reply or no connection).
    pub async fn mark_outbox_attempt(&self, id: i64, error: &str) -> Result<()> {
        let mut tx = self.db.write().await?;
        store::outbox::mark_attempt(&mut tx, id, error).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that the SMTP server refused an outbox email for good (a 5xx reply): the row is
    /// failed with the reply, and a `mail_failed` event goes on the ticket.
    pub async fn mark_outbox_failed(&self, id: i64, reply: &str) -> Result<bool> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let Some(row) = store::outbox::get(&mut tx, id).await? else {
            return Ok(false);
        };
        let done = store::outbox::mark_failed(&mut tx, id, reply).await?;
        if done && let Some(ticket) = row.ticket_id {
            let actor = Actor::system(Channel::Email);
            let what = format!("{} to {}: {reply}", row.kind, row.recipients);
            crate::tickets::record(&mut tx, &actor, ticket, "mail_failed", None, None, Some(what), now).await?;
        }
        tx.commit().await?;
        if done {
            metrics::counter!("sportello_mail_failed_total").increment(1);
        }
        Ok(done)
    }
}

/// The outbox id in a `mail.send` job's payload.
pub fn outbox_id_of(payload: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(payload).ok()?.get("outbox")?.as_i64()
}
