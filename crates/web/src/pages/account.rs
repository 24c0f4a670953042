//! Account pages: personal settings (language, time zone) and accepting an invitation.

use axum::Router;

use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
