//! The inventory: territory, network elements, services, customers and their lines, imported
//! from CSV files and shown to agents, customers and partners.
//!
//! Every import reads the whole file row by row; a row that cannot be used is reported with its
//! line number and reason and the valid rows are imported. With `strict`, any bad row aborts the
//! import and nothing is written (one transaction). Imports are idempotent: a row updates what
//! its code or identifier names.

use std::collections::HashMap;
use std::io::Read;

use domain::territory::{MergerRecord, TerritoryFormat, TerritoryLevel, TerritoryRecord};
use serde::Serialize;
use store::Tx;
use store::inventory::{LineIn, LineRow, TerritoryIn};

use crate::access::Actor;
use crate::{App, Error, Result};

/// How many lines one write statement batch carries.
const LINE_BATCH: usize = 20_000;

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
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Records written (added or updated).
    pub imported: u64,
    /// Rows refused, with their line numbers.
    pub rejected: Vec<Rejected>,
    /// Strict mode met a bad row: nothing was written.
    pub aborted: bool,
}

impl ImportReport {
    fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.rejected.push(Rejected { line, reason: reason.into() });
    }
}

/// A CSV reader over `input` with a header, trimming fields and allowing ragged rows (they are
/// reported, not fatal).
fn reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(input)
}

fn header<R: Read>(r: &mut csv::Reader<R>) -> Result<Vec<String>> {
    let h = r.headers().map_err(|e| Error::invalid("header", format!("unreadable CSV header: {e}")))?;
    Ok(h.iter().map(|f| f.trim_start_matches('\u{feff}').trim().to_ascii_lowercase()).collect())
}

/// Checks a header against the expected columns, naming what is missing or extra.
fn expect_header(found: &[String], expected: &[&str]) -> Result<()> {
    if found.iter().map(String::as_str).eq(expected.iter().copied()) {
        return Ok(());
    }
    Err(Error::invalid("header", format!("expected the columns `{}`, found `{}`", expected.join(","), found.join(","))))
}

/// Reads the next record; `Ok(None)` at the end. An unreadable record (bad UTF-8, broken
/// quoting) is reported and skipped.
fn next_record<R: Read>(r: &mut csv::Reader<R>, rec: &mut csv::StringRecord, report: &mut ImportReport) -> Option<u64> {
    loop {
        match r.read_record(rec) {
            Ok(true) => {
                report.rows += 1;
                return Some(rec.position().map_or(report.rows + 1, |p| p.line()));
            }
            Ok(false) => return None,
            Err(e) => {
                report.rows += 1;
                let line = e.position().map_or(report.rows + 1, |p| p.line());
                report.reject(line, format!("unreadable row: {e}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return None;
                }
            }
        }
    }
}

/// A line's status as imported.
fn line_status(text: &str) -> Option<&'static str> {
    match text.to_ascii_lowercase().as_str() {
        "" | "active" => Some("active"),
        "suspended" => Some("suspended"),
        "ceased" => Some("ceased"),
        _ => None,
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

impl TerritoryTree {
    /// The tree of every stored territory.
    pub(crate) async fn load(tx: &mut Tx) -> Result<TerritoryTree> {
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
    /// lines). Admins only.
    pub async fn import_territory(&self, actor: &Actor, input: impl Read, strict: bool) -> Result<ImportReport> {
        actor.require_admin()?;
        let mut r = reader(input);
        let head = header(&mut r)?;
        let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
        if MergerRecord::check_header(&head_refs).is_ok() {
            return self.import_mergers(actor, r, strict).await;
        }
        let format =
            domain::territory::detect_format(&head_refs).map_err(|e| Error::invalid("header", e.to_string()))?;
        let mut report = ImportReport::default();
        let mut records: Vec<(u64, TerritoryRecord)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut rec = csv::StringRecord::new();
        while let Some(line) = next_record(&mut r, &mut rec, &mut report) {
            let fields: Vec<&str> = rec.iter().collect();
            match domain::territory::parse_row(format, &fields) {
                Ok(rows) => {
                    for t in rows {
                        match seen.get(&t.code) {
                            // ISTAT rows repeat their region and province: the first one counts.
                            Some(_) if format == TerritoryFormat::Istat && t.level != TerritoryLevel::Municipality => {}
                            Some(_) => report.reject(line, format!("code `{}` appears twice", t.code)),
                            None => {
                                seen.insert(t.code.clone(), records.len());
                                records.push((line, t));
                            }
                        }
                    }
                }
                Err(e) => report.reject(line, e.to_string()),
            }
        }
        let mut tx = self.db.write().await?;
        let known = TerritoryTree::load(&mut tx).await?;
        // Parents first; a parent must be in the file or already stored, one level up.
        let levels: HashMap<String, TerritoryLevel> = records.iter().map(|(_, t)| (t.code.clone(), t.level)).collect();
        records.sort_by_key(|(_, t)| t.level.rank());
        let mut rows = Vec::with_capacity(records.len() + 1);
        if format == TerritoryFormat::Istat && known.get(domain::territory::ITALY).is_none() {
            rows.push(TerritoryIn {
                code: domain::territory::ITALY.into(),
                name: "Italia".into(),
                level: TerritoryLevel::Country.as_str().into(),
                parent_code: None,
                population: None,
            });
        }
        for (line, t) in &records {
            let line = *line;
            if let Some(p) = &t.parent_code {
                let parent_level = levels
                    .get(p)
                    .copied()
                    .or_else(|| known.get(p).and_then(|r| TerritoryLevel::parse(&r.level)))
                    .or_else(|| (p == domain::territory::ITALY).then_some(TerritoryLevel::Country));
                match parent_level {
                    None => {
                        report.reject(line, format!("`{}`: unknown parent_code `{p}`", t.code));
                        continue;
                    }
                    Some(l) if !domain::territory::may_parent(t.level, l) => {
                        report.reject(line, format!("`{}`: a {} cannot sit in a {l}", t.code, t.level));
                        continue;
                    }
                    Some(_) => {}
                }
            }
            rows.push(TerritoryIn {
                code: t.code.clone(),
                name: t.name.clone(),
                level: t.level.as_str().into(),
                parent_code: t.parent_code.clone(),
                population: t.population.and_then(|p| i64::try_from(p).ok()),
            });
        }
        if strict && !report.rejected.is_empty() {
            report.aborted = true;
            return Ok(report);
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
        Ok(report)
    }

    async fn import_mergers<R: Read>(
        &self,
        actor: &Actor,
        mut r: csv::Reader<R>,
        strict: bool,
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut pairs = Vec::new();
        let mut rec = csv::StringRecord::new();
        while let Some(line) = next_record(&mut r, &mut rec, &mut report) {
            let fields: Vec<&str> = rec.iter().collect();
            match MergerRecord::parse(&fields) {
                Ok(m) => pairs.push((line, m)),
                Err(e) => report.reject(line, e.to_string()),
            }
        }
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
                (Some(o), Some(n)) => moves.push((o.id, n.id)),
                (None, _) => report.reject(*line, format!("old_code `{}` is not a known municipality", m.old_code)),
                (_, None) => {
                    report.reject(*line, format!("successor_code `{}` is not a known municipality", m.successor_code))
                }
            }
        }
        if strict && !report.rejected.is_empty() {
            report.aborted = true;
            return Ok(report);
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
        Ok(report)
    }

    /// Imports network elements from `code,name,kind,parent_code` (a parent before its children,
    /// or already stored). Admins only.
    pub async fn import_network(&self, actor: &Actor, input: impl Read, strict: bool) -> Result<ImportReport> {
        actor.require_admin()?;
        let mut r = reader(input);
        expect_header(&header(&mut r)?, &["code", "name", "kind", "parent_code"])?;
        let mut report = ImportReport::default();
        let mut tx = self.db.write().await?;
        let mut ids: HashMap<String, i64> = store::inventory::element_ids(&mut tx).await?.into_iter().collect();
        let now = store::micros(self.now());
        let mut rec = csv::StringRecord::new();
        while let Some(line) = next_record(&mut r, &mut rec, &mut report) {
            let f: Vec<&str> = rec.iter().collect();
            let [code, name, kind, parent] = f[..] else {
                report.reject(line, format!("expected 4 fields, found {}", f.len()));
                continue;
            };
            if code.is_empty() || code.chars().count() > 100 || code.chars().any(char::is_control) {
                report.reject(line, "code: 1 to 100 printable characters");
                continue;
            }
            if kind.is_empty() {
                report.reject(line, "kind: required (pop, olt, pon_port, exchange, cabinet …)");
                continue;
            }
            let parent_id = if parent.is_empty() {
                None
            } else if parent == code {
                report.reject(line, "parent_code: an element cannot contain itself");
                continue;
            } else {
                match ids.get(parent) {
                    Some(p) => Some(*p),
                    None => {
                        report.reject(line, format!("parent_code: unknown element `{parent}` (list parents first)"));
                        continue;
                    }
                }
            };
            if strict && !report.rejected.is_empty() {
                continue;
            }
            let name = if name.is_empty() { code } else { name };
            let id = store::inventory::upsert_element(&mut tx, code, name, &kind.to_ascii_lowercase(), parent_id, now)
                .await?;
            ids.insert(code.to_owned(), id);
            report.imported += 1;
        }
        if strict && !report.rejected.is_empty() {
            report.aborted = true;
            report.imported = 0;
            return Ok(report); // dropped: rolled back
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
        Ok(report)
    }

    /// Imports customers from `code,name,vip,partner_code,contact_email,contact_name,language`:
    /// the customer is added or updated by code (its partner named by the partner's name), and the
    /// contact, when given, added or attached to it. Admins only.
    pub async fn import_customers(&self, actor: &Actor, input: impl Read, strict: bool) -> Result<ImportReport> {
        actor.require_admin()?;
        let mut r = reader(input);
        expect_header(
            &header(&mut r)?,
            &["code", "name", "vip", "partner_code", "contact_email", "contact_name", "language"],
        )?;
        let mut report = ImportReport::default();
        let mut tx = self.db.write().await?;
        let partners: HashMap<String, i64> =
            store::people::partners(&mut tx).await?.into_iter().map(|p| (p.name.to_lowercase(), p.id)).collect();
        let now = store::micros(self.now());
        let mut rec = csv::StringRecord::new();
        while let Some(line) = next_record(&mut r, &mut rec, &mut report) {
            let f: Vec<&str> = rec.iter().collect();
            let [code, name, vip, partner, email, contact_name, language] = f[..] else {
                report.reject(line, format!("expected 7 fields, found {}", f.len()));
                continue;
            };
            let mut problems = Vec::new();
            if code.is_empty() || code.len() > 64 {
                problems.push("code: 1 to 64 characters".to_owned());
            }
            if name.is_empty() {
                problems.push("name: required".to_owned());
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
            let email = email.to_ascii_lowercase();
            if !email.is_empty() && domain::validate::email(&email).is_err() {
                problems.push(format!("contact_email: `{email}` is not an address"));
            }
            if !problems.is_empty() {
                report.reject(line, problems.join("; "));
                continue;
            }
            if strict && !report.rejected.is_empty() {
                continue;
            }
            let customer_id = store::people::upsert_customer(&mut tx, code, name, vip, partner_id, now).await?;
            if !email.is_empty() {
                match store::people::contact_by_email(&mut tx, &email).await? {
                    Some(c) if c.customer_id.is_some_and(|id| id != customer_id) => {
                        report.reject(line, format!("contact_email: `{email}` belongs to another customer"));
                        continue;
                    }
                    Some(c) => {
                        store::people::attach_contact(&mut tx, c.id, customer_id, now).await?;
                    }
                    None => {
                        let data = store::people::ContactData {
                            customer_id: Some(customer_id),
                            email: email.clone(),
                            name: contact_name.to_owned(),
                            phone: String::new(),
                            language: language.to_owned(),
                        };
                        store::people::insert_contact(&mut tx, &data, now).await?;
                    }
                }
            }
            report.imported += 1;
        }
        if strict && !report.rejected.is_empty() {
            report.aborted = true;
            report.imported = 0;
            return Ok(report);
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
        Ok(report)
    }

    /// Imports lines from `identifier,customer_code,service,municipality_code,network_elements,status`
    /// (elements separated by `;`), adding or updating each by identifier; `progress` hears the
    /// number of data rows read so far. Without `strict`, valid rows are committed in batches.
    /// Admins only.
    pub async fn import_lines(
        &self,
        actor: &Actor,
        input: impl Read,
        strict: bool,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportReport> {
        actor.require_admin()?;
        let mut r = reader(input);
        let head = header(&mut r)?;
        let with_monitoring = head.len() == 7;
        let mut expected =
            vec!["identifier", "customer_code", "service", "municipality_code", "network_elements", "status"];
        if with_monitoring {
            expected.push("monitoring_address");
        }
        expect_header(&head, &expected)?;
        let mut report = ImportReport::default();
        let mut tx = self.db.write().await?;
        let customers: HashMap<String, i64> = store::inventory::customer_ids(&mut tx).await?.into_iter().collect();
        let services: HashMap<String, i64> =
            store::inventory::services(&mut tx).await?.into_iter().map(|s| (s.code, s.id)).collect();
        let elements: HashMap<String, i64> = store::inventory::element_ids(&mut tx).await?.into_iter().collect();
        let tree = TerritoryTree::load(&mut tx).await?;
        let now = store::micros(self.now());
        let mut batch: Vec<LineIn> = Vec::with_capacity(LINE_BATCH);
        let mut seen_in_batch: HashMap<String, u64> = HashMap::new();
        let mut rec = csv::StringRecord::new();
        while let Some(line) = next_record(&mut r, &mut rec, &mut report) {
            if report.rows % 100_000 == 0 {
                progress(report.rows);
            }
            if rec.len() != expected.len() {
                report.reject(line, format!("expected {} fields, found {}", expected.len(), rec.len()));
                continue;
            }
            let field = |i: usize| rec.get(i).unwrap_or("");
            let identifier = field(0);
            let mut problems: Vec<String> = Vec::new();
            if identifier.is_empty() || identifier.len() > 64 || identifier.chars().any(char::is_control) {
                problems.push("identifier: 1 to 64 printable characters".into());
            }
            let customer_id = customers.get(field(1)).copied();
            if customer_id.is_none() {
                problems.push(format!("customer_code: unknown customer `{}`", field(1)));
            }
            let service_id = services.get(&field(2).to_ascii_uppercase()).copied();
            if service_id.is_none() {
                problems.push(format!("service: unknown service `{}`", field(2)));
            }
            let municipality_id = tree.municipality(field(3));
            if municipality_id.is_none() {
                problems.push(format!("municipality_code: unknown municipality `{}`", field(3)));
            }
            let mut element_ids = Vec::new();
            for code in field(4).split(';').map(str::trim).filter(|c| !c.is_empty()) {
                match elements.get(code) {
                    Some(id) => element_ids.push(*id),
                    None => problems.push(format!("network_elements: unknown element `{code}`")),
                }
            }
            let status = line_status(field(5));
            if status.is_none() {
                problems.push(format!("status: `{}` is not active, suspended or ceased", field(5)));
            }
            if let Some(first) = seen_in_batch.get(identifier) {
                problems.push(format!("identifier: `{identifier}` already on line {first}"));
            }
            let (Some(customer_id), Some(service_id), Some(municipality_id), Some(status), true) =
                (customer_id, service_id, municipality_id, status, problems.is_empty())
            else {
                report.reject(line, problems.join("; "));
                continue;
            };
            if strict && !report.rejected.is_empty() {
                continue;
            }
            seen_in_batch.insert(identifier.to_owned(), line);
            let monitoring =
                if with_monitoring { Some(field(6)).filter(|m| !m.is_empty()).map(String::from) } else { None };
            batch.push(LineIn {
                identifier: identifier.to_owned(),
                customer_id,
                service_id,
                municipality_id,
                status: status.to_owned(),
                monitoring_address: monitoring,
                elements: element_ids,
            });
            if batch.len() >= LINE_BATCH {
                store::inventory::upsert_lines(&mut tx, &batch, now).await?;
                report.imported += batch.len() as u64;
                batch.clear();
                seen_in_batch.clear();
                if !strict {
                    // Commit what is valid so far and let other writers in.
                    tx.commit().await?;
                    tx = self.db.write().await?;
                }
            }
        }
        progress(report.rows);
        if strict && !report.rejected.is_empty() {
            report.aborted = true;
            report.imported = 0;
            return Ok(report);
        }
        store::inventory::upsert_lines(&mut tx, &batch, now).await?;
        report.imported += batch.len() as u64;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "lines",
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
        Ok(report)
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
