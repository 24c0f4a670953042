//! Attachment contents, stored once per SHA-256.

use crate::{Result, Tx, sha256_hex};

/// Stores bytes (once per content) and returns their SHA-256.
pub async fn put(tx: &mut Tx, data: &[u8], now: i64) -> Result<String> {
    let sum = sha256_hex(data);
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING")
        .bind(&sum).bind(data.len() as i64).bind(data).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(sum)
}

/// The bytes stored under this SHA-256.
pub async fn get(tx: &mut Tx, sha256: &str) -> Result<Option<Vec<u8>>> {
    let r: Option<Vec<u8>> = with_conn!(tx, c => sqlx::query_scalar("SELECT data FROM blobs WHERE sha256 = $1")
        .bind(sha256).fetch_optional(&mut *c).await)?;
    Ok(r)
}
