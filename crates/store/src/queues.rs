//! Queues and their custom fields.

use sqlx::Row;

use crate::{CustomFieldRow, QueueRow, Result, Tx, parse};

const COLS: &str = "id, slug, name, description, reference_prefix, active, created_at, updated_at";

macro_rules! queue_row {
    ($r:expr) => {
        (|| -> Result<QueueRow> {
            Ok(QueueRow {
                id: $r.try_get("id")?,
                slug: $r.try_get("slug")?,
                name: $r.try_get("name")?,
                description: $r.try_get("description")?,
                reference_prefix: $r.try_get("reference_prefix")?,
                active: $r.try_get("active")?,
                created_at: $r.try_get("created_at")?,
                updated_at: $r.try_get("updated_at")?,
            })
        })()
    };
}

/// Fields of a queue to create or replace.
#[derive(Debug, Clone)]
pub struct QueueData {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub reference_prefix: String,
    pub active: bool,
}

/// Creates a queue and returns it.
pub async fn insert(tx: &mut Tx, q: &QueueData, now: i64) -> Result<QueueRow> {
    let sql = format!(
        "INSERT INTO queues (slug, name, description, reference_prefix, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLS}"
    );
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&q.slug).bind(&q.name).bind(&q.description).bind(&q.reference_prefix).bind(q.active).bind(now)
            .fetch_one(&mut *c).await?;
        queue_row!(r)
    })
}

/// Replaces a queue's fields (the slug included).
pub async fn update(tx: &mut Tx, id: i64, q: &QueueData, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE queues SET slug = $2, name = $3, description = $4, reference_prefix = $5, active = $6, updated_at = $7 WHERE id = $1")
        .bind(id).bind(&q.slug).bind(&q.name).bind(&q.description).bind(&q.reference_prefix).bind(q.active).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The queue with this slug.
pub async fn by_slug(tx: &mut Tx, slug: &str) -> Result<Option<QueueRow>> {
    let sql = format!("SELECT {COLS} FROM queues WHERE slug = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(&mut *c).await?;
        r.map(|r| queue_row!(r)).transpose()
    })
}

/// The queue with this id.
pub async fn by_id(tx: &mut Tx, id: i64) -> Result<Option<QueueRow>> {
    let sql = format!("SELECT {COLS} FROM queues WHERE id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| queue_row!(r)).transpose()
    })
}

/// Every queue, by slug.
pub async fn all(tx: &mut Tx) -> Result<Vec<QueueRow>> {
    let sql = format!("SELECT {COLS} FROM queues ORDER BY slug");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| queue_row!(r)).collect()
    })
}

macro_rules! field_row {
    ($r:expr) => {
        (|| -> Result<CustomFieldRow> {
            let kind: String = $r.try_get("kind")?;
            let choices: String = $r.try_get("choices")?;
            Ok(CustomFieldRow {
                id: $r.try_get("id")?,
                queue_id: $r.try_get("queue_id")?,
                name: $r.try_get("name")?,
                label: $r.try_get("label")?,
                kind: parse(&kind)?,
                choices: serde_json_lines(&choices),
                required: $r.try_get("required")?,
                position: $r.try_get("position")?,
            })
        })()
    };
}

/// Choices are stored one per line.
fn serde_json_lines(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// A custom field to define.
#[derive(Debug, Clone)]
pub struct FieldData {
    pub name: String,
    pub label: String,
    pub kind: domain::CustomFieldKind,
    pub choices: Vec<String>,
    pub required: bool,
    pub position: i64,
}

/// Defines (or redefines, by name) a custom field of a queue.
pub async fn upsert_field(tx: &mut Tx, queue_id: i64, f: &FieldData, now: i64) -> Result<CustomFieldRow> {
    let choices = f.choices.join("\n");
    with_conn!(tx, c => {
        let r = sqlx::query(
            "INSERT INTO custom_fields (queue_id, name, label, kind, choices, required, position, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (queue_id, name) DO UPDATE SET label = excluded.label, kind = excluded.kind,
                 choices = excluded.choices, required = excluded.required, position = excluded.position
             RETURNING id, queue_id, name, label, kind, choices, required, position")
            .bind(queue_id).bind(&f.name).bind(&f.label).bind(f.kind.as_str()).bind(&choices).bind(f.required)
            .bind(f.position).bind(now)
            .fetch_one(&mut *c).await?;
        field_row!(r)
    })
}

/// Removes a custom field and its values; returns whether it existed.
pub async fn delete_field(tx: &mut Tx, queue_id: i64, name: &str) -> Result<bool> {
    let n = with_conn!(tx, c => {
        sqlx::query("DELETE FROM field_values WHERE field_id IN (SELECT id FROM custom_fields WHERE queue_id = $1 AND name = $2)")
            .bind(queue_id).bind(name).execute(&mut *c).await?;
        sqlx::query("DELETE FROM custom_fields WHERE queue_id = $1 AND name = $2")
            .bind(queue_id).bind(name).execute(&mut *c).await?.rows_affected()
    });
    Ok(n > 0)
}

/// The custom fields of a queue, in display order.
pub async fn fields(tx: &mut Tx, queue_id: i64) -> Result<Vec<CustomFieldRow>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            "SELECT id, queue_id, name, label, kind, choices, required, position FROM custom_fields
             WHERE queue_id = $1 ORDER BY position, name")
            .bind(queue_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| field_row!(r)).collect()
    })
}
