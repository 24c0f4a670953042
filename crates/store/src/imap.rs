//! IMAP mailboxes that admins configure for polling: their settings, the UID position reached,
//! and the lease that lets one node at a time poll each of them.

use sqlx::Row;

use crate::{Result, Tx};

/// A mailbox to poll, as stored (the password included: the poller needs it in clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRow {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: i64,
    /// `tls`, `starttls` or `none`.
    pub tls: String,
    pub username: String,
    pub password: String,
    pub folder: String,
    pub queue_id: i64,
    /// `correspond` or `comment`.
    pub action: String,
    /// Where processed messages are moved (flagged `\Seen` where none).
    pub done_folder: Option<String>,
    pub uid_validity: Option<i64>,
    pub last_uid: i64,
    pub active: bool,
    pub last_error: Option<String>,
    pub last_polled_at: Option<i64>,
    /// Messages taken by the last poll.
    pub last_fetched: i64,
}

/// A mailbox's settings as an admin writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxData {
    pub name: String,
    pub host: String,
    pub port: i64,
    pub tls: String,
    pub username: String,
    pub password: String,
    pub folder: String,
    pub queue_id: i64,
    pub action: String,
    pub done_folder: Option<String>,
    pub active: bool,
}

const COLUMNS: &str = "id, name, host, CAST(port AS BIGINT) AS port, tls, username, password, folder, queue_id, action, done_folder, \
     uid_validity, last_uid, active, last_error, last_polled_at, last_fetched";

macro_rules! mailbox_row {
    ($r:expr) => {
        MailboxRow {
            id: $r.try_get("id")?,
            name: $r.try_get("name")?,
            host: $r.try_get("host")?,
            port: $r.try_get("port")?,
            tls: $r.try_get("tls")?,
            username: $r.try_get("username")?,
            password: $r.try_get("password")?,
            folder: $r.try_get("folder")?,
            queue_id: $r.try_get("queue_id")?,
            action: $r.try_get("action")?,
            done_folder: $r.try_get("done_folder")?,
            uid_validity: $r.try_get("uid_validity")?,
            last_uid: $r.try_get("last_uid")?,
            active: $r.try_get("active")?,
            last_error: $r.try_get("last_error")?,
            last_polled_at: $r.try_get("last_polled_at")?,
            last_fetched: $r.try_get("last_fetched")?,
        }
    };
}

/// Every mailbox, by name.
pub async fn all(tx: &mut Tx) -> Result<Vec<MailboxRow>> {
    let sql = format!("SELECT {COLUMNS} FROM imap_mailboxes ORDER BY name");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(mailbox_row!(r))).collect()
    })
}

/// One mailbox.
pub async fn by_id(tx: &mut Tx, id: i64) -> Result<Option<MailboxRow>> {
    let sql = format!("SELECT {COLUMNS} FROM imap_mailboxes WHERE id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(mailbox_row!(r))),
            None => Ok(None),
        }
    })
}

/// Adds a mailbox; returns its id.
pub async fn insert(tx: &mut Tx, d: &MailboxData, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO imap_mailboxes (name, host, port, tls, username, password, folder, queue_id, action, done_folder, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id")
        .bind(&d.name).bind(&d.host).bind(d.port as i32).bind(&d.tls).bind(&d.username).bind(&d.password)
        .bind(&d.folder).bind(d.queue_id).bind(&d.action).bind(&d.done_folder).bind(d.active).bind(now)
        .fetch_one(&mut *c).await)?;
    Ok(id)
}

/// Replaces a mailbox's settings. A change of server, account or folder starts over from the
/// first message (UIDs belong to one folder of one server); Message-IDs already taken are
/// still recognised, so nothing is ingested twice.
pub async fn update(tx: &mut Tx, id: i64, d: &MailboxData, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "UPDATE imap_mailboxes SET
            uid_validity = CASE WHEN host = $2 AND port = $3 AND username = $5 AND folder = $7 THEN uid_validity ELSE NULL END,
            last_uid = CASE WHEN host = $2 AND port = $3 AND username = $5 AND folder = $7 THEN last_uid ELSE 0 END,
            name = $1, host = $2, port = $3, tls = $4, username = $5, password = $6, folder = $7, queue_id = $8,
            action = $9, done_folder = $10, active = $11, updated_at = $12
         WHERE id = $13")
        .bind(&d.name).bind(&d.host).bind(d.port as i32).bind(&d.tls).bind(&d.username).bind(&d.password)
        .bind(&d.folder).bind(d.queue_id).bind(&d.action).bind(&d.done_folder).bind(d.active).bind(now).bind(id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Removes a mailbox.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("DELETE FROM imap_mailboxes WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Whether some active mailbox is due and free (see [`claim`]).
pub async fn any_due(tx: &mut Tx, now: i64, due_before: i64) -> Result<bool> {
    let found: Option<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT id FROM imap_mailboxes WHERE active AND (lease_until IS NULL OR lease_until < $1)
           AND (last_polled_at IS NULL OR last_polled_at <= $2) LIMIT 1")
        .bind(now).bind(due_before).fetch_optional(&mut *c).await)?;
    Ok(found.is_some())
}

/// Takes the lease of the active mailbox polled longest ago whose turn has come (last polled
/// before `due_before`) and whose lease is free or expired; `None` when there is none.
pub async fn claim(tx: &mut Tx, node: &str, now: i64, due_before: i64, lease_until: i64) -> Result<Option<MailboxRow>> {
    let sql = format!(
        "UPDATE imap_mailboxes SET leased_by = $1, lease_until = $2
         WHERE id = (SELECT id FROM imap_mailboxes
                     WHERE active AND (lease_until IS NULL OR lease_until < $3)
                       AND (last_polled_at IS NULL OR last_polled_at <= $4)
                     ORDER BY COALESCE(last_polled_at, 0), id LIMIT 1)
           AND (lease_until IS NULL OR lease_until < $3)
         RETURNING {COLUMNS}"
    );
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(node).bind(lease_until).bind(now).bind(due_before)
            .fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(mailbox_row!(r))),
            None => Ok(None),
        }
    })
}

/// Records the position reached (after each message taken), if `node` still holds the lease.
pub async fn advance(tx: &mut Tx, id: i64, node: &str, uid_validity: i64, last_uid: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "UPDATE imap_mailboxes SET uid_validity = $3, last_uid = $4 WHERE id = $1 AND leased_by = $2")
        .bind(id).bind(node).bind(uid_validity).bind(last_uid).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Ends a poll: frees the lease and records when, how many messages and the error, if any.
pub async fn finish(tx: &mut Tx, id: i64, node: &str, now: i64, fetched: i64, error: Option<&str>) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE imap_mailboxes SET leased_by = NULL, lease_until = NULL, last_polled_at = $3, last_fetched = $4, last_error = $5
         WHERE id = $1 AND leased_by = $2")
        .bind(id).bind(node).bind(now).bind(fetched).bind(error).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Makes a mailbox due at once (an admin's "poll now").
pub async fn make_due(tx: &mut Tx, id: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("UPDATE imap_mailboxes SET last_polled_at = NULL WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
