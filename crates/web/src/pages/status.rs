//! The public status page `/status`, its Atom feed `/status.atom` and its iCalendar feed of planned
//! maintenance `/status.ics` (no login; the same for everyone, so shared caches may keep them for
//! 30 s), and the admin form that turns them off and sets the ticket storm rule
//! (`/admin/status`). When the operator turns the page off, all three answer 404.
//!
//! The page never reads the session: it is public and cacheable, so nothing personal may be on
//! it. Its language is `?lang=` (`en`, `it`, `ca`), else the browser's, else the instance default.

use app::Error;
use app::FieldProblem;
use app::instance::{
    InstanceSettings, InstanceSettingsInput, MAINTENANCE_LEAD_RANGE, STORM_MIN_TICKETS_RANGE, STORM_WITHIN_RANGE,
};
use app::status::{PublicNotice, StatusPage};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::feed::{Ics, ics_utc, rfc3339, xml_escape};
use domain::notice::{NoticeKind, NoticeState};
use serde::Deserialize;

use super::admin::{admin, invalid, posted, problems, to};
use super::form::Submitted;
use super::{Me, PageError, Tr, Viewer, i18n, not_found_page, render};
use crate::AppState;

/// How long browsers and shared caches may keep the page and the feeds.
pub const CACHE_CONTROL: &str = "public, max-age=30";

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(page))
        .route("/status.atom", get(atom))
        .route("/status.ics", get(ics))
        .route("/admin/status", get(settings_form).post(save_settings))
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// The reader's translations: `?lang=`, else `Accept-Language`, else the instance default.
fn reader(state: &AppState, headers: &HeaderMap, q: &LangQuery) -> Tr {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let lang = match q.lang.as_deref().and_then(i18n::supported) {
        Some(l) => l,
        None => i18n::negotiate(None, accept, &state.pages.default_language),
    };
    Tr { lang, tz: state.pages.time_zone.clone() }
}

/// The instance's public address without a trailing slash, if known.
fn base(state: &AppState) -> Option<String> {
    state.pages.public_url.as_deref().map(|u| u.trim_end_matches('/').to_owned()).filter(|u| !u.is_empty())
}

fn cached(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL)),
            (header::VARY, HeaderValue::from_static("Accept-Language")),
        ],
        body,
    )
        .into_response()
}

/// A feed's failure: 404 when the page is off, the use case's status otherwise.
fn feed_error(e: Error) -> Response {
    let status = match e {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Unavailable(_) | Error::RateLimited(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            tracing::error!(error = %e, "a status feed failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    (status, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], status.canonical_reason().unwrap_or(""))
        .into_response()
}

// ----- labels -----

fn kind_label(tr: &Tr, k: NoticeKind) -> String {
    tr.named("statuspage-kind", k.as_str())
}

fn state_label(tr: &Tr, s: NoticeState) -> String {
    tr.named("statuspage-state", s.as_str())
}

/// The regions and the services of a notice, each as one line of text.
fn place(tr: &Tr, n: &PublicNotice) -> (String, String) {
    let list = |all: bool, names: &[String], all_key: &str| {
        if all {
            tr.t(all_key)
        } else if names.is_empty() {
            tr.t("statuspage-area-unknown")
        } else {
            names.join(", ")
        }
    };
    (
        list(n.all_regions, &n.regions, "statuspage-all-regions"),
        list(n.all_services, &n.services, "statuspage-all-services"),
    )
}

// ----- the page -----

struct Step {
    when: String,
    state: String,
    text: String,
}

struct Shown {
    anchor: String,
    title: String,
    body: String,
    kind: String,
    state: String,
    impact: String,
    window: Option<String>,
    restoration: Option<String>,
    published: String,
    ended: Option<String>,
    regions: String,
    services: String,
    timeline: Vec<Step>,
}

fn shown(tr: &Tr, n: &PublicNotice) -> Shown {
    let (regions, services) = place(tr, n);
    Shown {
        anchor: format!("notice-{}", n.id),
        title: n.title.clone(),
        body: n.body.clone(),
        kind: kind_label(tr, n.kind),
        state: state_label(tr, n.state),
        impact: tr.named("statuspage-impact", n.impact.as_str()),
        window: match (n.window_start, n.window_end) {
            (Some(s), Some(e)) => Some(format!("{} – {}", tr.when(&s), tr.when(&e))),
            _ => None,
        },
        restoration: n.estimated_restoration.filter(|_| n.ended_at.is_none()).map(|at| tr.when(&at)),
        published: tr.when(&n.published_at),
        ended: n.ended_at.map(|at| tr.when(&at)),
        regions,
        services,
        timeline: n
            .timeline
            .iter()
            .map(|e| Step { when: tr.when(&e.at), state: state_label(tr, e.state), text: e.text.clone() })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusHtml {
    tr: Tr,
    generated: String,
    zone: String,
    incidents: Vec<Shown>,
    maintenance: Vec<Shown>,
    history: Vec<Shown>,
    lang_query: String,
}

async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let tr = reader(&state, &headers, &q);
    let p = match state.app.status_page(tr.lang).await {
        Ok(p) => p,
        Err(Error::NotFound(_)) => return not_found_page(&state, &headers),
        Err(e) => return PageError::App(e, tr).into_response(),
    };
    let html = StatusHtml {
        generated: tr.when(&p.generated_at),
        zone: tr.tz.iana_name().unwrap_or("UTC").to_owned(),
        incidents: p.incidents.iter().map(|n| shown(&tr, n)).collect(),
        maintenance: p.maintenance.iter().map(|n| shown(&tr, n)).collect(),
        history: p.history.iter().map(|n| shown(&tr, n)).collect(),
        lang_query: if q.lang.as_deref().and_then(i18n::supported).is_some() {
            format!("?lang={}", tr.lang)
        } else {
            String::new()
        },
        tr,
    };
    match html.render() {
        Ok(body) => cached("text/html; charset=utf-8", body),
        Err(e) => {
            tracing::error!(error = %e, "the status page template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

// ----- Atom -----

/// The text of an entry: the notice's text, where, its window and restoration, and the timeline.
fn entry_text(tr: &Tr, n: &PublicNotice) -> String {
    let (regions, services) = place(tr, n);
    let mut out = String::new();
    if !n.body.trim().is_empty() {
        out.push_str(n.body.trim());
        out.push_str("\n\n");
    }
    out.push_str(&format!("{}: {}\n", tr.t("statuspage-regions"), regions));
    out.push_str(&format!("{}: {}\n", tr.t("statuspage-services"), services));
    out.push_str(&format!("{}: {}\n", tr.t("statuspage-impact"), tr.named("statuspage-impact", n.impact.as_str())));
    if let (Some(s), Some(e)) = (n.window_start, n.window_end) {
        out.push_str(&format!("{}: {} – {}\n", tr.t("statuspage-window"), tr.when(&s), tr.when(&e)));
    }
    if let Some(at) = n.estimated_restoration.filter(|_| n.ended_at.is_none()) {
        out.push_str(&format!("{}: {}\n", tr.t("statuspage-restoration"), tr.when(&at)));
    }
    for step in &n.timeline {
        out.push_str(&format!("\n{} · {}\n{}\n", tr.when(&step.at), state_label(tr, step.state), step.text.trim()));
    }
    out
}

/// The Atom 1.0 document of the page: one entry per notice, updated at its last change.
pub(crate) fn atom_document(tr: &Tr, page: &StatusPage, base: Option<&str>) -> String {
    let feed_id = match base {
        Some(b) => format!("{b}/status"),
        None => "urn:sportello:status".to_owned(),
    };
    let link = |path: &str| format!("{}{path}", base.unwrap_or(""));
    let mut x = String::with_capacity(4096);
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str(&format!("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n", tr.lang));
    x.push_str(&format!("  <id>{}</id>\n", xml_escape(&feed_id)));
    x.push_str(&format!("  <title type=\"text\">{}</title>\n", xml_escape(&tr.t("statuspage-title"))));
    x.push_str(&format!("  <subtitle type=\"text\">{}</subtitle>\n", xml_escape(&tr.t("statuspage-intro"))));
    x.push_str(&format!("  <updated>{}</updated>\n", rfc3339(page.updated_at)));
    x.push_str(&format!("  <author><name>{}</name></author>\n", xml_escape(&tr.t("app-name"))));
    x.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        xml_escape(&link("/status.atom"))
    ));
    x.push_str(&format!("  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n", xml_escape(&link("/status"))));
    x.push_str("  <generator>Sportello</generator>\n");
    for n in page.all() {
        let id = match base {
            Some(b) => format!("{b}/status#notice-{}", n.id),
            None => format!("urn:sportello:status:notice:{}", n.id),
        };
        let title = format!("{} · {}: {}", kind_label(tr, n.kind), state_label(tr, n.state), n.title);
        x.push_str("  <entry>\n");
        x.push_str(&format!("    <id>{}</id>\n", xml_escape(&id)));
        x.push_str(&format!("    <title type=\"text\">{}</title>\n", xml_escape(&title)));
        x.push_str(&format!("    <published>{}</published>\n", rfc3339(n.published_at)));
        x.push_str(&format!("    <updated>{}</updated>\n", rfc3339(n.updated_at)));
        x.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            xml_escape(&link(&format!("/status#notice-{}", n.id)))
        ));
        x.push_str(&format!(
            "    <category term=\"{}\" label=\"{}\"/>\n",
            n.kind.as_str(),
            xml_escape(&kind_label(tr, n.kind))
        ));
        x.push_str(&format!("    <content type=\"text\">{}</content>\n", xml_escape(&entry_text(tr, n))));
        x.push_str("  </entry>\n");
    }
    x.push_str("</feed>\n");
    x
}

async fn atom(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let tr = reader(&state, &headers, &q);
    match state.app.status_page(tr.lang).await {
        Ok(p) => cached("application/atom+xml; charset=utf-8", atom_document(&tr, &p, base(&state).as_deref())),
        Err(e) => feed_error(e),
    }
}

// ----- iCalendar -----

/// The iCalendar document of the planned maintenance on the page (upcoming, in progress and
/// recently ended; cancelled ones as `STATUS:CANCELLED`).
pub(crate) fn ics_document(tr: &Tr, page: &StatusPage, base: Option<&str>) -> String {
    let host = base
        .and_then(|b| b.split("://").nth(1))
        .map(|rest| rest.split(['/', ':']).next().unwrap_or("").to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sportello".to_owned());
    let mut ics = Ics::new();
    ics.raw("BEGIN", "VCALENDAR")
        .raw("VERSION", "2.0")
        .raw("PRODID", "-//Sportello//Status page//EN")
        .raw("CALSCALE", "GREGORIAN")
        .text("X-WR-CALNAME", &tr.t("statuspage-ics-name"));
    for n in page.all().filter(|n| n.kind == NoticeKind::Maintenance) {
        let (Some(start), Some(end)) = (n.window_start, n.window_end) else { continue };
        let (regions, services) = place(tr, n);
        let mut description = String::new();
        if !n.body.trim().is_empty() {
            description.push_str(n.body.trim());
            description.push_str("\n\n");
        }
        description.push_str(&format!("{}: {}\n", tr.t("statuspage-regions"), regions));
        description.push_str(&format!("{}: {}\n", tr.t("statuspage-services"), services));
        description.push_str(&format!("{}: {}", tr.t("statuspage-state"), state_label(tr, n.state)));
        ics.raw("BEGIN", "VEVENT")
            .text("UID", &format!("notice-{}@{host}", n.id))
            .raw("DTSTAMP", &ics_utc(n.updated_at))
            .raw("CREATED", &ics_utc(n.published_at))
            .raw("LAST-MODIFIED", &ics_utc(n.updated_at))
            .raw("SEQUENCE", &n.sequence.to_string())
            .raw("DTSTART", &ics_utc(start))
            .raw("DTEND", &ics_utc(end))
            .text("SUMMARY", &n.title)
            .text("DESCRIPTION", &description)
            .text("CATEGORIES", &kind_label(tr, n.kind))
            .raw("TRANSP", "TRANSPARENT")
            .raw("STATUS", if n.state == NoticeState::Cancelled { "CANCELLED" } else { "CONFIRMED" });
        if let Some(b) = base {
            ics.raw("URL", &format!("{b}/status#notice-{}", n.id));
        }
        ics.raw("END", "VEVENT");
    }
    ics.raw("END", "VCALENDAR");
    ics.finish()
}

async fn ics(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let tr = reader(&state, &headers, &q);
    match state.app.status_page(tr.lang).await {
        Ok(p) => cached("text/calendar; charset=utf-8", ics_document(&tr, &p, base(&state).as_deref())),
        Err(e) => feed_error(e),
    }
}

// ----- admin: the switch and the storm rule -----

#[derive(Template)]
#[template(path = "admin_status.html")]
struct SettingsPage {
    tr: Tr,
    me: Option<Me>,
    status_page: bool,
    storm_min_tickets: String,
    storm_within_minutes: String,
    maintenance_lead_days: String,
    problems: Vec<FieldProblem>,
    saved: bool,
}

impl SettingsPage {
    fn of(viewer: &Viewer, s: InstanceSettings, saved: bool) -> SettingsPage {
        SettingsPage {
            tr: viewer.tr.clone(),
            me: viewer.me(),
            status_page: s.status_page,
            storm_min_tickets: s.storm_min_tickets.to_string(),
            storm_within_minutes: s.storm_within_minutes.to_string(),
            maintenance_lead_days: s.maintenance_lead_days.to_string(),
            problems: Vec::new(),
            saved,
        }
    }
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn settings_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    let s = state.app.instance_settings().await.map_err(viewer.err())?;
    Ok(render(&SettingsPage::of(&viewer, s, q.saved.is_some())))
}

/// A whole number from a form field, or a problem naming it.
fn number(f: &Submitted, name: &str, p: &mut Vec<FieldProblem>) -> Option<i64> {
    let text = f.text(name);
    match text.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            p.push(FieldProblem { field: name.into(), message: "a whole number".into() });
            None
        }
    }
}

async fn save_settings(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let mut bad = Vec::new();
    let input = InstanceSettingsInput {
        status_page: Some(f.checked("status_page")),
        storm_min_tickets: number(&f, "storm_min_tickets", &mut bad),
        storm_within_minutes: number(&f, "storm_within_minutes", &mut bad),
        maintenance_lead_days: number(&f, "maintenance_lead_days", &mut bad),
    };
    let result = if bad.is_empty() {
        state.app.save_instance_settings(&s.actor, input).await
    } else {
        // Report the numbers out of range beside those that are not numbers at all.
        for (name, value, (low, high)) in [
            ("storm_min_tickets", input.storm_min_tickets, STORM_MIN_TICKETS_RANGE),
            ("storm_within_minutes", input.storm_within_minutes, STORM_WITHIN_RANGE),
            ("maintenance_lead_days", input.maintenance_lead_days, MAINTENANCE_LEAD_RANGE),
        ] {
            if value.is_some_and(|n| !(low..=high).contains(&n)) {
                bad.push(FieldProblem { field: name.into(), message: format!("between {low} and {high}") });
            }
        }
        Err(Error::Invalid(bad))
    };
    match result {
        Ok(_) => Ok(to("/admin/status?saved=1")),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            Ok(invalid(&SettingsPage {
                tr: viewer.tr.clone(),
                me: viewer.me(),
                status_page: f.checked("status_page"),
                storm_min_tickets: f.text("storm_min_tickets"),
                storm_within_minutes: f.text("storm_within_minutes"),
                maintenance_lead_days: f.text("maintenance_lead_days"),
                problems,
                saved: false,
            }))
        }
    }
}
