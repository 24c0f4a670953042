//! The audit trail: one row per change, written in the transaction of the change.

use domain::Channel;
use sqlx::Row;

use crate::{EventRow, Result, Tx, parse};

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub ticket_id: Option<i64>,
    pub subject: &'a str,
    pub subject_id: i64,
    pub actor_user_id: Option<i64>,
    pub actor_contact_id: Option<i64>,
    pub actor_label: &'a str,
    pub channel: Channel,
    pub kind: &'a str,
    pub field: Option<&'a str>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// Records an event.
pub async fn insert(tx: &mut Tx, e: &NewEvent<'_>, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO events (ticket_id, subject, subject_id, actor_user_id, actor_contact_id, actor_label, channel, at, kind, field, old_value, new_value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
        .bind(e.ticket_id).bind(e.subject).bind(e.subject_id).bind(e.actor_user_id).bind(e.actor_contact_id).bind(e.actor_label)
        .bind(e.channel.as_str()).bind(now).bind(e.kind).bind(e.field).bind(&e.old_value).bind(&e.new_value)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records several events in one statement, in order.
pub async fn insert_many(tx: &mut Tx, events: &[NewEvent<'_>], now: i64) -> Result<()> {
    use crate::{Arg, bind_args, value_rows};
    if events.is_empty() {
        return Ok(());
    }
    let mut args = Vec::with_capacity(events.len() * 12);
    for e in events {
        args.extend([
            Arg::OptInt(e.ticket_id),
            Arg::Text(e.subject.to_owned()),
            Arg::Int(e.subject_id),
            Arg::OptInt(e.actor_user_id),
            Arg::OptInt(e.actor_contact_id),
            Arg::Text(e.actor_label.to_owned()),
            Arg::Text(e.channel.as_str().to_owned()),
            Arg::Int(now),
            Arg::Text(e.kind.to_owned()),
            Arg::OptText(e.field.map(str::to_owned)),
            Arg::OptText(e.old_value.clone()),
            Arg::OptText(e.new_value.clone()),
        ]);
    }
    let sql = format!(
        "INSERT INTO events (ticket_id, subject, subject_id, actor_user_id, actor_contact_id, actor_label, channel, at, kind, field, old_value, new_value) VALUES {}",
        value_rows(events.len(), 12)
    );
    with_conn!(tx, c => bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

const COLS: &str = "id, ticket_id, subject, subject_id, actor_user_id, actor_contact_id, actor_label, channel, at, kind, field, old_value, new_value";

macro_rules! event_row {
    ($r:expr) => {
        (|| -> Result<EventRow> {
            let channel: String = $r.try_get("channel")?;
            Ok(EventRow {
                id: $r.try_get("id")?,
                ticket_id: $r.try_get("ticket_id")?,
                subject: $r.try_get("subject")?,
                subject_id: $r.try_get("subject_id")?,
                actor_user_id: $r.try_get("actor_user_id")?,
                actor_contact_id: $r.try_get("actor_contact_id")?,
                actor_label: $r.try_get("actor_label")?,
                channel: parse(&channel)?,
                at: $r.try_get("at")?,
                kind: $r.try_get("kind")?,
                field: $r.try_get("field")?,
                old_value: $r.try_get("old_value")?,
                new_value: $r.try_get("new_value")?,
            })
        })()
    };
}

/// The events of the given tickets (a ticket and those merged into it), oldest first.
pub async fn for_tickets(tx: &mut Tx, ticket_ids: &[i64]) -> Result<Vec<EventRow>> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLS} FROM events WHERE ticket_id IN ({}) ORDER BY id",
        crate::placeholders(0, ticket_ids.len())
    );
    let args: Vec<crate::Arg> = ticket_ids.iter().map(|i| crate::Arg::Int(*i)).collect();
    with_conn!(tx, c => {
        let rows = crate::bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).fetch_all(&mut *c).await?;
        rows.iter().map(|r| event_row!(r)).collect()
    })
}

/// The events about one non-ticket subject (`queue`, `user`, …), oldest first.
pub async fn for_subject(tx: &mut Tx, subject: &str, subject_id: i64) -> Result<Vec<EventRow>> {
    let sql = format!("SELECT {COLS} FROM events WHERE subject = $1 AND subject_id = $2 ORDER BY id");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(subject).bind(subject_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| event_row!(r)).collect()
    })
}

/// The numbers of tickets merged (directly or not) into `ticket_id`.
pub async fn merged_into(tx: &mut Tx, ticket_id: i64) -> Result<Vec<i64>> {
    let ids: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar("SELECT id FROM tickets WHERE merged_into = $1 ORDER BY id")
        .bind(ticket_id).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// Ticket events after `id`, oldest first, at most `limit` (the live feed of the pages).
pub async fn ticket_events_after(tx: &mut Tx, id: i64, limit: i64) -> Result<Vec<EventRow>> {
    let sql = format!("SELECT {COLS} FROM events WHERE id > $1 AND ticket_id IS NOT NULL ORDER BY id LIMIT $2");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(limit).fetch_all(&mut *c).await?;
        rows.iter().map(|r| event_row!(r)).collect()
    })
}

/// The id of the latest event (0 when there is none).
pub async fn last_id(tx: &mut Tx) -> Result<i64> {
    let id: Option<i64> =
        with_conn!(tx, c => sqlx::query_scalar("SELECT MAX(id) FROM events").fetch_one(&mut *c).await)?;
    Ok(id.unwrap_or(0))
}
