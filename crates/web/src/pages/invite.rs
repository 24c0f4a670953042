//! Invitations: the link a new contact or partner user opens to choose a password and log in.

use axum::Router;

use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
