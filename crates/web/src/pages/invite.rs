//! Invitations: the link a new contact or partner user opens to choose a password and log in.
//!
//! There is no session yet, so the form is protected like the login form: a random token in a
//! cookie scoped to `/invite` and in the form (double submit).

use app::Error;
use app::invitations::{InvitationState, InvitationView};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::form::Submitted;
use super::{Me, PageError, Peer, SESSION_COOKIE, Tr, Viewer, cookie, render, set_cookie};
use crate::AppState;

/// The cookie that protects the invitation form (double submit).
const INVITE_CSRF_COOKIE: &str = "sportello_invite";

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/invite/{secret}", get(invitation).post(accept))
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    secret: String,
    invitation: InvitationView,
    min: usize,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "invite_gone.html")]
struct GonePage {
    tr: Tr,
    me: Option<Me>,
    message: String,
}

/// The page for a link that cannot be used: 404 unknown, 410 used or expired.
fn gone(tr: Tr, state: Option<InvitationState>) -> Response {
    let (status, key) = match state {
        None => (StatusCode::NOT_FOUND, "invite-unknown"),
        Some(InvitationState::Used) => (StatusCode::GONE, "invite-used"),
        Some(_) => (StatusCode::GONE, "invite-expired"),
    };
    let message = tr.t(key);
    (status, render(&GonePage { tr, me: None, message })).into_response()
}

fn form(
    state: &AppState,
    tr: Tr,
    secret: String,
    invitation: InvitationView,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = app::auth::new_token_secret();
    let page = InvitePage {
        tr,
        me: None,
        csrf: csrf.clone(),
        secret,
        invitation,
        min: app::auth::MIN_PASSWORD_CHARS,
        message,
    };
    let mut r = (status, render(&page)).into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(state, INVITE_CSRF_COOKIE, &csrf, "/invite", "Strict", None));
    r
}

async fn invitation(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(secret): Path<String>,
) -> Result<Response, PageError> {
    match state.app.invitation(&secret).await {
        Ok(inv) if inv.state == InvitationState::Pending => {
            Ok(form(&state, viewer.tr, secret, inv, None, StatusCode::OK))
        }
        Ok(inv) => Ok(gone(viewer.tr, Some(inv.state))),
        Err(Error::NotFound(_)) => Ok(gone(viewer.tr, None)),
        Err(e) => Err(PageError::App(e, viewer.tr)),
    }
}

async fn accept(
    State(state): State<AppState>,
    viewer: Viewer,
    Peer(peer): Peer,
    headers: HeaderMap,
    Path(secret): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let expected = cookie(&headers, INVITE_CSRF_COOKIE).unwrap_or("");
    if !app::auth::same_secret(expected, f.get("csrf").unwrap_or("")) {
        return Err(PageError::Csrf(viewer.tr));
    }
    let inv = match state.app.invitation(&secret).await {
        Ok(inv) if inv.state == InvitationState::Pending => inv,
        Ok(inv) => return Ok(gone(viewer.tr, Some(inv.state))),
        Err(Error::NotFound(_)) => return Ok(gone(viewer.tr, None)),
        Err(e) => return Err(PageError::App(e, viewer.tr)),
    };
    // Passwords are taken as typed: spaces count.
    let password = f.get("password").unwrap_or("").to_owned();
    let confirmation = f.get("confirmation").unwrap_or("");
    if password != confirmation {
        let m = viewer.tr.t("invite-mismatch");
        return Ok(form(&state, viewer.tr, secret, inv, Some(m), StatusCode::BAD_REQUEST));
    }
    if password.chars().count() < app::auth::MIN_PASSWORD_CHARS {
        let m = viewer.tr.t1("invite-too-short", "min", app::auth::MIN_PASSWORD_CHARS);
        return Ok(form(&state, viewer.tr, secret, inv, Some(m), StatusCode::BAD_REQUEST));
    }
    let email = match state.app.accept_invitation(&secret, &password).await {
        Ok(email) => email,
        Err(Error::NotFound(_)) => return Ok(gone(viewer.tr, None)),
        Err(Error::Conflict(_)) => return Ok(gone(viewer.tr, Some(InvitationState::Used))),
        Err(Error::Invalid(_)) => {
            let m = viewer.tr.t1("invite-too-short", "min", app::auth::MIN_PASSWORD_CHARS);
            return Ok(form(&state, viewer.tr, secret, inv, Some(m), StatusCode::BAD_REQUEST));
        }
        Err(e) => return Err(PageError::App(e, viewer.tr)),
    };
    let previous = cookie(&headers, SESSION_COOKIE);
    let mut r = match state.app.login(&email, &password, &peer, previous).await {
        Ok(s) => {
            let mut r = Redirect::to(if s.portal { "/portal" } else { "/" }).into_response();
            r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &s.token, "/", "Lax", None));
            r
        }
        // The password is set; if logging in is refused now (rate limit), the login page works.
        Err(_) => Redirect::to("/login").into_response(),
    };
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, INVITE_CSRF_COOKIE, "", "/invite", "Strict", Some(0)));
    Ok(r)
}
