//! Support levels: a business calendar and the promised times per severity. Intervention is the
//! first public reply or recorded intervention by an agent; restoration is counted from the
//! intervention, not from the opening.

use jiff::{SignedDuration, Timestamp};

use crate::Severity;
use crate::calendar::{Calendar, Interval, italian_holidays};

/// Promised business times for the two severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    /// For a blocking fault.
    pub blocking: SignedDuration,
    /// For a non-blocking one.
    pub non_blocking: SignedDuration,
}

impl Targets {
    /// The target for `severity`.
    pub fn for_severity(self, severity: Severity) -> SignedDuration {
        match severity {
            Severity::Blocking => self.blocking,
            Severity::NonBlocking => self.non_blocking,
        }
    }
}

/// A support level: when its clocks run and what they promise.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportLevel {
    /// Machine name (`professional`).
    pub slug: String,
    /// Name shown to people.
    pub name: String,
    /// When the clocks run.
    pub calendar: Calendar,
    /// From the opening to the intervention.
    pub intervention: Targets,
    /// From the intervention to the restoration.
    pub restoration: Targets,
}

/// When a ticket's intervention and restoration are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueTimes {
    /// The intervention is due by then.
    pub intervention: Timestamp,
    /// The restoration is due by then.
    pub restoration: Timestamp,
}

impl SupportLevel {
    /// The due instants of a ticket of `severity` opened at `opened`; restoration counts from
    /// `intervened`, or from the intervention's due instant when there was none yet.
    pub fn due(
        &self,
        severity: Severity,
        opened: Timestamp,
        intervened: Option<Timestamp>,
    ) -> Result<DueTimes, String> {
        let intervention = self.calendar.add(opened, self.intervention.for_severity(severity))?;
        let from = intervened.unwrap_or(intervention);
        let restoration = self.calendar.add(from, self.restoration.for_severity(severity))?;
        Ok(DueTimes { intervention, restoration })
    }
}

fn hours(blocking: i64, non_blocking: i64) -> Targets {
    Targets { blocking: SignedDuration::from_hours(blocking), non_blocking: SignedDuration::from_hours(non_blocking) }
}

/// The built-in levels, in Europe/Rome: Professional (office hours), Advanced (extended hours
/// with Saturday morning), Extended (24/7).
pub fn presets() -> Result<Vec<SupportLevel>, crate::calendar::CalendarError> {
    let office = vec![Interval::hm(9, 0, 13, 0), Interval::hm(14, 0, 18, 0)];
    let weekday = |v: &Vec<Interval>| [v.clone(), v.clone(), v.clone(), v.clone(), v.clone(), vec![], vec![]];
    let long = vec![Interval::hm(8, 0, 20, 0)];
    let mut advanced = weekday(&long);
    advanced[5] = vec![Interval::hm(8, 0, 13, 0)];
    Ok(vec![
        SupportLevel {
            slug: "professional".into(),
            name: "Professional".into(),
            calendar: Calendar::new("Europe/Rome", weekday(&office), italian_holidays())?,
            intervention: hours(4, 8),
            restoration: hours(4, 8),
        },
        SupportLevel {
            slug: "advanced".into(),
            name: "Advanced".into(),
            calendar: Calendar::new("Europe/Rome", advanced, italian_holidays())?,
            intervention: hours(4, 8),
            restoration: hours(4, 8),
        },
        SupportLevel {
            slug: "extended".into(),
            name: "Extended".into(),
            calendar: Calendar::always_open("Europe/Rome")?,
            intervention: hours(4, 8),
            restoration: hours(2, 4),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse::<jiff::Zoned>().unwrap().timestamp()
    }

    fn level(slug: &str) -> SupportLevel {
        presets().unwrap().into_iter().find(|l| l.slug == slug).unwrap()
    }

    #[test]
    fn professional_blocking_fault_on_friday_afternoon() {
        let d =
            level("professional").due(Severity::Blocking, at("2026-11-20T16:30:00+01:00[Europe/Rome]"), None).unwrap();
        assert_eq!(d.intervention, at("2026-11-23T11:30:00+01:00[Europe/Rome]"));
        // Restoration from the intervention due time: 11:30-13:00 and 14:00-16:30.
        assert_eq!(d.restoration, at("2026-11-23T16:30:00+01:00[Europe/Rome]"));
        // From an actual intervention on Friday at 17:00: 1 h that day, 3 h on Monday.
        let d = level("professional")
            .due(
                Severity::Blocking,
                at("2026-11-20T16:30:00+01:00[Europe/Rome]"),
                Some(at("2026-11-20T17:00:00+01:00[Europe/Rome]")),
            )
            .unwrap();
        assert_eq!(d.restoration, at("2026-11-23T12:00:00+01:00[Europe/Rome]"));
    }

    #[test]
    fn advanced_counts_saturday_morning_and_extended_counts_everything() {
        // Advanced, non-blocking (8 h) opened Friday 18:00: 2 h Friday, 5 h Saturday, 1 h Monday.
        let d =
            level("advanced").due(Severity::NonBlocking, at("2026-11-20T18:00:00+01:00[Europe/Rome]"), None).unwrap();
        assert_eq!(d.intervention, at("2026-11-23T09:00:00+01:00[Europe/Rome]"));
        // Extended, blocking, opened on Christmas Eve at 23:00: 4 h later, 2 h after that.
        let d = level("extended").due(Severity::Blocking, at("2026-12-24T23:00:00+01:00[Europe/Rome]"), None).unwrap();
        assert_eq!(d.intervention, at("2026-12-25T03:00:00+01:00[Europe/Rome]"));
        assert_eq!(d.restoration, at("2026-12-25T05:00:00+01:00[Europe/Rome]"));
    }
}
