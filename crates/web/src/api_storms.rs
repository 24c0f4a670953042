//! The JSON API of ticket storms (staff): the storms now, accepting one (its notice is created
//! and the storm's tickets linked) and dismissing one.

use std::collections::BTreeMap;

use app::notices::{NoticeText, NoticeView};
use app::storm::{StormAcceptInput, StormKind, StormList};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::notice::Impact;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::ApiResult;
use crate::problem::{ApiJson, Auth, Problem};

/// A storm, by what its tickets share.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StormKeyBody {
    /// `municipality` or `element`.
    pub kind: StormKind,
    /// The municipality's or the element's code.
    pub code: String,
}

/// Accepting a storm: the notice to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StormAcceptBody {
    /// `municipality` or `element`.
    pub kind: StormKind,
    /// The municipality's or the element's code.
    pub code: String,
    /// Title in Italian (with `body`); when neither this nor `texts` is given, the default texts
    /// in every language ("Possible outage in …").
    #[serde(default)]
    pub title: String,
    /// Public text in Italian.
    #[serde(default)]
    pub body: String,
    /// Title and text per language (`it`, `en`, `ca`).
    #[serde(default)]
    pub texts: BTreeMap<String, NoticeText>,
    /// `outage` (default), `degraded` or `partial`.
    #[serde(default = "outage")]
    pub impact: Impact,
    /// Notes for agents (default: the storm's tickets and key).
    #[serde(default)]
    pub internal_notes: Option<String>,
    /// Publish at once (default false: a draft to finish in the editor).
    #[serde(default)]
    pub publish: bool,
}

fn outage() -> Impact {
    Impact::Outage
}

#[utoipa::path(get, path = "/storms", tag = "notices",
    responses((status = 200, body = StormList, description = "Storms of new tickets now (most tickets first), with the rule"),
              (status = 403, body = Problem, description = "Not staff")),
    security(("bearer" = [])))]
async fn list_storms(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<StormList>> {
    Ok(Json(s.app.storm_suggestions(&actor).await?))
}

#[utoipa::path(post, path = "/storms/accept", tag = "notices", request_body = StormAcceptBody,
    responses((status = 201, body = NoticeView, description = "The incident notice created, with the storm's tickets linked"),
              (status = 400, body = Problem, description = "Malformed body or texts"),
              (status = 403, body = Problem, description = "Not staff"),
              (status = 404, body = Problem, description = "No such storm now (accepted meanwhile, or its tickets aged out)")),
    security(("bearer" = [])))]
async fn accept_storm(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<StormAcceptBody>,
) -> ApiResult<(StatusCode, Json<NoticeView>)> {
    let mut texts = b.texts;
    if !b.title.is_empty() || !b.body.is_empty() {
        texts.entry("it".into()).or_insert(NoticeText { title: b.title, body: b.body });
    }
    let input = StormAcceptInput {
        kind: b.kind,
        code: b.code,
        texts,
        impact: b.impact,
        internal_notes: b.internal_notes,
        publish: b.publish,
    };
    Ok((StatusCode::CREATED, Json(s.app.accept_storm(&actor, input).await?)))
}

#[utoipa::path(post, path = "/storms/dismiss", tag = "notices", request_body = StormKeyBody,
    responses((status = 204, description = "Hidden for the rule's window, for every agent"),
              (status = 400, body = Problem), (status = 403, body = Problem, description = "Not staff")),
    security(("bearer" = [])))]
async fn dismiss_storm(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<StormKeyBody>,
) -> ApiResult<StatusCode> {
    s.app.dismiss_storm(&actor, b.kind, &b.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The routes of the storms API.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_storms)).routes(routes!(accept_storm)).routes(routes!(dismiss_storm))
}
