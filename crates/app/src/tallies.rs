//! Line tallies: how many lines in service, and how many distinct customers, every territory
//! holds per service type, so that the affected set of a notice naming one territory is one row
//! to read instead of a scan of its lines.
//!
//! The tallies are computed from all the lines at once and kept with the marks of lines and
//! territories they were computed at; every transaction that writes lines or territories gives
//! them a new mark, so a stale tally is never read (counts then read the lines, exact but
//! slower). They are refreshed after an import (`sportello import`) and by a background task of
//! `serve` ([`App::run_line_tallies`]) that finds them stale.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use store::Tx;
use store::inventory::{ScopeIds, TallyMarks, TerritoryRow};

use crate::inventory::TerritoryTree;
use crate::{App, Error, Result};

/// What a refresh of the line tallies did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallyRefresh {
    /// They were current: nothing was done.
    Current,
    /// They were computed again and saved.
    Refreshed {
        /// Tally rows saved (territory × service).
        rows: usize,
        /// Lines in service counted.
        lines: i64,
        /// How long it took.
        took: Duration,
    },
    /// Lines or territories changed while they were being counted: nothing was saved (the next
    /// refresh tries again).
    Moved,
}

/// One tally row: `(territory id or 0, service id or 0, lines, customers)`.
type Row = (i64, i64, i64, i64);

/// Computes the tallies of every territory from `[municipality, service, customer, lines]`
/// groups. A line counts in its municipality and every territory above it (as scopes reach it
/// through [`crate::inventory`]'s tree: only municipalities not merged into another), and
/// everywhere (territory 0); per service and for every service (service 0).
pub(crate) fn compute(territories: &[TerritoryRow], groups: &[[i64; 4]]) -> Result<Vec<Row>> {
    let by_id: HashMap<i64, &TerritoryRow> = territories.iter().map(|t| (t.id, t)).collect();
    // A municipality's chain: itself and its ancestors below the country (a country-wide term
    // reads the everywhere tally), nearest first.
    let mut chains: HashMap<i64, Vec<u32>> = HashMap::new();
    let key = |id: i64| u32::try_from(id).map_err(|_| Error::Internal(format!("territory id {id} out of range")));
    let chain_of = |m: i64, chains: &mut HashMap<i64, Vec<u32>>| -> Result<()> {
        if chains.contains_key(&m) {
            return Ok(());
        }
        let mut chain = Vec::new();
        if let Some(t) = by_id.get(&m)
            && t.level == "municipality"
            && t.successor_id.is_none()
        {
            let mut at = Some(*t);
            for _ in 0..16 {
                let Some(t) = at else { break };
                if t.level == "country" {
                    break;
                }
                chain.push(key(t.id)?);
                at = t.parent_id.and_then(|p| by_id.get(&p).copied());
            }
        }
        chains.insert(m, chain);
        Ok(())
    };
    let mut lines: HashMap<(u32, u32), i64> = HashMap::new();
    let mut per_place: HashMap<(i64, u32), i64> = HashMap::new();
    let mut everywhere: Vec<u128> = Vec::with_capacity(groups.len() * 2);
    let mut level: Vec<u128> = Vec::with_capacity(groups.len() * 2);
    for &[m, s, c, n] in groups {
        let s = u32::try_from(s).map_err(|_| Error::Internal(format!("service id {s} out of range")))?;
        let c = u64::try_from(c).map_err(|_| Error::Internal(format!("customer id {c} out of range")))?;
        chain_of(m, &mut chains)?;
        *per_place.entry((m, s)).or_default() += n;
        everywhere.push(pack(0, s, c));
        everywhere.push(pack(0, 0, c));
        if let Some(&t) = chains.get(&m).and_then(|ch| ch.first()) {
            level.push(pack(t, s, c));
            level.push(pack(t, 0, c));
        }
    }
    for ((m, s), n) in per_place {
        *lines.entry((0, s)).or_default() += n;
        *lines.entry((0, 0)).or_default() += n;
        for &t in chains.get(&m).into_iter().flatten() {
            *lines.entry((t, s)).or_default() += n;
            *lines.entry((t, 0)).or_default() += n;
        }
    }
    // Distinct customers, one level at a time: sorted and deduplicated (territory, service,
    // customer) keys, then the same keys moved to each territory's parent.
    let mut customers: HashMap<(u32, u32), i64> = HashMap::new();
    count_distinct(&mut everywhere, &mut customers);
    drop(everywhere);
    let parent: HashMap<u32, u32> = chains.values().flat_map(|ch| ch.windows(2).map(|w| (w[0], w[1]))).collect();
    while !level.is_empty() {
        count_distinct(&mut level, &mut customers);
        level = level
            .iter()
            .filter_map(|k| parent.get(&((k >> 96) as u32)).map(|p| (u128::from(*p) << 96) | (k & ((1u128 << 96) - 1))))
            .collect();
    }
    let mut out: Vec<Row> = lines
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((t, s), n)| (i64::from(t), i64::from(s), n, customers.get(&(t, s)).copied().unwrap_or(0)))
        .collect();
    out.sort_unstable();
    Ok(out)
}

fn pack(territory: u32, service: u32, customer: u64) -> u128 {
    (u128::from(territory) << 96) | (u128::from(service) << 64) | u128::from(customer)
}

/// Sorts and deduplicates `keys` and adds one customer per distinct key to its (territory,
/// service).
fn count_distinct(keys: &mut Vec<u128>, customers: &mut HashMap<(u32, u32), i64>) {
    keys.sort_unstable();
    keys.dedup();
    let mut run: Option<((u32, u32), i64)> = None;
    for k in keys.iter() {
        let ts = ((k >> 96) as u32, (k >> 64) as u32);
        match &mut run {
            Some((at, n)) if *at == ts => *n += 1,
            _ => {
                if let Some((at, n)) = run.take() {
                    *customers.entry(at).or_default() += n;
                }
                run = Some((ts, 1));
            }
        }
    }
    if let Some((at, n)) = run {
        *customers.entry(at).or_default() += n;
    }
}

impl App {
    /// Computes the line tallies again when lines or territories changed since they were
    /// computed. Safe on several nodes and beside imports: tallies counted while lines changed
    /// are not saved, and tallies saved with an old mark are never read.
    pub async fn refresh_line_tallies(&self) -> Result<TallyRefresh> {
        let start = Instant::now();
        let mut tx = self.db.read().await?;
        let before = store::inventory::tally_marks(&mut tx).await?;
        if before.current() {
            return Ok(TallyRefresh::Current);
        }
        let groups = store::inventory::place_customers(&mut tx).await?;
        let territories = store::inventory::territories(&mut tx).await?;
        let after = store::inventory::tally_marks(&mut tx).await?;
        tx.commit().await?;
        if (after.lines, after.territories) != (before.lines, before.territories) {
            return Ok(TallyRefresh::Moved);
        }
        let rows = tokio::task::spawn_blocking(move || compute(&territories, &groups))
            .await
            .map_err(|e| Error::Internal(format!("line tallies: {e}")))??;
        let lines = rows.iter().find(|r| r.0 == 0 && r.1 == 0).map_or(0, |r| r.2);
        let mut tx = self.db.write().await?;
        let at = TallyMarks { tallied_lines: before.lines, tallied_territories: before.territories, ..before };
        store::inventory::save_tallies(&mut tx, &rows, at).await?;
        tx.commit().await?;
        Ok(TallyRefresh::Refreshed { rows: rows.len(), lines, took: start.elapsed() })
    }

    /// Whether the line tallies are current (counts of single-territory scopes read them).
    pub async fn line_tallies_current(&self) -> Result<bool> {
        let mut tx = self.db.read().await?;
        Ok(store::inventory::tally_marks(&mut tx).await?.current())
    }

    /// The lines a scope reaches per region and service, `(region code, service code, lines)`
    /// as `store::inventory::affected_breakdown` gives them (most lines first), from the line
    /// tallies: the scope must be one territory term (or everywhere), perhaps with a service, and
    /// the tallies current. A territory whose municipalities lie in one region is its own tally
    /// filed under that region; a wider one (the country) is the tally of each region, used only
    /// where that region's municipalities are exactly those filed under it. `None` otherwise:
    /// the lines are read.
    pub(crate) async fn tallied_breakdown(
        &self,
        tx: &mut Tx,
        ids: &ScopeIds,
    ) -> Result<Option<Vec<(String, String, i64)>>> {
        let Some((territory, service)) = store::inventory::tally_key(ids) else { return Ok(None) };
        let tree = TerritoryTree::load(tx).await?;
        let within = if territory == 0 { tree.municipalities() } else { tree.municipalities_under(territory) };
        let mut filed: BTreeMap<i64, (String, usize)> = BTreeMap::new();
        for m in &within {
            let Some(region) = tree.breakdown_region(*m) else { return Ok(None) };
            filed.entry(region.id).or_insert_with(|| (region.code.clone(), 0)).1 += 1;
        }
        // The tally to read for each region code.
        let tallies: HashMap<i64, String> = match filed.len() {
            0 => return Ok(Some(Vec::new())),
            1 => filed.into_values().map(|(code, _)| (territory, code)).collect(),
            _ => {
                let mut out = HashMap::with_capacity(filed.len());
                for (region, (code, n)) in filed {
                    if tree.municipalities_under(region).len() != n {
                        return Ok(None);
                    }
                    out.insert(region, code);
                }
                out
            }
        };
        let wanted: Vec<i64> = tallies.keys().copied().collect();
        let Some(rows) = store::inventory::tallied_by_service(tx, &wanted, service).await? else { return Ok(None) };
        let mut out: Vec<(String, String, i64)> = rows
            .into_iter()
            .filter_map(|(t, service, lines)| tallies.get(&t).map(|code| (code.clone(), service, lines)))
            .collect();
        out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)).then_with(|| a.1.cmp(&b.1)));
        Ok(Some(out))
    }

    /// Refreshes the line tallies every `every` until `shutdown` turns true.
    pub async fn run_line_tallies(&self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.refresh_line_tallies().await {
                Ok(TallyRefresh::Refreshed { rows, lines, took }) => {
                    tracing::info!(rows, lines, ms = took.as_millis() as u64, "line tallies refreshed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "line tallies refresh failed; trying again later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
