//! The inventory: territory, network elements, services, customers and their lines, imported
//! from CSV files and shown to agents, customers and partners.
//!
//! Every import reads the whole file row by row; a row that cannot be used is reported with its
//! line number and reason and the valid rows are imported. With `strict`, any bad row aborts the
//! import and nothing is written (one transaction). Imports are idempotent: a row updates what
//! its code or identifier names.

mod rows;

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::io::Read;
use std::time::{Duration, Instant};

use domain::territory::{MergerRecord, TerritoryFormat, TerritoryLevel, TerritoryRecord};
use rows::{CsvLines, Next};
use serde::Serialize;
use store::inventory::{LineCounts, LineIn, LineLoad, LineRow, TerritoryIn};
use store::{Db, Tx};

use crate::access::Actor;
use crate::{App, Error, Result};

/// How many lines the reader hands to the writer at a time.
pub const LINE_BATCH: usize = 20_000;

/// How often a line import commits what it has written (without `strict`), so that other
/// writers get their turn and a failure loses little.
const COMMIT_EVERY: Duration = Duration::from_secs(2);

/// How many refused rows a report lists; beyond, it only counts them.
pub const MAX_LISTED: usize = 100_000;

/// A row an import could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejected {
    /// The line of the file (the header is line 1).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    /// Data rows read (the header and blank lines not counted).
    pub rows: u64,
    /// Records written (added or updated).
    pub imported: u64,
    /// Of those, records that were not stored yet.
    pub added: u64,
    /// Of those, stored records that were rewritten.
    pub updated: u64,
    /// Lines already stored exactly as given, left alone (line imports only).
    pub unchanged: u64,
    /// Rows refused, by line number (the first [`MAX_LISTED`]).
    pub rejected: Vec<Rejected>,
    /// Rows refused beyond those listed.
    pub rejected_unlisted: u64,
    /// Strict mode met a bad row: nothing was written.
    pub aborted: bool,
}

impl ImportReport {
    fn reject(&mut self, line: u64, reason: impl Into<String>) {
        if self.rejected.len() < MAX_LISTED {
            self.rejected.push(Rejected { line, reason: reason.into() });
        } else {
            self.rejected_unlisted += 1;
        }
    }

    /// How many rows were refused in all.
    pub fn rejected_count(&self) -> u64 {
        self.rejected.len() as u64 + self.rejected_unlisted
    }

    /// Puts the refused rows in line order; in strict mode with a refused row, says nothing
    /// was written.
    fn finish(mut self, strict: bool) -> ImportReport {
        self.rejected.sort_by_key(|r| r.line);
        if strict && self.rejected_count() > 0 {
            self.aborted = true;
            (self.imported, self.added, self.updated, self.unchanged) = (0, 0, 0, 0);
        }
        self
    }
}

/// Opens a CSV file and reads its header (column names trimmed, in lower case).
fn open_csv<R: Read>(input: R) -> Result<(CsvLines<R>, Vec<String>)> {
    let mut r = CsvLines::new(input);
    let head = r.header().map_err(|e| Error::invalid("file", e))?;
    Ok((r, head))
}

/// Checks a header against the expected columns, naming what is missing or extra.
fn expect_header(found: &[String], expected: &[&str]) -> Result<()> {
    if found.iter().map(String::as_str).eq(expected.iter().copied()) {
        return Ok(());
    }
    Err(Error::invalid("header", format!("expected the columns `{}`, found `{}`", expected.join(","), found.join(","))))
}

/// The next row of a file, counting it; `None` at the end. A line that cannot be read as a
/// row is counted and refused here.
fn next_row<R: Read>(r: &mut CsvLines<R>, report: &mut ImportReport) -> Result<Option<u64>> {
    loop {
        let next = r.next_line().map_err(|e| Error::invalid("file", format!("cannot read the file: {e}")))?;
        match next {
            Next::End => return Ok(None),
            Next::Row(line) => {
                report.rows += 1;
                return Ok(Some(line));
            }
            Next::Bad(line, reason) => {
                report.rows += 1;
                report.reject(line, reason);
            }
        }
    }
}

/// A file with a header and no row is refused: nothing to import is more likely a mistake.
fn require_rows(report: &ImportReport) -> Result<()> {
    if report.rows == 0 {
        return Err(Error::invalid("file", "no data rows after the header"));
    }
    Ok(())
}

/// A line's status as imported.
fn line_status(text: &str) -> Option<&'static str> {
    ["active", "suspended", "ceased"]
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(text))
        .or(text.is_empty().then_some("active"))
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The identifiers met so far in a file, with the line of their first appearance, in 16 bytes
/// each (a 64-bit hash as the key, a second, independent 32-bit one beside the line): two
/// different identifiers are taken for one only if both hashes collide, about one chance in
/// 10^15 over a file of ten million lines.
struct SeenIdentifiers {
    first: HashMap<u64, (u32, u32), BuildHasherDefault<PassThrough>>,
    keys: (RandomState, RandomState),
}

impl SeenIdentifiers {
    fn new() -> Self {
        SeenIdentifiers { first: HashMap::default(), keys: (RandomState::new(), RandomState::new()) }
    }

    /// Records `identifier` at `line`; the line it first appeared on when it was met before.
    fn check(&mut self, identifier: &str, line: u64) -> Option<u64> {
        let (a, b) = (self.keys.0.hash_one(identifier), self.keys.1.hash_one(identifier) as u32);
        let line32 = u32::try_from(line).unwrap_or(u32::MAX);
        match self.first.entry(a) {
            std::collections::hash_map::Entry::Occupied(e) if e.get().0 == b => Some(u64::from(e.get().1)),
            // Same 64-bit hash, another identifier: too rare to keep both (the later one is
            // simply not remembered).
            std::collections::hash_map::Entry::Occupied(_) => None,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((b, line32));
                None
            }
        }
    }
}

/// What the reader of a line import sends its writer.
enum ToWriter {
    /// Lines to write.
    Batch(Vec<LineIn>),
    /// The file is read and the import stands: build the dropped indexes, record, commit.
    Finish,
}

/// The writer of a line import: writes batches as the reader sends them, committing every
/// [`COMMIT_EVERY`] unless `strict` (one transaction). `None` when the reader gave up (the
/// transaction in progress is rolled back).
async fn line_writer(
    db: Db,
    mut rx: tokio::sync::mpsc::Receiver<ToWriter>,
    strict: bool,
    now: i64,
    actor: Actor,
) -> Result<Option<LineCounts>> {
    let mut dropped_and_committed = false;
    let outcome = async {
        let mut tx: Option<Tx> = None;
        let mut load: Option<LineLoad> = None;
        let mut counts = LineCounts::default();
        let mut since = Instant::now();
        // Where the writer's time goes (logged at debug level): writing, committing and
        // waiting for the next transaction, waiting for the reader, building indexes.
        let (mut writing, mut committing, mut idle) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut waited = Instant::now();
        while let Some(msg) = rx.recv().await {
            idle += waited.elapsed();
            let t = match &mut tx {
                Some(t) => t,
                None => tx.insert(db.write().await?),
            };
            match msg {
                ToWriter::Batch(lines) => {
                    let started = Instant::now();
                    let l = match &mut load {
                        Some(l) => l,
                        None => load.insert(LineLoad::begin(t, lines.len() >= LINE_BATCH).await?),
                    };
                    counts += l.write(t, &lines, now).await?;
                    writing += started.elapsed();
                    if !strict && since.elapsed() >= COMMIT_EVERY {
                        let started = Instant::now();
                        if let Some(done) = tx.take() {
                            done.commit().await?;
                        }
                        dropped_and_committed |= l.dropped_indexes();
                        let t = tx.insert(db.write().await?);
                        l.resume(t).await?;
                        since = Instant::now();
                        committing += started.elapsed();
                    }
                }
                ToWriter::Finish => {
                    let n = counts.added + counts.updated;
                    crate::admin::audit(t, &actor, None, "lines", 0, "imported", None, None, Some(n.to_string()), now)
                        .await?;
                    if let Some(done) = tx.take() {
                        done.commit().await?;
                    }
                    // The lines stand; dropped indexes are built after the commit (faster outside
                    // a transaction on SQLite), and again by the repair below if that fails.
                    let started = Instant::now();
                    if let Some(l) = &mut load {
                        dropped_and_committed |= l.dropped_indexes();
                        l.finish(&db).await?;
                    }
                    let indexes = started.elapsed();
                    tracing::debug!(
                        writing = writing.as_secs_f64(),
                        committing = committing.as_secs_f64(),
                        waiting_for_rows = idle.as_secs_f64(),
                        indexes = indexes.as_secs_f64(),
                        "line import written"
                    );
                    return Ok(Some(counts));
                }
            }
            waited = Instant::now();
        }
        Ok(None)
    }
    .await;
    if !matches!(outcome, Ok(Some(_))) && dropped_and_committed {
        // Part of a first load is committed without its indexes: build them now (the next
        // migration pass would otherwise).
        let repaired = async {
            let mut tx = db.write().await?;
            store::inventory::ensure_line_indexes(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = repaired {
            tracing::warn!(error = %e, "could not build the line indexes again after a failed import");
        }
    }
    outcome
}

/// The codes a line row refers to, resolved to ids.
struct LineRefs {
    customers: HashMap<String, i64>,
    services: HashMap<String, i64>,
    elements: HashMap<String, i64>,
    tree: std::sync::Arc<TerritoryTree>,
}

impl LineRefs {
    async fn load(db: &Db) -> Result<LineRefs> {
        let mut tx = db.read().await?;
        Ok(LineRefs {
            customers: store::inventory::customer_ids(&mut tx).await?.into_iter().collect(),
            services: store::inventory::services(&mut tx).await?.into_iter().map(|s| (s.code, s.id)).collect(),
            elements: store::inventory::element_ids(&mut tx).await?.into_iter().collect(),
            tree: TerritoryTree::load(&mut tx).await?,
        })
    }

    /// The line a row describes, or every problem with it.
    fn line(&self, rec: &rows::Record, with_monitoring: bool) -> std::result::Result<LineIn, String> {
        let field = |i: usize| rec.get(i);
        let identifier = field(0);
        let mut problems: Vec<String> = Vec::new();
        if identifier.is_empty() || identifier.len() > 64 || identifier.chars().any(char::is_control) {
            problems.push("identifier: 1 to 64 printable characters".into());
        }
        let customer_id = self.customers.get(field(1)).copied();
        if customer_id.is_none() {
            problems.push(format!("customer_code: unknown customer `{}`", field(1)));
        }
        let service_id =
            self.services.get(field(2)).or_else(|| self.services.get(&field(2).to_ascii_uppercase())).copied();
        if service_id.is_none() {
            problems.push(format!("service: unknown service `{}`", field(2)));
        }
        let municipality_id = self.tree.municipality(field(3));
        if municipality_id.is_none() {
            problems.push(format!("municipality_code: unknown municipality `{}`", field(3)));
        }
        let mut element_ids = Vec::new();
        for code in field(4).split(';').map(str::trim).filter(|c| !c.is_empty()) {
            match self.elements.get(code) {
                Some(id) => element_ids.push(*id),
                None => problems.push(format!("network_elements: unknown element `{code}`")),
            }
        }
        let status = line_status(field(5));
        if status.is_none() {
            problems.push(format!("status: `{}` is not active, suspended or ceased", field(5)));
        }
        let monitoring = if with_monitoring { Some(field(6)).filter(|m| !m.is_empty()) } else { None };
        if monitoring.is_some_and(|m| m.chars().count() > 255 || m.chars().any(char::is_control)) {
            problems.push("monitoring_address: at most 255 printable characters".into());
        }
        match (customer_id, service_id, municipality_id, status) {
            (Some(customer_id), Some(service_id), Some(municipality_id), Some(status)) if problems.is_empty() => {
                Ok(LineIn {
                    identifier: identifier.to_owned(),
                    customer_id,
                    service_id,
                    municipality_id,
                    status: status.to_owned(),
                    monitoring_address: monitoring.map(String::from),
                    elements: element_ids,
                })
            }
            _ => Err(problems.join("; ")),
        }
    }
}

/// A line as agents, customers and partners see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineView {
    /// Line code, MSISDN/ICCID, DID …
    pub identifier: String,
    /// The customer's code.
    pub customer: String,
    /// The service type's code.
    pub service: String,
    /// `active`, `suspended` or `ceased`.
    pub status: String,
    /// The municipality's code.
    pub municipality: String,
    /// The municipality's name.
    pub municipality_name: String,
    /// The codes of the province, region and country it sits in.
    pub zones: Vec<String>,
    /// Address probed by monitoring, if any (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_address: Option<String>,
}

impl LineView {
    /// The view of a stored line; the monitoring address only for staff.
    pub(crate) fn of(l: LineRow, staff: bool) -> LineView {
        LineView {
            identifier: l.identifier,
            customer: l.customer_code,
            service: l.service,
            status: l.status,
            municipality: l.municipality_code,
            municipality_name: l.municipality_name,
            zones: l.ancestors,
            monitoring_address: if staff { l.monitoring_address } else { None },
        }
    }
}

/// A service type of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceView {
    /// Code (`FTTH`).
    pub code: String,
    /// Name.
    pub name: String,
}

/// A territory for pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TerritoryView {
    /// Code (ISTAT in Italy).
    pub code: String,
    /// Name.
    pub name: String,
    /// `country`, `region`, `province` or `municipality`.
    pub level: String,
}

/// Resolves a territory code to the municipalities it covers (itself, or everything below it),
/// following mergers; built once per import or scope resolution from the territory table.
pub(crate) struct TerritoryTree {
    by_code: HashMap<String, usize>,
    rows: Vec<store::inventory::TerritoryRow>,
    children: HashMap<i64, Vec<usize>>,
    index_of: HashMap<i64, usize>,
}

/// Territory trees kept in memory, per database, with the mark of the territories they were
/// read at (`store::inventory::territory_mark`): reading 8,000 territories took 20 ms, reading
/// the mark takes a few microseconds.
static TREES: std::sync::Mutex<Vec<(String, i64, std::sync::Arc<TerritoryTree>)>> = std::sync::Mutex::new(Vec::new());

/// How many databases' trees are kept (a process normally has one; tests have many).
const TREES_KEPT: usize = 8;

impl TerritoryTree {
    /// The tree of every stored territory, from memory when the territories have not changed
    /// since it was read.
    pub(crate) async fn load(tx: &mut Tx) -> Result<std::sync::Arc<TerritoryTree>> {
        let (db, mark) = store::inventory::territory_mark(tx).await?;
        if let Ok(trees) = TREES.lock()
            && let Some((_, _, tree)) = trees.iter().find(|(d, m, _)| *d == db && *m == mark)
        {
            return Ok(tree.clone());
        }
        let tree = std::sync::Arc::new(Self::read(tx).await?);
        if let Ok(mut trees) = TREES.lock() {
            trees.retain(|(d, _, _)| *d != db);
            if trees.len() >= TREES_KEPT {
                trees.remove(0);
            }
            trees.push((db, mark, tree.clone()));
        }
        Ok(tree)
    }

    /// Reads the tree of every stored territory.
    async fn read(tx: &mut Tx) -> Result<TerritoryTree> {
        let rows = store::inventory::territories(tx).await?;
        let mut t = TerritoryTree {
            by_code: HashMap::with_capacity(rows.len()),
            children: HashMap::new(),
            index_of: HashMap::with_capacity(rows.len()),
            rows: Vec::new(),
        };
        for (i, r) in rows.iter().enumerate() {
            t.by_code.insert(r.code.clone(), i);
            t.index_of.insert(r.id, i);
            if let Some(p) = r.parent_id {
                t.children.entry(p).or_default().push(i);
            }
        }
        t.rows = rows;
        Ok(t)
    }

    /// The territory of `code`, following mergers to the successor.
    pub(crate) fn get(&self, code: &str) -> Option<&store::inventory::TerritoryRow> {
        let mut r = self.rows.get(*self.by_code.get(code)?)?;
        for _ in 0..16 {
            match r.successor_id.and_then(|s| self.index_of.get(&s)).and_then(|i| self.rows.get(*i)) {
                Some(next) => r = next,
                None => break,
            }
        }
        Some(r)
    }

    /// The id of municipality `code` (after mergers), if it is one.
    pub(crate) fn municipality(&self, code: &str) -> Option<i64> {
        self.get(code).filter(|r| r.level == TerritoryLevel::Municipality.as_str()).map(|r| r.id)
    }

    /// The ids of the municipalities under territory `id` (itself when it is one).
    pub(crate) fn municipalities_under(&self, id: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(t) = stack.pop() {
            let Some(row) = self.index_of.get(&t).and_then(|i| self.rows.get(*i)) else { continue };
            if row.level == TerritoryLevel::Municipality.as_str() {
                if row.successor_id.is_none() {
                    out.push(t);
                }
                continue;
            }
            for c in self.children.get(&t).into_iter().flatten() {
                if let Some(r) = self.rows.get(*c) {
                    stack.push(r.id);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// The ids of every municipality not merged into another.
    pub(crate) fn municipalities(&self) -> Vec<i64> {
        let level = TerritoryLevel::Municipality.as_str();
        self.rows.iter().filter(|r| r.level == level && r.successor_id.is_none()).map(|r| r.id).collect()
    }

    /// The territory that the per-region breakdown of lines files municipality `id` under
    /// (`store::inventory::affected_breakdown`): its grandparent, else its parent, else itself.
    pub(crate) fn breakdown_region(&self, id: i64) -> Option<&store::inventory::TerritoryRow> {
        let m = self.by_id(id)?;
        let Some(parent) = m.parent_id.and_then(|p| self.by_id(p)) else { return Some(m) };
        Some(parent.parent_id.and_then(|g| self.by_id(g)).unwrap_or(parent))
    }

    /// The territory of `id`.
    pub(crate) fn by_id(&self, id: i64) -> Option<&store::inventory::TerritoryRow> {
        self.index_of.get(&id).and_then(|i| self.rows.get(*i))
    }

    /// Territories whose code or name starts with, or contains, `text` (case-insensitive).
    pub(crate) fn search(&self, text: &str, limit: usize) -> Vec<TerritoryView> {
        let needle = text.trim().to_lowercase();
        let mut hits: Vec<&store::inventory::TerritoryRow> = self
            .rows
            .iter()
            .filter(|r| r.successor_id.is_none())
            .filter(|r| r.code.to_lowercase().starts_with(&needle) || r.name.to_lowercase().contains(&needle))
            .collect();
        hits.sort_by_key(|r| (!r.name.to_lowercase().starts_with(&needle), level_rank(&r.level), r.name.clone()));
        hits.into_iter()
            .take(limit)
            .map(|r| TerritoryView { code: r.code.clone(), name: r.name.clone(), level: r.level.clone() })
            .collect()
    }
}

fn level_rank(level: &str) -> u8 {
    TerritoryLevel::parse(level).map_or(9, TerritoryLevel::rank)
}

impl App {
    /// Imports territories from a CSV in the ISTAT format (`istat_code,name,region_code,…`), the
    /// generic `code,name,level,parent_code`, or mergers (`old_code,successor_code`: the old
    /// municipality's lines move to its successor, and scopes naming it reach the successor's
    /// lines). A territory whose parent is refused is refused too. Admins only.
    pub async fn import_territory(&self, actor: &Actor, input: impl Read, strict: bool) -> Result<ImportReport> {
        actor.require_admin()?;
        let (mut r, head) = open_csv(input)?;
        let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
        if MergerRecord::check_header(&head_refs).is_ok() {
            return self.import_mergers(actor, r, strict).await;
        }
        let format =
            domain::territory::detect_format(&head_refs).map_err(|e| Error::invalid("header", e.to_string()))?;
        let mut report = ImportReport::default();
        let mut records: Vec<(u64, TerritoryRecord)> = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        while let Some(line) = next_row(&mut r, &mut report)? {
            match domain::territory::parse_row(format, &r.record.fields()) {
                Ok(rows) => {
                    for t in rows {
                        match seen.get(&t.code) {
                            // ISTAT rows repeat their region and province: the first one counts.
                            Some(_) if format == TerritoryFormat::Istat && t.level != TerritoryLevel::Municipality => {}
                            Some(first) => report.reject(line, format!("code `{}` already on line {first}", t.code)),
                            None => {
                                seen.insert(t.code.clone(), line);
                                records.push((line, t));
                            }
                        }
                    }
                }
                Err(e) => report.reject(line, e.to_string()),
            }
        }
        require_rows(&report)?;
        let mut tx = self.db.write().await?;
        let known = TerritoryTree::load(&mut tx).await?;
        // Parents first; a parent must be accepted from the file or already stored, one level up.
        records.sort_by_key(|(line, t)| (t.level.rank(), *line));
        let mut accepted: HashMap<&str, TerritoryLevel> = HashMap::new();
        let mut refused: HashMap<&str, u64> = HashMap::new();
        let mut rows = Vec::with_capacity(records.len() + 1);
        if format == TerritoryFormat::Istat && known.get(domain::territory::ITALY).is_none() {
            rows.push(TerritoryIn {
                code: domain::territory::ITALY.into(),
                name: "Italia".into(),
                level: TerritoryLevel::Country.as_str().into(),
                parent_code: None,
                population: None,
            });
            report.added += 1;
        }
        for (line, t) in &records {
            let line = *line;
            let stored = known.get_exact(&t.code);
            let problem = match (stored, &t.parent_code) {
                (Some(s), _) if s.level != t.level.as_str() => {
                    Some(format!("`{}`: stored as a {}, cannot become a {}", t.code, s.level, t.level))
                }
                (_, Some(p)) => match refused.get(p.as_str()) {
                    Some(first) => Some(format!("`{}`: its parent `{p}` was refused (line {first})", t.code)),
                    None => {
                        let parent_level = accepted
                            .get(p.as_str())
                            .copied()
                            .or_else(|| known.get_exact(p).and_then(|r| TerritoryLevel::parse(&r.level)))
                            .or_else(|| (p == domain::territory::ITALY).then_some(TerritoryLevel::Country));
                        match parent_level {
                            None => Some(format!("`{}`: unknown parent_code `{p}`", t.code)),
                            Some(l) if !domain::territory::may_parent(t.level, l) => {
                                Some(format!("`{}`: a {} cannot sit in a {l}", t.code, t.level))
                            }
                            Some(_) => None,
                        }
                    }
                },
                _ => None,
            };
            if let Some(reason) = problem {
                report.reject(line, reason);
                refused.insert(t.code.as_str(), line);
                continue;
            }
            accepted.insert(t.code.as_str(), t.level);
            if stored.is_some() {
                report.updated += 1;
            } else {
                report.added += 1;
            }
            rows.push(TerritoryIn {
                code: t.code.clone(),
                name: t.name.clone(),
                level: t.level.as_str().into(),
                parent_code: t.parent_code.clone(),
                population: t.population.and_then(|p| i64::try_from(p).ok()),
            });
        }
        if strict && report.rejected_count() > 0 {
            return Ok(report.finish(strict));
        }
        let now = store::micros(self.now());
        report.imported = store::inventory::upsert_territories(&mut tx, &rows, now).await? as u64;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "territory",
            0,
            "imported",
            None,
            None,
            Some(report.imported.to_string()),
            now,
        )
        .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        self.refresh_statistics(report.imported, &["territories"]).await;
        Ok(report.finish(strict))
    }

    /// After an import that wrote many rows, refreshes the database's statistics of the tables
    /// written, and after a very large one their visibility map too (PostgreSQL; see
    /// `store::inventory::analyze`). A failure is only logged.
    async fn refresh_statistics(&self, written: u64, tables: &[&str]) {
        if written < 1_000 {
            return;
        }
        if let Err(e) = store::inventory::analyze(&self.db, tables, written >= 10_000).await {
            tracing::warn!(error = %e, "could not refresh the statistics after an import");
        }
    }

    async fn import_mergers<R: Read>(&self, actor: &Actor, mut r: CsvLines<R>, strict: bool) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut pairs = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        while let Some(line) = next_row(&mut r, &mut report)? {
            match MergerRecord::parse(&r.record.fields()) {
                Ok(m) => match seen.get(&m.old_code) {
                    Some(first) => report.reject(line, format!("old_code `{}` already on line {first}", m.old_code)),
                    None => {
                        seen.insert(m.old_code.clone(), line);
                        pairs.push((line, m));
                    }
                },
                Err(e) => report.reject(line, e.to_string()),
            }
        }
        require_rows(&report)?;
        let map: HashMap<String, String> =
            pairs.iter().map(|(_, m)| (m.old_code.clone(), m.successor_code.clone())).collect();
        let mut tx = self.db.write().await?;
        let tree = TerritoryTree::load(&mut tx).await?;
        let mut moves = Vec::new();
        for (line, m) in &pairs {
            if let Err(e) = domain::territory::resolve_successor(&map, &m.old_code) {
                report.reject(*line, e.to_string());
                continue;
            }
            let old = tree.get_exact(&m.old_code).filter(|t| t.level == TerritoryLevel::Municipality.as_str());
            let new = tree.get_exact(&m.successor_code).filter(|t| t.level == TerritoryLevel::Municipality.as_str());
            match (old, new) {
                (Some(o), Some(n)) => {
                    if o.successor_id.is_some() {
                        report.updated += 1;
                    } else {
                        report.added += 1;
                    }
                    moves.push((o.id, n.id));
                }
                (None, _) => report.reject(*line, format!("old_code `{}` is not a known municipality", m.old_code)),
                (_, None) => {
                    report.reject(*line, format!("successor_code `{}` is not a known municipality", m.successor_code))
                }
            }
        }
        if strict && report.rejected_count() > 0 {
            return Ok(report.finish(strict));
        }
        let now = store::micros(self.now());
        for (old, new) in &moves {
            store::inventory::set_successor(&mut tx, *old, *new, now).await?;
        }
        // Lines land on the final successor of a chain.
        let tree = TerritoryTree::load(&mut tx).await?;
        for (old, _) in &moves {
            if let Some(code) = tree.by_id(*old).map(|t| t.code.clone())
                && let Some(last) = tree.get(&code)
            {
                store::inventory::move_lines(&mut tx, *old, last.id, now).await?;
            }
        }
        report.imported = moves.len() as u64;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "territory",
            0,
            "merged",
            None,
            None,
            Some(report.imported.to_string()),
            now,
        )
        .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(report.finish(strict))
    }

    /// Imports network elements from `code,name,kind,parent_code` (a parent before its children,
    /// or already stored). A child of a refused element is refused too, and so is a parent that
    /// would make a loop. Admins only.
    pub async fn import_network(&self, actor: &Actor, input: impl Read, strict: bool) -> Result<ImportReport> {
        actor.require_admin()?;
        let (mut r, head) = open_csv(input)?;
        expect_header(&head, &["code", "name", "kind", "parent_code"])?;
        let mut report = ImportReport::default();
        let mut tx = self.db.write().await?;
        let mut ids: HashMap<String, i64> = HashMap::new();
        let mut parents: HashMap<i64, i64> = HashMap::new();
        for e in store::inventory::element_tree(&mut tx).await? {
            ids.insert(e.code, e.id);
            if let Some(p) = e.parent_id {
                parents.insert(e.id, p);
            }
        }
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut refused: HashMap<String, u64> = HashMap::new();
        let now = store::micros(self.now());
        while let Some(line) = next_row(&mut r, &mut report)? {
            let f = r.record.fields();
            let [code, name, kind, parent] = f[..] else {
                report.reject(line, format!("expected 4 fields (code,name,kind,parent_code), found {}", f.len()));
                continue;
            };
            if let Some(first) = seen.get(code).copied() {
                report.reject(line, format!("code `{code}` already on line {first}"));
                continue;
            }
            seen.insert(code.to_owned(), line);
            let checked: std::result::Result<Option<i64>, String> = 'check: {
                if code.is_empty() || code.chars().count() > 100 || code.chars().any(char::is_control) {
                    break 'check Err("code: 1 to 100 printable characters".into());
                }
                if kind.is_empty() || kind.chars().count() > 50 {
                    break 'check Err(
                        "kind: required, at most 50 characters (pop, olt, pon_port, exchange, cabinet …)".into(),
                    );
                }
                if name.chars().count() > 200 {
                    break 'check Err("name: at most 200 characters".into());
                }
                if parent.is_empty() {
                    break 'check Ok(None);
                }
                if parent == code {
                    break 'check Err("parent_code: an element cannot contain itself".into());
                }
                if let Some(first) = refused.get(parent) {
                    break 'check Err(format!("parent_code: `{parent}` was refused (line {first})"));
                }
                let Some(parent_id) = ids.get(parent).copied() else {
                    break 'check Err(format!("parent_code: unknown element `{parent}` (list parents first)"));
                };
                // Moving a stored element below one of its own descendants would make a loop.
                if let Some(me) = ids.get(code).copied() {
                    let mut up = Some(parent_id);
                    let mut steps = 0;
                    while let Some(u) = up {
                        if u == me {
                            break 'check Err(format!(
                                "parent_code: `{parent}` is below `{code}`: that would make a loop"
                            ));
                        }
                        steps += 1;
                        up = if steps > 100_000 { None } else { parents.get(&u).copied() };
                    }
                }
                Ok(Some(parent_id))
            };
            let parent_id = match checked {
                Ok(p) => p,
                Err(reason) => {
                    report.reject(line, reason);
                    refused.entry(code.to_owned()).or_insert(line);
                    continue;
                }
            };
            if strict && report.rejected_count() > 0 {
                continue;
            }
            let name = if name.is_empty() { code } else { name };
            if ids.contains_key(code) {
                report.updated += 1;
            } else {
                report.added += 1;
            }
            let id = store::inventory::upsert_element(&mut tx, code, name, &kind.to_ascii_lowercase(), parent_id, now)
                .await?;
            ids.insert(code.to_owned(), id);
            match parent_id {
                Some(p) => parents.insert(id, p),
                None => parents.remove(&id),
            };
            report.imported += 1;
        }
        require_rows(&report)?;
        if strict && report.rejected_count() > 0 {
            return Ok(report.finish(strict)); // dropped: rolled back
        }
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "network",
            0,
            "imported",
            None,
            None,
            Some(report.imported.to_string()),
            now,
        )
        .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        self.refresh_statistics(report.imported, &["network_elements"]).await;
        Ok(report.finish(strict))
    }

    /// Imports customers from `code,name,vip,partner_code,contact_email,contact_name,language`:
    /// the customer is added or updated by code (its partner named by the partner's name), and the
    /// contact, when given, added or attached to it. A row whose contact belongs to another
    /// customer is refused whole: neither the customer nor the contact is written. Admins only.
    pub async fn import_customers(&self, actor: &Actor, input: impl Read, strict: bool) -> Result<ImportReport> {
        actor.require_admin()?;
        let (mut r, head) = open_csv(input)?;
        expect_header(&head, &["code", "name", "vip", "partner_code", "contact_email", "contact_name", "language"])?;
        let mut report = ImportReport::default();
        let mut tx = self.db.write().await?;
        let partners: HashMap<String, i64> =
            store::people::partners(&mut tx).await?.into_iter().map(|p| (p.name.to_lowercase(), p.id)).collect();
        let mut customers: HashMap<String, i64> = store::inventory::customer_ids(&mut tx).await?.into_iter().collect();
        let mut contacts: HashMap<String, (i64, Option<i64>)> = store::inventory::contact_owners(&mut tx)
            .await?
            .into_iter()
            .map(|(email, id, customer)| (email, (id, customer)))
            .collect();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let now = store::micros(self.now());
        while let Some(line) = next_row(&mut r, &mut report)? {
            let f = r.record.fields();
            let [code, name, vip, partner, email, contact_name, language] = f[..] else {
                report.reject(
                    line,
                    format!(
                        "expected 7 fields (code,name,vip,partner_code,contact_email,contact_name,language), found {}",
                        f.len()
                    ),
                );
                continue;
            };
            let mut problems = Vec::new();
            if code.is_empty() || code.len() > 64 || code.chars().any(char::is_control) {
                problems.push("code: 1 to 64 printable characters".to_owned());
            } else if let Some(first) = seen.get(code) {
                problems.push(format!("code `{code}` already on line {first}"));
            } else {
                seen.insert(code.to_owned(), line);
            }
            if name.is_empty() || name.chars().count() > 200 {
                problems.push("name: 1 to 200 characters".to_owned());
            }
            let vip = match vip.to_ascii_lowercase().as_str() {
                "" | "0" | "false" | "no" | "n" => false,
                "1" | "true" | "yes" | "y" => true,
                other => {
                    problems.push(format!("vip: `{other}` is not true/false"));
                    false
                }
            };
            let partner_id = if partner.is_empty() {
                None
            } else {
                let p = partners.get(&partner.to_lowercase()).copied();
                if p.is_none() {
                    problems.push(format!("partner_code: unknown partner `{partner}`"));
                }
                p
            };
            let language = if language.is_empty() { "it" } else { language };
            if !crate::admin::LANGUAGES.contains(&language) {
                problems.push(format!("language: `{language}` is not one of {}", crate::admin::LANGUAGES.join(", ")));
            }
            if contact_name.chars().count() > 200 {
                problems.push("contact_name: at most 200 characters".to_owned());
            }
            let email = email.to_ascii_lowercase();
            if !email.is_empty() && domain::validate::email(&email).is_err() {
                problems.push(format!("contact_email: `{email}` is not an address"));
            }
            let existing = customers.get(code).copied();
            let contact = if email.is_empty() { None } else { contacts.get(&email).copied() };
            if let Some((_, Some(owner))) = contact
                && Some(owner) != existing
            {
                problems.push(format!("contact_email: `{email}` belongs to another customer"));
            }
            if !problems.is_empty() {
                report.reject(line, problems.join("; "));
                continue;
            }
            if strict && report.rejected_count() > 0 {
                continue;
            }
            let customer_id = match existing {
                Some(id) => {
                    store::people::update_customer(&mut tx, id, name, vip, partner_id, now).await?;
                    report.updated += 1;
                    id
                }
                None => {
                    let id = store::people::insert_customer(&mut tx, code, name, vip, partner_id, now).await?.id;
                    customers.insert(code.to_owned(), id);
                    report.added += 1;
                    id
                }
            };
            match contact {
                Some((_, Some(_))) => {}
                Some((id, None)) => {
                    store::people::attach_contact(&mut tx, id, customer_id, now).await?;
                    contacts.insert(email, (id, Some(customer_id)));
                }
                None if email.is_empty() => {}
                None => {
                    let data = store::people::ContactData {
                        customer_id: Some(customer_id),
                        email: email.clone(),
                        name: contact_name.to_owned(),
                        phone: String::new(),
                        language: language.to_owned(),
                    };
                    let c = store::people::insert_contact(&mut tx, &data, now).await?;
                    contacts.insert(email, (c.id, Some(customer_id)));
                }
            }
            report.imported += 1;
        }
        require_rows(&report)?;
        if strict && report.rejected_count() > 0 {
            return Ok(report.finish(strict));
        }
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "customers",
            0,
            "imported",
            None,
            None,
            Some(report.imported.to_string()),
            now,
        )
        .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        self.refresh_statistics(report.imported, &["customers", "contacts"]).await;
        Ok(report.finish(strict))
    }

    /// Imports lines from `identifier,customer_code,service,municipality_code,network_elements,status`
    /// (elements separated by `;`; an optional seventh column `monitoring_address`), adding or
    /// updating each by identifier and leaving alone those already as given; `progress` hears
    /// the number of data rows read so far. The file is read while earlier rows are written.
    /// Without `strict`, valid rows are committed every two seconds; with it, one transaction
    /// that any bad row rolls back. Admins only.
    pub async fn import_lines(
        &self,
        actor: &Actor,
        input: impl Read,
        strict: bool,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportReport> {
        actor.require_admin()?;
        let (mut r, head) = open_csv(input)?;
        let with_monitoring = head.len() == 7;
        let mut expected =
            vec!["identifier", "customer_code", "service", "municipality_code", "network_elements", "status"];
        if with_monitoring {
            expected.push("monitoring_address");
        }
        expect_header(&head, &expected)?;
        let refs = LineRefs::load(&self.db).await?;
        let now = store::micros(self.now());
        let (to_writer, rx) = tokio::sync::mpsc::channel::<ToWriter>(2);
        let writer = tokio::spawn(line_writer(self.db.clone(), rx, strict, now, actor.clone()));
        let mut report = ImportReport::default();
        let mut seen = SeenIdentifiers::new();
        let mut batch: Vec<LineIn> = Vec::with_capacity(LINE_BATCH);
        let mut failed: Option<Error> = None;
        loop {
            let line = match next_row(&mut r, &mut report) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if report.rows.is_multiple_of(10_000) {
                progress(report.rows);
            }
            if r.record.len() != expected.len() {
                report.reject(
                    line,
                    format!("expected {} fields ({}), found {}", expected.len(), expected.join(","), r.record.len()),
                );
                continue;
            }
            let identifier = r.record.get(0);
            if let Some(first) = seen.check(identifier, line) {
                report.reject(line, format!("identifier: `{identifier}` already on line {first}"));
                continue;
            }
            match refs.line(&r.record, with_monitoring) {
                Err(problems) => report.reject(line, problems),
                Ok(_) if strict && report.rejected_count() > 0 => {}
                Ok(l) => {
                    batch.push(l);
                    if batch.len() >= LINE_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(LINE_BATCH));
                        if to_writer.send(ToWriter::Batch(full)).await.is_err() {
                            break; // the writer failed: its error is below
                        }
                    }
                }
            }
        }
        progress(report.rows);
        let stands = failed.is_none() && !(strict && report.rejected_count() > 0);
        if stands && report.rows > 0 {
            if !batch.is_empty() {
                let _ = to_writer.send(ToWriter::Batch(batch)).await;
            }
            let _ = to_writer.send(ToWriter::Finish).await;
        }
        drop(to_writer);
        let written = writer.await.map_err(|e| Error::Internal(format!("the line writer stopped: {e}")))??;
        if let Some(e) = failed {
            return Err(e);
        }
        require_rows(&report)?;
        if let Some(c) = written {
            (report.added, report.updated, report.unchanged) = (c.added, c.updated, c.unchanged);
            report.imported = c.added + c.updated;
            self.forget_notice_cache();
            self.refresh_statistics(report.imported, &["lines", "line_elements"]).await;
        }
        Ok(report.finish(strict))
    }

    /// The lines of a customer: staff, the customer's own contacts, and its partner's users.
    pub async fn customer_lines(&self, actor: &Actor, code: &str) -> Result<Vec<LineView>> {
        let mut tx = self.db.read().await?;
        let c = store::people::customer_by_code(&mut tx, code)
            .await?
            .filter(|c| crate::access::may_see_customer(actor, c.id, c.partner_id))
            .ok_or_else(|| Error::NotFound(format!("customer {code}")))?;
        let rows = store::inventory::lines_of(&mut tx, &[c.id]).await?;
        Ok(rows.into_iter().map(|l| LineView::of(l, actor.is_staff())).collect())
    }

    /// One line, if the actor may see it (its customer's contacts and partner, and staff).
    pub async fn line(&self, actor: &Actor, identifier: &str) -> Result<LineView> {
        let mut tx = self.db.read().await?;
        let l = self.visible_line(&mut tx, actor, identifier).await?;
        Ok(LineView::of(l, actor.is_staff()))
    }

    /// A line the actor may see; a line of someone else's reads as not found.
    pub(crate) async fn visible_line(&self, tx: &mut Tx, actor: &Actor, identifier: &str) -> Result<LineRow> {
        let not_found = || Error::NotFound(format!("line {identifier}"));
        let l = store::inventory::line(tx, identifier).await?.ok_or_else(not_found)?;
        let c = store::people::customer(tx, l.customer_id).await?.ok_or_else(not_found)?;
        if !crate::access::may_see_customer(actor, c.id, c.partner_id) {
            return Err(not_found());
        }
        Ok(l)
    }

    /// The lines the actor's portal shows: a contact's customer's, a partner's customers'.
    pub async fn my_lines(&self, actor: &Actor) -> Result<Vec<LineView>> {
        let mut tx = self.db.read().await?;
        let ids = self.portal_customers(&mut tx, actor).await?;
        let rows = store::inventory::lines_of(&mut tx, &ids).await?;
        Ok(rows.into_iter().map(|l| LineView::of(l, false)).collect())
    }

    /// The customers whose lines an actor's portal covers.
    pub(crate) async fn portal_customers(&self, tx: &mut Tx, actor: &Actor) -> Result<Vec<i64>> {
        Ok(match &actor.who {
            crate::access::Who::Contact { customer_id: Some(c), .. } => vec![*c],
            crate::access::Who::Partner { partner_id } => {
                store::people::customers(tx, Some(*partner_id)).await?.into_iter().map(|c| c.id).collect()
            }
            _ => Vec::new(),
        })
    }

    /// How many lines in service, and how many customers, a scope reaches now: the count of a
    /// notice's affected set, without the breakdown of [`App::preview_scope`]. Staff.
    pub async fn count_scope(&self, actor: &Actor, scope: &domain::scope::Scope) -> Result<(i64, i64)> {
        actor.require_staff()?;
        let scope = scope.normalized().map_err(|e| {
            Error::Unprocessable(vec![crate::FieldProblem { field: "scope".into(), message: e.to_string() }])
        })?;
        let mut tx = self.db.read().await?;
        let ids = self.resolve_scope(&mut tx, &scope).await?;
        Ok(store::inventory::count_affected(&mut tx, &ids).await?)
    }

    /// The service catalogue. Staff.
    pub async fn services(&self, actor: &Actor) -> Result<Vec<ServiceView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        Ok(store::inventory::services(&mut tx)
            .await?
            .into_iter()
            .map(|s| ServiceView { code: s.code, name: s.name })
            .collect())
    }

    /// Adds a service type to the catalogue (or renames one). Admins only.
    pub async fn save_service(&self, actor: &Actor, code: &str, name: &str) -> Result<ServiceView> {
        actor.require_admin()?;
        let code = code.trim().to_ascii_uppercase();
        let name = name.trim();
        let mut p = crate::error::Problems::default();
        if code.is_empty()
            || code.len() > 32
            || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            p.add("code", "1 to 32 of A-Z 0-9 - _");
        }
        if name.is_empty() || name.chars().count() > 200 {
            p.add("name", "1 to 200 characters");
        }
        p.finish()?;
        let mut tx = self.db.write().await?;
        store::inventory::upsert_service(&mut tx, &code, name).await?;
        tx.commit().await?;
        Ok(ServiceView { code, name: name.to_owned() })
    }

    /// Territories matching `text` by code or name, for scope pickers. Staff.
    pub async fn search_territories(&self, actor: &Actor, text: &str) -> Result<Vec<TerritoryView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        Ok(TerritoryTree::load(&mut tx).await?.search(text, 20))
    }

    /// Network elements matching `text` by code or name, for scope pickers. Staff.
    pub async fn search_elements(&self, actor: &Actor, text: &str) -> Result<Vec<(String, String, String)>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        Ok(store::inventory::search_elements(&mut tx, text, 20)
            .await?
            .into_iter()
            .map(|e| (e.code, e.name, e.kind))
            .collect())
    }
}

impl TerritoryTree {
    /// The territory of `code` itself (no merger followed).
    fn get_exact(&self, code: &str) -> Option<&store::inventory::TerritoryRow> {
        self.rows.get(*self.by_code.get(code)?)
    }
}
