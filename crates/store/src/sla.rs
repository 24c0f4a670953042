//! Service levels as stored: business calendars, support levels, contracts.

use sqlx::Row;

use crate::{Result, Tx};

/// A business calendar (the week and holidays in `domain::calendar`'s text forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub time_zone: String,
    pub always_open: bool,
    pub week: String,
    pub holidays: String,
}

/// A support level: its calendar and targets in business minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub calendar_id: i64,
    pub intervention_blocking: i64,
    pub intervention_non_blocking: i64,
    pub restoration_blocking: i64,
    pub restoration_non_blocking: i64,
}

/// A contract: a customer's (or a partner's, for all its customers) support level over dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRow {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub partner_id: Option<i64>,
    pub level_id: i64,
    /// `YYYY-MM-DD`, inclusive.
    pub valid_from: String,
    /// `YYYY-MM-DD`, inclusive; open-ended when none.
    pub valid_until: Option<String>,
    pub included_minutes: i64,
    pub evo: bool,
}

const CALENDAR: &str = "SELECT id, slug, name, time_zone, always_open, week, holidays FROM calendars";
const LEVEL: &str = "SELECT id, slug, name, calendar_id, intervention_blocking, intervention_non_blocking, \
     restoration_blocking, restoration_non_blocking FROM support_levels";
const CONTRACT: &str =
    "SELECT id, customer_id, partner_id, level_id, valid_from, valid_until, included_minutes, evo FROM contracts";

macro_rules! calendar_row {
    ($r:expr) => {
        CalendarRow {
            id: $r.try_get("id")?,
            slug: $r.try_get("slug")?,
            name: $r.try_get("name")?,
            time_zone: $r.try_get("time_zone")?,
            always_open: $r.try_get("always_open")?,
            week: $r.try_get("week")?,
            holidays: $r.try_get("holidays")?,
        }
    };
}

macro_rules! level_row {
    ($r:expr) => {
        LevelRow {
            id: $r.try_get("id")?,
            slug: $r.try_get("slug")?,
            name: $r.try_get("name")?,
            calendar_id: $r.try_get("calendar_id")?,
            intervention_blocking: $r.try_get("intervention_blocking")?,
            intervention_non_blocking: $r.try_get("intervention_non_blocking")?,
            restoration_blocking: $r.try_get("restoration_blocking")?,
            restoration_non_blocking: $r.try_get("restoration_non_blocking")?,
        }
    };
}

macro_rules! contract_row {
    ($r:expr) => {
        ContractRow {
            id: $r.try_get("id")?,
            customer_id: $r.try_get("customer_id")?,
            partner_id: $r.try_get("partner_id")?,
            level_id: $r.try_get("level_id")?,
            valid_from: $r.try_get("valid_from")?,
            valid_until: $r.try_get("valid_until")?,
            included_minutes: $r.try_get("included_minutes")?,
            evo: $r.try_get("evo")?,
        }
    };
}

/// Every calendar, by slug.
pub async fn calendars(tx: &mut Tx) -> Result<Vec<CalendarRow>> {
    let sql = format!("{CALENDAR} ORDER BY slug");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(calendar_row!(r))).collect()
    })
}

/// A calendar by slug.
pub async fn calendar_by_slug(tx: &mut Tx, slug: &str) -> Result<Option<CalendarRow>> {
    let sql = format!("{CALENDAR} WHERE slug = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(calendar_row!(r))),
            None => Ok(None),
        }
    })
}

/// A calendar by id.
pub async fn calendar(tx: &mut Tx, id: i64) -> Result<Option<CalendarRow>> {
    let sql = format!("{CALENDAR} WHERE id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(calendar_row!(r))),
            None => Ok(None),
        }
    })
}

/// Adds a calendar, or replaces the one with the same slug; returns its id.
pub async fn save_calendar(tx: &mut Tx, c: &CalendarRow, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(tx, conn => sqlx::query_scalar(
        "INSERT INTO calendars (slug, name, time_zone, always_open, week, holidays, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (slug) DO UPDATE SET name = $2, time_zone = $3, always_open = $4, week = $5, holidays = $6, updated_at = $7
         RETURNING id")
        .bind(&c.slug).bind(&c.name).bind(&c.time_zone).bind(c.always_open).bind(&c.week).bind(&c.holidays).bind(now)
        .fetch_one(&mut *conn).await)?;
    Ok(id)
}

/// Every support level, by slug.
pub async fn levels(tx: &mut Tx) -> Result<Vec<LevelRow>> {
    let sql = format!("{LEVEL} ORDER BY slug");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(level_row!(r))).collect()
    })
}

/// A support level by slug.
pub async fn level_by_slug(tx: &mut Tx, slug: &str) -> Result<Option<LevelRow>> {
    let sql = format!("{LEVEL} WHERE slug = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(level_row!(r))),
            None => Ok(None),
        }
    })
}

/// A support level by id.
pub async fn level(tx: &mut Tx, id: i64) -> Result<Option<LevelRow>> {
    let sql = format!("{LEVEL} WHERE id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(level_row!(r))),
            None => Ok(None),
        }
    })
}

/// Adds a support level, or replaces the one with the same slug; returns its id.
pub async fn save_level(tx: &mut Tx, l: &LevelRow, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO support_levels (slug, name, calendar_id, intervention_blocking, intervention_non_blocking,
             restoration_blocking, restoration_non_blocking, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (slug) DO UPDATE SET name = $2, calendar_id = $3, intervention_blocking = $4,
             intervention_non_blocking = $5, restoration_blocking = $6, restoration_non_blocking = $7, updated_at = $8
         RETURNING id")
        .bind(&l.slug).bind(&l.name).bind(l.calendar_id).bind(l.intervention_blocking).bind(l.intervention_non_blocking)
        .bind(l.restoration_blocking).bind(l.restoration_non_blocking).bind(now)
        .fetch_one(&mut *c).await)?;
    Ok(id)
}

/// Adds a contract; returns its id.
pub async fn insert_contract(tx: &mut Tx, k: &ContractRow, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO contracts (customer_id, partner_id, level_id, valid_from, valid_until, included_minutes, evo, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id")
        .bind(k.customer_id).bind(k.partner_id).bind(k.level_id).bind(&k.valid_from).bind(&k.valid_until)
        .bind(k.included_minutes).bind(k.evo).bind(now)
        .fetch_one(&mut *c).await)?;
    Ok(id)
}

/// The contracts of a customer and of its partner, newest start first.
pub async fn contracts_of(tx: &mut Tx, customer_id: i64, partner_id: Option<i64>) -> Result<Vec<ContractRow>> {
    let sql = format!("{CONTRACT} WHERE customer_id = $1 OR partner_id = $2 ORDER BY valid_from DESC, id DESC");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(customer_id).bind(partner_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(contract_row!(r))).collect()
    })
}
