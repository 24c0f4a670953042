//! Tickets, their contacts, messages, attachments, links and custom field values.

use domain::{Category, Channel, LinkKind, MessageKind, Severity, Status};
use sqlx::Row;

use crate::{
    Arg, AttachmentRow, Backend, LinkRow, MessageRow, Result, TicketContactRow, TicketListRow, TicketRow, Tx,
    bind_args, parse, placeholders, search,
};

const COLS: &str = "t.id, t.queue_id, t.title, t.status, t.owner_id, t.customer_id, t.category, t.severity, t.priority, \
                    t.priority_manual, t.impact, t.created_at, t.updated_at, t.resolved_at, t.merged_into, t.line_id";

macro_rules! ticket_row {
    ($r:expr) => {
        (|| -> Result<TicketRow> {
            let status: String = $r.try_get("status")?;
            let category: String = $r.try_get("category")?;
            let severity: String = $r.try_get("severity")?;
            Ok(TicketRow {
                id: $r.try_get("id")?,
                queue_id: $r.try_get("queue_id")?,
                title: $r.try_get("title")?,
                status: parse(&status)?,
                owner_id: $r.try_get("owner_id")?,
                customer_id: $r.try_get("customer_id")?,
                category: parse(&category)?,
                severity: parse(&severity)?,
                priority: $r.try_get("priority")?,
                priority_manual: $r.try_get("priority_manual")?,
                impact: $r.try_get("impact")?,
                created_at: $r.try_get("created_at")?,
                updated_at: $r.try_get("updated_at")?,
                resolved_at: $r.try_get("resolved_at")?,
                merged_into: $r.try_get("merged_into")?,
                line_id: $r.try_get("line_id")?,
            })
        })()
    };
}

/// A ticket to create.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub queue_id: i64,
    pub title: String,
    pub status: Status,
    pub owner_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    pub priority: i64,
    pub priority_manual: bool,
    pub impact: i64,
    pub line_id: Option<i64>,
}

/// Creates a ticket; its id is its global number.
pub async fn insert(tx: &mut Tx, t: &NewTicket, now: i64) -> Result<TicketRow> {
    let sql = format!(
        "INSERT INTO tickets (queue_id, title, status, owner_id, customer_id, category, severity, priority,
             priority_manual, impact, line_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $11, $12, $9, $9) RETURNING {}",
        COLS.replace("t.", "")
    );
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t.queue_id).bind(&t.title).bind(t.status.as_str()).bind(t.owner_id).bind(t.customer_id)
            .bind(t.category.as_str()).bind(t.severity.as_str()).bind(t.priority).bind(now)
            .bind(t.priority_manual).bind(t.impact).bind(t.line_id)
            .fetch_one(&mut *c).await?;
        ticket_row!(r)
    })
}

/// The ticket with this number, as stored (merged tickets are returned as themselves).
pub async fn get(tx: &mut Tx, id: i64) -> Result<Option<TicketRow>> {
    let sql = format!("SELECT {COLS} FROM tickets t WHERE t.id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| ticket_row!(r)).transpose()
    })
}

/// The same ticket locked for update on PostgreSQL (SQLite already holds the write lock).
pub async fn get_for_update(tx: &mut Tx, id: i64) -> Result<Option<TicketRow>> {
    match tx {
        Tx::Postgres(c) => {
            let sql = format!("SELECT {COLS} FROM tickets t WHERE t.id = $1 FOR UPDATE");
            let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **c).await?;
            r.map(|r| ticket_row!(r)).transpose()
        }
        Tx::Sqlite(_) => get(tx, id).await,
    }
}

/// Writes every mutable column of a ticket from `t`.
pub async fn save(tx: &mut Tx, t: &TicketRow) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE tickets SET queue_id = $2, title = $3, status = $4, owner_id = $5, customer_id = $6, category = $7,
             severity = $8, priority = $9, updated_at = $10, resolved_at = $11, merged_into = $12,
             priority_manual = $13, impact = $14 WHERE id = $1")
        .bind(t.id).bind(t.queue_id).bind(&t.title).bind(t.status.as_str()).bind(t.owner_id).bind(t.customer_id)
        .bind(t.category.as_str()).bind(t.severity.as_str()).bind(t.priority).bind(t.updated_at).bind(t.resolved_at)
        .bind(t.merged_into).bind(t.priority_manual).bind(t.impact).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks a ticket as changed now.
pub async fn touch(tx: &mut Tx, id: i64, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Adds a requestor (`cc = false`) or Cc to a ticket; adding twice is harmless.
pub async fn add_contact(tx: &mut Tx, ticket_id: i64, contact_id: i64, cc: bool) -> Result<()> {
    let role = if cc { "cc" } else { "requestor" };
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO ticket_contacts (ticket_id, contact_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(ticket_id).bind(contact_id).bind(role).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes a requestor or Cc; returns whether it was there.
pub async fn remove_contact(tx: &mut Tx, ticket_id: i64, contact_id: i64, cc: bool) -> Result<bool> {
    let role = if cc { "cc" } else { "requestor" };
    let n = with_conn!(tx, c => sqlx::query("DELETE FROM ticket_contacts WHERE ticket_id = $1 AND contact_id = $2 AND role = $3")
        .bind(ticket_id).bind(contact_id).bind(role).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// The requestors and Cc of the given tickets, in ticket order then email.
pub async fn contacts_of(tx: &mut Tx, ticket_ids: &[i64]) -> Result<Vec<TicketContactRow>> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT tc.ticket_id, tc.contact_id, tc.role, c.email, c.name FROM ticket_contacts tc JOIN contacts c ON c.id = tc.contact_id
         WHERE tc.ticket_id IN ({}) ORDER BY tc.ticket_id, tc.role DESC, c.email",
        placeholders(0, ticket_ids.len())
    );
    let args: Vec<Arg> = ticket_ids.iter().map(|i| Arg::Int(*i)).collect();
    with_conn!(tx, c => {
        let rows = bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).fetch_all(&mut *c).await?;
        rows.iter().map(|r| -> Result<TicketContactRow> {
            let role: String = r.try_get("role")?;
            Ok(TicketContactRow { ticket_id: r.try_get("ticket_id")?, contact_id: r.try_get("contact_id")?,
                email: r.try_get("email")?, name: r.try_get("name")?, cc: role == "cc" })
        }).collect()
    })
}

/// A message to add to a ticket.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub ticket_id: i64,
    pub kind: MessageKind,
    pub author_user_id: Option<i64>,
    pub author_contact_id: Option<i64>,
    pub author_label: String,
    pub channel: Channel,
    pub body_text: String,
    pub body_html: Option<String>,
}

const MSG_COLS: &str =
    "id, ticket_id, kind, author_user_id, author_contact_id, author_label, channel, body_text, body_html, created_at";

macro_rules! message_row {
    ($r:expr) => {
        (|| -> Result<MessageRow> {
            let kind: String = $r.try_get("kind")?;
            let channel: String = $r.try_get("channel")?;
            Ok(MessageRow {
                id: $r.try_get("id")?,
                ticket_id: $r.try_get("ticket_id")?,
                kind: parse(&kind)?,
                author_user_id: $r.try_get("author_user_id")?,
                author_contact_id: $r.try_get("author_contact_id")?,
                author_label: $r.try_get("author_label")?,
                channel: parse(&channel)?,
                body_text: $r.try_get("body_text")?,
                body_html: $r.try_get("body_html")?,
                created_at: $r.try_get("created_at")?,
            })
        })()
    };
}

/// Adds a message and indexes it for search under the ticket's `title`.
pub async fn insert_message(tx: &mut Tx, m: &NewMessage, title: &str, now: i64) -> Result<MessageRow> {
    let sql = format!(
        "INSERT INTO messages (ticket_id, kind, author_user_id, author_contact_id, author_label, channel, body_text, body_html, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {MSG_COLS}"
    );
    let row = with_conn!(&mut *tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(m.ticket_id).bind(m.kind.as_str()).bind(m.author_user_id).bind(m.author_contact_id).bind(&m.author_label)
            .bind(m.channel.as_str()).bind(&m.body_text).bind(&m.body_html).bind(now)
            .fetch_one(&mut *c).await?;
        message_row!(r)
    })?;
    search::index_message(tx, row.id, row.ticket_id, row.kind == MessageKind::Reply, title, &row.body_text).await?;
    Ok(row)
}

/// The messages of a ticket, oldest first; only public replies when `public_only`.
pub async fn messages(tx: &mut Tx, ticket_id: i64, public_only: bool) -> Result<Vec<MessageRow>> {
    let sql =
        format!("SELECT {MSG_COLS} FROM messages WHERE ticket_id = $1 AND ($2 = 0 OR kind = 'reply') ORDER BY id");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ticket_id).bind(i64::from(public_only)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| message_row!(r)).collect()
    })
}

/// The message with this id.
pub async fn message(tx: &mut Tx, id: i64) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MSG_COLS} FROM messages WHERE id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| message_row!(r)).transpose()
    })
}

/// Records an attachment of a message (its blob must be stored already).
pub async fn insert_attachment(
    tx: &mut Tx,
    message_id: i64,
    filename: &str,
    content_type: &str,
    size: i64,
    sha256: &str,
) -> Result<AttachmentRow> {
    with_conn!(tx, c => {
        let r = sqlx::query(
            "INSERT INTO attachments (message_id, filename, content_type, size, sha256) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(message_id).bind(filename).bind(content_type).bind(size).bind(sha256).fetch_one(&mut *c).await?;
        Ok(AttachmentRow { id: r.try_get("id")?, message_id, filename: filename.to_owned(), content_type: content_type.to_owned(), size, sha256: sha256.to_owned() })
    })
}

macro_rules! attachment_row {
    ($r:expr) => {
        (|| -> Result<AttachmentRow> {
            Ok(AttachmentRow {
                id: $r.try_get("id")?,
                message_id: $r.try_get("message_id")?,
                filename: $r.try_get("filename")?,
                content_type: $r.try_get("content_type")?,
                size: $r.try_get("size")?,
                sha256: $r.try_get("sha256")?,
            })
        })()
    };
}

/// The attachments of a ticket's messages.
pub async fn attachments(tx: &mut Tx, ticket_id: i64) -> Result<Vec<AttachmentRow>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            "SELECT a.id, a.message_id, a.filename, a.content_type, a.size, a.sha256 FROM attachments a
             JOIN messages m ON m.id = a.message_id WHERE m.ticket_id = $1 ORDER BY a.id")
            .bind(ticket_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| attachment_row!(r)).collect()
    })
}

/// The attachment with this id.
pub async fn attachment(tx: &mut Tx, id: i64) -> Result<Option<AttachmentRow>> {
    with_conn!(tx, c => {
        let r = sqlx::query("SELECT id, message_id, filename, content_type, size, sha256 FROM attachments WHERE id = $1")
            .bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| attachment_row!(r)).transpose()
    })
}

/// Links two tickets; returns false when the link existed already.
pub async fn add_link(tx: &mut Tx, from: i64, to: i64, kind: LinkKind, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "INSERT INTO ticket_links (from_ticket, to_ticket, kind, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(from).bind(to).bind(kind.as_str()).bind(now).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Removes a link; returns whether it existed.
pub async fn remove_link(tx: &mut Tx, from: i64, to: i64, kind: LinkKind) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("DELETE FROM ticket_links WHERE from_ticket = $1 AND to_ticket = $2 AND kind = $3")
        .bind(from).bind(to).bind(kind.as_str()).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Every link from or to a ticket.
pub async fn links(tx: &mut Tx, ticket_id: i64) -> Result<Vec<LinkRow>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            "SELECT from_ticket, to_ticket, kind, created_at FROM ticket_links WHERE from_ticket = $1 OR to_ticket = $1
             ORDER BY created_at, from_ticket, to_ticket")
            .bind(ticket_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| -> Result<LinkRow> {
            let kind: String = r.try_get("kind")?;
            Ok(LinkRow { from_ticket: r.try_get("from_ticket")?, to_ticket: r.try_get("to_ticket")?, kind: parse(&kind)?, created_at: r.try_get("created_at")? })
        }).collect()
    })
}

/// Moves everything of ticket `from` into `into`: messages, contacts, links (self-links dropped).
pub async fn merge_contents(tx: &mut Tx, from: i64, into: i64) -> Result<()> {
    if let Tx::Postgres(c) = tx {
        // The search documents name their ticket on PostgreSQL (the reindex job redoes the text).
        sqlx::query("UPDATE message_fts SET ticket_id = $2 WHERE ticket_id = $1")
            .bind(from)
            .bind(into)
            .execute(&mut **c)
            .await?;
    }
    with_conn!(tx, c => {
        sqlx::query("UPDATE messages SET ticket_id = $2 WHERE ticket_id = $1").bind(from).bind(into).execute(&mut *c).await?;
        sqlx::query("INSERT INTO ticket_contacts (ticket_id, contact_id, role) SELECT $2, contact_id, role FROM ticket_contacts WHERE ticket_id = $1 ON CONFLICT DO NOTHING")
            .bind(from).bind(into).execute(&mut *c).await?;
        sqlx::query("INSERT INTO ticket_links (from_ticket, to_ticket, kind, created_at)
                     SELECT CASE WHEN from_ticket = $1 THEN $2 ELSE from_ticket END, CASE WHEN to_ticket = $1 THEN $2 ELSE to_ticket END, kind, created_at
                     FROM ticket_links WHERE (from_ticket = $1 OR to_ticket = $1) AND from_ticket <> $2 AND to_ticket <> $2
                     ON CONFLICT DO NOTHING")
            .bind(from).bind(into).execute(&mut *c).await?;
        sqlx::query("DELETE FROM ticket_links WHERE from_ticket = $1 OR to_ticket = $1").bind(from).execute(&mut *c).await?;
        // Tickets merged into `from` earlier now point straight at the survivor.
        sqlx::query("UPDATE tickets SET merged_into = $2 WHERE merged_into = $1").bind(from).bind(into).execute(&mut *c).await?;
    });
    Ok(())
}

/// Sets (or clears, with `None`) a custom field value of a ticket.
pub async fn set_field(tx: &mut Tx, ticket_id: i64, field_id: i64, value: Option<&str>) -> Result<()> {
    with_conn!(tx, c => match value {
        Some(v) => sqlx::query("INSERT INTO field_values (ticket_id, field_id, value) VALUES ($1, $2, $3)
                                ON CONFLICT (ticket_id, field_id) DO UPDATE SET value = excluded.value")
            .bind(ticket_id).bind(field_id).bind(v).execute(&mut *c).await?.rows_affected(),
        None => sqlx::query("DELETE FROM field_values WHERE ticket_id = $1 AND field_id = $2")
            .bind(ticket_id).bind(field_id).execute(&mut *c).await?.rows_affected(),
    });
    Ok(())
}

/// The custom field values of a ticket: `(field_id, value)`.
pub async fn field_values(tx: &mut Tx, ticket_id: i64) -> Result<Vec<(i64, String)>> {
    let rows: Vec<(i64, String)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT field_id, value FROM field_values WHERE ticket_id = $1 ORDER BY field_id").bind(ticket_id).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// How tickets are ordered in a list (always newest first among equals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// By number, newest first.
    #[default]
    Newest,
    /// By last change, most recent first.
    Updated,
    /// By priority, highest first.
    Priority,
    /// By last change, least recent first (what has waited longest).
    Stale,
}

/// Which tickets to list. Every `Some`/non-empty member narrows the list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these queues (an agent's visible queues); `None` means all.
    pub queue_ids: Option<Vec<i64>>,
    /// Only these statuses; empty means every status but `deleted`.
    pub statuses: Vec<Status>,
    /// `Some(None)`: unowned; `Some(Some(id))`: owned by `id`.
    pub owner: Option<Option<i64>>,
    /// Only these tickets (when not empty).
    pub ids: Vec<i64>,
    /// Only tickets of these customer codes.
    pub customer_codes: Vec<String>,
    /// Only tickets about the line with this identifier.
    pub line: Option<String>,
    /// Only tickets of these categories.
    pub categories: Vec<Category>,
    /// Only tickets whose requestors include one of these emails.
    pub requestor_emails: Vec<String>,
    /// Only tickets of customers of this partner.
    pub partner_id: Option<i64>,
    /// Only tickets of this customer, or where this contact is requestor or Cc.
    pub contact: Option<(Option<i64>, i64)>,
    /// Full-text query (SQLite FTS5 terms / PostgreSQL tsquery), built by `search`.
    pub text: Option<search::TextQuery>,
    /// Search only public replies (for customers and partners).
    pub public_only: bool,
    /// Order.
    pub order: Order,
    /// Continue after this `(key, id)` of the previous page.
    pub after: Option<(i64, i64)>,
    /// Page size.
    pub limit: i64,
    /// Only tickets `lo..=hi` whose messages start at `min_message`: set by the windowed search
    /// itself; callers leave it `None`.
    #[doc(hidden)]
    pub window: Option<(i64, i64, i64)>,
}

/// The most (status, queue) branches a listing reads separately; beyond, one plain query (SQLite
/// allows 500 terms in a compound SELECT).
const MAX_BRANCHES: usize = 100;

/// Lists tickets with their queue, owner, customer code and requestors.
pub async fn list(tx: &mut Tx, f: &Filter) -> Result<Vec<TicketListRow>> {
    // SQLite's FTS5 reads a range of document ids cheaply, so a walk over ticket windows stops
    // early; PostgreSQL's GIN index evaluates the whole match for every window, so it gets one query.
    if f.text.is_some() && f.order == Order::Newest && f.window.is_none() && tx.backend() == Backend::Sqlite {
        return list_text_newest(tx, f).await;
    }
    let mut wh: Vec<String> = vec!["t.merged_into IS NULL".into()];
    let mut args: Vec<Arg> = Vec::new();
    let push = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    if f.queue_ids.as_ref().is_some_and(|ids| ids.is_empty()) {
        return Ok(Vec::new());
    }
    let statuses: Vec<Status> = if f.statuses.is_empty() {
        Status::ALL.iter().copied().filter(|s| *s != Status::Deleted).collect()
    } else {
        // Each status once (they come from URLs), in a stable order.
        Status::ALL.iter().copied().filter(|s| f.statuses.contains(s)).collect()
    };
    match f.owner {
        Some(None) => wh.push("t.owner_id IS NULL".into()),
        Some(Some(id)) => {
            let p = push(&mut args, Arg::Int(id));
            wh.push(format!("t.owner_id = {p}"));
        }
        None => {}
    }
    if !f.ids.is_empty() {
        let ph: Vec<String> = f.ids.iter().map(|id| push(&mut args, Arg::Int(*id))).collect();
        wh.push(format!("t.id IN ({})", ph.join(", ")));
    }
    if let Some(line) = &f.line {
        let p = push(&mut args, Arg::Text(line.clone()));
        wh.push(format!("t.line_id = (SELECT id FROM lines WHERE identifier = {p})"));
    }
    if !f.customer_codes.is_empty() {
        let ph: Vec<String> = f.customer_codes.iter().map(|s| push(&mut args, Arg::Text(s.clone()))).collect();
        wh.push(format!("t.customer_id IN (SELECT id FROM customers WHERE code IN ({}))", ph.join(", ")));
    }
    if !f.categories.is_empty() {
        let ph: Vec<String> = f.categories.iter().map(|c| push(&mut args, Arg::Text(c.as_str().to_owned()))).collect();
        wh.push(format!("t.category IN ({})", ph.join(", ")));
    }
    if !f.requestor_emails.is_empty() {
        let ph: Vec<String> = f.requestor_emails.iter().map(|s| push(&mut args, Arg::Text(s.clone()))).collect();
        wh.push(format!(
            "t.id IN (SELECT tc.ticket_id FROM ticket_contacts tc JOIN contacts c ON c.id = tc.contact_id
                      WHERE tc.role = 'requestor' AND c.email IN ({}))",
            ph.join(", ")
        ));
    }
    if let Some(p) = f.partner_id {
        let p = push(&mut args, Arg::Int(p));
        wh.push(format!("t.customer_id IN (SELECT id FROM customers WHERE partner_id = {p})"));
    }
    if let Some((customer, contact)) = f.contact {
        let ct = push(&mut args, Arg::Int(contact));
        let own = format!("t.id IN (SELECT ticket_id FROM ticket_contacts WHERE contact_id = {ct})");
        match customer {
            Some(cu) => {
                let cu = push(&mut args, Arg::Int(cu));
                wh.push(format!("(t.customer_id = {cu} OR {own})"));
            }
            None => wh.push(own),
        }
    }
    if let Some(text) = &f.text {
        wh.push(search::matching_tickets(tx.backend(), text, f.public_only, f.window, &mut args));
    }
    let (key, order) = match f.order {
        Order::Newest => ("t.id", "t.id DESC"),
        Order::Updated => ("t.updated_at", "t.updated_at DESC, t.id DESC"),
        Order::Priority => ("t.priority", "t.priority DESC, t.id DESC"),
        Order::Stale => ("t.updated_at", "t.updated_at ASC, t.id ASC"),
    };
    if let Some((k, id)) = f.after {
        if f.order == Order::Newest {
            let p = push(&mut args, Arg::Int(id));
            wh.push(format!("t.id < {p}"));
        } else {
            let pk = push(&mut args, Arg::Int(k));
            let pi = push(&mut args, Arg::Int(id));
            let past = if f.order == Order::Stale { ">" } else { "<" };
            wh.push(format!("({key} {past} {pk} OR ({key} = {pk} AND t.id {past} {pi}))"));
        }
    }
    let lim = push(&mut args, Arg::Int(f.limit.clamp(1, 500)));
    // Every queue when none is named: the indexes start with the queue.
    let all: Vec<i64> = match &f.queue_ids {
        None if f.text.is_none() => {
            with_conn!(&mut *tx, c => sqlx::query_scalar("SELECT id FROM queues ORDER BY id").fetch_all(&mut *c).await)?
        }
        _ => Vec::new(),
    };
    let queues: &[i64] = f.queue_ids.as_deref().unwrap_or(&all);
    if f.text.is_none() && !queues.is_empty() && queues.len() * statuses.len() <= MAX_BRANCHES {
        // The first tickets of each (status, queue) in the page's order come straight from an
        // index on (queue_id, status, key, id) — key being the id, the priority or the last
        // change —; the top of their union is the answer. One branch per pair keeps every
        // queue view fast whatever the planner's statistics say.
        let common = wh.join(" AND ");
        let mut branches = Vec::new();
        for st in &statuses {
            let ps = push(&mut args, Arg::Text(st.as_str().into()));
            for q in queues {
                let pq = push(&mut args, Arg::Int(*q));
                branches.push(format!(
                    "SELECT id FROM (SELECT t.id FROM tickets t WHERE {common} AND t.status = {ps} AND t.queue_id = {pq} ORDER BY {order} LIMIT {lim}) AS b{}",
                    branches.len()
                ));
            }
        }
        wh = vec![format!("t.id IN ({})", branches.join(" UNION ALL "))];
    } else {
        if let Some(ids) = &f.queue_ids {
            let ph: Vec<String> = ids.iter().map(|i| push(&mut args, Arg::Int(*i))).collect();
            wh.push(format!("t.queue_id IN ({})", ph.join(", ")));
        }
        let ph: Vec<String> = statuses.iter().map(|s| push(&mut args, Arg::Text(s.as_str().into()))).collect();
        wh.push(format!("t.status IN ({})", ph.join(", ")));
    }
    let sql = format!(
        "SELECT {COLS}, q.slug AS queue_slug, q.reference_prefix, u.email AS owner_email, u.name AS owner_name, cu.code AS customer_code
         FROM tickets t JOIN queues q ON q.id = t.queue_id LEFT JOIN users u ON u.id = t.owner_id
         LEFT JOIN customers cu ON cu.id = t.customer_id
         WHERE {} ORDER BY {order} LIMIT {lim}",
        wh.join(" AND ")
    );
    let mut out: Vec<TicketListRow> = with_conn!(&mut *tx, c => {
        let rows = bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).fetch_all(&mut *c).await?;
        rows.iter().map(|r| -> Result<TicketListRow> {
            Ok(TicketListRow {
                ticket: ticket_row!(r)?,
                queue_slug: r.try_get("queue_slug")?,
                reference_prefix: r.try_get("reference_prefix")?,
                owner_email: r.try_get("owner_email")?,
                owner_name: r.try_get("owner_name")?,
                customer_code: r.try_get("customer_code")?,
                requestors: Vec::new(),
            })
        }).collect::<Result<Vec<_>>>()
    })?;
    let ids: Vec<i64> = out.iter().map(|r| r.ticket.id).collect();
    for c in contacts_of(tx, &ids).await? {
        if !c.cc
            && let Some(row) = out.iter_mut().find(|r| r.ticket.id == c.ticket_id)
        {
            row.requestors.push(c.email);
        }
    }
    Ok(out)
}

/// A full-text search, newest tickets first, in windows of ticket numbers from the newest down
/// (each four times wider than the last). In each window only the search documents from the
/// window's first message on are read, so common words cost a page of results, not every match
/// in the database; the walk stops as soon as the page is full.
async fn list_text_newest(tx: &mut Tx, f: &Filter) -> Result<Vec<TicketListRow>> {
    let max: Option<i64> =
        with_conn!(&mut *tx, c => sqlx::query_scalar("SELECT MAX(id) FROM tickets").fetch_one(&mut *c).await)?;
    let limit = f.limit.clamp(1, 500);
    let mut hi = match f.after {
        Some((_, id)) => id - 1,
        None => max.unwrap_or(0),
    };
    let mut width = 4096i64;
    let mut out = Vec::new();
    while hi >= 1 && (out.len() as i64) < limit {
        let lo = (hi - width + 1).max(1);
        let first: Option<i64> = with_conn!(&mut *tx, c => sqlx::query_scalar(
            // `id + 0` keeps PostgreSQL from answering MIN by walking the primary key (its min/max
            // shortcut), which is slow for old windows; both backends then read the (ticket_id, id) range.
            "SELECT MIN(id + 0) FROM messages WHERE ticket_id BETWEEN $1 AND $2").bind(lo).bind(hi).fetch_one(&mut *c).await)?;
        if let Some(first) = first {
            let window =
                Filter { window: Some((lo, hi, first)), after: None, limit: limit - out.len() as i64, ..f.clone() };
            out.extend(Box::pin(list(tx, &window)).await?);
        }
        hi = lo - 1;
        width = width.saturating_mul(4);
    }
    Ok(out)
}

/// Per queue: tickets in status new, and unowned tickets still to handle (new, open, stalled).
pub async fn queue_counts(tx: &mut Tx) -> Result<Vec<(i64, i64, i64)>> {
    let rows: Vec<(i64, i64, i64)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT queue_id,
                COALESCE(SUM(CASE WHEN status = 'new' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN owner_id IS NULL THEN 1 ELSE 0 END), 0)
         FROM tickets WHERE status IN ('new', 'open', 'stalled') AND merged_into IS NULL
         GROUP BY queue_id")
        .fetch_all(&mut *c).await)?;
    Ok(rows)
}
