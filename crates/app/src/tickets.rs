//! Ticket use cases: create, read, list and search, change, reply and comment, link, merge.

use std::collections::BTreeMap;

use base64::Engine;
use domain::ticket::{AuthorRole, status_after_message};
use domain::{Category, LinkKind, MessageKind, Reference, SearchQuery, Severity, Status, validate};
use store::tickets::{Filter, NewMessage, NewTicket, Order};
use store::{TicketRow, Tx};

use crate::access::{Actor, TicketAccess, TicketAction, Who, check_ticket, ticket_access};
use crate::error::Problems;
use crate::views::*;
use crate::{App, Error, Result, text};

/// A file to attach to a message.
#[derive(Debug, Clone)]
pub struct AttachmentInput {
    /// File name as given by the sender.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What is needed to open a ticket.
#[derive(Debug, Clone, Default)]
pub struct NewTicketInput {
    /// Queue slug.
    pub queue: String,
    /// Title.
    pub title: String,
    /// Requestor emails (contacts are created when unknown). A contact acting is always requestor.
    pub requestors: Vec<String>,
    /// Cc emails.
    pub cc: Vec<String>,
    /// Plain-text description.
    pub body: String,
    /// HTML description (sanitised; the text is derived from it when `body` is empty).
    pub body_html: Option<String>,
    /// Customer code; defaults to the first requestor's customer.
    pub customer: Option<String>,
    /// Category; defaults to information request.
    pub category: Option<Category>,
    /// Severity; defaults from the category.
    pub severity: Option<Severity>,
    /// Priority 0–100, set by hand; computed when absent (see `domain::priority`).
    pub priority: Option<i64>,
    /// How many lines or SIMs the ticket concerns (default 1).
    pub impact: Option<i64>,
    /// Owner's email.
    pub owner: Option<String>,
    /// Custom field values by name.
    pub fields: BTreeMap<String, String>,
    /// Attachments of the first message.
    pub attachments: Vec<AttachmentInput>,
    /// The line the ticket is about (identifier); its customer is the ticket's. A ticket on a
    /// line that a notice in effect covers is linked to that notice.
    pub line: Option<String>,
}

/// Changes to a ticket; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    /// New title.
    pub title: Option<String>,
    /// New status.
    pub status: Option<Status>,
    /// New queue slug.
    pub queue: Option<String>,
    /// New owner email, or `Some(None)` for nobody.
    pub owner: Option<Option<String>>,
    /// New priority.
    pub priority: Option<i64>,
    /// New category.
    pub category: Option<Category>,
    /// New severity.
    pub severity: Option<Severity>,
    /// New customer code, or `Some(None)` for none.
    pub customer: Option<Option<String>>,
    /// Replaces the requestors.
    pub requestors: Option<Vec<String>>,
    /// Replaces the Cc.
    pub cc: Option<Vec<String>>,
    /// Custom field values to set (`Some`) or clear (`None`).
    pub fields: BTreeMap<String, Option<String>>,
    /// New impact: how many lines or SIMs the ticket concerns.
    pub impact: Option<i64>,
    /// Drop a priority set by hand and compute it again.
    pub priority_auto: bool,
    /// Record the intervention now (work done without a public reply, e.g. by phone).
    pub intervened: bool,
}

/// Time an agent spent on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeInput {
    /// Minutes, 1 to 1,440.
    pub minutes: i64,
    /// Billable to the customer.
    pub billable: bool,
    /// What was done.
    pub note: String,
}

/// A reply or comment to add.
#[derive(Debug, Clone)]
pub struct MessageInput {
    /// Public reply or internal comment.
    pub kind: MessageKind,
    /// Plain-text body.
    pub body: String,
    /// HTML body.
    pub body_html: Option<String>,
    /// Attachments.
    pub attachments: Vec<AttachmentInput>,
    /// Status to set in the same change (e.g. reply and resolve).
    pub status: Option<Status>,
    /// Owner to set in the same change (`Some(None)` for nobody).
    pub owner: Option<Option<String>>,
    /// Time spent, recorded with the message (agents only).
    pub time: Option<TimeInput>,
}

/// Which tickets to list.
#[derive(Debug, Clone, Default)]
pub struct ListInput {
    /// Search syntax: words, "phrases", `queue:`, `status:`, `owner:`, `requestor:`, `customer:`.
    pub q: Option<String>,
    /// Queue slug.
    pub queue: Option<String>,
    /// Statuses.
    pub statuses: Vec<Status>,
    /// Owner email, `me` or `nobody`.
    pub owner: Option<String>,
    /// Customer code.
    pub customer: Option<String>,
    /// Only tickets about this line (identifier).
    pub line: Option<String>,
    /// Categories (any of).
    pub categories: Vec<Category>,
    /// `newest` (default), `updated`, `priority` or `stale` (least recently changed first).
    pub order: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

/// The most hops followed through merged tickets.
const MAX_MERGE_HOPS: usize = 16;

/// Follows merges from `number` to the surviving ticket.
pub(crate) async fn resolve(tx: &mut Tx, number: i64) -> Result<TicketRow> {
    let mut id = number;
    for _ in 0..MAX_MERGE_HOPS {
        let t = store::tickets::get(tx, id).await?.ok_or_else(|| Error::NotFound(format!("ticket {number}")))?;
        match t.merged_into {
            Some(next) => id = next,
            None => return Ok(t),
        }
    }
    Err(Error::Internal(format!("ticket {number} is merged in a loop")))
}

/// Resolves the second ticket of a link or merge; an unknown one is bad input in `field`.
async fn resolve_other(tx: &mut Tx, number: i64, field: &str) -> Result<TicketRow> {
    match resolve(tx, number).await {
        Err(Error::NotFound(_)) => Err(Error::invalid(field, format!("no ticket {number}"))),
        other => other,
    }
}

/// Records one event of a ticket.
#[allow(clippy::too_many_arguments)] // one argument per column of the event
pub(crate) async fn record(
    tx: &mut Tx,
    actor: &Actor,
    ticket_id: i64,
    kind: &str,
    field: Option<&str>,
    old: Option<String>,
    new: Option<String>,
    now: i64,
) -> Result<()> {
    crate::admin::audit(tx, actor, Some(ticket_id), "ticket", ticket_id, kind, field, old, new, now).await
}

/// Finds a contact by email, creating it (with no customer) when unknown.
pub(crate) async fn contact_for_email(tx: &mut Tx, actor: &Actor, email: &str, now: i64) -> Result<store::ContactRow> {
    if let Some(c) = store::people::contact_by_email(tx, email).await? {
        return Ok(c);
    }
    let data = store::people::ContactData {
        customer_id: None,
        email: email.to_owned(),
        name: String::new(),
        phone: String::new(),
        language: "en".into(),
    };
    let c = store::people::insert_contact(tx, &data, now).await?;
    crate::admin::audit(tx, actor, None, "contact", c.id, "created", None, None, Some(c.email.clone()), now).await?;
    Ok(c)
}

fn check_emails(problems: &mut Problems, field: &str, emails: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, e) in emails.iter().enumerate() {
        if let Some(e) = problems.check(&format!("{field}[{i}]"), validate::email(e))
            && !out.contains(&e)
        {
            out.push(e);
        }
    }
    out
}

fn check_body(problems: &mut Problems, body: &str, html: Option<&str>) -> (String, Option<String>) {
    let html = html.map(str::trim).filter(|h| !h.is_empty());
    if body.len() > validate::MAX_BODY_BYTES || html.is_some_and(|h| h.len() > validate::MAX_BODY_BYTES) {
        problems.add("body", format!("at most {} bytes", validate::MAX_BODY_BYTES));
        return (String::new(), None);
    }
    let clean_html = html.map(text::sanitize_html);
    let text = if body.trim().is_empty() {
        clean_html.as_deref().map(text::html_to_text).unwrap_or_default()
    } else {
        body.trim().to_owned()
    };
    if text.is_empty() {
        problems.add("body", "must not be empty");
    }
    (text, clean_html)
}

/// What the writes of a creation produced, for its answer.
struct Written {
    t: TicketRow,
    reference: String,
    requestor_rows: Vec<store::ContactRow>,
    cc_rows: Vec<store::ContactRow>,
    customer: Option<store::CustomerRow>,
    sla: Option<SlaView>,
}

/// The most lines or SIMs a ticket can concern.
pub const MAX_IMPACT: i64 = 10_000_000;

impl App {
    fn check_attachments(&self, problems: &mut Problems, field: &str, list: &[AttachmentInput]) {
        if list.len() > self.config.max_attachments {
            problems.add(field, format!("at most {} attachments", self.config.max_attachments));
        }
        for (i, a) in list.iter().enumerate() {
            if a.data.len() > self.config.max_attachment_bytes {
                problems.add(
                    format!("{field}[{i}].content"),
                    format!("larger than {} bytes", self.config.max_attachment_bytes),
                );
            }
            if a.filename.trim().is_empty() || a.filename.len() > 255 || a.filename.contains(['/', '\\', '\0']) {
                problems.add(format!("{field}[{i}].filename"), "a file name of 1 to 255 bytes without slashes");
            }
            if a.content_type.len() > 255 || !a.content_type.contains('/') {
                problems.add(format!("{field}[{i}].content_type"), "a MIME type such as application/pdf");
            }
        }
    }

    /// Opens a ticket with its first message; records `created` and the message as events.
    pub async fn create_ticket(&self, actor: &Actor, input: NewTicketInput) -> Result<TicketView> {
        self.open_ticket(actor, input, None).await
    }

    /// Opens a ticket; the email it comes from, if any, is recorded in the same transaction.
    pub(crate) async fn open_ticket(
        &self,
        actor: &Actor,
        input: NewTicketInput,
        origin: Option<crate::mail::MailOrigin>,
    ) -> Result<TicketView> {
        let now = store::micros(self.now());
        let mut p = Problems::default();
        let title = p.check("title", validate::title(&input.title));
        let (body_text, body_html) = check_body(&mut p, &input.body, input.body_html.as_deref());
        let requestors = check_emails(&mut p, "requestors", &input.requestors);
        let cc = check_emails(&mut p, "cc", &input.cc);
        if let Some(pr) = input.priority
            && !(0..=100).contains(&pr)
        {
            p.add("priority", "between 0 and 100");
        }
        if let Some(n) = input.impact
            && !(1..=MAX_IMPACT).contains(&n)
        {
            p.add("impact", format!("between 1 and {MAX_IMPACT} lines or SIMs"));
        }
        if actor.is_staff() && requestors.is_empty() && !matches!(actor.who, Who::System) {
            p.add("requestors", "at least one requestor email is needed");
        }
        if let Who::Partner { .. } = actor.who
            && input.customer.is_none()
            && input.line.is_none()
        {
            p.add("customer", "the customer the ticket is for is needed");
        }
        self.check_attachments(&mut p, "attachments", &input.attachments);
        // Checks that only read happen before taking the write lock (SQLite has one writer).
        // Reads open a transaction only when one is needed: an agent's ticket whose queue is in
        // the cache opens none.
        let mut lazy = crate::LazyRead::new(&self.db);
        let found = self.queue_and_fields(&mut lazy, &input.queue.to_ascii_lowercase()).await?;
        let (queue, fields) = match found.as_deref() {
            Some((q, f)) if q.active => (Some(q.clone()), f.clone()),
            Some(_) => {
                p.add("queue", format!("queue `{}` is closed to new tickets", input.queue));
                (None, Vec::new())
            }
            None => return Err(Error::NotFound(format!("queue {}", input.queue))),
        };
        let mut field_values = Vec::new();
        for (name, value) in &input.fields {
            match fields.iter().find(|f| &f.name == name) {
                Some(f) => match f.kind.canonical(value, &f.choices) {
                    Ok(v) => field_values.push((f.id, v)),
                    Err(e) => p.add(format!("fields.{name}"), e.to_string()),
                },
                None => p.add(format!("fields.{name}"), "no such field in this queue"),
            }
        }
        for f in fields.iter().filter(|f| f.required) {
            if !input.fields.contains_key(&f.name) {
                p.add(format!("fields.{}", f.name), "required");
            }
        }
        // The customer: given (and visible to the actor), else the acting contact's, else the first requestor's.
        let mut customer = None;
        if let Some(code) = &input.customer {
            match store::people::customer_by_code(lazy.get().await?, code).await? {
                Some(c) if crate::access::may_see_customer(actor, c.id, c.partner_id) => customer = Some(c),
                _ => p.add("customer", format!("no customer `{code}`")),
            }
        }
        // The line: visible to the actor, and the customer's when both are named.
        let mut line = None;
        if let Some(identifier) = input.line.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            match self.visible_line(lazy.get().await?, actor, identifier).await {
                Ok(l) => line = Some(l),
                Err(Error::NotFound(_)) => p.add("line", format!("no line `{identifier}`")),
                Err(e) => return Err(e),
            }
        }
        if let Some(l) = &line {
            match &customer {
                Some(c) if c.id != l.customer_id => {
                    p.add("line", format!("line `{}` is not customer {}'s", l.identifier, c.code))
                }
                Some(_) => {}
                None => customer = store::people::customer(lazy.get().await?, l.customer_id).await?,
            }
        }
        // The notices in effect on the line (a known fault): the ticket is linked to them.
        let known: Vec<i64> = match &line {
            Some(l) => self.notices_in_effect(lazy.get().await?, l).await?,
            None => Vec::new(),
        };
        let owner = match &input.owner {
            Some(email) => {
                match self.owner_for(lazy.get().await?, &mut p, "owner", email, queue.as_ref().map(|q| q.id)).await? {
                    Some(id) => store::people::user(lazy.get().await?, id).await?,
                    None => None,
                }
            }
            None => None,
        };
        if let (Some(q), true) = (&queue, actor.is_staff())
            && !actor.queue_rights(q.id).has(domain::Right::Reply)
        {
            return Err(Error::Forbidden(format!("you may not open tickets in queue {}", q.slug)));
        }
        p.finish()?;
        let (Some(queue), Some(title)) = (queue, title) else {
            return Err(Error::Internal("checked inputs missing".into()));
        };
        // The acting contact and their customer, read here rather than under the write lock.
        let acting_contact = match actor.who {
            Who::Contact { contact_id, .. } => store::people::contact(lazy.get().await?, contact_id).await?,
            _ => None,
        };
        if customer.is_none()
            && let Some(id) = acting_contact.as_ref().and_then(|c| c.customer_id)
        {
            customer = store::people::customer(lazy.get().await?, id).await?;
        }
        // The requestors who bounce (no acknowledgement for them), looked up here rather than
        // under the write lock. A sender marked as bouncing is not: their email shows the address
        // works again (the mark is cleared with the ticket).
        let bouncing: Vec<String> = if crate::notify::acknowledges(actor) && !crate::notify::quiet(origin.as_ref()) {
            let mut emails = requestors.clone();
            emails.extend(acting_contact.as_ref().map(|c| c.email.to_lowercase()));
            let mut found = store::mail::bouncing_among(lazy.get().await?, &emails).await?;
            if let Some(o) = origin.as_ref().filter(|o| o.sender_bounced) {
                found.retain(|e| *e != o.from);
            }
            found
        } else {
            Vec::new()
        };
        drop(lazy);
        // The writes, on SQLite grouped with concurrent creations into one commit (they may run
        // twice, see `Db::write_grouped`, hence the clones).
        let app = self.clone();
        let (actor_w, attachments_w) = (actor.clone(), std::sync::Arc::new(input.attachments));
        let (category_in, severity_in, priority_in) = (input.category, input.severity, input.priority);
        let impact_in = input.impact.unwrap_or(1);
        let line_id = line.as_ref().map(|l| l.id);
        let known_view = known.clone();
        let known = std::sync::Arc::new(known);
        let (queue_id, prefix, owner_id) = (queue.id, queue.reference_prefix.clone(), owner.as_ref().map(|u| u.id));
        let (title_w, values_w, customer_w) = (title.clone(), field_values.clone(), customer.clone());
        let acting_contact = std::sync::Arc::new(acting_contact);
        let bouncing = std::sync::Arc::new(bouncing);
        let written: Written = self
            .db
            .write_grouped(move |w: &mut Tx| -> store::BoxFuture<'_, Result<Written>> {
                let (app, actor, attachments) = (app.clone(), actor_w.clone(), attachments_w.clone());
                let (title, field_values, mut customer) = (title_w.clone(), values_w.clone(), customer_w.clone());
                let (requestors, cc, prefix) = (requestors.clone(), cc.clone(), prefix.clone());
                let origin = origin.clone();
                let acting_contact = (*acting_contact).clone();
                let bouncing = bouncing.clone();
                let known = known.clone();
                let (body_text, body_html) = (body_text.clone(), body_html.clone());
                Box::pin(async move {
                    let mut customer_id = customer.as_ref().map(|c| c.id);
                    let mut requestor_rows = Vec::new();
                    if let Who::Contact { customer_id: own, .. } = actor.who {
                        requestor_rows.extend(acting_contact.clone());
                        customer_id = own;
                    }
                    for e in &requestors {
                        if requestor_rows.iter().any(|r| r.email.eq_ignore_ascii_case(e)) {
                            continue;
                        }
                        let c = contact_for_email(&mut *w, &actor, e, now).await?;
                        if !requestor_rows.iter().any(|r| r.id == c.id) {
                            requestor_rows.push(c);
                        }
                    }
                    if customer_id.is_none() {
                        customer_id = requestor_rows.iter().find_map(|c| c.customer_id);
                    }
                    let category = category_in.unwrap_or(Category::InformationRequest);
                    if customer.is_none()
                        && let Some(id) = customer_id
                    {
                        customer = store::people::customer(&mut *w, id).await?;
                    }
                    let mut new = NewTicket {
                        queue_id,
                        title,
                        status: Status::New,
                        owner_id,
                        customer_id,
                        category,
                        severity: severity_in.unwrap_or(category.default_severity()),
                        priority: priority_in.unwrap_or(0),
                        priority_manual: priority_in.is_some(),
                        impact: impact_in,
                        line_id,
                    };
                    if priority_in.is_none() {
                        new.priority = domain::priority::score(domain::priority::Factors {
                            vip: customer.as_ref().is_some_and(|c| c.vip),
                            severity: new.severity,
                            category,
                            impact: impact_in,
                            urgency: domain::priority::Urgency::Calm,
                        });
                    }
                    let t = store::tickets::insert(&mut *w, &new, now).await?;
                    let sla = match app.start_clock(&mut *w, &t, now).await? {
                        Some(mut k) => {
                            // The clock of a ticket on a known fault records the notice.
                            if let Some(first) = known.first() {
                                store::sla::set_notice(&mut *w, t.id, *first).await?;
                                k.notice_id = Some(*first);
                            }
                            Some(app.new_clock_view(&mut *w, &t, &k, now).await?)
                        }
                        None => None,
                    };
                    for c in &requestor_rows {
                        store::tickets::add_contact(&mut *w, t.id, c.id, false).await?;
                    }
                    let mut cc_rows = Vec::new();
                    for e in &cc {
                        let c = contact_for_email(&mut *w, &actor, e, now).await?;
                        store::tickets::add_contact(&mut *w, t.id, c.id, true).await?;
                        cc_rows.push(c);
                    }
                    for (fid, v) in &field_values {
                        store::tickets::set_field(&mut *w, t.id, *fid, Some(v)).await?;
                    }
                    let reference = Reference::new(&prefix, t.id).to_string();
                    let m = app
                        .insert_message(
                            &mut *w,
                            &actor,
                            &t,
                            MessageKind::Reply,
                            body_text,
                            body_html,
                            &attachments,
                            now,
                        )
                        .await?;
                    // The creation and the first message, in one statement.
                    let event = |kind, new_value| store::events::NewEvent {
                        ticket_id: Some(t.id),
                        subject: "ticket",
                        subject_id: t.id,
                        actor_user_id: actor.user_id,
                        actor_contact_id: actor.contact_id(),
                        actor_label: &actor.label,
                        channel: actor.channel,
                        kind,
                        field: None,
                        old_value: None,
                        new_value: Some(new_value),
                    };
                    let mut events = vec![event("created", reference.clone()), event("reply", m.id.to_string())];
                    for notice in known.iter() {
                        store::notices::link_ticket(&mut *w, *notice, t.id, now).await?;
                        events.push(event("notice", notice.to_string()));
                    }
                    store::events::insert_many(&mut *w, &events, now).await?;
                    if let Some(o) = &origin {
                        o.record(&mut *w, t.id, m.id, now).await?;
                    }
                    if !crate::notify::quiet(origin.as_ref()) {
                        let to = requestor_rows
                            .iter()
                            .map(|c| store::outbox::Recipient {
                                email: c.email.clone(),
                                name: c.name.clone(),
                                language: c.language.clone(),
                                cc: false,
                                bouncing: bouncing.contains(&c.email.to_lowercase()),
                            })
                            .collect();
                        let thread: Vec<String> = origin.iter().map(|o| o.message_id.clone()).collect();
                        app.notify_opened(&mut *w, &actor, &t, customer.clone(), to, &thread, &m.body_text, m.id, now)
                            .await?;
                    }
                    Ok(Written { t, reference, requestor_rows, cc_rows, customer, sla })
                })
            })
            .await?;
        let Written { t, reference, requestor_rows, cc_rows, customer, sla } = written;
        self.jobs_wake.notify_one();
        // Everything the view shows is known here: no reads after the write.
        let person = |c: &store::ContactRow| PersonRef { email: c.email.clone(), name: c.name.clone() };
        Ok(TicketView {
            number: t.id,
            reference,
            title: t.title.clone(),
            queue: queue.slug,
            status: t.status,
            owner: owner.map(|u| PersonRef { email: u.email, name: u.name }),
            customer: customer.map(|c| CustomerRef { code: c.code, name: c.name, vip: c.vip }),
            category: t.category,
            severity: t.severity,
            priority: t.priority,
            requestors: requestor_rows.iter().map(person).collect(),
            cc: cc_rows.iter().map(person).collect(),
            fields: field_values
                .iter()
                .filter_map(|(fid, v)| fields.iter().find(|f| f.id == *fid).map(|f| (f.name.clone(), v.clone())))
                .collect(),
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
            resolved_at: None,
            merged_from: Vec::new(),
            priority_manual: t.priority_manual,
            impact: t.impact,
            sla,
            line: line.map(|l| l.identifier),
            notices: known_view,
        })
    }

    /// A queue and its custom fields by slug, from this process's short cache when fresh.
    async fn queue_and_fields(
        &self,
        lazy: &mut crate::LazyRead<'_>,
        slug: &str,
    ) -> Result<Option<std::sync::Arc<(store::QueueRow, Vec<store::CustomFieldRow>)>>> {
        if let Some(found) = self.notice_cache.queue_rows.get(&slug.to_owned()) {
            return Ok(Some(found));
        }
        let tx = lazy.get().await?;
        let Some(q) = store::queues::by_slug(tx, slug).await? else {
            return Ok(None);
        };
        let fields = store::queues::fields(tx, q.id).await?;
        let found = std::sync::Arc::new((q, fields));
        self.notice_cache.queue_rows.put(slug.to_owned(), found.clone());
        Ok(Some(found))
    }

    /// Checks an owner email: an active agent or admin with the `own` right on the queue.
    async fn owner_for(
        &self,
        tx: &mut Tx,
        p: &mut Problems,
        field: &str,
        email: &str,
        queue_id: Option<i64>,
    ) -> Result<Option<i64>> {
        let email = email.trim().to_lowercase();
        let Some(u) = store::people::user_by_email(tx, &email).await? else {
            p.add(field, format!("no user `{email}`"));
            return Ok(None);
        };
        let may_own = match u.role {
            domain::Role::Admin => true,
            domain::Role::Agent => match queue_id {
                Some(q) => store::people::rights(tx, u.id).await?.iter().any(|(qid, r)| *qid == q && r.own),
                None => true,
            },
            _ => false,
        };
        if !u.active || !may_own {
            p.add(field, format!("`{email}` may not own tickets of this queue"));
            return Ok(None);
        }
        Ok(Some(u.id))
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_message(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        t: &TicketRow,
        kind: MessageKind,
        body_text: String,
        body_html: Option<String>,
        attachments: &[AttachmentInput],
        now: i64,
    ) -> Result<store::MessageRow> {
        let m = NewMessage {
            ticket_id: t.id,
            kind,
            author_user_id: actor.user_id,
            author_contact_id: actor.contact_id(),
            author_label: actor.label.clone(),
            channel: actor.channel,
            body_text,
            body_html,
        };
        let row = store::tickets::insert_message(tx, &m, &t.title, now).await?;
        for a in attachments {
            let sum = store::blobs::put(tx, &a.data, now).await?;
            store::tickets::insert_attachment(
                tx,
                row.id,
                a.filename.trim(),
                &a.content_type,
                a.data.len() as i64,
                &sum,
            )
            .await?;
        }
        Ok(row)
    }

    /// Builds the full view of a ticket.
    pub(crate) async fn view(&self, tx: &mut Tx, t: &TicketRow) -> Result<TicketView> {
        let queue = store::queues::by_id(tx, t.queue_id)
            .await?
            .ok_or_else(|| Error::Internal("ticket without queue".into()))?;
        let owner = match t.owner_id {
            Some(id) => store::people::user(tx, id).await?.map(|u| PersonRef { email: u.email, name: u.name }),
            None => None,
        };
        let customer = match t.customer_id {
            Some(id) => {
                store::people::customer(tx, id).await?.map(|c| CustomerRef { code: c.code, name: c.name, vip: c.vip })
            }
            None => None,
        };
        let contacts = store::tickets::contacts_of(tx, &[t.id]).await?;
        let (cc, req): (Vec<_>, Vec<_>) = contacts.into_iter().partition(|c| c.cc);
        let defs = store::queues::fields(tx, t.queue_id).await?;
        let mut fields = BTreeMap::new();
        for (fid, value) in store::tickets::field_values(tx, t.id).await? {
            if let Some(f) = defs.iter().find(|f| f.id == fid) {
                fields.insert(f.name.clone(), value);
            }
        }
        Ok(TicketView {
            number: t.id,
            reference: Reference::new(&queue.reference_prefix, t.id).to_string(),
            title: t.title.clone(),
            queue: queue.slug,
            status: t.status,
            owner,
            customer,
            category: t.category,
            severity: t.severity,
            priority: t.priority,
            requestors: req.into_iter().map(|c| PersonRef { email: c.email, name: c.name }).collect(),
            cc: cc.into_iter().map(|c| PersonRef { email: c.email, name: c.name }).collect(),
            fields,
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
            resolved_at: t.resolved_at.map(ts),
            merged_from: store::events::merged_into(tx, t.id).await?,
            priority_manual: t.priority_manual,
            impact: t.impact,
            sla: match store::sla::clock(tx, t.id).await? {
                Some(k) => Some(self.sla_view(tx, &k, self.now()).await?),
                None => None,
            },
            line: match t.line_id {
                Some(id) => store::inventory::line_by_id(tx, id).await?.map(|l| l.identifier),
                None => None,
            },
            notices: store::notices::notices_of_ticket(tx, t.id).await?,
        })
    }

    /// Reads a ticket by number (a merged number gives the surviving ticket).
    pub async fn ticket(&self, actor: &Actor, number: i64) -> Result<TicketView> {
        let mut tx = self.db.read().await?;
        let t = resolve(&mut tx, number).await?;
        let access = ticket_access(&mut tx, actor, &t).await?;
        check_ticket(access, TicketAction::See, t.id)?;
        if t.status == Status::Deleted && !actor.is_staff() {
            return Err(Error::NotFound(format!("ticket {number}")));
        }
        self.view(&mut tx, &t).await
    }

    /// Reads a ticket by reference text (`support#310`) or bare number.
    pub async fn ticket_by_reference(&self, actor: &Actor, text: &str) -> Result<TicketView> {
        let number = match Reference::parse(text) {
            Ok(r) => r.number,
            Err(_) => text
                .trim()
                .trim_start_matches('#')
                .parse()
                .map_err(|_| Error::invalid("reference", "a reference like support#310"))?,
        };
        self.ticket(actor, number).await
    }

    /// Lists tickets the actor may see, filtered, searched, ordered and paginated by cursor.
    pub async fn list_tickets(&self, actor: &Actor, input: ListInput) -> Result<TicketPage> {
        let mut query = match &input.q {
            Some(q) => SearchQuery::parse(q).map_err(|e| Error::invalid("q", e.to_string()))?,
            None => SearchQuery::default(),
        };
        if let Some(q) = &input.queue {
            query.queues.push(q.to_ascii_lowercase());
        }
        query.statuses.extend(input.statuses.iter().copied());
        if let Some(o) = &input.owner {
            query.owner = SearchQuery::parse(&format!("owner:\"{}\"", o.replace('"', "")))
                .map_err(|e| Error::invalid("owner", e.to_string()))?
                .owner;
        }
        if let Some(c) = &input.customer {
            query.customers.push(c.clone());
        }
        query.categories.extend(input.categories.iter().copied());
        let order = match input.order.as_deref() {
            None | Some("newest") => Order::Newest,
            Some("updated") => Order::Updated,
            Some("priority") => Order::Priority,
            Some("stale") => Order::Stale,
            Some(o) => {
                return Err(Error::invalid("order", format!("`{o}` is not one of: newest, updated, priority, stale")));
            }
        };
        let limit = input.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(Error::invalid("limit", "between 1 and 200"));
        }
        let after = match &input.cursor {
            Some(c) => {
                Some(decode_cursor(c).ok_or_else(|| Error::invalid("cursor", "not a cursor returned by this API"))?)
            }
            None => None,
        };
        let mut tx = self.db.read().await?;
        let mut filter =
            Filter { order, after, limit: limit + 1, statuses: query.statuses.clone(), ..Default::default() };
        let mut queue_ids: Option<Vec<i64>> = actor.visible_queues();
        if !query.queues.is_empty() {
            let mut ids = Vec::new();
            for slug in &query.queues {
                match store::queues::by_slug(&mut tx, slug).await? {
                    Some(q) => ids.push(q.id),
                    None => return Err(Error::invalid("queue", format!("no queue `{slug}`"))),
                }
            }
            queue_ids = Some(match queue_ids {
                Some(visible) => ids.into_iter().filter(|i| visible.contains(i)).collect(),
                None => ids,
            });
        }
        filter.queue_ids = queue_ids;
        filter.owner = match &query.owner {
            None => None,
            Some(domain::search::OwnerFilter::Nobody) => Some(None),
            Some(domain::search::OwnerFilter::Me) => match actor.user_id {
                Some(id) => Some(Some(id)),
                None => return Err(Error::invalid("owner", "`owner:me` needs a person; this token acts for no user")),
            },
            Some(domain::search::OwnerFilter::Email(e)) => {
                match store::people::user_by_email(&mut tx, &e.to_lowercase()).await? {
                    Some(u) => Some(Some(u.id)),
                    None => return Err(Error::invalid("owner", format!("no user `{e}`"))),
                }
            }
        };
        filter.customer_codes = query.customers.clone();
        filter.line = input.line.clone();
        filter.categories = query.categories.clone();
        filter.requestor_emails = query.requestors.clone();
        filter.text = store::search::TextQuery::from_query(&query);
        match actor.who {
            Who::Partner { partner_id } => {
                filter.partner_id = Some(partner_id);
                filter.public_only = true;
            }
            Who::Contact { contact_id, customer_id } => {
                filter.contact = Some((customer_id, contact_id));
                filter.public_only = true;
            }
            _ => {}
        }
        if !actor.is_staff() && filter.statuses.contains(&Status::Deleted) {
            filter.statuses.retain(|s| *s != Status::Deleted);
            if filter.statuses.is_empty() {
                return Ok(TicketPage { tickets: Vec::new(), next_cursor: None });
            }
        }
        let mut rows = store::tickets::list(&mut tx, &filter).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| {
                let key = match order {
                    Order::Newest => r.ticket.id,
                    Order::Updated | Order::Stale => r.ticket.updated_at,
                    Order::Priority => r.ticket.priority,
                };
                encode_cursor(key, r.ticket.id)
            })
        } else {
            None
        };
        let clocks = store::sla::clocks_of(&mut tx, &rows.iter().map(|r| r.ticket.id).collect::<Vec<_>>()).await?;
        Ok(TicketPage { tickets: crate::clocks::with_clocks(rows, &clocks, self.now()), next_cursor })
    }

    /// Changes a ticket; every changed field is recorded as a `set` event.
    pub async fn update_ticket(&self, actor: &Actor, number: i64, patch: TicketPatch) -> Result<TicketView> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let found = resolve(&mut tx, number).await?;
        let mut t = store::tickets::get_for_update(&mut tx, found.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("ticket {number}")))?;
        let access = ticket_access(&mut tx, actor, &t).await?;
        check_ticket(access, TicketAction::See, t.id)?;
        if access == TicketAccess::Customer {
            // The customer side may close or reopen, nothing else.
            let only_status = patch.title.is_none()
                && patch.impact.is_none()
                && !patch.priority_auto
                && !patch.intervened
                && patch.queue.is_none()
                && patch.owner.is_none()
                && patch.priority.is_none()
                && patch.category.is_none()
                && patch.severity.is_none()
                && patch.customer.is_none()
                && patch.requestors.is_none()
                && patch.cc.is_none()
                && patch.fields.is_empty();
            let ok_status = matches!(patch.status, Some(Status::Resolved | Status::Open) | None);
            if !only_status || !ok_status || t.status == Status::Deleted {
                return Err(Error::Forbidden(format!("you may only close or reopen ticket {}", t.id)));
            }
        } else {
            let owner_only = patch.owner.is_some()
                && patch.title.is_none()
                && patch.impact.is_none()
                && !patch.priority_auto
                && !patch.intervened
                && patch.status.is_none()
                && patch.queue.is_none()
                && patch.priority.is_none()
                && patch.category.is_none()
                && patch.severity.is_none()
                && patch.customer.is_none()
                && patch.requestors.is_none()
                && patch.cc.is_none()
                && patch.fields.is_empty();
            let taking = matches!(&patch.owner, Some(Some(e)) if actor.user_id.is_some() && self.is_user_email(&mut tx, actor, e).await?);
            if owner_only && taking {
                check_ticket(access, TicketAction::Own, t.id)?;
            } else {
                check_ticket(access, TicketAction::Modify, t.id)?;
            }
        }
        let before = t.clone();
        let mut p = Problems::default();
        if let Some(title) = &patch.title
            && let Some(v) = p.check("title", validate::title(title))
        {
            t.title = v;
        }
        if let Some(pr) = patch.priority {
            if (0..=100).contains(&pr) {
                t.priority = pr;
                t.priority_manual = true;
            } else {
                p.add("priority", "between 0 and 100")
            }
        } else if patch.priority_auto {
            t.priority_manual = false;
        }
        if let Some(n) = patch.impact {
            if (1..=MAX_IMPACT).contains(&n) {
                t.impact = n;
            } else {
                p.add("impact", format!("between 1 and {MAX_IMPACT} lines or SIMs"));
            }
        }
        if let Some(c) = patch.category {
            t.category = c;
        }
        if let Some(s) = patch.severity {
            t.severity = s;
        }
        if let Some(slug) = &patch.queue {
            match store::queues::by_slug(&mut tx, &slug.to_ascii_lowercase()).await? {
                Some(q) if q.active => t.queue_id = q.id,
                Some(_) => p.add("queue", format!("queue `{slug}` is closed")),
                None => p.add("queue", format!("no queue `{slug}`")),
            }
        }
        if let Some(owner) = &patch.owner {
            t.owner_id = match owner {
                Some(email) => {
                    let id = self.owner_for(&mut tx, &mut p, "owner", email, Some(t.queue_id)).await?;
                    if let Some(uid) = id
                        && Some(uid) == actor.user_id
                    {
                        check_ticket(access, TicketAction::Own, t.id)?;
                    }
                    id.or(t.owner_id)
                }
                None => None,
            };
        }
        if let Some(code) = &patch.customer {
            t.customer_id = match code {
                Some(code) => match store::people::customer_by_code(&mut tx, code).await? {
                    Some(c) => Some(c.id),
                    None => {
                        p.add("customer", format!("no customer `{code}`"));
                        t.customer_id
                    }
                },
                None => None,
            };
        }
        if let Some(s) = patch.status {
            match t.status.transition(s) {
                Ok(s) => set_status(&mut t, s, now),
                Err(e) => {
                    p.finish()?;
                    return Err(e.into());
                }
            }
        }
        let requestors = patch.requestors.as_ref().map(|r| check_emails(&mut p, "requestors", r));
        let cc = patch.cc.as_ref().map(|r| check_emails(&mut p, "cc", r));
        if requestors.as_ref().is_some_and(|r| r.is_empty()) {
            p.add("requestors", "at least one requestor");
        }
        let defs = store::queues::fields(&mut tx, t.queue_id).await?;
        let mut field_changes = Vec::new();
        for (name, value) in &patch.fields {
            match defs.iter().find(|f| &f.name == name) {
                None => p.add(format!("fields.{name}"), "no such field in this queue"),
                Some(f) => match value {
                    Some(v) => match f.kind.canonical(v, &f.choices) {
                        Ok(v) => field_changes.push((f.id, name.clone(), Some(v))),
                        Err(e) => p.add(format!("fields.{name}"), e.to_string()),
                    },
                    None if f.required => p.add(format!("fields.{name}"), "required"),
                    None => field_changes.push((f.id, name.clone(), None)),
                },
            }
        }
        p.finish()?;
        if patch.intervened && access == TicketAccess::Customer {
            return Err(Error::Forbidden("only agents intervene".into()));
        }
        let change = crate::clocks::ClockChange { intervened: patch.intervened };
        self.advance_clock(&mut tx, actor, &before, &mut t, change, now).await?;
        self.record_changes(&mut tx, actor, &before, &mut t, now).await?;
        if let Some(list) = requestors {
            self.replace_contacts(&mut tx, actor, t.id, false, &list, now).await?;
        }
        if let Some(list) = cc {
            self.replace_contacts(&mut tx, actor, t.id, true, &list, now).await?;
        }
        let old_values = store::tickets::field_values(&mut tx, t.id).await?;
        for (fid, name, value) in field_changes {
            let old = old_values.iter().find(|(id, _)| *id == fid).map(|(_, v)| v.clone());
            if old != value {
                store::tickets::set_field(&mut tx, t.id, fid, value.as_deref()).await?;
                record(&mut tx, actor, t.id, "set", Some(&format!("fields.{name}")), old, value, now).await?;
                t.updated_at = now;
            }
        }
        if t != before {
            store::tickets::save(&mut tx, &t).await?;
        }
        let reindex = t.title != before.title;
        if reindex {
            crate::jobs::enqueue_reindex(&mut tx, t.id, now).await?;
        }
        let staff = access != TicketAccess::Customer;
        let mailed = self.notify_changed(&mut tx, actor, before.status, &t, None, staff, now).await?;
        let view = self.view(&mut tx, &t).await?;
        tx.commit().await?;
        if reindex || mailed {
            self.jobs_wake.notify_one();
        }
        Ok(view)
    }

    async fn is_user_email(&self, tx: &mut Tx, actor: &Actor, email: &str) -> Result<bool> {
        Ok(match actor.user_id {
            Some(uid) => {
                store::people::user(tx, uid).await?.is_some_and(|u| u.email.eq_ignore_ascii_case(email.trim()))
            }
            None => false,
        })
    }

    /// Records a `set` event for every column that differs, and stamps the change time.
    pub(crate) async fn record_changes(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        before: &TicketRow,
        t: &mut TicketRow,
        now: i64,
    ) -> Result<()> {
        let mut changes: Vec<(&str, Option<String>, Option<String>)> = Vec::new();
        if before.title != t.title {
            changes.push(("title", Some(before.title.clone()), Some(t.title.clone())));
        }
        if before.status != t.status {
            changes.push(("status", Some(before.status.to_string()), Some(t.status.to_string())));
        }
        if before.priority != t.priority {
            changes.push(("priority", Some(before.priority.to_string()), Some(t.priority.to_string())));
        }
        if before.priority_manual != t.priority_manual {
            let name = |manual: bool| Some(if manual { "manual" } else { "computed" }.to_owned());
            changes.push(("priority_override", name(before.priority_manual), name(t.priority_manual)));
        }
        if before.impact != t.impact {
            changes.push(("impact", Some(before.impact.to_string()), Some(t.impact.to_string())));
        }
        if before.category != t.category {
            changes.push(("category", Some(before.category.to_string()), Some(t.category.to_string())));
        }
        if before.severity != t.severity {
            changes.push(("severity", Some(before.severity.to_string()), Some(t.severity.to_string())));
        }
        if before.queue_id != t.queue_id {
            let old = store::queues::by_id(tx, before.queue_id).await?.map(|q| q.slug);
            let new = store::queues::by_id(tx, t.queue_id).await?.map(|q| q.slug);
            changes.push(("queue", old, new));
        }
        if before.owner_id != t.owner_id {
            changes.push((
                "owner",
                self.user_email(tx, before.owner_id).await?,
                self.user_email(tx, t.owner_id).await?,
            ));
        }
        if before.customer_id != t.customer_id {
            changes.push((
                "customer",
                self.customer_code(tx, before.customer_id).await?,
                self.customer_code(tx, t.customer_id).await?,
            ));
        }
        for (field, old, new) in changes {
            record(tx, actor, t.id, "set", Some(field), old, new, now).await?;
            t.updated_at = now;
        }
        Ok(())
    }

    async fn user_email(&self, tx: &mut Tx, id: Option<i64>) -> Result<Option<String>> {
        Ok(match id {
            Some(id) => store::people::user(tx, id).await?.map(|u| u.email),
            None => None,
        })
    }

    async fn customer_code(&self, tx: &mut Tx, id: Option<i64>) -> Result<Option<String>> {
        Ok(match id {
            Some(id) => store::people::customer(tx, id).await?.map(|c| c.code),
            None => None,
        })
    }

    async fn replace_contacts(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        ticket_id: i64,
        cc: bool,
        emails: &[String],
        now: i64,
    ) -> Result<()> {
        let field = if cc { "cc" } else { "requestor" };
        let current: Vec<_> =
            store::tickets::contacts_of(tx, &[ticket_id]).await?.into_iter().filter(|c| c.cc == cc).collect();
        for c in &current {
            if !emails.contains(&c.email) {
                store::tickets::remove_contact(tx, ticket_id, c.contact_id, cc).await?;
                record(tx, actor, ticket_id, "set", Some(field), Some(c.email.clone()), None, now).await?;
            }
        }
        for e in emails {
            if !current.iter().any(|c| &c.email == e) {
                let c = contact_for_email(tx, actor, e, now).await?;
                store::tickets::add_contact(tx, ticket_id, c.id, cc).await?;
                record(tx, actor, ticket_id, "set", Some(field), None, Some(e.clone()), now).await?;
            }
        }
        Ok(())
    }

    /// Adds a public reply or internal comment, with the status effects of the lifecycle: an
    /// agent's first reply opens a new ticket; a requestor's reply reopens a stalled or resolved one.
    pub async fn add_message(&self, actor: &Actor, number: i64, input: MessageInput) -> Result<MessageView> {
        self.write_message(actor, number, input, None).await
    }

    /// Adds a reply or comment; the email it comes from, if any, is recorded in the same transaction.
    pub(crate) async fn write_message(
        &self,
        actor: &Actor,
        number: i64,
        input: MessageInput,
        origin: Option<crate::mail::MailOrigin>,
    ) -> Result<MessageView> {
        let now = store::micros(self.now());
        let mut p = Problems::default();
        let (body_text, body_html) = check_body(&mut p, &input.body, input.body_html.as_deref());
        self.check_attachments(&mut p, "attachments", &input.attachments);
        if let Some(time) = &input.time {
            check_time(&mut p, "time", time);
            if !actor.is_staff() {
                return Err(Error::Forbidden("only agents record time".into()));
            }
        }
        let mut tx = self.db.write().await?;
        let found = resolve(&mut tx, number).await?;
        let mut t = store::tickets::get_for_update(&mut tx, found.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("ticket {number}")))?;
        let access = ticket_access(&mut tx, actor, &t).await?;
        check_ticket(access, TicketAction::See, t.id)?;
        if t.status == Status::Deleted && !actor.is_staff() {
            return Err(Error::NotFound(format!("ticket {number}")));
        }
        let action = match input.kind {
            MessageKind::Reply => TicketAction::Reply,
            MessageKind::Comment => TicketAction::Comment,
        };
        check_ticket(access, action, t.id)?;
        if input.status.is_some() || input.owner.is_some() {
            if access == TicketAccess::Customer && !matches!(input.status, Some(Status::Resolved | Status::Open) | None)
            {
                return Err(Error::Forbidden(format!("you may only close or reopen ticket {}", t.id)));
            }
            if access == TicketAccess::Customer && input.owner.is_some() {
                return Err(Error::Forbidden(format!("you may not change the owner of ticket {}", t.id)));
            }
            if access != TicketAccess::Customer && input.status.is_some() {
                check_ticket(access, TicketAction::Modify, t.id)?;
            }
        }
        let before = t.clone();
        if let Some(Some(email)) = &input.owner {
            if let Some(uid) = self.owner_for(&mut tx, &mut p, "owner", email, Some(t.queue_id)).await? {
                if Some(uid) == actor.user_id {
                    check_ticket(access, TicketAction::Own, t.id)?
                } else {
                    check_ticket(access, TicketAction::Modify, t.id)?
                }
                t.owner_id = Some(uid);
            }
        } else if let Some(None) = &input.owner {
            check_ticket(access, TicketAction::Modify, t.id)?;
            t.owner_id = None;
        }
        p.finish()?;
        let author = match access {
            TicketAccess::Staff(_) => AuthorRole::Agent,
            TicketAccess::Customer => AuthorRole::Requestor,
        };
        let target = match input.status {
            Some(s) => Some(t.status.transition(s)?),
            None => status_after_message(t.status, input.kind, author),
        };
        let m =
            self.insert_message(&mut tx, actor, &t, input.kind, body_text, body_html, &input.attachments, now).await?;
        record(&mut tx, actor, t.id, input.kind.as_str(), None, None, Some(m.id.to_string()), now).await?;
        if let Some(o) = &origin {
            o.record(&mut tx, t.id, m.id, now).await?;
        }
        if let Some(s) = target {
            set_status(&mut t, s, now);
        }
        let intervened = author == AuthorRole::Agent && input.kind == MessageKind::Reply;
        self.advance_clock(&mut tx, actor, &before, &mut t, crate::clocks::ClockChange { intervened }, now).await?;
        self.record_changes(&mut tx, actor, &before, &mut t, now).await?;
        if let Some(time) = &input.time {
            self.insert_time(&mut tx, actor, &t, Some(m.id), time, now).await?;
        }
        t.updated_at = now;
        store::tickets::save(&mut tx, &t).await?;
        let mailed = !crate::notify::quiet(origin.as_ref())
            && self
                .notify_changed(
                    &mut tx,
                    actor,
                    before.status,
                    &t,
                    Some((input.kind, &m.body_text, m.id)),
                    author == AuthorRole::Agent,
                    now,
                )
                .await?;
        let view = message_view(m, store::tickets::attachments(&mut tx, t.id).await?);
        tx.commit().await?;
        if mailed {
            self.jobs_wake.notify_one();
        }
        Ok(view)
    }

    /// The thread of a ticket: public replies, and internal comments for staff.
    pub async fn messages(&self, actor: &Actor, number: i64) -> Result<Vec<MessageView>> {
        let mut tx = self.db.read().await?;
        let t = resolve(&mut tx, number).await?;
        let access = ticket_access(&mut tx, actor, &t).await?;
        check_ticket(access, TicketAction::See, t.id)?;
        if t.status == Status::Deleted && !actor.is_staff() {
            return Err(Error::NotFound(format!("ticket {number}")));
        }
        let public_only = access == TicketAccess::Customer;
        let rows = store::tickets::messages(&mut tx, t.id, public_only).await?;
        let atts = store::tickets::attachments(&mut tx, t.id).await?;
        Ok(rows.into_iter().map(|m| message_view(m, atts.clone())).collect())
    }

    /// An attachment's description and bytes, if the actor may see its message.
    pub async fn attachment(
        &self,
        actor: &Actor,
        number: i64,
        attachment_id: i64,
    ) -> Result<(AttachmentView, Vec<u8>)> {
        let mut tx = self.db.read().await?;
        let t = resolve(&mut tx, number).await?;
        let access = ticket_access(&mut tx, actor, &t).await?;
        check_ticket(access, TicketAction::See, t.id)?;
        let not_found = || Error::NotFound(format!("attachment {attachment_id}"));
        if t.status == Status::Deleted && !actor.is_staff() {
            return Err(not_found());
        }
        let a = store::tickets::attachment(&mut tx, attachment_id).await?.ok_or_else(not_found)?;
        let m = store::tickets::message(&mut tx, a.message_id).await?.ok_or_else(not_found)?;
        if m.ticket_id != t.id || (access == TicketAccess::Customer && m.kind != MessageKind::Reply) {
            return Err(not_found());
        }
        let data = store::blobs::get(&mut tx, &a.sha256)
            .await?
            .ok_or_else(|| Error::Internal(format!("blob {} missing", a.sha256)))?;
        Ok((attachment_view(a), data))
    }

    /// The history of a ticket (and of the tickets merged into it), oldest first. Staff only:
    /// the history shows internal comments.
    pub async fn ticket_events(&self, actor: &Actor, number: i64) -> Result<Vec<EventView>> {
        let mut tx = self.db.read().await?;
        let t = resolve(&mut tx, number).await?;
        let access = ticket_access(&mut tx, actor, &t).await?;
        check_ticket(access, TicketAction::See, t.id)?;
        if access == TicketAccess::Customer {
            return Err(Error::Forbidden("the history is for the operator's staff".into()));
        }
        let mut ids = vec![t.id];
        ids.extend(store::events::merged_into(&mut tx, t.id).await?);
        Ok(store::events::for_tickets(&mut tx, &ids).await?.into_iter().map(EventView::from).collect())
    }

    /// The links of a ticket.
    pub async fn links(&self, actor: &Actor, number: i64) -> Result<Vec<LinkView>> {
        let mut tx = self.db.read().await?;
        let t = resolve(&mut tx, number).await?;
        check_ticket(ticket_access(&mut tx, actor, &t).await?, TicketAction::See, t.id)?;
        link_views(&mut tx, t.id).await
    }

    /// Links ticket `number` to `other` (`number` is the child, the dependent or the referrer).
    pub async fn add_link(&self, actor: &Actor, number: i64, kind: LinkKind, other: i64) -> Result<Vec<LinkView>> {
        self.change_link(actor, number, kind, other, true).await
    }

    /// Removes a link between two tickets.
    pub async fn remove_link(&self, actor: &Actor, number: i64, kind: LinkKind, other: i64) -> Result<Vec<LinkView>> {
        self.change_link(actor, number, kind, other, false).await
    }

    async fn change_link(
        &self,
        actor: &Actor,
        number: i64,
        kind: LinkKind,
        other: i64,
        add: bool,
    ) -> Result<Vec<LinkView>> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let a = resolve(&mut tx, number).await?;
        check_ticket(ticket_access(&mut tx, actor, &a).await?, TicketAction::Modify, a.id)?;
        let b = resolve_other(&mut tx, other, "to").await?;
        check_ticket(ticket_access(&mut tx, actor, &b).await?, TicketAction::See, b.id)?;
        if a.id == b.id {
            return Err(Error::invalid("to", "a ticket cannot be linked to itself"));
        }
        if add && kind != LinkKind::RefersTo && self.reaches(&mut tx, b.id, a.id, kind).await? {
            return Err(Error::invalid("to", format!("linking {} {kind} {} would make a cycle", a.id, b.id)));
        }
        let changed = if add {
            store::tickets::add_link(&mut tx, a.id, b.id, kind, now).await?
        } else {
            store::tickets::remove_link(&mut tx, a.id, b.id, kind).await?
        };
        if changed {
            let (what, old, new) = if add {
                ("link", None, Some(format!("{kind} {}", b.id)))
            } else {
                ("unlink", Some(format!("{kind} {}", b.id)), None)
            };
            record(&mut tx, actor, a.id, what, Some(kind.as_str()), old.clone(), new.clone(), now).await?;
            record(
                &mut tx,
                actor,
                b.id,
                what,
                Some(kind.as_str()),
                old.map(|_| format!("{} {}", a.id, kind)),
                new.map(|_| format!("{} {}", a.id, kind)),
                now,
            )
            .await?;
            store::tickets::touch(&mut tx, a.id, now).await?;
        } else if !add {
            return Err(Error::NotFound(format!("link {} {kind} {}", a.id, b.id)));
        }
        let links = link_views(&mut tx, a.id).await?;
        tx.commit().await?;
        Ok(links)
    }

    /// Whether `from` already reaches `to` through links of `kind` (to refuse cycles).
    async fn reaches(&self, tx: &mut Tx, from: i64, to: i64, kind: LinkKind) -> Result<bool> {
        let mut seen = vec![from];
        let mut frontier = vec![from];
        while let Some(n) = frontier.pop() {
            if n == to {
                return Ok(true);
            }
            for l in store::tickets::links(tx, n).await? {
                if l.kind == kind && l.from_ticket == n && !seen.contains(&l.to_ticket) {
                    seen.push(l.to_ticket);
                    frontier.push(l.to_ticket);
                }
            }
            if seen.len() > 10_000 {
                break;
            }
        }
        Ok(false)
    }

    /// Merges ticket `number` into `into`: its messages, requestors and links move to the
    /// survivor, and its number keeps resolving to the survivor.
    pub async fn merge_ticket(&self, actor: &Actor, number: i64, into: i64) -> Result<TicketView> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let from = resolve(&mut tx, number).await?;
        check_ticket(ticket_access(&mut tx, actor, &from).await?, TicketAction::Modify, from.id)?;
        let target = resolve_other(&mut tx, into, "into").await?;
        check_ticket(ticket_access(&mut tx, actor, &target).await?, TicketAction::Modify, target.id)?;
        if from.id == target.id {
            return Err(Error::invalid("into", "a ticket cannot be merged into itself"));
        }
        store::tickets::merge_contents(&mut tx, from.id, target.id).await?;
        let mut gone = from.clone();
        gone.merged_into = Some(target.id);
        gone.updated_at = now;
        store::tickets::save(&mut tx, &gone).await?;
        record(&mut tx, actor, from.id, "merged", None, None, Some(target.id.to_string()), now).await?;
        record(&mut tx, actor, target.id, "merged_from", None, None, Some(from.id.to_string()), now).await?;
        let mut survivor = target.clone();
        survivor.updated_at = now;
        store::tickets::save(&mut tx, &survivor).await?;
        crate::jobs::enqueue_reindex(&mut tx, target.id, now).await?;
        let view = self.view(&mut tx, &survivor).await?;
        tx.commit().await?;
        self.jobs_wake.notify_one();
        Ok(view)
    }
}

/// Checks a time entry's figures.
pub(crate) fn check_time(p: &mut Problems, field: &str, time: &TimeInput) {
    if !(1..=1440).contains(&time.minutes) {
        p.add(format!("{field}.minutes"), "between 1 and 1440");
    }
    if time.note.chars().count() > 1000 {
        p.add(format!("{field}.note"), "at most 1000 characters");
    }
}

fn set_status(t: &mut TicketRow, s: Status, now: i64) {
    if s == Status::Resolved && t.status != Status::Resolved {
        t.resolved_at = Some(now);
    } else if s != Status::Resolved {
        t.resolved_at = None;
    }
    t.status = s;
}

async fn link_views(tx: &mut Tx, id: i64) -> Result<Vec<LinkView>> {
    Ok(store::tickets::links(tx, id)
        .await?
        .into_iter()
        .map(|l| LinkView { from: l.from_ticket, to: l.to_ticket, kind: l.kind })
        .collect())
}

fn attachment_view(a: store::AttachmentRow) -> AttachmentView {
    AttachmentView { id: a.id, filename: a.filename, content_type: a.content_type, size: a.size, sha256: a.sha256 }
}

fn message_view(m: store::MessageRow, atts: Vec<store::AttachmentRow>) -> MessageView {
    MessageView {
        id: m.id,
        kind: m.kind,
        author: m.author_label,
        channel: m.channel,
        body_text: m.body_text,
        body_html: m.body_html,
        created_at: ts(m.created_at),
        attachments: atts.into_iter().filter(|a| a.message_id == m.id).map(attachment_view).collect(),
    }
}

fn encode_cursor(key: i64, id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{key}.{id}"))
}

fn decode_cursor(c: &str) -> Option<(i64, i64)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (k, i) = text.split_once('.')?;
    Some((k.parse().ok()?, i.parse().ok()?))
}

/// A queue's figures for an agent's home page.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueCounts {
    /// Queue slug.
    pub slug: String,
    /// Queue name.
    pub name: String,
    /// Tickets in status new (the goal is zero).
    pub new: i64,
    /// New, open or stalled tickets without an owner.
    pub unowned: i64,
}

impl App {
    /// New and unowned tickets per queue the actor may see (staff only).
    pub async fn queue_counts(&self, actor: &Actor) -> Result<Vec<QueueCounts>> {
        if !actor.is_staff() {
            return Err(Error::Forbidden("queue figures are for staff".into()));
        }
        let mut tx = self.db.read().await?;
        let queues = store::queues::all(&mut tx).await?;
        let counts = store::tickets::queue_counts(&mut tx).await?;
        Ok(queues
            .into_iter()
            .filter(|q| q.active && actor.queue_rights(q.id).has(domain::Right::See))
            .map(|q| {
                let (new, unowned) = counts.iter().find(|c| c.0 == q.id).map(|c| (c.1, c.2)).unwrap_or((0, 0));
                QueueCounts { slug: q.slug, name: q.name, new, unowned }
            })
            .collect())
    }
}
