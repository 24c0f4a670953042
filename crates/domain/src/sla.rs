//! Support levels: a business calendar and the promised times per severity. Intervention is the
//! first public reply or recorded intervention by an agent; restoration is counted from the
//! intervention, not from the opening. Faults are timed by severity; a level may also promise
//! times for other categories of ticket (a service request, an order), and a ticket of a category
//! it promises nothing for runs no clock.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::calendar::{Calendar, Interval, italian_holidays};
use crate::{Category, Severity};

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

/// The two promised business times for one kind of ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promise {
    /// From the opening to the intervention.
    pub intervention: SignedDuration,
    /// From the intervention to the restoration.
    pub restoration: SignedDuration,
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
    /// Promises for categories other than faults; a category missing here has no clock.
    pub categories: BTreeMap<Category, Promise>,
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
    /// What the level promises a fault of `severity`.
    pub fn for_fault(&self, severity: Severity) -> Promise {
        Promise {
            intervention: self.intervention.for_severity(severity),
            restoration: self.restoration.for_severity(severity),
        }
    }

    /// What the level promises a ticket of `category` and `severity`: the severity's targets for
    /// a fault, the category's own for anything else, and nothing (no clock) when it has none.
    pub fn promise(&self, category: Category, severity: Severity) -> Option<Promise> {
        if category.is_fault() { Some(self.for_fault(severity)) } else { self.categories.get(&category).copied() }
    }

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

/// A level's promises for other categories, stored as `category:intervention/restoration`
/// business minutes, comma-separated (`service_request:480/2400,order:960/4800`).
pub fn parse_category_targets(text: &str) -> Result<BTreeMap<Category, Promise>, String> {
    let mut out = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, minutes) =
            item.split_once(':').ok_or_else(|| format!("`{item}` is not category:minutes/minutes"))?;
        let category = Category::parse(name.trim())
            .ok_or_else(|| format!("unknown category `{}`; known: {}", name.trim(), Category::names()))?;
        if category.is_fault() {
            return Err(format!("`{category}` is timed by severity, not by category"));
        }
        let (i, r) = minutes.split_once('/').ok_or_else(|| format!("`{item}` is not category:minutes/minutes"))?;
        let number = |t: &str| match t.trim().parse::<i64>() {
            Ok(m) if (1..=MAX_TARGET_MINUTES).contains(&m) => Ok(SignedDuration::from_mins(m)),
            _ => Err(format!("`{}` for `{category}`: business minutes above zero (at most a year)", t.trim())),
        };
        let promise = Promise { intervention: number(i)?, restoration: number(r)? };
        if out.insert(category, promise).is_some() {
            return Err(format!("`{category}` is given twice"));
        }
    }
    Ok(out)
}

/// The stored form of a level's promises for other categories (see [`parse_category_targets`]).
pub fn format_category_targets(targets: &BTreeMap<Category, Promise>) -> String {
    targets
        .iter()
        .map(|(c, p)| format!("{c}:{}/{}", p.intervention.as_mins(), p.restoration.as_mins()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The longest target a level may promise, in business minutes (a year).
pub const MAX_TARGET_MINUTES: i64 = 60 * 24 * 366;

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
            categories: BTreeMap::new(),
        },
        SupportLevel {
            slug: "advanced".into(),
            name: "Advanced".into(),
            calendar: Calendar::new("Europe/Rome", advanced, italian_holidays())?,
            intervention: hours(4, 8),
            restoration: hours(4, 8),
            categories: BTreeMap::new(),
        },
        SupportLevel {
            slug: "extended".into(),
            name: "Extended".into(),
            calendar: Calendar::always_open("Europe/Rome")?,
            intervention: hours(4, 8),
            restoration: hours(2, 4),
            categories: BTreeMap::new(),
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
    fn other_categories_have_a_promise_only_when_the_level_gives_one() {
        let mut l = level("professional");
        assert_eq!(l.promise(Category::BlockingFault, Severity::Blocking), Some(l.for_fault(Severity::Blocking)));
        // A fault of the other category still follows its severity.
        assert_eq!(
            l.promise(Category::NonBlockingFault, Severity::Blocking).map(|p| p.intervention),
            Some(SignedDuration::from_hours(4))
        );
        assert_eq!(l.promise(Category::ServiceRequest, Severity::NonBlocking), None);
        l.categories = parse_category_targets(" service_request:480/2400 , order:60/120").unwrap();
        let p = l.promise(Category::ServiceRequest, Severity::Blocking).unwrap();
        assert_eq!((p.intervention.as_mins(), p.restoration.as_mins()), (480, 2400));
        assert_eq!(format_category_targets(&l.categories), "service_request:480/2400,order:60/120");
        assert_eq!(parse_category_targets("").unwrap(), BTreeMap::new());
        for bad in
            ["order", "order:1", "order:0/5", "order:5/-1", "nonsense:1/1", "blocking_fault:1/1", "order:1/1,order:2/2"]
        {
            assert!(parse_category_targets(bad).is_err(), "{bad}");
        }
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
