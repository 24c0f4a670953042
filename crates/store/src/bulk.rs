//! Bulk loading for seeding large databases (benchmarks, migrations from other helpdesks): many
//! tickets per statement, with the same rows the use cases write (messages, requestors, search
//! documents, `created` and message events).

use domain::{Category, Channel, MessageKind, Severity, Status};

use crate::{Arg, Backend, Result, Tx, bind_args, search};

/// A ticket to load, with its thread.
#[derive(Debug, Clone)]
pub struct BulkTicket {
    pub id: i64,
    pub queue_id: i64,
    pub reference: String,
    pub title: String,
    pub status: Status,
    pub owner_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    pub priority: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub requestor_id: i64,
    pub messages: Vec<BulkMessage>,
}

/// A message of a bulk-loaded ticket.
#[derive(Debug, Clone)]
pub struct BulkMessage {
    pub id: i64,
    pub kind: MessageKind,
    pub author_user_id: Option<i64>,
    pub author_contact_id: Option<i64>,
    pub author_label: String,
    pub channel: Channel,
    pub body: String,
    pub at: i64,
}

/// The next free ticket and message ids.
pub async fn next_ids(tx: &mut Tx) -> Result<(i64, i64)> {
    let (t, m): (i64, i64) = with_conn!(tx, c => sqlx::query_as(
        "SELECT COALESCE((SELECT MAX(id) FROM tickets), 0) + 1, COALESCE((SELECT MAX(id) FROM messages), 0) + 1")
        .fetch_one(&mut *c).await)?;
    Ok((t, m))
}

/// Appends one value in `COPY … FROM STDIN` text format.
fn copy_value(out: &mut String, a: &Arg) {
    use std::fmt::Write as _;
    let text = match a {
        Arg::Int(i) | Arg::OptInt(Some(i)) => {
            let _ = write!(out, "{i}");
            return;
        }
        Arg::OptInt(None) | Arg::OptText(None) => {
            out.push_str("\\N");
            return;
        }
        Arg::Text(t) | Arg::OptText(Some(t)) => t,
        // bytea in text format: `\x` and hex (escaped once more for COPY).
        Arg::Bytes(b) => {
            out.push_str("\\\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            return;
        }
    };
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

/// Loads rows with PostgreSQL's `COPY`, which skips planning and per-row parameters.
async fn copy_rows(c: &mut sqlx::PgConnection, target: &str, rows: Vec<Vec<Arg>>) -> Result<()> {
    let mut buf = String::with_capacity(rows.len() * 64);
    for row in &rows {
        for (j, a) in row.iter().enumerate() {
            if j > 0 {
                buf.push('\t');
            }
            copy_value(&mut buf, a);
        }
        buf.push('\n');
    }
    let mut copy = c.copy_in_raw(&format!("COPY {target} FROM STDIN")).await?;
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Loads rows into `target` (`table (columns…)`): `COPY` on PostgreSQL, multi-row `INSERT`s on
/// SQLite.
async fn load(tx: &mut Tx, target: &str, rows: Vec<Vec<Arg>>) -> Result<()> {
    let width = rows.first().map_or(1, Vec::len).max(1);
    let c = match tx {
        Tx::Postgres(c) => return copy_rows(c, target, rows).await,
        Tx::Sqlite(c) => c,
    };
    // SQLite resolves `$N` names with a linear search per parameter, which is quadratic on
    // statements this long; its anonymous `?` costs nothing. At most ~30,000 parameters per
    // statement (SQLite allows 32,766).
    let row = format!("({})", vec!["?"; width].join(","));
    for chunk in rows.chunks((30_000 / width).max(1)) {
        let sql = format!("INSERT INTO {target} VALUES {}", vec![row.as_str(); chunk.len()].join(","));
        let args: Vec<Arg> = chunk.iter().flatten().cloned().collect();
        bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).execute(&mut **c).await?;
    }
    Ok(())
}

/// Loads tickets with their requestor, messages, search documents and events.
pub async fn insert(tx: &mut Tx, tickets: &[BulkTicket]) -> Result<()> {
    let backend = tx.backend();
    let mut t_rows = Vec::with_capacity(tickets.len());
    let mut c_rows = Vec::with_capacity(tickets.len());
    let mut m_rows = Vec::new();
    let mut f_rows = Vec::new();
    let mut e_rows = Vec::new();
    for t in tickets {
        t_rows.push(vec![
            Arg::Int(t.id),
            Arg::Int(t.queue_id),
            Arg::Text(t.title.clone()),
            Arg::Text(t.status.as_str().into()),
            Arg::OptInt(t.owner_id),
            Arg::OptInt(t.customer_id),
            Arg::Text(t.category.as_str().into()),
            Arg::Text(t.severity.as_str().into()),
            Arg::Int(t.priority),
            Arg::Int(t.created_at),
            Arg::Int(t.updated_at),
            Arg::OptInt(t.resolved_at),
        ]);
        c_rows.push(vec![Arg::Int(t.id), Arg::Int(t.requestor_id), Arg::Text("requestor".into())]);
        let first = t.messages.first();
        let event = |kind: &str, new: String, at: i64, m: Option<&BulkMessage>| {
            vec![
                Arg::Int(t.id),
                Arg::Text("ticket".into()),
                Arg::Int(t.id),
                Arg::OptInt(m.and_then(|m| m.author_user_id)),
                Arg::OptInt(m.and_then(|m| m.author_contact_id)),
                Arg::Text(m.map(|m| m.author_label.clone()).unwrap_or_default()),
                Arg::Text(m.map(|m| m.channel).unwrap_or(Channel::System).as_str().into()),
                Arg::Int(at),
                Arg::Text(kind.into()),
                Arg::OptText(None),
                Arg::OptText(None),
                Arg::OptText(Some(new)),
            ]
        };
        e_rows.push(event("created", t.reference.clone(), t.created_at, first));
        for m in &t.messages {
            m_rows.push(vec![
                Arg::Int(m.id),
                Arg::Int(t.id),
                Arg::Text(m.kind.as_str().into()),
                Arg::OptInt(m.author_user_id),
                Arg::OptInt(m.author_contact_id),
                Arg::Text(m.author_label.clone()),
                Arg::Text(m.channel.as_str().into()),
                Arg::Text(m.body.clone()),
                Arg::Int(m.at),
            ]);
            let doc = search::document(&t.title, &m.body);
            f_rows.push(match backend {
                Backend::Sqlite => vec![Arg::Int(m.id), Arg::Text(doc)],
                Backend::Postgres => vec![
                    Arg::Int(m.id),
                    Arg::Int(t.id),
                    Arg::Text(if m.kind == MessageKind::Reply { "t" } else { "f" }.into()),
                    Arg::Text(domain::search::fold_diacritics(&doc)),
                ],
            });
            e_rows.push(event(m.kind.as_str(), m.id.to_string(), m.at, Some(m)));
        }
        if t.status != Status::New {
            let mut e = event("set", t.status.as_str().into(), t.updated_at, t.messages.last());
            e[9] = Arg::OptText(Some("status".into()));
            e[10] = Arg::OptText(Some("new".into()));
            e_rows.push(e);
        }
    }
    load(
        tx,
        "tickets (id, queue_id, title, status, owner_id, customer_id, category, severity, priority, created_at, updated_at, resolved_at)",
        t_rows,
    )
    .await?;
    load(tx, "ticket_contacts (ticket_id, contact_id, role)", c_rows).await?;
    load(
        tx,
        "messages (id, ticket_id, kind, author_user_id, author_contact_id, author_label, channel, body_text, created_at)",
        m_rows,
    )
    .await?;
    match tx {
        Tx::Sqlite(_) => load(tx, "message_fts (rowid, doc)", f_rows).await?,
        Tx::Postgres(c) => {
            // One `to_tsvector` pass over a staging table for the search documents.
            sqlx::query(
                "CREATE TEMPORARY TABLE IF NOT EXISTS bulk_fts (message_id BIGINT, ticket_id BIGINT, public BOOLEAN, doc TEXT)
                 ON COMMIT DELETE ROWS",
            )
            .execute(&mut **c)
            .await?;
            copy_rows(c, "bulk_fts (message_id, ticket_id, public, doc)", f_rows).await?;
            sqlx::query(
                "INSERT INTO message_fts (message_id, ticket_id, public, doc)
                 SELECT message_id, ticket_id, public, to_tsvector('simple', doc) FROM bulk_fts",
            )
            .execute(&mut **c)
            .await?;
        }
    }
    load(
        tx,
        "events (ticket_id, subject, subject_id, actor_user_id, actor_contact_id, actor_label, channel, at, kind, field, old_value, new_value)",
        e_rows,
    )
    .await?;
    Ok(())
}

/// After loading: moves PostgreSQL's id sequences past the loaded ids, and refreshes the
/// planner's statistics on both backends.
pub async fn finish(tx: &mut Tx) -> Result<()> {
    match tx {
        Tx::Postgres(c) => {
            for table in ["tickets", "messages"] {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **c).await?;
            }
            sqlx::query("ANALYZE").execute(&mut **c).await?;
        }
        Tx::Sqlite(c) => {
            sqlx::query("ANALYZE").execute(&mut **c).await?;
        }
    }
    Ok(())
}

/// Loads `n` open tickets of queue `queue_id` with running SLA clocks of level `level_id`
/// (opened one minute apart from `first_opened`, none intervened yet), for benchmarks of clock
/// maintenance; returns the first ticket id. One statement per table, generated in the database.
pub async fn clocks(tx: &mut Tx, queue_id: i64, level_id: i64, n: i64, first_opened: i64) -> Result<i64> {
    let (first, _) = next_ids(tx).await?;
    let series = "WITH RECURSIVE s(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $1)";
    let tickets = format!(
        "{series} INSERT INTO tickets (id, queue_id, title, status, category, severity, priority, created_at, updated_at)
         SELECT $2 + i, $3, 'SLA clock ' || CAST(i AS TEXT), 'open',
                CASE WHEN i % 3 = 0 THEN 'blocking_fault' ELSE 'non_blocking_fault' END,
                CASE WHEN i % 3 = 0 THEN 'blocking' ELSE 'non_blocking' END, 50, $4 + i * 60000000, $4 + i * 60000000
         FROM s"
    );
    let clocks = format!(
        "{series} INSERT INTO ticket_sla (ticket_id, level_id, category, severity, phase, consumed, running_since,
             paused_for, updated_at)
         SELECT $2 + i, $3, CASE WHEN i % 3 = 0 THEN 'blocking_fault' ELSE 'non_blocking_fault' END,
                CASE WHEN i % 3 = 0 THEN 'blocking' ELSE 'non_blocking' END, 'intervention',
                (i % 7) * 60000000, $4 + i * 60000000, 0, $4
         FROM s"
    );
    with_conn!(tx, c => {
        sqlx::query(sqlx::AssertSqlSafe(tickets)).bind(n).bind(first).bind(queue_id).bind(first_opened)
            .execute(&mut *c).await?;
        sqlx::query(sqlx::AssertSqlSafe(clocks)).bind(n).bind(first).bind(level_id).bind(first_opened)
            .execute(&mut *c).await.map(|_| ())
    })?;
    Ok(first)
}
