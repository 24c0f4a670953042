//! Ticket storms: when at least N new tickets arrive within T minutes (the instance's storm rule,
//! 5 in 15 unless an administrator changed it) from lines sharing a municipality or a network
//! element, agents are offered "possible outage in X" with a pre-filled scope. Accepting creates
//! the incident notice (a draft unless asked to publish) and links those tickets to it, in one
//! transaction; dismissing hides the suggestion for T minutes, unless a ticket joins the storm
//! after the dismissal (the agent dismissed what they saw, not what comes next).
//!
//! Counted: tickets about a line (`tickets.line_id`), not merged or deleted, not yet linked to a
//! notice (a ticket opened on a line a notice in effect covers is linked at once, so a known fault
//! raises no storm). Tickets of the last day (linked or not) are read as well, only to tell a
//! network element from its ancestors (see [`domain::storm`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::notice::{Impact, NoticeKind};
use domain::scope::Scope;
use domain::storm::{StormKey, StormRule, StormSuggestion, StormTicket};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use store::Tx;
use store::notices::NoticeRow;

use crate::access::Actor;
use crate::notices::{NoticeText, NoticeView};
use crate::views::ts;
use crate::{App, Error, Result};

/// How far back tickets are read to tell network elements from their ancestors.
pub const CONTEXT: SignedDuration = SignedDuration::from_hours(24);
/// At most this many recent tickets are read.
pub const MAX_TICKETS: i64 = 20_000;

/// What the tickets of a storm share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StormKind {
    /// Their lines are in one municipality.
    Municipality,
    /// Their lines depend on one network element.
    Element,
}

impl StormKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StormKind::Municipality => "municipality",
            StormKind::Element => "element",
        }
    }

    /// Parses a stored or posted name.
    pub fn parse(text: &str) -> Option<StormKind> {
        match text {
            "municipality" => Some(StormKind::Municipality),
            "element" => Some(StormKind::Element),
            _ => None,
        }
    }

    fn key(self, code: &str) -> StormKey {
        match self {
            StormKind::Municipality => StormKey::Municipality(code.to_owned()),
            StormKind::Element => StormKey::Element(code.to_owned()),
        }
    }
}

fn kind_code(key: &StormKey) -> (StormKind, &str) {
    match key {
        StormKey::Municipality(c) => (StormKind::Municipality, c),
        StormKey::Element(c) => (StormKind::Element, c),
    }
}

/// A suggested notice for a storm of tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StormView {
    /// What the tickets share.
    pub kind: StormKind,
    /// The municipality's or the element's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The tickets' numbers, ascending.
    pub tickets: Vec<i64>,
    /// When the first of them was opened.
    pub first: Timestamp,
    /// When the last of them was opened.
    pub last: Timestamp,
    /// The pre-filled scope of the notice.
    pub scope: Scope,
}

/// The storms now, with the rule that found them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StormList {
    /// How many tickets make a storm.
    pub min_tickets: i64,
    /// Within how many minutes.
    pub within_minutes: i64,
    /// The storms, most tickets first (dismissed ones left out).
    pub storms: Vec<StormView>,
}

/// Accepting a storm: the notice to create for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StormAcceptInput {
    /// What the tickets share.
    pub kind: StormKind,
    /// The municipality's or the element's code.
    pub code: String,
    /// Title and text per language; empty: [`App::storm_default_texts`].
    pub texts: BTreeMap<String, NoticeText>,
    /// How the service is hit.
    pub impact: Impact,
    /// Notes for agents; `None`: the storm's tickets and key.
    pub internal_notes: Option<String>,
    /// Publish at once; otherwise a draft to finish in the editor.
    pub publish: bool,
}

impl App {
    /// The default public texts of a storm's notice: for a municipality "possible outage in" its
    /// name; for a network element a generic title (an element's name is not for the public).
    pub fn storm_default_texts(kind: StormKind, name: &str) -> BTreeMap<String, NoticeText> {
        let (it, en, ca) = match kind {
            StormKind::Municipality => (
                format!("Possibile disservizio a {name}"),
                format!("Possible outage in {name}"),
                format!("Possible incidència a {name}"),
            ),
            StormKind::Element => (
                "Possibile disservizio sulla rete".to_owned(),
                "Possible outage on our network".to_owned(),
                "Possible incidència a la xarxa".to_owned(),
            ),
        };
        let text = |title: String, body: &str| NoticeText { title, body: body.to_owned() };
        [
            ("it".to_owned(), text(it, "Stiamo verificando diverse segnalazioni di guasto in questa zona.")),
            ("en".to_owned(), text(en, "We are looking into several reports of a fault in this area.")),
            ("ca".to_owned(), text(ca, "Estem investigant diversos avisos d'avaria en aquesta zona.")),
        ]
        .into()
    }

    /// The storms of tickets now, under the instance's rule, with their names and scopes; those
    /// dismissed are left out. Staff.
    pub async fn storm_suggestions(&self, actor: &Actor) -> Result<StormList> {
        actor.require_staff()?;
        let settings = self.instance_settings().await?;
        let rule = settings.storm_rule();
        let now = self.now();
        let mut tx = self.db.read().await?;
        let dismissed: HashMap<(String, String), i64> = store::storm::dismissed(&mut tx, store::micros(now))
            .await?
            .into_iter()
            .map(|(kind, code, at)| ((kind, code), at))
            .collect();
        // A dismissal hides the storm as the agent saw it: a ticket opened after it brings the
        // storm back at once.
        let storms: Vec<StormSuggestion> = detect(&mut tx, rule, now)
            .await?
            .into_iter()
            .filter(|s| {
                let (kind, code) = kind_code(&s.key);
                dismissed.get(&(kind.as_str().to_owned(), code.to_owned())).is_none_or(|at| store::micros(s.last) > *at)
            })
            .collect();
        let storms = views(&mut tx, storms).await?;
        Ok(StormList { min_tickets: settings.storm_min_tickets, within_minutes: settings.storm_within_minutes, storms })
    }

    /// Hides a storm suggestion for the rule's window (other agents too), until a new ticket joins
    /// it; an event. Staff.
    pub async fn dismiss_storm(&self, actor: &Actor, kind: StormKind, code: &str) -> Result<()> {
        actor.require_staff()?;
        let code = code.trim();
        if code.is_empty() || code.chars().count() > 100 {
            return Err(Error::invalid("code", "1 to 100 characters"));
        }
        let rule = self.instance_settings().await?.storm_rule();
        let now = self.now();
        let until = now.checked_add(rule.within).unwrap_or(Timestamp::MAX);
        let micros = store::micros(now);
        let mut tx = self.db.write().await?;
        store::storm::dismiss(&mut tx, kind.as_str(), code, store::micros(until), actor.user_id, micros).await?;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "storm",
            0,
            "dismissed",
            Some(kind.as_str()),
            None,
            Some(code.to_owned()),
            micros,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Accepts a storm: creates its incident notice (a draft unless `publish`) with the storm's
    /// scope and links the storm's tickets to it, all in one transaction; not found when there
    /// is no such storm now (it was accepted meanwhile, or its tickets aged out). Staff.
    pub async fn accept_storm(&self, actor: &Actor, input: StormAcceptInput) -> Result<NoticeView> {
        actor.require_staff()?;
        let rule = self.instance_settings().await?.storm_rule();
        let now = self.now();
        let micros = store::micros(now);
        let mut tx = self.db.write().await?;
        store::storm::lock_accept(&mut tx).await?;
        let key = input.kind.key(input.code.trim());
        let storm =
            detect(&mut tx, rule, now).await?.into_iter().find(|s| s.key == key).ok_or_else(|| {
                Error::NotFound(format!("storm of tickets on {} {}", input.kind.as_str(), input.code))
            })?;
        let view = views(&mut tx, vec![storm.clone()]).await?.pop().ok_or_else(|| Error::Internal("storm".into()))?;
        let texts =
            if input.texts.is_empty() { Self::storm_default_texts(input.kind, &view.name) } else { input.texts };
        let mut p = crate::error::Problems::default();
        crate::notices::check_texts(&texts, true, &mut p);
        let notes = match input.internal_notes {
            Some(n) => n,
            None => format!(
                "Ticket storm: {} tickets on {} {} ({}) opened {} – {}: {}",
                view.tickets.len(),
                input.kind.as_str(),
                view.name,
                view.code,
                view.first.strftime("%Y-%m-%d %H:%M UTC"),
                view.last.strftime("%H:%M UTC"),
                view.tickets.iter().map(|t| format!("#{t}")).collect::<Vec<_>>().join(", ")
            ),
        };
        if notes.chars().count() > 20_000 {
            p.add("internal_notes", "at most 20,000 characters");
        }
        p.finish()?;
        let scope = view.scope.clone();
        self.resolve_scope(&mut tx, &scope).await?;
        let kind = NoticeKind::Incident;
        let mut row = NoticeRow {
            id: 0,
            kind: kind.as_str().into(),
            state: kind.initial_state().as_str().into(),
            impact: input.impact.as_str().into(),
            texts: serde_json::to_string(&texts).map_err(|e| Error::Internal(e.to_string()))?,
            internal_notes: notes,
            scope: serde_json::to_string(&scope).map_err(|e| Error::Internal(e.to_string()))?,
            window_start: None,
            window_end: None,
            estimated_restoration: None,
            published_at: input.publish.then_some(micros),
            ended_at: None,
            created_by: actor.user_id,
            created_at: micros,
            updated_at: micros,
        };
        row.id = store::notices::insert(&mut tx, &row).await?;
        let id = row.id;
        let mut events: Vec<(&str, Option<&str>, Option<String>)> = vec![("created", None, Some(row.kind.clone()))];
        if input.publish {
            events.push(("published", None, None));
        }
        // Where it came from: the storm's key.
        events.push(("storm", Some(input.kind.as_str()), Some(view.code.clone())));
        for (kind, field, new) in events {
            crate::admin::audit(&mut tx, actor, None, "notice", id, kind, field, None, new, micros).await?;
        }
        for &ticket in &view.tickets {
            if store::notices::link_ticket(&mut tx, id, ticket, micros).await? {
                store::sla::set_notice(&mut tx, ticket, id).await?;
                crate::tickets::record(&mut tx, actor, ticket, "notice", None, None, Some(id.to_string()), micros)
                    .await?;
            }
        }
        tx.commit().await?;
        self.forget_visible_notices();
        self.notice(actor, id).await
    }
}

/// The storms at `now` under `rule` among the recent tickets about a line.
async fn detect(tx: &mut Tx, rule: StormRule, now: Timestamp) -> Result<Vec<StormSuggestion>> {
    let window_start = now.checked_sub(rule.within).unwrap_or(Timestamp::MIN);
    let since = now.checked_sub(rule.within.max(CONTEXT)).unwrap_or(Timestamp::MIN);
    let recent = store::storm::line_tickets_since(tx, store::micros(since), MAX_TICKETS).await?;
    // A linked ticket inside the window belongs to its notice already; older ones only tell
    // elements apart.
    let recent: Vec<_> = recent.into_iter().filter(|t| !(t.linked && ts(t.created_at) >= window_start)).collect();
    if recent.is_empty() {
        return Ok(Vec::new());
    }
    let lines: Vec<i64> = recent.iter().map(|t| t.line_id).collect::<BTreeSet<_>>().into_iter().collect();
    let mut elements: HashMap<i64, Vec<String>> = HashMap::new();
    for (line, code) in store::inventory::element_codes_of(tx, &lines).await? {
        elements.entry(line).or_default().push(code);
    }
    let tickets: Vec<StormTicket> = recent
        .into_iter()
        .map(|t| StormTicket {
            ticket_id: t.ticket_id,
            opened: ts(t.created_at),
            municipality: Some(t.municipality),
            elements: elements.get(&t.line_id).cloned().unwrap_or_default(),
        })
        .collect();
    Ok(domain::storm::detect_storms(&tickets, rule, now))
}

/// The storms with the names of their municipalities and elements.
async fn views(tx: &mut Tx, storms: Vec<StormSuggestion>) -> Result<Vec<StormView>> {
    let mut places = Vec::new();
    let mut elements = Vec::new();
    for s in &storms {
        match &s.key {
            StormKey::Municipality(c) => places.push(c.clone()),
            StormKey::Element(c) => elements.push(c.clone()),
        }
    }
    let mut names: HashMap<(StormKind, String), String> = HashMap::new();
    if !places.is_empty() {
        for (code, name) in store::status::territory_names(tx, &places).await? {
            names.insert((StormKind::Municipality, code), name);
        }
    }
    if !elements.is_empty() {
        for (code, name) in store::storm::element_names(tx, &elements).await? {
            names.insert((StormKind::Element, code), name);
        }
    }
    Ok(storms
        .into_iter()
        .map(|s| {
            let scope = s.scope();
            let (kind, code) = kind_code(&s.key);
            StormView {
                kind,
                code: code.to_owned(),
                name: names.get(&(kind, code.to_owned())).cloned().unwrap_or_else(|| code.to_owned()),
                tickets: s.ticket_ids,
                first: s.first,
                last: s.last,
                scope,
            }
        })
        .collect())
}
