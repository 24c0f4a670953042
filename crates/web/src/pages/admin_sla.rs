//! Admin pages for service levels (`/admin/sla`): business calendars, support levels, contracts
//! of customers and partners, and the monthly time report (a table, and CSV to download).
//! Admins only; every form posts with the session's CSRF token; a refused change shows the form
//! again with what was typed and the application's problems (status 400) and saves nothing.

use std::collections::HashMap;

use app::sessions::Session;
use app::sla::{CalendarInput, CalendarView, ContractInput, ContractPatch, ContractView, LevelInput, LevelView};
use app::timesheet::TimeReportRow;
use app::{Error, FieldProblem};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use domain::calendar::WEEKDAYS;
use domain::{Category, Status};
use serde::Deserialize;

use super::admin::{Opt, admin, invalid, opt, posted, problems, to};
use super::form::Submitted;
use super::people::path_id;
use super::{Me, PageError, Tr, Viewer, encode, render};
use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sla", get(index))
        .route("/admin/sla/time.csv", get(time_csv))
        .route("/admin/sla/calendars/new", get(new_calendar).post(create_calendar))
        .route("/admin/sla/calendars/{slug}", get(edit_calendar).post(update_calendar))
        .route("/admin/sla/calendars/{slug}/delete", post(delete_calendar))
        .route("/admin/sla/levels/new", get(new_level).post(create_level))
        .route("/admin/sla/levels/{slug}", get(edit_level).post(update_level))
        .route("/admin/sla/levels/{slug}/delete", post(delete_level))
        .route("/admin/sla/contracts", post(create_contract))
        .route("/admin/sla/contracts/{id}", get(edit_contract).post(update_contract))
        .route("/admin/sla/contracts/{id}/end", post(end_contract))
        .route("/admin/sla/contracts/{id}/delete", post(delete_contract))
}

/// The statuses that may pause a clock (the others stop it or never run it).
const PAUSABLE: [Status; 3] = [Status::New, Status::Open, Status::Stalled];

/// Items of a list typed as text: separated by commas, semicolons or line breaks.
fn items(text: &str) -> Vec<String> {
    text.split([',', ';', '\n', '\r']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A whole number typed in `field`, or a problem about it.
fn number(problems: &mut Vec<FieldProblem>, field: &str, text: &str) -> i64 {
    match text.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            if !problems.iter().any(|p| p.field == field) {
                problems.push(FieldProblem { field: field.into(), message: format!("`{text}` is not a whole number") });
            }
            0
        }
    }
}

/// The reader's time zone by name, for the time report.
fn zone_name(tr: &Tr) -> String {
    tr.tz.iana_name().unwrap_or("UTC").to_owned()
}

/// This month (`YYYY-MM`) in the reader's time zone.
fn this_month(state: &AppState, tr: &Tr) -> String {
    state.app.now().to_zoned(tr.tz.clone()).strftime("%Y-%m").to_string()
}

/// Today in the reader's time zone.
fn today(state: &AppState, tr: &Tr) -> jiff::civil::Date {
    state.app.now().to_zoned(tr.tz.clone()).date()
}

// ----- the overview -----

/// A calendar as the overview lists it.
struct CalendarLine {
    calendar: CalendarView,
    /// "Monday: 09:00-13:00, 14:00-18:00", one per open day.
    days: Vec<String>,
}

/// A support level as the overview lists it.
struct LevelLine {
    level: LevelView,
    calendar: String,
    pausing: String,
}

/// A contract as the overview lists it.
struct ContractLine {
    contract: ContractView,
    /// The customer's code or the partner's name.
    holder: String,
    level: String,
    included: String,
}

/// A time report line with its figures in words.
struct ReportLine {
    row: TimeReportRow,
    level: String,
    included: String,
    billable: String,
    other: String,
    to_invoice: String,
}

/// The values typed in the add-contract form.
#[derive(Default)]
struct ContractForm {
    customer: String,
    partner_id: String,
    level: String,
    valid_from: String,
    valid_until: String,
    included_minutes: String,
    evo: bool,
}

impl ContractForm {
    fn from_submitted(f: &Submitted) -> ContractForm {
        ContractForm {
            customer: f.text("customer"),
            partner_id: f.text("partner_id"),
            level: f.text("level"),
            valid_from: f.text("valid_from"),
            valid_until: f.text("valid_until"),
            included_minutes: f.text("included_minutes"),
            evo: f.checked("evo"),
        }
    }

    fn from_view(k: &ContractView) -> ContractForm {
        ContractForm {
            customer: k.customer.clone().unwrap_or_default(),
            partner_id: k.partner_id.map(|p| p.to_string()).unwrap_or_default(),
            level: k.level.clone(),
            valid_from: k.valid_from.clone(),
            valid_until: k.valid_until.clone().unwrap_or_default(),
            included_minutes: k.included_minutes.to_string(),
            evo: k.evo,
        }
    }

    /// The included minutes, 0 when left empty.
    fn included(&self, problems: &mut Vec<FieldProblem>) -> i64 {
        if self.included_minutes.trim().is_empty() {
            0
        } else {
            number(problems, "included_minutes", &self.included_minutes)
        }
    }

    fn input(&self) -> Result<ContractInput, Error> {
        let mut early = Vec::new();
        let included_minutes = self.included(&mut early);
        let partner_id = match self.partner_id.trim() {
            "" => None,
            id => Some(number(&mut early, "partner_id", id)),
        };
        if !early.is_empty() {
            return Err(Error::Invalid(early));
        }
        Ok(ContractInput {
            customer: Some(self.customer.clone()).filter(|c| !c.is_empty()),
            partner_id,
            level: self.level.clone(),
            valid_from: self.valid_from.clone(),
            valid_until: Some(self.valid_until.clone()).filter(|u| !u.is_empty()),
            included_minutes,
            evo: self.evo,
        })
    }

    fn patch(&self) -> Result<ContractPatch, Error> {
        let mut early = Vec::new();
        let included_minutes = self.included(&mut early);
        if !early.is_empty() {
            return Err(Error::Invalid(early));
        }
        Ok(ContractPatch {
            level: Some(self.level.clone()),
            valid_from: Some(self.valid_from.clone()),
            valid_until: Some(Some(self.valid_until.clone()).filter(|u| !u.is_empty())),
            included_minutes: Some(included_minutes),
            evo: Some(self.evo),
        })
    }
}

#[derive(Template)]
#[template(path = "admin_sla.html")]
struct IndexPage {
    tr: Tr,
    me: Option<Me>,
    calendars: Vec<CalendarLine>,
    levels: Vec<LevelLine>,
    contracts: Vec<ContractLine>,
    /// Problems of a deletion or of ending a contract.
    problems: Vec<FieldProblem>,
    form: ContractForm,
    customers: Vec<Opt>,
    partners: Vec<Opt>,
    level_opts: Vec<Opt>,
    contract_problems: Vec<FieldProblem>,
    month: String,
    report: Vec<ReportLine>,
    report_problems: Vec<FieldProblem>,
}

fn weekday_label(tr: &Tr, day: &str) -> String {
    tr.named("weekday", day)
}

fn status_labels(tr: &Tr, statuses: &[Status]) -> String {
    statuses.iter().map(|s| tr.status(s)).collect::<Vec<_>>().join(", ")
}

/// The support levels as options.
fn level_opts(levels: &[LevelView], selected: &str) -> Vec<Opt> {
    levels.iter().map(|l| opt(l.slug.clone(), l.name.clone(), selected)).collect()
}

impl IndexPage {
    async fn load(
        state: &AppState,
        viewer: &Viewer,
        s: &Session,
        form: ContractForm,
        month: String,
    ) -> Result<IndexPage, PageError> {
        let err = viewer.err();
        let tr = viewer.tr.clone();
        let app = &state.app;
        let (calendars, levels, contracts, customers, partners) = tokio::try_join!(
            app.calendars(&s.actor),
            app.support_levels(&s.actor),
            app.contracts(&s.actor),
            app.customers(&s.actor),
            app.partners(&s.actor),
        )
        .map_err(&err)?;
        let partner_names: HashMap<i64, String> = partners.iter().map(|p| (p.id, p.name.clone())).collect();
        let level_name = |slug: &str| {
            levels.iter().find(|l| l.slug == slug).map(|l| l.name.clone()).unwrap_or_else(|| slug.to_owned())
        };
        let calendar_name = |slug: &str| {
            calendars.iter().find(|c| c.slug == slug).map(|c| c.name.clone()).unwrap_or_else(|| slug.to_owned())
        };
        let (report, report_problems) = match app.time_report(&s.actor, &month, &zone_name(&tr)).await {
            Ok(rows) => (rows, Vec::new()),
            Err(e) => (Vec::new(), problems(viewer, e)?),
        };
        let report = report
            .into_iter()
            .map(|row| ReportLine {
                level: row.level.as_deref().map(level_name).unwrap_or_else(|| tr.t("sla-on-request")),
                included: super::sla::hours(&tr, row.included_minutes),
                billable: super::sla::hours(&tr, row.billable_minutes),
                other: super::sla::hours(&tr, row.other_minutes),
                to_invoice: super::sla::hours(&tr, row.to_invoice_minutes),
                row,
            })
            .collect();
        let contracts = contracts
            .into_iter()
            .map(|k| ContractLine {
                holder: match (&k.customer, k.partner_id) {
                    (Some(code), _) => code.clone(),
                    (None, Some(id)) => partner_names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                    (None, None) => String::new(),
                },
                level: level_name(&k.level),
                included: super::sla::hours(&tr, k.included_minutes),
                contract: k,
            })
            .collect();
        let level_lines = levels
            .iter()
            .map(|l| LevelLine {
                calendar: calendar_name(&l.calendar),
                pausing: status_labels(&tr, &l.pause_statuses),
                level: l.clone(),
            })
            .collect();
        let calendar_lines = calendars
            .iter()
            .map(|c| CalendarLine {
                days: c
                    .week
                    .iter()
                    .filter(|(_, ivs)| !ivs.is_empty())
                    .map(|(d, ivs)| format!("{}: {}", weekday_label(&tr, d), ivs.join(", ")))
                    .collect(),
                calendar: c.clone(),
            })
            .collect();
        let mut customer_opts = vec![opt("", tr.t("admin-none"), &form.customer)];
        customer_opts
            .extend(customers.iter().map(|c| opt(c.code.clone(), format!("{} · {}", c.code, c.name), &form.customer)));
        let mut partner_opts = vec![opt("", tr.t("admin-none"), &form.partner_id)];
        partner_opts.extend(partners.iter().map(|p| opt(p.id.to_string(), p.name.clone(), &form.partner_id)));
        Ok(IndexPage {
            me: viewer.me(),
            calendars: calendar_lines,
            level_opts: level_opts(&levels, &form.level),
            levels: level_lines,
            contracts,
            problems: Vec::new(),
            customers: customer_opts,
            partners: partner_opts,
            form,
            contract_problems: Vec::new(),
            month,
            report,
            report_problems,
            tr,
        })
    }
}

#[derive(Deserialize)]
struct IndexQuery {
    month: Option<String>,
    customer: Option<String>,
}

async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<IndexQuery>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let month = q.month.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
    let month = month.unwrap_or_else(|| this_month(&state, &viewer.tr));
    let form = ContractForm {
        customer: q.customer.unwrap_or_default(),
        valid_from: today(&state, &viewer.tr).to_string(),
        ..Default::default()
    };
    let page = IndexPage::load(&state, &viewer, s, form, month).await?;
    if page.report_problems.is_empty() { Ok(render(&page)) } else { Ok(invalid(&page)) }
}

/// After a deletion or the end of a contract: back to the overview, or the overview with the
/// problem (a calendar still used by a level, a level or contract still used by tickets).
async fn after(
    state: &AppState,
    viewer: &Viewer,
    result: app::Result<()>,
    anchor: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(to(&format!("/admin/sla{anchor}"))),
        Err(e) => {
            let problems = problems(viewer, e)?;
            let s = admin(viewer)?;
            let month = this_month(state, &viewer.tr);
            let page = IndexPage::load(state, viewer, s, ContractForm::default(), month).await?;
            Ok(invalid(&IndexPage { problems, ..page }))
        }
    }
}

#[derive(Deserialize)]
struct MonthQuery {
    month: Option<String>,
}

/// The monthly time report as CSV.
async fn time_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let month = q.month.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
    let month = month.unwrap_or_else(|| this_month(&state, &viewer.tr));
    let rows = state.app.time_report(&s.actor, &month, &zone_name(&viewer.tr)).await.map_err(viewer.err())?;
    let csv = app::timesheet::time_report_csv(&rows);
    Ok(super::download(&format!("time-{month}.csv"), "text/csv", csv.into_bytes()))
}

// ----- calendars -----

/// A weekday's field of the calendar form.
struct DayField {
    key: &'static str,
    label: String,
    value: String,
}

#[derive(Default)]
struct CalendarForm {
    slug: String,
    name: String,
    time_zone: String,
    always_open: bool,
    /// Intervals per weekday, Monday first, as typed.
    week: [String; 7],
    holidays: String,
}

impl CalendarForm {
    fn from_view(c: &CalendarView) -> CalendarForm {
        let mut week: [String; 7] = Default::default();
        for (i, d) in WEEKDAYS.iter().enumerate() {
            week[i] = c.week.iter().find(|(k, _)| k == d).map(|(_, v)| v.join(", ")).unwrap_or_default();
        }
        CalendarForm {
            slug: c.slug.clone(),
            name: c.name.clone(),
            time_zone: c.time_zone.clone(),
            always_open: c.always_open,
            week,
            holidays: c.holidays.join(", "),
        }
    }

    fn from_submitted(f: &Submitted) -> CalendarForm {
        let mut week: [String; 7] = Default::default();
        for (i, d) in WEEKDAYS.iter().enumerate() {
            week[i] = f.text(d);
        }
        CalendarForm {
            slug: f.text("slug"),
            name: f.text("name"),
            time_zone: f.text("time_zone"),
            always_open: f.checked("always_open"),
            week,
            holidays: f.get("holidays").unwrap_or("").to_owned(),
        }
    }

    fn input(&self) -> CalendarInput {
        let mut week: [Vec<String>; 7] = Default::default();
        for (i, d) in self.week.iter().enumerate() {
            week[i] = items(d);
        }
        CalendarInput {
            slug: self.slug.clone(),
            name: self.name.clone(),
            time_zone: self.time_zone.clone(),
            always_open: self.always_open,
            week,
            holidays: self
                .holidays
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_sla_calendar.html")]
struct CalendarPage {
    tr: Tr,
    me: Option<Me>,
    /// The calendar's slug, when editing.
    editing: Option<String>,
    form: CalendarForm,
    days: Vec<DayField>,
    problems: Vec<FieldProblem>,
}

impl CalendarPage {
    fn new(viewer: &Viewer, editing: Option<String>, form: CalendarForm) -> CalendarPage {
        let tr = viewer.tr.clone();
        let days = WEEKDAYS
            .iter()
            .zip(form.week.iter())
            .map(|(d, v)| DayField { key: d, label: weekday_label(&tr, d), value: v.clone() })
            .collect();
        CalendarPage { tr, me: viewer.me(), editing, form, days, problems: Vec::new() }
    }
}

async fn new_calendar(viewer: Viewer) -> Result<Response, PageError> {
    admin(&viewer)?;
    let form =
        CalendarForm { time_zone: viewer.tr.tz.iana_name().unwrap_or("Europe/Rome").to_owned(), ..Default::default() };
    Ok(render(&CalendarPage::new(&viewer, None, form)))
}

async fn save_calendar(
    state: &AppState,
    viewer: &Viewer,
    editing: Option<String>,
    f: &Submitted,
) -> Result<Response, PageError> {
    let s = posted(viewer, f)?;
    let mut form = CalendarForm::from_submitted(f);
    if let Some(slug) = &editing {
        form.slug = slug.clone();
    }
    match state.app.save_calendar(&s.actor, form.input()).await {
        Ok(_) => Ok(to("/admin/sla#calendars")),
        Err(e) => {
            let problems = problems(viewer, e)?;
            Ok(invalid(&CalendarPage { problems, ..CalendarPage::new(viewer, editing, form) }))
        }
    }
}

async fn create_calendar(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    save_calendar(&state, &viewer, None, &f).await
}

async fn edit_calendar(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let calendars = state.app.calendars(&s.actor).await.map_err(viewer.err())?;
    let c = calendars
        .iter()
        .find(|c| c.slug == slug)
        .ok_or_else(|| viewer.err()(Error::NotFound(format!("calendar {slug}"))))?;
    Ok(render(&CalendarPage::new(&viewer, Some(c.slug.clone()), CalendarForm::from_view(c))))
}

async fn update_calendar(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    save_calendar(&state, &viewer, Some(slug), &f).await
}

async fn delete_calendar(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let r = state.app.delete_sla_item(&s.actor, app::sla::SlaItem::Calendar, &slug).await;
    after(&state, &viewer, r, "#calendars").await
}

// ----- support levels -----

#[derive(Default)]
struct LevelForm {
    slug: String,
    name: String,
    calendar: String,
    intervention_blocking: String,
    intervention_non_blocking: String,
    restoration_blocking: String,
    restoration_non_blocking: String,
    warn_percent: String,
    pause_statuses: Vec<String>,
    escalation_queue: String,
    escalation_raise: String,
    /// Targets for each category other than faults: (category, intervention, restoration);
    /// both empty when the level promises nothing for it.
    categories: Vec<(Category, String, String)>,
}

/// The categories a level may promise times for (faults go by severity).
fn other_categories() -> impl Iterator<Item = Category> {
    Category::ALL.iter().copied().filter(|c| !c.is_fault())
}

impl LevelForm {
    fn from_view(l: &LevelView) -> LevelForm {
        LevelForm {
            slug: l.slug.clone(),
            name: l.name.clone(),
            calendar: l.calendar.clone(),
            intervention_blocking: l.intervention_minutes.0.to_string(),
            intervention_non_blocking: l.intervention_minutes.1.to_string(),
            restoration_blocking: l.restoration_minutes.0.to_string(),
            restoration_non_blocking: l.restoration_minutes.1.to_string(),
            warn_percent: l.warn_percent.to_string(),
            pause_statuses: l.pause_statuses.iter().map(|s| s.as_str().to_owned()).collect(),
            escalation_queue: l.escalation_queue.clone().unwrap_or_default(),
            escalation_raise: l.escalation_raise.to_string(),
            categories: other_categories()
                .map(|c| match l.category_minutes.get(&c) {
                    Some((i, r)) => (c, i.to_string(), r.to_string()),
                    None => (c, String::new(), String::new()),
                })
                .collect(),
        }
    }

    fn from_submitted(f: &Submitted) -> LevelForm {
        LevelForm {
            slug: f.text("slug"),
            name: f.text("name"),
            calendar: f.text("calendar"),
            intervention_blocking: f.text("intervention_blocking"),
            intervention_non_blocking: f.text("intervention_non_blocking"),
            restoration_blocking: f.text("restoration_blocking"),
            restoration_non_blocking: f.text("restoration_non_blocking"),
            warn_percent: f.text("warn_percent"),
            pause_statuses: f.all("pause_statuses").iter().map(|s| s.trim().to_owned()).collect(),
            escalation_queue: f.text("escalation_queue"),
            escalation_raise: f.text("escalation_raise"),
            categories: other_categories()
                .map(|c| (c, f.text(&format!("{c}_intervention")), f.text(&format!("{c}_restoration"))))
                .collect(),
        }
    }

    fn input(&self) -> Result<LevelInput, Error> {
        let mut p = Vec::new();
        let intervention = (
            number(&mut p, "intervention_minutes", &self.intervention_blocking),
            number(&mut p, "intervention_minutes", &self.intervention_non_blocking),
        );
        let restoration = (
            number(&mut p, "restoration_minutes", &self.restoration_blocking),
            number(&mut p, "restoration_minutes", &self.restoration_non_blocking),
        );
        let warn_percent = number(&mut p, "warn_percent", &self.warn_percent);
        let escalation_raise = if self.escalation_raise.is_empty() {
            0
        } else {
            number(&mut p, "escalation_raise", &self.escalation_raise)
        };
        let mut pause_statuses = Vec::new();
        for s in &self.pause_statuses {
            match s.parse::<Status>() {
                Ok(st) => pause_statuses.push(st),
                Err(e) => p.push(FieldProblem { field: "pause_statuses".into(), message: e }),
            }
        }
        let mut category_minutes = std::collections::BTreeMap::new();
        for (c, i, r) in &self.categories {
            if i.trim().is_empty() && r.trim().is_empty() {
                continue;
            }
            let field = format!("category_minutes.{c}");
            category_minutes.insert(*c, (number(&mut p, &field, i), number(&mut p, &field, r)));
        }
        if !p.is_empty() {
            return Err(Error::Invalid(p));
        }
        Ok(LevelInput {
            slug: self.slug.clone(),
            name: self.name.clone(),
            calendar: self.calendar.clone(),
            intervention_minutes: intervention,
            restoration_minutes: restoration,
            category_minutes,
            warn_percent,
            pause_statuses,
            escalation_queue: Some(self.escalation_queue.clone()).filter(|q| !q.is_empty()),
            escalation_raise,
        })
    }

    fn pauses(&self, s: &Status) -> bool {
        self.pause_statuses.iter().any(|p| p == s.as_str())
    }
}

#[derive(Template)]
#[template(path = "admin_sla_level.html")]
struct LevelPage {
    tr: Tr,
    me: Option<Me>,
    /// The level's slug, when editing.
    editing: Option<String>,
    form: LevelForm,
    calendars: Vec<Opt>,
    queues: Vec<Opt>,
    statuses: &'static [Status],
    problems: Vec<FieldProblem>,
}

impl LevelPage {
    async fn load(
        state: &AppState,
        viewer: &Viewer,
        s: &Session,
        editing: Option<String>,
        form: LevelForm,
    ) -> Result<LevelPage, PageError> {
        let err = viewer.err();
        let tr = viewer.tr.clone();
        let calendars = state
            .app
            .calendars(&s.actor)
            .await
            .map_err(&err)?
            .into_iter()
            .map(|c| opt(c.slug, c.name, &form.calendar))
            .collect();
        let mut queues = vec![opt("", tr.t("admin-none"), &form.escalation_queue)];
        for q in state.app.queues(&s.actor).await.map_err(&err)? {
            queues.push(opt(q.slug, q.name, &form.escalation_queue));
        }
        Ok(LevelPage {
            tr,
            me: viewer.me(),
            editing,
            form,
            calendars,
            queues,
            statuses: &PAUSABLE,
            problems: Vec::new(),
        })
    }
}

async fn new_level(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let defaults = LevelInput::default();
    let form = LevelForm {
        warn_percent: defaults.warn_percent.to_string(),
        pause_statuses: defaults.pause_statuses.iter().map(|s| s.as_str().to_owned()).collect(),
        escalation_raise: defaults.escalation_raise.to_string(),
        categories: other_categories().map(|c| (c, String::new(), String::new())).collect(),
        ..Default::default()
    };
    Ok(render(&LevelPage::load(&state, &viewer, s, None, form).await?))
}

async fn save_level(
    state: &AppState,
    viewer: &Viewer,
    editing: Option<String>,
    f: &Submitted,
) -> Result<Response, PageError> {
    let s = posted(viewer, f)?;
    let mut form = LevelForm::from_submitted(f);
    if let Some(slug) = &editing {
        form.slug = slug.clone();
    }
    let result = match form.input() {
        Ok(input) => state.app.save_support_level(&s.actor, input).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(to("/admin/sla#levels")),
        Err(e) => {
            let problems = problems(viewer, e)?;
            let page = LevelPage::load(state, viewer, s, editing, form).await?;
            Ok(invalid(&LevelPage { problems, ..page }))
        }
    }
}

async fn create_level(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    save_level(&state, &viewer, None, &f).await
}

async fn edit_level(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let levels = state.app.support_levels(&s.actor).await.map_err(viewer.err())?;
    let l = levels
        .iter()
        .find(|l| l.slug == slug)
        .ok_or_else(|| viewer.err()(Error::NotFound(format!("support level {slug}"))))?;
    Ok(render(&LevelPage::load(&state, &viewer, s, Some(l.slug.clone()), LevelForm::from_view(l)).await?))
}

async fn update_level(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    save_level(&state, &viewer, Some(slug), &f).await
}

async fn delete_level(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let r = state.app.delete_sla_item(&s.actor, app::sla::SlaItem::Level, &slug).await;
    after(&state, &viewer, r, "#levels").await
}

// ----- contracts -----

async fn create_contract(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = ContractForm::from_submitted(&f);
    let result = match form.input() {
        Ok(input) => state.app.create_contract(&s.actor, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(k) => match &k.customer {
            Some(code) => Ok(to(&format!("/customers/{}", encode(code)))),
            None => Ok(to("/admin/sla#contracts")),
        },
        Err(e) => {
            let contract_problems = problems(&viewer, e)?;
            let month = this_month(&state, &viewer.tr);
            let page = IndexPage::load(&state, &viewer, s, form, month).await?;
            Ok(invalid(&IndexPage { contract_problems, ..page }))
        }
    }
}

#[derive(Template)]
#[template(path = "admin_sla_contract.html")]
struct ContractPage {
    tr: Tr,
    me: Option<Me>,
    id: i64,
    /// The customer's code or the partner's name.
    holder: String,
    form: ContractForm,
    levels: Vec<Opt>,
    problems: Vec<FieldProblem>,
}

impl ContractPage {
    async fn load(
        state: &AppState,
        viewer: &Viewer,
        s: &Session,
        k: &ContractView,
        form: ContractForm,
    ) -> Result<ContractPage, PageError> {
        let err = viewer.err();
        let levels = state.app.support_levels(&s.actor).await.map_err(&err)?;
        let holder = match (&k.customer, k.partner_id) {
            (Some(code), _) => code.clone(),
            (None, Some(id)) => state.app.partner(&s.actor, id).await.map_err(&err)?.name,
            (None, None) => String::new(),
        };
        Ok(ContractPage {
            tr: viewer.tr.clone(),
            me: viewer.me(),
            id: k.id,
            holder,
            levels: level_opts(&levels, &form.level),
            form,
            problems: Vec::new(),
        })
    }
}

async fn edit_contract(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let id = path_id(&viewer, &id)?;
    let k = state.app.contract(&s.actor, id).await.map_err(viewer.err())?;
    Ok(render(&ContractPage::load(&state, &viewer, s, &k, ContractForm::from_view(&k)).await?))
}

async fn update_contract(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let k = state.app.contract(&s.actor, id).await.map_err(viewer.err())?;
    let form = ContractForm::from_submitted(&f);
    let result = match form.patch() {
        Ok(patch) => state.app.update_contract(&s.actor, id, patch).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(to("/admin/sla#contracts")),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = ContractPage::load(&state, &viewer, s, &k, form).await?;
            Ok(invalid(&ContractPage { problems, ..page }))
        }
    }
}

/// Ends a contract today (its last day is today in the reader's time zone).
async fn end_contract(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let patch = ContractPatch { valid_until: Some(Some(today(&state, &viewer.tr).to_string())), ..Default::default() };
    let r = state.app.update_contract(&s.actor, id, patch).await.map(|_| ());
    after(&state, &viewer, r, "#contracts").await
}

async fn delete_contract(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let r = state.app.delete_sla_item(&s.actor, app::sla::SlaItem::Contract, &id.to_string()).await;
    after(&state, &viewer, r, "#contracts").await
}
