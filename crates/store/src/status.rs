//! Instance settings (key → text) and the reads of the public status page: timelines and change
//! counts of many notices at once, and the names of territories by code.

use crate::notices::UpdateRow;
use crate::{Result, Tx};

/// Every setting stored, as (key, value).
pub async fn settings(tx: &mut Tx) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = with_conn!(tx, c => sqlx::query_as("SELECT key, value FROM settings ORDER BY key")
        .fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Sets a setting; returns its previous value, if it had one.
pub async fn put_setting(tx: &mut Tx, key: &str, value: &str, now: i64) -> Result<Option<String>> {
    let old: Option<String> = with_conn!(tx, c => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key).fetch_optional(&mut *c).await)?;
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at")
        .bind(key).bind(value).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(old)
}

/// The timelines of these notices, by notice then oldest first.
pub async fn updates_of_many(tx: &mut Tx, notice_ids: &[i64]) -> Result<Vec<UpdateRow>> {
    let body =
        "SELECT id, notice_id, state, texts, at FROM notice_updates WHERE notice_id IN (IDS) ORDER BY notice_id, id";
    let rows: Vec<(i64, i64, String, String, i64)> = match tx {
        Tx::Sqlite(c) => {
            let sql = body.replace("IDS", "SELECT value FROM json_each($1)");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(crate::inventory::json_ids(notice_ids))
                .fetch_all(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            let sql = body.replace("notice_id IN (IDS)", "notice_id = ANY($1)");
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(notice_ids).fetch_all(&mut **c).await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(id, notice_id, state, texts, at)| UpdateRow { id, notice_id, state, texts, at })
        .collect())
}

/// How many events (changes) each of these notices has, as (notice id, count).
pub async fn change_counts(tx: &mut Tx, notice_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    let body = "SELECT subject_id, COUNT(*) FROM events WHERE subject = 'notice' AND subject_id IN (IDS)
         GROUP BY subject_id";
    let rows: Vec<(i64, i64)> = match tx {
        Tx::Sqlite(c) => {
            let sql = body.replace("IDS", "SELECT value FROM json_each($1)");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(crate::inventory::json_ids(notice_ids))
                .fetch_all(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            let sql = body.replace("subject_id IN (IDS)", "subject_id = ANY($1)");
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(notice_ids).fetch_all(&mut **c).await?
        }
    };
    Ok(rows)
}

/// The names of the territories with these codes, as (code, name); unknown codes left out.
pub async fn territory_names(tx: &mut Tx, codes: &[String]) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = match tx {
        Tx::Sqlite(c) => {
            let text = serde_json::to_string(codes).unwrap_or_else(|_| "[]".into());
            sqlx::query_as("SELECT code, name FROM territories WHERE code IN (SELECT value FROM json_each($1))")
                .bind(text)
                .fetch_all(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            sqlx::query_as("SELECT code, name FROM territories WHERE code = ANY($1)")
                .bind(codes)
                .fetch_all(&mut **c)
                .await?
        }
    };
    Ok(rows)
}
