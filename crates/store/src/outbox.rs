//! Outbound email: the outbox (messages rendered in the transaction of the change that causes
//! them, sent later by a job), who to notify, and the templates admins override.

use sqlx::Row;

use crate::{Result, Tx};

/// An email waiting in (or gone from) the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub kind: String,
    /// `Message-ID` without angle brackets.
    pub message_id: String,
    /// The envelope sender.
    pub sender: String,
    /// The envelope recipients, a JSON array of addresses.
    pub recipients: String,
    pub raw_sha256: String,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// An email to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewOutbox<'a> {
    pub ticket_id: Option<i64>,
    pub kind: &'a str,
    pub message_id: &'a str,
    pub sender: &'a str,
    /// A JSON array of addresses.
    pub recipients: &'a str,
    pub raw_sha256: &'a str,
}

const COLS: &str = "id, ticket_id, kind, message_id, sender, recipients, raw_sha256, state, CAST(attempts AS BIGINT) AS attempts, last_error, created_at, sent_at";

macro_rules! outbox_row {
    ($r:expr) => {
        (|| -> Result<OutboxRow> {
            Ok(OutboxRow {
                id: $r.try_get("id")?,
                ticket_id: $r.try_get("ticket_id")?,
                kind: $r.try_get("kind")?,
                message_id: $r.try_get("message_id")?,
                sender: $r.try_get("sender")?,
                recipients: $r.try_get("recipients")?,
                raw_sha256: $r.try_get("raw_sha256")?,
                state: $r.try_get("state")?,
                attempts: $r.try_get("attempts")?,
                last_error: $r.try_get("last_error")?,
                created_at: $r.try_get("created_at")?,
                sent_at: $r.try_get("sent_at")?,
            })
        })()
    };
}

/// One email to queue: its outbox row, its bytes, and the ticket message that caused it.
#[derive(Debug, Clone)]
pub struct Queued<'a> {
    pub outbox: NewOutbox<'a>,
    pub raw: Vec<u8>,
    pub message_row_id: Option<i64>,
}

/// Queues emails in four statements whatever their number (a change's acknowledgement and
/// agents' notice go together): their bytes, outbox rows, records (for emails about a ticket),
/// and a delivery job of `job_kind` for each (its payload `{"outbox": id}`). Returns the outbox
/// ids, in order. At most 4,000 emails per call (SQLite's limit of bound values per statement);
/// anonymous `?` parameters on SQLite, one array per column on PostgreSQL.
pub async fn queue_many(
    tx: &mut Tx,
    items: &[Queued<'_>],
    job_kind: &str,
    max_attempts: i64,
    now: i64,
) -> Result<Vec<i64>> {
    use crate::{Arg, bind_args, param_rows};
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if let Tx::Postgres(c) = tx {
        let ids = queue_many_pg(c, items, job_kind, max_attempts, now).await?;
        crate::jobs::notify(tx, job_kind).await?;
        return Ok(ids);
    }
    let sqlite = true;
    let n = items.len();
    // Bytes: once per content.
    let mut args = Vec::with_capacity(n * 4);
    let mut seen = std::collections::HashSet::with_capacity(n);
    for it in items {
        if !seen.insert(it.outbox.raw_sha256) {
            continue;
        }
        args.extend([
            Arg::Text(it.outbox.raw_sha256.to_owned()),
            Arg::Int(it.raw.len() as i64),
            Arg::Bytes(it.raw.clone()),
            Arg::Int(now),
        ]);
    }
    let sql = format!(
        "INSERT INTO blobs (sha256, size, data, created_at) VALUES {} ON CONFLICT (sha256) DO NOTHING",
        param_rows(sqlite, seen.len(), "(#, #, #, #)")
    );
    with_conn!(tx, c => bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).execute(&mut *c).await.map(|_| ()))?;

    let mut args = Vec::with_capacity(n * 7);
    for it in items {
        let o = &it.outbox;
        args.extend([
            Arg::OptInt(o.ticket_id),
            Arg::Text(o.kind.to_owned()),
            Arg::Text(o.message_id.to_owned()),
            Arg::Text(o.sender.to_owned()),
            Arg::Text(o.recipients.to_owned()),
            Arg::Text(o.raw_sha256.to_owned()),
            Arg::Int(now),
        ]);
    }
    let sql = format!(
        "INSERT INTO outbox (ticket_id, kind, message_id, sender, recipients, raw_sha256, state, attempts, created_at)
         VALUES {} RETURNING id, message_id",
        param_rows(sqlite, n, "(#, #, #, #, #, #, 'queued', 0, #)")
    );
    let made: Vec<(i64, String)> = with_conn!(tx, c =>
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &args).fetch_all(&mut *c).await)?;
    let ids = ids_in_order(items, made)?;

    // The record for threading: emails about a ticket (one without, an alert or a refusal, has
    // its record in the outbox alone; nothing threads on it).
    let threaded: Vec<&Queued<'_>> = items.iter().filter(|it| it.outbox.ticket_id.is_some()).collect();
    let mut args = Vec::with_capacity(threaded.len() * 8);
    for it in &threaded {
        let o = &it.outbox;
        args.extend([
            Arg::Text("out".into()),
            Arg::Text(o.message_id.to_owned()),
            Arg::OptInt(o.ticket_id),
            Arg::OptInt(it.message_row_id),
            Arg::Text(o.sender.to_lowercase()),
            Arg::Text(o.raw_sha256.to_owned()),
            Arg::Text(o.kind.to_owned()),
            Arg::Int(now),
        ]);
    }
    let sql = format!(
        "INSERT INTO mail_messages (direction, message_id, ticket_id, message_row_id, from_address, raw_sha256, outcome, created_at) VALUES {}",
        param_rows(sqlite, threaded.len(), "(#, #, #, #, #, #, #, #)")
    );
    if !threaded.is_empty() {
        with_conn!(tx, c => bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).execute(&mut *c).await.map(|_| ()))?;
    }

    let mut args = Vec::with_capacity(n * 6);
    for id in &ids {
        args.extend([
            Arg::Text(job_kind.to_owned()),
            Arg::Text(format!("{{\"outbox\":{id}}}")),
            Arg::Int(max_attempts),
            Arg::Int(now),
            Arg::Int(now),
            Arg::Int(now),
        ]);
    }
    let sql = format!(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at) VALUES {}",
        param_rows(sqlite, n, "(#, #, 'queued', 0, #, #, #, #)")
    );
    with_conn!(tx, c => bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).execute(&mut *c).await.map(|_| ()))?;
    crate::jobs::notify(tx, job_kind).await?;
    Ok(ids)
}

/// The outbox ids of `items` from the rows an insert returned (in no particular order).
fn ids_in_order(items: &[Queued<'_>], made: Vec<(i64, String)>) -> Result<Vec<i64>> {
    let made: std::collections::HashMap<String, i64> = made.into_iter().map(|(id, m)| (m, id)).collect();
    items
        .iter()
        .map(|it| {
            made.get(it.outbox.message_id)
                .copied()
                .ok_or_else(|| crate::Error::Other(format!("outbox row of {} not returned", it.outbox.message_id)))
        })
        .collect()
}

/// [`queue_many`] on PostgreSQL: each statement binds one array per column (`UNNEST`), which
/// PostgreSQL parses and plans in a fraction of the time of thousands of `$N` parameters.
async fn queue_many_pg(
    c: &mut sqlx::PgConnection,
    items: &[Queued<'_>],
    job_kind: &str,
    max_attempts: i64,
    now: i64,
) -> Result<Vec<i64>> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let (mut sha, mut size, mut data) = (Vec::new(), Vec::new(), Vec::new());
    for it in items {
        if seen.insert(it.outbox.raw_sha256) {
            sha.push(it.outbox.raw_sha256.to_owned());
            size.push(it.raw.len() as i64);
            data.push(it.raw.clone());
        }
    }
    sqlx::query(
        "INSERT INTO blobs (sha256, size, data, created_at)
         SELECT h, n, d, $4 FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BYTEA[]) AS u(h, n, d)
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(sha)
    .bind(size)
    .bind(data)
    .bind(now)
    .execute(&mut *c)
    .await?;
    let ticket: Vec<Option<i64>> = items.iter().map(|it| it.outbox.ticket_id).collect();
    let kind: Vec<&str> = items.iter().map(|it| it.outbox.kind).collect();
    let message_id: Vec<&str> = items.iter().map(|it| it.outbox.message_id).collect();
    let sender: Vec<&str> = items.iter().map(|it| it.outbox.sender).collect();
    let recipients: Vec<&str> = items.iter().map(|it| it.outbox.recipients).collect();
    let hash: Vec<&str> = items.iter().map(|it| it.outbox.raw_sha256).collect();
    let made: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO outbox (ticket_id, kind, message_id, sender, recipients, raw_sha256, state, attempts, created_at)
         SELECT t, k, m, s, r, h, 'queued', 0, $7
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[]) AS u(t, k, m, s, r, h)
         RETURNING id, message_id",
    )
    .bind(&ticket)
    .bind(&kind)
    .bind(&message_id)
    .bind(&sender)
    .bind(&recipients)
    .bind(&hash)
    .bind(now)
    .fetch_all(&mut *c)
    .await?;
    let ids = ids_in_order(items, made)?;
    let threaded: Vec<&Queued<'_>> = items.iter().filter(|it| it.outbox.ticket_id.is_some()).collect();
    let message_id: Vec<&str> = threaded.iter().map(|it| it.outbox.message_id).collect();
    let ticket: Vec<Option<i64>> = threaded.iter().map(|it| it.outbox.ticket_id).collect();
    let row: Vec<Option<i64>> = threaded.iter().map(|it| it.message_row_id).collect();
    let from: Vec<String> = threaded.iter().map(|it| it.outbox.sender.to_lowercase()).collect();
    let hash: Vec<&str> = threaded.iter().map(|it| it.outbox.raw_sha256).collect();
    let kind: Vec<&str> = threaded.iter().map(|it| it.outbox.kind).collect();
    sqlx::query(
        "INSERT INTO mail_messages (direction, message_id, ticket_id, message_row_id, from_address, raw_sha256, outcome, created_at)
         SELECT 'out', m, t, r, f, h, k, $7
         FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::TEXT[]) AS u(m, t, r, f, h, k)",
    )
    .bind(&message_id)
    .bind(&ticket)
    .bind(&row)
    .bind(&from)
    .bind(&hash)
    .bind(&kind)
    .bind(now)
    .execute(&mut *c)
    .await?;
    let payloads: Vec<String> = ids.iter().map(|id| format!("{{\"outbox\":{id}}}")).collect();
    sqlx::query(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at)
         SELECT $1, p, 'queued', 0, $2, $3, $3, $3 FROM UNNEST($4::TEXT[]) AS u(p)",
    )
    .bind(job_kind)
    .bind(max_attempts)
    .bind(now)
    .bind(&payloads)
    .execute(&mut *c)
    .await?;
    Ok(ids)
}

/// How many outbox rows are in `state`.
pub async fn count_in_state(tx: &mut Tx, state: &str) -> Result<i64> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = $1")
        .bind(state).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// An outbox row by id.
pub async fn get(tx: &mut Tx, id: i64) -> Result<Option<OutboxRow>> {
    let sql = format!("SELECT {COLS} FROM outbox WHERE id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| outbox_row!(r)).transpose()
    })
}

/// The outbox rows of a ticket, oldest first.
pub async fn of_ticket(tx: &mut Tx, ticket_id: i64) -> Result<Vec<OutboxRow>> {
    let sql = format!("SELECT {COLS} FROM outbox WHERE ticket_id = $1 ORDER BY id");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ticket_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| outbox_row!(r)).collect()
    })
}

/// Marks a queued email sent; false when it was not queued any more.
pub async fn mark_sent(tx: &mut Tx, id: i64, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = NULL, sent_at = $2 WHERE id = $1 AND state = 'queued'")
        .bind(id).bind(now).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Marks a queued email failed for good, keeping the server's reply; false when it was not queued.
pub async fn mark_failed(tx: &mut Tx, id: i64, error: &str) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1 AND state = 'queued'")
        .bind(id).bind(error).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Records a failed attempt that will be retried.
pub async fn mark_attempt(tx: &mut Tx, id: i64, error: &str) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1 AND state = 'queued'")
        .bind(id).bind(error).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The latest `limit` Message-IDs of a ticket's emails, in and out, oldest first, leaving out
/// the notices sent to agents (kinds `agent_…`): the thread a requestor's mail client knows.
pub async fn message_ids_of_ticket(tx: &mut Tx, ticket_id: i64, limit: i64) -> Result<Vec<String>> {
    let mut ids: Vec<String> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT message_id FROM mail_messages WHERE ticket_id = $1 AND NOT (direction = 'out' AND outcome LIKE 'agent%')
         ORDER BY id DESC LIMIT $2")
        .bind(ticket_id).bind(limit).fetch_all(&mut *c).await)?;
    ids.reverse();
    Ok(ids)
}

/// Someone to notify: address, name and language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub name: String,
    /// `en`, `it`, `ca` (or whatever was stored; the caller falls back).
    pub language: String,
    /// A contact in Cc (false for requestors and users).
    pub cc: bool,
    /// The address bounces (see `mail::mark_bouncing`): nothing is sent to it.
    pub bouncing: bool,
}

/// The subquery that tells whether the address in `$col` bounces.
macro_rules! bouncing {
    ($col:literal) => {
        concat!("EXISTS (SELECT 1 FROM mail_bounces b WHERE b.address = lower(", $col, ")) AS bouncing")
    };
}

/// The requestors and Cc of a ticket, with their language.
pub async fn ticket_contacts(tx: &mut Tx, ticket_id: i64) -> Result<Vec<Recipient>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            concat!("SELECT c.email, c.name, c.language, tc.role, ", bouncing!("c.email"),
            " FROM ticket_contacts tc JOIN contacts c ON c.id = tc.contact_id
             WHERE tc.ticket_id = $1 ORDER BY tc.role DESC, c.email"))
            .bind(ticket_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| -> Result<Recipient> {
            let role: String = r.try_get("role")?;
            Ok(Recipient {
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                language: r.try_get("language")?,
                cc: role == "cc",
                bouncing: r.try_get("bouncing")?,
            })
        }).collect()
    })
}

/// The active agents and admins with the right to see a queue's tickets.
pub async fn queue_watchers(tx: &mut Tx, queue_id: i64) -> Result<Vec<Recipient>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            concat!("SELECT u.email, u.name, u.language, ", bouncing!("u.email"),
            " FROM queue_rights r JOIN users u ON u.id = r.user_id
             WHERE r.queue_id = $1 AND r.can_see AND u.active AND u.role IN ('agent', 'admin') ORDER BY u.email"))
            .bind(queue_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| -> Result<Recipient> {
            let language: Option<String> = r.try_get("language")?;
            Ok(Recipient {
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                language: language.unwrap_or_default(),
                cc: false,
                bouncing: r.try_get("bouncing")?,
            })
        }).collect()
    })
}

/// An admin's version of a template: `(subject, body)`.
pub async fn template(tx: &mut Tx, language: &str, kind: &str) -> Result<Option<(String, String)>> {
    with_conn!(tx, c => {
        let r = sqlx::query("SELECT subject, body FROM mail_templates WHERE language = $1 AND kind = $2")
            .bind(language).bind(kind).fetch_optional(&mut *c).await?;
        match r {
            Some(r) => Ok(Some((r.try_get("subject")?, r.try_get("body")?))),
            None => Ok(None),
        }
    })
}

/// Stores an admin's version of a template.
pub async fn set_template(tx: &mut Tx, language: &str, kind: &str, subject: &str, body: &str, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO mail_templates (language, kind, subject, body, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (language, kind) DO UPDATE SET subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at")
        .bind(language).bind(kind).bind(subject).bind(body).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Forgets an admin's version of a template; false when there was none.
pub async fn delete_template(tx: &mut Tx, language: &str, kind: &str) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("DELETE FROM mail_templates WHERE language = $1 AND kind = $2")
        .bind(language).bind(kind).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Queued emails without a queued or running `mail.send` job (left by a node without an SMTP
/// server), oldest first. Two indexed reads compared here: matching payloads in SQL took seconds
/// on a backlog of thousands.
pub async fn queued_without_job(tx: &mut Tx, kind: &str) -> Result<Vec<i64>> {
    let queued: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT id FROM outbox WHERE state = 'queued' ORDER BY id").fetch_all(&mut *c).await)?;
    if queued.is_empty() {
        return Ok(queued);
    }
    let payloads: Vec<String> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT payload FROM jobs WHERE kind = $1 AND state IN ('queued', 'running')")
        .bind(kind).fetch_all(&mut *c).await)?;
    let covered: std::collections::HashSet<i64> = payloads
        .iter()
        .filter_map(|p| p.trim().strip_prefix("{\"outbox\":")?.strip_suffix('}')?.trim().parse().ok())
        .collect();
    Ok(queued.into_iter().filter(|id| !covered.contains(id)).collect())
}
