//! The agents' storm console `/storms`: storms of new tickets now (at least N within T minutes
//! from lines sharing a municipality or a network element), each with its tickets and pre-filled
//! notice; accepting creates the incident notice (a draft unless ticked) and links the tickets,
//! then opens the notice's page; dismissing hides it for the rule's window. Staff only (others
//! get a 404 page).

use std::collections::BTreeMap;

use app::FieldProblem;
use app::notices::NoticeText;
use app::storm::{StormAcceptInput, StormKind, StormView};
use app::{App, Error};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::notice::Impact;
use serde::Deserialize;

use super::admin::{Opt, opt};
use super::form::Submitted;
use super::people::staff;
use super::{Me, PageError, Tr, Viewer, check_csrf, render};
use crate::AppState;

/// The routes of the console.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/storms", get(list))
        .route("/storms/accept", post(accept))
        .route("/storms/dismiss", post(dismiss))
}

/// One storm as the console shows it, with its pre-filled notice.
struct Card {
    kind: &'static str,
    code: String,
    name: String,
    heading: String,
    scope: String,
    when: String,
    tickets: Vec<i64>,
    title: String,
    body: String,
    impacts: Vec<Opt>,
    publish: bool,
    problems: Vec<FieldProblem>,
}

/// The default title and text in the reader's language.
fn default_text(tr: &Tr, kind: StormKind, name: &str) -> NoticeText {
    App::storm_default_texts(kind, name).remove(tr.lang).unwrap_or_default()
}

fn impacts(tr: &Tr, selected: &str) -> Vec<Opt> {
    Impact::ALL.iter().map(|i| opt(i.as_str(), tr.named("statuspage-impact", i.as_str()), selected)).collect()
}

fn card(tr: &Tr, s: &StormView) -> Card {
    let text = default_text(tr, s.kind, &s.name);
    let (heading, scope) = match s.kind {
        StormKind::Municipality => (
            tr.t1("storm-in-municipality", "name", &s.name),
            tr.t1("storm-scope-municipality", "place", format!("{} ({})", s.name, s.code)),
        ),
        StormKind::Element => (
            tr.t1("storm-on-element", "name", format!("{} ({})", s.name, s.code)),
            tr.t1("storm-scope-element", "element", &s.code),
        ),
    };
    Card {
        kind: s.kind.as_str(),
        code: s.code.clone(),
        name: s.name.clone(),
        heading,
        scope,
        when: format!("{} – {}", tr.when(&s.first), tr.when(&s.last)),
        tickets: s.tickets.clone(),
        title: text.title,
        body: text.body,
        impacts: impacts(tr, Impact::Outage.as_str()),
        publish: false,
        problems: Vec::new(),
    }
}

#[derive(Template)]
#[template(path = "storms.html")]
struct StormsPage {
    tr: Tr,
    me: Option<Me>,
    rule: String,
    cards: Vec<Card>,
    gone: bool,
    dismissed: bool,
}

#[derive(Deserialize)]
struct ListQuery {
    gone: Option<String>,
    dismissed: Option<String>,
}

async fn load(state: &AppState, viewer: &Viewer) -> Result<StormsPage, PageError> {
    let s = staff(viewer)?;
    let list = state.app.storm_suggestions(&s.actor).await.map_err(viewer.err())?;
    let tr = &viewer.tr;
    let rule = format!(
        "{} {}",
        tr.t1("storm-rule", "tickets", list.min_tickets),
        tr.t1("storm-rule-within", "minutes", list.within_minutes)
    );
    Ok(StormsPage {
        tr: tr.clone(),
        me: viewer.me(),
        rule,
        cards: list.storms.iter().map(|s| card(tr, s)).collect(),
        gone: false,
        dismissed: false,
    })
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let page = load(&state, &viewer).await?;
    Ok(render(&StormsPage { gone: q.gone.is_some(), dismissed: q.dismissed.is_some(), ..page }))
}

/// The storm a form names, or a 400 page.
fn key(viewer: &Viewer, f: &Submitted) -> Result<(StormKind, String), PageError> {
    let kind = StormKind::parse(&f.text("kind"))
        .ok_or_else(|| viewer.err()(Error::invalid("kind", "municipality or element")))?;
    let code = f.text("code");
    if code.is_empty() {
        return Err(viewer.err()(Error::invalid("code", "required")));
    }
    Ok((kind, code))
}

async fn accept(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    check_csrf(&viewer, f.get("csrf").unwrap_or(""))?;
    let (kind, code) = key(&viewer, &f)?;
    let impact = Impact::parse(&f.text("impact")).unwrap_or(Impact::Outage);
    let (title, body) = (f.text("title"), f.get("body").unwrap_or("").trim().to_owned());
    let name = f.text("name");
    // Unchanged defaults: every language's default; edited: the agent's language only.
    let default = default_text(&viewer.tr, kind, &name);
    let texts: BTreeMap<String, NoticeText> = if title == default.title && body == default.body {
        BTreeMap::new()
    } else {
        [(viewer.tr.lang.to_owned(), NoticeText { title: title.clone(), body: body.clone() })].into()
    };
    let input = StormAcceptInput {
        kind,
        code: code.clone(),
        texts,
        impact,
        internal_notes: None,
        publish: f.checked("publish"),
    };
    match state.app.accept_storm(&s.actor, input).await {
        Ok(n) => Ok(Redirect::to(&format!("/notices/{}", n.id)).into_response()),
        Err(Error::NotFound(_)) => Ok(Redirect::to("/storms?gone=1").into_response()),
        Err(Error::Invalid(problems)) => {
            let mut page = load(&state, &viewer).await?;
            for c in page.cards.iter_mut().filter(|c| c.kind == kind.as_str() && c.code == code) {
                c.title = title.clone();
                c.body = body.clone();
                c.impacts = impacts(&viewer.tr, impact.as_str());
                c.publish = f.checked("publish");
                c.problems = problems.clone();
            }
            Ok(super::admin::invalid(&page))
        }
        Err(e) => Err(viewer.err()(e)),
    }
}

async fn dismiss(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    check_csrf(&viewer, f.get("csrf").unwrap_or(""))?;
    let (kind, code) = key(&viewer, &f)?;
    state.app.dismiss_storm(&s.actor, kind, &code).await.map_err(viewer.err())?;
    Ok(Redirect::to("/storms?dismissed=1").into_response())
}
