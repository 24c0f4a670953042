//! The email channel's API for admins (queue addresses and policies, notification templates
//! with a preview, IMAP mailboxes, the quarantine) and for agents (a message's original email).

use app::ingest::{QuarantineView, QueueMailInput, QueueMailSettings};
use app::mailboxes::{MailboxInput, MailboxView};
use app::notify::{MailTemplateView, RenderedMail};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{ApiResult, path_id};
use crate::problem::{ApiJson, ApiQuery, Auth, Problem, ticket_number};

/// A queue's email settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueMailView {
    /// The address that opens tickets and takes replies.
    pub address: Option<String>,
    /// The address for agents' internal comments.
    pub comment_address: Option<String>,
    /// Unknown senders: `create`, `hold` or `refuse`.
    pub unknown_sender: String,
    /// Tagged mail from a non-participant: `comment` or `new_ticket`.
    pub stranger_reply: String,
    /// Whether IBANs, card numbers and fiscal codes are masked.
    pub mask_sensitive: bool,
}

/// Changes to a queue's email settings (absent fields stay; an empty address removes it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueMailBody {
    /// The address that opens tickets and takes replies.
    pub address: Option<String>,
    /// The address for agents' internal comments.
    pub comment_address: Option<String>,
    /// `create`, `hold` or `refuse`.
    pub unknown_sender: Option<String>,
    /// `comment` or `new_ticket`.
    pub stranger_reply: Option<String>,
    /// Mask sensitive data.
    pub mask_sensitive: Option<bool>,
}

fn queue_mail_view(m: QueueMailSettings) -> QueueMailView {
    QueueMailView {
        address: m.address,
        comment_address: m.comment_address,
        unknown_sender: m.unknown_sender,
        stranger_reply: m.stranger_reply,
        mask_sensitive: m.mask_sensitive,
    }
}

#[utoipa::path(get, path = "/queues/{slug}/mail", tag = "email", params(("slug" = String, Path)),
    responses((status = 200, body = QueueMailView), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_queue_mail(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<QueueMailView>> {
    Ok(Json(queue_mail_view(s.app.queue_mail(&actor, &slug).await?)))
}

#[utoipa::path(put, path = "/queues/{slug}/mail", tag = "email", params(("slug" = String, Path)), request_body = QueueMailBody,
    responses((status = 200, body = QueueMailView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_queue_mail(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
    ApiJson(b): ApiJson<QueueMailBody>,
) -> ApiResult<Json<QueueMailView>> {
    let input = QueueMailInput {
        address: b.address,
        comment_address: b.comment_address,
        unknown_sender: b.unknown_sender,
        stranger_reply: b.stranger_reply,
        mask_sensitive: b.mask_sensitive,
    };
    s.app.set_queue_mail(&actor, &slug, input).await?;
    Ok(Json(queue_mail_view(s.app.queue_mail(&actor, &slug).await?)))
}

#[utoipa::path(get, path = "/mail/templates", tag = "email",
    responses((status = 200, body = Vec<MailTemplateView>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_templates(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<MailTemplateView>>> {
    Ok(Json(s.app.mail_templates(&actor).await?))
}

/// A template to save or preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// The subject template (the ticket's tag is put in front of it).
    pub subject: String,
    /// The body template (minijinja).
    pub body: String,
}

#[utoipa::path(put, path = "/mail/templates/{language}/{kind}", tag = "email", params(("language" = String, Path), ("kind" = String, Path)),
    request_body = TemplateBody,
    responses((status = 200, body = MailTemplateView), (status = 400, body = Problem, description = "Does not render; the part and line are named"), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn put_template(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((language, kind)): Path<(String, String)>,
    ApiJson(b): ApiJson<TemplateBody>,
) -> ApiResult<Json<MailTemplateView>> {
    Ok(Json(s.app.set_mail_template(&actor, &kind, &language, &b.subject, &b.body).await?))
}

#[utoipa::path(delete, path = "/mail/templates/{language}/{kind}", tag = "email", params(("language" = String, Path), ("kind" = String, Path)),
    responses((status = 200, body = MailTemplateView, description = "The embedded default, in force again"), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn reset_template(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((language, kind)): Path<(String, String)>,
) -> ApiResult<Json<MailTemplateView>> {
    Ok(Json(s.app.reset_mail_template(&actor, &kind, &language).await?))
}

#[utoipa::path(post, path = "/mail/templates/preview", tag = "email", request_body = TemplateBody,
    responses((status = 200, body = RenderedMail, description = "Rendered with sample data"), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn preview_template(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<TemplateBody>,
) -> ApiResult<Json<RenderedMail>> {
    Ok(Json(s.app.preview_mail_template(&actor, &b.subject, &b.body).await?))
}

/// An IMAP mailbox to add or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxBody {
    /// A name for admins.
    pub name: String,
    /// Server host name.
    pub host: String,
    /// Server port (default 993 with TLS, else 143).
    #[serde(default)]
    pub port: Option<u16>,
    /// `tls` (default), `starttls` or `none`.
    #[serde(default)]
    pub security: String,
    /// Login.
    pub username: String,
    /// Password (write-only; absent keeps the current one).
    #[serde(default)]
    pub password: Option<String>,
    /// Folder polled (default `INBOX`).
    #[serde(default)]
    pub folder: String,
    /// Queue slug.
    pub queue: String,
    /// `correspond` (default) or `comment`.
    #[serde(default)]
    pub action: String,
    /// Folder processed messages are moved to (none: flagged `\Seen`).
    #[serde(default)]
    pub done_folder: Option<String>,
    /// Polled (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl From<MailboxBody> for MailboxInput {
    fn from(b: MailboxBody) -> Self {
        MailboxInput {
            name: b.name,
            host: b.host,
            port: b.port,
            security: b.security,
            username: b.username,
            password: b.password,
            folder: b.folder,
            queue: b.queue,
            action: b.action,
            done_folder: b.done_folder,
            active: b.active,
        }
    }
}

#[utoipa::path(get, path = "/mail/imap", tag = "email",
    responses((status = 200, body = Vec<MailboxView>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_mailboxes(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<MailboxView>>> {
    Ok(Json(s.app.imap_mailboxes(&actor).await?))
}

#[utoipa::path(post, path = "/mail/imap", tag = "email", request_body = MailboxBody,
    responses((status = 201, body = MailboxView), (status = 400, body = Problem), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn create_mailbox(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<MailboxBody>,
) -> ApiResult<(StatusCode, Json<MailboxView>)> {
    Ok((StatusCode::CREATED, Json(s.app.save_imap_mailbox(&actor, None, b.into()).await?)))
}

#[utoipa::path(put, path = "/mail/imap/{id}", tag = "email", params(("id" = i64, Path)), request_body = MailboxBody,
    responses((status = 200, body = MailboxView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn put_mailbox(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MailboxBody>,
) -> ApiResult<Json<MailboxView>> {
    Ok(Json(s.app.save_imap_mailbox(&actor, Some(path_id(&id, "mailbox")?), b.into()).await?))
}

#[utoipa::path(delete, path = "/mail/imap/{id}", tag = "email", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn delete_mailbox(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.app.delete_imap_mailbox(&actor, path_id(&id, "mailbox")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/mail/imap/{id}/poll", tag = "email", params(("id" = i64, Path)),
    responses((status = 202, description = "Due at once: the next node to look polls it"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn poll_mailbox(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.app.poll_imap_mailbox_now(&actor, path_id(&id, "mailbox")?).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Which part of the quarantine.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineQuery {
    /// `held` (default) or `discarded`.
    #[serde(default)]
    pub state: Option<String>,
    /// Only messages with a lower id (the next page).
    #[serde(default)]
    pub before: Option<i64>,
}

#[utoipa::path(get, path = "/mail/quarantine", tag = "email", params(("state" = Option<String>, Query), ("before" = Option<i64>, Query)),
    responses((status = 200, body = Vec<QuarantineView>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_quarantine(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<QuarantineQuery>,
) -> ApiResult<Json<Vec<QuarantineView>>> {
    Ok(Json(s.app.quarantined(&actor, q.state.as_deref().unwrap_or("held"), q.before).await?))
}

#[utoipa::path(get, path = "/mail/quarantine/{id}/raw", tag = "email", params(("id" = i64, Path)),
    responses((status = 200, description = "The message as received", content_type = "message/rfc822"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn quarantine_raw(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let (q, raw) = s.app.quarantined_raw(&actor, path_id(&id, "quarantined message")?).await?;
    Ok(crate::pages::download(&format!("quarantine-{}.eml", q.id), "message/rfc822", raw))
}

#[utoipa::path(post, path = "/mail/quarantine/{id}/discard", tag = "email", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn discard_quarantined(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.discard_quarantined(&actor, path_id(&id, "quarantined message")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/tickets/{number}/messages/{id}/raw", tag = "tickets", params(("number" = i64, Path), ("id" = i64, Path)),
    responses((status = 200, description = "The email the message came from, as received (staff only)", content_type = "message/rfc822"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn message_raw(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&id, "message")?;
    let raw = s.app.message_raw(&actor, ticket_number(&number)?, id).await?;
    Ok(crate::pages::download(&format!("message-{id}.eml"), "message/rfc822", raw))
}

/// The email routes, with their OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_queue_mail, put_queue_mail))
        .routes(routes!(list_templates))
        .routes(routes!(put_template, reset_template))
        .routes(routes!(preview_template))
        .routes(routes!(list_mailboxes, create_mailbox))
        .routes(routes!(put_mailbox, delete_mailbox))
        .routes(routes!(poll_mailbox))
        .routes(routes!(list_quarantine))
        .routes(routes!(quarantine_raw))
        .routes(routes!(discard_quarantined))
        .routes(routes!(message_raw))
}
