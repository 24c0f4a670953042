//! Opt-in email alerts of notices: subscriptions as people read them, the one query that finds
//! every subscribed contact a notice's scope reaches (with the lines it reaches for each), the
//! check of what was told already, and the instance secrets (the key of unsubscribe links).

use sqlx::Row;

use crate::inventory::{ScopeArg, ScopeIds, TermIds, json_ids, term_condition};
use crate::{Result, Tx};

/// A subscription with what it names: a line (by identifier) or a zone (code, name, level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub id: i64,
    pub contact_id: i64,
    pub contact_email: String,
    pub line_id: Option<i64>,
    pub line_identifier: Option<String>,
    pub territory_id: Option<i64>,
    pub territory_code: Option<String>,
    pub territory_name: Option<String>,
    pub territory_level: Option<String>,
    pub created_at: i64,
}

const SUBSCRIPTION: &str =
    "SELECT s.id, s.contact_id, k.email, s.line_id, l.identifier, s.territory_id, t.code AS t_code,
        t.name AS t_name, t.level AS t_level, s.created_at
     FROM alert_subscriptions s JOIN contacts k ON k.id = s.contact_id LEFT JOIN lines l ON l.id = s.line_id
     LEFT JOIN territories t ON t.id = s.territory_id";

macro_rules! subscription_row {
    ($r:expr) => {
        SubscriptionInfo {
            id: $r.try_get("id")?,
            contact_id: $r.try_get("contact_id")?,
            contact_email: $r.try_get("email")?,
            line_id: $r.try_get("line_id")?,
            line_identifier: $r.try_get("identifier")?,
            territory_id: $r.try_get("territory_id")?,
            territory_code: $r.try_get("t_code")?,
            territory_name: $r.try_get("t_name")?,
            territory_level: $r.try_get("t_level")?,
            created_at: $r.try_get("created_at")?,
        }
    };
}

/// A contact's subscriptions, oldest first.
pub async fn subscriptions_of(tx: &mut Tx, contact_id: i64) -> Result<Vec<SubscriptionInfo>> {
    let sql = format!("{SUBSCRIPTION} WHERE s.contact_id = $1 ORDER BY s.id");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(contact_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(subscription_row!(r))).collect()
    })
}

/// A subscription by id.
pub async fn subscription(tx: &mut Tx, id: i64) -> Result<Option<SubscriptionInfo>> {
    let sql = format!("{SUBSCRIPTION} WHERE s.id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(subscription_row!(r))),
            None => Ok(None),
        }
    })
}

/// Removes a subscription of a contact if it is still the one created at `created_at` (an
/// SQLite id can be used again after the newest row is deleted); returns whether it was there.
pub async fn delete_subscription(tx: &mut Tx, contact_id: i64, id: i64, created_at: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "DELETE FROM alert_subscriptions WHERE id = $1 AND contact_id = $2 AND created_at = $3")
        .bind(id).bind(contact_id).bind(created_at).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Adds many subscriptions (contact, line, territory; one of the last two), those that exist
/// already left alone; returns how many were added.
pub async fn insert_subscriptions(tx: &mut Tx, rows: &[(i64, Option<i64>, Option<i64>)], now: i64) -> Result<u64> {
    let mut added = 0;
    let sqlite = matches!(tx, Tx::Sqlite(_));
    for chunk in rows.chunks(4_000) {
        let sql = format!(
            "INSERT INTO alert_subscriptions (contact_id, line_id, territory_id, created_at) VALUES {}
             ON CONFLICT DO NOTHING",
            crate::param_rows(sqlite, chunk.len(), "(#, #, #, #)")
        );
        let mut args = Vec::with_capacity(chunk.len() * 4);
        for (contact, line, territory) in chunk {
            args.extend([
                crate::Arg::Int(*contact),
                crate::Arg::OptInt(*line),
                crate::Arg::OptInt(*territory),
                crate::Arg::Int(now),
            ]);
        }
        added += with_conn!(tx, c => crate::bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args)
            .execute(&mut *c).await?.rows_affected());
    }
    Ok(added)
}

/// A territory by code: (id, code, name, level, successor id).
pub async fn territory_by_code(tx: &mut Tx, code: &str) -> Result<Option<(i64, String, String, String, Option<i64>)>> {
    let row = with_conn!(tx, c => sqlx::query_as(
        "SELECT id, code, name, level, successor_id FROM territories WHERE code = $1")
        .bind(code).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// A territory by id: (id, code, name, level, successor id).
pub async fn territory(tx: &mut Tx, id: i64) -> Result<Option<(i64, String, String, String, Option<i64>)>> {
    let row = with_conn!(tx, c => sqlx::query_as(
        "SELECT id, code, name, level, successor_id FROM territories WHERE id = $1")
        .bind(id).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// Whether a customer has a line in service in a zone (a municipality, or a province through
/// its municipalities).
pub async fn customer_has_lines_in(tx: &mut Tx, customer_id: i64, territory_id: i64) -> Result<bool> {
    let found: Option<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT l.id FROM lines l JOIN territories m ON m.id = l.municipality_id
         WHERE l.customer_id = $1 AND l.status <> 'ceased' AND (m.id = $2 OR m.parent_id = $2) LIMIT 1")
        .bind(customer_id).bind(territory_id).fetch_optional(&mut *c).await)?;
    Ok(found.is_some())
}

/// The zones where a customer has lines in service: their municipalities and provinces, as
/// (code, name, level), provinces first, then by name.
pub async fn zones_of_customer(tx: &mut Tx, customer_id: i64) -> Result<Vec<(String, String, String)>> {
    let rows = with_conn!(tx, c => sqlx::query_as(
        "SELECT code, name, level FROM (
             SELECT m.code, m.name, m.level FROM territories m
             WHERE m.id IN (SELECT municipality_id FROM lines WHERE customer_id = $1 AND status <> 'ceased')
             UNION
             SELECT p.code, p.name, p.level FROM territories p
             WHERE p.level = 'province' AND p.id IN (SELECT m.parent_id FROM territories m
                 WHERE m.id IN (SELECT municipality_id FROM lines WHERE customer_id = $1 AND status <> 'ceased'))
         ) AS z ORDER BY CASE level WHEN 'province' THEN 0 ELSE 1 END, name, code")
        .bind(customer_id).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Contacts by address (lowercase), as (email, id, customer id); unknown ones left out.
pub async fn contacts_by_email(tx: &mut Tx, emails: &[String]) -> Result<Vec<(String, i64, Option<i64>)>> {
    let mut out = Vec::with_capacity(emails.len());
    for chunk in emails.chunks(10_000) {
        let rows: Vec<(String, i64, Option<i64>)> = match tx {
            Tx::Sqlite(c) => {
                let text = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
                sqlx::query_as(
                    "SELECT lower(email), id, customer_id FROM contacts
                     WHERE lower(email) IN (SELECT value FROM json_each($1))",
                )
                .bind(text)
                .fetch_all(&mut **c)
                .await?
            }
            Tx::Postgres(c) => {
                sqlx::query_as("SELECT lower(email), id, customer_id FROM contacts WHERE lower(email) = ANY($1)")
                    .bind(chunk)
                    .fetch_all(&mut **c)
                    .await?
            }
        };
        out.extend(rows);
    }
    Ok(out)
}

/// Lines by identifier, as (identifier, id, customer id, status); unknown ones left out.
pub async fn lines_by_identifier(tx: &mut Tx, identifiers: &[String]) -> Result<Vec<(String, i64, i64, String)>> {
    let mut out = Vec::with_capacity(identifiers.len());
    for chunk in identifiers.chunks(10_000) {
        let rows: Vec<(String, i64, i64, String)> = match tx {
            Tx::Sqlite(c) => {
                let text = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
                sqlx::query_as(
                    "SELECT identifier, id, customer_id, status FROM lines
                     WHERE identifier IN (SELECT value FROM json_each($1))",
                )
                .bind(text)
                .fetch_all(&mut **c)
                .await?
            }
            Tx::Postgres(c) => {
                sqlx::query_as("SELECT identifier, id, customer_id, status FROM lines WHERE identifier = ANY($1)")
                    .bind(chunk)
                    .fetch_all(&mut **c)
                    .await?
            }
        };
        out.extend(rows);
    }
    Ok(out)
}

/// One subscribed contact reached through one line by one of its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub contact_id: i64,
    pub email: String,
    pub name: String,
    pub language: String,
    pub customer_code: String,
    pub customer_name: String,
    pub line_id: i64,
    pub identifier: String,
    pub service: String,
    pub municipality: String,
    pub subscription_id: i64,
    pub subscription_created_at: i64,
}

macro_rules! reached_row {
    ($r:expr) => {
        Reached {
            contact_id: $r.try_get("contact_id")?,
            email: $r.try_get("email")?,
            name: $r.try_get("name")?,
            language: $r.try_get("language")?,
            customer_code: $r.try_get("customer_code")?,
            customer_name: $r.try_get("customer_name")?,
            line_id: $r.try_get("line_id")?,
            identifier: $r.try_get("identifier")?,
            service: $r.try_get("service")?,
            municipality: $r.try_get("municipality")?,
            subscription_id: $r.try_get("subscription_id")?,
            subscription_created_at: $r.try_get("subscription_created_at")?,
        }
    };
}

/// Every subscribed contact whose customer's lines in service the scope reaches, through a
/// subscription to the line or to its municipality or province, one row per (subscription,
/// line), ordered by contact and line; contacts whose address bounces are left out.
///
/// The query starts from the subscriptions (opt-in, a small part of the lines) and checks each
/// line they name, or each line of the contact's customer in the zone, against the scope's
/// terms, so a region-wide notice does not walk the region's lines.
pub async fn reached(tx: &mut Tx, scope: &ScopeIds) -> Result<Vec<Reached>> {
    let sqlite = matches!(tx, Tx::Sqlite(_));
    let mut args = Vec::new();
    let mut conds: Vec<String> =
        scope.terms.iter().map(|t| format!("({})", term_condition(t, sqlite, &mut args))).collect();
    if !scope.lines.is_empty() {
        let mut cond = term_condition(&TermIds::default(), sqlite, &mut args);
        args.push(ScopeArg::Ids(scope.lines.clone()));
        cond.push_str(&if sqlite {
            format!(" AND l.id IN (SELECT value FROM json_each(${}))", args.len())
        } else {
            format!(" AND l.id = ANY(${})", args.len())
        });
        conds.push(format!("({cond})"));
    }
    if conds.is_empty() {
        return Ok(Vec::new());
    }
    let cond = conds.join(" OR ");
    let columns = "k.id AS contact_id, k.email, k.name, k.language, cu.code AS customer_code, cu.name AS customer_name,
             l.id AS line_id, l.identifier, sv.code AS service, m.name AS municipality, s.id AS subscription_id,
             s.created_at AS subscription_created_at";
    let bounce = "NOT EXISTS (SELECT 1 FROM mail_bounces b WHERE b.address = lower(k.email))";
    // The join order is fixed (SQLite's CROSS JOIN, PostgreSQL's LATERAL behind OFFSET 0): from
    // each subscription to its contact, then to the line, or to the customer's lines (by
    // customer: `INDEXED BY` on SQLite) in the zone. Left to the planners without statistics,
    // PostgreSQL walked every line of each municipality for each zone subscription, and SQLite
    // built an automatic index on the service and scanned it (minutes for 100,000 contacts).
    let sql = match tx {
        Tx::Sqlite(_) => format!(
            "SELECT {columns} FROM alert_subscriptions s CROSS JOIN contacts k CROSS JOIN lines l
                 CROSS JOIN territories m CROSS JOIN services sv CROSS JOIN customers cu
             WHERE s.line_id IS NOT NULL AND k.id = s.contact_id AND l.id = s.line_id
                 AND l.customer_id = k.customer_id AND m.id = l.municipality_id AND sv.id = l.service_id
                 AND cu.id = l.customer_id AND {bounce} AND ({cond})
             UNION ALL
             SELECT {columns} FROM alert_subscriptions s CROSS JOIN contacts k
                 CROSS JOIN lines l INDEXED BY lines_customer
                 CROSS JOIN territories m CROSS JOIN services sv CROSS JOIN customers cu
             WHERE s.territory_id IS NOT NULL AND k.id = s.contact_id AND l.customer_id = k.customer_id
                 AND m.id = l.municipality_id AND (m.id = s.territory_id OR m.parent_id = s.territory_id)
                 AND sv.id = l.service_id AND cu.id = l.customer_id AND {bounce} AND ({cond})
             ORDER BY 1, 8, 11"
        ),
        Tx::Postgres(_) => format!(
            "SELECT {columns} FROM alert_subscriptions s JOIN contacts k ON k.id = s.contact_id
                 CROSS JOIN LATERAL (SELECT l.id, l.identifier, l.customer_id, l.service_id, l.municipality_id
                     FROM lines l WHERE l.id = s.line_id AND l.customer_id = k.customer_id AND ({cond}) OFFSET 0) l
                 JOIN territories m ON m.id = l.municipality_id JOIN services sv ON sv.id = l.service_id
                 JOIN customers cu ON cu.id = l.customer_id
             WHERE s.line_id IS NOT NULL AND {bounce}
             UNION ALL
             SELECT {columns} FROM alert_subscriptions s JOIN contacts k ON k.id = s.contact_id
                 CROSS JOIN LATERAL (SELECT l.id, l.identifier, l.customer_id, l.service_id, l.municipality_id
                     FROM lines l JOIN territories z ON z.id = l.municipality_id
                     WHERE l.customer_id = k.customer_id AND (z.id = s.territory_id OR z.parent_id = s.territory_id)
                         AND ({cond}) OFFSET 0) l
                 JOIN territories m ON m.id = l.municipality_id JOIN services sv ON sv.id = l.service_id
                 JOIN customers cu ON cu.id = l.customer_id
             WHERE s.territory_id IS NOT NULL AND {bounce}
             ORDER BY 1, 8, 11"
        ),
    };
    let rows = match tx {
        Tx::Sqlite(c) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in &args {
                q = match a {
                    ScopeArg::Id(i) => q.bind(*i),
                    ScopeArg::Ids(ids) => q.bind(json_ids(ids)),
                };
            }
            q.fetch_all(&mut **c).await?.iter().map(|r| Ok(reached_row!(r))).collect::<Result<Vec<_>>>()?
        }
        Tx::Postgres(c) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in &args {
                q = match a {
                    ScopeArg::Id(i) => q.bind(*i),
                    ScopeArg::Ids(ids) => q.bind(ids.clone()),
                };
            }
            q.fetch_all(&mut **c).await?.iter().map(|r| Ok(reached_row!(r))).collect::<Result<Vec<_>>>()?
        }
    };
    Ok(rows)
}

/// The contacts already told of a notice's event.
pub async fn told(tx: &mut Tx, notice_id: i64, event: &str) -> Result<Vec<i64>> {
    let ids: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT DISTINCT contact_id FROM notice_deliveries WHERE notice_id = $1 AND event = $2")
        .bind(notice_id).bind(event).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// How many jobs of `kind` are queued or running.
pub async fn jobs_pending(tx: &mut Tx, kind: &str) -> Result<i64> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') AND kind = $1")
        .bind(kind).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// A stored secret of the instance, by name.
pub async fn secret(tx: &mut Tx, name: &str) -> Result<Option<String>> {
    let v: Option<String> = with_conn!(tx, c => sqlx::query_scalar("SELECT value FROM instance_secrets WHERE name = $1")
        .bind(name).fetch_optional(&mut *c).await)?;
    Ok(v)
}

/// Stores a secret unless one of that name exists (two nodes racing keep the first).
pub async fn add_secret(tx: &mut Tx, name: &str, value: &str, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO instance_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name).bind(value).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
