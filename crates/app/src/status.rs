//! The public status page: published incidents still open, maintenance from its lead time until
//! it ends, and the notices ended in the last [`HISTORY`], with no customer data.
//!
//! What a reader of the page learns about a notice: its public title and text (in their
//! language), kind, impact, state, window, estimated restoration and public timeline, and WHERE
//! as the names of the regions and of the services of the lines it reaches. Never: customers,
//! line identifiers, line or customer counts (a count in a small region can point at one
//! customer), network element codes (the operator's topology), internal notes or linked tickets.
//! A notice whose scope is only explicit lines concerns named customers and is left out; a scope
//! mixing terms and explicit lines shows the terms' regions and services only.
//!
//! Cost: the list of notices is read in a few queries and kept for [`crate::cache::TTL`]
//! (forgotten at once when this process changes a notice); the regions and services of a notice
//! come from the affected breakdown, computed once per notice version and kept for
//! [`PLACE_TTL`] so that lines imported meanwhile show up, and only one refresh runs at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::notice::{Impact, NoticeKind, NoticeState, Window};
use domain::scope::{Scope, ScopeTerm};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use store::Tx;
use store::inventory::TermIds;
use store::notices::NoticeRow;

use crate::cache::Ttl;
use crate::instance::InstanceSettings;
use crate::inventory::TerritoryTree;
use crate::notices::{NoticeText, TimelineEntry};
use crate::views::ts;
use crate::{App, Error, Result};

/// How far back ended notices are shown as history.
pub const HISTORY: SignedDuration = SignedDuration::from_hours(7 * 24);
/// At most this many ended notices are shown.
pub const HISTORY_LIMIT: i64 = 50;
/// How long the regions and services of an unchanged notice are kept before being computed again.
pub const PLACE_TTL: Duration = Duration::from_secs(15 * 60);

/// Where a notice is, as the public may know it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Place {
    /// Shown at all (not a scope of explicit lines only).
    public: bool,
    /// A term covers the whole country (or every region).
    all_regions: bool,
    /// Region names, sorted.
    regions: Vec<String>,
    /// A term names no service.
    all_services: bool,
    /// Service names, sorted.
    services: Vec<String>,
}

/// A computed place: the notice's `updated_at` it was computed for, and when.
type PlaceEntry = (i64, Instant, Arc<Place>);

/// A public timeline entry as stored: when, the state from then, the text per language.
type Update = (i64, NoticeState, BTreeMap<String, NoticeText>);

/// A notice with what the status page needs of it (no notes, no scope).
#[derive(Debug, Clone)]
struct Entry {
    id: i64,
    kind: NoticeKind,
    state: NoticeState,
    impact: Impact,
    texts: BTreeMap<String, NoticeText>,
    window: Option<Window>,
    estimated_restoration: Option<i64>,
    published_at: i64,
    ended_at: Option<i64>,
    updated_at: i64,
    updates: Vec<Update>,
    place: Arc<Place>,
    sequence: i64,
}

/// The notices of the page as read at one instant, in every language.
#[derive(Debug)]
pub(crate) struct Snapshot {
    at: Timestamp,
    entries: Vec<Entry>,
}

/// What the status page keeps between requests.
#[derive(Default)]
pub(crate) struct StatusCache {
    /// The instance's settings.
    pub settings: Ttl<(), InstanceSettings>,
    snapshot: Ttl<(), Arc<Snapshot>>,
    places: Mutex<HashMap<i64, PlaceEntry>>,
    refresh: tokio::sync::Mutex<()>,
}

impl StatusCache {
    /// Forgets the settings and the notices read (after a change in this process).
    pub(crate) fn forget(&self) {
        self.settings.clear();
        self.snapshot.clear();
    }

    /// Forgets everything, the places computed too.
    pub(crate) fn clear(&self) {
        self.forget();
        if let Ok(mut p) = self.places.lock() {
            p.clear();
        }
    }
}

/// One notice as the public status page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicNotice {
    /// Id (stable: feeds name the notice with it).
    pub id: i64,
    /// Incident or maintenance.
    pub kind: NoticeKind,
    /// Where it stands.
    pub state: NoticeState,
    /// How the service is hit.
    pub impact: Impact,
    /// Title in the reader's language (else English, else Italian, else the first).
    pub title: String,
    /// Public text in the same language.
    pub body: String,
    /// Window start.
    pub window_start: Option<Timestamp>,
    /// Window end.
    pub window_end: Option<Timestamp>,
    /// Expected restoration.
    pub estimated_restoration: Option<Timestamp>,
    /// When it was published.
    pub published_at: Timestamp,
    /// When it ended (resolved, completed, cancelled).
    pub ended_at: Option<Timestamp>,
    /// Its last change.
    pub updated_at: Timestamp,
    /// The public timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Whether it concerns the whole country (then `regions` is empty).
    pub all_regions: bool,
    /// The names of the regions it concerns, sorted.
    pub regions: Vec<String>,
    /// Whether it concerns every service (then `services` is empty).
    pub all_services: bool,
    /// The names of the services it concerns, sorted.
    pub services: Vec<String>,
    /// How many changes it has had (grows with every change; the calendar's SEQUENCE).
    pub sequence: i64,
}

/// The public status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusPage {
    /// When the notices were read.
    pub generated_at: Timestamp,
    /// The latest change among the notices shown (the generation time when there are none).
    pub updated_at: Timestamp,
    /// Incidents not yet resolved, newest first.
    pub incidents: Vec<PublicNotice>,
    /// Maintenance from its lead time until it ends, soonest first.
    pub maintenance: Vec<PublicNotice>,
    /// Notices ended in the last seven days, most recently ended first.
    pub history: Vec<PublicNotice>,
}

impl StatusPage {
    /// Every notice of the page: incidents, maintenance, then history.
    pub fn all(&self) -> impl Iterator<Item = &PublicNotice> {
        self.incidents.iter().chain(&self.maintenance).chain(&self.history)
    }
}

/// The text in `language`, else English, else Italian, else the first.
fn pick<'a>(texts: &'a BTreeMap<String, NoticeText>, language: &str) -> Option<&'a NoticeText> {
    texts.get(language).or_else(|| texts.get("en")).or_else(|| texts.get("it")).or_else(|| texts.values().next())
}

fn texts_of(json: &str) -> BTreeMap<String, NoticeText> {
    serde_json::from_str(json).unwrap_or_default()
}

fn window_of(n: &NoticeRow) -> Option<Window> {
    match (n.window_start, n.window_end) {
        (Some(s), Some(e)) => Window::new(ts(s), ts(e)).ok(),
        _ => None,
    }
}

impl Entry {
    fn public(&self, language: &str) -> PublicNotice {
        let shown = pick(&self.texts, language).cloned().unwrap_or_default();
        PublicNotice {
            id: self.id,
            kind: self.kind,
            state: self.state,
            impact: self.impact,
            title: shown.title,
            body: shown.body,
            window_start: self.window.map(|w| w.start()),
            window_end: self.window.map(|w| w.end()),
            estimated_restoration: self.estimated_restoration.map(ts),
            published_at: ts(self.published_at),
            ended_at: self.ended_at.map(ts),
            updated_at: ts(self.updated_at),
            timeline: self
                .updates
                .iter()
                .map(|(at, state, texts)| TimelineEntry {
                    at: ts(*at),
                    state: *state,
                    text: pick(texts, language).map(|t| t.body.clone()).unwrap_or_default(),
                })
                .collect(),
            all_regions: self.place.all_regions,
            regions: self.place.regions.clone(),
            all_services: self.place.all_services,
            services: self.place.services.clone(),
            sequence: self.sequence,
        }
    }
}

/// What [`App::warm_caches`] filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warmed {
    /// Published notices visible now, compiled for matching against lines.
    pub visible_notices: usize,
    /// Notices on the status page (their places computed); `None` when the page is off.
    pub status_notices: Option<usize>,
    /// How long it took.
    pub took: Duration,
}

impl App {
    /// The public status page in `language` (anyone, no login); not found when the operator
    /// turned it off.
    pub async fn status_page(&self, language: &str) -> Result<StatusPage> {
        if !self.instance_settings().await?.status_page {
            return Err(Error::NotFound("status page".into()));
        }
        let snap = self.status_snapshot().await?;
        let mut page = StatusPage {
            generated_at: snap.at,
            updated_at: snap.entries.iter().map(|e| ts(e.updated_at)).max().unwrap_or(snap.at),
            incidents: Vec::new(),
            maintenance: Vec::new(),
            history: Vec::new(),
        };
        for e in &snap.entries {
            let p = e.public(language);
            match (e.ended_at, e.kind) {
                (Some(_), _) => page.history.push(p),
                (None, NoticeKind::Incident) => page.incidents.push(p),
                (None, NoticeKind::Maintenance) => page.maintenance.push(p),
            }
        }
        page.incidents.sort_by_key(|n| std::cmp::Reverse((n.published_at, n.id)));
        page.maintenance.sort_by_key(|n| (n.window_start, n.id));
        page.history.sort_by_key(|n| std::cmp::Reverse((n.ended_at, n.id)));
        Ok(page)
    }

    /// Fills, at start, what the first reader would otherwise wait for: the compiled index of the
    /// visible notices (portal home, line pages, ticket form) and, when the status page is on, the
    /// regions and services of every notice it shows (seconds at millions of lines).
    pub async fn warm_caches(&self) -> Result<Warmed> {
        let started = Instant::now();
        let visible_notices = {
            let mut tx = self.db.read().await?;
            self.visible_notices(&mut tx).await?.rows.len()
        };
        let status_notices = if self.instance_settings().await?.status_page {
            Some(self.status_snapshot().await?.entries.len())
        } else {
            None
        };
        Ok(Warmed { visible_notices, status_notices, took: started.elapsed() })
    }

    /// Forgets the notices the status page read (not their regions and services), as when its
    /// short cache expires; for benchmarks and tests.
    pub fn forget_status_page(&self) {
        self.notice_cache.status.forget();
    }

    /// The notices of the page, from the short cache when fresh; one refresh at a time.
    async fn status_snapshot(&self) -> Result<Arc<Snapshot>> {
        let cache = &self.notice_cache.status;
        if let Some(s) = cache.snapshot.get(&()) {
            return Ok(s);
        }
        let _one = cache.refresh.lock().await;
        if let Some(s) = cache.snapshot.get(&()) {
            return Ok(s);
        }
        let now = self.now();
        let lead = self.instance_settings().await?.maintenance_lead();
        let mut tx = self.db.read().await?;
        let mut rows: Vec<NoticeRow> = Vec::new();
        for n in store::notices::open(&mut tx).await? {
            if n.published_at.is_none() {
                continue;
            }
            let (Some(kind), Some(state)) = (NoticeKind::parse(&n.kind), NoticeState::parse(&n.state)) else {
                continue;
            };
            if domain::notice::is_visible(kind, state, window_of(&n), now, lead) {
                rows.push(n);
            }
        }
        let since = now.checked_sub(HISTORY).unwrap_or(Timestamp::MIN);
        rows.extend(store::notices::ended_since(&mut tx, store::micros(since), HISTORY_LIMIT).await?);
        let ids: Vec<i64> = rows.iter().map(|n| n.id).collect();
        let mut updates: HashMap<i64, Vec<Update>> = HashMap::new();
        if !ids.is_empty() {
            for u in store::status::updates_of_many(&mut tx, &ids).await? {
                let Some(state) = NoticeState::parse(&u.state) else { continue };
                updates.entry(u.notice_id).or_default().push((u.at, state, texts_of(&u.texts)));
            }
        }
        let changes: HashMap<i64, i64> = if ids.is_empty() {
            HashMap::new()
        } else {
            store::status::change_counts(&mut tx, &ids).await?.into_iter().collect()
        };
        let mut names = Names::default();
        let mut entries = Vec::with_capacity(rows.len());
        for n in rows {
            let place = self.place_of(&mut tx, &n, &mut names).await?;
            if !place.public {
                continue;
            }
            let (Some(kind), Some(state), Some(published_at)) =
                (NoticeKind::parse(&n.kind), NoticeState::parse(&n.state), n.published_at)
            else {
                continue;
            };
            entries.push(Entry {
                id: n.id,
                kind,
                state,
                impact: Impact::parse(&n.impact).unwrap_or(Impact::Outage),
                texts: texts_of(&n.texts),
                window: window_of(&n),
                estimated_restoration: n.estimated_restoration,
                published_at,
                ended_at: n.ended_at,
                updated_at: n.updated_at,
                updates: updates.remove(&n.id).unwrap_or_default(),
                place,
                sequence: changes.get(&n.id).copied().unwrap_or(1).saturating_sub(1).max(0),
            });
        }
        drop(tx);
        let snap = Arc::new(Snapshot { at: now, entries });
        cache.snapshot.put((), snap.clone());
        Ok(snap)
    }

    /// Where a notice is, as the public may know it: from the short cache while the notice is
    /// unchanged, else computed from the lines its scope's terms reach now.
    async fn place_of(&self, tx: &mut Tx, n: &NoticeRow, names: &mut Names) -> Result<Arc<Place>> {
        let cache = &self.notice_cache.status.places;
        if let Ok(map) = cache.lock()
            && let Some((version, at, place)) = map.get(&n.id)
            && *version == n.updated_at
            && at.elapsed() < PLACE_TTL
        {
            return Ok(place.clone());
        }
        let place = Arc::new(self.compute_place(tx, n, names).await?);
        if let Ok(mut map) = cache.lock() {
            if map.len() > 20_000 {
                map.clear();
            }
            map.insert(n.id, (n.updated_at, Instant::now(), place.clone()));
        }
        Ok(place)
    }

    async fn compute_place(&self, tx: &mut Tx, n: &NoticeRow, names: &mut Names) -> Result<Place> {
        let Ok(scope) = serde_json::from_str::<Scope>(&n.scope) else { return Ok(Place::default()) };
        if scope.terms.is_empty() {
            // Explicit lines only: about named customers, not for the public page.
            return Ok(Place::default());
        }
        names.load(tx).await?;
        let mut place = Place { public: true, ..Place::default() };
        let (mut regions, mut services) = (BTreeSet::new(), BTreeSet::new());
        for t in &scope.terms {
            // A code removed from the inventory since leaves the other terms to show.
            let Some(ids) = names.resolve(tx, t).await? else { continue };
            if t.network_element.is_some() {
                // Where an element's lines are: from the lines themselves.
                let one = store::inventory::ScopeIds { terms: vec![ids], lines: Vec::new() };
                for (region, service, _lines) in store::inventory::affected_breakdown(tx, &one).await? {
                    regions.insert(names.territory(&region));
                    services.insert(names.service(&service));
                }
                continue;
            }
            // A territory (or none: everywhere) and a service (or none: all of them), as declared.
            match t.territory.as_deref() {
                Some(code) => match names.regions_of(code) {
                    Some(r) => regions.extend(r),
                    None => place.all_regions = true,
                },
                None => place.all_regions = true,
            }
            match t.service.as_deref() {
                Some(code) => {
                    services.insert(names.service(&code.to_ascii_uppercase()));
                }
                None => place.all_services = true,
            }
        }
        if !place.all_regions {
            place.regions = regions.into_iter().collect();
        }
        if !place.all_services {
            place.services = services.into_iter().collect();
        }
        Ok(place)
    }
}

/// The territory tree and the service catalogue, read once per refresh, to resolve scope terms
/// and name regions and services.
#[derive(Default)]
struct Names {
    tree: Option<std::sync::Arc<TerritoryTree>>,
    /// By code: id and name.
    services: HashMap<String, (i64, String)>,
}

impl Names {
    async fn load(&mut self, tx: &mut Tx) -> Result<()> {
        if self.tree.is_none() {
            self.tree = Some(TerritoryTree::load(tx).await?);
            self.services =
                store::inventory::services(tx).await?.into_iter().map(|s| (s.code, (s.id, s.name))).collect();
        }
        Ok(())
    }

    /// A term's ids, as `App::resolve_scope` makes them; `None` when one of its codes is no
    /// longer known.
    async fn resolve(&self, tx: &mut Tx, t: &ScopeTerm) -> Result<Option<TermIds>> {
        let Some(tree) = self.tree.as_ref() else { return Ok(None) };
        let ids = crate::notices::term_ids(tx, tree, |code| self.services.get(code).map(|(id, _)| *id), t).await?;
        Ok(ids.ok())
    }

    /// The names of the regions a territory lies in (itself when a region); `None` for a whole
    /// country.
    fn regions_of(&self, code: &str) -> Option<BTreeSet<String>> {
        let tree = self.tree.as_ref()?;
        let row = tree.get(code)?;
        if row.level == "country" {
            return None;
        }
        Some([region_of(tree, row).name.clone()].into())
    }

    fn territory(&self, code: &str) -> String {
        self.tree.as_ref().and_then(|t| t.get(code)).map(|r| r.name.clone()).unwrap_or_else(|| code.to_owned())
    }

    fn service(&self, code: &str) -> String {
        self.services.get(code).map(|(_, name)| name.clone()).unwrap_or_else(|| code.to_owned())
    }
}

/// The region a territory lies in: the first ancestor (or itself) at the region level, else the
/// highest one below the country.
fn region_of<'a>(
    tree: &'a TerritoryTree,
    row: &'a store::inventory::TerritoryRow,
) -> &'a store::inventory::TerritoryRow {
    let mut r = row;
    for _ in 0..8 {
        if r.level == "region" {
            return r;
        }
        match r.parent_id.and_then(|p| tree.by_id(p)) {
            Some(parent) if parent.level != "country" => r = parent,
            _ => return r,
        }
    }
    r
}
