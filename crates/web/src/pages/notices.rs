//! Notices for agents: the list, the editor (scope picker, affected preview before publishing),
//! a notice's page (timeline, live counts, linked tickets, updates carried to those tickets) and
//! a line's page; and the banner every page shows a notice with.
//!
//! The editor works without JavaScript: a scope is a table of terms (territory, network
//! element, service) plus explicit lines, and "Preview" shows how many lines and customers it
//! reaches per region and service, or which codes are unknown. With JavaScript, the territory
//! and element fields suggest codes as the agent types (`/notices/lookup`).

use std::collections::BTreeMap;

use app::Error;
use app::inventory::LineView;
use app::notices::{AffectedPreview, NoticeInput, NoticeText, NoticeUpdateInput, NoticeView};
use app::views::TicketSummary;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::notice::{Impact, NoticeKind, NoticeState};
use domain::scope::{Scope, ScopeTerm};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::form::Submitted;
use super::people::staff;
use super::portal::Choice;
use super::{Me, PageError, Tr, Viewer, check_csrf, render};
use crate::AppState;

/// The languages a notice's text is written in, in the editor's order.
const LANGUAGES: [&str; 3] = ["it", "en", "ca"];
/// The most lines a banner names (the rest are counted).
const BANNER_LINES: usize = 5;

/// The routes of the notices pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/notices", get(list))
        .route("/notices/new", get(new_form).post(create))
        .route("/notices/lookup", get(lookup))
        .route("/notices/{id}", get(page))
        .route("/notices/{id}/edit", get(edit_form).post(edit))
        .route("/notices/{id}/update", post(update))
        .route("/notices/{id}/publish", post(publish))
        .route("/notices/{id}/link", post(link))
        .route("/lines/{identifier}", get(line_page))
}

/// One entry of a banner's timeline, ready to show.
pub(crate) struct Step {
    pub(crate) at: String,
    pub(crate) state: String,
    pub(crate) text: String,
}

/// A notice as a banner shows it, in the reader's language and time zone.
pub(crate) struct Banner {
    pub(crate) id: i64,
    pub(crate) kind: &'static str,
    pub(crate) kind_label: String,
    pub(crate) state_label: String,
    pub(crate) impact: &'static str,
    pub(crate) impact_label: String,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) window: Option<String>,
    pub(crate) eta: Option<String>,
    /// Newest first.
    pub(crate) timeline: Vec<Step>,
    /// The reader's lines it touches (the first few).
    pub(crate) lines: Vec<String>,
    /// How many more lines it touches.
    pub(crate) more: usize,
    pub(crate) href: String,
    pub(crate) line_base: &'static str,
}

/// The banner of a notice; `lines` are the reader's lines it touches.
pub(crate) fn banner(tr: &Tr, n: &NoticeView, lines: &[String], base: &str, line_base: &'static str) -> Banner {
    let window = match (n.window_start, n.window_end) {
        (Some(s), Some(e)) => Some(format!("{} {} – {}", tr.t("notice-window-label"), tr.when(&s), tr.when(&e))),
        _ => None,
    };
    Banner {
        id: n.id,
        kind: n.kind.as_str(),
        kind_label: tr.named("notice-kind", n.kind.as_str()),
        state_label: tr.named("notice-state", n.state.as_str()),
        impact: n.impact.as_str(),
        impact_label: tr.named("notice-impact", n.impact.as_str()),
        title: n.title.clone(),
        body: n.body.clone(),
        window,
        eta: n.estimated_restoration.filter(|_| n.ended_at.is_none()).map(|e| tr.t1("notice-eta", "at", tr.when(&e))),
        timeline: n
            .timeline
            .iter()
            .rev()
            .map(|e| Step {
                at: tr.when(&e.at),
                state: tr.named("notice-state", e.state.as_str()),
                text: e.text.clone(),
            })
            .collect(),
        lines: lines.iter().take(BANNER_LINES).cloned().collect(),
        more: lines.len().saturating_sub(BANNER_LINES),
        href: format!("{base}/{}", n.id),
        line_base,
    }
}

/// A notice in the agents' list.
struct Row {
    id: i64,
    kind: String,
    state: String,
    title: String,
    draft: bool,
    when: String,
}

fn row(tr: &Tr, n: &NoticeView) -> Row {
    let at = n.ended_at.or(n.window_start).or(n.published_at);
    Row {
        id: n.id,
        kind: tr.named("notice-kind", n.kind.as_str()),
        state: tr.named("notice-state", n.state.as_str()),
        title: n.title.clone(),
        draft: n.published_at.is_none(),
        when: at.map(|a| tr.when(&a)).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "notices.html")]
struct ListPage {
    tr: Tr,
    me: Option<Me>,
    open: Vec<Row>,
    ended: Vec<Row>,
}

async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let err = viewer.err();
    let tr = &viewer.tr;
    let open = state.app.open_notices(&s.actor).await.map_err(&err)?.iter().map(|n| row(tr, n)).collect();
    let ended = state.app.ended_notices(&s.actor, 30).await.map_err(&err)?.iter().map(|n| row(tr, n)).collect();
    Ok(render(&ListPage { me: viewer.me(), tr: tr.clone(), open, ended }))
}

/// One scope term row of the editor.
#[derive(Default, Clone)]
struct TermRow {
    territory: String,
    element: String,
    service: String,
}

/// One language's title and text in the editor.
struct TextRow {
    lang: &'static str,
    title: String,
    body: String,
}

/// The editor's fields as submitted (or empty).
struct Draft {
    kind: String,
    impact: String,
    texts: Vec<TextRow>,
    internal_notes: String,
    terms: Vec<TermRow>,
    lines: String,
    window_start: String,
    window_end: String,
    eta: String,
}

impl Draft {
    fn empty() -> Draft {
        Draft {
            kind: "incident".into(),
            impact: "outage".into(),
            texts: LANGUAGES.iter().map(|l| TextRow { lang: l, title: String::new(), body: String::new() }).collect(),
            internal_notes: String::new(),
            terms: vec![TermRow::default(); 3],
            lines: String::new(),
            window_start: String::new(),
            window_end: String::new(),
            eta: String::new(),
        }
    }

    /// The editor's fields for an existing notice (staff view: texts, scope, notes).
    fn of_notice(tr: &Tr, n: &NoticeView) -> Draft {
        let texts = n.texts.clone().unwrap_or_default();
        let scope = n.scope.clone().unwrap_or_default();
        let mut terms: Vec<TermRow> = scope
            .terms
            .iter()
            .map(|t| TermRow {
                territory: t.territory.clone().unwrap_or_default(),
                element: t.network_element.clone().unwrap_or_default(),
                service: t.service.clone().unwrap_or_default(),
            })
            .collect();
        let rows = (terms.len() + 1).clamp(3, MAX_TERMS);
        terms.resize(rows, TermRow::default());
        Draft {
            kind: n.kind.as_str().into(),
            impact: n.impact.as_str().into(),
            texts: LANGUAGES
                .iter()
                .map(|l| {
                    let t = texts.get(*l).cloned().unwrap_or_default();
                    TextRow { lang: l, title: t.title, body: t.body }
                })
                .collect(),
            internal_notes: n.internal_notes.clone().unwrap_or_default(),
            terms,
            lines: scope.lines.join("\n"),
            window_start: local_value(tr, n.window_start),
            window_end: local_value(tr, n.window_end),
            eta: local_value(tr, n.estimated_restoration),
        }
    }

    fn of(form: &Submitted) -> Draft {
        let mut terms = Vec::new();
        for i in 0..MAX_TERMS {
            let t = TermRow {
                territory: form.text(&format!("term{i}_territory")),
                element: form.text(&format!("term{i}_element")),
                service: form.text(&format!("term{i}_service")),
            };
            if !(t.territory.is_empty() && t.element.is_empty() && t.service.is_empty()) {
                terms.push(t);
            }
        }
        // Room for one more term (and at least three).
        let rows = (terms.len() + 1).clamp(3, MAX_TERMS);
        terms.resize(rows, TermRow::default());
        Draft {
            kind: form.text("kind"),
            impact: form.text("impact"),
            texts: LANGUAGES
                .iter()
                .map(|l| TextRow {
                    lang: l,
                    title: form.text(&format!("title_{l}")),
                    body: form.text(&format!("body_{l}")),
                })
                .collect(),
            internal_notes: form.text("internal_notes"),
            terms,
            lines: form.get("lines").unwrap_or("").to_owned(),
            window_start: form.text("window_start"),
            window_end: form.text("window_end"),
            eta: form.text("eta"),
        }
    }

    fn scope(&self) -> Scope {
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Scope {
            terms: self
                .terms
                .iter()
                .filter(|t| !(t.territory.is_empty() && t.element.is_empty() && t.service.is_empty()))
                .map(|t| ScopeTerm {
                    territory: opt(&t.territory),
                    network_element: opt(&t.element),
                    service: opt(&t.service),
                })
                .collect(),
            lines: self
                .lines
                .split(['\n', ',', ';'])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
        }
    }

    fn texts(&self) -> BTreeMap<String, NoticeText> {
        self.texts
            .iter()
            .filter(|t| !(t.title.is_empty() && t.body.is_empty()))
            .map(|t| (t.lang.to_owned(), NoticeText { title: t.title.clone(), body: t.body.clone() }))
            .collect()
    }
}

/// The most scope terms the editor takes.
const MAX_TERMS: usize = 20;

/// A local date and time from a `datetime-local` field, in the reader's time zone.
fn local_time(tr: &Tr, text: &str, field: &str, problems: &mut Vec<String>) -> Option<Timestamp> {
    if text.is_empty() {
        return None;
    }
    match text.parse::<jiff::civil::DateTime>().and_then(|d| d.to_zoned(tr.tz.clone())) {
        Ok(z) => Some(z.timestamp()),
        Err(_) => {
            problems.push(format!("{}: {}", tr.t(field), tr.t("notice-error-time")));
            None
        }
    }
}

/// A timestamp as a `datetime-local` value in the reader's time zone.
fn local_value(tr: &Tr, at: Option<Timestamp>) -> String {
    at.map(|a| a.to_zoned(tr.tz.clone()).strftime("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "notice_edit.html")]
struct EditPage {
    tr: Tr,
    me: Option<Me>,
    /// The notice being changed (none: a new one).
    editing: Option<i64>,
    /// It is a draft (or new): it can be published from the form.
    draft: bool,
    d: Draft,
    kinds: Vec<Choice>,
    impacts: Vec<Choice>,
    services: Vec<(String, String)>,
    preview: Option<AffectedPreview>,
    problems: Vec<String>,
}

fn choices(tr: &Tr, prefix: &str, values: &[&str], selected: &str) -> Vec<Choice> {
    values
        .iter()
        .map(|v| Choice { value: (*v).to_owned(), label: tr.named(prefix, v), selected: *v == selected })
        .collect()
}

async fn edit_page(
    state: &AppState,
    viewer: &Viewer,
    editing: Option<(i64, bool)>,
    d: Draft,
    preview: Option<AffectedPreview>,
    problems: Vec<String>,
) -> Result<EditPage, PageError> {
    let s = staff(viewer)?;
    let tr = &viewer.tr;
    let services =
        state.app.services(&s.actor).await.map_err(viewer.err())?.into_iter().map(|s| (s.code, s.name)).collect();
    Ok(EditPage {
        editing: editing.map(|(id, _)| id),
        draft: editing.is_none_or(|(_, draft)| draft),
        kinds: choices(tr, "notice-kind", &["incident", "maintenance"], &d.kind),
        impacts: choices(tr, "notice-impact", &["outage", "degraded", "partial"], &d.impact),
        d,
        services,
        preview,
        problems,
        me: viewer.me(),
        tr: tr.clone(),
    })
}

async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    Ok(render(&edit_page(&state, &viewer, None, Draft::empty(), None, Vec::new()).await?))
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let id = super::people::path_id(&viewer, &id)?;
    let n = state.app.notice(&s.actor, id).await.map_err(viewer.err())?;
    if n.ended_at.is_some() {
        return Ok(Redirect::to(&format!("/notices/{id}")).into_response());
    }
    let d = Draft::of_notice(&viewer.tr, &n);
    Ok(render(&edit_page(&state, &viewer, Some((id, n.published_at.is_none())), d, None, Vec::new()).await?))
}

async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let id = super::people::path_id(&viewer, &id)?;
    let n = state.app.notice(&s.actor, id).await.map_err(viewer.err())?;
    submit(&state, &viewer, form, Some((id, n.published_at.is_none()))).await
}

/// The app's problems as lines to show (field: message).
fn app_problems(e: &Error) -> Option<Vec<String>> {
    match e {
        Error::Invalid(list) | Error::Unprocessable(list) => {
            Some(list.iter().map(|p| format!("{}: {}", p.field, p.message)).collect())
        }
        _ => None,
    }
}

async fn create(State(state): State<AppState>, viewer: Viewer, form: Submitted) -> Result<Response, PageError> {
    submit(&state, &viewer, form, None).await
}

/// A submitted editor: preview, save (a new draft, or the changes) or publish; `editing` is the
/// notice changed and whether it is still a draft.
async fn submit(
    state: &AppState,
    viewer: &Viewer,
    form: Submitted,
    editing: Option<(i64, bool)>,
) -> Result<Response, PageError> {
    let s = staff(viewer)?;
    check_csrf(viewer, form.get("csrf").unwrap_or(""))?;
    let tr = &viewer.tr;
    let d = Draft::of(&form);
    let mut problems = Vec::new();
    let kind = NoticeKind::parse(&d.kind);
    let impact = Impact::parse(&d.impact);
    if kind.is_none() {
        problems.push(tr.t("notice-error-kind"));
    }
    if impact.is_none() {
        problems.push(tr.t("notice-error-impact"));
    }
    let start = local_time(tr, &d.window_start, "notice-field-window-start", &mut problems);
    let end = local_time(tr, &d.window_end, "notice-field-window-end", &mut problems);
    let eta = local_time(tr, &d.eta, "notice-field-eta", &mut problems);
    let scope = d.scope();
    let action = form.text("action");
    if action == "preview" {
        if !problems.is_empty() {
            let page = edit_page(state, viewer, editing, d, None, problems).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
        return match state.app.preview_scope(&s.actor, &scope).await {
            Ok(p) => Ok(render(&edit_page(state, viewer, editing, d, Some(p), problems).await?)),
            Err(e) => match app_problems(&e) {
                Some(list) => {
                    let page = edit_page(state, viewer, editing, d, None, list).await?;
                    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
                }
                None => Err(viewer.err()(e)),
            },
        };
    }
    let window = match (start, end) {
        (Some(s), Some(e)) => Some((s, e)),
        (None, None) => None,
        _ => {
            problems.push(tr.t("notice-error-window"));
            None
        }
    };
    let (Some(kind), Some(impact), true) = (kind, impact, problems.is_empty()) else {
        let page = edit_page(state, viewer, editing, d, None, problems).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    };
    let input = NoticeInput {
        kind,
        impact,
        texts: d.texts(),
        internal_notes: d.internal_notes.clone(),
        scope,
        window,
        estimated_restoration: eta,
        publish: action == "publish",
    };
    let done = match editing {
        Some((id, _)) => state.app.edit_notice(&s.actor, id, input).await,
        None => state.app.create_notice(&s.actor, input).await,
    };
    match done {
        Ok(n) => Ok(Redirect::to(&format!("/notices/{}", n.id)).into_response()),
        Err(e) => match app_problems(&e) {
            Some(list) => {
                let page = edit_page(state, viewer, editing, d, None, list).await?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
            }
            None => Err(viewer.err()(e)),
        },
    }
}

#[derive(Deserialize)]
struct LookupQuery {
    #[serde(default)]
    q: String,
}

/// A code the scope picker suggests.
#[derive(Serialize)]
struct Suggestion {
    /// `territory` or `element`.
    what: &'static str,
    code: String,
    label: String,
}

/// Territories and network elements whose code or name matches, for the scope picker (JSON).
async fn lookup(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<LookupQuery>,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let err = viewer.err();
    let text = q.q.trim();
    let mut out = Vec::new();
    if text.chars().count() >= 2 {
        for t in state.app.search_territories(&s.actor, text).await.map_err(&err)? {
            let level = viewer.tr.named("territory-level", &t.level);
            out.push(Suggestion { what: "territory", label: format!("{} ({level})", t.name), code: t.code });
        }
        for (code, name, kind) in state.app.search_elements(&s.actor, text).await.map_err(&err)? {
            out.push(Suggestion { what: "element", label: format!("{name} ({kind})"), code });
        }
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(out)).into_response())
}

/// A linked ticket as the notice page lists it.
struct Linked {
    number: i64,
    title: String,
    status: String,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    tr: Tr,
    me: Option<Me>,
    n: NoticeView,
    b: Banner,
    scope: Vec<String>,
    preview: Option<AffectedPreview>,
    linked: Vec<Linked>,
    next_states: Vec<Choice>,
    eta: String,
    texts: Vec<TextRow>,
    done: Option<String>,
}

#[derive(Deserialize)]
struct PageQuery {
    done: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let id = super::people::path_id(&viewer, &id)?;
    if viewer.require()?.portal {
        return Ok(Redirect::to(&format!("/portal/notices/{id}")).into_response());
    }
    let s = staff(&viewer)?;
    let err = viewer.err();
    let tr = &viewer.tr;
    let n = state.app.notice(&s.actor, id).await.map_err(&err)?;
    let b = banner(tr, &n, &[], "/notices", "/lines");
    let scope = n.scope.as_ref().map(|sc| describe_scope(tr, sc)).unwrap_or_default();
    let preview = match &n.scope {
        Some(sc) if n.ended_at.is_none() => state.app.preview_scope(&s.actor, sc).await.ok(),
        _ => None,
    };
    let mut linked = Vec::new();
    for number in n.linked_tickets.clone().unwrap_or_default() {
        if let Ok(t) = state.app.ticket(&s.actor, number).await {
            linked.push(Linked { number: t.number, title: t.title, status: tr.status(&t.status) });
        }
    }
    let next_states = n
        .kind
        .states()
        .iter()
        .filter(|to| **to == n.state || domain::notice::transition(n.kind, n.state, **to).is_ok())
        .map(|to| Choice {
            value: to.as_str().to_owned(),
            label: tr.named("notice-state", to.as_str()),
            selected: *to == n.state,
        })
        .collect();
    let texts = LANGUAGES.iter().map(|l| TextRow { lang: l, title: String::new(), body: String::new() }).collect();
    let done =
        q.done.filter(|d| d == "updated" || d == "published" || d == "linked").map(|d| tr.named("notice-done", &d));
    Ok(render(&NoticePage {
        eta: local_value(tr, n.estimated_restoration),
        me: viewer.me(),
        tr: tr.clone(),
        n,
        b,
        scope,
        preview,
        linked,
        next_states,
        texts,
        done,
    }))
}

/// A scope in words, one term per entry.
fn describe_scope(tr: &Tr, scope: &Scope) -> Vec<String> {
    let mut out: Vec<String> = scope
        .terms
        .iter()
        .map(|t| {
            let mut parts = Vec::new();
            if let Some(c) = &t.service {
                parts.push(tr.t1("notice-term-service", "code", c));
            }
            if let Some(c) = &t.territory {
                parts.push(tr.t1("notice-term-territory", "code", c));
            }
            if let Some(c) = &t.network_element {
                parts.push(tr.t1("notice-term-element", "code", c));
            }
            parts.join(" · ")
        })
        .collect();
    if !scope.lines.is_empty() {
        out.push(tr.t1("notice-term-lines", "lines", scope.lines.join(", ")));
    }
    out
}

async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    check_csrf(&viewer, form.get("csrf").unwrap_or(""))?;
    let err = viewer.err();
    let id = super::people::path_id(&viewer, &id)?;
    let tr = &viewer.tr;
    let mut problems = Vec::new();
    let eta = local_time(tr, &form.text("eta"), "notice-field-eta", &mut problems);
    if !problems.is_empty() {
        return Err(err(Error::Invalid(vec![app::FieldProblem { field: "eta".into(), message: problems.join("; ") }])));
    }
    let texts = LANGUAGES
        .iter()
        .filter_map(|l| {
            let body = form.text(&format!("body_{l}"));
            (!body.is_empty()).then(|| ((*l).to_owned(), NoticeText { title: String::new(), body }))
        })
        .collect();
    let input = NoticeUpdateInput {
        state: form.opt("state").and_then(|s| NoticeState::parse(&s)),
        texts,
        estimated_restoration: eta,
        reply_to_tickets: form.checked("reply_to_tickets"),
        resolve_tickets: form.checked("resolve_tickets"),
    };
    state.app.post_notice_update(&s.actor, id, input).await.map_err(&err)?;
    Ok(Redirect::to(&format!("/notices/{id}?done=updated")).into_response())
}

async fn publish(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    check_csrf(&viewer, form.get("csrf").unwrap_or(""))?;
    let id = super::people::path_id(&viewer, &id)?;
    state.app.publish_notice(&s.actor, id).await.map_err(viewer.err())?;
    Ok(Redirect::to(&format!("/notices/{id}?done=published")).into_response())
}

async fn link(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    check_csrf(&viewer, form.get("csrf").unwrap_or(""))?;
    let id = super::people::path_id(&viewer, &id)?;
    let number = super::ticket_number(&viewer, &form.text("ticket"))?;
    state.app.link_ticket_to_notice(&s.actor, id, number).await.map_err(viewer.err())?;
    Ok(Redirect::to(&format!("/notices/{id}?done=linked")).into_response())
}

#[derive(Template)]
#[template(path = "line.html")]
struct LinePage {
    tr: Tr,
    me: Option<Me>,
    line: LineView,
    banners: Vec<Banner>,
    tickets: Vec<TicketSummary>,
}

async fn line_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(identifier): Path<String>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if s.portal {
        return Ok(Redirect::to(&format!("/portal/lines/{}", super::encode(&identifier))).into_response());
    }
    let s = staff(&viewer)?;
    let err = viewer.err();
    let line = state.app.line(&s.actor, &identifier).await.map_err(&err)?;
    let banners = state
        .app
        .line_notices(&s.actor, &identifier)
        .await
        .map_err(&err)?
        .iter()
        .map(|n| banner(&viewer.tr, n, &[], "/notices", "/lines"))
        .collect();
    let list = app::tickets::ListInput {
        line: Some(line.identifier.clone()),
        order: Some("updated".into()),
        limit: Some(50),
        ..Default::default()
    };
    let tickets = state.app.list_tickets(&s.actor, list).await.map_err(&err)?.tickets;
    Ok(render(&LinePage { me: viewer.me(), tr: viewer.tr.clone(), line, banners, tickets }))
}
