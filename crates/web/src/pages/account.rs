//! Account pages: personal settings (language, time zone) and accepting an invitation.

use app::Error;
use app::account::SettingsInput;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::form::Submitted;
use super::portal::Choice;
use super::{Me, PageError, Tr, Viewer, check_csrf, render};
use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/settings", get(settings).post(save))
}

/// Time zones offered in the list (any IANA name may be typed).
const COMMON_ZONES: &[&str] = &[
    "Europe/Rome",
    "Europe/Madrid",
    "Europe/Andorra",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/Vienna",
    "Europe/Athens",
    "Europe/Bucharest",
    "Europe/Istanbul",
    "Africa/Casablanca",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Buenos_Aires",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
];

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    tr: Tr,
    me: Option<Me>,
    languages: Vec<Choice>,
    /// Users may follow the browser's language; a contact's language is also that of their emails.
    browser_default: bool,
    time_zone: String,
    zones: &'static [&'static str],
    saved: bool,
    language_error: Option<String>,
    zone_error: Option<String>,
}

fn languages(tr: &Tr, selected: Option<&str>) -> Vec<Choice> {
    ["en", "it", "ca"]
        .iter()
        .map(|l| Choice {
            value: (*l).to_owned(),
            label: tr.t(&format!("settings-language-{l}")),
            selected: selected == Some(*l),
        })
        .collect()
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn settings(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let current = state.app.settings(&s.actor).await.map_err(viewer.err())?;
    let page = SettingsPage {
        languages: languages(&viewer.tr, current.language.as_deref()),
        browser_default: !current.contact,
        time_zone: current.time_zone.unwrap_or_default(),
        zones: COMMON_ZONES,
        saved: q.saved.is_some(),
        language_error: None,
        zone_error: None,
        me: viewer.me(),
        tr: viewer.tr.clone(),
    };
    Ok(render(&page))
}

async fn save(State(state): State<AppState>, viewer: Viewer, form: Submitted) -> Result<Response, PageError> {
    let s = viewer.require()?;
    check_csrf(&viewer, form.get("csrf").unwrap_or(""))?;
    let language = form.opt("language");
    let time_zone = form.opt("time_zone");
    let input = SettingsInput { language: language.clone(), time_zone: time_zone.clone() };
    match state.app.save_settings(&s.actor, input).await {
        Ok(_) => Ok(Redirect::to("/settings?saved=1").into_response()),
        Err(Error::Invalid(problems)) => {
            let current = state.app.settings(&s.actor).await.map_err(viewer.err())?;
            let tr = &viewer.tr;
            let page = SettingsPage {
                languages: languages(tr, language.as_deref()),
                browser_default: !current.contact,
                time_zone: time_zone.unwrap_or_default(),
                zones: COMMON_ZONES,
                saved: false,
                language_error: problems.iter().any(|p| p.field == "language").then(|| tr.t("settings-error-language")),
                zone_error: problems.iter().any(|p| p.field == "time_zone").then(|| tr.t("settings-error-time-zone")),
                me: viewer.me(),
                tr: tr.clone(),
            };
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(viewer.err()(e)),
    }
}
