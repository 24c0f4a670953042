//! Ticket references such as `support#310`: a queue's reference prefix and the global number.

use std::fmt;

/// A ticket reference: `<prefix>#<number>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The reference prefix of the ticket's queue, e.g. `support`.
    pub prefix: String,
    /// The global ticket number.
    pub number: i64,
}

/// Why a text is not a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// No `#` between prefix and number.
    #[error("a reference looks like `support#310`")]
    Shape,
    /// The prefix has characters other than lowercase letters, digits, `-` and `_`, or is too long.
    #[error("a reference prefix is 1 to 32 lowercase letters, digits, `-` or `_`")]
    Prefix,
    /// The number is not a positive integer.
    #[error("a ticket number is a positive integer")]
    Number,
}

/// Checks a reference prefix (also used for queue slugs): 1–32 of `a-z`, `0-9`, `-`, `_`.
pub fn check_prefix(prefix: &str) -> Result<(), ReferenceError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 32
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(ReferenceError::Prefix) }
}

fn parse_number(text: &str) -> Result<i64, ReferenceError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ReferenceError::Number);
    }
    match text.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ReferenceError::Number),
    }
}

impl Reference {
    /// Makes a reference from a queue prefix and a ticket number.
    pub fn new(prefix: impl Into<String>, number: i64) -> Self {
        Reference { prefix: prefix.into(), number }
    }

    /// Parses `support#310` (prefix case-insensitive). A bare number or `#310` is not a reference.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let (prefix, number) = text.trim().split_once('#').ok_or(ReferenceError::Shape)?;
        let prefix = prefix.to_ascii_lowercase();
        check_prefix(&prefix)?;
        Ok(Reference { prefix, number: parse_number(number)? })
    }

    /// Finds the first subject tag `[prefix#N]` (or RT's `[name #N]`) whose prefix is one of `known`.
    pub fn find_in_subject(subject: &str, known: &[&str]) -> Option<Reference> {
        let mut rest = subject;
        while let Some(open) = rest.find('[') {
            let after = &rest[open + 1..];
            let Some(close) = after.find(']') else { break };
            // The innermost tag: `[Fwd: [support#310] …]` (old forwards) holds a tag inside brackets.
            let inner = &after[..close];
            let inner = &inner[inner.rfind('[').map_or(0, |p| p + 1)..];
            if let Some((prefix, number)) = inner.rsplit_once('#') {
                let prefix = prefix.trim_end().to_ascii_lowercase();
                if known.iter().any(|k| k.eq_ignore_ascii_case(&prefix))
                    && let Ok(n) = parse_number(number)
                {
                    return Some(Reference { prefix, number: n });
                }
            }
            rest = &after[close..];
        }
        None
    }

    /// The subject tag for this reference: `[support#310]`.
    pub fn subject_tag(&self) -> String {
        format!("[{self}]")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.prefix, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_support_reference() {
        let r = Reference::parse("support#310").unwrap();
        assert_eq!(r, Reference::new("support", 310));
        assert_eq!(r.to_string(), "support#310");
        assert_eq!(Reference::parse("Support#7").unwrap().prefix, "support");
    }

    #[test]
    fn rejects_malformed_references() {
        assert_eq!(Reference::parse("310"), Err(ReferenceError::Shape));
        assert_eq!(Reference::parse("#310"), Err(ReferenceError::Prefix));
        assert_eq!(Reference::parse("sup port#3"), Err(ReferenceError::Prefix));
        assert_eq!(Reference::parse("support#0"), Err(ReferenceError::Number));
        assert_eq!(Reference::parse("support#-3"), Err(ReferenceError::Number));
        assert_eq!(Reference::parse("support#99999999999999999999"), Err(ReferenceError::Number));
    }

    #[test]
    fn finds_tag_in_reply_subject() {
        let known = ["support", "treasury"];
        assert_eq!(
            Reference::find_in_subject("Re: [support#310] Linea giù", &known),
            Some(Reference::new("support", 310))
        );
        assert_eq!(
            Reference::find_in_subject("Re: [Treasury #12] fattura", &known),
            Some(Reference::new("treasury", 12))
        );
        assert_eq!(Reference::find_in_subject("[other#3] x", &known), None);
        assert_eq!(Reference::find_in_subject("[list] [support#4]", &known), Some(Reference::new("support", 4)));
        assert_eq!(Reference::find_in_subject("[support#", &known), None);
    }

    #[test]
    fn finds_tag_behind_any_prefixes_and_among_several_tags() {
        let known = ["support", "treasury"];
        let support = Some(Reference::new("support", 310));
        for subject in [
            "Re: RE: Fwd: [support#310] Linea giù",
            "AW: WG: [support#310] Störung",
            "R: I: R: [Support#310] guasto",
            "[Fwd: [support#310] Linea giù]",
            "[ext] [other#5] [support#310] [treasury#7]",
            "Rif: [support #310]",
        ] {
            assert_eq!(Reference::find_in_subject(subject, &known), support, "{subject}");
        }
        assert_eq!(
            Reference::find_in_subject("[treasury#7] [support#310]", &known),
            Some(Reference::new("treasury", 7))
        );
        assert_eq!(Reference::find_in_subject("[support#abc] [support#0] [support#31 0]", &known), None);
        assert_eq!(Reference::find_in_subject("support#310 without brackets", &known), None);
    }

    proptest! {
        #[test]
        fn reference_round_trips(prefix in "[a-z0-9_-]{1,32}", number in 1i64..i64::MAX) {
            let r = Reference::new(prefix, number);
            prop_assert_eq!(Reference::parse(&r.to_string()), Ok(r.clone()));
            prop_assert_eq!(Reference::find_in_subject(&format!("Re: {} hi", r.subject_tag()), &[r.prefix.as_str()]), Some(r));
        }

        #[test]
        fn parse_never_panics(text in ".{0,64}") {
            let _ = Reference::parse(&text);
            let _ = Reference::find_in_subject(&text, &["support"]);
        }
    }
}
