//! The service-level API: business calendars, support levels and contracts (admins change them,
//! staff read them), the "breaching soon" list, time entries and the monthly time report.

use std::collections::BTreeMap;

use app::sla::{CalendarInput, CalendarView, ContractInput, ContractPatch, ContractView, LevelInput, LevelView};
use app::timesheet::{TimeEntryView, TimeReportRow};
use app::views::TicketSummary;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{Category, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{ApiResult, TimeBody, path_id};
use crate::problem::{ApiError, ApiJson, ApiQuery, Auth, Problem, ticket_number};

/// Opening intervals per weekday, `HH:MM-HH:MM`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeekBody {
    #[serde(default)]
    pub monday: Vec<String>,
    #[serde(default)]
    pub tuesday: Vec<String>,
    #[serde(default)]
    pub wednesday: Vec<String>,
    #[serde(default)]
    pub thursday: Vec<String>,
    #[serde(default)]
    pub friday: Vec<String>,
    #[serde(default)]
    pub saturday: Vec<String>,
    #[serde(default)]
    pub sunday: Vec<String>,
}

/// A business calendar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    /// Machine name (from the path when saving).
    #[serde(default)]
    pub slug: String,
    /// Name.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Rome`.
    pub time_zone: String,
    /// Open at every instant (the week and holidays are then ignored).
    #[serde(default)]
    pub always_open: bool,
    /// Opening intervals per weekday.
    #[serde(default)]
    pub week: WeekBody,
    /// Holidays: `MM-DD` every year, `easter+N` (Easter Monday is `easter+1`), `YYYY-MM-DD` once.
    #[serde(default)]
    pub holidays: Vec<String>,
}

fn calendar_body(c: CalendarView) -> CalendarBody {
    let day = |name: &str| c.week.iter().find(|(d, _)| d == name).map(|(_, v)| v.clone()).unwrap_or_default();
    CalendarBody {
        week: WeekBody {
            monday: day("monday"),
            tuesday: day("tuesday"),
            wednesday: day("wednesday"),
            thursday: day("thursday"),
            friday: day("friday"),
            saturday: day("saturday"),
            sunday: day("sunday"),
        },
        slug: c.slug,
        name: c.name,
        time_zone: c.time_zone,
        always_open: c.always_open,
        holidays: c.holidays,
    }
}

/// Business minutes per severity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesBody {
    /// For a blocking fault.
    pub blocking: i64,
    /// For a non-blocking one.
    pub non_blocking: i64,
}

/// Business minutes promised to a category other than faults.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryMinutesBody {
    /// From the opening to the intervention.
    pub intervention: i64,
    /// From the intervention to the restoration.
    pub restoration: i64,
}

/// A support level.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelBody {
    /// Machine name (from the path when saving).
    #[serde(default)]
    pub slug: String,
    /// Name.
    pub name: String,
    /// The calendar's slug.
    pub calendar: String,
    /// Business minutes from the opening to the intervention.
    pub intervention_minutes: MinutesBody,
    /// Business minutes from the intervention to the restoration.
    pub restoration_minutes: MinutesBody,
    /// Targets for categories other than faults (`service_request`, `order`, …); a category
    /// missing here runs no clock. Faults are timed by severity.
    #[serde(default)]
    pub category_minutes: BTreeMap<Category, CategoryMinutesBody>,
    /// Warn at this share (per cent) of a target (default 75).
    #[serde(default = "seventy_five")]
    pub warn_percent: i64,
    /// Ticket statuses that pause the clocks (default `["stalled"]`).
    #[serde(default = "stalled")]
    pub pause_statuses: Vec<Status>,
    /// The queue a breached ticket moves to (its escalation group).
    #[serde(default)]
    pub escalation_queue: Option<String>,
    /// Priority points added at a breach.
    #[serde(default)]
    pub escalation_raise: i64,
}

fn seventy_five() -> i64 {
    75
}

fn stalled() -> Vec<Status> {
    vec![Status::Stalled]
}

fn level_body(l: LevelView) -> LevelBody {
    LevelBody {
        slug: l.slug,
        name: l.name,
        calendar: l.calendar,
        intervention_minutes: MinutesBody {
            blocking: l.intervention_minutes.0,
            non_blocking: l.intervention_minutes.1,
        },
        restoration_minutes: MinutesBody { blocking: l.restoration_minutes.0, non_blocking: l.restoration_minutes.1 },
        category_minutes: l
            .category_minutes
            .into_iter()
            .map(|(c, (intervention, restoration))| (c, CategoryMinutesBody { intervention, restoration }))
            .collect(),
        warn_percent: l.warn_percent,
        pause_statuses: l.pause_statuses,
        escalation_queue: l.escalation_queue,
        escalation_raise: l.escalation_raise,
    }
}

#[utoipa::path(get, path = "/sla/calendars", tag = "sla",
    responses((status = 200, body = Vec<CalendarBody>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_calendars(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<CalendarBody>>> {
    Ok(Json(s.app.calendars(&actor).await?.into_iter().map(calendar_body).collect()))
}

#[utoipa::path(put, path = "/sla/calendars/{slug}", tag = "sla", params(("slug" = String, Path)), request_body = CalendarBody,
    responses((status = 200, body = CalendarBody, description = "Saved; running clocks of its levels are recomputed by a job"),
              (status = 400, body = Problem, description = "Names the field: overlapping or inverted intervals, unknown time zone, no open time"),
              (status = 403, body = Problem)), security(("bearer" = [])))]
async fn put_calendar(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
    ApiJson(b): ApiJson<CalendarBody>,
) -> ApiResult<Json<CalendarBody>> {
    let w = b.week;
    let input = CalendarInput {
        slug,
        name: b.name,
        time_zone: b.time_zone,
        always_open: b.always_open,
        week: [w.monday, w.tuesday, w.wednesday, w.thursday, w.friday, w.saturday, w.sunday],
        holidays: b.holidays,
    };
    Ok(Json(calendar_body(s.app.save_calendar(&actor, input).await?)))
}

#[utoipa::path(delete, path = "/sla/calendars/{slug}", tag = "sla", params(("slug" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem), (status = 409, body = Problem, description = "A level uses it")),
    security(("bearer" = [])))]
async fn delete_calendar(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_sla_item(&actor, app::sla::SlaItem::Calendar, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/sla/levels", tag = "sla",
    responses((status = 200, body = Vec<LevelBody>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_levels(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<LevelBody>>> {
    Ok(Json(s.app.support_levels(&actor).await?.into_iter().map(level_body).collect()))
}

#[utoipa::path(put, path = "/sla/levels/{slug}", tag = "sla", params(("slug" = String, Path)), request_body = LevelBody,
    responses((status = 200, body = LevelBody), (status = 400, body = Problem, description = "Names the field; targets must be above zero"),
              (status = 403, body = Problem)), security(("bearer" = [])))]
async fn put_level(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(slug): Path<String>,
    ApiJson(b): ApiJson<LevelBody>,
) -> ApiResult<Json<LevelBody>> {
    let input = LevelInput {
        slug,
        name: b.name,
        calendar: b.calendar,
        intervention_minutes: (b.intervention_minutes.blocking, b.intervention_minutes.non_blocking),
        restoration_minutes: (b.restoration_minutes.blocking, b.restoration_minutes.non_blocking),
        category_minutes: b.category_minutes.into_iter().map(|(c, m)| (c, (m.intervention, m.restoration))).collect(),
        warn_percent: b.warn_percent,
        pause_statuses: b.pause_statuses,
        escalation_queue: b.escalation_queue,
        escalation_raise: b.escalation_raise,
    };
    Ok(Json(level_body(s.app.save_support_level(&actor, input).await?)))
}

#[utoipa::path(delete, path = "/sla/levels/{slug}", tag = "sla", params(("slug" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem), (status = 409, body = Problem, description = "Contracts or tickets use it")),
    security(("bearer" = [])))]
async fn delete_level(State(s): State<AppState>, Auth(actor): Auth, Path(slug): Path<String>) -> ApiResult<StatusCode> {
    s.app.delete_sla_item(&actor, app::sla::SlaItem::Level, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A contract to add: for a customer, or for a partner (covering all its customers).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    /// The customer's code.
    #[serde(default)]
    pub customer: Option<String>,
    /// The partner's id.
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// The support level's slug.
    pub level: String,
    /// First day, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Last day, `YYYY-MM-DD` (open-ended when absent).
    #[serde(default)]
    pub valid_until: Option<String>,
    /// Support minutes included.
    #[serde(default)]
    pub included_minutes: i64,
    /// Entitled to new versions and features.
    #[serde(default)]
    pub evo: bool,
}

/// Changes to a contract; absent fields stay, `valid_until: null` makes it open-ended.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractPatchBody {
    /// The support level's slug (tickets already open keep theirs).
    #[serde(default)]
    pub level: Option<String>,
    /// First day.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Last day, or null.
    #[serde(default, deserialize_with = "crate::api::double_option")]
    #[schema(value_type = Option<String>)]
    pub valid_until: Option<Option<String>>,
    /// Support minutes included.
    #[serde(default)]
    pub included_minutes: Option<i64>,
    /// Entitled to new versions and features.
    #[serde(default)]
    pub evo: Option<bool>,
}

#[utoipa::path(get, path = "/sla/contracts", tag = "sla",
    responses((status = 200, body = Vec<ContractView>), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_contracts(State(s): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Vec<ContractView>>> {
    Ok(Json(s.app.contracts(&actor).await?))
}

#[utoipa::path(post, path = "/sla/contracts", tag = "sla", request_body = ContractBody,
    responses((status = 201, body = ContractView), (status = 400, body = Problem), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn create_contract(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<ContractBody>,
) -> ApiResult<(StatusCode, Json<ContractView>)> {
    let input = ContractInput {
        customer: b.customer,
        partner_id: b.partner_id,
        level: b.level,
        valid_from: b.valid_from,
        valid_until: b.valid_until,
        included_minutes: b.included_minutes,
        evo: b.evo,
    };
    Ok((StatusCode::CREATED, Json(s.app.create_contract(&actor, input).await?)))
}

#[utoipa::path(get, path = "/sla/contracts/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 200, body = ContractView), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_contract(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractView>> {
    Ok(Json(s.app.contract(&actor, path_id(&id, "contract")?).await?))
}

#[utoipa::path(patch, path = "/sla/contracts/{id}", tag = "sla", params(("id" = i64, Path)), request_body = ContractPatchBody,
    responses((status = 200, body = ContractView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn patch_contract(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ContractPatchBody>,
) -> ApiResult<Json<ContractView>> {
    let patch = ContractPatch {
        level: b.level,
        valid_from: b.valid_from,
        valid_until: b.valid_until,
        included_minutes: b.included_minutes,
        evo: b.evo,
    };
    Ok(Json(s.app.update_contract(&actor, path_id(&id, "contract")?, patch).await?))
}

#[utoipa::path(delete, path = "/sla/contracts/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem), (status = 409, body = Problem, description = "Tickets were opened under it; end it with valid_until instead")),
    security(("bearer" = [])))]
async fn delete_contract(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_sla_item(&actor, app::sla::SlaItem::Contract, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/customers/{code}/contracts", tag = "sla", params(("code" = String, Path)),
    responses((status = 200, body = Vec<ContractView>, description = "Its own and its partner's, newest first"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn customer_contracts(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> ApiResult<Json<Vec<ContractView>>> {
    Ok(Json(s.app.contracts_of_customer(&actor, &code).await?))
}

/// Parameters of the breaching-soon list.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BreachingParams {
    /// Due within this many minutes (default 240; late ones are always included).
    pub within_minutes: Option<i64>,
    /// At most this many tickets, 1–500 (default 100).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/sla/breaching", tag = "sla", params(BreachingParams),
    responses((status = 200, body = Vec<TicketSummary>, description = "Soonest due first"), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn breaching(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<BreachingParams>,
) -> ApiResult<Json<Vec<TicketSummary>>> {
    let within = p.within_minutes.unwrap_or(240);
    if !(0..=60 * 24 * 366).contains(&within) {
        return Err(ApiError::bad_request("within_minutes", "between 0 and a year of minutes"));
    }
    let list = s.app.breaching_soon(&actor, jiff::SignedDuration::from_mins(within), p.limit.unwrap_or(100)).await?;
    Ok(Json(list))
}

#[utoipa::path(get, path = "/tickets/{number}/time", tag = "sla", params(("number" = i64, Path)),
    responses((status = 200, body = Vec<TimeEntryView>), (status = 403, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list_time(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<TimeEntryView>>> {
    Ok(Json(s.app.time_entries(&actor, ticket_number(&number)?).await?))
}

#[utoipa::path(post, path = "/tickets/{number}/time", tag = "sla", params(("number" = i64, Path)), request_body = TimeBody,
    responses((status = 201, body = TimeEntryView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn post_time(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(number): Path<String>,
    ApiJson(b): ApiJson<TimeBody>,
) -> ApiResult<(StatusCode, Json<TimeEntryView>)> {
    Ok((StatusCode::CREATED, Json(s.app.add_time(&actor, ticket_number(&number)?, b.into()).await?)))
}

/// Parameters of the time report.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimeReportParams {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The time zone the month is counted in (default `Europe/Rome`).
    pub time_zone: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/reports/time", tag = "sla", params(TimeReportParams),
    responses((status = 200, body = Vec<TimeReportRow>, description = "Per customer; `format=csv` gives text/csv"), (status = 400, body = Problem),
              (status = 403, body = Problem)), security(("bearer" = [])))]
async fn time_report(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<TimeReportParams>,
) -> ApiResult<Response> {
    let zone = p.time_zone.as_deref().unwrap_or("Europe/Rome");
    let rows = s.app.time_report(&actor, &p.month, zone).await?;
    match p.format.as_deref() {
        None | Some("json") => Ok(Json(rows).into_response()),
        Some("csv") => {
            let name = format!("attachment; filename=\"time-{}.csv\"", p.month.trim());
            let headers =
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)];
            Ok((headers, app::timesheet::time_report_csv(&rows)).into_response())
        }
        Some(other) => Err(ApiError::bad_request("format", format!("`{other}` is not json or csv"))),
    }
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calendars))
        .routes(routes!(put_calendar, delete_calendar))
        .routes(routes!(list_levels))
        .routes(routes!(put_level, delete_level))
        .routes(routes!(list_contracts, create_contract))
        .routes(routes!(get_contract, patch_contract, delete_contract))
        .routes(routes!(customer_contracts))
        .routes(routes!(breaching))
        .routes(routes!(list_time, post_time))
        .routes(routes!(time_report))
}
