//! Full-text search: SQLite FTS5 or PostgreSQL tsvector, one document per message.

use domain::{MessageKind, SearchQuery, SearchTerm};

use crate::{Arg, Backend, Result, Tx};

/// The most text of one message that is indexed.
const MAX_DOC_BYTES: usize = 256 * 1024;

/// Full-text terms ready for the backend.
#[derive(Debug, Clone)]
pub struct TextQuery {
    terms: Vec<SearchTerm>,
    fts5: String,
}

impl TextQuery {
    /// The text part of a parsed query; `None` when it has no terms.
    pub fn from_query(q: &SearchQuery) -> Option<TextQuery> {
        q.has_text().then(|| TextQuery { terms: q.terms.clone(), fts5: q.fts5_match() })
    }
}

pub(crate) fn document(title: &str, body: &str) -> String {
    let mut doc = String::with_capacity(title.len() + 1 + body.len().min(MAX_DOC_BYTES));
    doc.push_str(title);
    doc.push('\n');
    let mut end = body.len().min(MAX_DOC_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    doc.push_str(&body[..end]);
    doc
}

/// Indexes one message of ticket `ticket_id` under the ticket's title; `public` for replies.
pub async fn index_message(
    tx: &mut Tx,
    message_id: i64,
    ticket_id: i64,
    public: bool,
    title: &str,
    body: &str,
) -> Result<()> {
    let doc = document(title, body);
    match tx {
        Tx::Sqlite(c) => {
            sqlx::query("INSERT INTO message_fts (rowid, doc) VALUES ($1, $2)")
                .bind(message_id)
                .bind(doc)
                .execute(&mut **c)
                .await?;
        }
        Tx::Postgres(c) => {
            sqlx::query(
                "INSERT INTO message_fts (message_id, ticket_id, public, doc) VALUES ($1, $2, $3, to_tsvector('simple', $4))",
            )
            .bind(message_id)
            .bind(ticket_id)
            .bind(public)
            .bind(domain::search::fold_diacritics(&doc))
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(())
}

/// Re-indexes every message of a ticket (after its title changed or messages moved in).
pub async fn reindex_ticket(tx: &mut Tx, ticket_id: i64, title: &str) -> Result<()> {
    let messages: Vec<(i64, String, String)> = with_conn!(&mut *tx, c => sqlx::query_as(
        "SELECT id, body_text, kind FROM messages WHERE ticket_id = $1 ORDER BY id").bind(ticket_id).fetch_all(&mut *c).await)?;
    for (id, body, kind) in messages {
        match &mut *tx {
            Tx::Sqlite(c) => {
                sqlx::query("DELETE FROM message_fts WHERE rowid = $1").bind(id).execute(&mut **c).await?;
            }
            Tx::Postgres(c) => {
                sqlx::query("DELETE FROM message_fts WHERE message_id = $1").bind(id).execute(&mut **c).await?;
            }
        }
        index_message(tx, id, ticket_id, kind == MessageKind::Reply.as_str(), title, &body).await?;
    }
    Ok(())
}

/// A condition on `t.id` (the tickets table aliased `t`) keeping the tickets with a matching
/// message (a public one when `public_only`); pushes its arguments onto `args`.
///
/// `window` = `(lowest ticket, highest ticket, first message of the lowest ticket)` bounds the
/// search on SQLite, where FTS5 reads the documents from that message on only; PostgreSQL ignores
/// it and lets its planner walk the ticket index or the GIN index.
pub fn matching_tickets(
    backend: Backend,
    q: &TextQuery,
    public_only: bool,
    window: Option<(i64, i64, i64)>,
    args: &mut Vec<Arg>,
) -> String {
    let mut push = |a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    match backend {
        Backend::Sqlite => {
            let pm = push(Arg::Text(q.fts5.clone()));
            let public = if public_only { " AND m.kind = 'reply'" } else { "" };
            let (from, within, tickets) = match window {
                Some((lo, hi, min_id)) => {
                    let (lo, hi, min) = (push(Arg::Int(lo)), push(Arg::Int(hi)), push(Arg::Int(min_id)));
                    (
                        format!(" AND rowid >= {min}"),
                        format!(" AND m.ticket_id BETWEEN {lo} AND {hi}"),
                        format!("t.id BETWEEN {lo} AND {hi} AND "),
                    )
                }
                None => Default::default(),
            };
            format!(
                "{tickets}t.id IN (SELECT m.ticket_id FROM messages m WHERE m.id IN \
                 (SELECT rowid FROM message_fts WHERE message_fts MATCH {pm}{from}){public}{within})"
            )
        }
        Backend::Postgres => {
            let parts: Vec<String> = q
                .terms
                .iter()
                .map(|t| {
                    let (f, text) = match t {
                        SearchTerm::Word(w) => ("plainto_tsquery", w),
                        SearchTerm::Phrase(p) => ("phraseto_tsquery", p),
                    };
                    format!("{f}('simple', {})", push(Arg::Text(domain::search::fold_diacritics(text))))
                })
                .collect();
            let public = if public_only { " AND f.public" } else { "" };
            format!("t.id IN (SELECT f.ticket_id FROM message_fts f WHERE f.doc @@ ({}){public})", parts.join(" && "))
        }
    }
}
