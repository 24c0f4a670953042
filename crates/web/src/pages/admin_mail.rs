//! Admin pages for email: each queue's addresses and policies, the IMAP mailboxes polled, the
//! quarantine, and the notification templates (edited with a preview on sample data). Admins
//! only; every form posts with the session's CSRF token.

use app::FieldProblem;
use app::ingest::{QuarantineView, QueueMailInput};
use app::mailboxes::{MailboxInput, MailboxView};
use app::notify::{MailTemplateView, RenderedMail};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::admin::{admin, posted, problems};
use super::form::Submitted;
use super::{Me, PageError, Tr, Viewer, render};
use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/email", get(index))
        .route("/admin/email/queues/{slug}", post(save_queue))
        .route("/admin/email/imap", post(create_mailbox))
        .route("/admin/email/imap/{id}/poll", post(poll_mailbox))
        .route("/admin/email/imap/{id}/delete", post(delete_mailbox))
        .route("/admin/email/quarantine/{id}/raw", get(quarantined_raw))
        .route("/admin/email/quarantine/{id}/discard", post(discard))
        .route("/admin/email/templates/{language}/{kind}", get(template).post(save_template))
}

/// A queue's email settings, as the form shows them.
struct QueueLine {
    slug: String,
    name: String,
    address: String,
    comment_address: String,
    unknown_sender: String,
    stranger_reply: String,
    mask_sensitive: bool,
}

/// The values typed in the add-mailbox form.
#[derive(Default)]
struct MailboxForm {
    name: String,
    host: String,
    port: String,
    security: String,
    username: String,
    folder: String,
    queue: String,
    action: String,
    done_folder: String,
}

#[derive(Template)]
#[template(path = "admin_email.html")]
struct EmailPage {
    tr: Tr,
    me: Option<Me>,
    queues: Vec<QueueLine>,
    mailboxes: Vec<MailboxView>,
    held: Vec<QuarantineView>,
    templates: Vec<MailTemplateView>,
    problems: Vec<FieldProblem>,
    form: MailboxForm,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    problems: Vec<FieldProblem>,
    form: MailboxForm,
) -> Result<EmailPage, PageError> {
    let s = admin(viewer)?;
    let err = viewer.err();
    let mut queues = Vec::new();
    for q in state.app.queues(&s.actor).await.map_err(&err)? {
        let m = state.app.queue_mail(&s.actor, &q.slug).await.map_err(&err)?;
        queues.push(QueueLine {
            slug: q.slug,
            name: q.name,
            address: m.address.unwrap_or_default(),
            comment_address: m.comment_address.unwrap_or_default(),
            unknown_sender: m.unknown_sender,
            stranger_reply: m.stranger_reply,
            mask_sensitive: m.mask_sensitive,
        });
    }
    Ok(EmailPage {
        tr: viewer.tr.clone(),
        me: viewer.me(),
        queues,
        mailboxes: state.app.imap_mailboxes(&s.actor).await.map_err(&err)?,
        held: state.app.quarantined(&s.actor, "held", None).await.map_err(&err)?,
        templates: state.app.mail_templates(&s.actor).await.map_err(&err)?,
        problems,
        form,
    })
}

async fn index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    Ok(render(&page(&state, &viewer, Vec::new(), MailboxForm::default()).await?))
}

/// After a form: back to the page, or the page again with the problems (400).
async fn after(
    state: &AppState,
    viewer: &Viewer,
    result: app::Result<()>,
    form: MailboxForm,
    anchor: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/admin/email{anchor}")).into_response()),
        Err(e) => {
            let p = problems(viewer, e)?;
            let page = page(state, viewer, p, form).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
    }
}

async fn save_queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let input = QueueMailInput {
        address: Some(f.text("address")),
        comment_address: Some(f.text("comment_address")),
        unknown_sender: Some(f.text("unknown_sender")),
        stranger_reply: Some(f.text("stranger_reply")),
        mask_sensitive: Some(f.checked("mask_sensitive")),
    };
    let r = state.app.set_queue_mail(&s.actor, &slug, input).await.map(|_| ());
    after(&state, &viewer, r, MailboxForm::default(), "#queues").await
}

async fn create_mailbox(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = MailboxForm {
        name: f.text("name"),
        host: f.text("host"),
        port: f.text("port"),
        security: f.text("security"),
        username: f.text("username"),
        folder: f.text("folder"),
        queue: f.text("queue"),
        action: f.text("action"),
        done_folder: f.text("done_folder"),
    };
    let port = match form.port.trim() {
        "" => Ok(None),
        p => p.parse::<u16>().map(Some).map_err(|_| app::Error::invalid("port", "between 1 and 65535")),
    };
    let r = match port {
        Ok(port) => {
            let input = MailboxInput {
                name: form.name.clone(),
                host: form.host.clone(),
                port,
                security: form.security.clone(),
                username: form.username.clone(),
                password: f.opt("password"),
                folder: form.folder.clone(),
                queue: form.queue.clone(),
                action: form.action.clone(),
                done_folder: Some(form.done_folder.clone()),
                active: true,
            };
            state.app.save_imap_mailbox(&s.actor, None, input).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    after(&state, &viewer, r, form, "#imap").await
}

fn id_of(viewer: &Viewer, text: &str, what: &str) -> Result<i64, PageError> {
    text.parse().map_err(|_| viewer.err()(app::Error::NotFound(format!("{what} {text}"))))
}

async fn poll_mailbox(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = id_of(&viewer, &id, "mailbox")?;
    state.app.poll_imap_mailbox_now(&s.actor, id).await.map_err(viewer.err())?;
    Ok(Redirect::to("/admin/email#imap").into_response())
}

async fn delete_mailbox(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = id_of(&viewer, &id, "mailbox")?;
    state.app.delete_imap_mailbox(&s.actor, id).await.map_err(viewer.err())?;
    Ok(Redirect::to("/admin/email#imap").into_response())
}

async fn quarantined_raw(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let id = id_of(&viewer, &id, "quarantined message")?;
    let (q, raw) = state.app.quarantined_raw(&s.actor, id).await.map_err(viewer.err())?;
    Ok(super::download(&format!("quarantine-{}.eml", q.id), "message/rfc822", raw))
}

async fn discard(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = id_of(&viewer, &id, "quarantined message")?;
    let r = state.app.discard_quarantined(&s.actor, id).await;
    after(&state, &viewer, r, MailboxForm::default(), "#quarantine").await
}

#[derive(Template)]
#[template(path = "admin_email_template.html")]
struct TemplatePage {
    tr: Tr,
    me: Option<Me>,
    language: String,
    kind: String,
    subject: String,
    body: String,
    overridden: bool,
    preview: Option<RenderedMail>,
    problems: Vec<FieldProblem>,
}

async fn template(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((language, kind)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let t = state.app.mail_template(&s.actor, &kind, &language).await.map_err(viewer.err())?;
    let preview = state.app.preview_mail_template(&s.actor, &t.subject, &t.body).await.ok();
    Ok(render(&TemplatePage {
        tr: viewer.tr.clone(),
        me: viewer.me(),
        language: t.language,
        kind: t.kind,
        subject: t.subject,
        body: t.body,
        overridden: t.overridden,
        preview,
        problems: Vec::new(),
    }))
}

/// One form, three buttons: preview (nothing saved), save, or back to the default.
async fn save_template(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((language, kind)): Path<(String, String)>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let (subject, body) = (f.text("subject"), f.text("body"));
    let here = format!("/admin/email/templates/{language}/{kind}");
    let result = match f.get("action").unwrap_or("preview") {
        "save" => state.app.set_mail_template(&s.actor, &kind, &language, &subject, &body).await.map(|_| None),
        "reset" => state.app.reset_mail_template(&s.actor, &kind, &language).await.map(|_| None),
        _ => state.app.preview_mail_template(&s.actor, &subject, &body).await.map(Some),
    };
    let current = state.app.mail_template(&s.actor, &kind, &language).await.map_err(viewer.err())?;
    match result {
        Ok(None) => Ok(Redirect::to(&here).into_response()),
        Ok(Some(preview)) => Ok(render(&TemplatePage {
            tr: viewer.tr.clone(),
            me: viewer.me(),
            language,
            kind,
            subject,
            body,
            overridden: current.overridden,
            preview: Some(preview),
            problems: Vec::new(),
        })),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = TemplatePage {
                tr: viewer.tr.clone(),
                me: viewer.me(),
                language,
                kind,
                subject,
                body,
                overridden: current.overridden,
                preview: None,
                problems,
            };
            Ok((axum::http::StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
    }
}
