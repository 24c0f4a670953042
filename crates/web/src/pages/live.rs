//! Live updates by server-sent events: new tickets in a queue view, changes to an open ticket.

use axum::Router;

use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
