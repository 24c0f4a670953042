//! Personal settings of users and contacts: the language and time zone of their pages.

use crate::{Result, Tx};

/// Sets a user's language (`None`: the browser's) and time zone (`None`: the instance's).
pub async fn set_user_settings(
    tx: &mut Tx,
    id: i64,
    language: Option<&str>,
    time_zone: Option<&str>,
    now: i64,
) -> Result<u64> {
    let n = with_conn!(tx, c => sqlx::query("UPDATE users SET language = $2, time_zone = $3, updated_at = $4 WHERE id = $1")
        .bind(id).bind(language).bind(time_zone).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n)
}

/// Sets a contact's language (always set: it is also the language of their emails) and time
/// zone (`None`: the instance's).
pub async fn set_contact_settings(
    tx: &mut Tx,
    id: i64,
    language: &str,
    time_zone: Option<&str>,
    now: i64,
) -> Result<u64> {
    let n = with_conn!(tx, c => sqlx::query("UPDATE contacts SET language = $2, time_zone = $3, updated_at = $4 WHERE id = $1")
        .bind(id).bind(language).bind(time_zone).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n)
}
