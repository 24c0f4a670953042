//! Admin pages: queues and custom fields, users and rights, partners, customers, contacts, API tokens.

use axum::Router;

use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
