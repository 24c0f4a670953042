//! The operator's inventory: territory, network elements, service types and customers' lines,
//! with the queries that turn a notice's scope into the lines and customers it reaches.

use sqlx::Row;

use crate::{Result, Tx};

/// A territory (country, region, province, municipality).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerritoryRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `country`, `region`, `province` or `municipality`.
    pub level: String,
    pub parent_id: Option<i64>,
    /// Set when this municipality was merged into another.
    pub successor_id: Option<i64>,
    pub population: Option<i64>,
}

/// A territory to add or update, its parent named by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerritoryIn {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub population: Option<i64>,
}

/// A network element (PoP, OLT, PON port, exchange, cabinet …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
}

/// A service type of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRow {
    pub id: i64,
    pub code: String,
    pub name: String,
}

/// A line to add or update (matched by identifier), with the ids it refers to resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIn {
    pub identifier: String,
    pub customer_id: i64,
    pub service_id: i64,
    pub municipality_id: i64,
    /// `active`, `suspended` or `ceased`.
    pub status: String,
    pub monitoring_address: Option<String>,
    /// The elements it depends on directly (their ancestors are implied).
    pub elements: Vec<i64>,
}

/// A line as people read it: codes and names instead of ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    pub id: i64,
    pub identifier: String,
    pub customer_id: i64,
    pub customer_code: String,
    pub service: String,
    pub status: String,
    pub monitoring_address: Option<String>,
    pub municipality_code: String,
    pub municipality_name: String,
    /// The codes of the municipality's province, region and country (as far as they exist).
    pub ancestors: Vec<String>,
}

/// The lines a scope term reaches: every part given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermIds {
    /// In one of these municipalities (`None`: anywhere).
    pub municipalities: Option<Vec<i64>>,
    /// Depending on one of these elements (`None`: on any).
    pub elements: Option<Vec<i64>>,
    /// Of this service type (`None`: any).
    pub service_id: Option<i64>,
}

/// A scope with its codes resolved to ids: a union of terms plus explicit lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeIds {
    pub terms: Vec<TermIds>,
    pub lines: Vec<i64>,
}

const TERRITORY: &str = "SELECT id, code, name, level, parent_id, successor_id, population FROM territories";

/// Every territory (a few thousand rows: the whole of Italy is 8,032).
pub async fn territories(tx: &mut Tx) -> Result<Vec<TerritoryRow>> {
    type Tuple = (i64, String, String, String, Option<i64>, Option<i64>, Option<i64>);
    let rows: Vec<Tuple> = with_conn!(tx, c => sqlx::query_as(TERRITORY).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, code, name, level, parent_id, successor_id, population)| TerritoryRow {
            id,
            code,
            name,
            level,
            parent_id,
            successor_id,
            population,
        })
        .collect())
}

/// Adds or updates territories in the order given (parents first); returns how many.
pub async fn upsert_territories(tx: &mut Tx, rows: &[TerritoryIn], now: i64) -> Result<usize> {
    for t in rows {
        with_conn!(tx, c => sqlx::query(
            "INSERT INTO territories (code, name, level, parent_id, population, updated_at)
             VALUES ($1, $2, $3, (SELECT id FROM territories WHERE code = $4), $5, $6)
             ON CONFLICT (code) DO UPDATE SET name = $2, level = $3,
                 parent_id = (SELECT id FROM territories WHERE code = $4),
                 population = COALESCE($5, territories.population), updated_at = $6")
            .bind(&t.code).bind(&t.name).bind(&t.level).bind(&t.parent_code).bind(t.population).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(rows.len())
}

/// Records that territory `old` was merged into `successor` (both by id).
pub async fn set_successor(tx: &mut Tx, old: i64, successor: i64, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE territories SET successor_id = $2, updated_at = $3 WHERE id = $1")
        .bind(old).bind(successor).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Moves the lines of municipality `old` to `successor`; returns how many moved.
pub async fn move_lines(tx: &mut Tx, old: i64, successor: i64, now: i64) -> Result<u64> {
    let n = with_conn!(tx, c => sqlx::query(
        "UPDATE lines SET municipality_id = $2, updated_at = $3 WHERE municipality_id = $1")
        .bind(old).bind(successor).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n)
}

/// Every network element's code and id (for imports).
pub async fn element_ids(tx: &mut Tx) -> Result<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> =
        with_conn!(tx, c => sqlx::query_as("SELECT code, id FROM network_elements").fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// A network element by code.
pub async fn element(tx: &mut Tx, code: &str) -> Result<Option<ElementRow>> {
    let row: Option<(i64, String, String, String, Option<i64>)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT id, code, name, kind, parent_id FROM network_elements WHERE code = $1")
        .bind(code).fetch_optional(&mut *c).await)?;
    Ok(row.map(|(id, code, name, kind, parent_id)| ElementRow { id, code, name, kind, parent_id }))
}

/// Network elements whose code or name contains `text` (case-insensitive), for pickers.
pub async fn search_elements(tx: &mut Tx, text: &str, limit: i64) -> Result<Vec<ElementRow>> {
    let pattern = format!("%{}%", text.to_lowercase().replace(['%', '_'], ""));
    let rows: Vec<(i64, String, String, String, Option<i64>)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT id, code, name, kind, parent_id FROM network_elements
         WHERE lower(code) LIKE $1 OR lower(name) LIKE $1 ORDER BY code LIMIT $2")
        .bind(pattern).bind(limit).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, code, name, kind, parent_id)| ElementRow { id, code, name, kind, parent_id })
        .collect())
}

/// Adds or updates a network element, its parent by id.
pub async fn upsert_element(
    tx: &mut Tx,
    code: &str,
    name: &str,
    kind: &str,
    parent_id: Option<i64>,
    now: i64,
) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO network_elements (code, name, kind, parent_id, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (code) DO UPDATE SET name = $2, kind = $3, parent_id = $4, updated_at = $5 RETURNING id")
        .bind(code).bind(name).bind(kind).bind(parent_id).bind(now).fetch_one(&mut *c).await)?;
    Ok(id)
}

/// The ids of element `id` and of everything below it.
pub async fn element_subtree(tx: &mut Tx, id: i64) -> Result<Vec<i64>> {
    let ids: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "WITH RECURSIVE down(id) AS (SELECT CAST($1 AS BIGINT) UNION
             SELECT e.id FROM network_elements e JOIN down ON e.parent_id = down.id)
         SELECT id FROM down")
        .bind(id).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// The service catalogue.
pub async fn services(tx: &mut Tx) -> Result<Vec<ServiceRow>> {
    let rows: Vec<(i64, String, String)> = with_conn!(tx, c => sqlx::query_as("SELECT id, code, name FROM services ORDER BY code").fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(|(id, code, name)| ServiceRow { id, code, name }).collect())
}

/// Adds a service type or renames it; returns its id.
pub async fn upsert_service(tx: &mut Tx, code: &str, name: &str) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO services (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET name = $2 RETURNING id")
        .bind(code).bind(name).fetch_one(&mut *c).await)?;
    Ok(id)
}

/// Every customer's code and id (for imports).
pub async fn customer_ids(tx: &mut Tx) -> Result<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> =
        with_conn!(tx, c => sqlx::query_as("SELECT code, id FROM customers").fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Adds or updates lines by identifier and replaces the elements they depend on. Many rows
/// per statement: `?` parameters on SQLite, arrays on PostgreSQL.
pub async fn upsert_lines(tx: &mut Tx, lines: &[LineIn], now: i64) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = match tx {
        Tx::Postgres(c) => {
            let col = |f: fn(&LineIn) -> i64| lines.iter().map(f).collect::<Vec<i64>>();
            let idents: Vec<&str> = lines.iter().map(|l| l.identifier.as_str()).collect();
            let statuses: Vec<&str> = lines.iter().map(|l| l.status.as_str()).collect();
            let monitoring: Vec<Option<&str>> = lines.iter().map(|l| l.monitoring_address.as_deref()).collect();
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "INSERT INTO lines (identifier, customer_id, service_id, municipality_id, status, monitoring_address,
                     updated_at)
                 SELECT v.i, v.c, v.s, v.m, v.st, v.mo, $7
                 FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[])
                     AS v(i, c, s, m, st, mo)
                 ON CONFLICT (identifier) DO UPDATE SET customer_id = excluded.customer_id,
                     service_id = excluded.service_id, municipality_id = excluded.municipality_id,
                     status = excluded.status, monitoring_address = excluded.monitoring_address,
                     updated_at = excluded.updated_at
                 RETURNING id, identifier",
            )
            .bind(idents)
            .bind(col(|l| l.customer_id))
            .bind(col(|l| l.service_id))
            .bind(col(|l| l.municipality_id))
            .bind(statuses)
            .bind(monitoring)
            .bind(now)
            .fetch_all(&mut **c)
            .await?;
            order_ids(lines, rows)
        }
        Tx::Sqlite(c) => {
            let mut out = Vec::with_capacity(lines.len());
            for chunk in lines.chunks(4_000) {
                let sql = format!(
                    "INSERT INTO lines (identifier, customer_id, service_id, municipality_id, status, monitoring_address,
                         updated_at) VALUES {}
                     ON CONFLICT (identifier) DO UPDATE SET customer_id = excluded.customer_id,
                         service_id = excluded.service_id, municipality_id = excluded.municipality_id,
                         status = excluded.status, monitoring_address = excluded.monitoring_address,
                         updated_at = excluded.updated_at
                     RETURNING id, identifier",
                    vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
                );
                let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
                for l in chunk {
                    q = q
                        .bind(&l.identifier)
                        .bind(l.customer_id)
                        .bind(l.service_id)
                        .bind(l.municipality_id)
                        .bind(&l.status)
                        .bind(&l.monitoring_address)
                        .bind(now);
                }
                let rows = q.fetch_all(&mut **c).await?;
                out.extend(order_ids(chunk, rows));
            }
            out
        }
    };
    // The elements: the old links go, the new ones come.
    let pairs: Vec<(i64, i64)> =
        lines.iter().zip(&ids).flat_map(|(l, id)| l.elements.iter().map(move |e| (*e, *id))).collect();
    match tx {
        Tx::Postgres(c) => {
            sqlx::query("DELETE FROM line_elements WHERE line_id = ANY($1)").bind(&ids).execute(&mut **c).await?;
            let (els, ls): (Vec<i64>, Vec<i64>) = pairs.into_iter().unzip();
            sqlx::query(
                "INSERT INTO line_elements (element_id, line_id) SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(els)
            .bind(ls)
            .execute(&mut **c)
            .await?;
        }
        Tx::Sqlite(c) => {
            for chunk in ids.chunks(20_000) {
                let sql = format!("DELETE FROM line_elements WHERE line_id IN ({})", vec!["?"; chunk.len()].join(","));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(&mut **c).await?;
            }
            for chunk in pairs.chunks(10_000) {
                let sql = format!(
                    "INSERT INTO line_elements (element_id, line_id) VALUES {} ON CONFLICT DO NOTHING",
                    vec!["(?, ?)"; chunk.len()].join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (e, l) in chunk {
                    q = q.bind(e).bind(l);
                }
                q.execute(&mut **c).await?;
            }
        }
    }
    Ok(())
}

/// The ids returned for `lines`, in their order (RETURNING does not promise one).
fn order_ids(lines: &[LineIn], rows: Vec<(i64, String)>) -> Vec<i64> {
    let by: std::collections::HashMap<String, i64> = rows.into_iter().map(|(id, i)| (i, id)).collect();
    lines.iter().map(|l| by.get(&l.identifier).copied().unwrap_or_default()).collect()
}

const LINE: &str = "SELECT l.id, l.identifier, l.customer_id, cu.code AS customer_code, s.code AS service, l.status,
        l.monitoring_address, m.code AS m_code, m.name AS m_name, p.code AS p_code, r.code AS r_code, k.code AS k_code
     FROM lines l JOIN customers cu ON cu.id = l.customer_id JOIN services s ON s.id = l.service_id
     JOIN territories m ON m.id = l.municipality_id LEFT JOIN territories p ON p.id = m.parent_id
     LEFT JOIN territories r ON r.id = p.parent_id LEFT JOIN territories k ON k.id = r.parent_id";

macro_rules! line_row {
    ($r:expr) => {{
        let ancestors: Vec<Option<String>> = vec![$r.try_get("p_code")?, $r.try_get("r_code")?, $r.try_get("k_code")?];
        LineRow {
            id: $r.try_get("id")?,
            identifier: $r.try_get("identifier")?,
            customer_id: $r.try_get("customer_id")?,
            customer_code: $r.try_get("customer_code")?,
            service: $r.try_get("service")?,
            status: $r.try_get("status")?,
            monitoring_address: $r.try_get("monitoring_address")?,
            municipality_code: $r.try_get("m_code")?,
            municipality_name: $r.try_get("m_name")?,
            ancestors: ancestors.into_iter().flatten().collect(),
        }
    }};
}

/// The lines of these customers (ceased ones too), by identifier.
pub async fn lines_of(tx: &mut Tx, customer_ids: &[i64]) -> Result<Vec<LineRow>> {
    let sql = format!("{LINE} WHERE l.customer_id IN (SELECT value FROM json_each($1)) ORDER BY l.identifier");
    let pg = format!("{LINE} WHERE l.customer_id = ANY($1) ORDER BY l.identifier");
    match tx {
        Tx::Sqlite(c) => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json_ids(customer_ids)).fetch_all(&mut **c).await?;
            rows.iter().map(|r| Ok(line_row!(r))).collect()
        }
        Tx::Postgres(c) => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(pg)).bind(customer_ids).fetch_all(&mut **c).await?;
            rows.iter().map(|r| Ok(line_row!(r))).collect()
        }
    }
}

/// A line by identifier.
pub async fn line(tx: &mut Tx, identifier: &str) -> Result<Option<LineRow>> {
    let sql = format!("{LINE} WHERE l.identifier = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(identifier).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(line_row!(r))),
            None => Ok(None),
        }
    })
}

/// The ids of lines by identifier (unknown ones left out), as (identifier, id).
pub async fn line_ids(tx: &mut Tx, identifiers: &[String]) -> Result<Vec<(String, i64)>> {
    match tx {
        Tx::Sqlite(c) => {
            let text = serde_json::to_string(identifiers).unwrap_or_else(|_| "[]".into());
            Ok(sqlx::query_as("SELECT identifier, id FROM lines WHERE identifier IN (SELECT value FROM json_each($1))")
                .bind(text)
                .fetch_all(&mut **c)
                .await?)
        }
        Tx::Postgres(c) => Ok(sqlx::query_as("SELECT identifier, id FROM lines WHERE identifier = ANY($1)")
            .bind(identifiers)
            .fetch_all(&mut **c)
            .await?),
    }
}

/// The codes of every element the given lines depend on, ancestors included, as (line id, code).
pub async fn element_codes_of(tx: &mut Tx, line_ids: &[i64]) -> Result<Vec<(i64, String)>> {
    let body = "up(line_id, id) AS (SELECT le.line_id, le.element_id FROM line_elements le WHERE le.line_id IN (IDS)
             UNION SELECT up.line_id, e.parent_id FROM up JOIN network_elements e ON e.id = up.id
             WHERE e.parent_id IS NOT NULL)
         SELECT up.line_id, e.code FROM up JOIN network_elements e ON e.id = up.id";
    match tx {
        Tx::Sqlite(c) => {
            let sql = format!("WITH RECURSIVE {}", body.replace("IDS", "SELECT value FROM json_each($1)"));
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(json_ids(line_ids)).fetch_all(&mut **c).await?)
        }
        Tx::Postgres(c) => {
            let sql = format!("WITH RECURSIVE {}", body.replace("le.line_id IN (IDS)", "le.line_id = ANY($1)"));
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(line_ids).fetch_all(&mut **c).await?)
        }
    }
}

fn json_ids(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 8 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s.push(']');
    s
}

/// The `WHERE` condition of one term over `lines l`, appending its parameters; `$N` numbering
/// continues from `args.len()`.
fn term_condition(t: &TermIds, sqlite: bool, args: &mut Vec<ScopeArg>) -> String {
    let mut parts = vec!["l.status <> 'ceased'".to_owned()];
    let list = |ids: &Vec<i64>, args: &mut Vec<ScopeArg>| -> String {
        args.push(ScopeArg::Ids(ids.clone()));
        if sqlite {
            format!("(SELECT value FROM json_each(${}))", args.len())
        } else {
            format!("(SELECT UNNEST(${}::BIGINT[]))", args.len())
        }
    };
    if let Some(m) = &t.municipalities {
        let l = list(m, args);
        parts.push(format!("l.municipality_id IN {l}"));
    }
    if let Some(s) = t.service_id {
        args.push(ScopeArg::Id(s));
        parts.push(format!("l.service_id = ${}", args.len()));
    }
    if let Some(e) = &t.elements {
        let l = list(e, args);
        parts.push(format!("l.id IN (SELECT line_id FROM line_elements WHERE element_id IN {l})"));
    }
    parts.join(" AND ")
}

enum ScopeArg {
    Id(i64),
    Ids(Vec<i64>),
}

/// The `FROM`-able set of lines a scope reaches (`SELECT … FROM lines l WHERE …` or a union),
/// with its parameters.
fn scope_sql(s: &ScopeIds, sqlite: bool, columns: &str) -> (String, Vec<ScopeArg>) {
    let mut args = Vec::new();
    let mut selects: Vec<String> = s
        .terms
        .iter()
        .map(|t| format!("SELECT {columns} FROM lines l WHERE {}", term_condition(t, sqlite, &mut args)))
        .collect();
    if !s.lines.is_empty() {
        let t = TermIds::default();
        let mut cond = term_condition(&t, sqlite, &mut args);
        args.push(ScopeArg::Ids(s.lines.clone()));
        cond.push_str(&if sqlite {
            format!(" AND l.id IN (SELECT value FROM json_each(${}))", args.len())
        } else {
            format!(" AND l.id = ANY(${})", args.len())
        });
        selects.push(format!("SELECT {columns} FROM lines l WHERE {cond}"));
    }
    if selects.is_empty() {
        selects.push(format!("SELECT {columns} FROM lines l WHERE 1 = 0"));
    }
    (selects.join(" UNION "), args)
}

/// Binds a scope's parameters: id lists as JSON text on SQLite (read with `json_each`), as
/// arrays on PostgreSQL.
macro_rules! bind_scope {
    ($q:expr, $args:expr, true) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                ScopeArg::Id(i) => q.bind(*i),
                ScopeArg::Ids(ids) => q.bind(json_ids(ids)),
            };
        }
        q
    }};
    ($q:expr, $args:expr, false) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                ScopeArg::Id(i) => q.bind(*i),
                ScopeArg::Ids(ids) => q.bind(ids.clone()),
            };
        }
        q
    }};
}

/// How many lines in service, and how many customers, a scope reaches.
pub async fn count_affected(tx: &mut Tx, s: &ScopeIds) -> Result<(i64, i64)> {
    match tx {
        Tx::Sqlite(c) => {
            let (set, args) = scope_sql(s, true, "l.id, l.customer_id");
            let sql = format!("SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM ({set}) AS a");
            Ok(bind_scope!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &args, true).fetch_one(&mut **c).await?)
        }
        Tx::Postgres(c) => {
            let (set, args) = scope_sql(s, false, "l.id, l.customer_id");
            let sql = format!("SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM ({set}) AS a");
            Ok(bind_scope!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &args, false).fetch_one(&mut **c).await?)
        }
    }
}

/// How many lines a scope reaches per region and service (region code, service code, lines).
pub async fn affected_breakdown(tx: &mut Tx, s: &ScopeIds) -> Result<Vec<(String, String, i64)>> {
    let shape = |set: String| {
        format!(
            "SELECT COALESCE(r.code, p.code, m.code) AS region, sv.code, COUNT(*) FROM ({set}) AS a
             JOIN territories m ON m.id = a.municipality_id LEFT JOIN territories p ON p.id = m.parent_id
             LEFT JOIN territories r ON r.id = p.parent_id JOIN services sv ON sv.id = a.service_id
             GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
        )
    };
    let columns = "l.id, l.municipality_id, l.service_id";
    match tx {
        Tx::Sqlite(c) => {
            let (set, args) = scope_sql(s, true, columns);
            Ok(bind_scope!(sqlx::query_as(sqlx::AssertSqlSafe(shape(set))), &args, true).fetch_all(&mut **c).await?)
        }
        Tx::Postgres(c) => {
            let (set, args) = scope_sql(s, false, columns);
            Ok(bind_scope!(sqlx::query_as(sqlx::AssertSqlSafe(shape(set))), &args, false).fetch_all(&mut **c).await?)
        }
    }
}

/// The lines a scope reaches with their customer, `limit` at a time after line id `after`.
pub async fn affected_lines(tx: &mut Tx, s: &ScopeIds, after: i64, limit: i64) -> Result<Vec<(i64, i64)>> {
    let shape = |set: String, n: usize| {
        format!("SELECT id, customer_id FROM ({set}) AS a WHERE id > ${} ORDER BY id LIMIT ${}", n + 1, n + 2)
    };
    match tx {
        Tx::Sqlite(c) => {
            let (set, args) = scope_sql(s, true, "l.id, l.customer_id");
            let sql = shape(set, args.len());
            Ok(bind_scope!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &args, true)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut **c)
                .await?)
        }
        Tx::Postgres(c) => {
            let (set, args) = scope_sql(s, false, "l.id, l.customer_id");
            let sql = shape(set, args.len());
            Ok(bind_scope!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &args, false)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut **c)
                .await?)
        }
    }
}

/// How many lines there are in all (for reports and benchmarks).
pub async fn count_lines(tx: &mut Tx) -> Result<i64> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM lines").fetch_one(&mut *c).await)?;
    Ok(n)
}
