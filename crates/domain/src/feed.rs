//! The text formats of the public status feeds, written by hand: XML text for Atom 1.0 (RFC 4287)
//! and iCalendar content lines (RFC 5545: escaped TEXT values, lines folded at 75 octets, CRLF).

use jiff::Timestamp;

/// Whether XML 1.0 allows the character in a document at all.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Escapes text for XML content or a double-quoted attribute (`& < > " '`); characters XML 1.0
/// forbids (most control characters) are dropped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars().filter(|c| xml_char(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An instant as an RFC 3339 date-time in UTC to the second (Atom's dates): `2026-03-01T10:00:00Z`.
pub fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An instant as an iCalendar date-time in UTC: `20260301T100000Z`.
pub fn ics_utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes an iCalendar TEXT value: `\` `;` `,` are backslash-escaped, a line break (LF, CRLF or
/// CR) becomes `\n`, and other control characters are dropped.
pub fn ics_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The longest a content line may be, in octets, before it is folded (line break excluded).
pub const ICS_LINE_OCTETS: usize = 75;

/// One content line folded at [`ICS_LINE_OCTETS`] octets without splitting a UTF-8 character:
/// each continuation starts with one space (which counts), and every line ends with CRLF.
pub fn ics_fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 60 * 3 + 2);
    let mut used = 0;
    for c in line.chars() {
        let width = c.len_utf8();
        if used + width > ICS_LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += width;
    }
    out.push_str("\r\n");
    out
}

/// An iCalendar document being written, one folded content line at a time.
#[derive(Debug, Default, Clone)]
pub struct Ics {
    out: String,
}

impl Ics {
    /// An empty document.
    pub fn new() -> Ics {
        Ics::default()
    }

    /// Adds `NAME:value` with the value as given (already in its format: dates, numbers, names).
    pub fn raw(&mut self, name: &str, value: &str) -> &mut Ics {
        self.out.push_str(&ics_fold(&format!("{name}:{value}")));
        self
    }

    /// Adds `NAME:value` with the value escaped as TEXT.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Ics {
        self.raw(name, &ics_text(value))
    }

    /// The document written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn xml_escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            xml_escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(xml_escape("a\u{0}b\u{1b}c\td\ne\u{FFFF}"), "abc\td\ne");
        assert_eq!(xml_escape("già è così"), "già è così");
    }

    #[test]
    fn dates_are_utc_to_the_second() {
        let at: Timestamp = "2026-03-01T10:00:00.123456+01:00".parse().unwrap();
        assert_eq!(rfc3339(at), "2026-03-01T09:00:00Z");
        assert_eq!(ics_utc(at), "20260301T090000Z");
    }

    #[test]
    fn ics_text_escapes_separators_backslashes_and_line_breaks() {
        assert_eq!(ics_text("a,b;c\\d"), "a\\,b\\;c\\\\d");
        assert_eq!(ics_text("one\ntwo\r\nthree\rfour"), "one\\ntwo\\nthree\\nfour");
        assert_eq!(ics_text("bell\u{7}\ttab"), "bell\ttab");
    }

    #[test]
    fn short_lines_are_not_folded() {
        assert_eq!(ics_fold("SUMMARY:Lavori"), "SUMMARY:Lavori\r\n");
        let exact = "X".repeat(75);
        assert_eq!(ics_fold(&exact), format!("{exact}\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_with_a_leading_space() {
        let line = format!("DESCRIPTION:{}", "a".repeat(200));
        let folded = ics_fold(&line);
        let parts: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
        assert_eq!(parts[0].len(), 75);
        assert!(parts[1..].iter().all(|p| p.starts_with(' ') && p.len() <= 75));
        let unfolded: String = parts.iter().enumerate().map(|(i, p)| if i == 0 { *p } else { &p[1..] }).collect();
        assert_eq!(unfolded, line);
    }

    #[test]
    fn folding_never_splits_a_character() {
        // 74 ASCII octets then a two-octet character: it goes whole to the next line.
        let line = format!("{}é{}", "a".repeat(74), "€".repeat(40));
        let folded = ics_fold(&line);
        for part in folded.split("\r\n") {
            assert!(part.len() <= 75, "{part:?}");
        }
        assert!(folded.starts_with(&format!("{}\r\n é", "a".repeat(74))));
    }

    #[test]
    fn a_document_is_crlf_lines() {
        let mut ics = Ics::new();
        ics.raw("BEGIN", "VCALENDAR").text("SUMMARY", "Lavori, rete; fibra").raw("END", "VCALENDAR");
        assert_eq!(ics.finish(), "BEGIN:VCALENDAR\r\nSUMMARY:Lavori\\, rete\\; fibra\r\nEND:VCALENDAR\r\n");
    }

    proptest! {
        /// Folding then unfolding gives the line back; no physical line is over 75 octets; every
        /// line ends with CRLF and no bare CR or LF is left.
        #[test]
        fn folding_round_trips(value in "\\PC{0,300}") {
            let line = format!("DESCRIPTION:{}", ics_text(&value));
            let folded = ics_fold(&line);
            prop_assert!(folded.ends_with("\r\n"));
            let body = &folded[..folded.len() - 2];
            let parts: Vec<&str> = body.split("\r\n").collect();
            for p in &parts {
                prop_assert!(p.len() <= ICS_LINE_OCTETS);
                prop_assert!(!p.contains('\r') && !p.contains('\n'));
            }
            let unfolded: String =
                parts.iter().enumerate().map(|(i, p)| if i == 0 { *p } else { &p[1..] }).collect();
            prop_assert_eq!(unfolded, line);
        }

        /// Escaped XML text has no markup characters left and unescapes to the allowed input.
        #[test]
        fn xml_escape_round_trips(value in "\\PC{0,200}") {
            let escaped = xml_escape(&value);
            prop_assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('"'));
            let back = escaped
                .replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
                .replace("&amp;", "&");
            let kept: String = value.chars().filter(|c| xml_char(*c)).collect();
            prop_assert_eq!(back, kept);
        }
    }
}
