//! Notices: incidents and planned maintenance, their states, windows and visibility.
//!
//! An incident goes investigating → identified → monitoring → resolved; it may skip states forward,
//! go back from monitoring to identified or investigating, and a resolved incident may be reopened
//! (back to investigating). A maintenance goes scheduled → in_progress → completed, by hand or by the
//! clock at its window's start and end, and may be cancelled until it completes.

use jiff::{SignedDuration, Timestamp};

use crate::named_enum;

named_enum!(
    /// Whether a notice reports something that went wrong or announces planned work.
    NoticeKind {
        /// An unplanned outage or degradation.
        Incident => "incident",
        /// Planned work in a window.
        Maintenance => "maintenance",
    }
);

named_enum!(
    /// Where a notice stands; each state belongs to one kind.
    NoticeState {
        /// Incident: reported, cause unknown.
        Investigating => "investigating",
        /// Incident: cause found, being fixed.
        Identified => "identified",
        /// Incident: fixed, watching that it holds.
        Monitoring => "monitoring",
        /// Incident: over.
        Resolved => "resolved",
        /// Maintenance: announced, not started.
        Scheduled => "scheduled",
        /// Maintenance: under way.
        InProgress => "in_progress",
        /// Maintenance: done.
        Completed => "completed",
        /// Maintenance: called off.
        Cancelled => "cancelled",
    }
);

named_enum!(
    /// How the service is hit while the notice lasts.
    Impact {
        /// The service does not work.
        Outage => "outage",
        /// The service works, badly.
        Degraded => "degraded",
        /// Some of the lines in scope, or some functions, are hit.
        Partial => "partial",
    }
);

impl NoticeKind {
    /// The state a new notice of this kind starts in.
    pub fn initial_state(self) -> NoticeState {
        match self {
            NoticeKind::Incident => NoticeState::Investigating,
            NoticeKind::Maintenance => NoticeState::Scheduled,
        }
    }

    /// The states of this kind, in lifecycle order.
    pub fn states(self) -> &'static [NoticeState] {
        use NoticeState::*;
        match self {
            NoticeKind::Incident => &[Investigating, Identified, Monitoring, Resolved],
            NoticeKind::Maintenance => &[Scheduled, InProgress, Completed, Cancelled],
        }
    }
}

impl NoticeState {
    /// The kind of notice this state belongs to.
    pub fn kind(self) -> NoticeKind {
        use NoticeState::*;
        match self {
            Investigating | Identified | Monitoring | Resolved => NoticeKind::Incident,
            Scheduled | InProgress | Completed | Cancelled => NoticeKind::Maintenance,
        }
    }

    /// Whether the notice is over (resolved, completed, cancelled); a resolved incident may still be reopened.
    pub fn is_final(self) -> bool {
        matches!(self, NoticeState::Resolved | NoticeState::Completed | NoticeState::Cancelled)
    }

    /// The states a notice in this state may move to (not counting itself).
    pub fn allowed_next(self) -> &'static [NoticeState] {
        use NoticeState::*;
        match self {
            Investigating => &[Identified, Monitoring, Resolved],
            Identified => &[Monitoring, Resolved],
            Monitoring => &[Investigating, Identified, Resolved],
            Resolved => &[Investigating],
            // Straight to completed: the clock does it when the window has passed unseen.
            Scheduled => &[InProgress, Completed, Cancelled],
            InProgress => &[Completed, Cancelled],
            Completed | Cancelled => &[],
        }
    }
}

fn list(states: &[NoticeState]) -> String {
    if states.is_empty() { "none".to_owned() } else { states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") }
}

/// Why a notice's state or window is refused; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// A state of the other kind of notice.
    #[error("state: `{state}` is not a state of {kind} notices; allowed: {}", list(kind.states()))]
    WrongKind {
        /// The notice's kind.
        kind: NoticeKind,
        /// The state given.
        state: NoticeState,
    },
    /// A move the lifecycle does not allow.
    #[error("state: {kind} notices cannot go from {from} to {to}; allowed from {from}: {}", list(from.allowed_next()))]
    Transition {
        /// The notice's kind.
        kind: NoticeKind,
        /// The current state.
        from: NoticeState,
        /// The state asked for.
        to: NoticeState,
    },
    /// A window that ends before or when it starts.
    #[error("window.end: {end} must be after window.start {start}")]
    WindowEnd {
        /// The start given.
        start: Timestamp,
        /// The end given.
        end: Timestamp,
    },
    /// A maintenance without a window.
    #[error("window: maintenance notices need a window (start and end)")]
    WindowRequired,
}

/// Checks a state change of a notice of `kind`; staying in the same state is allowed (a no-op).
pub fn transition(kind: NoticeKind, from: NoticeState, to: NoticeState) -> Result<(), NoticeError> {
    for state in [from, to] {
        if state.kind() != kind {
            return Err(NoticeError::WrongKind { kind, state });
        }
    }
    if from == to || from.allowed_next().contains(&to) {
        Ok(())
    } else {
        Err(NoticeError::Transition { kind, from, to })
    }
}

/// When planned work happens (or an incident began and is expected to end): `start` < `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "WindowFields")]
pub struct Window {
    start: Timestamp,
    end: Timestamp,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowFields {
    start: Timestamp,
    end: Timestamp,
}

impl TryFrom<WindowFields> for Window {
    type Error = NoticeError;
    fn try_from(w: WindowFields) -> Result<Window, NoticeError> {
        Window::new(w.start, w.end)
    }
}

impl Window {
    /// A window from `start` to `end`; refused unless `end` is after `start`.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Window, NoticeError> {
        if end > start { Ok(Window { start, end }) } else { Err(NoticeError::WindowEnd { start, end }) }
    }

    /// When it starts.
    pub fn start(self) -> Timestamp {
        self.start
    }

    /// When it ends.
    pub fn end(self) -> Timestamp {
        self.end
    }
}

/// Checks that a notice has the window its kind needs: required for maintenance, optional for incidents.
pub fn check_window(kind: NoticeKind, window: Option<Window>) -> Result<(), NoticeError> {
    match (kind, window) {
        (NoticeKind::Maintenance, None) => Err(NoticeError::WindowRequired),
        _ => Ok(()),
    }
}

/// The state the clock moves a notice to at `now`, if any: a scheduled maintenance starts at its
/// window's start, and a scheduled or in-progress one completes at its end. Incidents, final
/// states and maintenance without a window never move by themselves.
pub fn automatic_transition(
    kind: NoticeKind,
    state: NoticeState,
    window: Option<Window>,
    now: Timestamp,
) -> Option<NoticeState> {
    let window = window?;
    if kind != NoticeKind::Maintenance || state.kind() != kind {
        return None;
    }
    match state {
        NoticeState::Scheduled | NoticeState::InProgress if now >= window.end => Some(NoticeState::Completed),
        NoticeState::Scheduled if now >= window.start => Some(NoticeState::InProgress),
        _ => None,
    }
}

/// Whether the notice is shown at `now`: an incident until it is resolved; a maintenance from
/// `lead` before its start (already when it is in progress) until its end, unless completed or
/// cancelled.
pub fn is_visible(
    kind: NoticeKind,
    state: NoticeState,
    window: Option<Window>,
    now: Timestamp,
    lead: SignedDuration,
) -> bool {
    if state.kind() != kind {
        return false;
    }
    match state {
        NoticeState::Investigating | NoticeState::Identified | NoticeState::Monitoring => true,
        NoticeState::Scheduled => window.is_some_and(|w| {
            let past = if lead.is_negative() { Timestamp::MAX } else { Timestamp::MIN };
            let from = w.start.checked_sub(lead).unwrap_or(past);
            from <= now && now < w.end
        }),
        NoticeState::InProgress => window.is_some_and(|w| now < w.end),
        NoticeState::Resolved | NoticeState::Completed | NoticeState::Cancelled => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A clock the test moves by hand.
    struct TestClock(Timestamp);

    impl TestClock {
        fn at(text: &str) -> TestClock {
            TestClock(text.parse().unwrap())
        }

        fn now(&self) -> Timestamp {
            self.0
        }

        fn advance(&mut self, by: SignedDuration) -> Timestamp {
            self.0 += by;
            self.0
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(start: &str, end: &str) -> Window {
        Window::new(ts(start), ts(end)).unwrap()
    }

    const HOUR: SignedDuration = SignedDuration::from_hours(1);
    const DAY: SignedDuration = SignedDuration::from_hours(24);

    #[test]
    fn every_name_round_trips() {
        for s in NoticeState::ALL {
            assert_eq!(NoticeState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(NoticeState::parse("in-progress"), None);
        assert_eq!(NoticeKind::names(), "incident, maintenance");
        assert_eq!(Impact::names(), "outage, degraded, partial");
    }

    #[test]
    fn each_kind_starts_in_its_own_first_state() {
        for kind in NoticeKind::ALL {
            assert_eq!(kind.initial_state().kind(), *kind);
            assert_eq!(kind.states()[0], kind.initial_state());
            assert!(!kind.initial_state().is_final());
        }
    }

    #[test]
    fn states_partition_between_kinds() {
        for s in NoticeState::ALL {
            let owners: Vec<_> = NoticeKind::ALL.iter().filter(|k| k.states().contains(s)).collect();
            assert_eq!(owners, vec![&s.kind()], "{s}");
            for next in s.allowed_next() {
                assert_eq!(next.kind(), s.kind(), "{s} -> {next}");
            }
        }
    }

    #[test]
    fn final_states_are_resolved_completed_and_cancelled() {
        let finals: Vec<_> = NoticeState::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
        assert_eq!(finals, vec!["resolved", "completed", "cancelled"]);
    }

    #[test]
    fn incident_moves_forward_with_skips() {
        use NoticeState::*;
        for (from, to) in [
            (Investigating, Identified),
            (Investigating, Monitoring),
            (Investigating, Resolved),
            (Identified, Monitoring),
            (Identified, Resolved),
            (Monitoring, Resolved),
        ] {
            assert_eq!(transition(NoticeKind::Incident, from, to), Ok(()), "{from} -> {to}");
        }
    }

    #[test]
    fn incident_goes_back_only_from_monitoring_and_reopens_to_investigating() {
        use NoticeState::*;
        let inc = |from, to| transition(NoticeKind::Incident, from, to);
        assert_eq!(inc(Monitoring, Identified), Ok(()));
        assert_eq!(inc(Monitoring, Investigating), Ok(()));
        assert_eq!(inc(Resolved, Investigating), Ok(()));
        assert!(inc(Identified, Investigating).is_err());
        assert!(inc(Resolved, Monitoring).is_err());
        assert_eq!(
            inc(Resolved, Identified).unwrap_err().to_string(),
            "state: incident notices cannot go from resolved to identified; allowed from resolved: investigating"
        );
    }

    #[test]
    fn maintenance_runs_scheduled_in_progress_completed_and_may_be_cancelled_until_then() {
        use NoticeState::*;
        let m = |from, to| transition(NoticeKind::Maintenance, from, to);
        assert_eq!(m(Scheduled, InProgress), Ok(()));
        assert_eq!(m(InProgress, Completed), Ok(()));
        assert_eq!(m(Scheduled, Completed), Ok(()));
        assert_eq!(m(Scheduled, Cancelled), Ok(()));
        assert_eq!(m(InProgress, Cancelled), Ok(()));
        assert!(m(InProgress, Scheduled).is_err());
        assert!(m(Cancelled, Scheduled).is_err());
        assert_eq!(
            m(Completed, Cancelled).unwrap_err().to_string(),
            "state: maintenance notices cannot go from completed to cancelled; allowed from completed: none"
        );
    }

    #[test]
    fn staying_in_the_same_state_is_a_no_op() {
        for s in NoticeState::ALL {
            assert_eq!(transition(s.kind(), *s, *s), Ok(()));
        }
    }

    #[test]
    fn states_of_the_other_kind_are_refused_listing_the_allowed_ones() {
        let err = transition(NoticeKind::Incident, NoticeState::Investigating, NoticeState::Completed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "state: `completed` is not a state of incident notices; allowed: investigating, identified, monitoring, resolved"
        );
        let err = transition(NoticeKind::Maintenance, NoticeState::Monitoring, NoticeState::Scheduled).unwrap_err();
        assert_eq!(err, NoticeError::WrongKind { kind: NoticeKind::Maintenance, state: NoticeState::Monitoring });
        assert!(err.to_string().ends_with("allowed: scheduled, in_progress, completed, cancelled"));
    }

    #[test]
    fn window_must_end_after_it_starts() {
        let err = Window::new(ts("2026-03-01T10:00:00Z"), ts("2026-03-01T10:00:00Z")).unwrap_err();
        assert_eq!(err.to_string(), "window.end: 2026-03-01T10:00:00Z must be after window.start 2026-03-01T10:00:00Z");
        assert!(Window::new(ts("2026-03-01T10:00:00Z"), ts("2026-03-01T09:00:00Z")).is_err());
        let w = window("2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z");
        assert_eq!((w.start(), w.end()), (ts("2026-03-01T10:00:00Z"), ts("2026-03-01T10:00:01Z")));
    }

    #[test]
    fn window_json_is_checked_when_read() {
        let w: Window =
            serde_json::from_str(r#"{"start":"2026-03-01T10:00:00Z","end":"2026-03-01T12:00:00Z"}"#).unwrap();
        assert_eq!(w, window("2026-03-01T10:00:00Z", "2026-03-01T12:00:00Z"));
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"start":"2026-03-01T10:00:00Z","end":"2026-03-01T12:00:00Z"}"#
        );
        let err = serde_json::from_str::<Window>(r#"{"start":"2026-03-01T10:00:00Z","end":"2026-03-01T09:00:00Z"}"#)
            .unwrap_err();
        assert!(err.to_string().starts_with("window.end:"), "{err}");
        assert!(serde_json::from_str::<Window>(r#"{"start":"2026-03-01T10:00:00Z"}"#).is_err());
    }

    #[test]
    fn maintenance_needs_a_window_and_incidents_do_not() {
        let w = window("2026-03-01T10:00:00Z", "2026-03-01T12:00:00Z");
        assert_eq!(check_window(NoticeKind::Maintenance, None), Err(NoticeError::WindowRequired));
        assert_eq!(
            NoticeError::WindowRequired.to_string(),
            "window: maintenance notices need a window (start and end)"
        );
        assert_eq!(check_window(NoticeKind::Maintenance, Some(w)), Ok(()));
        assert_eq!(check_window(NoticeKind::Incident, None), Ok(()));
        assert_eq!(check_window(NoticeKind::Incident, Some(w)), Ok(()));
    }

    #[test]
    fn clock_starts_and_completes_a_maintenance_at_its_window() {
        use NoticeState::*;
        let w = window("2026-03-01T01:00:00Z", "2026-03-01T05:00:00Z");
        let mut clock = TestClock::at("2026-02-28T23:00:00Z");
        let mut state = NoticeKind::Maintenance.initial_state();
        let auto = |state, now| automatic_transition(NoticeKind::Maintenance, state, Some(w), now);

        assert_eq!(auto(state, clock.now()), None);
        assert_eq!(auto(state, clock.advance(2 * HOUR - SignedDuration::from_secs(1))), None);
        assert_eq!(auto(state, clock.advance(SignedDuration::from_secs(1))), Some(InProgress), "at the start");
        state = InProgress;
        assert_eq!(auto(state, clock.advance(HOUR)), None);
        assert_eq!(auto(state, clock.advance(3 * HOUR)), Some(Completed), "at the end");
        state = Completed;
        assert_eq!(auto(state, clock.advance(DAY)), None);
    }

    #[test]
    fn scheduled_maintenance_whose_window_passed_completes_directly() {
        let w = window("2026-03-01T01:00:00Z", "2026-03-01T05:00:00Z");
        let late = ts("2026-03-01T09:00:00Z");
        let to = automatic_transition(NoticeKind::Maintenance, NoticeState::Scheduled, Some(w), late);
        assert_eq!(to, Some(NoticeState::Completed));
        assert_eq!(
            automatic_transition(NoticeKind::Maintenance, NoticeState::Scheduled, Some(w), w.end()),
            Some(NoticeState::Completed)
        );
    }

    #[test]
    fn clock_never_moves_incidents_cancelled_or_windowless_notices() {
        let w = window("2026-03-01T01:00:00Z", "2026-03-01T05:00:00Z");
        let late = ts("2026-03-02T00:00:00Z");
        for s in NoticeKind::Incident.states() {
            assert_eq!(automatic_transition(NoticeKind::Incident, *s, Some(w), late), None, "{s}");
        }
        assert_eq!(automatic_transition(NoticeKind::Maintenance, NoticeState::Cancelled, Some(w), late), None);
        assert_eq!(automatic_transition(NoticeKind::Maintenance, NoticeState::Scheduled, None, late), None);
        assert_eq!(automatic_transition(NoticeKind::Incident, NoticeState::Scheduled, Some(w), late), None);
    }

    #[test]
    fn incidents_are_visible_until_resolved() {
        let now = ts("2026-03-01T10:00:00Z");
        for s in NoticeKind::Incident.states() {
            let shown = is_visible(NoticeKind::Incident, *s, None, now, DAY);
            assert_eq!(shown, *s != NoticeState::Resolved, "{s}");
        }
    }

    #[test]
    fn maintenance_is_visible_from_the_lead_before_start_until_its_end() {
        use NoticeState::*;
        let w = window("2026-03-10T01:00:00Z", "2026-03-10T05:00:00Z");
        let lead = 3 * DAY;
        let mut clock = TestClock::at("2026-03-06T12:00:00Z");
        let shown = |state, now| is_visible(NoticeKind::Maintenance, state, Some(w), now, lead);

        assert!(!shown(Scheduled, clock.now()));
        assert!(!shown(Scheduled, clock.advance(SignedDuration::from_hours(13) - SignedDuration::from_secs(1))));
        assert!(shown(Scheduled, clock.advance(SignedDuration::from_secs(1))), "exactly the lead before start");
        assert!(shown(Scheduled, clock.advance(3 * DAY)), "at the start");
        assert!(shown(InProgress, clock.advance(HOUR)));
        assert!(!shown(InProgress, clock.advance(3 * HOUR)), "at the end");
        assert!(!shown(Completed, clock.now()));
        assert!(!shown(Cancelled, ts("2026-03-10T02:00:00Z")));
        assert!(!shown(Scheduled, w.end()), "its end has passed, whether or not the clock completed it");
    }

    #[test]
    fn maintenance_started_early_is_visible_at_once_and_windowless_is_not() {
        let w = window("2026-03-10T01:00:00Z", "2026-03-10T05:00:00Z");
        let early = ts("2026-03-01T00:00:00Z");
        assert!(is_visible(NoticeKind::Maintenance, NoticeState::InProgress, Some(w), early, HOUR));
        assert!(!is_visible(NoticeKind::Maintenance, NoticeState::Scheduled, Some(w), early, HOUR));
        assert!(!is_visible(NoticeKind::Maintenance, NoticeState::Scheduled, None, early, HOUR));
        assert!(!is_visible(NoticeKind::Incident, NoticeState::Scheduled, Some(w), w.start(), HOUR));
    }

    #[test]
    fn huge_lead_does_not_overflow() {
        let w = window("2026-03-10T01:00:00Z", "2026-03-10T05:00:00Z");
        let long_ago = ts("1900-01-01T00:00:00Z");
        assert!(is_visible(NoticeKind::Maintenance, NoticeState::Scheduled, Some(w), long_ago, SignedDuration::MAX));
        assert!(!is_visible(NoticeKind::Maintenance, NoticeState::Scheduled, Some(w), long_ago, SignedDuration::MIN));
    }

    fn arb_maintenance_state() -> impl Strategy<Value = NoticeState> {
        proptest::sample::select(NoticeKind::Maintenance.states())
    }

    proptest! {
        /// The clock only makes moves the lifecycle allows, and one move settles the state for that instant.
        #[test]
        fn automatic_transitions_are_allowed_and_settle_at_once(
            state in arb_maintenance_state(),
            start in 0i64..1_000_000,
            length in 1i64..100_000,
            at in -200_000i64..1_200_000,
        ) {
            let base = ts("2026-01-01T00:00:00Z");
            let secs = SignedDuration::from_secs;
            let w = Window::new(base + secs(start), base + secs(start + length)).unwrap();
            let now = base + secs(at);
            if let Some(to) = automatic_transition(NoticeKind::Maintenance, state, Some(w), now) {
                prop_assert_eq!(transition(NoticeKind::Maintenance, state, to), Ok(()));
                prop_assert_eq!(automatic_transition(NoticeKind::Maintenance, to, Some(w), now), None);
                prop_assert!(now >= w.start());
            }
        }

        /// After the clock has done its part, a maintenance is visible exactly while it is scheduled or
        /// in progress (with no lead: from its start) and before its end.
        #[test]
        fn after_the_clock_visibility_follows_the_state(
            state in arb_maintenance_state(),
            start in 0i64..1_000_000,
            length in 1i64..100_000,
            at in -200_000i64..1_200_000,
        ) {
            let base = ts("2026-01-01T00:00:00Z");
            let secs = SignedDuration::from_secs;
            let w = Window::new(base + secs(start), base + secs(start + length)).unwrap();
            let now = base + secs(at);
            let state = automatic_transition(NoticeKind::Maintenance, state, Some(w), now).unwrap_or(state);
            let shown = is_visible(NoticeKind::Maintenance, state, Some(w), now, SignedDuration::ZERO);
            prop_assert_eq!(shown, state == NoticeState::InProgress && now < w.end());
        }
    }
}
