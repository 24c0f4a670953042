//! Opt-in notice alerts: the portal page where a contact (or a partner's user, for the contacts
//! of its customers) sees and changes the subscriptions, and the page of the unsubscribe link
//! that alert emails carry (no sign-in: the link's signature is the authorisation; GET asks to
//! confirm, POST unsubscribes, which is also what a mail client's one-click unsubscribe sends).

use app::Error;
use app::alerts::{SubscribeInput, SubscriptionView};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::form::Submitted;
use super::portal::Choice;
use super::{Me, PageError, Tr, Viewer, check_csrf, encode, render};
use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal/alerts", get(page).post(subscribe))
        .route("/portal/alerts/{id}/delete", post(remove))
        .route("/alerts/unsubscribe/{token}", get(confirm).post(unsubscribe))
}

/// A subscription as listed.
struct Listed {
    id: i64,
    label: String,
    since: String,
}

fn listed(tr: &Tr, s: &SubscriptionView) -> Listed {
    let label = match (&s.line, &s.zone) {
        (Some(line), _) => tr.t1("alerts-line", "line", line),
        (None, Some(z)) => format!("{} ({}, {})", z.name, tr.named("alerts-level", &z.level), z.code),
        (None, None) => String::new(),
    };
    Listed { id: s.id, label, since: tr.when(&s.created_at) }
}

#[derive(Template)]
#[template(path = "portal_alerts.html")]
struct AlertsPage {
    tr: Tr,
    me: Option<Me>,
    /// A partner's user picks one of its customers' contacts.
    contacts: Vec<Choice>,
    /// The contact shown, when one is (always for a contact).
    contact: Option<String>,
    subscriptions: Vec<Listed>,
    lines: Vec<Choice>,
    zones: Vec<Choice>,
    saved: bool,
    refused: bool,
}

#[derive(Deserialize)]
struct PageQuery {
    contact: Option<String>,
    saved: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if !s.portal {
        return Ok(Redirect::to("/").into_response());
    }
    let contact = q.contact.map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty());
    let page = alerts_page(&state, &viewer, contact, q.saved.is_some(), false).await?;
    Ok(render(&page))
}

async fn alerts_page(
    state: &AppState,
    viewer: &Viewer,
    contact: Option<String>,
    saved: bool,
    refused: bool,
) -> Result<AlertsPage, PageError> {
    let s = viewer.require()?;
    let tr = &viewer.tr;
    let partner = matches!(s.actor.who, app::Who::Partner { .. });
    let mut contacts = Vec::new();
    if partner {
        for c in state.app.alert_contacts(&s.actor).await.map_err(viewer.err())? {
            let label = if c.name.is_empty() {
                format!("{} ({})", c.email, c.customer)
            } else {
                format!("{} <{}> ({})", c.name, c.email, c.customer)
            };
            contacts.push(Choice { selected: contact.as_deref() == Some(c.email.as_str()), value: c.email, label });
        }
    }
    let mut page = AlertsPage {
        tr: tr.clone(),
        me: viewer.me(),
        contacts,
        contact: None,
        subscriptions: Vec::new(),
        lines: Vec::new(),
        zones: Vec::new(),
        saved,
        refused,
    };
    if partner && contact.is_none() {
        return Ok(page);
    }
    let who = contact.as_deref();
    let choices = state.app.alert_choices(&s.actor, who).await.map_err(viewer.err())?;
    let subscriptions = state.app.alert_subscriptions(&s.actor, who).await.map_err(viewer.err())?;
    page.subscriptions = subscriptions.iter().map(|x| listed(tr, x)).collect();
    page.lines = choices
        .lines
        .into_iter()
        .map(|l| Choice {
            label: format!("{} ({}, {})", l.identifier, l.service, l.municipality),
            value: l.identifier,
            selected: false,
        })
        .collect();
    page.zones = choices
        .zones
        .into_iter()
        .map(|z| Choice {
            label: format!("{} ({}, {})", z.name, tr.named("alerts-level", &z.level), z.code),
            value: z.code,
            selected: false,
        })
        .collect();
    page.contact = Some(choices.contact);
    Ok(page)
}

/// Back to the page of the same contact.
fn back(contact: Option<&str>, saved: bool) -> Response {
    let mut to = "/portal/alerts".to_owned();
    let mut sep = '?';
    if let Some(c) = contact {
        to.push_str(&format!("{sep}contact={}", encode(c)));
        sep = '&';
    }
    if saved {
        to.push_str(&format!("{sep}saved=1"));
    }
    Redirect::to(&to).into_response()
}

async fn subscribe(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = viewer.require()?;
    check_csrf(&viewer, &f.text("csrf"))?;
    let contact = f.opt("contact").map(|c| c.to_lowercase());
    let input = SubscribeInput { contact: contact.clone(), line: f.opt("line"), zone: f.opt("zone") };
    match state.app.subscribe_alerts(&s.actor, input).await {
        Ok(_) => Ok(back(contact.as_deref(), true)),
        // A line or zone that is not on offer (a form changed by hand): the page again, with why.
        Err(Error::Invalid(_) | Error::Unprocessable(_)) => {
            let page = alerts_page(&state, &viewer, contact, false, true).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(viewer.err()(e)),
    }
}

async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    check_csrf(&viewer, &f.text("csrf"))?;
    let id = id.parse::<i64>().map_err(|_| viewer.err()(Error::NotFound(format!("subscription {id}"))))?;
    state.app.unsubscribe_alert(&s.actor, id).await.map_err(viewer.err())?;
    let contact = f.opt("contact").map(|c| c.to_lowercase());
    Ok(back(contact.as_deref(), true))
}

#[derive(Template)]
#[template(path = "alerts_unsubscribe.html")]
struct UnsubscribePage {
    tr: Tr,
    me: Option<Me>,
    /// `confirm`, `done`, `invalid` or `gone`.
    state: &'static str,
    token: String,
    contact: String,
    subscriptions: Vec<Listed>,
}

fn unsubscribe_page(
    viewer: &Viewer,
    token: String,
    result: app::Result<Vec<SubscriptionView>>,
    done: bool,
) -> Response {
    let tr = viewer.tr.clone();
    let (status, state, list) = match result {
        Ok(list) => (StatusCode::OK, if done { "done" } else { "confirm" }, list),
        Err(Error::Invalid(_)) => (StatusCode::BAD_REQUEST, "invalid", Vec::new()),
        Err(Error::NotFound(_)) => (StatusCode::NOT_FOUND, "gone", Vec::new()),
        Err(e) => return viewer.err()(e).into_response(),
    };
    let page = UnsubscribePage {
        contact: list.first().map(|s| s.contact.clone()).unwrap_or_default(),
        subscriptions: list.iter().map(|s| listed(&tr, s)).collect(),
        tr,
        me: viewer.me(),
        state,
        token,
    };
    (status, render(&page)).into_response()
}

async fn confirm(State(state): State<AppState>, viewer: Viewer, Path(token): Path<String>) -> Response {
    let result = state.app.alert_link_subscriptions(&token).await;
    unsubscribe_page(&viewer, token, result, false)
}

/// The page's button, or a mail client's one-click unsubscribe (RFC 8058: a POST with
/// `List-Unsubscribe=One-Click`); the body is not needed.
async fn unsubscribe(State(state): State<AppState>, viewer: Viewer, Path(token): Path<String>) -> Response {
    let result = state.app.unsubscribe_by_link(&token).await;
    unsubscribe_page(&viewer, token, result, true)
}
