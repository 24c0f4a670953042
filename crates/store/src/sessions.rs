//! Browser sessions (only the SHA-256 of the cookie's token is stored) and failed logins.

use sqlx::Row;

use crate::{Result, Tx};

/// A stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

const COLS: &str = "id, user_id, contact_id, csrf, created_at, last_seen_at, expires_at";

macro_rules! session_row {
    ($r:expr) => {
        (|| -> Result<SessionRow> {
            Ok(SessionRow {
                id: $r.try_get("id")?,
                user_id: $r.try_get("user_id")?,
                contact_id: $r.try_get("contact_id")?,
                csrf: $r.try_get("csrf")?,
                created_at: $r.try_get("created_at")?,
                last_seen_at: $r.try_get("last_seen_at")?,
                expires_at: $r.try_get("expires_at")?,
            })
        })()
    };
}

/// Who a new session is for: a user or a contact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holder {
    /// An admin, agent or partner user.
    User(i64),
    /// A customer's contact.
    Contact(i64),
}

/// Stores a new session.
pub async fn insert(
    tx: &mut Tx,
    token_hash: &str,
    holder: Holder,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> Result<i64> {
    let (user, contact) = match holder {
        Holder::User(id) => (Some(id), None),
        Holder::Contact(id) => (None, Some(id)),
    };
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO sessions (token_hash, user_id, contact_id, csrf, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id")
        .bind(token_hash).bind(user).bind(contact).bind(csrf).bind(now).bind(expires_at).fetch_one(&mut *c).await)?;
    Ok(id)
}

/// The session with this token hash, if any.
pub async fn by_token_hash(tx: &mut Tx, token_hash: &str) -> Result<Option<SessionRow>> {
    let sql = format!("SELECT {COLS} FROM sessions WHERE token_hash = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(&mut *c).await?;
        r.map(|r| session_row!(r)).transpose()
    })
}

/// Records activity on a session.
pub async fn touch(tx: &mut Tx, id: i64, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Ends one session.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Ends every session of a user or contact (password change, deactivation).
pub async fn delete_for(tx: &mut Tx, holder: Holder) -> Result<u64> {
    let (sql, id) = match holder {
        Holder::User(id) => ("DELETE FROM sessions WHERE user_id = $1", id),
        Holder::Contact(id) => ("DELETE FROM sessions WHERE contact_id = $1", id),
    };
    with_conn!(tx, c => sqlx::query(sql).bind(id).execute(&mut *c).await.map(|r| r.rows_affected())).map_err(Into::into)
}

/// Removes sessions past their absolute expiry or idle since `idle_before`, and failed logins
/// older than `failures_before`.
pub async fn purge(tx: &mut Tx, now: i64, idle_before: i64, failures_before: i64) -> Result<u64> {
    let n = with_conn!(tx, c => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
        .bind(now).bind(idle_before).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    with_conn!(tx, c => sqlx::query("DELETE FROM login_failures WHERE at < $1").bind(failures_before).execute(&mut *c).await.map(|_| ()))?;
    Ok(n)
}

/// Records a failed login under each key (e.g. the account and the address).
pub async fn record_failure(tx: &mut Tx, keys: &[String], now: i64) -> Result<()> {
    for k in keys {
        with_conn!(tx, c => sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)").bind(k).bind(now).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Failed logins under `key` since `since`.
pub async fn failures_since(tx: &mut Tx, key: &str, since: i64) -> Result<i64> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
        .bind(key).bind(since).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// Forgets the failed logins under `key` (after a successful login).
pub async fn clear_failures(tx: &mut Tx, key: &str) -> Result<()> {
    with_conn!(tx, c => sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
