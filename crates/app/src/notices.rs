//! Notices: incidents and planned maintenance scoped to territory, network elements, services
//! and explicit lines; their lifecycle and public timeline; the affected set (computed from the
//! scope against the inventory when asked, so it is always live: a line added in the scope is
//! covered, a ceased one drops out); and which notices touch a customer's or a line's service.
//!
//! Which active notices touch a set of lines is answered from a compiled
//! [`domain::scope::ScopeIndex`] of every visible notice (kept for [`crate::cache::TTL`], and
//! forgotten at once when this process changes a notice), so a portal home reads only the
//! customer's lines.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use domain::notice::{Impact, NoticeKind, NoticeState, Window};
use domain::scope::{LineFacts, Scope, ScopeIndex, ScopeTerm};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use store::Tx;
use store::inventory::{ScopeIds, TermIds};
use store::notices::NoticeRow;

use crate::access::Actor;
use crate::error::FieldProblem;
use crate::inventory::TerritoryTree;
use crate::views::ts;
use crate::{App, Error, Result};

/// A notice's public title and text in one language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NoticeText {
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Public text.
    #[serde(default)]
    pub body: String,
}

/// A notice to publish (or keep as a draft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeInput {
    /// Incident or maintenance.
    pub kind: NoticeKind,
    /// How the service is hit.
    pub impact: Impact,
    /// Title and text per language (`it`, `en`, `ca`); at least one.
    pub texts: BTreeMap<String, NoticeText>,
    /// Notes for agents only.
    pub internal_notes: String,
    /// The lines it concerns.
    pub scope: Scope,
    /// The maintenance window (required for maintenance), or an incident's start and expected end.
    pub window: Option<(Timestamp, Timestamp)>,
    /// When service should be back (incidents).
    pub estimated_restoration: Option<Timestamp>,
    /// Publish now (customers see it); otherwise a draft.
    pub publish: bool,
}

/// A public update of a notice (and possibly its new state).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeUpdateInput {
    /// The new state, if it changes.
    pub state: Option<NoticeState>,
    /// The update's text per language; at least one.
    pub texts: BTreeMap<String, NoticeText>,
    /// A new estimated restoration time.
    pub estimated_restoration: Option<Timestamp>,
    /// Also post the text as a public reply on every open linked ticket (in each requestor's
    /// language), each as that ticket's own change.
    pub reply_to_tickets: bool,
    /// When the update ends the notice, resolve its open linked tickets too.
    pub resolve_tickets: bool,
}

/// What an update did to the notice's linked tickets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkedTicketsOutcome {
    /// Tickets that got the update as a public reply.
    pub replied: Vec<i64>,
    /// Tickets resolved with the notice.
    pub resolved: Vec<i64>,
    /// Tickets that could not be changed, with why.
    pub failed: Vec<(i64, String)>,
}

/// One entry of a notice's public timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// When.
    pub at: Timestamp,
    /// The notice's state from then.
    pub state: NoticeState,
    /// The text in the reader's language (or the first available).
    pub text: String,
}

/// A notice as people read it; the scope, counts, notes and linked tickets only for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticeView {
    /// Id.
    pub id: i64,
    /// Incident or maintenance.
    pub kind: NoticeKind,
    /// Where it stands.
    pub state: NoticeState,
    /// How the service is hit.
    pub impact: Impact,
    /// Title in the reader's language (or the first available).
    pub title: String,
    /// Public text in the reader's language.
    pub body: String,
    /// Window start.
    pub window_start: Option<Timestamp>,
    /// Window end.
    pub window_end: Option<Timestamp>,
    /// Expected restoration.
    pub estimated_restoration: Option<Timestamp>,
    /// Published then (none: a draft).
    pub published_at: Option<Timestamp>,
    /// Ended then (resolved, completed, cancelled).
    pub ended_at: Option<Timestamp>,
    /// The public timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Every language's title and text (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texts: Option<BTreeMap<String, NoticeText>>,
    /// The scope (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Internal notes (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_notes: Option<String>,
    /// Lines in service it reaches now (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected_lines: Option<i64>,
    /// Customers it reaches now (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected_customers: Option<i64>,
    /// Tickets linked to it (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_tickets: Option<Vec<i64>>,
}

/// How many lines and customers a scope reaches, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffectedPreview {
    /// Lines in service.
    pub lines: i64,
    /// Customers.
    pub customers: i64,
    /// Lines per region and service.
    pub by_region_and_service: Vec<AffectedGroup>,
}

/// Lines of one service in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffectedGroup {
    /// Region code.
    pub region: String,
    /// Service code.
    pub service: String,
    /// Lines.
    pub lines: i64,
}

/// A visible notice, compiled for matching.
#[derive(Debug)]
pub(crate) struct Visible {
    /// The notices visible when compiled, by id.
    pub rows: BTreeMap<i64, NoticeRow>,
    /// Their scopes, indexed.
    pub index: ScopeIndex,
    /// The elements their element terms cover.
    pub covering: Covering,
}

/// The network elements that the element terms of some scopes cover: each element under a named
/// one (itself included), with the codes of the named elements above it. A line's direct
/// elements, looked up here, give the codes its scope terms can match, without walking up from
/// each line to the root of the network (a customer of 3,000 lines: 40 ms on PostgreSQL).
#[derive(Debug, Default)]
pub(crate) struct Covering(HashMap<i64, Vec<String>>);

impl Covering {
    /// The covering of the element terms of `scopes`.
    async fn of<'a>(tx: &mut Tx, scopes: impl Iterator<Item = &'a Scope>) -> Result<Covering> {
        let mut codes: Vec<String> =
            scopes.flat_map(|s| s.terms.iter().filter_map(|t| t.network_element.clone())).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut map: HashMap<i64, Vec<String>> = HashMap::new();
        for (id, code) in store::inventory::subtrees_of(tx, &codes).await? {
            let named = map.entry(id).or_default();
            if !named.contains(&code) {
                named.push(code);
            }
        }
        Ok(Covering(map))
    }
}

/// How long after its end customers can still open a notice that touched their lines.
pub const ENDED_SHOWN: SignedDuration = SignedDuration::from_hours(7 * 24);

/// How long before a maintenance window customers see it, unless an admin set another lead
/// time ([`crate::instance::InstanceSettings::maintenance_lead_days`]).
pub const DEFAULT_LEAD: SignedDuration = SignedDuration::from_hours(7 * 24);

fn window_of(n: &NoticeRow) -> Option<Window> {
    match (n.window_start, n.window_end) {
        (Some(s), Some(e)) => Window::new(ts(s), ts(e)).ok(),
        _ => None,
    }
}

fn kind_of(n: &NoticeRow) -> Result<NoticeKind> {
    NoticeKind::parse(&n.kind).ok_or_else(|| Error::Internal(format!("notice {}: kind {}", n.id, n.kind)))
}

fn state_of(n: &NoticeRow) -> Result<NoticeState> {
    NoticeState::parse(&n.state).ok_or_else(|| Error::Internal(format!("notice {}: state {}", n.id, n.state)))
}

fn to_json(v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
}

fn texts_of(json: &str) -> BTreeMap<String, NoticeText> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The text in `language`, else English, else Italian, else the first.
fn pick<'a>(texts: &'a BTreeMap<String, NoticeText>, language: &str) -> Option<&'a NoticeText> {
    texts.get(language).or_else(|| texts.get("en")).or_else(|| texts.get("it")).or_else(|| texts.values().next())
}

/// Checks texts per language: known languages, a title for a notice, a text for an update.
pub(crate) fn check_texts(texts: &BTreeMap<String, NoticeText>, need_title: bool, p: &mut crate::error::Problems) {
    if texts.is_empty() {
        p.add("texts", "give the text in at least one language");
    }
    for (lang, t) in texts {
        let field = format!("texts.{lang}");
        if !crate::admin::LANGUAGES.contains(&lang.as_str()) {
            p.add(field.clone(), format!("unknown language; known: {}", crate::admin::LANGUAGES.join(", ")));
        }
        if need_title && (t.title.trim().is_empty() || t.title.chars().count() > 200) {
            p.add(format!("{field}.title"), "1 to 200 characters");
        }
        if !need_title && t.body.trim().is_empty() {
            p.add(format!("{field}.body"), "the update's text is required");
        }
        if t.body.chars().count() > 20_000 {
            p.add(format!("{field}.body"), "at most 20,000 characters");
        }
    }
}

/// A scope term's codes as ids, against the territory tree and the service catalogue
/// (`service_id` of an upper-case code); else the parts naming unknown codes, as (part, code).
pub(crate) async fn term_ids(
    tx: &mut Tx,
    tree: &TerritoryTree,
    service_id: impl Fn(&str) -> Option<i64>,
    t: &ScopeTerm,
) -> Result<std::result::Result<TermIds, Vec<(&'static str, String)>>> {
    let mut ids = TermIds::default();
    let mut unknown = Vec::new();
    if let Some(code) = &t.territory {
        match tree.get(code) {
            Some(r) if r.level == "country" => {}
            Some(r) => {
                ids.territory = Some(r.id);
                ids.municipalities = Some(tree.municipalities_under(r.id));
            }
            None => unknown.push(("territory", code.clone())),
        }
    }
    if let Some(code) = &t.network_element {
        match store::inventory::element(tx, code).await? {
            Some(e) => ids.elements = Some(store::inventory::element_subtree(tx, e.id).await?),
            None => unknown.push(("network_element", code.clone())),
        }
    }
    if let Some(code) = &t.service {
        match service_id(&code.to_ascii_uppercase()) {
            Some(id) => ids.service_id = Some(id),
            None => unknown.push(("service", code.clone())),
        }
    }
    Ok(if unknown.is_empty() { Ok(ids) } else { Err(unknown) })
}

impl App {
    /// Resolves a scope's codes to ids; every unknown code is listed (422), none is dropped.
    pub(crate) async fn resolve_scope(&self, tx: &mut Tx, scope: &Scope) -> Result<ScopeIds> {
        let tree = TerritoryTree::load(tx).await?;
        let services: std::collections::HashMap<String, i64> =
            store::inventory::services(tx).await?.into_iter().map(|s| (s.code, s.id)).collect();
        let mut problems = Vec::new();
        let mut out = ScopeIds::default();
        for (i, t) in scope.terms.iter().enumerate() {
            match term_ids(tx, &tree, |code| services.get(code).copied(), t).await? {
                Ok(ids) => out.terms.push(ids),
                Err(unknown) => problems.extend(unknown.into_iter().map(|(part, code)| FieldProblem {
                    field: format!("scope.terms[{i}].{part}"),
                    message: format!("unknown {} `{code}`", part.replace('_', " ")),
                })),
            }
        }
        if !scope.lines.is_empty() {
            let found: std::collections::HashMap<String, i64> =
                store::inventory::line_ids(tx, &scope.lines).await?.into_iter().collect();
            for (i, l) in scope.lines.iter().enumerate() {
                match found.get(l) {
                    Some(id) => out.lines.push(*id),
                    None => problems.push(FieldProblem {
                        field: format!("scope.lines[{i}]"),
                        message: format!("unknown line `{l}`"),
                    }),
                }
            }
        }
        if problems.is_empty() { Ok(out) } else { Err(Error::Unprocessable(problems)) }
    }

    /// Checks a scope's shape (422 when empty or malformed) and returns it normalised.
    fn checked_scope(scope: &Scope) -> Result<Scope> {
        scope
            .normalized()
            .map_err(|e| Error::Unprocessable(vec![FieldProblem { field: "scope".into(), message: e.to_string() }]))
    }

    /// How many lines and customers a scope would reach now, per region and service, before
    /// publishing. Staff.
    pub async fn preview_scope(&self, actor: &Actor, scope: &Scope) -> Result<AffectedPreview> {
        actor.require_staff()?;
        let scope = Self::checked_scope(scope)?;
        let mut tx = self.db.read().await?;
        let ids = self.resolve_scope(&mut tx, &scope).await?;
        let (lines, customers) = store::inventory::count_affected(&mut tx, &ids).await?;
        let groups = match self.tallied_breakdown(&mut tx, &ids).await? {
            Some(groups) => groups,
            None => store::inventory::affected_breakdown(&mut tx, &ids).await?,
        };
        Ok(AffectedPreview {
            lines,
            customers,
            by_region_and_service: groups
                .into_iter()
                .map(|(region, service, lines)| AffectedGroup { region, service, lines })
                .collect(),
        })
    }

    /// Creates a notice (published at once unless a draft). Staff.
    pub async fn create_notice(&self, actor: &Actor, input: NoticeInput) -> Result<NoticeView> {
        actor.require_staff()?;
        let (scope, window) = Self::checked_input(&input)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        self.resolve_scope(&mut tx, &scope).await?;
        let mut state = input.kind.initial_state();
        if let Some(next) = domain::notice::automatic_transition(input.kind, state, window, now) {
            state = next;
        }
        let micros = store::micros(now);
        let mut row = NoticeRow {
            id: 0,
            kind: input.kind.as_str().into(),
            state: state.as_str().into(),
            impact: input.impact.as_str().into(),
            texts: serde_json::to_string(&input.texts).map_err(|e| Error::Internal(e.to_string()))?,
            internal_notes: input.internal_notes,
            scope: serde_json::to_string(&scope).map_err(|e| Error::Internal(e.to_string()))?,
            window_start: window.map(|w| store::micros(w.start())),
            window_end: window.map(|w| store::micros(w.end())),
            estimated_restoration: input.estimated_restoration.map(store::micros),
            published_at: input.publish.then_some(micros),
            ended_at: state.is_final().then_some(micros),
            created_by: actor.user_id,
            created_at: micros,
            updated_at: micros,
        };
        row.id = store::notices::insert(&mut tx, &row).await?;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "notice",
            row.id,
            "created",
            None,
            None,
            Some(row.kind.clone()),
            micros,
        )
        .await?;
        if input.publish {
            crate::admin::audit(&mut tx, actor, None, "notice", row.id, "published", None, None, None, micros).await?;
            self.enqueue_alerts(&mut tx, row.id, crate::alerts::AlertEvent::Published, micros).await?;
        }
        tx.commit().await?;
        self.forget_visible_notices();
        self.notice(actor, row.id).await
    }

    /// Checks a notice's texts, notes, scope and window; returns the normalised scope and window.
    fn checked_input(input: &NoticeInput) -> Result<(Scope, Option<Window>)> {
        let mut p = crate::error::Problems::default();
        check_texts(&input.texts, true, &mut p);
        if input.internal_notes.chars().count() > 20_000 {
            p.add("internal_notes", "at most 20,000 characters");
        }
        p.finish()?;
        let scope = Self::checked_scope(&input.scope)?;
        let window = match input.window {
            Some((s, e)) => Some(Window::new(s, e).map_err(|e| {
                Error::Unprocessable(vec![FieldProblem { field: "window.end".into(), message: e.to_string() }])
            })?),
            None => None,
        };
        domain::notice::check_window(input.kind, window)
            .map_err(|e| Error::Unprocessable(vec![FieldProblem { field: "window".into(), message: e.to_string() }]))?;
        Ok((scope, window))
    }

    /// Changes a notice that has not ended: texts, impact, internal notes, scope, window and
    /// expected restoration (its kind stays; `publish` publishes a draft). Each changed field is
    /// a `set` event with the old and new value. Staff.
    pub async fn edit_notice(&self, actor: &Actor, id: i64, input: NoticeInput) -> Result<NoticeView> {
        actor.require_staff()?;
        let (scope, window) = Self::checked_input(&input)?;
        let mut tx = self.db.write().await?;
        let mut n = store::notices::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("notice {id}")))?;
        if kind_of(&n)? != input.kind {
            return Err(Error::invalid("kind", "a notice's kind does not change; end it and create another"));
        }
        if n.ended_at.is_some() {
            return Err(Error::invalid("state", "the notice has ended; it cannot change any more"));
        }
        self.resolve_scope(&mut tx, &scope).await?;
        let now = store::micros(self.now());
        let new = NoticeRow {
            impact: input.impact.as_str().into(),
            texts: to_json(&input.texts)?,
            internal_notes: input.internal_notes.clone(),
            scope: to_json(&scope)?,
            window_start: window.map(|w| store::micros(w.start())),
            window_end: window.map(|w| store::micros(w.end())),
            estimated_restoration: input.estimated_restoration.map(store::micros),
            ..n.clone()
        };
        let micros_text = |v: Option<i64>| v.map(|m| ts(m).to_string());
        let changes: [(&str, String, String); 6] = [
            ("impact", n.impact.clone(), new.impact.clone()),
            ("texts", n.texts.clone(), new.texts.clone()),
            ("internal_notes", n.internal_notes.clone(), new.internal_notes.clone()),
            ("scope", n.scope.clone(), new.scope.clone()),
            (
                "window",
                format!("{:?}", (micros_text(n.window_start), micros_text(n.window_end))),
                format!("{:?}", (micros_text(new.window_start), micros_text(new.window_end))),
            ),
            (
                "estimated_restoration",
                micros_text(n.estimated_restoration).unwrap_or_default(),
                micros_text(new.estimated_restoration).unwrap_or_default(),
            ),
        ];
        for (field, old, value) in changes.into_iter().filter(|(_, o, v)| o != v) {
            crate::admin::audit(&mut tx, actor, None, "notice", id, "set", Some(field), Some(old), Some(value), now)
                .await?;
        }
        n = new;
        if input.publish && n.published_at.is_none() {
            n.published_at = Some(now);
            crate::admin::audit(&mut tx, actor, None, "notice", id, "published", None, None, None, now).await?;
        }
        n.updated_at = now;
        store::notices::save(&mut tx, &n).await?;
        tx.commit().await?;
        self.forget_visible_notices();
        self.notice(actor, id).await
    }

    /// Publishes a draft. Staff.
    pub async fn publish_notice(&self, actor: &Actor, id: i64) -> Result<NoticeView> {
        actor.require_staff()?;
        let mut tx = self.db.write().await?;
        let mut n = store::notices::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("notice {id}")))?;
        if n.published_at.is_none() {
            let now = store::micros(self.now());
            n.published_at = Some(now);
            n.updated_at = now;
            store::notices::save(&mut tx, &n).await?;
            crate::admin::audit(&mut tx, actor, None, "notice", id, "published", None, None, None, now).await?;
            self.enqueue_alerts(&mut tx, id, crate::alerts::AlertEvent::Published, now).await?;
        }
        tx.commit().await?;
        self.forget_visible_notices();
        self.notice(actor, id).await
    }

    /// Adds a public update to a notice's timeline, moving it to a new state when given (an
    /// event each). Staff.
    pub async fn post_notice_update(&self, actor: &Actor, id: i64, input: NoticeUpdateInput) -> Result<NoticeView> {
        actor.require_staff()?;
        let mut p = crate::error::Problems::default();
        check_texts(&input.texts, false, &mut p);
        p.finish()?;
        let mut tx = self.db.write().await?;
        let mut n = store::notices::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("notice {id}")))?;
        let kind = kind_of(&n)?;
        let from = state_of(&n)?;
        let now = store::micros(self.now());
        let to = input.state.unwrap_or(from);
        domain::notice::transition(kind, from, to)
            .map_err(|e| Error::Invalid(vec![FieldProblem { field: "state".into(), message: e.to_string() }]))?;
        if to != from {
            n.state = to.as_str().into();
            n.ended_at = if to.is_final() { Some(now) } else { None };
            crate::admin::audit(
                &mut tx,
                actor,
                None,
                "notice",
                id,
                "set",
                Some("state"),
                Some(from.to_string()),
                Some(to.to_string()),
                now,
            )
            .await?;
        }
        if let Some(at) = input.estimated_restoration {
            n.estimated_restoration = Some(store::micros(at));
        }
        n.updated_at = now;
        store::notices::save(&mut tx, &n).await?;
        let texts = serde_json::to_string(&input.texts).map_err(|e| Error::Internal(e.to_string()))?;
        let update = store::notices::insert_update(&mut tx, id, &n.state, &texts, actor.user_id, now).await?;
        self.enqueue_alerts(&mut tx, id, crate::alerts::AlertEvent::Update(update), now).await?;
        crate::admin::audit(&mut tx, actor, None, "notice", id, "update", None, None, Some(update.to_string()), now)
            .await?;
        tx.commit().await?;
        self.forget_visible_notices();
        let resolve = input.resolve_tickets && to.is_final();
        if input.reply_to_tickets || resolve {
            let done = self.update_linked_tickets(actor, id, &input.texts, input.reply_to_tickets, resolve).await?;
            tracing::info!(
                notice = id,
                replied = done.replied.len(),
                resolved = done.resolved.len(),
                failed = done.failed.len(),
                "notice update carried to its linked tickets"
            );
        }
        self.notice(actor, id).await
    }

    /// Carries a notice's update to its open linked tickets: a public reply in each first
    /// requestor's language, and/or their resolution; each ticket is its own change, so one
    /// that fails (e.g. moved to a queue the agent may not reply in) does not stop the others.
    pub async fn update_linked_tickets(
        &self,
        actor: &Actor,
        id: i64,
        texts: &BTreeMap<String, NoticeText>,
        reply: bool,
        resolve: bool,
    ) -> Result<LinkedTicketsOutcome> {
        actor.require_staff()?;
        let mut open = Vec::new();
        {
            let mut tx = self.db.read().await?;
            for number in store::notices::linked_tickets(&mut tx, id).await? {
                let Some(t) = store::tickets::get(&mut tx, number).await? else { continue };
                if !matches!(t.status, domain::Status::New | domain::Status::Open | domain::Status::Stalled)
                    || t.merged_into.is_some()
                {
                    continue;
                }
                let first = store::tickets::contacts_of(&mut tx, &[number]).await?.into_iter().find(|c| !c.cc);
                let language = match first {
                    Some(c) => store::people::contact(&mut tx, c.contact_id).await?.map(|c| c.language),
                    None => None,
                };
                open.push((number, language.unwrap_or_else(|| "en".into())));
            }
        }
        let mut out = LinkedTicketsOutcome::default();
        for (number, language) in open {
            let status = resolve.then_some(domain::Status::Resolved);
            let done = if reply {
                let body = pick(texts, &language).map(|t| t.body.clone()).unwrap_or_default();
                let input = crate::tickets::MessageInput {
                    kind: domain::MessageKind::Reply,
                    body,
                    body_html: None,
                    attachments: Vec::new(),
                    status,
                    owner: None,
                    time: None,
                };
                self.add_message(actor, number, input).await.map(|_| ())
            } else {
                let patch = crate::tickets::TicketPatch { status, ..Default::default() };
                self.update_ticket(actor, number, patch).await.map(|_| ())
            };
            match done {
                Ok(()) => {
                    if reply {
                        out.replied.push(number);
                    }
                    if resolve {
                        out.resolved.push(number);
                    }
                }
                Err(e) => out.failed.push((number, e.to_string())),
            }
        }
        Ok(out)
    }

    /// A notice: staff see any; a customer's contact or a partner only a published notice
    /// touching one of their lines (others read as not found).
    pub async fn notice(&self, actor: &Actor, id: i64) -> Result<NoticeView> {
        let mut tx = self.db.read().await?;
        let n = store::notices::get(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("notice {id}")))?;
        if !actor.is_staff() && !self.touches_reader(&mut tx, actor, &n).await? {
            return Err(Error::NotFound(format!("notice {id}")));
        }
        let language = reader_language(&mut tx, actor).await?;
        self.notice_view(&mut tx, actor, &language, n, true).await
    }

    /// Whether a customer's contact or a partner may read a notice: published, visible now or
    /// ended in the last [`ENDED_SHOWN`], and touching one of the reader's lines.
    async fn touches_reader(&self, tx: &mut Tx, actor: &Actor, n: &NoticeRow) -> Result<bool> {
        let (kind, state) = (kind_of(n)?, state_of(n)?);
        let now = self.now();
        let shown = match n.ended_at {
            Some(ended) => now.duration_since(ts(ended)) <= ENDED_SHOWN,
            None => {
                let lead = self.instance_settings().await?.maintenance_lead();
                domain::notice::is_visible(kind, state, window_of(n), now, lead)
            }
        };
        if n.published_at.is_none() || !shown {
            return Ok(false);
        }
        let Ok(scope) = serde_json::from_str::<Scope>(&n.scope) else { return Ok(false) };
        let index = ScopeIndex::new([(n.id, &scope)]);
        let covering = Covering::of(tx, std::iter::once(&scope)).await?;
        let customers = self.portal_customers(tx, actor).await?;
        let lines = store::inventory::lines_of(tx, &customers).await?;
        Ok(Self::match_lines(tx, &index, &covering, &lines).await?.contains_key(&n.id))
    }

    /// The view of a notice for `actor`, reading `language`; `counts` adds the live affected
    /// counts for staff.
    async fn notice_view(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        language: &str,
        n: NoticeRow,
        counts: bool,
    ) -> Result<NoticeView> {
        let updates = store::notices::updates_of(tx, n.id).await?;
        self.notice_view_with(tx, actor, language, n, counts, &updates).await
    }

    /// The views of several notices for `actor`, their timelines read at once (no counts).
    async fn notice_views(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        language: &str,
        notices: Vec<NoticeRow>,
    ) -> Result<Vec<NoticeView>> {
        let ids: Vec<i64> = notices.iter().map(|n| n.id).collect();
        let mut updates: BTreeMap<i64, Vec<store::notices::UpdateRow>> = BTreeMap::new();
        for u in store::status::updates_of_many(tx, &ids).await? {
            updates.entry(u.notice_id).or_default().push(u);
        }
        let mut out = Vec::with_capacity(notices.len());
        for n in notices {
            let of = updates.remove(&n.id).unwrap_or_default();
            out.push(self.notice_view_with(tx, actor, language, n, false, &of).await?);
        }
        Ok(out)
    }

    /// [`App::notice_view`] with the notice's timeline already read.
    async fn notice_view_with(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        language: &str,
        n: NoticeRow,
        counts: bool,
        updates: &[store::notices::UpdateRow],
    ) -> Result<NoticeView> {
        let texts = texts_of(&n.texts);
        let shown = pick(&texts, language).cloned().unwrap_or_default();
        let timeline = updates
            .iter()
            .map(|u| TimelineEntry {
                at: ts(u.at),
                state: NoticeState::parse(&u.state).unwrap_or(NoticeState::Investigating),
                text: pick(&texts_of(&u.texts), language).map(|t| t.body.clone()).unwrap_or_default(),
            })
            .collect();
        let staff = actor.is_staff();
        let (mut affected_lines, mut affected_customers, mut linked) = (None, None, None);
        let mut scope = None;
        if staff {
            let s: Scope = serde_json::from_str(&n.scope).map_err(|e| Error::Internal(e.to_string()))?;
            if counts {
                match self.resolve_scope(tx, &s).await {
                    Ok(ids) => {
                        let (l, c) = store::inventory::count_affected(tx, &ids).await?;
                        affected_lines = Some(l);
                        affected_customers = Some(c);
                    }
                    // A code removed from the inventory since: the notice reaches what is left.
                    Err(Error::Unprocessable(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            linked = Some(store::notices::linked_tickets(tx, n.id).await?);
            scope = Some(s);
        }
        Ok(NoticeView {
            id: n.id,
            kind: kind_of(&n)?,
            state: state_of(&n)?,
            impact: Impact::parse(&n.impact).unwrap_or(Impact::Outage),
            title: shown.title,
            body: shown.body,
            window_start: n.window_start.map(ts),
            window_end: n.window_end.map(ts),
            estimated_restoration: n.estimated_restoration.map(ts),
            published_at: n.published_at.map(ts),
            ended_at: n.ended_at.map(ts),
            timeline,
            texts: staff.then_some(texts),
            scope,
            internal_notes: staff.then_some(n.internal_notes),
            affected_lines,
            affected_customers,
            linked_tickets: linked,
        })
    }

    /// Notices not yet ended (drafts included), newest first, without counts. Staff.
    pub async fn open_notices(&self, actor: &Actor) -> Result<Vec<NoticeView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for n in store::notices::open(&mut tx).await? {
            out.push(self.notice_view(&mut tx, actor, "en", n, false).await?);
        }
        Ok(out)
    }

    /// Published notices that have ended, most recently ended first, without counts. Staff.
    pub async fn ended_notices(&self, actor: &Actor, limit: i64) -> Result<Vec<NoticeView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for n in store::notices::ended_since(&mut tx, 0, limit.clamp(1, 500)).await? {
            out.push(self.notice_view(&mut tx, actor, "en", n, false).await?);
        }
        Ok(out)
    }

    /// Forgets the compiled visible notices (after a change in this process).
    pub(crate) fn forget_visible_notices(&self) {
        self.notice_cache.visible.clear();
        self.notice_cache.status.forget();
    }

    /// The published notices visible now (active incidents, maintenance from its lead time until
    /// it ends), compiled; from the short cache when fresh.
    pub(crate) async fn visible_notices(&self, tx: &mut Tx) -> Result<Arc<Visible>> {
        if let Some(v) = self.notice_cache.visible.get(&()) {
            return Ok(v);
        }
        let now = self.now();
        let mut rows = BTreeMap::new();
        let mut scopes = Vec::new();
        let lead = self.instance_settings().await?.maintenance_lead();
        for n in store::notices::open(tx).await? {
            if n.published_at.is_none() {
                continue;
            }
            let (Ok(kind), Ok(state)) = (kind_of(&n), state_of(&n)) else { continue };
            if !domain::notice::is_visible(kind, state, window_of(&n), now, lead) {
                continue;
            }
            let Ok(scope) = serde_json::from_str::<Scope>(&n.scope) else { continue };
            scopes.push((n.id, scope));
            rows.insert(n.id, n);
        }
        let index = ScopeIndex::new(scopes.iter().map(|(id, s)| (*id, s)));
        let covering = Covering::of(tx, scopes.iter().map(|(_, s)| s)).await?;
        let v = Arc::new(Visible { rows, index, covering });
        self.notice_cache.visible.put((), v.clone());
        Ok(v)
    }

    /// The visible notices touching the lines of these customers, with the lines each touches.
    pub(crate) async fn notices_touching(
        &self,
        tx: &mut Tx,
        lines: &[store::inventory::LineRow],
    ) -> Result<Vec<(NoticeRow, Vec<String>)>> {
        let visible = self.visible_notices(tx).await?;
        if visible.rows.is_empty() || lines.is_empty() {
            return Ok(Vec::new());
        }
        let hits = Self::match_lines(tx, &visible.index, &visible.covering, lines).await?;
        Ok(hits.into_iter().rev().filter_map(|(id, lines)| visible.rows.get(&id).map(|n| (n.clone(), lines))).collect())
    }

    /// The notices of `index` touching these lines (ceased ones left out), each with the
    /// identifiers of the lines it touches.
    async fn match_lines(
        tx: &mut Tx,
        index: &ScopeIndex,
        covering: &Covering,
        lines: &[store::inventory::LineRow],
    ) -> Result<BTreeMap<i64, Vec<String>>> {
        let live: Vec<&store::inventory::LineRow> = lines.iter().filter(|l| l.status != "ceased").collect();
        // The codes of the named elements each line lies under (none named: nothing to read).
        let mut elements: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        if !covering.0.is_empty() {
            let ids: Vec<i64> = live.iter().map(|l| l.id).collect();
            for (line, element) in store::inventory::direct_elements_of(tx, &ids).await? {
                if let Some(codes) = covering.0.get(&element) {
                    elements.entry(line).or_default().extend(codes.iter().cloned());
                }
            }
            for codes in elements.values_mut() {
                codes.sort_unstable();
                codes.dedup();
            }
        }
        let mut hits: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for l in live {
            let mut territories: Vec<&str> = vec![l.municipality_code.as_str()];
            territories.extend(l.ancestors.iter().map(String::as_str));
            let els: Vec<&str> =
                elements.get(&l.id).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
            let facts =
                LineFacts { identifier: &l.identifier, service: &l.service, territories: &territories, elements: &els };
            for id in index.matching(&facts) {
                hits.entry(id).or_default().push(l.identifier.clone());
            }
        }
        Ok(hits)
    }

    /// The published notices in effect on a line now (an incident not resolved, maintenance in
    /// progress): a ticket opened on it belongs to them.
    pub(crate) async fn notices_in_effect(&self, tx: &mut Tx, line: &store::inventory::LineRow) -> Result<Vec<i64>> {
        let touching = self.notices_touching(tx, std::slice::from_ref(line)).await?;
        Ok(touching
            .into_iter()
            .filter(|(n, _)| {
                matches!(
                    (kind_of(n), state_of(n)),
                    (Ok(NoticeKind::Incident), Ok(_)) | (Ok(NoticeKind::Maintenance), Ok(NoticeState::InProgress))
                )
            })
            .map(|(n, _)| n.id)
            .collect())
    }

    async fn notices_for_customers(&self, tx: &mut Tx, customers: &[i64]) -> Result<Vec<NoticeRow>> {
        let lines = store::inventory::lines_of(tx, customers).await?;
        Ok(self.notices_touching(tx, &lines).await?.into_iter().map(|(n, _)| n).collect())
    }

    /// Active and upcoming notices touching a customer's lines (staff, its contacts, its partner).
    pub async fn customer_notices(&self, actor: &Actor, code: &str) -> Result<Vec<NoticeView>> {
        let mut tx = self.db.read().await?;
        let c = store::people::customer_by_code(&mut tx, code)
            .await?
            .filter(|c| crate::access::may_see_customer(actor, c.id, c.partner_id))
            .ok_or_else(|| Error::NotFound(format!("customer {code}")))?;
        let language = reader_language(&mut tx, actor).await?;
        let notices = self.notices_for_customers(&mut tx, &[c.id]).await?;
        self.notice_views(&mut tx, actor, &language, notices).await
    }

    /// Active and upcoming notices touching one line (for whoever may see the line).
    pub async fn line_notices(&self, actor: &Actor, identifier: &str) -> Result<Vec<NoticeView>> {
        let mut tx = self.db.read().await?;
        let l = self.visible_line(&mut tx, actor, identifier).await?;
        let language = reader_language(&mut tx, actor).await?;
        let notices = self.notices_touching(&mut tx, &[l]).await?.into_iter().map(|(n, _)| n).collect();
        self.notice_views(&mut tx, actor, &language, notices).await
    }

    /// The portal's notices: those touching the lines of the actor's customer (a partner: of
    /// its customers), with the identifiers of the lines each touches.
    pub async fn my_notices(&self, actor: &Actor) -> Result<Vec<(NoticeView, Vec<String>)>> {
        let mut tx = self.db.read().await?;
        let customers = self.portal_customers(&mut tx, actor).await?;
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let lines = store::inventory::lines_of(&mut tx, &customers).await?;
        let (notices, touched): (Vec<NoticeRow>, Vec<Vec<String>>) =
            self.notices_touching(&mut tx, &lines).await?.into_iter().unzip();
        if notices.is_empty() {
            return Ok(Vec::new());
        }
        let language = reader_language(&mut tx, actor).await?;
        let views = self.notice_views(&mut tx, actor, &language, notices).await?;
        Ok(views.into_iter().zip(touched).collect())
    }

    /// Moves maintenance notices whose window edge has passed (scheduled → in progress →
    /// completed), each an event; returns how many moved. Safe on several nodes.
    pub async fn notice_sweep(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let system = Actor::system(domain::Channel::System);
        let mut moved = 0;
        for n in store::notices::open(&mut tx).await? {
            let (kind, state) = (kind_of(&n)?, state_of(&n)?);
            let Some(to) = domain::notice::automatic_transition(kind, state, window_of(&n), now) else { continue };
            let Some(mut n) = store::notices::get_for_update(&mut tx, n.id).await? else { continue };
            if n.state != state.as_str() {
                continue;
            }
            let micros = store::micros(now);
            n.state = to.as_str().into();
            n.ended_at = to.is_final().then_some(micros);
            n.updated_at = micros;
            store::notices::save(&mut tx, &n).await?;
            self.enqueue_alerts_if_ended(&mut tx, &n, micros).await?;
            let (old, new) = (Some(state.to_string()), Some(to.to_string()));
            crate::admin::audit(&mut tx, &system, None, "notice", n.id, "set", Some("state"), old, new, micros).await?;
            moved += 1;
        }
        tx.commit().await?;
        if moved > 0 {
            self.forget_visible_notices();
        }
        Ok(moved)
    }

    /// Runs [`App::notice_sweep`] every `every` until `shutdown` turns true.
    pub async fn run_notice_sweeper(
        &self,
        every: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        while !*shutdown.borrow() {
            match self.notice_sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(notices = n, "maintenance windows moved notices"),
                Err(e) => tracing::warn!(error = %e, "notice sweep failed; trying again later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Links a ticket to a notice (staff), recorded on both; returns whether it is new.
    pub async fn link_ticket_to_notice(&self, actor: &Actor, notice_id: i64, number: i64) -> Result<bool> {
        actor.require_staff()?;
        let mut tx = self.db.write().await?;
        store::notices::get(&mut tx, notice_id).await?.ok_or_else(|| Error::NotFound(format!("notice {notice_id}")))?;
        store::tickets::get(&mut tx, number).await?.ok_or_else(|| Error::NotFound(format!("ticket {number}")))?;
        let now = store::micros(self.now());
        let new = store::notices::link_ticket(&mut tx, notice_id, number, now).await?;
        if new {
            store::sla::set_notice(&mut tx, number, notice_id).await?;
            crate::tickets::record(&mut tx, actor, number, "notice", None, None, Some(notice_id.to_string()), now)
                .await?;
        }
        tx.commit().await?;
        Ok(new)
    }
}

/// The language an actor reads notices in: a contact's own, else English.
async fn reader_language(tx: &mut Tx, actor: &Actor) -> Result<String> {
    Ok(match actor.contact_id() {
        Some(id) => store::people::contact(tx, id).await?.map_or_else(|| "en".into(), |c| c.language),
        None => "en".into(),
    })
}

impl App {
    /// Forgets every short-lived copy this process keeps (after changes made elsewhere, such as
    /// another node or a direct import; tests use it to skip the wait).
    pub fn forget_caches(&self) {
        self.forget_notice_cache();
    }
}
