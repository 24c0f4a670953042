//! The customer and partner portal: home, opening a ticket, a ticket's public thread.

use app::tickets::ListInput;
use app::views::TicketSummary;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::Status;

use super::{Me, PageError, Tr, Viewer, render};
use crate::AppState;

/// The routes of the portal.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/portal", get(portal))
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    tr: Tr,
    me: Option<Me>,
    open: Vec<TicketSummary>,
    recent: Vec<TicketSummary>,
}

async fn portal(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = viewer.require()?;
    if !s.portal {
        return Ok(Redirect::to("/").into_response());
    }
    let err = |e| PageError::App(e, viewer.tr.clone());
    let open = vec![Status::New, Status::Open, Status::Stalled];
    let open = state
        .app
        .list_tickets(&s.actor, ListInput { statuses: open, limit: Some(100), ..Default::default() })
        .await
        .map_err(err)?
        .tickets;
    let recent = state
        .app
        .list_tickets(&s.actor, ListInput { order: Some("updated".into()), limit: Some(10), ..Default::default() })
        .await
        .map_err(err)?
        .tickets;
    Ok(render(&PortalPage { me: viewer.me(), tr: viewer.tr, open, recent }))
}
