//! Full-text search: SQLite FTS5 or PostgreSQL tsvector, one document per message.

use domain::{SearchQuery, SearchTerm};

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

/// Indexes one message under its ticket's title.
pub async fn index_message(tx: &mut Tx, message_id: i64, title: &str, body: &str) -> Result<()> {
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
            sqlx::query("INSERT INTO message_fts (message_id, doc) VALUES ($1, to_tsvector('simple', $2))")
                .bind(message_id)
                .bind(domain::search::fold_diacritics(&doc))
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(())
}

/// Re-indexes every message of a ticket (after its title changed or messages moved in).
pub async fn reindex_ticket(tx: &mut Tx, ticket_id: i64, title: &str) -> Result<()> {
    let messages: Vec<(i64, String)> = with_conn!(&mut *tx, c => sqlx::query_as(
        "SELECT id, body_text FROM messages WHERE ticket_id = $1 ORDER BY id").bind(ticket_id).fetch_all(&mut *c).await)?;
    for (id, body) in messages {
        match &mut *tx {
            Tx::Sqlite(c) => {
                sqlx::query("DELETE FROM message_fts WHERE rowid = $1").bind(id).execute(&mut **c).await?;
            }
            Tx::Postgres(c) => {
                sqlx::query("DELETE FROM message_fts WHERE message_id = $1").bind(id).execute(&mut **c).await?;
            }
        }
        index_message(tx, id, title, &body).await?;
    }
    Ok(())
}

/// SQL selecting the ids of matching messages (from `min_id` on, when given); pushes its
/// arguments onto `args`.
pub fn matching_messages(backend: Backend, q: &TextQuery, min_id: Option<i64>, args: &mut Vec<Arg>) -> String {
    let from = |args: &mut Vec<Arg>, column: &str| match min_id {
        Some(m) => {
            args.push(Arg::Int(m));
            format!(" AND {column} >= ${}", args.len())
        }
        None => String::new(),
    };
    match backend {
        Backend::Sqlite => {
            args.push(Arg::Text(q.fts5.clone()));
            let n = args.len();
            let range = from(args, "rowid");
            format!("SELECT rowid FROM message_fts WHERE message_fts MATCH ${n}{range}")
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
                    args.push(Arg::Text(domain::search::fold_diacritics(text)));
                    format!("{f}('simple', ${})", args.len())
                })
                .collect();
            let range = from(args, "message_id");
            format!("SELECT message_id FROM message_fts WHERE doc @@ ({}){range}", parts.join(" && "))
        }
    }
}
