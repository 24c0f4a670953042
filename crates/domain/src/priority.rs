//! The computed priority of a ticket (0–100): what is hit, how badly, for whom, and how close
//! its SLA is to a breach. Queue views order by it unless an agent set a priority by hand.

use crate::{Category, Severity};

/// How close a ticket's SLA promise is to a breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Urgency {
    /// No clock, or plenty of time left.
    #[default]
    Calm,
    /// The warning share of the target is consumed.
    Warned,
    /// The target is consumed.
    Breached,
}

/// What the computed priority depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factors {
    /// The customer is a VIP.
    pub vip: bool,
    /// How badly the service is hit.
    pub severity: Severity,
    /// What kind of request it is.
    pub category: Category,
    /// How many lines or SIMs the ticket concerns (at least 1).
    pub impact: i64,
    /// How close the SLA is to a breach.
    pub urgency: Urgency,
}

/// Points per factor, documented in docs/architecture.md:
/// severity blocking 40 / non-blocking 20; category faults +15 / +10, service and change
/// requests and orders +5; VIP +15; impact 2–9 lines +5, 10–99 +10, 100–999 +15, 1,000 or more
/// +20; SLA warned +10, breached +20. Capped at 100.
pub fn score(f: Factors) -> i64 {
    let severity = match f.severity {
        Severity::Blocking => 40,
        Severity::NonBlocking => 20,
    };
    let category = match f.category {
        Category::BlockingFault => 15,
        Category::NonBlockingFault => 10,
        Category::ServiceRequest | Category::ChangeRequest | Category::Order => 5,
        Category::InformationRequest | Category::FeatureRequest | Category::Administrative => 0,
    };
    let vip = if f.vip { 15 } else { 0 };
    let impact = match f.impact {
        i64::MIN..=1 => 0,
        2..=9 => 5,
        10..=99 => 10,
        100..=999 => 15,
        _ => 20,
    };
    let urgency = match f.urgency {
        Urgency::Calm => 0,
        Urgency::Warned => 10,
        Urgency::Breached => 20,
    };
    (severity + category + vip + impact + urgency).min(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Factors {
        Factors {
            vip: false,
            severity: Severity::NonBlocking,
            category: Category::InformationRequest,
            impact: 1,
            urgency: Urgency::Calm,
        }
    }

    #[test]
    fn a_vip_blocking_fault_on_many_lines_near_breach_comes_first() {
        assert_eq!(score(base()), 20);
        let worst = Factors {
            vip: true,
            severity: Severity::Blocking,
            category: Category::BlockingFault,
            impact: 5000,
            urgency: Urgency::Breached,
        };
        assert_eq!(score(worst), 100);
        let f = Factors { severity: Severity::Blocking, category: Category::BlockingFault, ..base() };
        assert_eq!(score(f), 55);
        assert_eq!(score(Factors { impact: 40, ..f }), 65);
        assert_eq!(score(Factors { urgency: Urgency::Warned, ..f }), 65);
    }

    #[test]
    fn every_factor_only_raises_the_score() {
        let f = base();
        for g in [
            Factors { vip: true, ..f },
            Factors { severity: Severity::Blocking, ..f },
            Factors { impact: 2, ..f },
            Factors { urgency: Urgency::Warned, ..f },
            Factors { category: Category::NonBlockingFault, ..f },
        ] {
            assert!(score(g) > score(f), "{g:?}");
        }
    }
}
