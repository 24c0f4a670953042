//! Custom fields defined per queue, and the validation of their values.

use crate::named_enum;

named_enum!(
    /// The type of a custom field's value.
    CustomFieldKind {
        /// Free text, one line.
        Text => "text",
        /// A decimal number.
        Number => "number",
        /// A calendar date, `YYYY-MM-DD`.
        Date => "date",
        /// One of a fixed list of choices.
        Choice => "choice",
    }
);

/// Why a custom field value is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// Not a number.
    #[error("`{0}` is not a number")]
    Number(String),
    /// Not a date.
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    Date(String),
    /// Not one of the choices.
    #[error("`{value}` is not one of: {}", choices.join(", "))]
    Choice {
        /// The value given.
        value: String,
        /// The allowed values.
        choices: Vec<String>,
    },
    /// Longer than allowed.
    #[error("at most {0} characters")]
    TooLong(usize),
}

/// At most this many characters in a custom field value.
pub const MAX_VALUE_CHARS: usize = 1000;

impl CustomFieldKind {
    /// Checks a value and returns it in canonical form (trimmed; numbers and dates normalised).
    pub fn canonical(self, value: &str, choices: &[String]) -> Result<String, FieldError> {
        let value = value.trim();
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(FieldError::TooLong(MAX_VALUE_CHARS));
        }
        match self {
            CustomFieldKind::Text => Ok(value.to_owned()),
            CustomFieldKind::Number => match value.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(n.to_string()),
                _ => Err(FieldError::Number(value.to_owned())),
            },
            CustomFieldKind::Date => value
                .parse::<jiff::civil::Date>()
                .map(|d| d.to_string())
                .map_err(|_| FieldError::Date(value.to_owned())),
            CustomFieldKind::Choice => {
                if choices.iter().any(|c| c == value) {
                    Ok(value.to_owned())
                } else {
                    Err(FieldError::Choice { value: value.to_owned(), choices: choices.to_vec() })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_by_kind() {
        let choices = vec!["FTTH".to_string(), "FWA".to_string()];
        assert_eq!(CustomFieldKind::Number.canonical(" 3.50 ", &[]), Ok("3.5".into()));
        assert!(CustomFieldKind::Number.canonical("NaN", &[]).is_err());
        assert_eq!(CustomFieldKind::Date.canonical("2026-02-28", &[]), Ok("2026-02-28".into()));
        assert!(CustomFieldKind::Date.canonical("2026-02-30", &[]).is_err());
        assert_eq!(CustomFieldKind::Choice.canonical("FWA", &choices), Ok("FWA".into()));
        assert!(CustomFieldKind::Choice.canonical("ADSL", &choices).is_err());
        assert!(CustomFieldKind::Text.canonical(&"x".repeat(1001), &[]).is_err());
    }
}
