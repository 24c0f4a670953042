//! Notices (incidents and planned maintenance), their public timeline, the tickets linked to
//! them, alert subscriptions and the record of who was told what.

use sqlx::Row;

use crate::{Result, Tx};

/// A notice as stored; `texts` and `scope` are JSON (see the migration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub impact: String,
    pub texts: String,
    pub internal_notes: String,
    pub scope: String,
    pub window_start: Option<i64>,
    pub window_end: Option<i64>,
    pub estimated_restoration: Option<i64>,
    pub published_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A public update of a notice's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRow {
    pub id: i64,
    pub notice_id: i64,
    pub state: String,
    pub texts: String,
    pub at: i64,
}

const NOTICE: &str = "SELECT id, kind, state, impact, texts, internal_notes, scope, window_start, window_end, \
     estimated_restoration, published_at, ended_at, created_by, created_at, updated_at FROM notices";

macro_rules! notice_row {
    ($r:expr) => {
        NoticeRow {
            id: $r.try_get("id")?,
            kind: $r.try_get("kind")?,
            state: $r.try_get("state")?,
            impact: $r.try_get("impact")?,
            texts: $r.try_get("texts")?,
            internal_notes: $r.try_get("internal_notes")?,
            scope: $r.try_get("scope")?,
            window_start: $r.try_get("window_start")?,
            window_end: $r.try_get("window_end")?,
            estimated_restoration: $r.try_get("estimated_restoration")?,
            published_at: $r.try_get("published_at")?,
            ended_at: $r.try_get("ended_at")?,
            created_by: $r.try_get("created_by")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

/// Adds a notice; returns its id.
pub async fn insert(tx: &mut Tx, n: &NoticeRow) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO notices (kind, state, impact, texts, internal_notes, scope, window_start, window_end,
             estimated_restoration, published_at, ended_at, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id")
        .bind(&n.kind).bind(&n.state).bind(&n.impact).bind(&n.texts).bind(&n.internal_notes).bind(&n.scope)
        .bind(n.window_start).bind(n.window_end).bind(n.estimated_restoration).bind(n.published_at)
        .bind(n.ended_at).bind(n.created_by).bind(n.created_at).bind(n.updated_at)
        .fetch_one(&mut *c).await)?;
    Ok(id)
}

/// Writes back a notice's changeable columns.
pub async fn save(tx: &mut Tx, n: &NoticeRow) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE notices SET state = $2, impact = $3, texts = $4, internal_notes = $5, scope = $6, window_start = $7,
             window_end = $8, estimated_restoration = $9, published_at = $10, ended_at = $11, updated_at = $12
         WHERE id = $1")
        .bind(n.id).bind(&n.state).bind(&n.impact).bind(&n.texts).bind(&n.internal_notes).bind(&n.scope)
        .bind(n.window_start).bind(n.window_end).bind(n.estimated_restoration).bind(n.published_at)
        .bind(n.ended_at).bind(n.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A notice by id.
pub async fn get(tx: &mut Tx, id: i64) -> Result<Option<NoticeRow>> {
    let sql = format!("{NOTICE} WHERE id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(notice_row!(r))),
            None => Ok(None),
        }
    })
}

/// A notice by id, locked for a change (PostgreSQL; SQLite has a single writer).
pub async fn get_for_update(tx: &mut Tx, id: i64) -> Result<Option<NoticeRow>> {
    let sql = match tx {
        Tx::Postgres(_) => format!("{NOTICE} WHERE id = $1 FOR UPDATE"),
        Tx::Sqlite(_) => format!("{NOTICE} WHERE id = $1"),
    };
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(notice_row!(r))),
            None => Ok(None),
        }
    })
}

/// Notices not yet ended (drafts included), newest first.
pub async fn open(tx: &mut Tx) -> Result<Vec<NoticeRow>> {
    let sql = format!("{NOTICE} WHERE ended_at IS NULL ORDER BY id DESC");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(notice_row!(r))).collect()
    })
}

/// Notices ended since `since` (for the status page's recent history and feeds), newest first.
pub async fn ended_since(tx: &mut Tx, since: i64, limit: i64) -> Result<Vec<NoticeRow>> {
    let sql = format!(
        "{NOTICE} WHERE ended_at IS NOT NULL AND ended_at >= $1 AND published_at IS NOT NULL
         ORDER BY ended_at DESC LIMIT $2"
    );
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since).bind(limit).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(notice_row!(r))).collect()
    })
}

/// The most recent notices, all states, newest first.
pub async fn recent(tx: &mut Tx, limit: i64) -> Result<Vec<NoticeRow>> {
    let sql = format!("{NOTICE} ORDER BY id DESC LIMIT $1");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(notice_row!(r))).collect()
    })
}

/// Adds a public update to a notice's timeline; returns its id.
pub async fn insert_update(
    tx: &mut Tx,
    notice_id: i64,
    state: &str,
    texts: &str,
    author_id: Option<i64>,
    at: i64,
) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO notice_updates (notice_id, state, texts, author_id, at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(notice_id).bind(state).bind(texts).bind(author_id).bind(at).fetch_one(&mut *c).await)?;
    Ok(id)
}

/// A notice's timeline, oldest first.
pub async fn updates_of(tx: &mut Tx, notice_id: i64) -> Result<Vec<UpdateRow>> {
    let rows: Vec<(i64, i64, String, String, i64)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT id, notice_id, state, texts, at FROM notice_updates WHERE notice_id = $1 ORDER BY id")
        .bind(notice_id).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, notice_id, state, texts, at)| UpdateRow { id, notice_id, state, texts, at })
        .collect())
}

/// Links a ticket to a notice (once); returns whether it is new.
pub async fn link_ticket(tx: &mut Tx, notice_id: i64, ticket_id: i64, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "INSERT INTO notice_tickets (notice_id, ticket_id, linked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(notice_id).bind(ticket_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The ids of the tickets linked to a notice.
pub async fn linked_tickets(tx: &mut Tx, notice_id: i64) -> Result<Vec<i64>> {
    let ids: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT ticket_id FROM notice_tickets WHERE notice_id = $1 ORDER BY ticket_id")
        .bind(notice_id).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// The notices a ticket is linked to.
pub async fn notices_of_ticket(tx: &mut Tx, ticket_id: i64) -> Result<Vec<i64>> {
    let ids: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT notice_id FROM notice_tickets WHERE ticket_id = $1 ORDER BY notice_id")
        .bind(ticket_id).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// An alert subscription: a contact's interest in one line or one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub id: i64,
    pub contact_id: i64,
    pub line_id: Option<i64>,
    pub territory_id: Option<i64>,
}

/// Subscribes a contact to a line or a zone (once); returns the subscription's id.
pub async fn subscribe(
    tx: &mut Tx,
    contact_id: i64,
    line_id: Option<i64>,
    territory_id: Option<i64>,
    now: i64,
) -> Result<i64> {
    let existing: Option<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT id FROM alert_subscriptions WHERE contact_id = $1
             AND COALESCE(line_id, -1) = COALESCE($2, -1) AND COALESCE(territory_id, -1) = COALESCE($3, -1)")
        .bind(contact_id).bind(line_id).bind(territory_id).fetch_optional(&mut *c).await)?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO alert_subscriptions (contact_id, line_id, territory_id, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id")
        .bind(contact_id).bind(line_id).bind(territory_id).bind(now).fetch_one(&mut *c).await)?;
    Ok(id)
}

/// Removes a contact's subscription; returns whether there was one.
pub async fn unsubscribe(tx: &mut Tx, contact_id: i64, id: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("DELETE FROM alert_subscriptions WHERE id = $1 AND contact_id = $2")
        .bind(id).bind(contact_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A contact's subscriptions.
pub async fn subscriptions_of(tx: &mut Tx, contact_id: i64) -> Result<Vec<SubscriptionRow>> {
    let rows: Vec<(i64, i64, Option<i64>, Option<i64>)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT id, contact_id, line_id, territory_id FROM alert_subscriptions WHERE contact_id = $1 ORDER BY id")
        .bind(contact_id).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, contact_id, line_id, territory_id)| SubscriptionRow { id, contact_id, line_id, territory_id })
        .collect())
}

/// Who is subscribed to the given lines, directly or through the zone (municipality or
/// province) they sit in: (contact id, email, language, line id), contacts of other customers
/// left out.
pub async fn subscribers_of(tx: &mut Tx, line_ids: &[i64]) -> Result<Vec<(i64, String, String, i64)>> {
    let body = "SELECT k.id, k.email, k.language, l.id FROM lines l
             JOIN alert_subscriptions s ON s.line_id = l.id JOIN contacts k ON k.id = s.contact_id
             WHERE l.id IN (IDS) AND k.customer_id = l.customer_id
         UNION
         SELECT k.id, k.email, k.language, l.id FROM lines l JOIN territories m ON m.id = l.municipality_id
             JOIN alert_subscriptions s ON s.territory_id IN (m.id, m.parent_id)
             JOIN contacts k ON k.id = s.contact_id
             WHERE l.id IN (IDS) AND k.customer_id = l.customer_id";
    match tx {
        Tx::Sqlite(c) => {
            let ids = serde_json::to_string(line_ids).unwrap_or_else(|_| "[]".into());
            let sql = body.replace("IDS", "SELECT value FROM json_each($1)");
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ids).fetch_all(&mut **c).await?)
        }
        Tx::Postgres(c) => {
            let sql = body.replace("l.id IN (IDS)", "l.id = ANY($1)");
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(line_ids).fetch_all(&mut **c).await?)
        }
    }
}

/// A delivery to record: a contact told about a notice (or one of its updates) for a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryIn {
    pub contact_id: i64,
    pub line_id: i64,
    pub outbox_id: Option<i64>,
}

/// Records deliveries of one event of a notice (`published`, `update-N`, `end-T`), many per
/// statement. A (notice, event, contact, line) recorded before is a conflict: the caller's
/// transaction fails whole, so an event is never told twice.
pub async fn record_deliveries(
    tx: &mut Tx,
    notice_id: i64,
    update_id: Option<i64>,
    event: &str,
    rows: &[DeliveryIn],
    at: i64,
) -> Result<()> {
    if let Tx::Postgres(c) = tx {
        let contact: Vec<i64> = rows.iter().map(|d| d.contact_id).collect();
        let line: Vec<i64> = rows.iter().map(|d| d.line_id).collect();
        let outbox: Vec<Option<i64>> = rows.iter().map(|d| d.outbox_id).collect();
        sqlx::query(
            "INSERT INTO notice_deliveries (notice_id, update_id, event, contact_id, line_id, outbox_id, at)
             SELECT $1, $2, $3, c, l, o, $4 FROM UNNEST($5::BIGINT[], $6::BIGINT[], $7::BIGINT[]) AS u(c, l, o)",
        )
        .bind(notice_id)
        .bind(update_id)
        .bind(event)
        .bind(at)
        .bind(contact)
        .bind(line)
        .bind(outbox)
        .execute(&mut **c)
        .await?;
        return Ok(());
    }
    let sqlite = true;
    for chunk in rows.chunks(4_000) {
        let sql = format!(
            "INSERT INTO notice_deliveries (notice_id, update_id, event, contact_id, line_id, outbox_id, at) VALUES {}",
            crate::param_rows(sqlite, chunk.len(), "(#, #, #, #, #, #, #)")
        );
        let mut args = Vec::with_capacity(chunk.len() * 7);
        for d in chunk {
            args.extend([
                crate::Arg::Int(notice_id),
                crate::Arg::OptInt(update_id),
                crate::Arg::Text(event.to_owned()),
                crate::Arg::Int(d.contact_id),
                crate::Arg::Int(d.line_id),
                crate::Arg::OptInt(d.outbox_id),
                crate::Arg::Int(at),
            ]);
        }
        with_conn!(tx, c => crate::bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// One line's delivery: who was told of which event of which notice, when, and what became of
/// the email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub notice_id: i64,
    pub update_id: Option<i64>,
    pub event: String,
    /// The state the update moved the notice to (none for the publication and the clock's end).
    pub update_state: Option<String>,
    pub contact_email: String,
    pub outbox_id: Option<i64>,
    /// `queued`, `sent` or `failed` (none when the outbox row is gone).
    pub mail_state: Option<String>,
    pub at: i64,
}

/// A line's record of who was told what, newest first.
pub async fn deliveries_of_line(tx: &mut Tx, line_id: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            "SELECT d.notice_id, d.update_id, d.event, u.state AS update_state, k.email, d.outbox_id, o.state AS mail_state, d.at
             FROM notice_deliveries d JOIN contacts k ON k.id = d.contact_id
             LEFT JOIN notice_updates u ON u.id = d.update_id LEFT JOIN outbox o ON o.id = d.outbox_id
             WHERE d.line_id = $1 ORDER BY d.id DESC LIMIT $2")
            .bind(line_id).bind(limit).fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    notice_id: r.try_get("notice_id")?,
                    update_id: r.try_get("update_id")?,
                    event: r.try_get("event")?,
                    update_state: r.try_get("update_state")?,
                    contact_email: r.try_get("email")?,
                    outbox_id: r.try_get("outbox_id")?,
                    mail_state: r.try_get("mail_state")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    })
}

/// How many deliveries a notice has (all messages).
pub async fn count_deliveries(tx: &mut Tx, notice_id: i64) -> Result<i64> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM notice_deliveries WHERE notice_id = $1")
        .bind(notice_id).fetch_one(&mut *c).await)?;
    Ok(n)
}
