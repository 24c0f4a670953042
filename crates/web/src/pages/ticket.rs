//! The agent ticket page (`/tickets/{number}`): fields, the thread with public replies and
//! internal comments, reply and comment forms that can change status and owner in the same
//! submit, "take", the history, links and custom fields; the SLA panel ("record intervention"),
//! impact and computed or manual priority, and the time recorded with replies and comments.

use std::collections::BTreeMap;

use app::tickets::{MessageInput, TicketPatch, TimeInput};
use app::timesheet::TimeEntryView;
use app::views::{EventView, FieldView, LinkView, MessageView, PersonRef, QueueView, TicketView};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::{Category, LinkKind, MessageKind, Severity, Status};

use app::sessions::Session;

use super::form::Submitted;
use super::{Me, PageError, Tr, Viewer, check_csrf, render};
use crate::AppState;

/// The routes of the agent ticket page and its forms.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tickets/{number}", get(page).post(update))
        .route("/tickets/{number}/messages", post(message))
        .route("/tickets/{number}/take", post(take))
        .route("/tickets/{number}/intervene", post(intervene))
        .route("/tickets/{number}/links", post(link))
        .route("/tickets/{number}/attachments/{id}", get(attachment))
        .route("/tickets/{number}/messages/{id}/raw", get(original_email))
}

/// The session, after the form's CSRF token is checked, and the ticket number of a form post.
fn posted<'v>(viewer: &'v Viewer, form: &Submitted, raw: &str) -> Result<(&'v Session, i64), PageError> {
    let s = viewer.require()?;
    check_csrf(viewer, form.get("csrf").unwrap_or(""))?;
    Ok((s, super::ticket_number(viewer, raw)?))
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    t: TicketView,
    messages: Vec<MessageView>,
    events: Vec<EventView>,
    links: Vec<LinkView>,
    fields: Vec<FieldView>,
    queues: Vec<QueueView>,
    agents: Vec<PersonRef>,
    problem: Option<String>,
    statuses: &'static [Status],
    categories: &'static [Category],
    severities: &'static [Severity],
    link_kinds: &'static [LinkKind],
    last_event: i64,
    requestors: String,
    cc: String,
    owner_is_me: bool,
    /// The countdown badge of the SLA clock, if the ticket has one.
    sla_badge: Option<super::sla::Badge>,
    /// The time recorded on the ticket.
    time: Vec<TimeEntryView>,
    /// The minutes recorded, all and billable.
    time_total: (i64, i64),
}

impl TicketPage {
    fn owner_is(&self, email: &str) -> bool {
        self.t.owner.as_ref().is_some_and(|o| o.email == email)
    }

    fn field_value(&self, name: &str) -> String {
        self.t.fields.get(name).cloned().unwrap_or_default()
    }

    /// Seconds in words ("2 h 10 min").
    fn span(&self, secs: &i64) -> String {
        super::sla::span(&self.tr, *secs)
    }

    /// Seconds left in words, or how late ("late by 15 min").
    fn left(&self, secs: &i64) -> String {
        super::sla::left(&self.tr, *secs)
    }

    /// Minutes in words ("1 h 30 min").
    fn minutes(&self, minutes: &i64) -> String {
        super::sla::hours(&self.tr, *minutes)
    }

    /// One history entry in words.
    fn describe(&self, e: &EventView) -> String {
        let tr = &self.tr;
        let shown = |v: &Option<String>| -> String {
            let v = v.clone().unwrap_or_default();
            match e.field.as_deref() {
                Some("status") => v.parse::<Status>().map(|s| tr.status(&s)).unwrap_or(v),
                Some("category") => v.parse::<Category>().map(|c| tr.category(&c)).unwrap_or(v),
                Some("severity") => v.parse::<Severity>().map(|s| tr.severity(&s)).unwrap_or(v),
                Some("priority_override") if v == "manual" => tr.t("ticket-priority-manual"),
                Some("priority_override") if v == "computed" => tr.t("ticket-priority-computed"),
                _ if v.is_empty() => "—".into(),
                _ => v,
            }
        };
        match e.kind.as_str() {
            "set" => {
                let field = e.field.clone().unwrap_or_default();
                let label = match field.as_str() {
                    "title" | "status" | "queue" | "owner" | "priority" | "category" | "severity" | "customer"
                    | "requestors" | "cc" | "impact" | "priority_override" => tr.named("field", &field),
                    other => other.strip_prefix("fields.").unwrap_or(other).to_owned(),
                };
                format!("{label}: {} → {}", shown(&e.old_value), shown(&e.new_value))
            }
            "created" | "reply" | "comment" | "link" | "unlink" | "merged" | "merged_from" => {
                let what = tr.named("event", &e.kind);
                match (&e.new_value, &e.old_value) {
                    (Some(v), _) | (None, Some(v)) if e.kind != "reply" && e.kind != "comment" => format!("{what} {v}"),
                    _ => what,
                }
            }
            "sla" => {
                let what = match e.field.as_deref() {
                    Some(p @ ("intervention" | "restoration")) => tr.named("sla-phase", p),
                    Some("severity") => tr.t("field-severity"),
                    Some("level") => tr.t("sla-level"),
                    _ => String::new(),
                };
                let mark = |v: &Option<String>| match v.as_deref() {
                    Some(m @ ("warning" | "breached" | "met")) => tr.named("sla-mark", m),
                    _ => shown(v),
                };
                match e.field.as_deref() {
                    Some("severity" | "level") => {
                        format!("{} {what}: {} → {}", tr.t("event-sla"), shown(&e.old_value), shown(&e.new_value))
                    }
                    _ => format!("{} {what}: {}", tr.t("event-sla"), mark(&e.new_value)),
                }
            }
            "time" => format!("{} {}", tr.t("event-time"), shown(&e.new_value)),
            "escalated" => {
                format!("{}: {} → {}", tr.t("event-escalated"), shown(&e.old_value), shown(&e.new_value))
            }
            other => other.to_owned(),
        }
    }
}

async fn page(State(state): State<AppState>, viewer: Viewer, Path(raw): Path<String>) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if s.portal {
        return Ok(Redirect::to(&format!("/portal/tickets/{raw}")).into_response());
    }
    let n = super::ticket_number(&viewer, &raw)?;
    show(&state, &viewer, n, None).await
}

async fn show(state: &AppState, viewer: &Viewer, n: i64, problem: Option<String>) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let err = viewer.err();
    let app = &state.app;
    let t = app.ticket(&s.actor, n).await.map_err(&err)?;
    if t.number != n {
        // A merged ticket: its thread lives on in the survivor.
        return Ok(Redirect::to(&format!("/tickets/{}", t.number)).into_response());
    }
    let (messages, events, links, queue, queues, agents, my_email, time) = tokio::try_join!(
        app.messages(&s.actor, n),
        app.ticket_events(&s.actor, n),
        app.links(&s.actor, n),
        app.queue(&s.actor, &t.queue),
        app.queues(&s.actor),
        app.assignable_users(&s.actor),
        app.actor_email(&s.actor),
        app.time_entries(&s.actor, n),
    )
    .map_err(&err)?;
    let last_event = events.iter().map(|e| e.id).max().unwrap_or(0);
    let emails = |p: &[PersonRef]| p.iter().map(|p| p.email.clone()).collect::<Vec<_>>().join(", ");
    let owner_is_me = t.owner.as_ref().is_some_and(|o| o.email == my_email);
    let sla_badge = t.sla.as_ref().and_then(|k| {
        let due = match k.phase {
            domain::clock::Phase::Intervention => k.intervention_due,
            _ => k.restoration_due,
        };
        // The state is written beside it: the badge only for a clock with a due instant.
        super::sla::badge(&viewer.tr, due, Some(k.state), app.now()).filter(|b| b.due.is_some())
    });
    let time_total = time
        .iter()
        .fold((0, 0), |(all, billable), e| (all + e.minutes, billable + if e.billable { e.minutes } else { 0 }));
    let page = TicketPage {
        sla_badge,
        time,
        time_total,
        owner_is_me,
        me: viewer.me(),
        tr: viewer.tr.clone(),
        csrf: s.csrf.clone(),
        requestors: emails(&t.requestors),
        cc: emails(&t.cc),
        t,
        messages,
        events,
        links,
        fields: queue.fields,
        queues,
        agents,
        problem,
        statuses: Status::ALL,
        categories: Category::ALL,
        severities: Severity::ALL,
        link_kinds: LinkKind::ALL,
        last_event,
    };
    let status = if page.problem.is_some() { axum::http::StatusCode::BAD_REQUEST } else { axum::http::StatusCode::OK };
    Ok((status, render(&page)).into_response())
}

/// Redirects back to the ticket page after a change, or shows it with the problem.
async fn after(
    state: &AppState,
    viewer: &Viewer,
    n: i64,
    result: Result<(), app::Error>,
    anchor: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/tickets/{n}{anchor}")).into_response()),
        Err(e @ (app::Error::Invalid(_) | app::Error::Transition { .. } | app::Error::Conflict(_))) => {
            show(state, viewer, n, Some(e.to_string())).await
        }
        Err(e) => Err(viewer.err()(e)),
    }
}

fn emails(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '\n']).map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect()
}

/// The change the properties form asks for: only what differs from the ticket as it is.
fn patch_from(t: &TicketView, fields: &[FieldView], form: &Submitted) -> Result<TicketPatch, app::Error> {
    let mut p = TicketPatch::default();
    let title = form.text("title");
    if !title.is_empty() && title != t.title {
        p.title = Some(title);
    }
    if let Some(st) = form.opt("status") {
        let st = st.parse::<Status>().map_err(|e| app::Error::invalid("status", e.to_string()))?;
        if st != t.status {
            p.status = Some(st);
        }
    }
    if let Some(q) = form.opt("queue").filter(|q| *q != t.queue) {
        p.queue = Some(q);
    }
    let owner = form.opt("owner").filter(|o| o != "nobody");
    if owner != t.owner.as_ref().map(|o| o.email.clone()) {
        p.owner = Some(owner);
    }
    // The priority is computed unless set by hand: "computed" drops a manual one; a new number
    // (or "manual" on a computed one) sets it by hand.
    let mode = form.opt("priority_mode");
    if mode.as_deref() == Some("computed") && t.priority_manual {
        p.priority_auto = true;
    } else if let Some(pr) = form.opt("priority") {
        let pr = pr.parse::<i64>().map_err(|_| app::Error::invalid("priority", "a whole number from 0 to 100"))?;
        if pr != t.priority || (mode.as_deref() == Some("manual") && !t.priority_manual) {
            p.priority = Some(pr);
        }
    }
    if let Some(n) = form.opt("impact") {
        let n = n.parse::<i64>().map_err(|_| app::Error::invalid("impact", "a whole number of lines or SIMs"))?;
        if n != t.impact {
            p.impact = Some(n);
        }
    }
    if let Some(c) = form.opt("category") {
        let c = c.parse::<Category>().map_err(|e| app::Error::invalid("category", e.to_string()))?;
        if c != t.category {
            p.category = Some(c);
        }
    }
    if let Some(sv) = form.opt("severity") {
        let sv = sv.parse::<Severity>().map_err(|e| app::Error::invalid("severity", e.to_string()))?;
        if sv != t.severity {
            p.severity = Some(sv);
        }
    }
    let customer = form.opt("customer");
    if customer != t.customer.as_ref().map(|c| c.code.clone()) {
        p.customer = Some(customer);
    }
    let same = |a: &[String], b: &[PersonRef]| {
        let mut a: Vec<String> = a.iter().map(|e| e.to_lowercase()).collect();
        let mut b: Vec<String> = b.iter().map(|p| p.email.to_lowercase()).collect();
        a.sort();
        b.sort();
        a == b
    };
    let requestors = emails(&form.text("requestors"));
    if !same(&requestors, &t.requestors) {
        p.requestors = Some(requestors);
    }
    let cc = emails(&form.text("cc"));
    if !same(&cc, &t.cc) {
        p.cc = Some(cc);
    }
    let mut changed = BTreeMap::new();
    for f in fields {
        let Some(v) = form.get(&format!("field.{}", f.name)) else { continue };
        let v = v.trim();
        let now = t.fields.get(&f.name).map(String::as_str).unwrap_or("");
        if v != now {
            changed.insert(f.name.clone(), (!v.is_empty()).then(|| v.to_owned()));
        }
    }
    p.fields = changed;
    Ok(p)
}

async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let (s, n) = posted(&viewer, &form, &raw)?;
    let err = viewer.err();
    let t = state.app.ticket(&s.actor, n).await.map_err(&err)?;
    // The form shows the ticket as of event `seen`: if someone changed it since, saving would
    // silently put their values back. Show the ticket as it is now instead.
    let seen: i64 = form.text("seen").parse().unwrap_or(i64::MAX);
    let history = state.app.ticket_events(&s.actor, n).await.map_err(&err)?;
    if let Some(e) = history.iter().rev().find(|e| e.id > seen && e.kind == "set") {
        let problem = viewer.tr.t1("ticket-changed-meanwhile", "name", &e.actor);
        return show(&state, &viewer, n, Some(problem)).await;
    }
    let queue = state.app.queue(&s.actor, &t.queue).await.map_err(&err)?;
    let result = match patch_from(&t, &queue.fields, &form) {
        Ok(patch) => state.app.update_ticket(&s.actor, n, patch).await.map(|_| ()),
        Err(e) => Err(e),
    };
    after(&state, &viewer, n, result, "").await
}

async fn message(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let (s, n) = posted(&viewer, &form, &raw)?;
    let kind = match form.get("kind") {
        Some("comment") => MessageKind::Comment,
        _ => MessageKind::Reply,
    };
    let status = match form.opt("status") {
        Some(st) => Some(st.parse::<Status>().map_err(|e| viewer.err()(app::Error::invalid("status", e.to_string())))?),
        None => None,
    };
    let owner = match form.opt("owner").as_deref() {
        None => None,
        Some("nobody") => Some(None),
        Some(email) => Some(Some(email.to_owned())),
    };
    // Time spent, recorded with the message when minutes are given.
    let time = match form.opt("minutes") {
        None => Ok(None),
        Some(m) => match m.parse::<i64>() {
            Ok(minutes) => Ok(Some(TimeInput { minutes, billable: form.checked("billable"), note: String::new() })),
            Err(_) => Err(app::Error::invalid("time.minutes", "a whole number of minutes")),
        },
    };
    let result = match time {
        Ok(time) => {
            let input = MessageInput {
                kind,
                body: form.get("body").unwrap_or("").to_owned(),
                body_html: None,
                attachments: form.files,
                status,
                owner,
                time,
            };
            state.app.add_message(&s.actor, n, input).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    after(&state, &viewer, n, result, "#thread-end").await
}

async fn take(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let (s, n) = posted(&viewer, &form, &raw)?;
    let me = state.app.actor_email(&s.actor).await.map_err(viewer.err())?;
    let patch = TicketPatch { owner: Some(Some(me)), ..Default::default() };
    let result = state.app.update_ticket(&s.actor, n, patch).await.map(|_| ());
    after(&state, &viewer, n, result, "").await
}

/// Records the intervention now (work done without a public reply, e.g. by phone).
async fn intervene(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let (s, n) = posted(&viewer, &form, &raw)?;
    let patch = TicketPatch { intervened: true, ..Default::default() };
    let result = state.app.update_ticket(&s.actor, n, patch).await.map(|_| ());
    after(&state, &viewer, n, result, "#sla-h").await
}

async fn link(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let (s, n) = posted(&viewer, &form, &raw)?;
    let parsed =
        form.text("kind").parse::<LinkKind>().map_err(|e| app::Error::invalid("kind", e.to_string())).and_then(|k| {
            let other = form.text("other");
            let other = other.rsplit('#').next().unwrap_or("").trim().parse::<i64>();
            other.map(|o| (k, o)).map_err(|_| app::Error::invalid("other", "a ticket number or reference"))
        });
    let result = match parsed {
        Ok((kind, other)) if form.get("remove").is_some() => {
            state.app.remove_link(&s.actor, n, kind, other).await.map(|_| ())
        }
        Ok((kind, other)) => state.app.add_link(&s.actor, n, kind, other).await.map(|_| ()),
        Err(e) => Err(e),
    };
    after(&state, &viewer, n, result, "#links").await
}

async fn attachment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((raw, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let n = super::ticket_number(&viewer, &raw)?;
    let id = id.parse::<i64>().map_err(|_| viewer.err()(app::Error::NotFound(format!("attachment {id}"))))?;
    let (a, data) = state.app.attachment(&s.actor, n, id).await.map_err(viewer.err())?;
    Ok(super::download(&a.filename, &a.content_type, data))
}

/// The email a message came from, as received (agents; 404 when it was not kept).
async fn original_email(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((raw, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let n = super::ticket_number(&viewer, &raw)?;
    let id = id.parse::<i64>().map_err(|_| viewer.err()(app::Error::NotFound(format!("message {id}"))))?;
    let data = state.app.message_raw(&s.actor, n, id).await.map_err(viewer.err())?;
    Ok(super::download(&format!("message-{id}.eml"), "message/rfc822", data))
}
