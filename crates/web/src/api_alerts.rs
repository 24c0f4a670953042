//! The JSON API of opt-in notice alerts: a contact's subscriptions (managed by staff on its
//! behalf) and a line's record of who was told of which notice event.

use app::alerts::{DeliveryView, SubscribeInput, SubscriptionView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{ApiResult, path_id};
use crate::problem::{ApiError, ApiJson, ApiQuery, Auth, Problem};

/// Whose subscriptions.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactParams {
    /// The contact's email address (required for staff).
    pub contact: Option<String>,
}

/// A subscription to add: exactly one of `line` and `zone`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeBody {
    /// The contact's email address (required for staff).
    #[serde(default)]
    pub contact: Option<String>,
    /// A line of the contact's customer, by identifier.
    #[serde(default)]
    pub line: Option<String>,
    /// A municipality or province code where the contact's customer has lines.
    #[serde(default)]
    pub zone: Option<String>,
}

#[utoipa::path(get, path = "/alerts/subscriptions", tag = "alerts", params(ContactParams),
    responses((status = 200, body = Vec<SubscriptionView>, description = "Oldest first"),
              (status = 400, body = Problem, description = "No contact named"),
              (status = 404, body = Problem, description = "A contact the caller may not see")),
    security(("bearer" = [])))]
async fn list_subscriptions(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<ContactParams>,
) -> ApiResult<Json<Vec<SubscriptionView>>> {
    Ok(Json(s.app.alert_subscriptions(&actor, p.contact.as_deref()).await?))
}

#[utoipa::path(post, path = "/alerts/subscriptions", tag = "alerts", request_body = SubscribeBody,
    responses((status = 201, body = SubscriptionView, description = "Subscribed"),
              (status = 200, body = SubscriptionView, description = "Subscribed already: nothing changed"),
              (status = 400, body = Problem, description = "Neither or both of line and zone, or no contact"),
              (status = 404, body = Problem, description = "An unknown contact, line or zone, or one the caller may not see"),
              (status = 422, body = Problem, description = "A line of another customer, a ceased line, a zone that is not a municipality or province or where the customer has no lines")),
    security(("bearer" = [])))]
async fn subscribe(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<SubscribeBody>,
) -> ApiResult<(StatusCode, Json<SubscriptionView>)> {
    let input = SubscribeInput { contact: b.contact, line: b.line, zone: b.zone };
    let (view, created) = s.app.subscribe_alerts(&actor, input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view)))
}

#[utoipa::path(delete, path = "/alerts/subscriptions/{id}", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 204, description = "Unsubscribed"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn unsubscribe(State(s): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.app.unsubscribe_alert(&actor, path_id(&id, "subscription")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How much of a record.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// At most this many entries, 1–1000 (default 100).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/lines/{identifier}/deliveries", tag = "alerts", params(("identifier" = String, Path), DeliveryParams),
    responses((status = 200, body = Vec<DeliveryView>, description = "Who was told of which notice event and when, newest first"),
              (status = 403, body = Problem, description = "Staff only"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn line_deliveries(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(identifier): Path<String>,
    ApiQuery(p): ApiQuery<DeliveryParams>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::bad_request("limit", "between 1 and 1000"));
    }
    Ok(Json(s.app.line_deliveries(&actor, &identifier, limit).await?))
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscriptions, subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(line_deliveries))
}
