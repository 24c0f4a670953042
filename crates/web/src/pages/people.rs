//! Agent pages about people: a customer (contacts, tickets), a partner (its customers), a contact.

use axum::Router;

use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
