//! The scope of a notice: which lines an incident or a maintenance concerns.
//!
//! A scope is a union of terms plus explicit line identifiers. A term gives any of a territory code
//! (of any level, covering everything below it), a network element code (covering the elements that
//! depend on it) and a service code; all the parts a term gives must match a line (AND), and a line
//! is covered when any term matches it or it is listed (OR):
//!
//! ```json
//! {"terms": [{"territory": "015", "service": "FTTH"}, {"network_element": "MI-OLT-07"}], "lines": ["L1"]}
//! ```
//!
//! Codes are compared exactly (no case folding); [`Scope::normalized`] trims them, and is what should
//! be stored. [`ScopeIndex`] matches a line against many scopes without looking at each of them.

use std::collections::{BTreeSet, HashMap, HashSet};

/// At most this many terms in a scope.
pub const MAX_TERMS: usize = 1_000;
/// At most this many explicit lines in a scope.
pub const MAX_LINES: usize = 100_000;
/// At most this many characters in a code or line identifier.
pub const MAX_CODE_CHARS: usize = 100;

/// One term of a scope: the lines matching every part it gives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScopeTerm {
    /// A territory code of any level (region `03`, province `015`, municipality `015146`): lines in it or below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territory: Option<String>,
    /// A network element code (`MI-OLT-07`): lines depending on it, directly or through a descendant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_element: Option<String>,
    /// A service type code (`FTTH`): lines of that service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Which lines a notice concerns: those matched by any term, and those listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Terms, OR'ed.
    #[serde(default)]
    pub terms: Vec<ScopeTerm>,
    /// Line identifiers covered whatever the terms say.
    #[serde(default)]
    pub lines: Vec<String>,
}

/// Why a scope is refused; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Neither terms nor lines.
    #[error("scope: give at least one term or line")]
    Empty,
    /// More than [`MAX_TERMS`] terms.
    #[error("terms: at most {MAX_TERMS} terms, got {0}")]
    TooManyTerms(usize),
    /// More than [`MAX_LINES`] lines.
    #[error("lines: at most {MAX_LINES} lines, got {0}")]
    TooManyLines(usize),
    /// A term that gives no part (it would cover nothing).
    #[error("terms[{0}]: give a territory, a network_element or a service")]
    EmptyTerm(usize),
    /// A code or line identifier that is blank.
    #[error("{0}: must not be blank")]
    Blank(String),
    /// A code or line identifier longer than [`MAX_CODE_CHARS`].
    #[error("{0}: at most {MAX_CODE_CHARS} characters")]
    TooLong(String),
    /// A code or line identifier with control characters.
    #[error("{0}: must not contain control characters")]
    Control(String),
}

/// What is known of a line when matching it against scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFacts<'a> {
    /// The line's identifier.
    pub identifier: &'a str,
    /// The line's service type code.
    pub service: &'a str,
    /// The line's municipality and all its ancestors' codes.
    pub territories: &'a [&'a str],
    /// Every network element the line depends on, and their ancestors.
    pub elements: &'a [&'a str],
}

/// The codes a scope mentions, by kind, so that unknown ones can be reported all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeCodes<'a> {
    /// Territory codes.
    pub territories: BTreeSet<&'a str>,
    /// Network element codes.
    pub elements: BTreeSet<&'a str>,
    /// Service codes.
    pub services: BTreeSet<&'a str>,
    /// Line identifiers.
    pub lines: BTreeSet<&'a str>,
}

impl ScopeTerm {
    /// Whether the term gives no part at all.
    pub fn is_empty(&self) -> bool {
        self.territory.is_none() && self.network_element.is_none() && self.service.is_none()
    }

    /// Whether every part the term gives matches the line; an empty term covers nothing.
    pub fn covers(&self, line: &LineFacts<'_>) -> bool {
        !self.is_empty()
            && self.territory.as_deref().is_none_or(|t| line.territories.contains(&t))
            && self.network_element.as_deref().is_none_or(|e| line.elements.contains(&e))
            && self.service.as_deref().is_none_or(|s| line.service == s)
    }

    fn parts(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("territory", self.territory.as_deref()),
            ("network_element", self.network_element.as_deref()),
            ("service", self.service.as_deref()),
        ]
    }

    fn trimmed(&self) -> ScopeTerm {
        let trim = |p: &Option<String>| p.as_deref().map(|c| c.trim().to_owned());
        ScopeTerm {
            territory: trim(&self.territory),
            network_element: trim(&self.network_element),
            service: trim(&self.service),
        }
    }
}

fn check_code(value: &str, field: impl Fn() -> String) -> Result<(), ScopeError> {
    let v = value.trim();
    if v.is_empty() {
        Err(ScopeError::Blank(field()))
    } else if v.chars().count() > MAX_CODE_CHARS {
        Err(ScopeError::TooLong(field()))
    } else if v.chars().any(char::is_control) {
        Err(ScopeError::Control(field()))
    } else {
        Ok(())
    }
}

impl Scope {
    /// Checks limits, that the scope is not empty, that every term gives a part, and that codes
    /// (once trimmed) are not blank, not too long and free of control characters.
    pub fn validate(&self) -> Result<(), ScopeError> {
        if self.terms.len() > MAX_TERMS {
            return Err(ScopeError::TooManyTerms(self.terms.len()));
        }
        if self.lines.len() > MAX_LINES {
            return Err(ScopeError::TooManyLines(self.lines.len()));
        }
        if self.terms.is_empty() && self.lines.is_empty() {
            return Err(ScopeError::Empty);
        }
        for (i, term) in self.terms.iter().enumerate() {
            if term.is_empty() {
                return Err(ScopeError::EmptyTerm(i));
            }
            for (name, part) in term.parts() {
                if let Some(code) = part {
                    check_code(code, || format!("terms[{i}].{name}"))?;
                }
            }
        }
        for (i, line) in self.lines.iter().enumerate() {
            check_code(line, || format!("lines[{i}]"))?;
        }
        Ok(())
    }

    /// The scope to store: validated, codes trimmed, repeated terms and lines dropped (first kept).
    pub fn normalized(&self) -> Result<Scope, ScopeError> {
        self.validate()?;
        let mut seen_terms = HashSet::new();
        let mut seen_lines = HashSet::new();
        Ok(Scope {
            terms: self.terms.iter().map(ScopeTerm::trimmed).filter(|t| seen_terms.insert(t.clone())).collect(),
            lines: self.lines.iter().map(|l| l.trim()).filter(|l| seen_lines.insert(*l)).map(str::to_owned).collect(),
        })
    }

    /// The codes the scope mentions, by kind, as written.
    pub fn codes(&self) -> ScopeCodes<'_> {
        let mut codes = ScopeCodes::default();
        for term in &self.terms {
            codes.territories.extend(term.territory.as_deref());
            codes.elements.extend(term.network_element.as_deref());
            codes.services.extend(term.service.as_deref());
        }
        codes.lines.extend(self.lines.iter().map(String::as_str));
        codes
    }

    /// Whether the line is listed or matched by some term.
    pub fn covers(&self, line: &LineFacts<'_>) -> bool {
        self.lines.iter().any(|l| l == line.identifier) || self.terms.iter().any(|t| t.covers(line))
    }
}

/// Many notices' scopes compiled for matching lines against all of them at once.
///
/// Each term is filed under one of its parts, the most selective it gives (territory, then network
/// element, then service); explicit lines under their identifier. A line looks up only its own
/// identifier, territories, elements and service, and the terms found there are checked in full.
/// This finds every covering term: a term covers a line only if the part it is filed under matches.
#[derive(Debug, Clone, Default)]
pub struct ScopeIndex {
    terms: Vec<(i64, ScopeTerm)>,
    by_line: HashMap<String, Vec<i64>>,
    by_territory: HashMap<String, Vec<usize>>,
    by_element: HashMap<String, Vec<usize>>,
    by_service: HashMap<String, Vec<usize>>,
}

impl ScopeIndex {
    /// Compiles `(notice id, scope)` pairs; empty terms are left out, since they cover nothing.
    pub fn new<'a>(scopes: impl IntoIterator<Item = (i64, &'a Scope)>) -> ScopeIndex {
        let mut index = ScopeIndex::default();
        for (notice, scope) in scopes {
            for line in &scope.lines {
                let ids = index.by_line.entry(line.clone()).or_default();
                if ids.last() != Some(&notice) {
                    ids.push(notice);
                }
            }
            for term in &scope.terms {
                let (bucket, key) = match (&term.territory, &term.network_element, &term.service) {
                    (Some(t), _, _) => (&mut index.by_territory, t),
                    (None, Some(e), _) => (&mut index.by_element, e),
                    (None, None, Some(s)) => (&mut index.by_service, s),
                    (None, None, None) => continue,
                };
                bucket.entry(key.clone()).or_default().push(index.terms.len());
                index.terms.push((notice, term.clone()));
            }
        }
        index
    }

    /// The notices whose scope covers the line: ids sorted, each once.
    pub fn matching(&self, line: &LineFacts<'_>) -> Vec<i64> {
        let mut ids: Vec<i64> = self.by_line.get(line.identifier).cloned().unwrap_or_default();
        let candidates = line
            .territories
            .iter()
            .filter_map(|t| self.by_territory.get(*t))
            .chain(line.elements.iter().filter_map(|e| self.by_element.get(*e)))
            .chain(self.by_service.get(line.service))
            .flatten();
        for &i in candidates {
            if let Some((notice, term)) = self.terms.get(i)
                && term.covers(line)
            {
                ids.push(*notice);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn term(territory: Option<&str>, element: Option<&str>, service: Option<&str>) -> ScopeTerm {
        ScopeTerm {
            territory: territory.map(Into::into),
            network_element: element.map(Into::into),
            service: service.map(Into::into),
        }
    }

    const MILANO_FTTH: LineFacts<'static> = LineFacts {
        identifier: "L1",
        service: "FTTH",
        territories: &["015146", "015", "03", "IT"],
        elements: &["MI-PON-3", "MI-OLT-07", "MI-POP"],
    };

    const ROMA_FWA: LineFacts<'static> = LineFacts {
        identifier: "L2",
        service: "FWA",
        territories: &["058091", "058", "12", "IT"],
        elements: &["RM-BTS-1", "RM-POP"],
    };

    fn example() -> Scope {
        Scope {
            terms: vec![term(Some("015"), None, Some("FTTH")), term(None, Some("MI-OLT-07"), None)],
            lines: vec!["L1".into()],
        }
    }

    #[test]
    fn example_json_reads_and_writes_back_without_absent_parts() {
        let json = r#"{"terms": [{"territory": "015", "service": "FTTH"}, {"network_element": "MI-OLT-07"}], "lines": ["L1"]}"#;
        let scope: Scope = serde_json::from_str(json).unwrap();
        assert_eq!(scope, example());
        assert_eq!(
            serde_json::to_string(&scope).unwrap(),
            r#"{"terms":[{"territory":"015","service":"FTTH"},{"network_element":"MI-OLT-07"}],"lines":["L1"]}"#
        );
    }

    #[test]
    fn json_missing_parts_default_and_unknown_fields_are_refused() {
        let scope: Scope = serde_json::from_str(r#"{"lines": ["L9"]}"#).unwrap();
        assert_eq!(scope, Scope { terms: vec![], lines: vec!["L9".into()] });
        let scope: Scope = serde_json::from_str(r#"{"terms": [{"service": "FWA", "territory": null}]}"#).unwrap();
        assert_eq!(scope.terms, vec![term(None, None, Some("FWA"))]);
        let err = serde_json::from_str::<Scope>(r#"{"terms": [{"region": "03"}]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `region`"), "{err}");
        assert!(serde_json::from_str::<Scope>(r#"{"lines": [], "customers": []}"#).is_err());
    }

    #[test]
    fn empty_scope_is_refused() {
        assert_eq!(Scope::default().validate(), Err(ScopeError::Empty));
        assert_eq!(ScopeError::Empty.to_string(), "scope: give at least one term or line");
        assert_eq!(Scope { terms: vec![], lines: vec!["L1".into()] }.validate(), Ok(()));
        assert_eq!(example().validate(), Ok(()));
    }

    #[test]
    fn term_without_parts_is_refused_naming_its_index() {
        let scope = Scope { terms: vec![term(Some("03"), None, None), ScopeTerm::default()], lines: vec![] };
        assert_eq!(scope.validate(), Err(ScopeError::EmptyTerm(1)));
        assert_eq!(
            scope.validate().unwrap_err().to_string(),
            "terms[1]: give a territory, a network_element or a service"
        );
    }

    #[test]
    fn blank_long_and_control_codes_are_refused_naming_the_field() {
        let one = |t: ScopeTerm| Scope { terms: vec![term(Some("03"), None, None), t], lines: vec![] }.validate();
        assert_eq!(one(term(Some("  "), None, None)).unwrap_err().to_string(), "terms[1].territory: must not be blank");
        assert_eq!(one(term(None, Some(""), None)), Err(ScopeError::Blank("terms[1].network_element".into())));
        assert_eq!(one(term(None, None, Some("\t"))), Err(ScopeError::Blank("terms[1].service".into())));
        let long = "x".repeat(MAX_CODE_CHARS + 1);
        assert_eq!(
            one(term(None, None, Some(&long))).unwrap_err().to_string(),
            "terms[1].service: at most 100 characters"
        );
        assert_eq!(one(term(Some(&"é".repeat(MAX_CODE_CHARS)), None, None)), Ok(()));
        assert_eq!(one(term(Some("0\u{0}3"), None, None)), Err(ScopeError::Control("terms[1].territory".into())));
        let lines = Scope { terms: vec![], lines: vec!["L1".into(), " ".into()] };
        assert_eq!(lines.validate().unwrap_err().to_string(), "lines[1]: must not be blank");
    }

    #[test]
    fn limits_are_refused_with_the_count() {
        let terms = Scope { terms: vec![term(Some("03"), None, None); MAX_TERMS + 1], lines: vec![] };
        assert_eq!(terms.validate().unwrap_err().to_string(), "terms: at most 1000 terms, got 1001");
        let lines = Scope { terms: vec![], lines: vec!["L".into(); MAX_LINES + 1] };
        assert_eq!(lines.validate().unwrap_err().to_string(), "lines: at most 100000 lines, got 100001");
        let at_limit =
            Scope { terms: vec![term(Some("03"), None, None); MAX_TERMS], lines: vec!["L".into(); MAX_LINES] };
        assert_eq!(at_limit.validate(), Ok(()));
    }

    #[test]
    fn normalized_trims_and_drops_repeats() {
        let scope = Scope {
            terms: vec![
                term(Some(" 015 "), None, Some("FTTH ")),
                term(Some("015"), None, Some("FTTH")),
                term(None, Some("X"), None),
            ],
            lines: vec![" L1".into(), "L2".into(), "L1 ".into()],
        };
        let n = scope.normalized().unwrap();
        assert_eq!(n.terms, vec![term(Some("015"), None, Some("FTTH")), term(None, Some("X"), None)]);
        assert_eq!(n.lines, vec!["L1".to_string(), "L2".to_string()]);
        assert_eq!(n.normalized().unwrap(), n);
        assert_eq!(Scope::default().normalized(), Err(ScopeError::Empty));
    }

    #[test]
    fn codes_lists_each_kind_once() {
        let mut scope = example();
        scope.terms.push(term(Some("015"), Some("MI-POP"), Some("FTTC")));
        scope.lines.push("L0".into());
        let codes = scope.codes();
        assert_eq!(codes.territories.into_iter().collect::<Vec<_>>(), vec!["015"]);
        assert_eq!(codes.elements.into_iter().collect::<Vec<_>>(), vec!["MI-OLT-07", "MI-POP"]);
        assert_eq!(codes.services.into_iter().collect::<Vec<_>>(), vec!["FTTC", "FTTH"]);
        assert_eq!(codes.lines.into_iter().collect::<Vec<_>>(), vec!["L0", "L1"]);
    }

    #[test]
    fn term_parts_are_anded() {
        assert!(term(Some("015"), None, Some("FTTH")).covers(&MILANO_FTTH));
        assert!(!term(Some("015"), None, Some("FWA")).covers(&MILANO_FTTH));
        assert!(!term(Some("058"), None, Some("FTTH")).covers(&MILANO_FTTH));
        assert!(term(Some("03"), Some("MI-POP"), None).covers(&MILANO_FTTH));
        assert!(!term(Some("03"), Some("RM-POP"), None).covers(&MILANO_FTTH));
        assert!(term(Some("IT"), None, None).covers(&ROMA_FWA));
        assert!(!ScopeTerm::default().covers(&MILANO_FTTH), "an empty term covers nothing");
    }

    #[test]
    fn codes_are_compared_exactly() {
        assert!(!term(None, None, Some("ftth")).covers(&MILANO_FTTH));
        assert!(!term(Some(" 015"), None, None).covers(&MILANO_FTTH));
        assert!(!term(Some("01"), None, None).covers(&MILANO_FTTH), "no prefix matching");
    }

    #[test]
    fn scope_covers_by_any_term_or_listed_line() {
        let scope = example();
        assert!(scope.covers(&MILANO_FTTH));
        assert!(!scope.covers(&ROMA_FWA));
        let listed = Scope { terms: vec![], lines: vec!["L2".into()] };
        assert!(listed.covers(&ROMA_FWA));
        assert!(!listed.covers(&MILANO_FTTH));
        let elsewhere = LineFacts { identifier: "L7", service: "FTTC", ..MILANO_FTTH };
        assert!(scope.covers(&elsewhere), "through the OLT term");
    }

    #[test]
    fn index_finds_terms_filed_under_each_kind_of_key_and_listed_lines() {
        let scopes = [
            (10, Scope { terms: vec![term(Some("03"), Some("MI-OLT-07"), Some("FTTH"))], lines: vec![] }),
            (11, Scope { terms: vec![term(None, Some("MI-POP"), Some("FTTC"))], lines: vec![] }),
            (12, Scope { terms: vec![term(None, None, Some("FWA"))], lines: vec![] }),
            (13, Scope { terms: vec![], lines: vec!["L1".into(), "L1".into()] }),
            (14, Scope { terms: vec![ScopeTerm::default()], lines: vec![] }),
            (9, example()),
        ];
        let index = ScopeIndex::new(scopes.iter().map(|(id, s)| (*id, s)));
        assert_eq!(index.matching(&MILANO_FTTH), vec![9, 10, 13]);
        assert_eq!(index.matching(&ROMA_FWA), vec![12]);
        assert_eq!(index.matching(&LineFacts { identifier: "L5", service: "FTTC", ..MILANO_FTTH }), vec![9, 11]);
        assert_eq!(ScopeIndex::default().matching(&MILANO_FTTH), Vec::<i64>::new());
    }

    const TERRITORIES: [&str; 6] = ["IT", "03", "015", "015146", "016", "016001"];
    const ELEMENTS: [&str; 5] = ["POP", "OLT1", "OLT2", "PON1", "PON2"];
    const SERVICES: [&str; 3] = ["FTTH", "FTTC", "FWA"];
    const LINES: [&str; 4] = ["L1", "L2", "L3", "L4"];

    fn arb_term() -> impl Strategy<Value = ScopeTerm> {
        (
            proptest::option::of(proptest::sample::select(&TERRITORIES[..])),
            proptest::option::of(proptest::sample::select(&ELEMENTS[..])),
            proptest::option::of(proptest::sample::select(&SERVICES[..])),
        )
            .prop_map(|(t, e, s)| term(t, e, s))
    }

    fn arb_scope() -> impl Strategy<Value = Scope> {
        (
            proptest::collection::vec(arb_term(), 0..4),
            proptest::collection::vec(proptest::sample::select(&LINES[..]), 0..3),
        )
            .prop_map(|(terms, lines)| Scope { terms, lines: lines.into_iter().map(Into::into).collect() })
    }

    /// A line's facts as owned parts; [`Line::facts`] borrows them.
    #[derive(Debug, Clone)]
    struct Line {
        identifier: &'static str,
        service: &'static str,
        territories: Vec<&'static str>,
        elements: Vec<&'static str>,
    }

    impl Line {
        fn facts(&self) -> LineFacts<'_> {
            LineFacts {
                identifier: self.identifier,
                service: self.service,
                territories: &self.territories,
                elements: &self.elements,
            }
        }
    }

    fn arb_line() -> impl Strategy<Value = Line> {
        (
            proptest::sample::select(&LINES[..]),
            proptest::sample::select(&SERVICES[..]),
            proptest::sample::subsequence(&TERRITORIES[..], 0..=TERRITORIES.len()),
            proptest::sample::subsequence(&ELEMENTS[..], 0..=ELEMENTS.len()),
        )
            .prop_map(|(identifier, service, territories, elements)| Line {
                identifier,
                service,
                territories,
                elements,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn union_covers_iff_some_term_covers_or_line_is_listed(scope in arb_scope(), line in arb_line()) {
            let f = line.facts();
            let expected = scope.terms.iter().any(|t| t.covers(&f)) || scope.lines.iter().any(|l| l == line.identifier);
            prop_assert_eq!(scope.covers(&f), expected);
        }

        #[test]
        fn adding_a_term_never_shrinks_coverage(scope in arb_scope(), extra in arb_term(), line in arb_line()) {
            let mut wider = scope.clone();
            wider.terms.push(extra);
            prop_assert!(!scope.covers(&line.facts()) || wider.covers(&line.facts()));
        }

        #[test]
        fn territory_only_term_covers_exactly_lines_under_that_territory(
            code in proptest::sample::select(&TERRITORIES[..]),
            line in arb_line(),
        ) {
            prop_assert_eq!(term(Some(code), None, None).covers(&line.facts()), line.territories.contains(&code));
        }

        /// A service added to a term without one keeps exactly the lines of that service it covered
        /// (a term that was empty covers all the lines of the service).
        #[test]
        fn service_filter_narrows_a_term(
            base in arb_term(),
            service in proptest::sample::select(&SERVICES[..]),
            line in arb_line(),
        ) {
            let base = ScopeTerm { service: None, ..base };
            let narrowed = ScopeTerm { service: Some(service.into()), ..base.clone() };
            let f = line.facts();
            prop_assert_eq!(narrowed.covers(&f), line.service == service && (base.is_empty() || base.covers(&f)));
        }

        #[test]
        fn normalized_scope_covers_what_the_scope_covers(scope in arb_scope(), line in arb_line()) {
            if let Ok(n) = scope.normalized() {
                prop_assert_eq!(n.covers(&line.facts()), scope.covers(&line.facts()));
                prop_assert_eq!(n.normalized(), Ok(n.clone()));
            }
        }

        #[test]
        fn index_matches_what_brute_force_finds(
            scopes in proptest::collection::vec(arb_scope(), 0..12),
            lines in proptest::collection::vec(arb_line(), 1..6),
        ) {
            let numbered: Vec<(i64, &Scope)> = scopes.iter().enumerate().map(|(i, s)| (i as i64 * 7 - 20, s)).collect();
            let index = ScopeIndex::new(numbered.iter().copied());
            for line in &lines {
                let f = line.facts();
                let mut expected: Vec<i64> = numbered.iter().filter(|(_, s)| s.covers(&f)).map(|(id, _)| *id).collect();
                expected.sort_unstable();
                prop_assert_eq!(index.matching(&f), expected);
            }
        }
    }
}
