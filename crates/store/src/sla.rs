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
    /// Warn when this share (per cent) of a target is consumed.
    pub warn_percent: i64,
    /// The ticket statuses that pause the clocks, comma-separated.
    pub pause_statuses: String,
    /// Where a breached ticket goes (its escalation group), if anywhere.
    pub escalation_queue_id: Option<i64>,
    /// Priority points added at a breach.
    pub escalation_raise: i64,
    /// Promises for other categories (`category:minutes/minutes,…`).
    pub category_targets: String,
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
    /// Read with the contract: the customer's code (for a customer's contract).
    pub customer_code: Option<String>,
    /// Read with the contract: the level's slug.
    pub level_slug: String,
}

const CALENDAR: &str = "SELECT id, slug, name, time_zone, always_open, week, holidays FROM calendars";
const LEVEL: &str = "SELECT id, slug, name, calendar_id, intervention_blocking, intervention_non_blocking, \
     restoration_blocking, restoration_non_blocking, warn_percent, pause_statuses, escalation_queue_id, \
     escalation_raise, category_targets FROM support_levels";
const CONTRACT: &str = "SELECT k.id, k.customer_id, k.partner_id, k.level_id, k.valid_from, k.valid_until, \
     k.included_minutes, k.evo, cu.code AS customer_code, l.slug AS level_slug FROM contracts k \
     JOIN support_levels l ON l.id = k.level_id LEFT JOIN customers cu ON cu.id = k.customer_id";

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
            warn_percent: $r.try_get("warn_percent")?,
            pause_statuses: $r.try_get("pause_statuses")?,
            escalation_queue_id: $r.try_get("escalation_queue_id")?,
            escalation_raise: $r.try_get("escalation_raise")?,
            category_targets: $r.try_get("category_targets")?,
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
            customer_code: $r.try_get("customer_code")?,
            level_slug: $r.try_get("level_slug")?,
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
             restoration_blocking, restoration_non_blocking, created_at, updated_at, warn_percent, pause_statuses,
             escalation_queue_id, escalation_raise, category_targets)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (slug) DO UPDATE SET name = $2, calendar_id = $3, intervention_blocking = $4,
             intervention_non_blocking = $5, restoration_blocking = $6, restoration_non_blocking = $7, updated_at = $8,
             warn_percent = $9, pause_statuses = $10, escalation_queue_id = $11, escalation_raise = $12,
             category_targets = $13
         RETURNING id")
        .bind(&l.slug).bind(&l.name).bind(l.calendar_id).bind(l.intervention_blocking).bind(l.intervention_non_blocking)
        .bind(l.restoration_blocking).bind(l.restoration_non_blocking).bind(now)
        .bind(l.warn_percent).bind(&l.pause_statuses).bind(l.escalation_queue_id).bind(l.escalation_raise)
        .bind(&l.category_targets)
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
    let sql = format!("{CONTRACT} WHERE k.customer_id = $1 OR k.partner_id = $2 ORDER BY k.valid_from DESC, k.id DESC");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(customer_id).bind(partner_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(contract_row!(r))).collect()
    })
}

/// Every contract, newest first.
pub async fn contracts(tx: &mut Tx) -> Result<Vec<ContractRow>> {
    let sql = format!("{CONTRACT} ORDER BY k.valid_from DESC, k.id DESC");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(contract_row!(r))).collect()
    })
}

/// A contract by id.
pub async fn contract(tx: &mut Tx, id: i64) -> Result<Option<ContractRow>> {
    let sql = format!("{CONTRACT} WHERE k.id = $1");
    with_conn!(tx, c => {
        match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(Some(contract_row!(r))),
            None => Ok(None),
        }
    })
}

/// Writes a contract's level, dates, included time and evo flag.
pub async fn update_contract(tx: &mut Tx, k: &ContractRow, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query(
        "UPDATE contracts SET level_id = $2, valid_from = $3, valid_until = $4, included_minutes = $5, evo = $6,
             updated_at = $7 WHERE id = $1")
        .bind(k.id).bind(k.level_id).bind(&k.valid_from).bind(&k.valid_until).bind(k.included_minutes).bind(k.evo)
        .bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// What of the service levels can be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A business calendar.
    Calendar,
    /// A support level.
    Level,
    /// A contract.
    Contract,
}

impl Item {
    /// Its name in messages and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Calendar => "calendar",
            Item::Level => "level",
            Item::Contract => "contract",
        }
    }
}

/// How many rows refer to an item: levels using a calendar, contracts or clocks using a level,
/// clocks using a contract.
pub async fn uses(tx: &mut Tx, what: Item, id: i64) -> Result<i64> {
    let sql = match what {
        Item::Calendar => "SELECT COUNT(*) FROM support_levels WHERE calendar_id = $1",
        Item::Level => {
            "SELECT (SELECT COUNT(*) FROM contracts WHERE level_id = $1) + (SELECT COUNT(*) FROM ticket_sla WHERE level_id = $1)"
        }
        Item::Contract => "SELECT COUNT(*) FROM ticket_sla WHERE contract_id = $1",
    };
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar(sql).bind(id).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// Deletes an item that nothing refers to.
pub async fn delete(tx: &mut Tx, what: Item, id: i64) -> Result<bool> {
    let sql = match what {
        Item::Calendar => "DELETE FROM calendars WHERE id = $1",
        Item::Level => "DELETE FROM support_levels WHERE id = $1",
        Item::Contract => "DELETE FROM contracts WHERE id = $1",
    };
    let n = with_conn!(tx, c => sqlx::query(sql).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A ticket's SLA clock as stored, with the due instants derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockRow {
    pub ticket_id: i64,
    pub contract_id: Option<i64>,
    pub level_id: i64,
    /// The category the clock counts for (faults by `severity`).
    pub category: domain::Category,
    pub severity: domain::Severity,
    pub phase: domain::clock::Phase,
    /// Business microseconds of the phase before `running_since`.
    pub consumed: i64,
    pub running_since: Option<i64>,
    pub paused_since: Option<i64>,
    pub paused_for: i64,
    pub intervened_at: Option<i64>,
    pub restored_at: Option<i64>,
    pub intervention_breached: bool,
    pub restoration_breached: bool,
    pub warned: bool,
    pub intervention_due: Option<i64>,
    pub restoration_due: Option<i64>,
    pub next_due: Option<i64>,
    pub alarm_at: Option<i64>,
    /// The notice the ticket was linked to first (its known fault); kept by [`set_notice`] only.
    pub notice_id: Option<i64>,
}

const CLOCK: &str = "SELECT ticket_id, contract_id, level_id, category, severity, phase, consumed, running_since, paused_since, \
     paused_for, intervened_at, restored_at, intervention_breached, restoration_breached, warned, intervention_due, \
     restoration_due, next_due, alarm_at, notice_id FROM ticket_sla";

macro_rules! clock_row {
    ($r:expr) => {
        (|| -> Result<ClockRow> {
            let severity: String = $r.try_get("severity")?;
            let phase: String = $r.try_get("phase")?;
            let category: String = $r.try_get("category")?;
            Ok(ClockRow {
                ticket_id: $r.try_get("ticket_id")?,
                contract_id: $r.try_get("contract_id")?,
                level_id: $r.try_get("level_id")?,
                category: crate::parse(&category)?,
                severity: crate::parse(&severity)?,
                phase: crate::parse(&phase)?,
                consumed: $r.try_get("consumed")?,
                running_since: $r.try_get("running_since")?,
                paused_since: $r.try_get("paused_since")?,
                paused_for: $r.try_get("paused_for")?,
                intervened_at: $r.try_get("intervened_at")?,
                restored_at: $r.try_get("restored_at")?,
                intervention_breached: $r.try_get("intervention_breached")?,
                restoration_breached: $r.try_get("restoration_breached")?,
                warned: $r.try_get("warned")?,
                intervention_due: $r.try_get("intervention_due")?,
                restoration_due: $r.try_get("restoration_due")?,
                next_due: $r.try_get("next_due")?,
                alarm_at: $r.try_get("alarm_at")?,
                notice_id: $r.try_get("notice_id")?,
            })
        })()
    };
}

/// Writes a ticket's clock (inserted the first time, replaced after).
pub async fn save_clock(tx: &mut Tx, k: &ClockRow, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "INSERT INTO ticket_sla (ticket_id, contract_id, level_id, severity, phase, consumed, running_since, paused_since,
             paused_for, intervened_at, restored_at, intervention_breached, restoration_breached, warned,
             intervention_due, restoration_due, next_due, alarm_at, updated_at, category)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
         ON CONFLICT (ticket_id) DO UPDATE SET contract_id = $2, level_id = $3, severity = $4, phase = $5,
             consumed = $6, running_since = $7, paused_since = $8, paused_for = $9, intervened_at = $10,
             restored_at = $11, intervention_breached = $12, restoration_breached = $13, warned = $14,
             intervention_due = $15, restoration_due = $16, next_due = $17, alarm_at = $18, updated_at = $19,
             category = $20")
        .bind(k.ticket_id).bind(k.contract_id).bind(k.level_id).bind(k.severity.as_str()).bind(k.phase.as_str())
        .bind(k.consumed).bind(k.running_since).bind(k.paused_since).bind(k.paused_for).bind(k.intervened_at)
        .bind(k.restored_at).bind(k.intervention_breached).bind(k.restoration_breached).bind(k.warned)
        .bind(k.intervention_due).bind(k.restoration_due).bind(k.next_due).bind(k.alarm_at).bind(now)
        .bind(k.category.as_str())
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Removes a ticket's clock (its customer has no contract any more).
pub async fn delete_clock(tx: &mut Tx, ticket_id: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("DELETE FROM ticket_sla WHERE ticket_id = $1").bind(ticket_id)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A ticket's clock.
pub async fn clock(tx: &mut Tx, ticket_id: i64) -> Result<Option<ClockRow>> {
    clock_locked(tx, ticket_id, false).await
}

/// A ticket's clock, locked for update on PostgreSQL (SQLite already holds the write lock).
pub async fn clock_for_update(tx: &mut Tx, ticket_id: i64) -> Result<Option<ClockRow>> {
    clock_locked(tx, ticket_id, true).await
}

async fn clock_locked(tx: &mut Tx, ticket_id: i64, lock: bool) -> Result<Option<ClockRow>> {
    let lock = if lock && tx.backend() == crate::Backend::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!("{CLOCK} WHERE ticket_id = $1{lock}");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ticket_id).fetch_optional(&mut *c).await?;
        r.map(|r| clock_row!(r)).transpose()
    })
}

/// The clocks of some tickets (for listings).
pub async fn clocks_of(tx: &mut Tx, ticket_ids: &[i64]) -> Result<Vec<ClockRow>> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{CLOCK} WHERE ticket_id IN ({})", crate::placeholders(0, ticket_ids.len()));
    with_conn!(tx, c => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ticket_ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&mut *c).await?;
        rows.iter().map(|r| clock_row!(r)).collect()
    })
}

/// Up to `limit` tickets whose next warning or breach is due at `now`, oldest mark first.
pub async fn alarms_due(tx: &mut Tx, now: i64, limit: i64) -> Result<Vec<i64>> {
    let ids: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT ticket_id FROM ticket_sla WHERE alarm_at IS NOT NULL AND alarm_at <= $1 ORDER BY alarm_at LIMIT $2")
        .bind(now).bind(limit).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// The running clocks of a level after ticket `after`, `limit` at a time, by ticket.
pub async fn running_of_level(tx: &mut Tx, level_id: i64, after: i64, limit: i64) -> Result<Vec<ClockRow>> {
    let sql = format!(
        "{CLOCK} WHERE level_id = $1 AND phase <> 'done' AND ticket_id > $2 AND running_since IS NOT NULL
         ORDER BY ticket_id LIMIT $3"
    );
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(level_id).bind(after).bind(limit).fetch_all(&mut *c).await?;
        rows.iter().map(|r| clock_row!(r)).collect()
    })
}

/// The derived due columns of one clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueRow {
    pub ticket_id: i64,
    pub intervention: Option<i64>,
    pub restoration: Option<i64>,
    pub next_due: Option<i64>,
    pub alarm_at: Option<i64>,
}

/// New due instants for many clocks.
/// PostgreSQL takes them as five arrays in one statement; SQLite as multi-row `VALUES` with
/// anonymous `?` parameters (it resolves `$N` names with a linear search per parameter, which is
/// quadratic on statements this long), 5,000 clocks per statement.
pub async fn save_dues(tx: &mut Tx, rows: &[DueRow]) -> Result<()> {
    match tx {
        Tx::Postgres(c) => {
            let col = |f: fn(&DueRow) -> Option<i64>| rows.iter().map(f).collect::<Vec<Option<i64>>>();
            let ids: Vec<i64> = rows.iter().map(|r| r.ticket_id).collect();
            sqlx::query(
                "UPDATE ticket_sla SET intervention_due = v.i, restoration_due = v.r, next_due = v.n, alarm_at = v.a
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[]) AS v(id, i, r, n, a)
                 WHERE ticket_sla.ticket_id = v.id",
            )
            .bind(ids)
            .bind(col(|r| r.intervention))
            .bind(col(|r| r.restoration))
            .bind(col(|r| r.next_due))
            .bind(col(|r| r.alarm_at))
            .execute(&mut **c)
            .await?;
        }
        Tx::Sqlite(c) => {
            for chunk in rows.chunks(5000) {
                let sql = format!(
                    "WITH v(id, i, r, n, a) AS (VALUES {}) UPDATE ticket_sla SET intervention_due = v.i,
                         restoration_due = v.r, next_due = v.n, alarm_at = v.a FROM v WHERE ticket_sla.ticket_id = v.id",
                    vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in chunk {
                    q = q.bind(d.ticket_id).bind(d.intervention).bind(d.restoration).bind(d.next_due).bind(d.alarm_at);
                }
                q.execute(&mut **c).await?;
            }
        }
    }
    Ok(())
}

/// The running clocks of a level after ticket `after`, `limit` at a time, with only what their
/// due instants depend on (for recomputing them; the other columns are left empty).
pub async fn running_dues_input(tx: &mut Tx, level_id: i64, after: i64, limit: i64) -> Result<Vec<ClockRow>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            "SELECT ticket_id, category, severity, phase, consumed, running_since, warned, intervention_breached,
                    restoration_breached
             FROM ticket_sla WHERE level_id = $1 AND phase <> 'done' AND ticket_id > $2 AND running_since IS NOT NULL
             ORDER BY ticket_id LIMIT $3")
            .bind(level_id).bind(after).bind(limit).fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| {
                let severity: String = r.try_get("severity")?;
                let phase: String = r.try_get("phase")?;
                let category: String = r.try_get("category")?;
                Ok(ClockRow {
                    ticket_id: r.try_get("ticket_id")?,
                    contract_id: None,
                    level_id,
                    category: crate::parse(&category)?,
                    severity: crate::parse(&severity)?,
                    phase: crate::parse(&phase)?,
                    consumed: r.try_get("consumed")?,
                    running_since: r.try_get("running_since")?,
                    paused_since: None,
                    paused_for: 0,
                    intervened_at: None,
                    restored_at: None,
                    intervention_breached: r.try_get("intervention_breached")?,
                    restoration_breached: r.try_get("restoration_breached")?,
                    warned: r.try_get("warned")?,
                    intervention_due: None,
                    restoration_due: None,
                    next_due: None,
                    alarm_at: None,
                    notice_id: None,
                })
            })
            .collect()
    })
}

/// How many clocks of a level are running.
pub async fn count_running(tx: &mut Tx, level_id: i64) -> Result<i64> {
    let n: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM ticket_sla WHERE level_id = $1 AND phase <> 'done' AND running_since IS NOT NULL")
        .bind(level_id).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// Open tickets whose running clock is due by `until`, soonest first, in the given queues
/// (`None`: all).
pub async fn breaching(tx: &mut Tx, until: i64, queue_ids: Option<&[i64]>, limit: i64) -> Result<Vec<i64>> {
    let mut sql = String::from(
        "SELECT s.ticket_id FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id
         WHERE s.next_due IS NOT NULL AND s.next_due <= $1 AND t.merged_into IS NULL",
    );
    if let Some(q) = queue_ids {
        if q.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND t.queue_id IN ({})", crate::placeholders(1, q.len())));
    }
    let lim = queue_ids.map(|q| q.len()).unwrap_or(0) + 2;
    sql.push_str(&format!(" ORDER BY s.next_due, s.ticket_id LIMIT ${lim}"));
    with_conn!(tx, c => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(until);
        for id in queue_ids.unwrap_or(&[]) {
            q = q.bind(*id);
        }
        q.bind(limit).fetch_all(&mut *c).await
    })
    .map_err(Into::into)
}

/// An agent's time on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeEntryRow {
    pub id: i64,
    pub ticket_id: i64,
    pub message_id: Option<i64>,
    pub user_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub minutes: i64,
    pub billable: bool,
    pub note: String,
    pub worked_at: i64,
    /// Read with the entry: the agent's email.
    pub agent_email: Option<String>,
}

/// Records time on a ticket; returns its id.
pub async fn insert_time(tx: &mut Tx, e: &TimeEntryRow, now: i64) -> Result<i64> {
    let id: i64 = with_conn!(tx, c => sqlx::query_scalar(
        "INSERT INTO time_entries (ticket_id, message_id, user_id, customer_id, minutes, billable, note, worked_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
        .bind(e.ticket_id).bind(e.message_id).bind(e.user_id).bind(e.customer_id).bind(e.minutes).bind(e.billable)
        .bind(&e.note).bind(e.worked_at).bind(now)
        .fetch_one(&mut *c).await)?;
    Ok(id)
}

/// The time recorded on some tickets, oldest first.
pub async fn time_of(tx: &mut Tx, ticket_ids: &[i64]) -> Result<Vec<TimeEntryRow>> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT e.id, e.ticket_id, e.message_id, e.user_id, e.customer_id, e.minutes, e.billable, e.note, e.worked_at,
                u.email AS agent_email
         FROM time_entries e LEFT JOIN users u ON u.id = e.user_id
         WHERE e.ticket_id IN ({}) ORDER BY e.worked_at, e.id",
        crate::placeholders(0, ticket_ids.len())
    );
    with_conn!(tx, c => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ticket_ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| {
                Ok(TimeEntryRow {
                    id: r.try_get("id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    message_id: r.try_get("message_id")?,
                    user_id: r.try_get("user_id")?,
                    customer_id: r.try_get("customer_id")?,
                    minutes: r.try_get("minutes")?,
                    billable: r.try_get("billable")?,
                    note: r.try_get("note")?,
                    worked_at: r.try_get("worked_at")?,
                    agent_email: r.try_get("agent_email")?,
                })
            })
            .collect()
    })
}

/// One customer's recorded time in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSum {
    /// `None` for time on tickets without a customer.
    pub customer_id: Option<i64>,
    pub customer_code: Option<String>,
    pub customer_name: Option<String>,
    pub partner_id: Option<i64>,
    pub billable: i64,
    pub other: i64,
    pub tickets: i64,
}

/// Time per customer in `[from, to)`, with the customer's code, name and partner.
pub async fn time_by_customer(tx: &mut Tx, from: i64, to: i64) -> Result<Vec<TimeSum>> {
    with_conn!(tx, c => {
        let rows = sqlx::query(
            "SELECT s.customer_id, cu.code, cu.name, cu.partner_id, s.billable, s.other, s.tickets
             FROM (SELECT customer_id,
                          CAST(COALESCE(SUM(CASE WHEN billable THEN minutes ELSE 0 END), 0) AS BIGINT) AS billable,
                          CAST(COALESCE(SUM(CASE WHEN billable THEN 0 ELSE minutes END), 0) AS BIGINT) AS other,
                          COUNT(DISTINCT ticket_id) AS tickets
                   FROM time_entries WHERE worked_at >= $1 AND worked_at < $2 GROUP BY customer_id) s
             LEFT JOIN customers cu ON cu.id = s.customer_id
             ORDER BY cu.code")
            .bind(from).bind(to).fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| {
                Ok(TimeSum {
                    customer_id: r.try_get("customer_id")?,
                    customer_code: r.try_get("code")?,
                    customer_name: r.try_get("name")?,
                    partner_id: r.try_get("partner_id")?,
                    billable: r.try_get("billable")?,
                    other: r.try_get("other")?,
                    tickets: r.try_get("tickets")?,
                })
            })
            .collect()
    })
}

/// Records on a ticket's clock (if it has one) the notice it belongs to, unless one is recorded.
pub async fn set_notice(tx: &mut Tx, ticket_id: i64, notice_id: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE ticket_sla SET notice_id = $2 WHERE ticket_id = $1 AND notice_id IS NULL")
        .bind(ticket_id).bind(notice_id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
