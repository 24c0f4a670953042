//! The queue view (`/tickets`): filters, the search box (the API's query syntax), order,
//! pagination by cursor, and bulk actions on the selected tickets.

use app::console::{BulkAction, BulkOutcome};
use app::tickets::ListInput;
use app::views::{PersonRef, QueueView, TicketSummary};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::{Category, Status};

use super::form::Submitted;
use super::{Me, PageError, Tr, Viewer, check_csrf, local_path, render};
use crate::AppState;

/// The routes of the queue view.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/tickets", get(queue_view)).route("/tickets/bulk", post(bulk)).route("/help", get(help))
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    tr: Tr,
    me: Option<Me>,
}

/// The agents' help: keyboard shortcuts and the search syntax.
async fn help(viewer: Viewer) -> Result<Response, PageError> {
    viewer.require()?;
    Ok(render(&HelpPage { me: viewer.me(), tr: viewer.tr.clone() }))
}

/// The orders a queue view offers, as (value in the URL, value of `ListInput::order`).
const ORDERS: [(&str, &str); 4] =
    [("priority", "priority"), ("updated", "updated"), ("created", "newest"), ("waiting", "stale")];

/// The statuses of tickets still to handle: what a queue view shows unless told otherwise.
const ACTIVE: [Status; 3] = [Status::New, Status::Open, Status::Stalled];

/// The filters of a queue view, as read from (and written back to) its URL.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    pub q: String,
    pub queue: String,
    pub statuses: Vec<Status>,
    pub owner: String,
    pub category: String,
    pub customer: String,
    pub order: String,
    pub cursor: String,
}

impl Filters {
    pub(crate) fn parse(raw: Option<&str>) -> Filters {
        let mut f = Filters::default();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let v = v.trim().to_owned();
            match k.as_ref() {
                "q" => f.q = v,
                "queue" => f.queue = v,
                "status" => f.statuses.extend(v.parse::<Status>().ok()),
                "owner" => f.owner = v,
                "category" => f.category = v,
                "customer" => f.customer = v,
                "order" => f.order = v,
                "cursor" => f.cursor = v,
                _ => {}
            }
        }
        if !ORDERS.iter().any(|(o, _)| *o == f.order) {
            f.order = "priority".into();
        }
        f
    }

    /// The URL of this view with another order, cursor or none.
    pub fn url(&self, order: &str, cursor: Option<&str>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("queue", &self.queue),
            ("owner", &self.owner),
            ("category", &self.category),
            ("customer", &self.customer),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        for st in &self.statuses {
            s.append_pair("status", st.as_str());
        }
        s.append_pair("order", order);
        if let Some(c) = cursor {
            s.append_pair("cursor", c);
        }
        format!("/tickets?{}", s.finish())
    }

    /// The live feed of new tickets for this view, after ticket `newest`.
    pub fn live(&self, newest: &i64) -> String {
        self.url(&self.order, None).replacen("/tickets?", &format!("/live/tickets?after={newest}&"), 1)
    }

    /// This page's URL (to come back to after a bulk action).
    pub fn here(&self) -> String {
        self.url(&self.order, (!self.cursor.is_empty()).then_some(self.cursor.as_str()))
    }

    fn has_status(&self, s: &Status) -> bool {
        self.statuses.contains(s)
    }

    /// The list behind the live feed: this view's filters, newest first, from the start.
    pub(crate) fn live_input(&self) -> Result<ListInput, app::Error> {
        Ok(ListInput { order: Some("newest".into()), cursor: None, ..self.input()? })
    }

    fn input(&self) -> Result<ListInput, app::Error> {
        let categories = match self.category.as_str() {
            "" => Vec::new(),
            c => vec![c.parse::<Category>().map_err(|e| app::Error::invalid("category", e.to_string()))?],
        };
        let order = ORDERS.iter().find(|(o, _)| *o == self.order).map(|(_, l)| *l).unwrap_or("priority");
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(ListInput {
            q: opt(&self.q),
            queue: opt(&self.queue),
            statuses: if self.statuses.is_empty() { ACTIVE.to_vec() } else { self.statuses.clone() },
            owner: opt(&self.owner),
            customer: opt(&self.customer),
            line: None,
            categories,
            order: Some(order.to_owned()),
            cursor: opt(&self.cursor),
            limit: Some(PAGE_SIZE),
        })
    }
}

/// Tickets per page of a queue view.
pub const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    tr: Tr,
    me: Option<Me>,
    f: Filters,
    tickets: Vec<TicketSummary>,
    next: Option<String>,
    queues: Vec<QueueView>,
    agents: Vec<PersonRef>,
    message: Option<String>,
    problem: Option<String>,
    categories: &'static [Category],
    statuses: &'static [Status],
    orders: [&'static str; 4],
    newest: i64,
    now: jiff::Timestamp,
}

impl QueuePage {
    /// The SLA countdown badge of a listed ticket, if it has a clock.
    fn badge(&self, t: &TicketSummary) -> Option<super::sla::Badge> {
        super::sla::summary_badge(&self.tr, t, self.now)
    }
}

async fn queue_view(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if s.portal {
        return Ok(Redirect::to("/portal").into_response());
    }
    let err = viewer.err();
    let f = Filters::parse(raw.as_deref());
    let queues = state.app.queues(&s.actor).await.map_err(&err)?;
    let agents = state.app.assignable_users(&s.actor).await.map_err(&err)?;
    let (tickets, next, problem) = match f.input() {
        Ok(input) => match state.app.list_tickets(&s.actor, input).await {
            Ok(page) => (page.tickets, page.next_cursor, None),
            // A bad query is the reader's to fix: show the page with the reason.
            Err(e @ app::Error::Invalid(_)) => (Vec::new(), None, Some(e.to_string())),
            Err(e) => return Err(err(e)),
        },
        Err(e) => (Vec::new(), None, Some(e.to_string())),
    };
    let message = bulk_message(&viewer.tr, raw.as_deref());
    let newest = tickets.iter().map(|t| t.number).max().unwrap_or(0);
    Ok(render(&QueuePage {
        me: viewer.me(),
        tr: viewer.tr.clone(),
        f,
        tickets,
        next,
        queues,
        agents,
        message,
        problem,
        categories: Category::ALL,
        statuses: Status::ALL,
        orders: ORDERS.map(|(o, _)| o),
        newest,
        now: state.app.now(),
    }))
}

/// The outcome of the bulk action that led here, from the `done` and `failed` parameters.
fn bulk_message(tr: &Tr, raw: Option<&str>) -> Option<String> {
    let mut done = None;
    let mut failed = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "done" => done = v.parse::<u32>().ok(),
            "failed" => failed = v.parse::<u32>().ok(),
            _ => {}
        }
    }
    let done = done?;
    let mut m = tr.t1("bulk-done", "count", done);
    if let Some(f) = failed.filter(|f| *f > 0) {
        m.push(' ');
        m.push_str(&tr.t1("bulk-failed", "count", f));
    }
    Some(m)
}

async fn bulk(State(state): State<AppState>, viewer: Viewer, form: Submitted) -> Result<Response, PageError> {
    let s = viewer.require()?;
    check_csrf(&viewer, form.get("csrf").unwrap_or(""))?;
    let err = viewer.err();
    let numbers: Vec<i64> = form.all("ticket").iter().filter_map(|n| n.parse().ok()).collect();
    let action = match form.get("action").unwrap_or("") {
        "take" => BulkAction::Take,
        "assign" => BulkAction::Assign(form.opt("owner").filter(|o| o != "nobody")),
        "status" => BulkAction::Status(
            form.text("status").parse::<Status>().map_err(|e| err(app::Error::invalid("status", e.to_string())))?,
        ),
        "move" => BulkAction::Move(form.text("queue")),
        other => return Err(err(app::Error::invalid("action", format!("unknown bulk action `{other}`")))),
    };
    let BulkOutcome { done, failed } = state.app.bulk_update(&s.actor, &numbers, &action).await.map_err(&err)?;
    for (n, why) in &failed {
        tracing::info!(ticket = n, reason = %why, "a bulk change left a ticket unchanged");
    }
    let back = local_path(form.get("back").unwrap_or("/tickets"));
    let back = if back.starts_with("/tickets") { back } else { "/tickets" };
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}done={}&failed={}", done.len(), failed.len())).into_response())
}
