//! Server-rendered pages (askama): login and logout, the agent console and the customer and
//! partner portal. Every page works without JavaScript; forms carry the session's CSRF token.

mod account;
mod admin;
mod admin_mail;
mod admin_sla;
mod alerts;
mod form;
pub mod i18n;
mod invite;
pub mod live;
mod notices;
mod people;
mod portal;
mod portal_lines;
mod queue;
mod sla;
mod status;
mod storm;
mod ticket;

use std::net::SocketAddr;

use app::Error;
use app::sessions::{Session, csrf_matches};
use app::tickets::{ListInput, QueueCounts};
use app::views::TicketSummary;
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::Status;
use serde::Deserialize;

use crate::AppState;
pub use i18n::Tr;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sportello_session";
/// The cookie that protects the login form itself (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "sportello_login";

/// Settings of the pages.
#[derive(Debug, Clone)]
pub struct PagesConfig {
    /// Mark cookies `Secure` (the instance is served over https).
    pub secure_cookies: bool,
    /// The language when neither the user nor the browser names a supported one.
    pub default_language: String,
    /// The time zone of dates for users who have not set one.
    pub time_zone: jiff::tz::TimeZone,
    /// The instance's public address (`https://help.example.net`), for links given to people
    /// outside a page (invitations); relative links when unknown.
    pub public_url: Option<String>,
}

impl Default for PagesConfig {
    /// Plain http, English, Europe/Rome.
    fn default() -> Self {
        PagesConfig {
            secure_cookies: false,
            default_language: "en".into(),
            time_zone: jiff::tz::TimeZone::get("Europe/Rome").unwrap_or(jiff::tz::TimeZone::UTC),
            public_url: None,
        }
    }
}

/// The routes of the pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/", get(home))
        .route("/static/app.css", get(stylesheet))
        .route("/static/app.js", get(script))
        .merge(queue::routes())
        .merge(ticket::routes())
        .merge(live::routes())
        .merge(portal::routes())
        .merge(portal_lines::routes())
        .merge(notices::routes())
        .merge(alerts::routes())
        .merge(account::routes())
        .merge(people::routes())
        .merge(admin::routes())
        .merge(admin_mail::routes())
        .merge(admin_sla::routes())
        .merge(sla::routes())
        .merge(status::routes())
        .merge(storm::routes())
        .merge(invite::routes())
}

/// What the header of every page shows about the signed-in person.
pub struct Me {
    /// Display name.
    pub name: String,
    /// The CSRF token for the logout form.
    pub csrf: String,
    /// Whether they use the portal.
    pub portal: bool,
    /// Whether they are an administrator (the admin link).
    pub admin: bool,
}

/// The request's reader: their session (if any) and their translations.
pub struct Viewer {
    /// The live session.
    pub session: Option<Session>,
    /// Translations in the negotiated language and the reader's time zone.
    pub tr: Tr,
    /// The path and query asked for (to come back to after login).
    pub asked: String,
}

impl Viewer {
    pub(crate) fn me(&self) -> Option<Me> {
        self.session.as_ref().map(|s| Me {
            name: s.name.clone(),
            csrf: s.csrf.clone(),
            portal: s.portal,
            admin: matches!(s.actor.who, app::access::Who::Admin),
        })
    }

    /// Turns a use case's error into this page's error (in the reader's language).
    pub(crate) fn err(&self) -> impl Fn(Error) -> PageError + '_ {
        move |e| match self.me() {
            Some(me) => PageError::Signed(e, self.tr.clone(), Box::new(me)),
            None => PageError::App(e, self.tr.clone()),
        }
    }

    /// The session, or a redirect to the login page that comes back here.
    pub(crate) fn require(&self) -> Result<&Session, PageError> {
        self.session.as_ref().ok_or_else(|| PageError::Login(self.asked.clone()))
    }
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => {
                state.app.session(token).await.map_err(|e| PageError::App(e, browser_tr(state, &parts.headers)))?
            }
            None => None,
        };
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let lang = i18n::negotiate(
            session.as_ref().and_then(|s| s.language.as_deref()),
            accept,
            &state.pages.default_language,
        );
        let tz = session
            .as_ref()
            .and_then(|s| s.time_zone.as_deref())
            .and_then(|z| jiff::tz::TimeZone::get(z).ok())
            .unwrap_or_else(|| state.pages.time_zone.clone());
        let asked = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
        Ok(Viewer { session, tr: Tr { lang, tz }, asked })
    }
}

/// Translations from the browser's `Accept-Language` alone (no session read).
fn browser_tr(state: &AppState, headers: &HeaderMap) -> Tr {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Tr { lang: i18n::negotiate(None, accept, &state.pages.default_language), tz: state.pages.time_zone.clone() }
}

/// A ticket number from a URL; anything else is a page that does not exist.
pub(crate) fn ticket_number(viewer: &Viewer, text: &str) -> Result<i64, PageError> {
    text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| viewer.err()(Error::NotFound(format!("ticket {text}"))))
}

/// The "not found" page, for a browser asking for a path that no page has.
pub fn not_found_page(state: &AppState, headers: &HeaderMap) -> Response {
    PageError::App(Error::NotFound("page".into()), browser_tr(state, headers)).into_response()
}

/// Why a page could not be shown.
pub enum PageError {
    /// Not signed in (or the session ended): to the login page, then back to this path.
    Login(String),
    /// The form's CSRF token is missing or wrong.
    Csrf(Tr),
    /// A use case refused or failed.
    App(Error, Tr),
    /// A use case refused or failed, for a signed-in reader (the page keeps its navigation).
    Signed(Error, Tr, Box<Me>),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    tr: Tr,
    me: Option<Me>,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (e, tr, me) = match self {
            PageError::Login(next) => {
                return Redirect::to(&format!("/login?next={}", encode(&next))).into_response();
            }
            PageError::Csrf(tr) => {
                let message = tr.t("error-csrf");
                return (StatusCode::FORBIDDEN, render(&ErrorPage { tr, me: None, message })).into_response();
            }
            PageError::App(e, tr) => (e, tr, None),
            PageError::Signed(e, tr, me) => (e, tr, Some(*me)),
        };
        let (status, tr, key) = match e {
            Error::NotFound(_) => (StatusCode::NOT_FOUND, tr, "error-not-found"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, tr, "error-forbidden"),
            Error::Unauthenticated => return Redirect::to("/login").into_response(),
            Error::Invalid(_) | Error::Unprocessable(_) | Error::Transition { .. } | Error::Conflict(_) => {
                (StatusCode::BAD_REQUEST, tr, "error-invalid")
            }
            Error::RateLimited(_) | Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, tr, "error-unavailable"),
            Error::Internal(m) => {
                tracing::error!(error = %m, "a page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, tr, "error-title")
            }
        };
        let message = tr.t(key);
        (status, render(&ErrorPage { tr, me, message })).into_response()
    }
}

pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Percent-encodes a path for a query parameter.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after login: a local path only (no open redirects), else the home page.
pub(crate) fn local_path(next: &str) -> &str {
    // Browsers drop tabs and line breaks inside URLs (`/\t/evil.example` becomes `//evil.example`),
    // so any control character or space makes the path suspect.
    let plain = next.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if plain && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') && !next.contains("://") {
        next
    } else {
        "/"
    }
}

pub(crate) fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let secure = if state.pages.secure_cookies { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    next: String,
    email: String,
    message: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn login_page(
    state: &AppState,
    tr: Tr,
    next: &str,
    email: &str,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = app::auth::new_token_secret();
    let page = LoginPage {
        tr,
        me: None,
        csrf: csrf.clone(),
        next: local_path(next).to_owned(),
        email: email.to_owned(),
        message,
    };
    let mut r = (status, render(&page)).into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, "/login", "Strict", None));
    r
}

async fn login_form(State(state): State<AppState>, viewer: Viewer, Query(q): Query<NextQuery>) -> Response {
    let next = q.next.unwrap_or_else(|| "/".into());
    if viewer.session.is_some() {
        return Redirect::to(local_path(&next)).into_response();
    }
    login_page(&state, viewer.tr, &next, "", None, StatusCode::OK)
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// The peer's address, when the server recorded it.
pub(crate) struct Peer(String);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

async fn login(
    State(state): State<AppState>,
    viewer: Viewer,
    Peer(peer): Peer,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !app::auth::same_secret(expected, &f.csrf) {
        return PageError::Csrf(viewer.tr).into_response();
    }
    let previous = cookie(&headers, SESSION_COOKIE);
    match state.app.login(&f.email, &f.password, &peer, previous).await {
        Ok(s) => {
            let to = if f.next.is_empty() || f.next == "/" {
                if s.portal { "/portal" } else { "/" }
            } else {
                local_path(&f.next)
            };
            let mut r = Redirect::to(to).into_response();
            r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &s.token, "/", "Lax", None));
            r.headers_mut()
                .append(header::SET_COOKIE, set_cookie(&state, LOGIN_CSRF_COOKIE, "", "/login", "Strict", Some(0)));
            r
        }
        Err(Error::Unauthenticated) => {
            let m = viewer.tr.t("login-failed");
            login_page(&state, viewer.tr, &f.next, &f.email, Some(m), StatusCode::UNAUTHORIZED)
        }
        Err(Error::RateLimited(secs)) => {
            let m = viewer.tr.t1("login-rate-limited", "minutes", secs.div_ceil(60));
            login_page(&state, viewer.tr, &f.next, &f.email, Some(m), StatusCode::TOO_MANY_REQUESTS)
        }
        Err(e) => PageError::App(e, viewer.tr).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

/// Checks the form's CSRF token against the session's.
pub(crate) fn check_csrf(viewer: &Viewer, given: &str) -> Result<(), PageError> {
    match &viewer.session {
        Some(s) if csrf_matches(s, given) => Ok(()),
        _ => Err(PageError::Csrf(viewer.tr.clone())),
    }
}

async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    viewer.require()?;
    check_csrf(&viewer, &f.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.app.logout(token).await.map_err(|e| PageError::App(e, viewer.tr.clone()))?;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", "/", "Lax", Some(0)));
    Ok(r)
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    tr: Tr,
    me: Option<Me>,
    queues: Vec<QueueCounts>,
    mine: Vec<TicketSummary>,
    stalled: Vec<TicketSummary>,
}

async fn home(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if s.portal {
        return Ok(Redirect::to("/portal").into_response());
    }
    let err = viewer.err();
    let queues = state.app.queue_counts(&s.actor).await.map_err(&err)?;
    let open = vec![Status::New, Status::Open, Status::Stalled];
    let mine = state
        .app
        .list_tickets(
            &s.actor,
            ListInput { owner: Some("me".into()), statuses: open, limit: Some(50), ..Default::default() },
        )
        .await
        .map_err(&err)?
        .tickets;
    // Oldest first: those are the ones piling up.
    let stalled = state
        .app
        .list_tickets(
            &s.actor,
            ListInput {
                statuses: vec![Status::Stalled],
                order: Some("stale".into()),
                limit: Some(50),
                ..Default::default()
            },
        )
        .await
        .map_err(&err)?
        .tickets;
    Ok(render(&HomePage { me: viewer.me(), tr: viewer.tr.clone(), queues, mine, stalled }))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        include_str!("../../static/app.js"),
    )
        .into_response()
}

/// A stored file as a download: never shown inline, whatever its type.
pub(crate) fn download(filename: &str, content_type: &str, data: Vec<u8>) -> Response {
    let mut r = data.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, download_type(content_type));
    h.insert(header::CONTENT_DISPOSITION, disposition(filename));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    r
}

/// The content type to send a stored attachment with: the stored one unless a browser could run
/// it as a document (HTML, SVG, XML, scripts), which goes as `application/octet-stream`.
fn download_type(stored: &str) -> HeaderValue {
    let essence = stored.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let well_formed = essence.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && essence.chars().all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c));
    let active = ["html", "svg", "xml", "script", "multipart", "x-shockwave"].iter().any(|w| essence.contains(w));
    if well_formed && !active {
        HeaderValue::from_str(&essence).unwrap_or(HeaderValue::from_static("application/octet-stream"))
    } else {
        HeaderValue::from_static("application/octet-stream")
    }
}

/// `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266 / RFC 8187).
fn disposition(filename: &str) -> HeaderValue {
    let ascii: String =
        filename.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' }).collect();
    let ascii = if ascii.trim().is_empty() { "attachment".to_owned() } else { ascii };
    let mut utf8 = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
            utf8.push(b as char);
        } else {
            utf8.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{utf8}"))
        .unwrap_or(HeaderValue::from_static("attachment"))
}
