//! The customer and partner portal: home, opening a ticket, a ticket's public thread.
//!
//! Contacts and partner users only ever see the public side of their tickets: the app returns
//! public replies only to them (`App::messages`), and answers `NotFound` for a ticket or an
//! attachment that is not theirs, which these pages show as the 404 page.

use app::Who;
use app::access::Actor;
use app::tickets::{AttachmentInput, ListInput, MessageInput, NewTicketInput, TicketPatch};
use app::views::{MessageView, TicketSummary, TicketView};
use app::{Error, FieldProblem};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::{Category, MessageKind, Status};
use serde::Deserialize;

use super::form::Submitted;
use super::notices::{Banner, banner};
use super::{CsrfForm, Me, PageError, Tr, Viewer, check_csrf, render};
use crate::AppState;

/// The routes of the portal.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(portal))
        .route("/portal/tickets/new", get(new_form).post(create))
        .route("/portal/tickets/{number}", get(ticket_page))
        .route("/portal/tickets/{number}/reply", post(reply))
        .route("/portal/tickets/{number}/close", post(close))
        .route("/portal/tickets/{number}/reopen", post(reopen))
        .route("/portal/tickets/{number}/attachments/{id}", get(attachment))
}

/// One option of a select.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

fn is_partner(actor: &Actor) -> bool {
    matches!(actor.who, Who::Partner { .. })
}

/// The customers a partner user may pick (none for contacts).
async fn partner_customers(
    state: &AppState,
    viewer: &Viewer,
    actor: &Actor,
) -> Result<Vec<(String, String)>, PageError> {
    if !is_partner(actor) {
        return Ok(Vec::new());
    }
    let list = state.app.customers(actor).await.map_err(viewer.err())?;
    Ok(list.into_iter().map(|c| (c.code, c.name)).collect())
}

fn customer_choices(customers: &[(String, String)], selected: Option<&str>) -> Vec<Choice> {
    customers
        .iter()
        .map(|(code, name)| Choice {
            value: code.clone(),
            label: format!("{name} ({code})"),
            selected: selected == Some(code.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    tr: Tr,
    me: Option<Me>,
    open: Vec<TicketSummary>,
    recent: Vec<TicketSummary>,
    /// The partner's customers for the filter (empty for contacts: no filter shown).
    customers: Vec<Choice>,
    /// The notices touching the reader's lines.
    banners: Vec<Banner>,
}

#[derive(Deserialize)]
struct HomeQuery {
    customer: Option<String>,
}

async fn portal(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HomeQuery>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if !s.portal {
        return Ok(Redirect::to("/").into_response());
    }
    let customers = partner_customers(&state, &viewer, &s.actor).await?;
    let customer = q.customer.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    // Only a partner filters, and only by one of its own customers (another code is a 404, as
    // for any customer the reader may not see).
    if let Some(code) = &customer
        && !customers.iter().any(|(c, _)| c == code)
    {
        return Err(viewer.err()(Error::NotFound(format!("customer {code}"))));
    }
    let open = vec![Status::New, Status::Open, Status::Stalled];
    let open = state
        .app
        .list_tickets(
            &s.actor,
            ListInput { statuses: open, customer: customer.clone(), limit: Some(100), ..Default::default() },
        )
        .await
        .map_err(viewer.err())?
        .tickets;
    let recent = state
        .app
        .list_tickets(
            &s.actor,
            ListInput {
                order: Some("updated".into()),
                customer: customer.clone(),
                limit: Some(10),
                ..Default::default()
            },
        )
        .await
        .map_err(viewer.err())?
        .tickets;
    let customers = customer_choices(&customers, customer.as_deref());
    let banners = state
        .app
        .my_notices(&s.actor)
        .await
        .map_err(viewer.err())?
        .iter()
        .map(|(n, lines)| banner(&viewer.tr, n, lines, "/portal/notices", "/portal/lines"))
        .collect();
    Ok(render(&PortalPage { me: viewer.me(), tr: viewer.tr, open, recent, customers, banners }))
}

/// The queue of tickets opened from the portal: the instance's `support` queue when it exists
/// and is open, else the first open queue. Portal users do not choose queues (they do not know
/// the operator's organisation); agents move the ticket where it belongs.
async fn portal_queue(state: &AppState, actor: &Actor) -> Result<Option<String>, Error> {
    // For contacts and partner users the app lists the active queues only.
    let queues = state.app.queues(actor).await?;
    let active: Vec<_> = queues.into_iter().filter(|q| q.active).collect();
    Ok(active.iter().find(|q| q.slug == "support").or(active.first()).map(|q| q.slug.clone()))
}

/// What is wrong with a submitted form, field by field, in the reader's language.
#[derive(Default)]
struct Problems {
    title: Option<String>,
    body: Option<String>,
    category: Option<String>,
    customer: Option<String>,
    line: Option<String>,
    files: Option<String>,
    other: Option<String>,
}

impl Problems {
    fn any(&self) -> bool {
        self.title.is_some()
            || self.body.is_some()
            || self.category.is_some()
            || self.customer.is_some()
            || self.line.is_some()
            || self.files.is_some()
            || self.other.is_some()
    }

    /// Files the app would refuse (too many, too large, unnamed), checked before sending.
    fn check_files(&mut self, tr: &Tr, state: &AppState, files: &[AttachmentInput]) {
        let config = &state.app.config;
        if files.len() > config.max_attachments {
            self.files = Some(tr.t1("portal-error-files-count", "count", config.max_attachments));
        } else if files.iter().any(|f| f.data.len() > config.max_attachment_bytes) {
            self.files = Some(tr.t1("portal-error-files-size", "size", human_size(config.max_attachment_bytes as i64)));
        }
    }

    /// Places the app's field problems (its messages are in English) on the form's fields.
    fn add_app_problems(&mut self, tr: &Tr, problems: &[FieldProblem]) {
        for p in problems {
            let field = p.field.as_str();
            if field == "title" {
                self.title = Some(tr.t("portal-error-title"));
            } else if field == "body" {
                self.body = Some(tr.t("portal-error-body"));
            } else if field == "customer" {
                self.customer = Some(tr.t("portal-error-customer"));
            } else if field == "line" {
                self.line = Some(tr.t("portal-error-line"));
            } else if field.starts_with("attachments") {
                self.files = Some(tr.t("portal-error-files"));
            } else {
                self.other = Some(tr.t("error-invalid"));
            }
        }
    }
}

#[derive(Template)]
#[template(path = "portal_new.html")]
struct NewTicketPage {
    tr: Tr,
    me: Option<Me>,
    /// Partner users pick the customer the ticket is for.
    partner: bool,
    customers: Vec<Choice>,
    categories: Vec<Choice>,
    title: String,
    body: String,
    problems: Problems,
    /// The line the ticket is about (identifier), if chosen.
    line: String,
    /// The reader's lines, for the suggestions.
    lines: Vec<String>,
    /// The notices touching the chosen line, shown before the form.
    banners: Vec<Banner>,
    /// The reader has been shown those notices (the next submission opens the ticket anyway).
    seen_notices: bool,
}

/// The most lines the form suggests.
const LINES_SUGGESTED: usize = 1000;

async fn line_suggestions(state: &AppState, actor: &Actor) -> Result<Vec<String>, Error> {
    let mut lines: Vec<String> =
        state.app.my_lines(actor).await?.into_iter().filter(|l| l.status != "ceased").map(|l| l.identifier).collect();
    lines.truncate(LINES_SUGGESTED);
    Ok(lines)
}

/// The banners of the notices touching a line (none for an unknown line: the form reports it).
async fn line_banners(state: &AppState, tr: &Tr, actor: &Actor, line: &str) -> Result<Vec<Banner>, Error> {
    if line.is_empty() {
        return Ok(Vec::new());
    }
    match state.app.line_notices(actor, line).await {
        Ok(list) => Ok(list
            .iter()
            .map(|n| banner(tr, n, std::slice::from_ref(&line.to_owned()), "/portal/notices", "/portal/lines"))
            .collect()),
        Err(Error::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct NewQuery {
    #[serde(default)]
    line: String,
}

fn category_choices(tr: &Tr, selected: Option<Category>) -> Vec<Choice> {
    Category::ALL
        .iter()
        .map(|c| Choice {
            value: c.as_str().to_owned(),
            label: tr.t(&format!("portal-category-{}", c.as_str())),
            selected: selected == Some(*c),
        })
        .collect()
}

async fn new_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if !s.portal {
        return Ok(Redirect::to("/").into_response());
    }
    let customers = partner_customers(&state, &viewer, &s.actor).await?;
    let only = (customers.len() == 1).then(|| customers[0].0.clone());
    let line = q.line.trim().to_owned();
    let banners = line_banners(&state, &viewer.tr, &s.actor, &line).await.map_err(viewer.err())?;
    let page = NewTicketPage {
        seen_notices: !banners.is_empty(),
        banners,
        lines: line_suggestions(&state, &s.actor).await.map_err(viewer.err())?,
        line,
        partner: is_partner(&s.actor),
        customers: customer_choices(&customers, only.as_deref()),
        categories: category_choices(&viewer.tr, None),
        title: String::new(),
        body: String::new(),
        problems: Problems::default(),
        me: viewer.me(),
        tr: viewer.tr.clone(),
    };
    Ok(render(&page))
}

async fn create(State(state): State<AppState>, viewer: Viewer, form: Submitted) -> Result<Response, PageError> {
    let s = viewer.require()?;
    check_csrf(&viewer, form.get("csrf").unwrap_or(""))?;
    if !s.portal {
        return Ok(Redirect::to("/").into_response());
    }
    let tr = &viewer.tr;
    let partner = is_partner(&s.actor);
    let customers = partner_customers(&state, &viewer, &s.actor).await?;
    let title = form.text("title");
    let body = form.get("body").unwrap_or("").to_owned();
    let category = form.opt("category").and_then(|c| Category::parse(&c));
    let customer = form.opt("customer");
    let line = form.text("line");
    // The notices were shown for this very line (another line's would be shown first again).
    let seen_notices = !line.is_empty() && form.text("seen_notices") == line;
    let mut problems = Problems::default();
    if domain::validate::title(&title).is_err() {
        problems.title = Some(tr.t("portal-error-title"));
    }
    if body.trim().is_empty() || body.len() > domain::validate::MAX_BODY_BYTES {
        problems.body = Some(tr.t("portal-error-body"));
    }
    if category.is_none() {
        problems.category = Some(tr.t("portal-error-category"));
    }
    // A partner opens tickets on behalf of one of ITS customers only.
    if partner && !customer.as_ref().is_some_and(|code| customers.iter().any(|(c, _)| c == code)) {
        problems.customer = Some(tr.t("portal-error-customer"));
    }
    problems.check_files(tr, &state, &form.files);
    let queue = if problems.any() { None } else { portal_queue(&state, &s.actor).await.map_err(viewer.err())? };
    if !problems.any() && queue.is_none() {
        problems.other = Some(tr.t("portal-error-no-queue"));
    }
    let lines = line_suggestions(&state, &s.actor).await.map_err(viewer.err())?;
    // A line a notice touches: the notice first; submitting again opens the ticket anyway (it
    // is then linked to the notice by the app).
    let banners = line_banners(&state, tr, &s.actor, &line).await.map_err(viewer.err())?;
    let again = |problems: Problems, status: StatusCode, banners: Vec<Banner>| {
        let page = NewTicketPage {
            seen_notices: !banners.is_empty(),
            banners,
            lines: lines.clone(),
            line: line.clone(),
            partner,
            customers: customer_choices(&customers, customer.as_deref()),
            categories: category_choices(tr, category),
            title: title.clone(),
            body: body.clone(),
            problems,
            me: viewer.me(),
            tr: tr.clone(),
        };
        (status, render(&page)).into_response()
    };
    let Some(queue) = queue.filter(|_| !problems.any()) else {
        return Ok(again(problems, StatusCode::BAD_REQUEST, banners));
    };
    if !banners.is_empty() && !seen_notices {
        return Ok(again(problems, StatusCode::OK, banners));
    }
    let input = NewTicketInput {
        queue,
        title: title.clone(),
        body: body.clone(),
        category,
        customer: if partner { customer.clone() } else { None },
        attachments: form.files,
        line: Some(line.clone()).filter(|l| !l.is_empty()),
        ..Default::default()
    };
    match state.app.create_ticket(&s.actor, input).await {
        Ok(t) => Ok(Redirect::to(&format!("/portal/tickets/{}", t.number)).into_response()),
        Err(Error::Invalid(list)) => {
            problems.add_app_problems(tr, &list);
            Ok(again(problems, StatusCode::BAD_REQUEST, banners))
        }
        Err(e) => Err(viewer.err()(e)),
    }
}

/// An attachment as the thread shows it.
struct FileLink {
    id: i64,
    filename: String,
    size: String,
}

/// A public message as the thread shows it.
struct Message {
    author: String,
    at: String,
    when: String,
    /// HTML already sanitised by the app (ammonia), when the message came as HTML.
    html: Option<String>,
    text: String,
    files: Vec<FileLink>,
}

#[derive(Template)]
#[template(path = "portal_ticket.html")]
struct TicketPage {
    tr: Tr,
    me: Option<Me>,
    t: TicketView,
    created: String,
    updated: String,
    resolved: Option<String>,
    category: String,
    messages: Vec<Message>,
    can_close: bool,
    can_reopen: bool,
    /// Rejected tickets take no replies (a reply would not reopen them).
    can_reply: bool,
    /// What was typed in the reply box (kept when the reply is refused).
    body: String,
    problems: Problems,
}

/// A size in bytes for people: `512 B`, `12 KB`, `3.4 MB`.
fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KB", (b + 1023) / 1024),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn message(tr: &Tr, m: MessageView) -> Message {
    Message {
        author: m.author,
        at: m.created_at.to_string(),
        when: tr.when(&m.created_at),
        html: m.body_html,
        text: m.body_text,
        files: m
            .attachments
            .into_iter()
            .map(|a| FileLink { id: a.id, filename: a.filename, size: human_size(a.size) })
            .collect(),
    }
}

async fn show_ticket(
    state: &AppState,
    viewer: &Viewer,
    number: i64,
    body: String,
    problems: Problems,
    status: StatusCode,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let t = state.app.ticket(&s.actor, number).await.map_err(viewer.err())?;
    let list = state.app.messages(&s.actor, number).await.map_err(viewer.err())?;
    let tr = &viewer.tr;
    // Only public replies reach the customer side (the app already filters; this is a belt).
    let messages = list.into_iter().filter(|m| m.kind == MessageKind::Reply).map(|m| message(tr, m)).collect();
    let page = TicketPage {
        created: tr.when(&t.created_at),
        updated: tr.when(&t.updated_at),
        resolved: t.resolved_at.as_ref().map(|r| tr.when(r)),
        can_close: matches!(t.status, Status::New | Status::Open | Status::Stalled),
        can_reopen: t.status == Status::Resolved,
        can_reply: t.status != Status::Rejected,
        category: tr.t(&format!("portal-category-{}", t.category.as_str())),
        t,
        messages,
        body,
        problems,
        me: viewer.me(),
        tr: tr.clone(),
    };
    Ok((status, render(&page)).into_response())
}

async fn ticket_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(number): Path<String>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let n = super::ticket_number(&viewer, &number)?;
    if !s.portal {
        return Ok(Redirect::to(&format!("/tickets/{n}")).into_response());
    }
    show_ticket(&state, &viewer, n, String::new(), Problems::default(), StatusCode::OK).await
}

async fn reply(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(number): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    check_csrf(&viewer, form.get("csrf").unwrap_or(""))?;
    let n = super::ticket_number(&viewer, &number)?;
    if !s.portal {
        return Ok(Redirect::to(&format!("/tickets/{n}")).into_response());
    }
    let body = form.get("body").unwrap_or("").to_owned();
    let mut problems = Problems::default();
    if body.trim().is_empty() || body.len() > domain::validate::MAX_BODY_BYTES {
        problems.body = Some(viewer.tr.t("portal-error-body"));
    }
    problems.check_files(&viewer.tr, &state, &form.files);
    if problems.any() {
        // The ticket is read first, so another customer's number stays a 404.
        return show_ticket(&state, &viewer, n, body, problems, StatusCode::BAD_REQUEST).await;
    }
    let input = MessageInput {
        kind: MessageKind::Reply,
        body: body.clone(),
        body_html: None,
        attachments: form.files,
        status: None,
        owner: None,
        time: None,
    };
    match state.app.add_message(&s.actor, n, input).await {
        Ok(_) => Ok(Redirect::to(&format!("/portal/tickets/{n}")).into_response()),
        Err(Error::Invalid(list)) => {
            problems.add_app_problems(&viewer.tr, &list);
            show_ticket(&state, &viewer, n, body, problems, StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(viewer.err()(e)),
    }
}

/// Closes (resolved) or reopens (open) a ticket from the customer side.
async fn set_status(
    state: &AppState,
    viewer: &Viewer,
    number: &str,
    csrf: &str,
    status: Status,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    check_csrf(viewer, csrf)?;
    let n = super::ticket_number(viewer, number)?;
    if !s.portal {
        return Ok(Redirect::to(&format!("/tickets/{n}")).into_response());
    }
    // The app lets the customer side change the status only, and only to resolved or open.
    let patch = TicketPatch { status: Some(status), ..Default::default() };
    state.app.update_ticket(&s.actor, n, patch).await.map_err(viewer.err())?;
    Ok(Redirect::to(&format!("/portal/tickets/{n}")).into_response())
}

async fn close(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(number): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    set_status(&state, &viewer, &number, &f.csrf, Status::Resolved).await
}

async fn reopen(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(number): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    set_status(&state, &viewer, &number, &f.csrf, Status::Open).await
}

async fn attachment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((number, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let n = super::ticket_number(&viewer, &number)?;
    let id: i64 = id.parse().map_err(|_| viewer.err()(Error::NotFound(format!("attachment {id}"))))?;
    // The app answers NotFound for another customer's ticket and for files of internal comments.
    let (a, data) = state.app.attachment(&s.actor, n, id).await.map_err(viewer.err())?;
    Ok(super::download(&a.filename, &a.content_type, data))
}
