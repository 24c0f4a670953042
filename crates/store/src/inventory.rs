//! The operator's inventory: territory, network elements, service types and customers' lines,
//! with the queries that turn a notice's scope into the lines and customers it reaches.

use sqlx::Row;

use crate::{Error, Result, Tx};

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
    /// The territory the term names, when it names one below the country (its municipalities
    /// are `municipalities`): its line tallies answer counts.
    pub territory: Option<i64>,
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

/// Which database this is and the mark of its territories (it changes with every change to
/// them): together they tell whether a territory tree kept in memory is current.
pub async fn territory_mark(tx: &mut Tx) -> Result<(String, i64)> {
    let row: (String, i64) = match tx {
        Tx::Sqlite(c) => {
            sqlx::query_as(
                "SELECT 'sqlite:' || (SELECT file FROM pragma_database_list WHERE name = 'main'),
                     (SELECT mark FROM inventory_marks WHERE name = 'territories')",
            )
            .fetch_one(&mut **c)
            .await?
        }
        Tx::Postgres(c) => {
            sqlx::query_as(
                "SELECT 'postgres:' || COALESCE(host(inet_server_addr()), 'socket') || ':'
                     || COALESCE(inet_server_port(), 0) || '/' || current_database(),
                     (SELECT mark FROM inventory_marks WHERE name = 'territories')",
            )
            .fetch_one(&mut **c)
            .await?
        }
    };
    Ok(row)
}

/// Gives the territories a new mark (in the transaction that changes them).
async fn mark_territories(tx: &mut Tx) -> Result<()> {
    new_mark(tx, "territories").await
}

/// Gives the lines a new mark (in every transaction that writes them): line tallies computed
/// before are stale from its commit on.
async fn mark_lines(tx: &mut Tx) -> Result<()> {
    new_mark(tx, "lines").await
}

/// Sets the inventory mark `name` to a new random value.
async fn new_mark(tx: &mut Tx, name: &str) -> Result<()> {
    let sql = match tx {
        Tx::Sqlite(_) => "UPDATE inventory_marks SET mark = abs(random()) % 9007199254740991 WHERE name = $1",
        Tx::Postgres(_) => {
            "UPDATE inventory_marks SET mark = floor(random() * 9007199254740991)::BIGINT WHERE name = $1"
        }
    };
    with_conn!(tx, c => sqlx::query(sql).bind(name).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Adds or updates territories in the order given (parents first); returns how many.
pub async fn upsert_territories(tx: &mut Tx, rows: &[TerritoryIn], now: i64) -> Result<usize> {
    mark_territories(tx).await?;
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
    mark_territories(tx).await?;
    with_conn!(tx, c => sqlx::query("UPDATE territories SET successor_id = $2, updated_at = $3 WHERE id = $1")
        .bind(old).bind(successor).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Moves the lines of municipality `old` to `successor`; returns how many moved.
pub async fn move_lines(tx: &mut Tx, old: i64, successor: i64, now: i64) -> Result<u64> {
    let n = with_conn!(tx, c => sqlx::query(
        "UPDATE lines SET municipality_id = $2, updated_at = $3 WHERE municipality_id = $1")
        .bind(old).bind(successor).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n > 0 {
        mark_lines(tx).await?;
    }
    Ok(n)
}

/// Every network element's code and id (for imports).
pub async fn element_ids(tx: &mut Tx) -> Result<Vec<(String, i64)>> {
    codes_and_ids(tx, "network_elements").await
}

/// Every `(code, id)` of a table, read as one JSON document: a million rows one by one cost
/// more than a second on SQLite (each row crosses from the connection's thread on its own).
async fn codes_and_ids(tx: &mut Tx, table: &str) -> Result<Vec<(String, i64)>> {
    let sql = match tx {
        Tx::Sqlite(_) => format!("SELECT COALESCE(json_group_array(json_array(code, id)), '[]') FROM {table}"),
        Tx::Postgres(_) => {
            format!("SELECT COALESCE(json_agg(json_build_array(code, id)), '[]')::TEXT FROM {table}")
        }
    };
    let text: String = with_conn!(tx, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *c).await)?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("codes of {table}: {e}")))
}

/// Every network element with its parent (for imports: checking that a move makes no loop).
pub async fn element_tree(tx: &mut Tx) -> Result<Vec<ElementRow>> {
    let rows: Vec<(i64, String, String, String, Option<i64>)> = with_conn!(tx, c => sqlx::query_as(
        "SELECT id, code, name, kind, parent_id FROM network_elements").fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, code, name, kind, parent_id)| ElementRow { id, code, name, kind, parent_id })
        .collect())
}

/// Every contact's email, id and customer (for imports), as (email, id, customer id).
pub async fn contact_owners(tx: &mut Tx) -> Result<Vec<(String, i64, Option<i64>)>> {
    let sql = match tx {
        Tx::Sqlite(_) => "SELECT COALESCE(json_group_array(json_array(email, id, customer_id)), '[]') FROM contacts",
        Tx::Postgres(_) => {
            "SELECT COALESCE(json_agg(json_build_array(email, id, customer_id)), '[]')::TEXT FROM contacts"
        }
    };
    let text: String = with_conn!(tx, c => sqlx::query_scalar(sql).fetch_one(&mut *c).await)?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("contacts: {e}")))
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
    codes_and_ids(tx, "customers").await
}

/// The secondary indexes of `lines` and `line_elements` (migrations 12 and 16), which a large
/// load into an empty table drops and builds again at its end (a sort instead of millions of
/// inserts all over each tree). Anything that finds one missing builds it again
/// ([`ensure_line_indexes`], run by every migration pass).
const LINE_INDEXES: [(&str, &str); 3] = [
    ("lines_customer", "CREATE INDEX lines_customer ON lines (customer_id)"),
    (
        "lines_place",
        "CREATE INDEX lines_place ON lines (municipality_id, service_id, customer_id) WHERE status <> 'ceased'",
    ),
    ("line_elements_element", "CREATE INDEX line_elements_element ON line_elements (element_id, line_id)"),
];

/// The names of the secondary line indexes that do not exist.
pub async fn missing_line_indexes(tx: &mut Tx) -> Result<Vec<&'static str>> {
    let present: Vec<String> = match tx {
        Tx::Sqlite(c) => {
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index'").fetch_all(&mut **c).await?
        }
        Tx::Postgres(c) => {
            sqlx::query_scalar("SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = current_schema()")
                .fetch_all(&mut **c)
                .await?
        }
    };
    Ok(LINE_INDEXES.iter().map(|(name, _)| *name).filter(|n| !present.iter().any(|p| p == n)).collect())
}

/// Builds the secondary line indexes that are missing (after a load that dropped them was
/// interrupted); returns how many were built.
pub async fn ensure_line_indexes(tx: &mut Tx) -> Result<usize> {
    let missing = missing_line_indexes(tx).await?;
    if missing.is_empty() {
        return Ok(0);
    }
    let big_sort = match tx {
        // The sorter of CREATE INDEX keeps up to cache_size pages in memory; two threads sort.
        // (Faster outside a transaction: see `build_line_indexes`.)
        Tx::Sqlite(_) => ["PRAGMA threads = 2", "PRAGMA cache_size = -262144"],
        Tx::Postgres(_) => ["SET LOCAL maintenance_work_mem = '512MB'", "SELECT 1"],
    };
    let restore: Option<i64> = match tx {
        Tx::Sqlite(c) => Some(sqlx::query_scalar("PRAGMA cache_size").fetch_one(&mut **c).await?),
        Tx::Postgres(_) => None,
    };
    for sql in big_sort {
        with_conn!(tx, c => sqlx::query(sql).execute(&mut *c).await.map(|_| ()))?;
    }
    for (name, sql) in LINE_INDEXES {
        if missing.contains(&name) {
            with_conn!(tx, c => sqlx::query(sql).execute(&mut *c).await.map(|_| ()))?;
        }
    }
    if let (Some(size), Tx::Sqlite(c)) = (restore, &mut *tx) {
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {size}"))).execute(&mut **c).await?;
        sqlx::query("PRAGMA threads = 0").execute(&mut **c).await?;
    }
    Ok(missing.len())
}

/// Builds the secondary line indexes that are missing, outside any transaction (after a first
/// load committed without them); returns how many were built.
///
/// On SQLite the writer connection sorts with temporary files and small runs while it builds
/// them: the sorter of CREATE INDEX fills up to `cache_size` of memory, sorts it into a run (on
/// a helper thread with `threads`) and merges the runs, and the in-memory temporary files of
/// `temp_store = memory` are slow to merge from. For 10M lines the three indexes took 11 s this
/// way, 24 s with 256 MiB runs in memory (which is all a transaction allows: `temp_store`
/// cannot change inside one).
pub async fn build_line_indexes(db: &crate::Db) -> Result<usize> {
    let crate::Db::Sqlite { write, .. } = db else {
        let mut tx = db.write().await?;
        let n = ensure_line_indexes(&mut tx).await?;
        tx.commit().await?;
        return Ok(n);
    };
    let mut c = write.acquire().await?;
    let present: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index'").fetch_all(&mut *c).await?;
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(&mut *c).await?;
    let mut built = 0;
    let mut outcome = Ok(());
    for sql in ["PRAGMA temp_store = FILE", "PRAGMA threads = 2", "PRAGMA cache_size = -16384"] {
        sqlx::query(sql).execute(&mut *c).await?;
    }
    for (name, sql) in LINE_INDEXES {
        if !present.iter().any(|p| p == name) {
            if let Err(e) = sqlx::query(sql).execute(&mut *c).await {
                outcome = Err(e);
                break;
            }
            built += 1;
        }
    }
    let restore = format!("PRAGMA cache_size = {cache}");
    for sql in ["PRAGMA temp_store = MEMORY", "PRAGMA threads = 0", restore.as_str()] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await?;
    }
    outcome?;
    Ok(built)
}

/// Drops the secondary line indexes (a first load builds them again with [`ensure_line_indexes`]).
async fn drop_line_indexes(tx: &mut Tx) -> Result<()> {
    for (name, _) in LINE_INDEXES {
        let sql = format!("DROP INDEX IF EXISTS {name}");
        with_conn!(tx, c => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// What writing a batch of lines did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Lines that were not stored yet.
    pub added: u64,
    /// Stored lines that differed and were rewritten.
    pub updated: u64,
    /// Stored lines that were already as given: not written at all.
    pub unchanged: u64,
}

impl std::ops::AddAssign for LineCounts {
    fn add_assign(&mut self, o: LineCounts) {
        self.added += o.added;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// A load of lines in progress over one or more transactions (see [`LineLoad::write`]).
#[derive(Debug, Clone, Default)]
pub struct LineLoad {
    /// `lines` was empty when the load began and (SQLite) nobody else has added a line since:
    /// every line of a batch is new, so none needs looking up first.
    fresh: bool,
    /// SQLite: the id of the last line this load added (it gives new lines the ids after the
    /// largest one, which only the single writer can do).
    last_id: i64,
    /// The secondary indexes were dropped and must be built again by [`LineLoad::finish`].
    dropped: bool,
}

/// SQLite statements carry at most this many rows (8 parameters each: 32,000 of the 32,766 allowed).
const SQLITE_ROWS: usize = 4_000;
/// SQLite statements of element pairs carry at most this many pairs.
const SQLITE_PAIRS: usize = 16_000;

impl LineLoad {
    /// Begins a load in `tx`. With `large`, on an empty `lines` table, the secondary indexes are
    /// dropped now and built again by [`LineLoad::finish`] (readers see no index until then).
    pub async fn begin(tx: &mut Tx, large: bool) -> Result<LineLoad> {
        let (empty, max): (bool, i64) = with_conn!(tx, c => sqlx::query_as(
            "SELECT NOT EXISTS (SELECT 1 FROM lines), COALESCE((SELECT MAX(id) FROM lines), 0)")
            .fetch_one(&mut *c).await)?;
        let mut load = LineLoad { fresh: empty, last_id: max, dropped: false };
        if empty && large {
            drop_line_indexes(tx).await?;
            load.dropped = true;
        }
        Ok(load)
    }

    /// Whether this load dropped the secondary indexes (they are built again by
    /// [`LineLoad::finish`], or by [`ensure_line_indexes`] after a failure).
    pub fn dropped_indexes(&self) -> bool {
        self.dropped
    }

    /// Continues the load in a new transaction after a commit. On SQLite, a line added by
    /// someone else meanwhile ends the shortcut for new lines (each batch is looked up again).
    pub async fn resume(&mut self, tx: &mut Tx) -> Result<()> {
        if let Tx::Sqlite(c) = tx
            && self.fresh
        {
            let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM lines").fetch_one(&mut **c).await?;
            self.fresh = max == self.last_id;
        }
        Ok(())
    }

    /// Builds again the indexes this load dropped, after its last commit.
    pub async fn finish(&mut self, db: &crate::Db) -> Result<()> {
        if self.dropped {
            build_line_indexes(db).await?;
            self.dropped = false;
        }
        Ok(())
    }

    /// Adds the lines not stored yet, rewrites those that differ (fields or elements), and
    /// leaves alone those already as given (no write, `updated_at` kept). Identifiers must be
    /// unique within the whole load.
    pub async fn write(&mut self, tx: &mut Tx, lines: &[LineIn], now: i64) -> Result<LineCounts> {
        if lines.is_empty() {
            return Ok(LineCounts::default());
        }
        let counts = match tx {
            Tx::Sqlite(c) => self.write_sqlite(c, lines, now).await?,
            Tx::Postgres(c) => {
                let elements: Vec<String> =
                    if self.fresh { Vec::new() } else { lines.iter().map(|l| element_list(&l.elements)).collect() };
                self.write_postgres(c, lines, &elements, now).await?
            }
        };
        if counts.added + counts.updated > 0 {
            mark_lines(tx).await?;
        }
        Ok(counts)
    }

    /// SQLite: the rows travel as one JSON document per statement (`jsonb_each`), a bound
    /// parameter each would cost a copy and an allocation per field; new lines get the ids after
    /// the largest (the single writer makes that safe), so their elements need no lookup.
    async fn write_sqlite(&mut self, c: &mut sqlx::SqliteConnection, lines: &[LineIn], now: i64) -> Result<LineCounts> {
        // What is stored already: None = new, Some((id, same)).
        let mut stored: Vec<Option<(i64, bool)>> = vec![None; lines.len()];
        if !self.fresh {
            for (n, chunk) in lines.chunks(SQLITE_ROWS).enumerate() {
                let doc = line_doc(chunk.iter(), true);
                let text: String = sqlx::query_scalar(
                    "SELECT COALESCE(group_concat(b.key || CASE WHEN
                         l.customer_id = b.value ->> 1 AND l.service_id = b.value ->> 2
                         AND l.municipality_id = b.value ->> 3 AND l.status = b.value ->> 4
                         AND l.monitoring_address IS b.value ->> 5
                         AND COALESCE((SELECT group_concat(e.element_id, ',' ORDER BY e.element_id)
                             FROM line_elements e WHERE e.line_id = l.id), '') = b.value ->> 6
                     THEN '' ELSE ':' || l.id END, ','), '')
                     FROM jsonb_each($1) b JOIN lines l ON l.identifier = b.value ->> 0",
                )
                .bind(doc)
                .fetch_one(&mut *c)
                .await?;
                parse_stored(&text, n * SQLITE_ROWS, &mut stored)?;
            }
            self.last_id = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM lines").fetch_one(&mut *c).await?;
        }
        let mut counts = LineCounts::default();
        let mut ids = vec![0i64; lines.len()];
        let mut new = Vec::new();
        let mut changed = Vec::new();
        for (k, s) in stored.iter().enumerate() {
            match s {
                None => {
                    self.last_id += 1;
                    ids[k] = self.last_id;
                    new.push(k);
                }
                Some((id, false)) => {
                    ids[k] = *id;
                    changed.push(k);
                }
                Some((_, true)) => counts.unchanged += 1,
            }
        }
        counts.added = new.len() as u64;
        counts.updated = changed.len() as u64;
        // New lines: consecutive ids from the first one of each statement.
        for chunk in new.chunks(SQLITE_ROWS) {
            let mut q = sqlx::query(
                "INSERT INTO lines (id, identifier, customer_id, service_id, municipality_id, status,
                     monitoring_address, updated_at)
                 SELECT $1 + n.key, n.value ->> 0, n.value ->> 1, n.value ->> 2, n.value ->> 3, n.value ->> 4,
                     n.value ->> 5, $2
                 FROM jsonb_each($3) n",
            );
            q = q.bind(ids[chunk[0]]).bind(now).bind(line_doc(chunk.iter().map(|&k| &lines[k]), false));
            q.execute(&mut *c).await?;
        }
        for chunk in changed.chunks(SQLITE_ROWS) {
            let ids_doc = json_ids(&chunk.iter().map(|&k| ids[k]).collect::<Vec<i64>>());
            let mut doc = String::from("[");
            for (n, &k) in chunk.iter().enumerate() {
                use std::fmt::Write as _;
                let l = &lines[k];
                let _ = write!(
                    doc,
                    "{}[{},{},{},{},",
                    if n > 0 { "," } else { "" },
                    ids[k],
                    l.customer_id,
                    l.service_id,
                    l.municipality_id
                );
                json_string(&mut doc, &l.status);
                doc.push(',');
                match &l.monitoring_address {
                    Some(m) => json_string(&mut doc, m),
                    None => doc.push_str("null"),
                }
                doc.push(']');
            }
            doc.push(']');
            sqlx::query(
                "UPDATE lines SET customer_id = v.value ->> 1, service_id = v.value ->> 2,
                     municipality_id = v.value ->> 3, status = v.value ->> 4, monitoring_address = v.value ->> 5,
                     updated_at = $2
                 FROM jsonb_each($1) v WHERE lines.id = v.value ->> 0",
            )
            .bind(doc)
            .bind(now)
            .execute(&mut *c)
            .await?;
            sqlx::query("DELETE FROM line_elements WHERE line_id IN (SELECT value FROM json_each($1))")
                .bind(&ids_doc)
                .execute(&mut *c)
                .await?;
        }
        // The elements of new and changed lines, in line order (the primary key's).
        let mut written: Vec<usize> = new;
        written.extend(changed);
        written.sort_unstable_by_key(|k| ids[*k]);
        let pairs: Vec<(i64, i64)> = written
            .iter()
            .flat_map(|&k| {
                let id = ids[k];
                sorted_elements(&lines[k].elements).into_iter().map(move |e| (id, e))
            })
            .collect();
        for chunk in pairs.chunks(SQLITE_PAIRS) {
            let sql = format!("INSERT INTO line_elements (line_id, element_id) VALUES {}", rows_sql(chunk.len(), 2));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(chunk.len() == SQLITE_PAIRS);
            for (l, e) in chunk {
                q = q.bind(*l).bind(*e);
            }
            q.execute(&mut *c).await?;
        }
        Ok(counts)
    }

    async fn write_postgres(
        &mut self,
        c: &mut sqlx::PgConnection,
        lines: &[LineIn],
        elements: &[String],
        now: i64,
    ) -> Result<LineCounts> {
        let col = |f: fn(&LineIn) -> i64, pick: &[usize]| pick.iter().map(|&k| f(&lines[k])).collect::<Vec<i64>>();
        let all: Vec<usize> = (0..lines.len()).collect();
        let idents = |pick: &[usize]| pick.iter().map(|&k| lines[k].identifier.as_str()).collect::<Vec<&str>>();
        let statuses = |pick: &[usize]| pick.iter().map(|&k| lines[k].status.as_str()).collect::<Vec<&str>>();
        let monitoring = |pick: &[usize]| {
            pick.iter().map(|&k| lines[k].monitoring_address.as_deref()).collect::<Vec<Option<&str>>>()
        };
        let mut counts = LineCounts::default();
        // Which differ from what is stored (all of them on a first load).
        let mut write: Vec<usize> = all.clone();
        if !self.fresh {
            let text: String = sqlx::query_scalar(
                "SELECT COALESCE(string_agg(CASE WHEN l.customer_id = v.c AND l.service_id = v.s
                         AND l.municipality_id = v.m AND l.status = v.st
                         AND l.monitoring_address IS NOT DISTINCT FROM v.mo
                         AND COALESCE((SELECT string_agg(e.element_id::TEXT, ',' ORDER BY e.element_id)
                             FROM line_elements e WHERE e.line_id = l.id), '') = v.els
                     THEN (v.k - 1)::TEXT END, ','), '')
                 FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[])
                     WITH ORDINALITY AS v(i, c, s, m, st, mo, els, k)
                 JOIN lines l ON l.identifier = v.i",
            )
            .bind(idents(&all))
            .bind(col(|l| l.customer_id, &all))
            .bind(col(|l| l.service_id, &all))
            .bind(col(|l| l.municipality_id, &all))
            .bind(statuses(&all))
            .bind(monitoring(&all))
            .bind(elements)
            .fetch_one(&mut *c)
            .await?;
            let mut same = vec![false; lines.len()];
            for k in text.split(',').filter(|t| !t.is_empty()) {
                let k: usize = k.parse().map_err(|_| Error::Corrupt(format!("line batch index `{k}`")))?;
                if let Some(s) = same.get_mut(k) {
                    *s = true;
                }
            }
            write.retain(|k| !same[*k]);
            counts.unchanged = (lines.len() - write.len()) as u64;
        }
        if write.is_empty() {
            return Ok(counts);
        }
        // `xmax = 0` tells a row this statement inserted from one it updated.
        let rows: Vec<(i64, String, bool)> = sqlx::query_as(
            "INSERT INTO lines (identifier, customer_id, service_id, municipality_id, status, monitoring_address,
                 updated_at)
             SELECT v.i, v.c, v.s, v.m, v.st, v.mo, $7
             FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[])
                 AS v(i, c, s, m, st, mo)
             ON CONFLICT (identifier) DO UPDATE SET customer_id = excluded.customer_id,
                 service_id = excluded.service_id, municipality_id = excluded.municipality_id,
                 status = excluded.status, monitoring_address = excluded.monitoring_address,
                 updated_at = excluded.updated_at
             RETURNING id, identifier, xmax = 0",
        )
        .bind(idents(&write))
        .bind(col(|l| l.customer_id, &write))
        .bind(col(|l| l.service_id, &write))
        .bind(col(|l| l.municipality_id, &write))
        .bind(statuses(&write))
        .bind(monitoring(&write))
        .bind(now)
        .fetch_all(&mut *c)
        .await?;
        let mut by_identifier: std::collections::HashMap<&str, i64> =
            std::collections::HashMap::with_capacity(rows.len());
        let mut updated: Vec<i64> = Vec::new();
        for (id, identifier, inserted) in &rows {
            by_identifier.insert(identifier.as_str(), *id);
            if *inserted {
                counts.added += 1;
            } else {
                counts.updated += 1;
                updated.push(*id);
            }
        }
        if !updated.is_empty() {
            sqlx::query("DELETE FROM line_elements WHERE line_id = ANY($1)").bind(&updated).execute(&mut *c).await?;
        }
        let mut pairs: Vec<(i64, i64)> = Vec::new();
        for &k in &write {
            let l = &lines[k];
            let id = by_identifier
                .get(l.identifier.as_str())
                .copied()
                .ok_or_else(|| Error::Corrupt(format!("line {} was not returned by its upsert", l.identifier)))?;
            pairs.extend(sorted_elements(&l.elements).into_iter().map(|e| (id, e)));
        }
        if !pairs.is_empty() {
            pairs.sort_unstable();
            let (ls, es): (Vec<i64>, Vec<i64>) = pairs.into_iter().unzip();
            sqlx::query(
                "INSERT INTO line_elements (line_id, element_id) SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[])",
            )
            .bind(ls)
            .bind(es)
            .execute(&mut *c)
            .await?;
        }
        Ok(counts)
    }
}

/// `(?, ?), (?, ?)`: `rows` groups of `cols` anonymous parameters (SQLite resolves `$N` names
/// with a linear search each, which is quadratic on statements this long).
fn rows_sql(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(","));
    let mut s = String::with_capacity(rows * (one.len() + 1));
    for i in 0..rows {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&one);
    }
    s
}

/// Lines as one JSON array of `[identifier, customer, service, municipality, status,
/// monitoring address]`, and with `elements` the sorted element ids as compared with stored ones.
fn line_doc<'a>(lines: impl Iterator<Item = &'a LineIn>, elements: bool) -> String {
    use std::fmt::Write as _;
    let mut doc = String::with_capacity(64 * 1024);
    doc.push('[');
    for (n, l) in lines.enumerate() {
        if n > 0 {
            doc.push(',');
        }
        doc.push('[');
        json_string(&mut doc, &l.identifier);
        let _ = write!(doc, ",{},{},{},", l.customer_id, l.service_id, l.municipality_id);
        json_string(&mut doc, &l.status);
        doc.push(',');
        match &l.monitoring_address {
            Some(m) => json_string(&mut doc, m),
            None => doc.push_str("null"),
        }
        if elements {
            doc.push(',');
            json_string(&mut doc, &element_list(&l.elements));
        }
        doc.push(']');
    }
    doc.push(']');
    doc
}

/// Appends `text` as a JSON string.
fn json_string(out: &mut String, text: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A line's elements sorted, without repeats.
fn sorted_elements(elements: &[i64]) -> Vec<i64> {
    let mut v = elements.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// A line's elements as stored ones are compared: sorted ids joined by commas.
fn element_list(elements: &[i64]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for (i, e) in sorted_elements(elements).iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{e}");
    }
    s
}

/// Reads `k` (stored, same) and `k:id` (stored, different) items into `stored[base + k]`.
fn parse_stored(text: &str, base: usize, stored: &mut [Option<(i64, bool)>]) -> Result<()> {
    let bad = |t: &str| Error::Corrupt(format!("line lookup answer `{t}`"));
    for item in text.split(',').filter(|t| !t.is_empty()) {
        let (k, id) = match item.split_once(':') {
            Some((k, id)) => (k, Some(id.parse::<i64>().map_err(|_| bad(item))?)),
            None => (item, None),
        };
        let k: usize = k.parse().map_err(|_| bad(item))?;
        let slot = stored.get_mut(base + k).ok_or_else(|| bad(item))?;
        *slot = Some(match id {
            Some(id) => (id, false),
            None => (0, true),
        });
    }
    Ok(())
}

/// Adds or updates lines by identifier and replaces the elements they depend on (a line given
/// twice: the last one counts); lines already as given are not written.
pub async fn upsert_lines(tx: &mut Tx, lines: &[LineIn], now: i64) -> Result<LineCounts> {
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        last.insert(l.identifier.as_str(), i);
    }
    let unique: Vec<LineIn> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| last.get(l.identifier.as_str()) == Some(i))
        .map(|(_, l)| l.clone())
        .collect();
    let mut load = LineLoad::begin(tx, false).await?;
    load.write(tx, &unique, now).await
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
            // One JSON document instead of a row per line: each row crosses from the SQLite
            // connection's thread on its own, which was most of a portal page for a customer
            // with a hundred lines.
            let sql = format!(
                "SELECT COALESCE(json_group_array(json_array(id, identifier, customer_id, customer_code, service,
                     status, monitoring_address, m_code, m_name, p_code, r_code, k_code) ORDER BY identifier), '[]')
                 FROM ({sql})"
            );
            let text: String =
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(json_ids(customer_ids)).fetch_one(&mut **c).await?;
            type Tuple = (
                i64,
                String,
                i64,
                String,
                String,
                String,
                Option<String>,
                String,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let rows: Vec<Tuple> = serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("lines: {e}")))?;
            Ok(rows
                .into_iter()
                .map(
                    |(
                        id,
                        identifier,
                        customer_id,
                        customer_code,
                        service,
                        status,
                        monitoring_address,
                        mc,
                        mn,
                        p,
                        r,
                        k,
                    )| {
                        LineRow {
                            id,
                            identifier,
                            customer_id,
                            customer_code,
                            service,
                            status,
                            monitoring_address,
                            municipality_code: mc,
                            municipality_name: mn,
                            ancestors: [p, r, k].into_iter().flatten().collect(),
                        }
                    },
                )
                .collect())
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

/// The line with this id.
pub async fn line_by_id(tx: &mut Tx, id: i64) -> Result<Option<LineRow>> {
    let sql = format!("{LINE} WHERE l.id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
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

/// Every element under the elements named by `codes` (themselves included), as (element id, code
/// of the named element it lies under); unknown codes give nothing. One query for all of them.
pub async fn subtrees_of(tx: &mut Tx, codes: &[String]) -> Result<Vec<(i64, String)>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let body = "down(id, code) AS (SELECT id, code FROM network_elements WHERE NAMED
             UNION SELECT e.id, down.code FROM network_elements e JOIN down ON e.parent_id = down.id)
         SELECT id, code FROM down";
    match tx {
        Tx::Sqlite(c) => {
            let sql = format!("WITH RECURSIVE {}", body.replace("NAMED", "code IN (SELECT value FROM json_each($1))"));
            let doc = serde_json::to_string(codes).map_err(|e| Error::Corrupt(e.to_string()))?;
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(doc).fetch_all(&mut **c).await?)
        }
        Tx::Postgres(c) => {
            let sql = format!("WITH RECURSIVE {}", body.replace("NAMED", "code = ANY($1)"));
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(codes).fetch_all(&mut **c).await?)
        }
    }
}

/// The elements the given lines depend on directly (no ancestors), as (line id, element id).
pub async fn direct_elements_of(tx: &mut Tx, line_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    if line_ids.is_empty() {
        return Ok(Vec::new());
    }
    match tx {
        Tx::Sqlite(c) => Ok(sqlx::query_as(
            "SELECT line_id, element_id FROM line_elements WHERE line_id IN (SELECT value FROM json_each($1))",
        )
        .bind(json_ids(line_ids))
        .fetch_all(&mut **c)
        .await?),
        Tx::Postgres(c) => Ok(sqlx::query_as("SELECT line_id, element_id FROM line_elements WHERE line_id = ANY($1)")
            .bind(line_ids)
            .fetch_all(&mut **c)
            .await?),
    }
}

/// The codes of every element the given lines depend on, ancestors included, as (line id, code).
pub async fn element_codes_of(tx: &mut Tx, line_ids: &[i64]) -> Result<Vec<(i64, String)>> {
    // Each step carries the element's code, so the answer needs no join of the whole recursion
    // with the element table afterwards (PostgreSQL cannot estimate a recursion's size and
    // hashed all the elements for it: 8 ms for a customer of 100 lines among 40,000 elements).
    let body = "up(line_id, parent_id, code) AS (
             SELECT le.line_id, e.parent_id, e.code FROM line_elements le JOIN network_elements e ON e.id = le.element_id
             WHERE le.line_id IN (IDS)
             UNION SELECT up.line_id, e.parent_id, e.code FROM up JOIN network_elements e ON e.id = up.parent_id)
         SELECT up.line_id, up.code FROM up";
    match tx {
        Tx::Sqlite(c) => {
            let body = body.replace("IDS", "SELECT value FROM json_each($1)").replace(
                "SELECT up.line_id, up.code FROM",
                "SELECT COALESCE(json_group_array(json_array(up.line_id, up.code)), '[]') FROM",
            );
            let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("WITH RECURSIVE {body}")))
                .bind(json_ids(line_ids))
                .fetch_one(&mut **c)
                .await?;
            serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("element codes: {e}")))
        }
        Tx::Postgres(c) => {
            let sql = format!("WITH RECURSIVE {}", body.replace("le.line_id IN (IDS)", "le.line_id = ANY($1)"));
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(line_ids).fetch_all(&mut **c).await?)
        }
    }
}

pub(crate) fn json_ids(ids: &[i64]) -> String {
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
pub(crate) fn term_condition(t: &TermIds, sqlite: bool, args: &mut Vec<ScopeArg>) -> String {
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

pub(crate) enum ScopeArg {
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

/// How many lines in service, and how many customers, a scope reaches: from the line tallies
/// when the scope is one term of a territory (or everywhere) and perhaps a service and the
/// tallies are current, else by reading the lines.
pub async fn count_affected(tx: &mut Tx, s: &ScopeIds) -> Result<(i64, i64)> {
    if let Some(key) = tally_key(s)
        && let Some(counts) = tallied(tx, key.0, key.1).await?
    {
        return Ok(counts);
    }
    count_affected_by_lines(tx, s).await
}

/// The tally that answers a scope's counts, `(territory or 0 for everywhere, service or 0 for
/// every service)`, if one does: a single term with no network element and no explicit lines.
pub fn tally_key(s: &ScopeIds) -> Option<(i64, i64)> {
    let [t] = s.terms.as_slice() else { return None };
    if !s.lines.is_empty() || t.elements.is_some() {
        return None;
    }
    let territory = match (&t.municipalities, t.territory) {
        (None, _) => 0,
        (Some(_), Some(id)) => id,
        (Some(_), None) => return None,
    };
    Some((territory, t.service_id.unwrap_or(0)))
}

/// The tallied lines and customers of a territory (0: everywhere) and service (0: every
/// service), or `None` when the tallies are not current.
pub async fn tallied(tx: &mut Tx, territory: i64, service: i64) -> Result<Option<(i64, i64)>> {
    let row: (bool, Option<i64>, Option<i64>) = with_conn!(tx, c => sqlx::query_as(
        "SELECT (SELECT mark FROM inventory_marks WHERE name = 'lines')
                    = (SELECT mark FROM inventory_marks WHERE name = 'tallied_lines')
                AND (SELECT mark FROM inventory_marks WHERE name = 'territories')
                    = (SELECT mark FROM inventory_marks WHERE name = 'tallied_territories'),
             (SELECT lines FROM line_tallies WHERE territory_id = $1 AND service_id = $2),
             (SELECT customers FROM line_tallies WHERE territory_id = $1 AND service_id = $2)")
        .bind(territory).bind(service).fetch_one(&mut *c).await)?;
    Ok(row.0.then(|| (row.1.unwrap_or(0), row.2.unwrap_or(0))))
}

/// The tallied lines of each of `territories` (0: everywhere) per service, of service `service`
/// only (0: each service): `(territory id, service code, lines)`, only where there are lines;
/// `None` when the tallies are not current.
pub async fn tallied_by_service(
    tx: &mut Tx,
    territories: &[i64],
    service: i64,
) -> Result<Option<Vec<(i64, String, i64)>>> {
    if !tally_marks(tx).await?.current() {
        return Ok(None);
    }
    let wanted = "AND (t.service_id = $2 OR ($2 = 0 AND t.service_id <> 0)) AND t.lines > 0";
    let rows = match tx {
        Tx::Sqlite(c) => {
            let sql = format!(
                "SELECT t.territory_id, sv.code, t.lines FROM line_tallies t JOIN services sv ON sv.id = t.service_id
                 WHERE t.territory_id IN (SELECT value FROM json_each($1)) {wanted}"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(json_ids(territories))
                .bind(service)
                .fetch_all(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            let sql = format!(
                "SELECT t.territory_id, sv.code, t.lines FROM line_tallies t JOIN services sv ON sv.id = t.service_id
                 WHERE t.territory_id = ANY($1) {wanted}"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(territories.to_vec())
                .bind(service)
                .fetch_all(&mut **c)
                .await?
        }
    };
    Ok(Some(rows))
}

/// The marks of lines and territories now, and those the tallies were computed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyMarks {
    pub lines: i64,
    pub territories: i64,
    pub tallied_lines: i64,
    pub tallied_territories: i64,
}

impl TallyMarks {
    /// Whether the tallies are current.
    pub fn current(&self) -> bool {
        self.lines == self.tallied_lines && self.territories == self.tallied_territories
    }
}

/// The marks of lines and territories, and those of the tallies.
pub async fn tally_marks(tx: &mut Tx) -> Result<TallyMarks> {
    let row: (i64, i64, i64, i64) = with_conn!(tx, c => sqlx::query_as(
        "SELECT (SELECT mark FROM inventory_marks WHERE name = 'lines'),
                (SELECT mark FROM inventory_marks WHERE name = 'territories'),
                (SELECT mark FROM inventory_marks WHERE name = 'tallied_lines'),
                (SELECT mark FROM inventory_marks WHERE name = 'tallied_territories')")
        .fetch_one(&mut *c).await)?;
    Ok(TallyMarks { lines: row.0, territories: row.1, tallied_lines: row.2, tallied_territories: row.3 })
}

/// Every line in service grouped by municipality, service and customer: `[municipality id,
/// service id, customer id, lines]`, in that order. Read in slices of municipalities, each as
/// one JSON document (millions of rows one by one cost seconds on SQLite).
pub async fn place_customers(tx: &mut Tx) -> Result<Vec<[i64; 4]>> {
    let bounds: (Option<i64>, Option<i64>) = with_conn!(tx, c => sqlx::query_as(
        "SELECT MIN(municipality_id), MAX(municipality_id) FROM lines").fetch_one(&mut *c).await)?;
    let (Some(low), Some(high)) = bounds else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let step = 256;
    let mut from = low;
    while from <= high {
        let to = from.saturating_add(step - 1);
        let sql = match tx {
            Tx::Sqlite(_) => {
                "SELECT COALESCE(json_group_array(json_array(m, s, c, n)), '[]') FROM (
                     SELECT municipality_id AS m, service_id AS s, customer_id AS c, COUNT(*) AS n FROM lines
                     WHERE status <> 'ceased' AND municipality_id BETWEEN $1 AND $2 GROUP BY 1, 2, 3)"
            }
            Tx::Postgres(_) => {
                "SELECT COALESCE(json_agg(json_build_array(m, s, c, n)), '[]')::TEXT FROM (
                     SELECT municipality_id AS m, service_id AS s, customer_id AS c, COUNT(*) AS n FROM lines
                     WHERE status <> 'ceased' AND municipality_id BETWEEN $1 AND $2 GROUP BY 1, 2, 3) AS g"
            }
        };
        let text: String = with_conn!(tx, c => sqlx::query_scalar(sql).bind(from).bind(to).fetch_one(&mut *c).await)?;
        let rows: Vec<[i64; 4]> =
            serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("line tallies: {e}")))?;
        out.extend(rows);
        from = to.saturating_add(1);
    }
    Ok(out)
}

/// Replaces the line tallies with `rows` (`(territory, service, lines, customers)`), recording
/// the marks of lines and territories they were computed at.
pub async fn save_tallies(tx: &mut Tx, rows: &[(i64, i64, i64, i64)], at: TallyMarks) -> Result<()> {
    with_conn!(tx, c => sqlx::query("DELETE FROM line_tallies").execute(&mut *c).await.map(|_| ()))?;
    for chunk in rows.chunks(1_000) {
        let doc = serde_json::to_string(&chunk.iter().map(|r| [r.0, r.1, r.2, r.3]).collect::<Vec<_>>())
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        let sql = match tx {
            Tx::Sqlite(_) => {
                "INSERT INTO line_tallies (territory_id, service_id, lines, customers)
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each($1)"
            }
            Tx::Postgres(_) => {
                "INSERT INTO line_tallies (territory_id, service_id, lines, customers)
                 SELECT (v ->> 0)::BIGINT, (v ->> 1)::BIGINT, (v ->> 2)::BIGINT, (v ->> 3)::BIGINT
                 FROM jsonb_array_elements($1::JSONB) AS v"
            }
        };
        with_conn!(tx, c => sqlx::query(sql).bind(&doc).execute(&mut *c).await.map(|_| ()))?;
    }
    with_conn!(tx, c => sqlx::query(
        "UPDATE inventory_marks SET mark = CASE name WHEN 'tallied_lines' THEN $1 ELSE $2 END
         WHERE name IN ('tallied_lines', 'tallied_territories')")
        .bind(at.lines).bind(at.territories).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// How many lines in service, and how many customers, a scope reaches, read from the lines.
pub async fn count_affected_by_lines(tx: &mut Tx, s: &ScopeIds) -> Result<(i64, i64)> {
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

/// Refreshes PostgreSQL's statistics of `tables` after a large import, so that its planner
/// does not keep the estimates of the empty tables (with them, a portal page hashed every
/// network element and compiled the plan: 40 ms instead of 1); with `vacuum`, also marks the
/// new rows visible to all, so that counts read the indexes alone (a municipality of 20,000
/// lines: 28 ms reading the table, 3.4 ms after). SQLite plans well without statistics, and
/// gathering them could change plans chosen on purpose: nothing is done there.
pub async fn analyze(db: &crate::Db, tables: &[&str], vacuum: bool) -> Result<()> {
    if let crate::Db::Postgres(pool) = db {
        for t in tables {
            let sql = if vacuum { format!("VACUUM (ANALYZE) {t}") } else { format!("ANALYZE {t}") };
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
        }
    }
    Ok(())
}

/// How many lines there are in all (for reports and benchmarks).
pub async fn count_lines(tx: &mut Tx) -> Result<i64> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM lines").fetch_one(&mut *c).await)?;
    Ok(n)
}
