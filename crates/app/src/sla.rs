//! Service levels: business calendars, support levels and contracts (admins change them; staff
//! read them), and the due times a level gives a ticket. The built-in calendars and levels
//! (Professional, Advanced, Extended) are rows of migration 9, editable like any other.

use domain::calendar::{Calendar, WEEKDAYS};
use domain::sla::{DueTimes, Promise, SupportLevel, Targets};
use std::collections::BTreeMap;

use domain::{Category, Severity, Status};
use jiff::SignedDuration;
use serde::Serialize;

pub use store::sla::Item as SlaItem;

use crate::access::Actor;
use crate::error::Problems;
use crate::{App, Error, Result};

/// A business calendar as people read it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CalendarView {
    /// Machine name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Open at every instant.
    pub always_open: bool,
    /// Opening intervals per weekday (`monday` … `sunday`), `HH:MM-HH:MM`.
    pub week: Vec<(String, Vec<String>)>,
    /// Holidays: `MM-DD`, `easter+N`, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
}

/// A calendar to save (the slug names it; an existing one is replaced).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarInput {
    /// Machine name: 1–32 of `a-z 0-9 - _`.
    pub slug: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Open at every instant (the week and holidays are then ignored).
    pub always_open: bool,
    /// Intervals per weekday, Monday first: `["09:00-13:00", "14:00-18:00"]`.
    pub week: [Vec<String>; 7],
    /// Holidays: `MM-DD`, `easter+N`, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
}

/// A support level as people read it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LevelView {
    /// Machine name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Its calendar's slug.
    pub calendar: String,
    /// Business minutes to the intervention: blocking, non-blocking.
    pub intervention_minutes: (i64, i64),
    /// Business minutes from the intervention to the restoration: blocking, non-blocking.
    pub restoration_minutes: (i64, i64),
    /// Business minutes (intervention, restoration) promised to categories other than faults;
    /// a category missing here gets no clock.
    pub category_minutes: BTreeMap<Category, (i64, i64)>,
    /// Warn when this share (per cent) of a target is consumed.
    pub warn_percent: i64,
    /// The ticket statuses that pause the clocks.
    pub pause_statuses: Vec<Status>,
    /// The queue a breached ticket moves to (its escalation group), if any.
    pub escalation_queue: Option<String>,
    /// Priority points added at a breach.
    pub escalation_raise: i64,
}

/// A support level to save (the slug names it; an existing one is replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelInput {
    /// Machine name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// The calendar's slug.
    pub calendar: String,
    /// Business minutes to the intervention: blocking, non-blocking.
    pub intervention_minutes: (i64, i64),
    /// Business minutes from the intervention to the restoration: blocking, non-blocking.
    pub restoration_minutes: (i64, i64),
    /// Business minutes (intervention, restoration) promised to categories other than faults;
    /// a category missing here gets no clock.
    pub category_minutes: BTreeMap<Category, (i64, i64)>,
    /// Warn when this share (per cent) of a target is consumed.
    pub warn_percent: i64,
    /// The ticket statuses that pause the clocks.
    pub pause_statuses: Vec<Status>,
    /// The queue a breached ticket moves to (its escalation group), if any.
    pub escalation_queue: Option<String>,
    /// Priority points added at a breach.
    pub escalation_raise: i64,
}

impl Default for LevelInput {
    /// Empty names and targets; warnings at 75%, paused while stalled, no escalation.
    fn default() -> Self {
        LevelInput {
            slug: String::new(),
            name: String::new(),
            calendar: String::new(),
            intervention_minutes: (0, 0),
            restoration_minutes: (0, 0),
            category_minutes: BTreeMap::new(),
            warn_percent: 75,
            pause_statuses: vec![Status::Stalled],
            escalation_queue: None,
            escalation_raise: 0,
        }
    }
}

/// A contract to add: for a customer or for a partner (all its customers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractInput {
    /// The customer's code (or none for a partner's contract).
    pub customer: Option<String>,
    /// The partner's id (or none for a customer's contract).
    pub partner_id: Option<i64>,
    /// The support level's slug.
    pub level: String,
    /// First day, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Last day, `YYYY-MM-DD`, or none.
    pub valid_until: Option<String>,
    /// Support hours included, in minutes.
    pub included_minutes: i64,
    /// Entitled to new versions and features.
    pub evo: bool,
}

/// A contract as people read it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractView {
    /// Id.
    pub id: i64,
    /// The customer's code, for a customer's contract.
    pub customer: Option<String>,
    /// The partner's id, for a partner's contract.
    pub partner_id: Option<i64>,
    /// The support level's slug.
    pub level: String,
    /// First day.
    pub valid_from: String,
    /// Last day, if any.
    pub valid_until: Option<String>,
    /// Support hours included, in minutes.
    pub included_minutes: i64,
    /// Entitled to new versions and features.
    pub evo: bool,
}

/// Of a customer's contracts and its partner's, the one in force on `day` (`YYYY-MM-DD`): the
/// customer's own first, else the partner's.
pub(crate) fn in_force<'a>(
    all: &'a [store::sla::ContractRow],
    customer_id: i64,
    day: &str,
) -> Option<&'a store::sla::ContractRow> {
    let valid = |k: &&store::sla::ContractRow| {
        k.valid_from.as_str() <= day && k.valid_until.as_deref().is_none_or(|u| u >= day)
    };
    all.iter().filter(|k| k.customer_id == Some(customer_id)).find(valid).or_else(|| all.iter().find(valid))
}

/// A stored contract as people read it.
fn contract_view(k: &store::sla::ContractRow) -> ContractView {
    ContractView {
        id: k.id,
        customer: k.customer_code.clone(),
        partner_id: k.partner_id,
        level: k.level_slug.clone(),
        valid_from: k.valid_from.clone(),
        valid_until: k.valid_until.clone(),
        included_minutes: k.included_minutes,
        evo: k.evo,
    }
}

fn slug_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A stored calendar, read through the domain's text forms.
fn stored_calendar(c: &store::sla::CalendarRow) -> Result<Calendar> {
    Calendar::from_text(&c.time_zone, c.always_open, &c.week, &c.holidays)
        .map_err(|e| Error::Internal(format!("stored calendar {}: {e}", c.slug)))
}

fn calendar_view(slug: &str, name: &str, cal: &Calendar) -> CalendarView {
    CalendarView {
        slug: slug.to_owned(),
        name: name.to_owned(),
        time_zone: cal.time_zone().to_owned(),
        always_open: cal.is_always_open(),
        week: WEEKDAYS
            .iter()
            .zip(cal.week())
            .map(|(d, ivs)| ((*d).to_owned(), ivs.iter().map(ToString::to_string).collect()))
            .collect(),
        holidays: cal.holidays().iter().map(ToString::to_string).collect(),
    }
}

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// A stored level's promises for other categories, in minutes; empty when unreadable (saving
/// checks them).
fn category_minutes(text: &str) -> BTreeMap<Category, (i64, i64)> {
    domain::sla::parse_category_targets(text)
        .unwrap_or_default()
        .into_iter()
        .map(|(c, p)| (c, (p.intervention.as_mins(), p.restoration.as_mins())))
        .collect()
}

/// A level with its calendar, ready for arithmetic.
pub(crate) fn support_level(l: &store::sla::LevelRow, c: &store::sla::CalendarRow) -> Result<SupportLevel> {
    let calendar = stored_calendar(c)?;
    Ok(SupportLevel {
        slug: l.slug.clone(),
        name: l.name.clone(),
        calendar,
        intervention: Targets {
            blocking: minutes(l.intervention_blocking),
            non_blocking: minutes(l.intervention_non_blocking),
        },
        restoration: Targets {
            blocking: minutes(l.restoration_blocking),
            non_blocking: minutes(l.restoration_non_blocking),
        },
        categories: domain::sla::parse_category_targets(&l.category_targets)
            .map_err(|e| Error::Internal(format!("level {}: category_targets: {e}", l.slug)))?,
    })
}

impl App {
    /// Every business calendar. Staff.
    pub async fn calendars(&self, actor: &Actor) -> Result<Vec<CalendarView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let rows = store::sla::calendars(&mut tx).await?;
        rows.iter().map(|c| Ok(calendar_view(&c.slug, &c.name, &stored_calendar(c)?))).collect()
    }

    /// Adds or replaces a calendar; a bad one is refused naming the field. Admins only.
    pub async fn save_calendar(&self, actor: &Actor, input: CalendarInput) -> Result<CalendarView> {
        actor.require_admin()?;
        let mut p = Problems::default();
        let slug = input.slug.trim().to_ascii_lowercase();
        if !slug_ok(&slug) {
            p.add("slug", "1 to 32 of a-z 0-9 - _");
        }
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            p.add("name", "1 to 200 characters");
        }
        let week = input.week.iter().map(|d| d.join(",")).collect::<Vec<_>>().join("|");
        let holidays = input.holidays.join(",");
        let calendar = match Calendar::from_text(input.time_zone.trim(), input.always_open, &week, &holidays) {
            Ok(c) => Some(c),
            Err(e) => {
                let (field, message) = e.split_once(": ").unwrap_or(("week", e.as_str()));
                let field = field.split('.').next().unwrap_or("week").split('`').next().unwrap_or("week");
                p.add(if field.is_empty() { "week" } else { field }, message);
                None
            }
        };
        p.finish()?;
        let calendar = calendar.ok_or_else(|| Error::Internal("checked calendar missing".into()))?;
        let row = store::sla::CalendarRow {
            id: 0,
            slug,
            name,
            time_zone: calendar.time_zone().to_owned(),
            always_open: calendar.is_always_open(),
            week: if calendar.is_always_open() { String::new() } else { calendar.week_text() },
            holidays: if calendar.is_always_open() { String::new() } else { calendar.holidays_text() },
        };
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let id = store::sla::save_calendar(&mut tx, &row, now).await?;
        crate::admin::audit(&mut tx, actor, None, "calendar", id, "saved", None, None, Some(row.slug.clone()), now)
            .await?;
        crate::clocks::enqueue_recompute(&mut tx, Some(id), None, now).await?;
        tx.commit().await?;
        self.forget_notice_cache();
        self.jobs_wake.notify_one();
        Ok(calendar_view(&row.slug, &row.name, &calendar))
    }

    /// Every support level. Staff.
    pub async fn support_levels(&self, actor: &Actor) -> Result<Vec<LevelView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let calendars = store::sla::calendars(&mut tx).await?;
        let levels = store::sla::levels(&mut tx).await?;
        let queues = store::queues::all(&mut tx).await?;
        Ok(levels
            .into_iter()
            .map(|l| LevelView {
                calendar: calendars.iter().find(|c| c.id == l.calendar_id).map(|c| c.slug.clone()).unwrap_or_default(),
                escalation_queue: l
                    .escalation_queue_id
                    .and_then(|q| queues.iter().find(|x| x.id == q).map(|x| x.slug.clone())),
                pause_statuses: crate::clocks::pausing(&l.pause_statuses),
                slug: l.slug,
                name: l.name,
                intervention_minutes: (l.intervention_blocking, l.intervention_non_blocking),
                restoration_minutes: (l.restoration_blocking, l.restoration_non_blocking),
                category_minutes: category_minutes(&l.category_targets),
                warn_percent: l.warn_percent,
                escalation_raise: l.escalation_raise,
            })
            .collect())
    }

    /// Adds or replaces a support level; targets must be above zero. Admins only.
    pub async fn save_support_level(&self, actor: &Actor, input: LevelInput) -> Result<LevelView> {
        actor.require_admin()?;
        let mut p = Problems::default();
        let slug = input.slug.trim().to_ascii_lowercase();
        if !slug_ok(&slug) {
            p.add("slug", "1 to 32 of a-z 0-9 - _");
        }
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            p.add("name", "1 to 200 characters");
        }
        let week_minutes = 60 * 24 * 366;
        for (field, (b, n)) in
            [("intervention_minutes", input.intervention_minutes), ("restoration_minutes", input.restoration_minutes)]
        {
            if b <= 0 || n <= 0 || b > week_minutes || n > week_minutes {
                p.add(field, "business minutes above zero (at most a year)");
            }
        }
        let mut categories = BTreeMap::new();
        for (&c, &(i, r)) in &input.category_minutes {
            let field = format!("category_minutes.{c}");
            if c.is_fault() {
                p.add(field.clone(), "faults are timed by severity (intervention_minutes, restoration_minutes)");
            } else if !(1..=week_minutes).contains(&i) || !(1..=week_minutes).contains(&r) {
                p.add(field.clone(), "business minutes above zero (at most a year)");
            } else {
                categories.insert(c, Promise { intervention: minutes(i), restoration: minutes(r) });
            }
        }
        if !(1..=99).contains(&input.warn_percent) {
            p.add("warn_percent", "between 1 and 99");
        }
        if !(0..=100).contains(&input.escalation_raise) {
            p.add("escalation_raise", "between 0 and 100");
        }
        if let Some(s) =
            input.pause_statuses.iter().find(|s| !matches!(s, Status::New | Status::Open | Status::Stalled))
        {
            p.add("pause_statuses", format!("`{s}` already stops the clocks; pausing statuses are new, open, stalled"));
        }
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let escalation = match input.escalation_queue.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(slug) => match store::queues::by_slug(&mut tx, &slug.to_ascii_lowercase()).await? {
                Some(q) => Some(q),
                None => {
                    p.add("escalation_queue", format!("no queue `{slug}`"));
                    None
                }
            },
            None => None,
        };
        let calendar = store::sla::calendar_by_slug(&mut tx, input.calendar.trim()).await?;
        if calendar.is_none() {
            p.add("calendar", format!("no calendar `{}`", input.calendar));
        }
        // A target the calendar cannot reach (more open time than it has in three years) is
        // refused now rather than failing on a ticket.
        if let Some(c) = &calendar
            && let Ok(cal) = stored_calendar(c)
        {
            let longest = [input.intervention_minutes, input.restoration_minutes]
                .iter()
                .chain(input.category_minutes.values())
                .flat_map(|(b, n)| [*b, *n])
                .max()
                .unwrap_or(0);
            if longest > 0 && cal.add(self.now(), minutes(longest)).is_err() {
                p.add("restoration_minutes", "more business time than the calendar opens in three years");
            }
        }
        p.finish()?;
        let calendar = calendar.ok_or_else(|| Error::Internal("checked calendar missing".into()))?;
        let row = store::sla::LevelRow {
            id: 0,
            slug,
            name,
            calendar_id: calendar.id,
            intervention_blocking: input.intervention_minutes.0,
            intervention_non_blocking: input.intervention_minutes.1,
            restoration_blocking: input.restoration_minutes.0,
            restoration_non_blocking: input.restoration_minutes.1,
            warn_percent: input.warn_percent,
            pause_statuses: input.pause_statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            escalation_queue_id: escalation.as_ref().map(|q| q.id),
            escalation_raise: input.escalation_raise,
            category_targets: domain::sla::format_category_targets(&categories),
        };
        let id = store::sla::save_level(&mut tx, &row, now).await?;
        crate::clocks::enqueue_recompute(&mut tx, None, Some(id), now).await?;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "support_level",
            id,
            "saved",
            None,
            None,
            Some(row.slug.clone()),
            now,
        )
        .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        self.jobs_wake.notify_one();
        Ok(LevelView {
            slug: row.slug,
            name: row.name,
            calendar: calendar.slug,
            intervention_minutes: input.intervention_minutes,
            restoration_minutes: input.restoration_minutes,
            category_minutes: input.category_minutes,
            warn_percent: row.warn_percent,
            pause_statuses: crate::clocks::pausing(&row.pause_statuses),
            escalation_queue: escalation.map(|q| q.slug),
            escalation_raise: row.escalation_raise,
        })
    }

    /// Adds a contract for a customer or a partner. Admins only.
    pub async fn create_contract(&self, actor: &Actor, input: ContractInput) -> Result<ContractView> {
        actor.require_admin()?;
        let mut p = Problems::default();
        let day = |field: &str, t: &str, p: &mut Problems| -> Option<jiff::civil::Date> {
            match t.trim().parse::<jiff::civil::Date>() {
                Ok(d) => Some(d),
                Err(_) => {
                    p.add(field, format!("`{t}` is not a date (YYYY-MM-DD)"));
                    None
                }
            }
        };
        let from = day("valid_from", &input.valid_from, &mut p);
        let until =
            input.valid_until.as_deref().filter(|t| !t.trim().is_empty()).and_then(|t| day("valid_until", t, &mut p));
        if let (Some(f), Some(u)) = (from, until)
            && u < f
        {
            p.add("valid_until", "before valid_from");
        }
        if input.included_minutes < 0 {
            p.add("included_minutes", "zero or more");
        }
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let customer = match (&input.customer, input.partner_id) {
            (Some(code), None) => match store::people::customer_by_code(&mut tx, code.trim()).await? {
                Some(c) => Some(c),
                None => {
                    p.add("customer", format!("no customer `{code}`"));
                    None
                }
            },
            (None, Some(id)) => {
                if store::people::partner(&mut tx, id).await?.is_none() {
                    p.add("partner_id", format!("no partner {id}"));
                }
                None
            }
            _ => {
                p.add("customer", "a customer or a partner, not both");
                None
            }
        };
        let level = store::sla::level_by_slug(&mut tx, input.level.trim()).await?;
        if level.is_none() {
            p.add("level", format!("no support level `{}`", input.level));
        }
        p.finish()?;
        let (Some(level), Some(from)) = (level, from) else {
            return Err(Error::Internal("checked contract missing".into()));
        };
        let row = store::sla::ContractRow {
            id: 0,
            customer_id: customer.as_ref().map(|c| c.id),
            partner_id: if customer.is_some() { None } else { input.partner_id },
            level_id: level.id,
            valid_from: from.to_string(),
            valid_until: until.map(|u| u.to_string()),
            included_minutes: input.included_minutes,
            evo: input.evo,
            customer_code: customer.map(|c| c.code),
            level_slug: level.slug.clone(),
        };
        let id = store::sla::insert_contract(&mut tx, &row, now).await?;
        crate::admin::audit(&mut tx, actor, None, "contract", id, "created", None, None, Some(level.slug.clone()), now)
            .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(contract_view(&store::sla::ContractRow { id, ..row }))
    }

    /// The contract in force for a customer on `date` (its own first, else its partner's), and
    /// its level; `None`: support on request, no SLA clock. Staff.
    pub async fn contract_in_force(
        &self,
        actor: &Actor,
        customer: &str,
        date: jiff::civil::Date,
    ) -> Result<Option<ContractView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let c = store::people::customer_by_code(&mut tx, customer)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {customer}")))?;
        let day = date.to_string();
        let all = store::sla::contracts_of(&mut tx, c.id, c.partner_id).await?;
        Ok(in_force(&all, c.id, &day).map(contract_view))
    }

    /// When a ticket of `severity` opened at `opened` is due under support level `level`;
    /// restoration counts from `intervened`, else from the intervention's due time.
    pub async fn sla_due(
        &self,
        level: &str,
        severity: Severity,
        opened: jiff::Timestamp,
        intervened: Option<jiff::Timestamp>,
    ) -> Result<(SupportLevel, DueTimes)> {
        let mut tx = self.db.read().await?;
        let l = store::sla::level_by_slug(&mut tx, level.trim())
            .await?
            .ok_or_else(|| Error::invalid("level", format!("no support level `{level}`")))?;
        let c = store::sla::calendar(&mut tx, l.calendar_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("level {} without calendar", l.slug)))?;
        let level = support_level(&l, &c)?;
        let due = level.due(severity, opened, intervened).map_err(Error::Internal)?;
        Ok((level, due))
    }
}

/// Changes to a contract; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractPatch {
    /// New support level's slug.
    pub level: Option<String>,
    /// New first day.
    pub valid_from: Option<String>,
    /// New last day (`Some(None)`: open-ended).
    pub valid_until: Option<Option<String>>,
    /// New included minutes.
    pub included_minutes: Option<i64>,
    /// New evo flag.
    pub evo: Option<bool>,
}

impl App {
    /// Every contract, newest first. Staff.
    pub async fn contracts(&self, actor: &Actor) -> Result<Vec<ContractView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        Ok(store::sla::contracts(&mut tx).await?.iter().map(contract_view).collect())
    }

    /// The contracts of a customer (its own and its partner's), newest first. Staff.
    pub async fn contracts_of_customer(&self, actor: &Actor, code: &str) -> Result<Vec<ContractView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let c = store::people::customer_by_code(&mut tx, code)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {code}")))?;
        Ok(store::sla::contracts_of(&mut tx, c.id, c.partner_id).await?.iter().map(contract_view).collect())
    }

    /// A contract by id. Staff.
    pub async fn contract(&self, actor: &Actor, id: i64) -> Result<ContractView> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let k = store::sla::contract(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("contract {id}")))?;
        Ok(contract_view(&k))
    }

    /// Changes a contract (tickets already opened keep the level they opened with). Admins only.
    pub async fn update_contract(&self, actor: &Actor, id: i64, patch: ContractPatch) -> Result<ContractView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let mut k =
            store::sla::contract(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("contract {id}")))?;
        let mut p = Problems::default();
        let day = |field: &str, t: &str, p: &mut Problems| match t.trim().parse::<jiff::civil::Date>() {
            Ok(d) => Some(d.to_string()),
            Err(_) => {
                p.add(field, format!("`{t}` is not a date (YYYY-MM-DD)"));
                None
            }
        };
        if let Some(f) = &patch.valid_from
            && let Some(d) = day("valid_from", f, &mut p)
        {
            k.valid_from = d;
        }
        match &patch.valid_until {
            Some(Some(u)) if !u.trim().is_empty() => {
                if let Some(d) = day("valid_until", u, &mut p) {
                    k.valid_until = Some(d);
                }
            }
            Some(_) => k.valid_until = None,
            None => {}
        }
        if k.valid_until.as_ref().is_some_and(|u| *u < k.valid_from) {
            p.add("valid_until", "before valid_from");
        }
        if let Some(m) = patch.included_minutes {
            if m < 0 { p.add("included_minutes", "zero or more") } else { k.included_minutes = m }
        }
        if let Some(e) = patch.evo {
            k.evo = e;
        }
        if let Some(slug) = &patch.level {
            match store::sla::level_by_slug(&mut tx, slug.trim()).await? {
                Some(l) => {
                    k.level_id = l.id;
                    k.level_slug = l.slug;
                }
                None => p.add("level", format!("no support level `{slug}`")),
            }
        }
        p.finish()?;
        store::sla::update_contract(&mut tx, &k, now).await?;
        crate::admin::audit(&mut tx, actor, None, "contract", id, "changed", None, None, None, now).await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(contract_view(&k))
    }

    /// Deletes a calendar (by slug), a support level (by slug) or a contract (by id) that nothing
    /// uses; a used one is a conflict naming its users. Admins only.
    pub async fn delete_sla_item(&self, actor: &Actor, what: SlaItem, key: &str) -> Result<()> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let id = match what {
            SlaItem::Calendar => store::sla::calendar_by_slug(&mut tx, key).await?.map(|c| c.id),
            SlaItem::Level => store::sla::level_by_slug(&mut tx, key).await?.map(|l| l.id),
            SlaItem::Contract => match key.parse::<i64>() {
                Ok(id) => store::sla::contract(&mut tx, id).await?.map(|k| k.id),
                Err(_) => None,
            },
        }
        .ok_or_else(|| Error::NotFound(format!("{} {key}", what.as_str())))?;
        let users = store::sla::uses(&mut tx, what, id).await?;
        if users > 0 {
            let by = match what {
                SlaItem::Calendar => "support levels",
                SlaItem::Level => "contracts or tickets",
                SlaItem::Contract => "tickets",
            };
            return Err(Error::Conflict(format!("{} {key} is used by {users} {by}", what.as_str())));
        }
        store::sla::delete(&mut tx, what, id).await?;
        // The audit names subjects as their saves do.
        let subject = if what == SlaItem::Level { "support_level" } else { what.as_str() };
        crate::admin::audit(&mut tx, actor, None, subject, id, "deleted", None, Some(key.to_owned()), None, now)
            .await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(())
    }

    /// Open tickets the actor may see whose SLA clock is due within `within`, soonest first
    /// (already late ones included). Staff.
    pub async fn breaching_soon(
        &self,
        actor: &Actor,
        within: jiff::SignedDuration,
        limit: i64,
    ) -> Result<Vec<crate::views::TicketSummary>> {
        actor.require_staff()?;
        let until = store::micros(self.now()) + i64::try_from(within.as_micros()).unwrap_or(i64::MAX / 2);
        let queues = actor.visible_queues();
        let mut tx = self.db.read().await?;
        let ids = store::sla::breaching(&mut tx, until, queues.as_deref(), limit.clamp(1, 500)).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = store::tickets::Filter {
            ids: ids.clone(),
            queue_ids: queues,
            limit: ids.len() as i64,
            ..Default::default()
        };
        let rows = store::tickets::list(&mut tx, &filter).await?;
        let clocks = store::sla::clocks_of(&mut tx, &ids).await?;
        let mut out = crate::clocks::with_clocks(rows, &clocks, self.now());
        out.sort_by_key(|s| (s.sla_due, s.number));
        Ok(out)
    }
}
