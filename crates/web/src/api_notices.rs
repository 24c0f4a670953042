//! The JSON API of the inventory and of targeted notices: lines, the scope preview, notices with
//! their live affected counts, their timeline, and the notices touching a customer or a line.

use std::collections::BTreeMap;

use app::inventory::{LineView, ServiceView};
use app::notices::{AffectedPreview, NoticeInput, NoticeText, NoticeUpdateInput, NoticeView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::notice::{Impact, NoticeKind, NoticeState};
use domain::scope::Scope;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{ApiResult, path_id};
use crate::problem::{ApiJson, Auth, Problem};

/// A notice's window.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    /// Start (RFC 3339).
    pub start: Timestamp,
    /// End (RFC 3339), after the start.
    pub end: Timestamp,
}

/// A notice to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeBody {
    /// `incident` or `maintenance`.
    pub kind: NoticeKind,
    /// Title in the default language (`it`) unless `texts` gives others.
    #[serde(default)]
    pub title: String,
    /// Public text in the default language.
    #[serde(default)]
    pub body: String,
    /// Title and text per language (`it`, `en`, `ca`).
    #[serde(default)]
    pub texts: BTreeMap<String, NoticeText>,
    /// `outage` (default), `degraded` or `partial`.
    #[serde(default = "outage")]
    pub impact: Impact,
    /// Notes for agents only.
    #[serde(default)]
    pub internal_notes: String,
    /// Which lines it concerns.
    pub scope: Scope,
    /// The maintenance window (required for maintenance).
    #[serde(default)]
    pub window: Option<WindowBody>,
    /// When service should be back.
    #[serde(default)]
    pub estimated_restoration: Option<Timestamp>,
    /// Keep as a draft instead of publishing (default false).
    #[serde(default)]
    pub draft: bool,
}

fn outage() -> Impact {
    Impact::Outage
}

/// A public update of a notice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeUpdateBody {
    /// The new state, if it changes.
    #[serde(default)]
    pub state: Option<NoticeState>,
    /// The text in the default language (`it`).
    #[serde(default)]
    pub body: String,
    /// The text per language.
    #[serde(default)]
    pub texts: BTreeMap<String, NoticeText>,
    /// A new estimated restoration time.
    #[serde(default)]
    pub estimated_restoration: Option<Timestamp>,
    /// Also post the text as a public reply on every open linked ticket.
    #[serde(default)]
    pub reply_to_tickets: bool,
    /// When this update ends the notice, resolve its open linked tickets.
    #[serde(default)]
    pub resolve_tickets: bool,
}

/// The texts of a body: `texts`, or `title`/`body` as Italian.
fn texts(mut texts: BTreeMap<String, NoticeText>, title: String, body: String) -> BTreeMap<String, NoticeText> {
    if !title.is_empty() || !body.is_empty() {
        texts.entry("it".into()).or_insert(NoticeText { title, body });
    }
    texts
}

impl NoticeBody {
    /// What the app takes to create or change a notice.
    fn into_input(self) -> NoticeInput {
        NoticeInput {
            kind: self.kind,
            impact: self.impact,
            texts: texts(self.texts, self.title, self.body),
            internal_notes: self.internal_notes,
            scope: self.scope,
            window: self.window.map(|w| (w.start, w.end)),
            estimated_restoration: self.estimated_restoration,
            publish: !self.draft,
        }
    }
}

#[utoipa::path(post, path = "/notices", tag = "notices", request_body = NoticeBody,
    responses((status = 201, body = NoticeView, description = "With affected_lines and affected_customers"),
              (status = 400, body = Problem, description = "Malformed body or texts"),
              (status = 422, body = Problem, description = "Unknown codes in the scope (all listed), an empty scope, an inverted or missing window"),
              (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn create_notice(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<NoticeBody>,
) -> ApiResult<(StatusCode, Json<NoticeView>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_notice(&actor, b.into_input()).await?)))
}

#[utoipa::path(put, path = "/notices/{id}", tag = "notices", params(("id" = i64, Path)), request_body = NoticeBody,
    responses((status = 200, body = NoticeView, description = "Changed; each changed field is an event. `draft: false` publishes a draft"),
              (status = 400, body = Problem, description = "Malformed body, another kind, or a notice that has ended"),
              (status = 422, body = Problem, description = "Unknown codes in the scope (all listed), an empty scope, an inverted or missing window"),
              (status = 404, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn edit_notice(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NoticeBody>,
) -> ApiResult<Json<NoticeView>> {
    let id = path_id(&id, "notice")?;
    Ok(Json(s.app.edit_notice(&actor, id, b.into_input()).await?))
}

#[utoipa::path(get, path = "/notices", tag = "notices",
    responses((status = 200, body = Vec<NoticeView>, description = "Not yet ended, drafts included, newest first"), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_notices(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<NoticeView>>> {
    Ok(Json(s.app.open_notices(&actor).await?))
}

#[utoipa::path(post, path = "/notices/preview", tag = "notices", request_body = Scope,
    responses((status = 200, body = AffectedPreview, description = "Lines and customers reached now, per region and service"),
              (status = 422, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn preview(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(scope): ApiJson<Scope>,
) -> ApiResult<Json<AffectedPreview>> {
    Ok(Json(s.app.preview_scope(&actor, &scope).await?))
}

#[utoipa::path(get, path = "/notices/{id}", tag = "notices", params(("id" = i64, Path)),
    responses((status = 200, body = NoticeView, description = "Staff get the scope and the live counts; a customer only a notice touching its lines"),
              (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_notice(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<NoticeView>> {
    let id = path_id(&id, "notice")?;
    Ok(Json(s.app.notice(&actor, id).await?))
}

#[utoipa::path(post, path = "/notices/{id}/updates", tag = "notices", params(("id" = i64, Path)), request_body = NoticeUpdateBody,
    responses((status = 201, body = NoticeView), (status = 400, body = Problem, description = "A state the lifecycle does not allow from the current one"),
              (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn post_update(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NoticeUpdateBody>,
) -> ApiResult<(StatusCode, Json<NoticeView>)> {
    let id = path_id(&id, "notice")?;
    let input = NoticeUpdateInput {
        state: b.state,
        texts: texts(b.texts, String::new(), b.body),
        estimated_restoration: b.estimated_restoration,
        reply_to_tickets: b.reply_to_tickets,
        resolve_tickets: b.resolve_tickets,
    };
    Ok((StatusCode::CREATED, Json(s.app.post_notice_update(&actor, id, input).await?)))
}

#[utoipa::path(post, path = "/notices/{id}/publish", tag = "notices", params(("id" = i64, Path)),
    responses((status = 200, body = NoticeView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn publish(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<Json<NoticeView>> {
    let id = path_id(&id, "notice")?;
    Ok(Json(s.app.publish_notice(&actor, id).await?))
}

#[utoipa::path(get, path = "/customers/{code}/notices", tag = "notices", params(("code" = String, Path)),
    responses((status = 200, body = Vec<NoticeView>, description = "Active and upcoming notices touching its lines"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn customer_notices(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> ApiResult<Json<Vec<NoticeView>>> {
    Ok(Json(s.app.customer_notices(&actor, &code).await?))
}

#[utoipa::path(get, path = "/lines/{identifier}/notices", tag = "notices", params(("identifier" = String, Path)),
    responses((status = 200, body = Vec<NoticeView>, description = "Active and upcoming notices touching the line"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn line_notices(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(identifier): Path<String>,
) -> ApiResult<Json<Vec<NoticeView>>> {
    Ok(Json(s.app.line_notices(&actor, &identifier).await?))
}

#[utoipa::path(get, path = "/customers/{code}/lines", tag = "notices", params(("code" = String, Path)),
    responses((status = 200, body = Vec<LineView>), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn customer_lines(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> ApiResult<Json<Vec<LineView>>> {
    Ok(Json(s.app.customer_lines(&actor, &code).await?))
}

#[utoipa::path(get, path = "/lines/{identifier}", tag = "notices", params(("identifier" = String, Path)),
    responses((status = 200, body = LineView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_line(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(identifier): Path<String>,
) -> ApiResult<Json<LineView>> {
    Ok(Json(s.app.line(&actor, &identifier).await?))
}

#[utoipa::path(get, path = "/services", tag = "notices",
    responses((status = 200, body = Vec<ServiceView>), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn services(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<ServiceView>>> {
    Ok(Json(s.app.services(&actor).await?))
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notices, create_notice))
        .routes(routes!(preview))
        .routes(routes!(get_notice, edit_notice))
        .routes(routes!(post_update))
        .routes(routes!(publish))
        .routes(routes!(customer_notices))
        .routes(routes!(line_notices))
        .routes(routes!(customer_lines))
        .routes(routes!(get_line))
        .routes(routes!(services))
}
