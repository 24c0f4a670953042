//! Ticket storms: many tickets opened in a short time from one municipality or on one network
//! element hint at an incident; each storm is suggested with a pre-filled notice scope.
//!
//! A key (municipality or element) is a storm when at least [`StormRule::min_tickets`] distinct
//! tickets sharing it were opened in `[now - within, now]`. Element codes say nothing of their
//! hierarchy, but a ticket lists its line's elements with their ancestors, so an ancestor's tickets
//! include its descendants'. Among element storms:
//!
//! - an element whose tickets are a strict subset of another element storm's is dropped (the wider
//!   one, covering more tickets, is kept: several branches failing point above them);
//! - of elements with the very same tickets, one is kept: the one found on fewer tickets of the whole
//!   slice given (a descendant is never on more tickets than its ancestor, so when older tickets tell
//!   them apart the more specific one wins), else the smallest code.
//!
//! Municipality storms are never dropped for an element's, nor the other way round: a place and a
//! piece of equipment are different explanations, and both are offered.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};

use crate::scope::{Scope, ScopeTerm};

/// How many tickets make a storm unless configured otherwise.
pub const DEFAULT_MIN_TICKETS: usize = 5;
/// How recent tickets must be to count, unless configured otherwise.
pub const DEFAULT_WITHIN: SignedDuration = SignedDuration::from_mins(15);

/// A recent ticket, as far as storm detection cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StormTicket {
    /// The ticket's id.
    pub ticket_id: i64,
    /// When it was opened.
    pub opened: Timestamp,
    /// The municipality code of its line, if known.
    pub municipality: Option<String>,
    /// The codes of the elements its line depends on, ancestors included.
    pub elements: Vec<String>,
}

/// When tickets make a storm: at least `min_tickets` opened within `within` of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StormRule {
    /// How many distinct tickets share a key (0 behaves as 1).
    pub min_tickets: usize,
    /// How far back from now tickets count.
    pub within: SignedDuration,
}

impl Default for StormRule {
    fn default() -> StormRule {
        StormRule { min_tickets: DEFAULT_MIN_TICKETS, within: DEFAULT_WITHIN }
    }
}

/// What the tickets of a storm share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StormKey {
    /// A municipality code.
    Municipality(String),
    /// A network element code.
    Element(String),
}

/// A storm found, to be offered as a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StormSuggestion {
    /// What the tickets share.
    pub key: StormKey,
    /// The tickets, ids ascending.
    pub ticket_ids: Vec<i64>,
    /// When the earliest of them was opened.
    pub first: Timestamp,
    /// When the latest of them was opened.
    pub last: Timestamp,
}

impl StormSuggestion {
    /// The pre-filled scope of the notice: one term with the municipality or the network element.
    pub fn scope(&self) -> Scope {
        let term = match &self.key {
            StormKey::Municipality(code) => ScopeTerm { territory: Some(code.clone()), ..ScopeTerm::default() },
            StormKey::Element(code) => ScopeTerm { network_element: Some(code.clone()), ..ScopeTerm::default() },
        };
        Scope { terms: vec![term], lines: vec![] }
    }
}

struct Group {
    tickets: BTreeSet<i64>,
    first: Timestamp,
    last: Timestamp,
}

/// The storms among `tickets` at `now` under `rule`, most tickets first, then by key (municipalities
/// before elements, codes ascending); see the module's documentation for which element storms are
/// dropped in favour of others.
pub fn detect_storms(tickets: &[StormTicket], rule: StormRule, now: Timestamp) -> Vec<StormSuggestion> {
    let past = if rule.within.is_negative() { Timestamp::MAX } else { Timestamp::MIN };
    let since = now.checked_sub(rule.within).unwrap_or(past);
    // On how many tickets of the whole slice each element is found: tells ancestors from descendants.
    let mut found_on: HashMap<&str, usize> = HashMap::new();
    let mut groups: BTreeMap<StormKey, Group> = BTreeMap::new();
    for ticket in tickets {
        let elements: BTreeSet<&str> =
            ticket.elements.iter().map(String::as_str).filter(|e| !e.trim().is_empty()).collect();
        for e in &elements {
            *found_on.entry(e).or_default() += 1;
        }
        if ticket.opened < since || ticket.opened > now {
            continue;
        }
        let municipality = ticket.municipality.as_deref().filter(|m| !m.trim().is_empty());
        let keys = municipality
            .map(|m| StormKey::Municipality(m.to_owned()))
            .into_iter()
            .chain(elements.iter().map(|e| StormKey::Element((*e).to_owned())));
        for key in keys {
            let g = groups.entry(key).or_insert(Group {
                tickets: BTreeSet::new(),
                first: ticket.opened,
                last: ticket.opened,
            });
            g.tickets.insert(ticket.ticket_id);
            g.first = g.first.min(ticket.opened);
            g.last = g.last.max(ticket.opened);
        }
    }
    let storms: Vec<(StormKey, Group)> =
        groups.into_iter().filter(|(_, g)| g.tickets.len() >= rule.min_tickets.max(1)).collect();
    let rank = |key: &StormKey| match key {
        StormKey::Element(code) => found_on.get(code.as_str()).copied().unwrap_or(0),
        StormKey::Municipality(_) => 0,
    };
    // Whether element storm `a` gives way to element storm `b`.
    let yields = |(a, ga): &(StormKey, Group), (b, gb): &(StormKey, Group)| {
        matches!((a, b), (StormKey::Element(_), StormKey::Element(_)))
            && a != b
            && ga.tickets.is_subset(&gb.tickets)
            && (ga.tickets.len() < gb.tickets.len() || (rank(b), b) < (rank(a), a))
    };
    let mut out: Vec<StormSuggestion> = storms
        .iter()
        .filter(|s| !storms.iter().any(|other| yields(s, other)))
        .map(|(key, g)| StormSuggestion {
            key: key.clone(),
            ticket_ids: g.tickets.iter().copied().collect(),
            first: g.first,
            last: g.last,
        })
        .collect();
    out.sort_by(|a, b| (Reverse(a.ticket_ids.len()), &a.key).cmp(&(Reverse(b.ticket_ids.len()), &b.key)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: &str = "2026-03-01T10:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    /// A ticket opened `mins_ago` minutes before [`NOW`].
    fn ticket(id: i64, mins_ago: i64, municipality: Option<&str>, elements: &[&str]) -> StormTicket {
        StormTicket {
            ticket_id: id,
            opened: now() - SignedDuration::from_mins(mins_ago),
            municipality: municipality.map(Into::into),
            elements: elements.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn keys(storms: &[StormSuggestion]) -> Vec<(String, usize)> {
        storms
            .iter()
            .map(|s| {
                let name = match &s.key {
                    StormKey::Municipality(c) => format!("m:{c}"),
                    StormKey::Element(c) => format!("e:{c}"),
                };
                (name, s.ticket_ids.len())
            })
            .collect()
    }

    fn element(code: &str) -> StormKey {
        StormKey::Element(code.into())
    }

    #[test]
    fn defaults_are_five_tickets_in_fifteen_minutes() {
        assert_eq!(StormRule::default(), StormRule { min_tickets: 5, within: SignedDuration::from_mins(15) });
    }

    #[test]
    fn five_tickets_in_fifteen_minutes_make_a_storm() {
        let tickets: Vec<_> = (1..=5).map(|i| ticket(i, i * 3 - 1, Some("015146"), &[])).collect();
        let storms = detect_storms(&tickets, StormRule::default(), now());
        assert_eq!(
            storms,
            vec![StormSuggestion {
                key: StormKey::Municipality("015146".into()),
                ticket_ids: vec![1, 2, 3, 4, 5],
                first: now() - SignedDuration::from_mins(14),
                last: now() - SignedDuration::from_mins(2),
            }]
        );
    }

    #[test]
    fn four_tickets_do_not() {
        let tickets: Vec<_> = (1..=4).map(|i| ticket(i, i, Some("015146"), &["OLT1"])).collect();
        assert_eq!(detect_storms(&tickets, StormRule::default(), now()), vec![]);
        let three = StormRule { min_tickets: 3, ..StormRule::default() };
        assert_eq!(keys(&detect_storms(&tickets, three, now())), vec![("m:015146".into(), 4), ("e:OLT1".into(), 4)]);
    }

    #[test]
    fn tickets_older_than_the_window_or_from_the_future_do_not_count() {
        let mut tickets: Vec<_> = (1..=4).map(|i| ticket(i, i, Some("015146"), &[])).collect();
        tickets.push(ticket(5, 16, Some("015146"), &[]));
        tickets.push(ticket(6, -1, Some("015146"), &[]));
        assert_eq!(detect_storms(&tickets, StormRule::default(), now()), vec![]);
        tickets.push(ticket(7, 15, Some("015146"), &[]));
        let storms = detect_storms(&tickets, StormRule::default(), now());
        assert_eq!(storms[0].ticket_ids, vec![1, 2, 3, 4, 7], "opened exactly `within` ago counts");
        let later = detect_storms(&tickets, StormRule::default(), now() + SignedDuration::from_mins(1));
        assert_eq!(later[0].ticket_ids, vec![1, 2, 3, 4, 6], "a minute later 7 is too old and 6 has been opened");
    }

    #[test]
    fn a_ticket_counts_once_per_key() {
        let mut tickets: Vec<_> = (1..=4).map(|i| ticket(i, i, None, &["OLT1", "OLT1"])).collect();
        tickets.push(ticket(4, 5, None, &["OLT1"]));
        assert_eq!(detect_storms(&tickets, StormRule::default(), now()), vec![]);
    }

    #[test]
    fn blank_codes_are_not_keys() {
        let tickets: Vec<_> = (1..=5).map(|i| ticket(i, i, Some(" "), &["", "OLT1"])).collect();
        assert_eq!(keys(&detect_storms(&tickets, StormRule::default(), now())), vec![("e:OLT1".into(), 5)]);
    }

    #[test]
    fn an_element_whose_tickets_are_a_strict_subset_of_another_gives_way() {
        // Five tickets under OLT1 and two under OLT2, all behind the same PoP.
        let mut tickets: Vec<_> = (1..=5).map(|i| ticket(i, i, None, &["PON1", "OLT1", "POP"])).collect();
        tickets.extend((6..=7).map(|i| ticket(i, i, None, &["OLT2", "POP"])));
        let storms = detect_storms(&tickets, StormRule::default(), now());
        assert_eq!(keys(&storms), vec![("e:POP".into(), 7)]);
    }

    #[test]
    fn of_elements_with_the_same_tickets_the_one_on_fewer_tickets_overall_is_kept() {
        let mut tickets: Vec<_> = (1..=5).map(|i| ticket(i, i, None, &["POP", "OLT1", "PON1"])).collect();
        // Alone, nothing tells them apart: the smallest code is kept.
        assert_eq!(keys(&detect_storms(&tickets, StormRule::default(), now())), vec![("e:OLT1".into(), 5)]);
        // Older tickets show that OLT1 and POP serve more than PON1, and POP more than OLT1.
        tickets.push(ticket(8, 60, None, &["PON2", "OLT1", "POP"]));
        tickets.push(ticket(9, 90, None, &["OLT3", "POP"]));
        assert_eq!(keys(&detect_storms(&tickets, StormRule::default(), now())), vec![("e:PON1".into(), 5)]);
    }

    #[test]
    fn municipality_and_element_storms_are_both_offered() {
        let mut tickets: Vec<_> = (1..=5).map(|i| ticket(i, i, Some("015146"), &["OLT1"])).collect();
        tickets.push(ticket(6, 6, Some("015146"), &["OLT2"]));
        let storms = detect_storms(&tickets, StormRule::default(), now());
        assert_eq!(keys(&storms), vec![("m:015146".into(), 6), ("e:OLT1".into(), 5)]);
    }

    #[test]
    fn storms_are_ordered_by_ticket_count_then_key() {
        let mut tickets: Vec<_> = (1..=5).map(|i| ticket(i, i, Some("B"), &["X"])).collect();
        tickets.extend((6..=10).map(|i| ticket(i, i, Some("A"), &["Y"])));
        tickets.extend((11..=16).map(|i| ticket(i, 1, Some("C"), &["Z"])));
        let storms = detect_storms(&tickets, StormRule::default(), now());
        assert_eq!(
            keys(&storms),
            vec![
                ("m:C".into(), 6),
                ("e:Z".into(), 6),
                ("m:A".into(), 5),
                ("m:B".into(), 5),
                ("e:X".into(), 5),
                ("e:Y".into(), 5),
            ]
        );
    }

    #[test]
    fn suggestion_prefills_a_scope_with_its_key() {
        let s = |key| StormSuggestion { key, ticket_ids: vec![1], first: now(), last: now() };
        let by_place = s(StormKey::Municipality("015146".into())).scope();
        assert_eq!(by_place.terms, vec![ScopeTerm { territory: Some("015146".into()), ..ScopeTerm::default() }]);
        assert!(by_place.lines.is_empty());
        assert_eq!(by_place.validate(), Ok(()));
        let by_element = s(element("MI-OLT-07")).scope();
        assert_eq!(
            by_element.terms,
            vec![ScopeTerm { network_element: Some("MI-OLT-07".into()), ..Default::default() }]
        );
    }

    fn arb_ticket() -> impl Strategy<Value = StormTicket> {
        (
            0i64..40,
            -2i64..30,
            proptest::option::of(proptest::sample::select(vec!["A", "B"])),
            proptest::sample::subsequence(vec!["P", "O1", "O2", "N1", "N2", "N3"], 0..=3),
        )
            .prop_map(|(id, ago, m, e)| ticket(id, ago, m, &e))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Every suggestion is a real storm of the window; no element suggestion's tickets are within
        /// another's; and every storm left out is an element whose tickets a kept element covers.
        #[test]
        fn suggestions_are_the_storms_minus_covered_elements(
            tickets in proptest::collection::vec(arb_ticket(), 0..30),
            min in 1usize..6,
        ) {
            let rule = StormRule { min_tickets: min, within: DEFAULT_WITHIN };
            let storms = detect_storms(&tickets, rule, now());
            let in_window: Vec<&StormTicket> =
                tickets.iter().filter(|t| t.opened <= now() && t.opened >= now() - DEFAULT_WITHIN).collect();
            let shares = |t: &StormTicket, key: &StormKey| match key {
                StormKey::Municipality(c) => t.municipality.as_ref() == Some(c),
                StormKey::Element(c) => t.elements.contains(c),
            };
            let sharing = |key: &StormKey| -> BTreeSet<i64> {
                in_window.iter().filter(|t| shares(t, key)).map(|t| t.ticket_id).collect()
            };
            for s in &storms {
                let expected: Vec<i64> = sharing(&s.key).into_iter().collect();
                prop_assert_eq!(&s.ticket_ids, &expected);
                prop_assert!(s.ticket_ids.len() >= min);
                prop_assert!(s.first <= s.last);
            }
            let kept_elements: Vec<BTreeSet<i64>> = storms
                .iter()
                .filter(|s| matches!(s.key, StormKey::Element(_)))
                .map(|s| s.ticket_ids.iter().copied().collect())
                .collect();
            for (i, a) in kept_elements.iter().enumerate() {
                for (j, b) in kept_elements.iter().enumerate() {
                    prop_assert!(i == j || !a.is_subset(b));
                }
            }
            let candidates = in_window.iter().flat_map(|t| {
                let place = t.municipality.iter().map(|m| StormKey::Municipality(m.clone()));
                place.chain(t.elements.iter().map(|e| element(e)))
            });
            for key in candidates {
                let set = sharing(&key);
                if set.len() >= min && !storms.iter().any(|s| s.key == key) {
                    prop_assert!(matches!(key, StormKey::Element(_)));
                    prop_assert!(kept_elements.iter().any(|k| set.is_subset(k)));
                }
            }
            for pair in storms.windows(2) {
                prop_assert!(pair[0].ticket_ids.len() >= pair[1].ticket_ids.len());
            }
        }
    }
}
