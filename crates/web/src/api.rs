//! The JSON API under `/api/v1`: handlers turn a request into one `app` call.

use std::collections::BTreeMap;

use app::admin::{ContactInput, CustomerInput, FieldInput, QueueInput, UserInput};
use app::tickets::{AttachmentInput, ListInput, MessageInput, NewTicketInput, TicketPatch};
use app::views::*;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use domain::{Category, CustomFieldKind, LinkKind, MessageKind, PartnerKind, QueueRights, Role, Severity, Status};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::problem::{ApiError, ApiJson, ApiQuery, Auth, Problem, ticket_number};

pub(crate) type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A file attached through the API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentBody {
    /// File name.
    pub filename: String,
    /// MIME type (default application/octet-stream).
    #[serde(default)]
    pub content_type: Option<String>,
    /// The content, base64-encoded (standard alphabet, padding optional).
    pub content_base64: String,
}

fn attachments(list: Vec<AttachmentBody>) -> ApiResult<Vec<AttachmentInput>> {
    list.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(a.content_base64.trim().trim_end_matches('='))
                .or_else(|_| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(a.content_base64.trim().trim_end_matches('='))
                })
                .map_err(|e| {
                    ApiError::bad_request(&format!("attachments[{i}].content_base64"), format!("not base64: {e}"))
                })?;
            Ok(AttachmentInput {
                filename: a.filename,
                content_type: a.content_type.unwrap_or_else(|| "application/octet-stream".into()),
                data,
            })
        })
        .collect()
}

/// A ticket to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketBody {
    /// Queue slug.
    pub queue: String,
    /// Title.
    pub title: String,
    /// Requestor email (contacts are created when unknown).
    #[serde(default)]
    pub requestor: Option<String>,
    /// More requestor emails.
    #[serde(default)]
    pub requestors: Vec<String>,
    /// Cc emails.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Plain-text description.
    #[serde(default)]
    pub body: String,
    /// HTML description (sanitised).
    #[serde(default)]
    pub body_html: Option<String>,
    /// Customer code (default: the requestor's customer).
    #[serde(default)]
    pub customer: Option<String>,
    /// Category (default information_request).
    #[serde(default)]
    pub category: Option<Category>,
    /// Severity (default from the category).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Priority 0–100 set by hand (default: computed from VIP, severity, category, impact and SLA).
    #[serde(default)]
    pub priority: Option<i64>,
    /// How many lines or SIMs the ticket concerns (default 1).
    #[serde(default)]
    pub impact: Option<i64>,
    /// The line the ticket is about (identifier); its customer becomes the ticket's, and a
    /// notice in effect on the line gets the ticket linked.
    #[serde(default)]
    pub line: Option<String>,
    /// Owner's email.
    #[serde(default)]
    pub owner: Option<String>,
    /// Custom field values by name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Attachments of the first message.
    #[serde(default)]
    pub attachments: Vec<AttachmentBody>,
}

/// Changes to a ticket; absent fields are left alone, `null` clears `owner` and `customer`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatchBody {
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<Status>,
    /// Queue slug.
    #[serde(default)]
    pub queue: Option<String>,
    /// Owner email, or null for nobody.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub owner: Option<Option<String>>,
    /// Priority 0–100, set by hand (an override, recorded as an event).
    #[serde(default)]
    pub priority: Option<i64>,
    /// `true`: drop a priority set by hand and compute it again.
    #[serde(default)]
    pub priority_auto: bool,
    /// How many lines or SIMs the ticket concerns.
    #[serde(default)]
    pub impact: Option<i64>,
    /// `true`: record the intervention now (work without a public reply, e.g. a call).
    #[serde(default)]
    pub intervened: bool,
    /// Category.
    #[serde(default)]
    pub category: Option<Category>,
    /// Severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Customer code, or null for none.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub customer: Option<Option<String>>,
    /// Replaces the requestors.
    #[serde(default)]
    pub requestors: Option<Vec<String>>,
    /// Replaces the Cc.
    #[serde(default)]
    pub cc: Option<Vec<String>>,
    /// Custom field values (null clears one).
    #[serde(default)]
    pub fields: BTreeMap<String, Option<String>>,
}

/// A reply or comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// `reply` (public, default) or `comment` (internal).
    #[serde(default)]
    pub kind: Option<MessageKind>,
    /// Plain-text body.
    #[serde(default)]
    pub body: String,
    /// HTML body (sanitised).
    #[serde(default)]
    pub body_html: Option<String>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<AttachmentBody>,
    /// Status to set with the message.
    #[serde(default)]
    pub status: Option<Status>,
    /// Owner to set with the message (null for nobody).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub owner: Option<Option<String>>,
    /// Time spent, recorded with the message (agents).
    #[serde(default)]
    pub time: Option<TimeBody>,
}

/// Time an agent spent on a ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeBody {
    /// Minutes, 1–1440.
    pub minutes: i64,
    /// Billable to the customer (default true).
    #[serde(default = "yes")]
    pub billable: bool,
    /// What was done.
    #[serde(default)]
    pub note: String,
}

fn yes() -> bool {
    true
}

impl From<TimeBody> for app::tickets::TimeInput {
    fn from(b: TimeBody) -> Self {
        app::tickets::TimeInput { minutes: b.minutes, billable: b.billable, note: b.note }
    }
}

/// A link to another ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// Kind of link, from this ticket to `to`.
    pub kind: LinkKind,
    /// The other ticket's number.
    pub to: i64,
}

/// A merge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The surviving ticket's number.
    pub into: i64,
}

/// Ticket list parameters.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Search: words, "phrases", `queue:`, `status:`, `owner:` (`me`, `nobody`, email), `requestor:`, `customer:`, `category:`.
    pub q: Option<String>,
    /// Queue slug.
    pub queue: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
    /// Owner email, `me` or `nobody`.
    pub owner: Option<String>,
    /// Customer code.
    pub customer: Option<String>,
    /// Only tickets about this line (identifier).
    pub line: Option<String>,
    /// Categories, comma-separated.
    pub category: Option<String>,
    /// `newest` (default), `updated`, `priority` or `stale` (least recently changed first).
    pub order: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

#[utoipa::path(post, path = "/tickets", tag = "tickets", request_body = NewTicketBody,
    responses((status = 201, description = "Created", body = TicketView), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, description = "Unknown queue", body = Problem)),
    security(("bearer" = [])))]
async fn create_ticket(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<NewTicketBody>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let mut requestors: Vec<String> = b.requestor.into_iter().collect();
    requestors.extend(b.requestors);
    let input = NewTicketInput {
        queue: b.queue,
        title: b.title,
        requestors,
        cc: b.cc,
        body: b.body,
        body_html: b.body_html,
        customer: b.customer,
        category: b.category,
        severity: b.severity,
        priority: b.priority,
        owner: b.owner,
        fields: b.fields,
        attachments: attachments(b.attachments)?,
        impact: b.impact,
        line: b.line,
    };
    Ok((StatusCode::CREATED, Json(s.app.create_ticket(&actor, input).await?)))
}

#[utoipa::path(get, path = "/tickets", tag = "tickets", params(ListParams),
    responses((status = 200, body = TicketPage), (status = 400, body = Problem), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn list_tickets(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<TicketPage>> {
    let mut statuses = Vec::new();
    for st in p.status.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        statuses.push(st.parse::<Status>().map_err(|e| ApiError::bad_request("status", e))?);
    }
    let mut categories = Vec::new();
    for c in p.category.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        categories.push(c.parse::<Category>().map_err(|e| ApiError::bad_request("category", e))?);
    }
    let input = ListInput {
        q: p.q,
        queue: p.queue,
        statuses,
        owner: p.owner,
        customer: p.customer,
        line: p.line,
        categories,
        order: p.order,
        cursor: p.cursor,
        limit: p.limit,
    };
    Ok(Json(s.app.list_tickets(&actor, input).await?))
}

#[utoipa::path(get, path = "/tickets/{number}", tag = "tickets", params(("number" = i64, Path, description = "Ticket number (a merged number gives the survivor)")),
    responses((status = 200, body = TicketView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_ticket(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(s.app.ticket(&actor, ticket_number(&number)?).await?))
}

#[utoipa::path(patch, path = "/tickets/{number}", tag = "tickets", params(("number" = i64, Path)), request_body = TicketPatchBody,
    responses((status = 200, body = TicketView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, description = "Status change not allowed; `allowed` lists the possible ones", body = Problem)), security(("bearer" = [])))]
async fn patch_ticket(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
    ApiJson(b): ApiJson<TicketPatchBody>,
) -> ApiResult<Json<TicketView>> {
    let patch = TicketPatch {
        title: b.title,
        status: b.status,
        queue: b.queue,
        owner: b.owner,
        priority: b.priority,
        category: b.category,
        severity: b.severity,
        customer: b.customer,
        requestors: b.requestors,
        cc: b.cc,
        fields: b.fields,
        impact: b.impact,
        priority_auto: b.priority_auto,
        intervened: b.intervened,
    };
    Ok(Json(s.app.update_ticket(&actor, ticket_number(&number)?, patch).await?))
}

#[utoipa::path(post, path = "/tickets/{number}/messages", tag = "tickets", params(("number" = i64, Path)), request_body = MessageBody,
    responses((status = 201, body = MessageView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
async fn post_message(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
    ApiJson(b): ApiJson<MessageBody>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let input = MessageInput {
        kind: b.kind.unwrap_or(MessageKind::Reply),
        body: b.body,
        body_html: b.body_html,
        attachments: attachments(b.attachments)?,
        status: b.status,
        owner: b.owner,
        time: b.time.map(Into::into),
    };
    Ok((StatusCode::CREATED, Json(s.app.add_message(&actor, ticket_number(&number)?, input).await?)))
}

#[utoipa::path(get, path = "/tickets/{number}/messages", tag = "tickets", params(("number" = i64, Path)),
    responses((status = 200, description = "The thread; internal comments only for staff", body = Vec<MessageView>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_messages(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<MessageView>>> {
    Ok(Json(s.app.messages(&actor, ticket_number(&number)?).await?))
}

#[utoipa::path(get, path = "/tickets/{number}/attachments/{id}", tag = "tickets", params(("number" = i64, Path), ("id" = i64, Path)),
    responses((status = 200, description = "The file, as a download", content_type = "application/octet-stream"), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_attachment(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found(format!("attachment {id}")))?;
    let (a, data) = s.app.attachment(&actor, ticket_number(&number)?, id).await?;
    Ok(crate::pages::download(&a.filename, &a.content_type, data))
}

#[utoipa::path(get, path = "/tickets/{number}/events", tag = "tickets", params(("number" = i64, Path)),
    responses((status = 200, description = "History, oldest first (staff only)", body = Vec<EventView>), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_events(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<EventView>>> {
    Ok(Json(s.app.ticket_events(&actor, ticket_number(&number)?).await?))
}

#[utoipa::path(get, path = "/tickets/{number}/links", tag = "tickets", params(("number" = i64, Path)),
    responses((status = 200, body = Vec<LinkView>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_links(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<LinkView>>> {
    Ok(Json(s.app.links(&actor, ticket_number(&number)?).await?))
}

#[utoipa::path(post, path = "/tickets/{number}/links", tag = "tickets", params(("number" = i64, Path)), request_body = LinkBody,
    responses((status = 200, body = Vec<LinkView>), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn post_link(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
    ApiJson(b): ApiJson<LinkBody>,
) -> ApiResult<Json<Vec<LinkView>>> {
    Ok(Json(s.app.add_link(&actor, ticket_number(&number)?, b.kind, b.to).await?))
}

#[utoipa::path(delete, path = "/tickets/{number}/links/{kind}/{to}", tag = "tickets",
    params(("number" = i64, Path), ("kind" = LinkKind, Path), ("to" = i64, Path)),
    responses((status = 200, body = Vec<LinkView>), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn delete_link(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((number, kind, to)): Path<(String, String, String)>,
) -> ApiResult<Json<Vec<LinkView>>> {
    let kind: LinkKind = kind.parse().map_err(|e: String| ApiError::bad_request("kind", e))?;
    let to = ticket_number(&to)?;
    Ok(Json(s.app.remove_link(&actor, ticket_number(&number)?, kind, to).await?))
}

#[utoipa::path(post, path = "/tickets/{number}/merge", tag = "tickets", params(("number" = i64, Path)), request_body = MergeBody,
    responses((status = 200, description = "The surviving ticket", body = TicketView), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn merge_ticket(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
    ApiJson(b): ApiJson<MergeBody>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(s.app.merge_ticket(&actor, ticket_number(&number)?, b.into).await?))
}

/// A queue to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueBody {
    /// Slug: 1–32 of a-z 0-9 - _.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Reference prefix (default `support`).
    #[serde(default)]
    pub reference_prefix: Option<String>,
    /// Open to new tickets (default true).
    #[serde(default)]
    pub active: Option<bool>,
}

impl From<QueueBody> for QueueInput {
    fn from(b: QueueBody) -> Self {
        QueueInput {
            slug: b.slug,
            name: b.name,
            description: b.description,
            reference_prefix: b.reference_prefix,
            active: b.active,
        }
    }
}

/// A custom field definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldBody {
    /// Machine name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Type.
    pub kind: CustomFieldKind,
    /// Choices (for `choice`).
    #[serde(default)]
    pub choices: Vec<String>,
    /// Required at creation.
    #[serde(default)]
    pub required: bool,
    /// Display order.
    #[serde(default)]
    pub position: i64,
}

#[utoipa::path(get, path = "/queues", tag = "queues", responses((status = 200, body = Vec<QueueView>)), security(("bearer" = [])))]
async fn list_queues(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<QueueView>>> {
    Ok(Json(s.app.queues(&actor).await?))
}

#[utoipa::path(post, path = "/queues", tag = "queues", request_body = QueueBody,
    responses((status = 201, body = QueueView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn create_queue(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<QueueBody>,
) -> ApiResult<(StatusCode, Json<QueueView>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_queue(&actor, b.into()).await?)))
}

#[utoipa::path(get, path = "/queues/{slug}", tag = "queues", params(("slug" = String, Path)),
    responses((status = 200, body = QueueView), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_queue(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<QueueView>> {
    Ok(Json(s.app.queue(&actor, &slug).await?))
}

#[utoipa::path(put, path = "/queues/{slug}", tag = "queues", params(("slug" = String, Path)), request_body = QueueBody,
    responses((status = 200, body = QueueView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn put_queue(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
    ApiJson(b): ApiJson<QueueBody>,
) -> ApiResult<Json<QueueView>> {
    Ok(Json(s.app.update_queue(&actor, &slug, b.into()).await?))
}

#[utoipa::path(put, path = "/queues/{slug}/fields", tag = "queues", params(("slug" = String, Path)), request_body = FieldBody,
    responses((status = 200, body = QueueView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_field(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
    ApiJson(b): ApiJson<FieldBody>,
) -> ApiResult<Json<QueueView>> {
    let input = FieldInput {
        name: b.name,
        label: b.label,
        kind: b.kind,
        choices: b.choices,
        required: b.required,
        position: b.position,
    };
    Ok(Json(s.app.set_field(&actor, &slug, input).await?))
}

#[utoipa::path(delete, path = "/queues/{slug}/fields/{name}", tag = "queues", params(("slug" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = QueueView), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn delete_field(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((slug, name)): Path<(String, String)>,
) -> ApiResult<Json<QueueView>> {
    Ok(Json(s.app.delete_field(&actor, &slug, &name).await?))
}

/// A user to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// Email (login).
    pub email: String,
    /// Name.
    pub name: String,
    /// `admin`, `agent` or `partner`.
    pub role: Role,
    /// Partner id (partner users).
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// May log in (default true).
    #[serde(default)]
    pub active: Option<bool>,
    /// Initial password (at least 10 characters), creation only.
    #[serde(default)]
    pub password: Option<String>,
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// At least 10 characters.
    pub password: String,
}

pub(crate) fn path_id(text: &str, what: &str) -> ApiResult<i64> {
    text.parse().map_err(|_| ApiError::not_found(format!("{what} {text}")))
}

#[utoipa::path(get, path = "/users", tag = "users", responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_users(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(s.app.users(&actor).await?))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = UserBody,
    responses((status = 201, body = UserView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn create_user(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<UserBody>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let input = UserInput { email: b.email, name: b.name, role: b.role, partner_id: b.partner_id, active: b.active };
    Ok((StatusCode::CREATED, Json(s.app.create_user(&actor, input, b.password.as_deref()).await?)))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_user(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<Json<UserView>> {
    Ok(Json(s.app.user(&actor, path_id(&id, "user")?).await?))
}

#[utoipa::path(put, path = "/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserBody,
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_user(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UserBody>,
) -> ApiResult<Json<UserView>> {
    if b.password.is_some() {
        return Err(ApiError::bad_request("password", "set passwords with PUT /users/{id}/password"));
    }
    let input = UserInput { email: b.email, name: b.name, role: b.role, partner_id: b.partner_id, active: b.active };
    Ok(Json(s.app.update_user(&actor, path_id(&id, "user")?, input).await?))
}

#[utoipa::path(put, path = "/users/{id}/password", tag = "users", params(("id" = i64, Path)), request_body = PasswordBody,
    responses((status = 204, description = "Changed"), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_password(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    s.app.set_password(&actor, path_id(&id, "user")?, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/users/{id}/rights/{queue}", tag = "users", params(("id" = i64, Path), ("queue" = String, Path)), request_body = QueueRights,
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_rights(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((id, queue)): Path<(String, String)>,
    ApiJson(b): ApiJson<QueueRights>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(s.app.set_rights(&actor, path_id(&id, "user")?, &queue, b).await?))
}

/// A partner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerBody {
    /// Name.
    pub name: String,
    /// Kind of business.
    pub kind: PartnerKind,
}

#[utoipa::path(get, path = "/partners", tag = "customers", responses((status = 200, body = Vec<PartnerView>)), security(("bearer" = [])))]
async fn list_partners(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<PartnerView>>> {
    Ok(Json(s.app.partners(&actor).await?))
}

#[utoipa::path(post, path = "/partners", tag = "customers", request_body = PartnerBody,
    responses((status = 201, body = PartnerView), (status = 400, body = Problem), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn create_partner(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<PartnerBody>,
) -> ApiResult<(StatusCode, Json<PartnerView>)> {
    Ok((StatusCode::CREATED, Json(s.app.save_partner(&actor, None, &b.name, b.kind).await?)))
}

#[utoipa::path(get, path = "/partners/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = PartnerView), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_partner(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<PartnerView>> {
    Ok(Json(s.app.partner(&actor, path_id(&id, "partner")?).await?))
}

#[utoipa::path(put, path = "/partners/{id}", tag = "customers", params(("id" = i64, Path)), request_body = PartnerBody,
    responses((status = 200, body = PartnerView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_partner(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PartnerBody>,
) -> ApiResult<Json<PartnerView>> {
    Ok(Json(s.app.save_partner(&actor, Some(path_id(&id, "partner")?), &b.name, b.kind).await?))
}

/// A customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    /// Code (ignored when replacing: the code in the path stays).
    pub code: String,
    /// Name.
    pub name: String,
    /// VIP.
    #[serde(default)]
    pub vip: bool,
    /// Partner id.
    #[serde(default)]
    pub partner_id: Option<i64>,
}

impl From<CustomerBody> for CustomerInput {
    fn from(b: CustomerBody) -> Self {
        CustomerInput { code: b.code, name: b.name, vip: b.vip, partner_id: b.partner_id }
    }
}

#[utoipa::path(get, path = "/customers", tag = "customers", responses((status = 200, body = Vec<CustomerView>)), security(("bearer" = [])))]
async fn list_customers(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<CustomerView>>> {
    Ok(Json(s.app.customers(&actor).await?))
}

#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerBody,
    responses((status = 201, body = CustomerView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn create_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<CustomerBody>,
) -> ApiResult<(StatusCode, Json<CustomerView>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_customer(&actor, b.into()).await?)))
}

#[utoipa::path(get, path = "/customers/{code}", tag = "customers", params(("code" = String, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> ApiResult<Json<CustomerView>> {
    Ok(Json(s.app.customer(&actor, &code).await?))
}

#[utoipa::path(put, path = "/customers/{code}", tag = "customers", params(("code" = String, Path)), request_body = CustomerBody,
    responses((status = 200, body = CustomerView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<CustomerBody>,
) -> ApiResult<Json<CustomerView>> {
    Ok(Json(s.app.update_customer(&actor, &code, b.into()).await?))
}

/// A contact.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// Email.
    pub email: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Phone.
    #[serde(default)]
    pub phone: String,
    /// `en`, `it` or `ca` (default `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// Customer code.
    #[serde(default)]
    pub customer: Option<String>,
}

impl From<ContactBody> for ContactInput {
    fn from(b: ContactBody) -> Self {
        ContactInput { email: b.email, name: b.name, phone: b.phone, language: b.language, customer: b.customer }
    }
}

/// Contact list parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactParams {
    /// Only contacts of this customer code.
    pub customer: Option<String>,
}

#[utoipa::path(get, path = "/contacts", tag = "customers", params(ContactParams), responses((status = 200, body = Vec<ContactView>)), security(("bearer" = [])))]
async fn list_contacts(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<ContactParams>,
) -> ApiResult<Json<Vec<ContactView>>> {
    Ok(Json(s.app.contacts(&actor, p.customer.as_deref()).await?))
}

#[utoipa::path(post, path = "/contacts", tag = "customers", request_body = ContactBody,
    responses((status = 201, body = ContactView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn create_contact(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<ContactBody>,
) -> ApiResult<(StatusCode, Json<ContactView>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_contact(&actor, b.into()).await?)))
}

#[utoipa::path(get, path = "/contacts/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = ContactView), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_contact(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactView>> {
    Ok(Json(s.app.contact(&actor, path_id(&id, "contact")?).await?))
}

#[utoipa::path(put, path = "/contacts/{id}", tag = "customers", params(("id" = i64, Path)), request_body = ContactBody,
    responses((status = 200, body = ContactView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn put_contact(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ContactBody>,
) -> ApiResult<Json<ContactView>> {
    Ok(Json(s.app.update_contact(&actor, path_id(&id, "contact")?, b.into()).await?))
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What the token is for.
    pub name: String,
    /// `admin` or `agent`.
    pub role: Role,
    /// Email of the user it acts as (optional).
    #[serde(default)]
    pub user: Option<String>,
}

#[utoipa::path(get, path = "/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_tokens(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(s.app.tokens(&actor).await?))
}

#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = TokenBody,
    responses((status = 201, description = "The secret is shown once", body = NewTokenView), (status = 400, body = Problem), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn create_token(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<TokenBody>,
) -> ApiResult<(StatusCode, Json<NewTokenView>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_token(&actor, &b.name, b.role, b.user.as_deref()).await?)))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn revoke_token(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.app.revoke_token(&actor, path_id(&id, "token")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Job list parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobParams {
    /// `queued`, `running`, `done` or `dead`.
    pub state: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobParams), responses((status = 200, body = Vec<JobView>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_jobs(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<JobParams>,
) -> ApiResult<Json<Vec<JobView>>> {
    Ok(Json(s.app.jobs(&actor, p.state.as_deref(), p.limit.unwrap_or(100)).await?))
}

#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobView), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn retry_job(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<Json<JobView>> {
    Ok(Json(s.app.retry_job(&actor, path_id(&id, "job")?).await?))
}

/// Every API route, with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_ticket, list_tickets))
        .routes(routes!(get_ticket, patch_ticket))
        .routes(routes!(post_message, get_messages))
        .routes(routes!(get_attachment))
        .routes(routes!(get_events))
        .routes(routes!(get_links, post_link))
        .routes(routes!(delete_link))
        .routes(routes!(merge_ticket))
        .routes(routes!(list_queues, create_queue))
        .routes(routes!(get_queue, put_queue))
        .routes(routes!(put_field))
        .routes(routes!(delete_field))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, put_user))
        .routes(routes!(put_password))
        .routes(routes!(put_rights))
        .routes(routes!(list_partners, create_partner))
        .routes(routes!(get_partner, put_partner))
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, put_customer))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, put_contact))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_jobs))
        .routes(routes!(retry_job))
}
