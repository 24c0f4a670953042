//! The ticket search syntax: words, "quoted phrases", and `key:value` filters.
//!
//! `fibra "no sync" queue:support status:new,open owner:me customer:ACME requestor:a@b.it`

use crate::{Category, Status};

/// One full-text term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    /// A single word; every word must occur.
    Word(String),
    /// Words that must occur together in this order.
    Phrase(String),
}

/// Who owns the tickets searched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerFilter {
    /// `owner:me`, the person searching.
    Me,
    /// `owner:nobody`, unowned tickets.
    Nobody,
    /// `owner:EMAIL`.
    Email(String),
}

/// A parsed search query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Full-text terms, all required.
    pub terms: Vec<SearchTerm>,
    /// `queue:` slugs (any of).
    pub queues: Vec<String>,
    /// `status:` values (any of).
    pub statuses: Vec<Status>,
    /// `owner:` filter.
    pub owner: Option<OwnerFilter>,
    /// `requestor:` email addresses (any of).
    pub requestors: Vec<String>,
    /// `customer:` codes (any of).
    pub customers: Vec<String>,
    /// `category:` values (any of).
    pub categories: Vec<Category>,
}

/// Why a query could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// A `"` without its closing partner.
    #[error("unclosed quote in the search query")]
    UnclosedQuote,
    /// A filter without a value, e.g. `queue:`.
    #[error("the filter `{0}:` needs a value")]
    EmptyFilter(String),
    /// `status:` with an unknown status.
    #[error("unknown status `{0}` in the search query; known: {known}", known = Status::names())]
    Status(String),
    /// `category:` with an unknown category.
    #[error("unknown category `{0}` in the search query; known: {known}", known = Category::names())]
    Category(String),
    /// Too many terms or a term too long.
    #[error("the search query is too long (at most {MAX_TERMS} terms of {MAX_TERM_CHARS} characters)")]
    TooLong,
}

/// At most this many terms and filters in a query.
pub const MAX_TERMS: usize = 16;
/// At most this many characters in one term.
pub const MAX_TERM_CHARS: usize = 100;

const FILTERS: [&str; 6] = ["queue", "status", "owner", "requestor", "customer", "category"];

fn tokens(input: &str) -> Result<Vec<(String, bool)>, SearchError> {
    // (text, quoted) pairs; a quote inside a filter value (`owner:"x y"`) quotes the value.
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    let mut current = String::new();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '"' {
            let mut phrase = String::new();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                phrase.push(c);
            }
            if !closed {
                return Err(SearchError::UnclosedQuote);
            }
            current.push_str(&phrase);
            quoted = true;
        } else if c.is_whitespace() {
            if !current.is_empty() || quoted {
                out.push((std::mem::take(&mut current), quoted));
            }
            quoted = false;
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() || quoted {
        out.push((current, quoted));
    }
    Ok(out)
}

impl SearchQuery {
    /// Parses the search syntax; unknown `key:` prefixes are kept as ordinary words.
    pub fn parse(input: &str) -> Result<SearchQuery, SearchError> {
        let mut q = SearchQuery::default();
        let tokens = tokens(input)?;
        if tokens.len() > MAX_TERMS {
            return Err(SearchError::TooLong);
        }
        for (text, quoted) in tokens {
            if text.chars().count() > MAX_TERM_CHARS {
                return Err(SearchError::TooLong);
            }
            let filter = text.split_once(':').filter(|(k, _)| FILTERS.contains(&k.to_ascii_lowercase().as_str()));
            if let Some((key, value)) = filter {
                let key = key.to_ascii_lowercase();
                let value = value.trim();
                if value.is_empty() {
                    return Err(SearchError::EmptyFilter(key));
                }
                let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
                match key.as_str() {
                    "queue" => q.queues.extend(values().map(|v| v.to_ascii_lowercase())),
                    "status" => {
                        for v in values() {
                            let s = Status::parse(&v.to_ascii_lowercase()).ok_or(SearchError::Status(v))?;
                            q.statuses.push(s);
                        }
                    }
                    "owner" => {
                        q.owner = Some(match value.to_ascii_lowercase().as_str() {
                            "me" => OwnerFilter::Me,
                            "nobody" | "none" => OwnerFilter::Nobody,
                            v => OwnerFilter::Email(v.to_owned()),
                        })
                    }
                    "requestor" => q.requestors.extend(values().map(|v| v.to_ascii_lowercase())),
                    "category" => {
                        for v in values() {
                            let c = Category::parse(&v.to_ascii_lowercase()).ok_or(SearchError::Category(v))?;
                            q.categories.push(c);
                        }
                    }
                    _ => q.customers.extend(values()),
                }
            } else if quoted {
                let phrase = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if !phrase.is_empty() {
                    q.terms.push(SearchTerm::Phrase(phrase));
                }
            } else {
                q.terms.push(SearchTerm::Word(text));
            }
        }
        Ok(q)
    }

    /// Whether the query has no full-text terms (filters only, or nothing).
    pub fn has_text(&self) -> bool {
        !self.terms.is_empty()
    }

    /// The terms as an SQLite FTS5 MATCH expression: every term a quoted string, all required.
    pub fn fts5_match(&self) -> String {
        self.terms
            .iter()
            .map(|t| match t {
                SearchTerm::Word(w) | SearchTerm::Phrase(w) => {
                    format!("\"{}\"", w.replace('"', "\"\""))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Folds the accented Latin letters of Italian, Catalan and their neighbours to their base
/// letters and lowercases, so that `giu` finds `giù` on every backend.
pub fn fold_diacritics(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' | 'Ñ' => 'n',
            'ŀ' | 'Ŀ' => 'l',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_italian_and_catalan_accents() {
        assert_eq!(super::fold_diacritics("Giù PERCHÉ Català Ŀ"), "giu perche catala l");
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_words_phrases_and_filters() {
        let q = SearchQuery::parse(
            r#"fibra "no sync" queue:Support status:new,open owner:me customer:ACME requestor:A@B.it"#,
        )
        .unwrap();
        assert_eq!(q.terms, vec![SearchTerm::Word("fibra".into()), SearchTerm::Phrase("no sync".into())]);
        assert_eq!(q.queues, vec!["support"]);
        assert_eq!(q.statuses, vec![Status::New, Status::Open]);
        assert_eq!(q.owner, Some(OwnerFilter::Me));
        assert_eq!(q.customers, vec!["ACME"]);
        let c = SearchQuery::parse("category:blocking_fault,order").unwrap();
        assert_eq!(c.categories, vec![Category::BlockingFault, Category::Order]);
        assert!(matches!(SearchQuery::parse("category:nonsense"), Err(SearchError::Category(_))));
        assert_eq!(q.requestors, vec!["a@b.it"]);
        assert_eq!(q.fts5_match(), r#""fibra" "no sync""#);
    }

    #[test]
    fn quoted_filter_value_and_unknown_keys() {
        let q = SearchQuery::parse(r#"owner:"mario@example.net" http://x 10:30"#).unwrap();
        assert_eq!(q.owner, Some(OwnerFilter::Email("mario@example.net".into())));
        assert_eq!(q.terms.len(), 2);
    }

    #[test]
    fn reports_bad_queries() {
        assert_eq!(SearchQuery::parse(r#"a "b"#), Err(SearchError::UnclosedQuote));
        assert_eq!(SearchQuery::parse("queue:"), Err(SearchError::EmptyFilter("queue".into())));
        assert_eq!(SearchQuery::parse("status:closed"), Err(SearchError::Status("closed".into())));
        assert_eq!(SearchQuery::parse(&"a ".repeat(17)), Err(SearchError::TooLong));
    }

    #[test]
    fn fts5_expression_escapes_quotes() {
        let q = SearchQuery { terms: vec![SearchTerm::Word("a\"b".into())], ..Default::default() };
        assert_eq!(q.fts5_match(), r#""a""b""#);
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in ".{0,200}") {
            let _ = SearchQuery::parse(&input);
        }

        #[test]
        fn plain_words_are_terms(words in proptest::collection::vec("[a-zà-ù]{1,12}", 1..8)) {
            let q = SearchQuery::parse(&words.join(" ")).unwrap();
            prop_assert_eq!(q.terms.len(), words.len());
        }
    }
}
