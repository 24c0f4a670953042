//! Instance settings an administrator changes from the admin pages: whether the public status
//! page is served, the ticket storm rule (how many tickets in how many minutes), and how many
//! days before its window customers see a maintenance. Keys never
//! set read as their defaults; a change is an event (`subject = setting`).

use domain::storm::{DEFAULT_MIN_TICKETS, DEFAULT_WITHIN, StormRule};
use jiff::SignedDuration;
use serde::Serialize;

use crate::access::Actor;
use crate::{App, Result};

/// The key of the status page switch (`on` / `off`).
const STATUS_PAGE: &str = "status_page";
/// The key of the storm rule's ticket count.
const STORM_MIN_TICKETS: &str = "storm_min_tickets";
/// The key of the storm rule's window, in minutes.
const STORM_WITHIN_MINUTES: &str = "storm_within_minutes";

/// The key of the maintenance lead time, in days.
const MAINTENANCE_LEAD_DAYS: &str = "maintenance_lead_days";
/// The shortest and longest maintenance lead time accepted, in days.
pub const MAINTENANCE_LEAD_RANGE: (i64, i64) = (0, 90);

/// The smallest and largest storm ticket count accepted.
pub const STORM_MIN_TICKETS_RANGE: (i64, i64) = (2, 1_000);
/// The shortest and longest storm window accepted, in minutes.
pub const STORM_WITHIN_RANGE: (i64, i64) = (1, 1_440);

/// The instance's settings, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceSettings {
    /// Whether `/status`, `/status.atom` and `/status.ics` are served (default on).
    pub status_page: bool,
    /// How many new tickets make a storm (default 5).
    pub storm_min_tickets: i64,
    /// Within how many minutes (default 15).
    pub storm_within_minutes: i64,
    /// How many days before its window a published maintenance is shown to the customers it
    /// touches and on the status page (default 7).
    pub maintenance_lead_days: i64,
}

impl Default for InstanceSettings {
    /// The status page on; storms of 5 tickets in 15 minutes.
    fn default() -> InstanceSettings {
        InstanceSettings {
            status_page: true,
            storm_min_tickets: DEFAULT_MIN_TICKETS as i64,
            storm_within_minutes: DEFAULT_WITHIN.as_mins(),
            maintenance_lead_days: crate::notices::DEFAULT_LEAD.as_hours() / 24,
        }
    }
}

impl InstanceSettings {
    /// The storm rule these settings give.
    pub fn storm_rule(&self) -> StormRule {
        StormRule {
            min_tickets: usize::try_from(self.storm_min_tickets).unwrap_or(DEFAULT_MIN_TICKETS),
            within: SignedDuration::from_mins(self.storm_within_minutes),
        }
    }

    /// How long before its window a maintenance is shown.
    pub fn maintenance_lead(&self) -> SignedDuration {
        SignedDuration::from_hours(self.maintenance_lead_days * 24)
    }

    fn from_rows(rows: &[(String, String)]) -> InstanceSettings {
        let mut s = InstanceSettings::default();
        for (key, value) in rows {
            match key.as_str() {
                STATUS_PAGE => s.status_page = value != "off",
                STORM_MIN_TICKETS => {
                    if let Some(n) = in_range(value, STORM_MIN_TICKETS_RANGE) {
                        s.storm_min_tickets = n;
                    }
                }
                STORM_WITHIN_MINUTES => {
                    if let Some(n) = in_range(value, STORM_WITHIN_RANGE) {
                        s.storm_within_minutes = n;
                    }
                }
                MAINTENANCE_LEAD_DAYS => {
                    if let Some(n) = in_range(value, MAINTENANCE_LEAD_RANGE) {
                        s.maintenance_lead_days = n;
                    }
                }
                _ => {}
            }
        }
        s
    }
}

fn in_range(text: &str, (low, high): (i64, i64)) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|n| (low..=high).contains(n))
}

/// Instance settings to change; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceSettingsInput {
    /// Serve the public status page.
    pub status_page: Option<bool>,
    /// How many new tickets make a storm.
    pub storm_min_tickets: Option<i64>,
    /// Within how many minutes.
    pub storm_within_minutes: Option<i64>,
    /// How many days before its window a maintenance is shown.
    pub maintenance_lead_days: Option<i64>,
}

impl App {
    /// The instance's settings (anyone: the public status page reads its switch); read through
    /// a short per-process cache, forgotten at once when this process changes them.
    pub async fn instance_settings(&self) -> Result<InstanceSettings> {
        if let Some(s) = self.notice_cache.status.settings.get(&()) {
            return Ok(s);
        }
        let mut tx = self.db.read().await?;
        let s = InstanceSettings::from_rows(&store::status::settings(&mut tx).await?);
        self.notice_cache.status.settings.put((), s);
        Ok(s)
    }

    /// Changes settings (admins), each change an event; every value is checked first and all
    /// problems are reported together (400).
    pub async fn save_instance_settings(
        &self,
        actor: &Actor,
        input: InstanceSettingsInput,
    ) -> Result<InstanceSettings> {
        actor.require_admin()?;
        let mut p = crate::error::Problems::default();
        let range = |field: &str, v: Option<i64>, (low, high): (i64, i64), p: &mut crate::error::Problems| {
            if let Some(n) = v
                && !(low..=high).contains(&n)
            {
                p.add(field, format!("between {low} and {high}"));
            }
        };
        range(STORM_MIN_TICKETS, input.storm_min_tickets, STORM_MIN_TICKETS_RANGE, &mut p);
        range(STORM_WITHIN_MINUTES, input.storm_within_minutes, STORM_WITHIN_RANGE, &mut p);
        range(MAINTENANCE_LEAD_DAYS, input.maintenance_lead_days, MAINTENANCE_LEAD_RANGE, &mut p);
        p.finish()?;
        let mut changes: Vec<(&str, String)> = Vec::new();
        if let Some(on) = input.status_page {
            changes.push((STATUS_PAGE, if on { "on" } else { "off" }.into()));
        }
        if let Some(n) = input.storm_min_tickets {
            changes.push((STORM_MIN_TICKETS, n.to_string()));
        }
        if let Some(n) = input.storm_within_minutes {
            changes.push((STORM_WITHIN_MINUTES, n.to_string()));
        }
        if let Some(n) = input.maintenance_lead_days {
            changes.push((MAINTENANCE_LEAD_DAYS, n.to_string()));
        }
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        for (key, value) in changes {
            let old = store::status::put_setting(&mut tx, key, &value, now).await?;
            if old.as_deref() != Some(value.as_str()) {
                crate::admin::audit(&mut tx, actor, None, "setting", 0, "set", Some(key), old, Some(value), now)
                    .await?;
            }
        }
        let s = InstanceSettings::from_rows(&store::status::settings(&mut tx).await?);
        tx.commit().await?;
        self.notice_cache.status.forget();
        self.forget_visible_notices();
        Ok(s)
    }
}
