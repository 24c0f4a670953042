//! Invitations: single-use links with which a new contact or user chooses a password (only the
//! SHA-256 of the link's secret is stored).

use sqlx::Row;

use crate::sessions::Holder;
use crate::{Result, Tx};

/// A stored invitation.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

const COLS: &str = "id, user_id, contact_id, created_at, expires_at, used_at";

macro_rules! invitation_row {
    ($r:expr) => {
        (|| -> Result<InvitationRow> {
            Ok(InvitationRow {
                id: $r.try_get("id")?,
                user_id: $r.try_get("user_id")?,
                contact_id: $r.try_get("contact_id")?,
                created_at: $r.try_get("created_at")?,
                expires_at: $r.try_get("expires_at")?,
                used_at: $r.try_get("used_at")?,
            })
        })()
    };
}

fn holder_ids(holder: Holder) -> (Option<i64>, Option<i64>) {
    match holder {
        Holder::User(id) => (Some(id), None),
        Holder::Contact(id) => (None, Some(id)),
    }
}

/// Stores a new invitation for `holder`, removing their unused ones (inviting again replaces the
/// pending link). Returns its id.
pub async fn replace(tx: &mut Tx, holder: Holder, token_hash: &str, now: i64, expires_at: i64) -> Result<i64> {
    let (user, contact) = holder_ids(holder);
    let sql = match holder {
        Holder::User(_) => "DELETE FROM invitations WHERE user_id = $1 AND used_at IS NULL",
        Holder::Contact(_) => "DELETE FROM invitations WHERE contact_id = $1 AND used_at IS NULL",
    };
    let id = user.or(contact).unwrap_or_default();
    with_conn!(tx, c => sqlx::query(sql).bind(id).execute(&mut *c).await.map(|_| ()))?;
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO invitations (token_hash, user_id, contact_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(token_hash).bind(user).bind(contact).bind(now).bind(expires_at).fetch_one(&mut *c).await)?;
    Ok(id)
}

/// The invitation with this token hash, if any.
pub async fn by_token_hash(tx: &mut Tx, token_hash: &str) -> Result<Option<InvitationRow>> {
    let sql = format!("SELECT {COLS} FROM invitations WHERE token_hash = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(&mut *c).await?;
        r.map(|r| invitation_row!(r)).transpose()
    })
}

/// The unused invitation of `holder` still valid at `now`, if any.
pub async fn pending(tx: &mut Tx, holder: Holder, now: i64) -> Result<Option<InvitationRow>> {
    let column = match holder {
        Holder::User(_) => "user_id",
        Holder::Contact(_) => "contact_id",
    };
    let (user, contact) = holder_ids(holder);
    let sql = format!(
        "SELECT {COLS} FROM invitations WHERE {column} = $1 AND used_at IS NULL AND expires_at > $2
         ORDER BY id DESC LIMIT 1"
    );
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.or(contact)).bind(now).fetch_optional(&mut *c).await?;
        r.map(|r| invitation_row!(r)).transpose()
    })
}

/// Marks an invitation used; false when it was used already (a concurrent acceptance).
pub async fn mark_used(tx: &mut Tx, id: i64, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("UPDATE invitations SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Sets a contact's portal password hash.
pub async fn set_contact_password(tx: &mut Tx, id: i64, hash: &str, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE contacts SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(hash).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
