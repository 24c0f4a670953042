//! Input checks shared by every channel: lengths, emails, names.

/// The longest ticket title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest message body, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The longest name (people, queues, customers), in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Checks that `text` is non-blank and at most `max` characters; returns it trimmed.
pub fn required_text(text: &str, max: usize) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        Err("must not be empty".into())
    } else if t.chars().count() > max {
        Err(format!("at most {max} characters"))
    } else if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        Err("must not contain control characters".into())
    } else {
        Ok(t.to_owned())
    }
}

/// Checks a single-line title: non-blank, at most [`MAX_TITLE_CHARS`], no line breaks.
pub fn title(text: &str) -> Result<String, String> {
    let t = required_text(text, MAX_TITLE_CHARS)?;
    if t.contains(['\n', '\r']) { Err("must be a single line".into()) } else { Ok(t) }
}

/// Checks and normalises an email address (lowercased, trimmed); a pragmatic RFC 5321 subset.
pub fn email(text: &str) -> Result<String, String> {
    let e = text.trim().to_lowercase();
    let Some((local, domain)) = e.rsplit_once('@') else {
        return Err(format!("`{}` is not an email address", text.trim()));
    };
    let ok_local = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let ok_domain = domain.contains('.')
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if ok_local && ok_domain { Ok(e) } else { Err(format!("`{}` is not an email address", text.trim())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email(" Mario.Rossi+x@Example.NET ").unwrap(), "mario.rossi+x@example.net");
        for bad in ["", "a", "a@b", "@b.it", "a@-b.it", "a b@c.it", "a@b..it", ".a@b.it"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn titles_are_single_line_and_bounded() {
        assert_eq!(title("  Linea giù  ").unwrap(), "Linea giù");
        assert!(title(" ").is_err());
        assert!(title("a\nb").is_err());
        assert!(title(&"é".repeat(201)).is_err());
        assert!(title(&"é".repeat(200)).is_ok());
    }
}
