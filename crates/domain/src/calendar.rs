//! Business calendars: when support is open (weekly intervals in a time zone, holidays), and
//! business-time arithmetic on them. Business time is real elapsed time inside open intervals, so
//! an interval that spans a daylight-saving change counts the hours that really pass (a
//! 00:00–24:00 day is 23 hours in March and 25 in October in Europe/Rome).

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Minutes in a day: an interval may end at 24:00.
pub const DAY_MINUTES: u16 = 24 * 60;

/// How far ahead an addition looks for open time before giving up (a calendar whose holidays
/// close every open day would otherwise never end).
const SEARCH_DAYS: i32 = 3 * 366;

/// An opening interval of a day, in minutes from midnight, `start` < `end` ≤ 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// Opening minute (0–1439).
    pub start: u16,
    /// Closing minute (1–1440).
    pub end: u16,
}

impl Interval {
    /// `HH:MM`–`HH:MM`, e.g. `Interval::hm(9, 0, 13, 0)`.
    pub const fn hm(start_h: u16, start_m: u16, end_h: u16, end_m: u16) -> Interval {
        Interval { start: start_h * 60 + start_m, end: end_h * 60 + end_m }
    }

    /// Parses `08:30-13:00` (also with `–`).
    pub fn parse(text: &str) -> Result<Interval, String> {
        let (a, b) =
            text.split_once(['-', '–']).ok_or_else(|| format!("`{text}`: an interval is written HH:MM-HH:MM"))?;
        let minute = |t: &str| -> Result<u16, String> {
            let (h, m) = t.trim().split_once(':').ok_or_else(|| format!("`{t}`: a time is written HH:MM"))?;
            let (h, m): (u16, u16) =
                (h.parse().map_err(|_| format!("`{t}`: hour"))?, m.parse().map_err(|_| format!("`{t}`: minute"))?);
            if m > 59 || h > 24 || (h == 24 && m > 0) {
                return Err(format!("`{t}` is not a time of day"));
            }
            Ok(h * 60 + m)
        };
        Ok(Interval { start: minute(a)?, end: minute(b)? })
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}-{:02}:{:02}", self.start / 60, self.start % 60, self.end / 60, self.end % 60)
    }
}

/// A day support is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    /// The same date every year (25 December; a patron saint's day).
    Fixed {
        /// Month, 1–12.
        month: i8,
        /// Day of the month.
        day: i8,
    },
    /// A number of days after Easter Sunday (1: Easter Monday).
    Easter(i16),
    /// One date (a bridge day).
    Date(Date),
}

impl Holiday {
    /// Whether `date` is this holiday.
    pub fn falls_on(self, date: Date) -> bool {
        match self {
            Holiday::Fixed { month, day } => date.month() == month && date.day() == day,
            // An offset may reach into the year before or after Easter's own.
            Holiday::Easter(offset) => [date.year() - 1, date.year(), date.year() + 1]
                .into_iter()
                .filter_map(easter)
                .any(|e| e.checked_add(jiff::Span::new().days(offset)).ok() == Some(date)),
            Holiday::Date(d) => d == date,
        }
    }
}

impl Holiday {
    /// Parses `MM-DD` (every year), `easter+N` (days after Easter Sunday) or `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Holiday, String> {
        let t = text.trim();
        if let Some(n) = t.strip_prefix("easter") {
            let n = n.trim();
            let offset: i16 = if n.is_empty() {
                0
            } else {
                n.trim_start_matches('+').parse().map_err(|_| format!("`{t}`: easter+N"))?
            };
            if !(-100..=100).contains(&offset) {
                return Err(format!("`{t}`: at most 100 days from Easter"));
            }
            return Ok(Holiday::Easter(offset));
        }
        match t.len() {
            5 => {
                let (m, d) = t.split_once('-').ok_or_else(|| format!("`{t}`: MM-DD"))?;
                let (month, day): (i8, i8) =
                    (m.parse().map_err(|_| format!("`{t}`: MM-DD"))?, d.parse().map_err(|_| format!("`{t}`: MM-DD"))?);
                // Checked against a leap year, so that 29 February is allowed.
                Date::new(2024, month, day).map_err(|_| format!("`{t}` is not a day of the year"))?;
                Ok(Holiday::Fixed { month, day })
            }
            _ => t.parse::<Date>().map(Holiday::Date).map_err(|_| format!("`{t}`: MM-DD, easter+N or YYYY-MM-DD")),
        }
    }
}

impl std::fmt::Display for Holiday {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holiday::Fixed { month, day } => write!(f, "{month:02}-{day:02}"),
            Holiday::Easter(n) => write!(f, "easter{n:+}"),
            Holiday::Date(d) => write!(f, "{d}"),
        }
    }
}

/// Easter Sunday of `year` (Gregorian calendar; the anonymous algorithm).
pub fn easter(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// Italy's national holidays: 1 and 6 January, Easter Monday, 25 April, 1 May, 2 June,
/// 15 August, 1 November, 8, 25 and 26 December.
pub fn italian_holidays() -> Vec<Holiday> {
    let fixed = |month, day| Holiday::Fixed { month, day };
    vec![
        fixed(1, 1),
        fixed(1, 6),
        Holiday::Easter(1),
        fixed(4, 25),
        fixed(5, 1),
        fixed(6, 2),
        fixed(8, 15),
        fixed(11, 1),
        fixed(12, 8),
        fixed(12, 25),
        fixed(12, 26),
    ]
}

/// Why a calendar is refused; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not an IANA time zone.
    #[error("time_zone: `{0}` is not a known time zone")]
    TimeZone(String),
    /// An interval that ends before it starts, or past 24:00.
    #[error("week.{day}: {interval} ends before it starts or after 24:00")]
    Inverted {
        /// The weekday's name.
        day: &'static str,
        /// The interval.
        interval: String,
    },
    /// Two intervals of a day overlap.
    #[error("week.{day}: {a} and {b} overlap")]
    Overlap {
        /// The weekday's name.
        day: &'static str,
        /// One interval.
        a: String,
        /// The other.
        b: String,
    },
    /// No open time in the week.
    #[error("week: a calendar needs some open time (or is 24/7)")]
    NeverOpen,
}

/// Weekday names as fields are named, Monday first.
pub const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// When support is open.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: TimeZone,
    tz_name: String,
    /// Intervals per weekday, Monday first, sorted.
    week: [Vec<Interval>; 7],
    holidays: Vec<Holiday>,
    /// Open at every instant (no week, no holidays).
    always: bool,
}

impl Calendar {
    /// A calendar of weekly intervals (Monday first) and holidays in an IANA time zone.
    pub fn new(time_zone: &str, week: [Vec<Interval>; 7], holidays: Vec<Holiday>) -> Result<Calendar, CalendarError> {
        let tz = TimeZone::get(time_zone).map_err(|_| CalendarError::TimeZone(time_zone.to_owned()))?;
        let mut week = week;
        for (i, day) in week.iter_mut().enumerate() {
            for iv in day.iter() {
                if iv.start >= iv.end || iv.end > DAY_MINUTES {
                    return Err(CalendarError::Inverted { day: WEEKDAYS[i], interval: iv.to_string() });
                }
            }
            day.sort();
            for pair in day.windows(2) {
                if pair[1].start < pair[0].end {
                    return Err(CalendarError::Overlap {
                        day: WEEKDAYS[i],
                        a: pair[0].to_string(),
                        b: pair[1].to_string(),
                    });
                }
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(CalendarError::NeverOpen);
        }
        Ok(Calendar { tz, tz_name: time_zone.to_owned(), week, holidays, always: false })
    }

    /// Open at every instant of every day of the year.
    pub fn always_open(time_zone: &str) -> Result<Calendar, CalendarError> {
        let tz = TimeZone::get(time_zone).map_err(|_| CalendarError::TimeZone(time_zone.to_owned()))?;
        Ok(Calendar { tz, tz_name: time_zone.to_owned(), week: Default::default(), holidays: Vec::new(), always: true })
    }

    /// A calendar from its stored text forms (see [`Calendar::week_text`] and
    /// [`Calendar::holidays_text`]); a 24/7 one ignores both.
    pub fn from_text(time_zone: &str, always_open: bool, week: &str, holidays: &str) -> Result<Calendar, String> {
        if always_open {
            return Calendar::always_open(time_zone).map_err(|e| e.to_string());
        }
        let days: Vec<&str> = week.split('|').collect();
        if days.len() != 7 {
            return Err(format!("week: seven days separated by `|` are needed, not {}", days.len()));
        }
        let mut parsed: [Vec<Interval>; 7] = Default::default();
        for (i, day) in days.iter().enumerate() {
            for iv in day.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                parsed[i].push(Interval::parse(iv).map_err(|e| format!("week.{}: {e}", WEEKDAYS[i]))?);
            }
        }
        let holidays = holidays
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|h| Holiday::parse(h).map_err(|e| format!("holidays: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Calendar::new(time_zone, parsed, holidays).map_err(|e| e.to_string())
    }

    /// The week as stored: seven days from Monday separated by `|`, each `HH:MM-HH:MM,…`.
    pub fn week_text(&self) -> String {
        self.week
            .iter()
            .map(|d| d.iter().map(Interval::to_string).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
            .join("|")
    }

    /// The holidays as stored: `MM-DD`, `easter+N`, `YYYY-MM-DD`, comma-separated.
    pub fn holidays_text(&self) -> String {
        self.holidays.iter().map(Holiday::to_string).collect::<Vec<_>>().join(",")
    }

    /// The IANA time zone's name.
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// Whether it is open at every instant.
    pub fn is_always_open(&self) -> bool {
        self.always
    }

    /// The weekly intervals, Monday first.
    pub fn week(&self) -> &[Vec<Interval>; 7] {
        &self.week
    }

    /// The holidays.
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// Whether `date` is a holiday.
    pub fn is_holiday(&self, date: Date) -> bool {
        self.holidays.iter().any(|h| h.falls_on(date))
    }

    /// The open intervals of a local date, as instants.
    fn open_on(&self, date: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let day: &[Interval] = if self.is_holiday(date) { &[] } else { &self.week[weekday_index(date.weekday())] };
        day.iter().filter_map(move |iv| Some((self.instant(date, iv.start)?, self.instant(date, iv.end)?)))
    }

    /// The instant of minute `m` of a local date (24:00 is the next day's midnight). A time that
    /// the clocks skip is read as the one after the change.
    fn instant(&self, date: Date, m: u16) -> Option<Timestamp> {
        let (date, m) = if m >= DAY_MINUTES { (date.tomorrow().ok()?, m - DAY_MINUTES) } else { (date, m) };
        let time = Time::new(i8::try_from(m / 60).ok()?, i8::try_from(m % 60).ok()?, 0, 0).ok()?;
        date.to_datetime(time).to_zoned(self.tz.clone()).ok().map(|z| z.timestamp())
    }

    /// Whether support is open at `t`.
    pub fn is_open(&self, t: Timestamp) -> bool {
        if self.always {
            return true;
        }
        let date = t.to_zoned(self.tz.clone()).date();
        // An interval ending at 24:00 the day before covers nothing after midnight, so the day itself suffices.
        self.open_on(date).any(|(a, b)| a <= t && t < b)
    }

    /// The instant `business` of open time after `start`. A zero duration gives `start` back;
    /// otherwise the result always lies in (or at the end of) an open interval.
    pub fn add(&self, start: Timestamp, business: SignedDuration) -> Result<Timestamp, String> {
        if business.is_negative() {
            return Err("a business duration to add cannot be negative".into());
        }
        if business.is_zero() {
            return Ok(start);
        }
        if self.always {
            return start.checked_add(business).map_err(|e| e.to_string());
        }
        let mut remaining = business;
        let mut date = start.to_zoned(self.tz.clone()).date();
        // The day before too: an instant just after midnight may be inside nothing, but an
        // interval of the previous local date never extends past its 24:00, so starting at the
        // start's own date is enough.
        for _ in 0..SEARCH_DAYS {
            for (a, b) in self.open_on(date) {
                if b <= start {
                    continue;
                }
                let from = if a > start { a } else { start };
                let available = b.duration_since(from);
                if remaining <= available {
                    return from.checked_add(remaining).map_err(|e| e.to_string());
                }
                remaining -= available;
            }
            date = date.tomorrow().map_err(|e| e.to_string())?;
        }
        Err(format!("no open time within {SEARCH_DAYS} days"))
    }

    /// The open time between two instants (negative when `to` is before `from`).
    pub fn between(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        if to < from {
            return -self.between(to, from);
        }
        if self.always {
            return to.duration_since(from);
        }
        let mut total = SignedDuration::ZERO;
        let mut date = from.to_zoned(self.tz.clone()).date();
        let last = to.to_zoned(self.tz.clone()).date();
        while date <= last {
            for (a, b) in self.open_on(date) {
                let lo = if a > from { a } else { from };
                let hi = if b < to { b } else { to };
                if hi > lo {
                    total += hi.duration_since(lo);
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        total
    }
}

fn weekday_index(w: Weekday) -> usize {
    usize::try_from(w.to_monday_zero_offset()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rome_office() -> Calendar {
        let day = vec![Interval::hm(9, 0, 13, 0), Interval::hm(14, 0, 18, 0)];
        Calendar::new(
            "Europe/Rome",
            [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]],
            italian_holidays(),
        )
        .unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse::<jiff::Zoned>().unwrap().timestamp()
    }

    #[test]
    fn easter_sundays_are_right() {
        for (y, m, d) in [(2024, 3, 31), (2025, 4, 20), (2026, 4, 5), (2027, 3, 28), (2000, 4, 23), (2038, 4, 25)] {
            assert_eq!(easter(y), Some(Date::new(y, m, d).unwrap()), "{y}");
        }
    }

    #[test]
    fn friday_afternoon_blocking_fault_is_due_monday_late_morning() {
        let cal = rome_office();
        // Friday 16:30 + 4 business hours: 1.5 h on Friday, 2.5 h from Monday 09:00.
        let due = cal.add(at("2026-11-20T16:30:00+01:00[Europe/Rome]"), SignedDuration::from_hours(4)).unwrap();
        assert_eq!(due, at("2026-11-23T11:30:00+01:00[Europe/Rome]"));
    }

    #[test]
    fn holidays_and_easter_monday_are_closed() {
        let cal = rome_office();
        // Thursday 24 Dec 2026 17:00 + 2 h: 1 h that day, then 25 and 26 Dec are holidays, 26 is
        // a Saturday anyway, and the 28th (Monday) opens at 09:00.
        let due = cal.add(at("2026-12-24T17:00:00+01:00[Europe/Rome]"), SignedDuration::from_hours(2)).unwrap();
        assert_eq!(due, at("2026-12-28T10:00:00+01:00[Europe/Rome]"));
        // Easter Monday 2027 is 29 March: Friday 26 March 17:00 + 2 h ends on Tuesday.
        let due = cal.add(at("2027-03-26T17:00:00+01:00[Europe/Rome]"), SignedDuration::from_hours(2)).unwrap();
        assert_eq!(due, at("2027-03-30T10:00:00+02:00[Europe/Rome]"));
        assert!(cal.is_holiday(Date::new(2027, 3, 29).unwrap()));
        assert!(!cal.is_holiday(Date::new(2027, 3, 30).unwrap()));
    }

    #[test]
    fn whole_days_count_the_hours_that_really_pass_across_dst() {
        let day = vec![Interval::hm(0, 0, 24, 0)];
        let cal = Calendar::new("Europe/Rome", std::array::from_fn(|_| day.clone()), vec![]).unwrap();
        let short =
            cal.between(at("2026-03-29T00:00:00+01:00[Europe/Rome]"), at("2026-03-30T00:00:00+02:00[Europe/Rome]"));
        assert_eq!(short, SignedDuration::from_hours(23));
        let long =
            cal.between(at("2026-10-25T00:00:00+02:00[Europe/Rome]"), at("2026-10-26T00:00:00+01:00[Europe/Rome]"));
        assert_eq!(long, SignedDuration::from_hours(25));
        // 24/7: 4 h after 01:30 on the March change is 06:30 local (the 02:00-03:00 hour does not exist).
        let always = Calendar::always_open("Europe/Rome").unwrap();
        let due = always.add(at("2026-03-29T01:30:00+01:00[Europe/Rome]"), SignedDuration::from_hours(4)).unwrap();
        assert_eq!(due, at("2026-03-29T06:30:00+02:00[Europe/Rome]"));
    }

    #[test]
    fn bad_calendars_are_refused_naming_the_field() {
        let e = Calendar::new("Mars/Olympus", Default::default(), vec![]).unwrap_err();
        assert!(e.to_string().starts_with("time_zone"), "{e}");
        assert_eq!(Calendar::new("Europe/Rome", Default::default(), vec![]).unwrap_err(), CalendarError::NeverOpen);
        let mut week: [Vec<Interval>; 7] = Default::default();
        week[2] = vec![Interval::hm(9, 0, 13, 0), Interval::hm(12, 0, 18, 0)];
        let e = Calendar::new("Europe/Rome", week, vec![]).unwrap_err();
        assert!(e.to_string().starts_with("week.wednesday"), "{e}");
        let mut week: [Vec<Interval>; 7] = Default::default();
        week[0] = vec![Interval::hm(18, 0, 9, 0)];
        assert!(matches!(
            Calendar::new("Europe/Rome", week, vec![]),
            Err(CalendarError::Inverted { day: "monday", .. })
        ));
        assert!(Interval::parse("25:00-26:00").is_err() && Interval::parse("9-13").is_err());
        assert_eq!(Interval::parse("08:30–13:00").unwrap(), Interval::hm(8, 30, 13, 0));
    }

    #[test]
    fn text_forms_read_back_the_same_calendar() {
        let cal = rome_office();
        let again = Calendar::from_text("Europe/Rome", false, &cal.week_text(), &cal.holidays_text()).unwrap();
        assert_eq!(again, cal);
        assert_eq!(cal.holidays_text(), "01-01,01-06,easter+1,04-25,05-01,06-02,08-15,11-01,12-08,12-25,12-26");
        assert!(Calendar::from_text("Europe/Rome", false, "09:00-13:00", "").unwrap_err().contains("seven days"));
        assert!(Calendar::from_text("Europe/Rome", false, "||||||", "").unwrap_err().contains("open time"));
        let e = Calendar::from_text("Europe/Rome", false, "09:00-13:00||||||", "02-30").unwrap_err();
        assert!(e.starts_with("holidays"), "{e}");
        assert_eq!(Holiday::parse("2026-12-07").unwrap(), Holiday::Date(Date::new(2026, 12, 7).unwrap()));
        assert_eq!(Holiday::parse("easter+1").unwrap(), Holiday::Easter(1));
        assert_eq!(Holiday::parse("12-07").unwrap(), Holiday::Fixed { month: 12, day: 7 });
        assert!(Calendar::from_text("Europe/Rome", true, "", "").unwrap().is_always_open());
        // 90 days before an early Easter (27 March 2016) is 28 December 2015.
        assert!(Holiday::Easter(-90).falls_on(Date::new(2015, 12, 28).unwrap()));
    }

    fn instant() -> impl Strategy<Value = Timestamp> {
        // 2025-01-01 to 2028-12-31, at minute precision.
        (1_735_689_600i64..1_861_920_000).prop_map(|s| Timestamp::from_second(s - s % 60).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn adding_then_measuring_gives_the_duration_back(start in instant(), minutes in 1i64..20_000) {
            let cal = rome_office();
            let d = SignedDuration::from_mins(minutes);
            let due = cal.add(start, d).unwrap();
            prop_assert_eq!(cal.between(start, due), d);
            // The due instant is open, or the end of an open interval.
            let just_before = due.checked_sub(SignedDuration::from_secs(1)).unwrap();
            prop_assert!(cal.is_open(just_before), "{due} closes no open time");
        }

        #[test]
        fn night_intervals_across_dst_changes_add_and_measure_alike(start in instant(), minutes in 1i64..3_000) {
            // 01:00-04:00 every night: 2 h on the March change, 4 h on the October one.
            let night = vec![Interval::hm(1, 0, 4, 0), Interval::hm(22, 0, 24, 0)];
            let cal = Calendar::new("Europe/Rome", std::array::from_fn(|_| night.clone()), vec![]).unwrap();
            let d = SignedDuration::from_mins(minutes);
            let due = cal.add(start, d).unwrap();
            prop_assert_eq!(cal.between(start, due), d);
            prop_assert!(cal.is_open(due.checked_sub(SignedDuration::from_secs(1)).unwrap()));
        }

        #[test]
        fn more_business_time_is_never_earlier(start in instant(), a in 0i64..5_000, b in 0i64..5_000) {
            let cal = rome_office();
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(cal.add(start, SignedDuration::from_mins(lo)).unwrap() <= cal.add(start, SignedDuration::from_mins(hi)).unwrap());
        }

        #[test]
        fn measuring_is_additive(a in instant(), b in instant(), c in instant()) {
            let cal = rome_office();
            let mut v = [a, b, c];
            v.sort();
            prop_assert_eq!(cal.between(v[0], v[1]) + cal.between(v[1], v[2]), cal.between(v[0], v[2]));
        }
    }
}
