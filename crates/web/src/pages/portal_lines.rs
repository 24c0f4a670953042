//! The portal's lines and notices: a customer's (a partner: its customers') lines, each line's
//! page with the notices touching it, and a notice's page with its public timeline.
//!
//! The app answers `NotFound` for a line or a notice that does not touch the reader's lines;
//! these pages show it as the 404 page.

use app::inventory::LineView;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::notices::{Banner, banner};
use super::{Me, PageError, Tr, Viewer, render};
use crate::AppState;

/// The most lines the list shows at once (a filter narrows them).
const LINES_SHOWN: usize = 500;

/// The routes of the portal's lines and notices.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal/lines", get(lines))
        .route("/portal/lines/{identifier}", get(line_page))
        .route("/portal/notices/{id}", get(notice_page))
}

#[derive(Template)]
#[template(path = "portal_lines.html")]
struct LinesPage {
    tr: Tr,
    me: Option<Me>,
    q: String,
    lines: Vec<LineView>,
    /// Lines matching beyond those shown.
    hidden: usize,
    /// The reader is a partner (the customer column shows).
    partner: bool,
    /// Identifiers of the lines a notice touches now.
    affected: std::collections::HashSet<String>,
}

#[derive(Deserialize)]
struct LinesQuery {
    #[serde(default)]
    q: String,
}

async fn lines(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<LinesQuery>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if !s.portal {
        return Ok(Redirect::to("/").into_response());
    }
    let err = viewer.err();
    let q = query.q.trim().to_owned();
    let needle = q.to_lowercase();
    let mut all: Vec<LineView> = state
        .app
        .my_lines(&s.actor)
        .await
        .map_err(&err)?
        .into_iter()
        .filter(|l| {
            needle.is_empty()
                || l.identifier.to_lowercase().contains(&needle)
                || l.municipality_name.to_lowercase().contains(&needle)
                || l.customer.to_lowercase().contains(&needle)
        })
        .collect();
    let hidden = all.len().saturating_sub(LINES_SHOWN);
    all.truncate(LINES_SHOWN);
    let affected =
        state.app.my_notices(&s.actor).await.map_err(&err)?.into_iter().flat_map(|(_, lines)| lines).collect();
    let partner = matches!(s.actor.who, app::Who::Partner { .. });
    Ok(render(&LinesPage { me: viewer.me(), tr: viewer.tr.clone(), q, lines: all, hidden, partner, affected }))
}

#[derive(Template)]
#[template(path = "portal_line.html")]
struct LinePage {
    tr: Tr,
    me: Option<Me>,
    line: LineView,
    banners: Vec<Banner>,
}

async fn line_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(identifier): Path<String>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if !s.portal {
        return Ok(Redirect::to(&format!("/lines/{}", super::encode(&identifier))).into_response());
    }
    let err = viewer.err();
    let line = state.app.line(&s.actor, &identifier).await.map_err(&err)?;
    let notices = state.app.line_notices(&s.actor, &identifier).await.map_err(&err)?;
    let banners = notices
        .iter()
        .map(|n| banner(&viewer.tr, n, std::slice::from_ref(&line.identifier), "/portal/notices", "/portal/lines"))
        .collect();
    Ok(render(&LinePage { me: viewer.me(), tr: viewer.tr.clone(), line, banners }))
}

#[derive(Template)]
#[template(path = "portal_notice.html")]
struct NoticePage {
    tr: Tr,
    me: Option<Me>,
    b: Banner,
}

async fn notice_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let s = viewer.require()?;
    let err = viewer.err();
    let id: i64 = id.parse().map_err(|_| err(app::Error::NotFound(format!("notice {id}"))))?;
    if !s.portal {
        return Ok(Redirect::to(&format!("/notices/{id}")).into_response());
    }
    let n = state.app.notice(&s.actor, id).await.map_err(&err)?;
    let b = banner(&viewer.tr, &n, &[], "/portal/notices", "/portal/lines");
    Ok(render(&NoticePage { me: viewer.me(), tr: viewer.tr.clone(), b }))
}
