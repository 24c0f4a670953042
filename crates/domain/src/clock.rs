//! A ticket's SLA clock: which promise it is counting toward, how much business time that
//! promise has consumed, whether it runs, and what has been met or breached.
//!
//! The clock keeps the business time consumed *before* `running_since`, so the due instant of a
//! running clock is `calendar.add(running_since, target - consumed)`: a pure function of the
//! stored state. Changing the calendar therefore only recomputes due instants; changing the
//! severity or the level folds the time run so far into `consumed` first (under the calendar
//! that counted it), so the business time already used is kept.

use jiff::{SignedDuration, Timestamp};

use crate::sla::{Promise, SupportLevel};
use crate::{Status, named_enum};

named_enum!(
    /// The promise a clock is counting toward.
    Phase {
        /// From the opening to the first intervention.
        Intervention => "intervention",
        /// From the intervention to the restoration (resolution).
        Restoration => "restoration",
        /// Resolved: both promises judged.
        Done => "done",
    }
);

named_enum!(
    /// A clock as people read it.
    ClockState {
        /// Counting.
        Running => "running",
        /// Stopped by a pausing status (waiting for the customer); the pause is counted.
        Paused => "paused",
        /// Stopped because the ticket was rejected or deleted.
        Stopped => "stopped",
        /// Resolved with every promise kept.
        Met => "met",
        /// A promise was not kept (sticky).
        Breached => "breached",
    }
);

/// Something the clock records when it passes a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// The warning share of the phase's target is consumed.
    Warning(Phase),
    /// The phase's target is consumed without the promise kept.
    Breach(Phase),
    /// The phase's promise was kept.
    Met(Phase),
}

/// A ticket's SLA clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// The promise being counted.
    pub phase: Phase,
    /// Business time the phase consumed before `running_since`.
    pub consumed: SignedDuration,
    /// Running since then; `None` when paused, stopped or done.
    pub running_since: Option<Timestamp>,
    /// Paused (by a pausing status) since then.
    pub paused_since: Option<Timestamp>,
    /// Wall time of the pauses already ended.
    pub paused_for: SignedDuration,
    /// When the intervention happened.
    pub intervened_at: Option<Timestamp>,
    /// When the restoration happened (the resolution).
    pub restored_at: Option<Timestamp>,
    /// The intervention came (or is) late.
    pub intervention_breached: bool,
    /// The restoration came (or is) late.
    pub restoration_breached: bool,
    /// The current phase's warning was given.
    pub warned: bool,
}

/// The due instants and the next mark of a clock, as stored for ordering and sweeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dues {
    /// The intervention's due instant (`None` once intervened or while stopped).
    pub intervention: Option<Timestamp>,
    /// The restoration's due instant (predicted from the intervention's due while intervention is pending).
    pub restoration: Option<Timestamp>,
    /// The due instant of the current phase while the clock runs.
    pub next_due: Option<Timestamp>,
    /// The next warning or breach to record, if any.
    pub alarm_at: Option<Timestamp>,
}

/// `percent` per cent of a target, to the second: the warning mark, as both [`Clock::dues`] and
/// [`Clock::check`] read it (so a mark that is due is always recorded when checked).
fn share(target: SignedDuration, percent: i64) -> SignedDuration {
    SignedDuration::from_secs(target.as_secs() * percent / 100)
}

impl Clock {
    /// A clock for a ticket opened at `opened`, running unless its status pauses it.
    pub fn start(opened: Timestamp, running: bool) -> Clock {
        Clock {
            phase: Phase::Intervention,
            consumed: SignedDuration::ZERO,
            running_since: running.then_some(opened),
            paused_since: (!running).then_some(opened),
            paused_for: SignedDuration::ZERO,
            intervened_at: None,
            restored_at: None,
            intervention_breached: false,
            restoration_breached: false,
            warned: false,
        }
    }

    /// The target of the current phase.
    fn target(&self, promise: Promise) -> SignedDuration {
        match self.phase {
            Phase::Intervention => promise.intervention,
            Phase::Restoration | Phase::Done => promise.restoration,
        }
    }

    /// The business time the current phase has consumed at `now`.
    pub fn consumed_at(&self, level: &SupportLevel, now: Timestamp) -> SignedDuration {
        match self.running_since {
            Some(since) if now > since => self.consumed + level.calendar.between(since, now),
            _ => self.consumed,
        }
    }

    /// The business time left to the current phase's target at `now` (negative when late).
    pub fn left_at(&self, level: &SupportLevel, promise: Promise, now: Timestamp) -> SignedDuration {
        self.target(promise) - self.consumed_at(level, now)
    }

    /// The wall time spent paused up to `now`, the running pause included.
    pub fn paused_for_at(&self, now: Timestamp) -> SignedDuration {
        match self.paused_since {
            Some(p) if now > p => self.paused_for + now.duration_since(p),
            _ => self.paused_for,
        }
    }

    /// Folds the time run up to `now` into `consumed` (under the level's calendar) and restarts
    /// the count at `now`; needed before the level or the severity changes.
    pub fn rebase(&mut self, level: &SupportLevel, now: Timestamp) {
        if let Some(since) = self.running_since
            && now > since
        {
            self.consumed += level.calendar.between(since, now);
            self.running_since = Some(now);
        }
    }

    fn halt(&mut self, level: &SupportLevel, now: Timestamp) {
        self.rebase(level, now);
        self.running_since = None;
    }

    /// The instant the current phase reaches `share` (per cent) of its target, counting on from
    /// the running start; `None` when not running.
    fn mark(&self, level: &SupportLevel, promise: Promise, percent: i64) -> Option<Timestamp> {
        let since = self.running_since?;
        let left = share(self.target(promise), percent) - self.consumed;
        if left <= SignedDuration::ZERO {
            return Some(since);
        }
        level.calendar.add(since, left).ok()
    }

    /// The due instants and next mark under `level`, warning at `warn_percent` of a target.
    pub fn dues(&self, level: &SupportLevel, promise: Promise, warn_percent: i64) -> Dues {
        let mut d = Dues::default();
        let due = self.mark(level, promise, 100);
        match self.phase {
            Phase::Intervention => {
                d.intervention = due;
                d.restoration = due.and_then(|i| level.calendar.add(i, promise.restoration).ok());
            }
            Phase::Restoration => d.restoration = due,
            Phase::Done => return d,
        }
        d.next_due = due;
        let breached = match self.phase {
            Phase::Intervention => self.intervention_breached,
            _ => self.restoration_breached,
        };
        d.alarm_at = match (self.warned, breached) {
            (false, false) => self.mark(level, promise, warn_percent),
            (true, false) => due,
            _ => None,
        };
        d
    }

    /// Records the marks passed at `now`: the warning, then the breach of the current phase.
    pub fn check(&mut self, level: &SupportLevel, promise: Promise, warn_percent: i64, now: Timestamp) -> Vec<Alarm> {
        let mut fired = Vec::new();
        if self.running_since.is_none() || self.phase == Phase::Done {
            return fired;
        }
        let consumed = self.consumed_at(level, now);
        let target = self.target(promise);
        if !self.warned && consumed >= share(target, warn_percent) {
            self.warned = true;
            fired.push(Alarm::Warning(self.phase));
        }
        let breached = match self.phase {
            Phase::Intervention => &mut self.intervention_breached,
            _ => &mut self.restoration_breached,
        };
        if !*breached && consumed >= target {
            *breached = true;
            fired.push(Alarm::Breach(self.phase));
        }
        fired
    }

    /// The first intervention at `at`: judges the intervention and starts the restoration.
    pub fn intervene(&mut self, level: &SupportLevel, promise: Promise, at: Timestamp) -> Vec<Alarm> {
        if self.phase != Phase::Intervention {
            return Vec::new();
        }
        let running = self.running_since.is_some();
        self.halt(level, at);
        let late = self.consumed > promise.intervention;
        let mut fired = Vec::new();
        if late && !self.intervention_breached {
            self.intervention_breached = true;
            fired.push(Alarm::Breach(Phase::Intervention));
        } else if !late && !self.intervention_breached {
            fired.push(Alarm::Met(Phase::Intervention));
        }
        self.intervened_at = Some(at);
        self.phase = Phase::Restoration;
        self.consumed = SignedDuration::ZERO;
        self.warned = false;
        self.running_since = running.then_some(at);
        fired
    }

    /// The ticket moved to `to` at `now`; `pausing` are the statuses that pause the clock.
    pub fn on_status(
        &mut self,
        level: &SupportLevel,
        promise: Promise,
        to: Status,
        pausing: &[Status],
        now: Timestamp,
    ) -> Vec<Alarm> {
        let mut fired = Vec::new();
        match to {
            Status::Resolved => {
                if self.phase == Phase::Done {
                    return fired;
                }
                self.end_pause(now);
                if self.phase == Phase::Intervention {
                    fired.extend(self.intervene(level, promise, now));
                }
                self.halt(level, now);
                let late = self.consumed > promise.restoration;
                if late && !self.restoration_breached {
                    self.restoration_breached = true;
                    fired.push(Alarm::Breach(Phase::Restoration));
                } else if !late && !self.restoration_breached {
                    fired.push(Alarm::Met(Phase::Restoration));
                }
                self.restored_at = Some(now);
                self.phase = Phase::Done;
            }
            Status::Rejected | Status::Deleted => {
                self.end_pause(now);
                self.halt(level, now);
            }
            s if pausing.contains(&s) => {
                if self.paused_since.is_none() {
                    self.reopen();
                    self.halt(level, now);
                    self.paused_since = Some(now);
                }
            }
            _ => {
                self.reopen();
                self.end_pause(now);
                if self.running_since.is_none() {
                    self.running_since = Some(now);
                }
            }
        }
        fired
    }

    /// A resolved ticket reopened: the restoration counts on from what it had consumed.
    fn reopen(&mut self) {
        if self.phase == Phase::Done {
            self.phase = Phase::Restoration;
            self.restored_at = None;
        }
    }

    fn end_pause(&mut self, now: Timestamp) {
        if let Some(p) = self.paused_since.take()
            && now > p
        {
            self.paused_for += now.duration_since(p);
        }
    }

    /// How people read the clock at `now`.
    pub fn state(&self, next_due: Option<Timestamp>, now: Timestamp) -> ClockState {
        if self.intervention_breached || self.restoration_breached || next_due.is_some_and(|d| d <= now) {
            ClockState::Breached
        } else if self.phase == Phase::Done {
            ClockState::Met
        } else if self.paused_since.is_some() {
            ClockState::Paused
        } else if self.running_since.is_none() {
            ClockState::Stopped
        } else {
            ClockState::Running
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;
    use crate::sla::presets;

    fn at(s: &str) -> Timestamp {
        s.parse::<jiff::Zoned>().unwrap().timestamp()
    }

    fn level(slug: &str) -> SupportLevel {
        presets().unwrap().into_iter().find(|l| l.slug == slug).unwrap()
    }

    const ROME: &str = "+01:00[Europe/Rome]";

    fn rome(s: &str) -> Timestamp {
        at(&format!("{s}{ROME}"))
    }

    #[test]
    fn dues_of_a_new_clock_match_the_level() {
        let l = level("professional");
        let opened = rome("2026-11-20T16:30:00");
        let c = Clock::start(opened, true);
        let d = c.dues(&l, l.for_fault(Severity::Blocking), 75);
        let want = l.due(Severity::Blocking, opened, None).unwrap();
        assert_eq!(d.intervention, Some(want.intervention));
        assert_eq!(d.restoration, Some(want.restoration));
        // 75% of 4 h = 3 h: 1.5 h on Friday, 1.5 h on Monday from 09:00.
        assert_eq!(d.alarm_at, Some(rome("2026-11-23T10:30:00")));
    }

    #[test]
    fn a_pause_keeps_consumed_time_and_moves_the_due() {
        let l = level("professional");
        let mut c = Clock::start(rome("2026-11-23T09:00:00"), true);
        // 1 h runs, then 2 h stalled, then running again: due moves by the 2 h of business time.
        c.on_status(
            &l,
            l.for_fault(Severity::Blocking),
            Status::Stalled,
            &[Status::Stalled],
            rome("2026-11-23T10:00:00"),
        );
        assert_eq!(c.consumed, SignedDuration::from_hours(1));
        assert_eq!(c.dues(&l, l.for_fault(Severity::Blocking), 75).next_due, None);
        assert_eq!(c.state(None, rome("2026-11-23T11:00:00")), ClockState::Paused);
        c.on_status(&l, l.for_fault(Severity::Blocking), Status::Open, &[Status::Stalled], rome("2026-11-23T12:00:00"));
        assert_eq!(c.paused_for, SignedDuration::from_hours(2));
        // 3 h left from 12:00: 12:00-13:00, 14:00-16:00.
        assert_eq!(c.dues(&l, l.for_fault(Severity::Blocking), 75).intervention, Some(rome("2026-11-23T16:00:00")));
    }

    #[test]
    fn restoration_counts_from_the_intervention_and_resolution_judges_it() {
        let l = level("extended");
        let mut c = Clock::start(rome("2026-12-24T23:00:00"), true);
        let fired = c.intervene(&l, l.for_fault(Severity::Blocking), rome("2026-12-25T01:00:00"));
        assert_eq!(fired, vec![Alarm::Met(Phase::Intervention)]);
        let d = c.dues(&l, l.for_fault(Severity::Blocking), 75);
        assert_eq!(d.intervention, None);
        assert_eq!(d.restoration, Some(rome("2026-12-25T03:00:00")));
        let fired =
            c.on_status(&l, l.for_fault(Severity::Blocking), Status::Resolved, &[], rome("2026-12-25T04:00:00"));
        assert_eq!(fired, vec![Alarm::Breach(Phase::Restoration)]);
        assert_eq!(c.state(None, rome("2026-12-25T05:00:00")), ClockState::Breached);
    }

    #[test]
    fn the_sweep_warns_then_breaches_once() {
        let l = level("extended");
        let mut c = Clock::start(rome("2026-12-01T10:00:00"), true);
        assert!(c.check(&l, l.for_fault(Severity::Blocking), 75, rome("2026-12-01T12:00:00")).is_empty());
        assert_eq!(
            c.check(&l, l.for_fault(Severity::Blocking), 75, rome("2026-12-01T13:00:00")),
            vec![Alarm::Warning(Phase::Intervention)]
        );
        assert_eq!(c.dues(&l, l.for_fault(Severity::Blocking), 75).alarm_at, Some(rome("2026-12-01T14:00:00")));
        assert_eq!(
            c.check(&l, l.for_fault(Severity::Blocking), 75, rome("2026-12-01T14:00:00")),
            vec![Alarm::Breach(Phase::Intervention)]
        );
        assert!(c.check(&l, l.for_fault(Severity::Blocking), 75, rome("2026-12-01T15:00:00")).is_empty());
        assert_eq!(c.dues(&l, l.for_fault(Severity::Blocking), 75).alarm_at, None);
        // The late intervention records no second breach.
        assert!(c.intervene(&l, l.for_fault(Severity::Blocking), rome("2026-12-01T15:00:00")).is_empty());
        assert!(!c.warned);
    }

    #[test]
    fn the_warning_is_recorded_at_its_mark_whatever_the_share() {
        let mut l = level("extended");
        l.intervention.blocking = SignedDuration::from_mins(61);
        for percent in [1, 33, 67, 99] {
            let mut c = Clock::start(rome("2026-12-01T10:00:00"), true);
            let mark = c.dues(&l, l.for_fault(Severity::Blocking), percent).alarm_at.unwrap();
            assert_eq!(
                c.check(&l, l.for_fault(Severity::Blocking), percent, mark),
                vec![Alarm::Warning(Phase::Intervention)]
            );
            assert_ne!(c.dues(&l, l.for_fault(Severity::Blocking), percent).alarm_at, Some(mark), "{percent}%");
        }
    }

    #[test]
    fn a_severity_change_keeps_the_consumed_business_time() {
        let l = level("professional");
        let mut c = Clock::start(rome("2026-11-23T09:00:00"), true);
        // Non-blocking (8 h) for 3 h, then blocking (4 h): 1 h left.
        c.rebase(&l, rome("2026-11-23T12:00:00"));
        assert_eq!(c.dues(&l, l.for_fault(Severity::Blocking), 75).intervention, Some(rome("2026-11-23T13:00:00")));
        // Already past the new target: due at the change, and the check breaches.
        c.rebase(&l, rome("2026-11-23T17:00:00"));
        assert_eq!(c.dues(&l, l.for_fault(Severity::Blocking), 75).intervention, Some(rome("2026-11-23T17:00:00")));
        let fired = c.check(&l, l.for_fault(Severity::Blocking), 75, rome("2026-11-23T17:00:00"));
        assert_eq!(fired, vec![Alarm::Warning(Phase::Intervention), Alarm::Breach(Phase::Intervention)]);
    }

    #[test]
    fn reopening_a_resolved_ticket_resumes_the_restoration() {
        let l = level("extended");
        let mut c = Clock::start(rome("2026-12-01T10:00:00"), true);
        c.on_status(&l, l.for_fault(Severity::NonBlocking), Status::Resolved, &[], rome("2026-12-01T11:00:00"));
        assert_eq!(c.phase, Phase::Done);
        assert_eq!(c.intervened_at, Some(rome("2026-12-01T11:00:00")));
        assert_eq!(c.state(None, rome("2026-12-01T12:00:00")), ClockState::Met);
        c.on_status(&l, l.for_fault(Severity::NonBlocking), Status::Open, &[], rome("2026-12-02T10:00:00"));
        assert_eq!(c.phase, Phase::Restoration);
        // The restoration had consumed nothing (resolved at the intervention): 4 h from the reopening.
        assert_eq!(c.dues(&l, l.for_fault(Severity::NonBlocking), 75).restoration, Some(rome("2026-12-02T14:00:00")));
    }

    #[test]
    fn a_ticket_opened_in_a_pausing_status_starts_paused() {
        let l = level("extended");
        let mut c = Clock::start(rome("2026-12-01T10:00:00"), false);
        assert_eq!(c.state(None, rome("2026-12-01T10:00:00")), ClockState::Paused);
        c.on_status(&l, l.for_fault(Severity::Blocking), Status::Open, &[Status::Stalled], rome("2026-12-01T11:00:00"));
        assert_eq!(c.paused_for, SignedDuration::from_hours(1));
        assert_eq!(c.dues(&l, l.for_fault(Severity::Blocking), 75).intervention, Some(rome("2026-12-01T15:00:00")));
        // Rejected stops without counting a pause.
        c.on_status(
            &l,
            l.for_fault(Severity::Blocking),
            Status::Rejected,
            &[Status::Stalled],
            rome("2026-12-01T12:00:00"),
        );
        assert_eq!(c.state(None, rome("2026-12-01T13:00:00")), ClockState::Stopped);
        assert_eq!(c.paused_for_at(rome("2026-12-01T13:00:00")), SignedDuration::from_hours(1));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Whatever the pauses, the clock counts exactly the business time it ran, and a running
        /// clock is due when the target's remaining business time has run.
        #[test]
        fn pauses_never_lose_or_add_business_time(
            start in 0i64..365 * 86_400,
            steps in proptest::collection::vec((1i64..3 * 86_400, proptest::bool::ANY), 0..12),
            slug in proptest::sample::select(vec!["professional", "advanced", "extended"]),
        ) {
            let l = level(slug);
            let year = at("2026-01-01T00:00:00+01:00[Europe/Rome]");
            let mut now = year + SignedDuration::from_secs(start);
            let mut c = Clock::start(now, true);
            let mut running_from = Some(now);
            let mut counted = SignedDuration::ZERO;
            for (gap, pause) in steps {
                now += SignedDuration::from_secs(gap);
                let to = if pause { Status::Stalled } else { Status::Open };
                c.on_status(&l, l.for_fault(Severity::NonBlocking), to, &[Status::Stalled], now);
                if let Some(from) = running_from.take() {
                    counted += l.calendar.between(from, now);
                }
                if !pause {
                    running_from = Some(now);
                }
            }
            let later = now + SignedDuration::from_hours(5);
            let expected = counted + running_from.map(|f| l.calendar.between(f, later)).unwrap_or_default();
            proptest::prop_assert_eq!(c.consumed_at(&l, later), expected);
            let target = l.intervention.for_severity(Severity::NonBlocking);
            if let (Some(since), Some(due)) = (c.running_since, c.dues(&l, l.for_fault(Severity::NonBlocking), 75).intervention) {
                let left = (target - c.consumed).max(SignedDuration::ZERO);
                proptest::prop_assert_eq!(l.calendar.between(since, due), left);
            }
        }
    }
}
