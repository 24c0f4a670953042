//! Ticket storms: the recent tickets about a line with their line's place, and the storm
//! suggestions agents dismissed.

use crate::{Result, Tx};

/// A recent ticket about a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTicket {
    pub ticket_id: i64,
    pub created_at: i64,
    pub line_id: i64,
    /// The code of the line's municipality.
    pub municipality: String,
    /// Whether it is already linked to a notice.
    pub linked: bool,
}

/// The tickets about a line opened since `since` (merged and deleted ones left out), oldest
/// first, at most `limit`.
pub async fn line_tickets_since(tx: &mut Tx, since: i64, limit: i64) -> Result<Vec<LineTicket>> {
    let rows: Vec<(i64, i64, i64, String, bool)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT t.id, t.created_at, t.line_id, m.code,
             EXISTS (SELECT 1 FROM notice_tickets nt WHERE nt.ticket_id = t.id)
         FROM tickets t JOIN lines l ON l.id = t.line_id JOIN territories m ON m.id = l.municipality_id
         WHERE t.line_id IS NOT NULL AND t.created_at >= $1 AND t.merged_into IS NULL AND t.status <> 'deleted'
         ORDER BY t.created_at DESC, t.id DESC LIMIT $2")
        .bind(since).bind(limit).fetch_all(&mut *c).await)?;
    let mut out: Vec<LineTicket> = rows
        .into_iter()
        .map(|(ticket_id, created_at, line_id, municipality, linked)| LineTicket {
            ticket_id,
            created_at,
            line_id,
            municipality,
            linked,
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// The names of network elements by code, as (code, name); unknown codes left out.
pub async fn element_names(tx: &mut Tx, codes: &[String]) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = match tx {
        Tx::Sqlite(c) => {
            let text = serde_json::to_string(codes).unwrap_or_else(|_| "[]".into());
            sqlx::query_as("SELECT code, name FROM network_elements WHERE code IN (SELECT value FROM json_each($1))")
                .bind(text)
                .fetch_all(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            sqlx::query_as("SELECT code, name FROM network_elements WHERE code = ANY($1)")
                .bind(codes)
                .fetch_all(&mut **c)
                .await?
        }
    };
    Ok(rows)
}

/// The storm keys dismissed until after `now`, as (kind, code, when dismissed).
pub async fn dismissed(tx: &mut Tx, now: i64) -> Result<Vec<(String, String, i64)>> {
    let rows: Vec<(String, String, i64)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT key_kind, code, dismissed_at FROM storm_dismissals WHERE until > $1")
        .bind(now).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Hides a storm key until `until` (a later dismissal of the same key replaces the earlier one).
pub async fn dismiss(tx: &mut Tx, kind: &str, code: &str, until: i64, by: Option<i64>, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO storm_dismissals (key_kind, code, until, dismissed_by, dismissed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key_kind, code) DO UPDATE SET until = excluded.until, dismissed_by = excluded.dismissed_by,
             dismissed_at = excluded.dismissed_at")
        .bind(kind).bind(code).bind(until).bind(by).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Serialises storm acceptances on PostgreSQL (two agents accepting the same storm at once must
/// not make two notices); SQLite has a single writer already.
pub async fn lock_accept(tx: &mut Tx) -> Result<()> {
    if let Tx::Postgres(c) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(7312)").execute(&mut **c).await?;
    }
    Ok(())
}
