//! SLA in the console: the countdown badges of tickets with a clock (queue views, the ticket
//! page) and the "breaching soon" view (`/sla/breaching`). Staff only; portal users get a 404.

use app::views::TicketSummary;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use domain::clock::ClockState;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::people::staff;
use super::{Me, PageError, Tr, Viewer, render};
use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sla/breaching", get(breaching))
}

/// A clock due within this many seconds is urgent.
pub(crate) const SOON_SECS: i64 = 3600;

/// A countdown badge: the time left (or how late), a class by urgency, and the due instant.
pub(crate) struct Badge {
    /// `sla-late`, `sla-soon`, `sla-fine`, `sla-paused`, `sla-met`, `sla-stopped` or `sla-breached`.
    pub class: &'static str,
    /// What it says: "2 h 10 min", "late by 15 min", "paused".
    pub text: String,
    /// The due instant (RFC 3339, UTC) of a running clock, for `<time datetime>` and the script.
    pub due: Option<String>,
    /// The due instant in the reader's words ("Due 2026-11-23 11:30").
    pub title: String,
    /// "late by {}", for the script that refreshes the text.
    pub late: String,
    /// "{} d|{} h|{} min", for the script.
    pub units: String,
}

/// A stretch of time in words: "3 d 4 h", "2 h 10 min", "2 h", "15 min" (whole minutes, rounded down).
pub(crate) fn span(tr: &Tr, secs: i64) -> String {
    let minutes = secs.max(0) / 60;
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let unit = |key: &str, n: i64| tr.t1(key, "n", n);
    if d > 0 {
        if h > 0 { format!("{} {}", unit("sla-unit-d", d), unit("sla-unit-h", h)) } else { unit("sla-unit-d", d) }
    } else if h > 0 {
        if m > 0 { format!("{} {}", unit("sla-unit-h", h), unit("sla-unit-min", m)) } else { unit("sla-unit-h", h) }
    } else {
        unit("sla-unit-min", m)
    }
}

/// Minutes as hours and minutes ("10 h", "1 h 30 min", "25 min", "0 h"), for support time.
pub(crate) fn hours(tr: &Tr, minutes: i64) -> String {
    let (h, m) = (minutes.max(0) / 60, minutes.max(0) % 60);
    match (h, m) {
        (0, 0) => tr.t1("sla-unit-h", "n", 0),
        (0, m) => tr.t1("sla-unit-min", "n", m),
        (h, 0) => tr.t1("sla-unit-h", "n", h),
        (h, m) => format!("{} {}", tr.t1("sla-unit-h", "n", h), tr.t1("sla-unit-min", "n", m)),
    }
}

/// Business or wall seconds left, signed: "2 h 10 min" or "late by 15 min".
pub(crate) fn left(tr: &Tr, secs: i64) -> String {
    if secs < 0 { tr.t1("sla-late-by", "time", span(tr, -secs)) } else { span(tr, secs) }
}

/// The badge of a clock due at `due` in `state`, seen at `now`; none without a clock.
pub(crate) fn badge(tr: &Tr, due: Option<Timestamp>, state: Option<ClockState>, now: Timestamp) -> Option<Badge> {
    let state = state?;
    let plain = |class: &'static str, key: &str| Badge {
        class,
        text: tr.t(key),
        due: None,
        title: String::new(),
        late: String::new(),
        units: String::new(),
    };
    match (state, due) {
        (ClockState::Running | ClockState::Breached, Some(due)) => {
            let secs = due.duration_since(now).as_secs();
            let class = if secs < 0 {
                "sla-late"
            } else if secs <= SOON_SECS {
                "sla-soon"
            } else {
                "sla-fine"
            };
            Some(Badge {
                class,
                text: left(tr, secs),
                due: Some(due.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                title: tr.t1("sla-due-at", "when", tr.when(&due)),
                late: tr.t1("sla-late-by", "time", "{}"),
                units: ["sla-unit-d", "sla-unit-h", "sla-unit-min"]
                    .iter()
                    .map(|k| tr.t1(k, "n", "{}"))
                    .collect::<Vec<_>>()
                    .join("|"),
            })
        }
        (ClockState::Paused, _) => Some(plain("sla-paused", "sla-state-paused")),
        (ClockState::Met, _) => Some(plain("sla-met", "sla-state-met")),
        (ClockState::Stopped, _) => Some(plain("sla-stopped", "sla-state-stopped")),
        (ClockState::Breached, None) => Some(plain("sla-breached", "sla-state-breached")),
        (ClockState::Running, None) => None,
    }
}

/// The badge of a listed ticket.
pub(crate) fn summary_badge(tr: &Tr, t: &TicketSummary, now: Timestamp) -> Option<Badge> {
    badge(tr, t.sla_due, t.sla_state, now)
}

/// The windows the breaching-soon view offers, as (value in the URL, hours).
pub(crate) const WINDOWS: [(&str, i64); 3] = [("1h", 1), ("4h", 4), ("24h", 24)];

#[derive(Template)]
#[template(path = "sla_breaching.html")]
struct BreachingPage {
    tr: Tr,
    me: Option<Me>,
    within: String,
    windows: [&'static str; 3],
    tickets: Vec<TicketSummary>,
    now: Timestamp,
}

impl BreachingPage {
    fn badge(&self, t: &TicketSummary) -> Option<Badge> {
        summary_badge(&self.tr, t, self.now)
    }
}

#[derive(Deserialize)]
struct WindowQuery {
    within: Option<String>,
}

/// Tickets whose clock is due within the chosen window (late ones included), soonest first.
async fn breaching(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<WindowQuery>,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let (within, hours) = WINDOWS.iter().find(|(w, _)| Some(*w) == q.within.as_deref()).copied().unwrap_or(("4h", 4));
    let tickets =
        state.app.breaching_soon(&s.actor, SignedDuration::from_hours(hours), 200).await.map_err(viewer.err())?;
    Ok(render(&BreachingPage {
        me: viewer.me(),
        tr: viewer.tr.clone(),
        within: within.to_owned(),
        windows: WINDOWS.map(|(w, _)| w),
        tickets,
        now: state.app.now(),
    }))
}
