//! The email channel's records: messages in and out by Message-ID, queue addresses, the
//! quarantine, bouncing addresses.

use sqlx::Row;

use crate::{Result, Tx};

/// An email recorded with the change it caused (or with nothing, when it was ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    /// `in` or `out`.
    pub direction: &'static str,
    /// `Message-ID` without angle brackets.
    pub message_id: String,
    /// The sender's address (inbound), lowercased.
    pub from_address: String,
    /// The raw message's blob, if kept.
    pub raw_sha256: Option<String>,
    /// What became of it: `new_ticket`, `reply`, `comment`, `held`, `refused`, `ignored`, `bounce`.
    pub outcome: String,
}

/// Records an email beside the ticket and message it made.
pub async fn insert(
    tx: &mut Tx,
    r: &MailRecord,
    ticket_id: Option<i64>,
    message_row_id: Option<i64>,
    now: i64,
) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO mail_messages (direction, message_id, ticket_id, message_row_id, from_address, raw_sha256, outcome, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(r.direction).bind(&r.message_id).bind(ticket_id).bind(message_row_id).bind(&r.from_address)
        .bind(&r.raw_sha256).bind(&r.outcome).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The ticket of the most recent email (ours or theirs) with one of these Message-IDs.
pub async fn ticket_of_message_ids(tx: &mut Tx, ids: &[String]) -> Result<Option<i64>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT ticket_id FROM mail_messages WHERE ticket_id IS NOT NULL AND message_id IN ({}) ORDER BY id DESC LIMIT 1",
        crate::placeholders(0, ids.len())
    );
    let args: Vec<crate::Arg> = ids.iter().map(|i| crate::Arg::Text(i.clone())).collect();
    let id: Option<i64> = with_conn!(tx, c =>
        crate::bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), &args).fetch_optional(&mut *c).await)?;
    Ok(id)
}

/// A queue's email settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMail {
    pub queue_id: i64,
    pub slug: String,
    pub name: String,
    pub reference_prefix: String,
    pub active: bool,
    pub address: Option<String>,
    pub comment_address: Option<String>,
    /// `create`, `hold` or `refuse`.
    pub unknown_sender: String,
    /// `comment` or `new_ticket`.
    pub stranger_reply: String,
    pub mask_sensitive: bool,
}

const QUEUE_MAIL: &str = "SELECT id, slug, name, reference_prefix, active, address, comment_address, unknown_sender, stranger_reply, mask_sensitive FROM queues";

macro_rules! queue_mail_row {
    ($r:expr) => {
        QueueMail {
            queue_id: $r.try_get("id")?,
            slug: $r.try_get("slug")?,
            name: $r.try_get("name")?,
            reference_prefix: $r.try_get("reference_prefix")?,
            active: $r.try_get("active")?,
            address: $r.try_get("address")?,
            comment_address: $r.try_get("comment_address")?,
            unknown_sender: $r.try_get("unknown_sender")?,
            stranger_reply: $r.try_get("stranger_reply")?,
            mask_sensitive: $r.try_get("mask_sensitive")?,
        }
    };
}

/// The queue whose address or comment address is `address` (lowercased).
pub async fn queue_by_address(tx: &mut Tx, address: &str) -> Result<Option<QueueMail>> {
    let sql = format!("{QUEUE_MAIL} WHERE address = $1 OR comment_address = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(address).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(queue_mail_row!(r))),
            None => Ok(None),
        }
    })
}

/// Every queue's email settings.
pub async fn all_queue_mail(tx: &mut Tx) -> Result<Vec<QueueMail>> {
    let sql = format!("{QUEUE_MAIL} ORDER BY id");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(queue_mail_row!(r))).collect()
    })
}

/// What one query tells about an inbound message and its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderFacts {
    /// What this Message-ID delivered to this queue already became (its ticket and outcome): a
    /// redelivery. The same message sent to two queues' addresses is two deliveries.
    pub seen: Option<(Option<i64>, String)>,
    /// Messages from the sender since the given instant.
    pub recent: i64,
    /// Whether the sender's address bounces.
    pub bouncing: bool,
}

/// What is known of an inbound message and its sender, in one round trip: whether this
/// Message-ID was already delivered to `queue_id`, the sender's messages since `since`, and
/// whether their address bounces.
pub async fn sender_facts(
    tx: &mut Tx,
    message_id: &str,
    queue_id: i64,
    address: &str,
    since: i64,
) -> Result<SenderFacts> {
    with_conn!(tx, c => {
        let r = sqlx::query(
            "SELECT
               (SELECT m.id FROM mail_messages m LEFT JOIN tickets t ON t.id = m.ticket_id
                 WHERE m.message_id = $1 AND m.direction = 'in' AND (t.queue_id = $2 OR m.ticket_id IS NULL)
                 ORDER BY m.id LIMIT 1) AS seen_id,
               (SELECT COUNT(*) FROM mail_messages WHERE direction = 'in' AND from_address = $3 AND created_at >= $4) AS recent,
               (SELECT COUNT(*) FROM mail_bounces WHERE address = $3) AS bouncing")
            .bind(message_id).bind(queue_id).bind(address).bind(since).fetch_one(&mut *c).await?;
        let seen_id: Option<i64> = r.try_get("seen_id")?;
        let seen = match seen_id {
            Some(id) => {
                let row = sqlx::query("SELECT ticket_id, outcome FROM mail_messages WHERE id = $1")
                    .bind(id).fetch_one(&mut *c).await?;
                Some((row.try_get("ticket_id")?, row.try_get("outcome")?))
            }
            None => None,
        };
        let bouncing: i64 = r.try_get("bouncing")?;
        Ok(SenderFacts { seen, recent: r.try_get("recent")?, bouncing: bouncing > 0 })
    })
}

/// A queue's email settings by id.
pub async fn queue_mail_by_id(tx: &mut Tx, id: i64) -> Result<Option<QueueMail>> {
    let sql = format!("{QUEUE_MAIL} WHERE id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(queue_mail_row!(r))),
            None => Ok(None),
        }
    })
}

/// Sets a queue's email settings (addresses lowercased by the caller).
pub async fn set_queue_mail(tx: &mut Tx, q: &QueueMail) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE queues SET address = $2, comment_address = $3, unknown_sender = $4, stranger_reply = $5, mask_sensitive = $6 WHERE id = $1")
        .bind(q.queue_id).bind(&q.address).bind(&q.comment_address).bind(&q.unknown_sender).bind(&q.stranger_reply)
        .bind(q.mask_sensitive).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Keeps a message aside; returns its quarantine id.
#[allow(clippy::too_many_arguments)]
pub async fn quarantine(
    tx: &mut Tx,
    reason: &str,
    detail: &str,
    queue_id: Option<i64>,
    from_address: &str,
    subject: &str,
    raw_sha256: &str,
    now: i64,
) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO quarantine (reason, detail, queue_id, from_address, subject, raw_sha256, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(reason).bind(detail).bind(queue_id).bind(from_address).bind(subject).bind(raw_sha256).bind(now)
        .fetch_one(&mut *c).await)?;
    Ok(id)
}

/// Marks an address as bouncing (or records one more bounce).
pub async fn mark_bouncing(tx: &mut Tx, address: &str, detail: &str, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO mail_bounces (address, since, last_at, detail) VALUES ($1, $2, $2, $3)
         ON CONFLICT (address) DO UPDATE SET last_at = $2, detail = $3")
        .bind(address).bind(now).bind(detail).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Forgets a bounce: the address works again (mail came from it).
pub async fn clear_bouncing(tx: &mut Tx, address: &str) -> Result<()> {
    with_conn!(tx, c => sqlx::query("DELETE FROM mail_bounces WHERE address = $1")
        .bind(address).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Whether mail to `address` bounces.
pub async fn is_bouncing(tx: &mut Tx, address: &str) -> Result<bool> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM mail_bounces WHERE address = $1")
        .bind(address).fetch_one(&mut *c).await)?;
    Ok(n > 0)
}

/// Which of these addresses bounce.
pub async fn bouncing_among(tx: &mut Tx, addresses: &[String]) -> Result<Vec<String>> {
    if addresses.is_empty() {
        return Ok(Vec::new());
    }
    let sql =
        format!("SELECT address FROM mail_bounces WHERE address IN ({})", crate::placeholders(0, addresses.len()));
    let args: Vec<crate::Arg> = addresses.iter().map(|a| crate::Arg::Text(a.clone())).collect();
    let found: Vec<String> = with_conn!(tx, c =>
        crate::bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), &args).fetch_all(&mut *c).await)?;
    Ok(found)
}

/// A message kept aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub id: i64,
    /// `malformed`, `rejected`, `unknown_sender`, `no_sender`, `no_ticket`, `too_large`.
    pub reason: String,
    pub detail: String,
    pub queue_id: Option<i64>,
    pub from_address: String,
    pub subject: String,
    pub raw_sha256: String,
    /// `held` or `discarded`.
    pub state: String,
    pub received_at: i64,
    pub decided_at: Option<i64>,
}

const QUARANTINE: &str = "SELECT id, reason, detail, queue_id, from_address, subject, raw_sha256, state, received_at, decided_at FROM quarantine";

macro_rules! quarantine_row {
    ($r:expr) => {
        QuarantineRow {
            id: $r.try_get("id")?,
            reason: $r.try_get("reason")?,
            detail: $r.try_get("detail")?,
            queue_id: $r.try_get("queue_id")?,
            from_address: $r.try_get("from_address")?,
            subject: $r.try_get("subject")?,
            raw_sha256: $r.try_get("raw_sha256")?,
            state: $r.try_get("state")?,
            received_at: $r.try_get("received_at")?,
            decided_at: $r.try_get("decided_at")?,
        }
    };
}

/// Messages in the quarantine in `state`, newest first, below id `before` (a page of `limit`).
pub async fn quarantined(tx: &mut Tx, state: &str, before: Option<i64>, limit: i64) -> Result<Vec<QuarantineRow>> {
    let sql = format!("{QUARANTINE} WHERE state = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state).bind(before.unwrap_or(i64::MAX)).bind(limit)
            .fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(quarantine_row!(r))).collect()
    })
}

/// One message of the quarantine.
pub async fn quarantined_one(tx: &mut Tx, id: i64) -> Result<Option<QuarantineRow>> {
    let sql = format!("{QUARANTINE} WHERE id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(quarantine_row!(r))),
            None => Ok(None),
        }
    })
}

/// Marks a held message as decided (`discarded`); `false` when it was not held.
pub async fn decide_quarantined(tx: &mut Tx, id: i64, state: &str, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("UPDATE quarantine SET state = $2, decided_at = $3 WHERE id = $1 AND state = 'held'")
        .bind(id).bind(state).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The raw email a ticket message came from, if it was kept: its blob.
pub async fn raw_of_message(tx: &mut Tx, message_row_id: i64) -> Result<Option<String>> {
    let sha: Option<Option<String>> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT raw_sha256 FROM mail_messages WHERE message_row_id = $1 AND direction = 'in' ORDER BY id LIMIT 1")
        .bind(message_row_id).fetch_optional(&mut *c).await)?;
    Ok(sha.flatten())
}
