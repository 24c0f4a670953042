//! The agent ticket page: fields, thread, reply and comment, history, links, custom fields.

use axum::Router;

use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
