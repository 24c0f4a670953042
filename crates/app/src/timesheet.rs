//! Time tracking: the minutes agents spend on tickets (billable or not), recorded with a reply
//! or comment or on their own, and the monthly report per customer that bills support on
//! request (customers without a contract) and time beyond a contract's included hours.

use serde::Serialize;
use store::{TicketRow, Tx};

use crate::access::{Actor, TicketAction, check_ticket, ticket_access};
use crate::error::Problems;
use crate::tickets::{TimeInput, check_time, resolve};
use crate::views::ts;
use crate::{App, Error, Result};

/// Time recorded on a ticket.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeEntryView {
    /// Id.
    pub id: i64,
    /// The ticket.
    pub ticket: i64,
    /// The reply or comment it was recorded with, if any.
    pub message: Option<i64>,
    /// The agent's email.
    pub agent: Option<String>,
    /// Minutes.
    pub minutes: i64,
    /// Billable to the customer.
    pub billable: bool,
    /// What was done.
    pub note: String,
    /// When.
    pub worked_at: jiff::Timestamp,
}

/// One customer's time in a month.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeReportRow {
    /// Customer code (empty for tickets without a customer).
    pub customer: String,
    /// Customer name.
    pub name: String,
    /// The support level of the contract in force on the month's first day; none: support on request.
    pub level: Option<String>,
    /// Minutes included by that contract.
    pub included_minutes: i64,
    /// Billable minutes recorded.
    pub billable_minutes: i64,
    /// Minutes recorded as not billable.
    pub other_minutes: i64,
    /// Billable minutes to invoice: all of them on request, those beyond the included ones under contract.
    pub to_invoice_minutes: i64,
    /// Tickets with time recorded.
    pub tickets: i64,
}

impl App {
    /// Records time on a ticket in the caller's transaction.
    pub(crate) async fn insert_time(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        t: &TicketRow,
        message_id: Option<i64>,
        time: &TimeInput,
        now: i64,
    ) -> Result<i64> {
        let row = store::sla::TimeEntryRow {
            id: 0,
            ticket_id: t.id,
            message_id,
            user_id: actor.user_id,
            customer_id: t.customer_id,
            minutes: time.minutes,
            billable: time.billable,
            note: time.note.trim().to_owned(),
            worked_at: now,
            agent_email: None,
        };
        let id = store::sla::insert_time(tx, &row, now).await?;
        let text = format!("{} min{}", time.minutes, if time.billable { ", billable" } else { "" });
        crate::tickets::record(tx, actor, t.id, "time", None, None, Some(text), now).await?;
        Ok(id)
    }

    /// Records time on a ticket without a message. Agents who may comment on it.
    pub async fn add_time(&self, actor: &Actor, number: i64, time: TimeInput) -> Result<TimeEntryView> {
        actor.require_staff()?;
        let mut p = Problems::default();
        check_time(&mut p, "", &time);
        p.finish()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let t = resolve(&mut tx, number).await?;
        check_ticket(ticket_access(&mut tx, actor, &t).await?, TicketAction::Comment, t.id)?;
        let id = self.insert_time(&mut tx, actor, &t, None, &time, now).await?;
        store::tickets::touch(&mut tx, t.id, now).await?;
        let view = entries(&mut tx, &[t.id]).await?.into_iter().find(|e| e.id == id);
        tx.commit().await?;
        view.ok_or_else(|| Error::Internal("time entry vanished".into()))
    }

    /// The time recorded on a ticket (and on the tickets merged into it). Staff.
    pub async fn time_entries(&self, actor: &Actor, number: i64) -> Result<Vec<TimeEntryView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let t = resolve(&mut tx, number).await?;
        check_ticket(ticket_access(&mut tx, actor, &t).await?, TicketAction::See, t.id)?;
        let mut ids = vec![t.id];
        ids.extend(store::events::merged_into(&mut tx, t.id).await?);
        entries(&mut tx, &ids).await
    }

    /// Time per customer in `month` (`YYYY-MM`, in `time_zone`), for billing. Admins only.
    pub async fn time_report(&self, actor: &Actor, month: &str, time_zone: &str) -> Result<Vec<TimeReportRow>> {
        actor.require_admin()?;
        let zone = jiff::tz::TimeZone::get(time_zone.trim())
            .map_err(|_| Error::invalid("time_zone", format!("`{time_zone}` is not an IANA time zone")))?;
        let first = format!("{}-01", month.trim())
            .parse::<jiff::civil::Date>()
            .ok()
            .filter(|_| month.trim().len() == 7)
            .ok_or_else(|| Error::invalid("month", format!("`{month}` is not a month (YYYY-MM)")))?;
        let next =
            first.checked_add(jiff::Span::new().months(1)).map_err(|e| Error::invalid("month", e.to_string()))?;
        let start = |d: jiff::civil::Date| -> Result<i64> {
            Ok(store::micros(d.to_zoned(zone.clone()).map_err(|e| Error::invalid("month", e.to_string()))?.timestamp()))
        };
        let (from, to) = (start(first)?, start(next)?);
        let day = first.to_string();
        let mut tx = self.db.read().await?;
        let sums = store::sla::time_by_customer(&mut tx, from, to).await?;
        // Every contract once, then each customer's own and its partner's picked in memory.
        let contracts = store::sla::contracts(&mut tx).await?;
        let mut out = Vec::with_capacity(sums.len());
        for sum in sums {
            let contract = sum.customer_id.and_then(|id| {
                let theirs: Vec<store::sla::ContractRow> = contracts
                    .iter()
                    .filter(|k| {
                        k.customer_id == Some(id) || (sum.partner_id.is_some() && k.partner_id == sum.partner_id)
                    })
                    .cloned()
                    .collect();
                crate::sla::in_force(&theirs, id, &day).cloned()
            });
            let included = contract.as_ref().map(|k| k.included_minutes).unwrap_or(0);
            out.push(TimeReportRow {
                customer: sum.customer_code.unwrap_or_default(),
                name: sum.customer_name.unwrap_or_default(),
                to_invoice_minutes: if contract.is_some() { (sum.billable - included).max(0) } else { sum.billable },
                level: contract.map(|k| k.level_slug),
                included_minutes: included,
                billable_minutes: sum.billable,
                other_minutes: sum.other,
                tickets: sum.tickets,
            });
        }
        out.sort_by(|a, b| a.customer.cmp(&b.customer));
        Ok(out)
    }
}

/// The report as CSV (RFC 4180, with a header row).
pub fn time_report_csv(rows: &[TimeReportRow]) -> String {
    let field = |s: &str| {
        // A leading formula character is neutralised for spreadsheets.
        let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
    };
    let mut out = String::from(
        "customer,name,level,included_minutes,billable_minutes,other_minutes,to_invoice_minutes,tickets\r\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            field(&r.customer),
            field(&r.name),
            field(r.level.as_deref().unwrap_or("on request")),
            r.included_minutes,
            r.billable_minutes,
            r.other_minutes,
            r.to_invoice_minutes,
            r.tickets
        ));
    }
    out
}

async fn entries(tx: &mut Tx, ticket_ids: &[i64]) -> Result<Vec<TimeEntryView>> {
    let rows = store::sla::time_of(tx, ticket_ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| TimeEntryView {
            id: r.id,
            ticket: r.ticket_id,
            message: r.message_id,
            agent: r.agent_email,
            minutes: r.minutes,
            billable: r.billable,
            note: r.note,
            worked_at: ts(r.worked_at),
        })
        .collect())
}
