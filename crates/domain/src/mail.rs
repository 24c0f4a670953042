//! Pure email rules: masking sensitive data, RFC 3834 auto-reply decisions, addresses, subjects, quoted history.

use crate::named_enum;

named_enum!(
    /// A kind of sensitive data found (and masked) in an inbound email body.
    SensitiveKind {
        /// An IBAN passing the ISO 13616 mod-97 check.
        Iban => "iban",
        /// A payment card number passing the Luhn check.
        PaymentCard => "payment_card",
        /// An Italian fiscal code (codice fiscale) with a correct check character.
        FiscalCode => "fiscal_code",
    }
);

/// A text with its sensitive data masked, and what was found, in order of appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// The text with each match's hidden characters replaced by `*`; same length in bytes and chars.
    pub text: String,
    /// One entry per masked match, in order of appearance.
    pub found: Vec<SensitiveKind>,
}

/// Characters that glue two alphanumeric runs into one longer token (`ABC-123`, `a/b`, `x.y`, `a@b`).
const JOINERS: [char; 5] = ['-', '_', '/', '.', '@'];

/// Whether a match may start at byte `i`: not in the middle or at the tail of a longer token.
fn left_boundary(text: &str, i: usize) -> bool {
    let mut before = text[..i].chars().rev();
    match before.next() {
        None => true,
        Some(c) if c.is_alphanumeric() => false,
        Some(c) if JOINERS.contains(&c) => !before.next().is_some_and(char::is_alphanumeric),
        Some(_) => true,
    }
}

/// Whether a match may end at byte `j`: not followed by more of the same token.
fn right_boundary(text: &str, j: usize) -> bool {
    let mut after = text[j..].chars();
    match after.next() {
        None => true,
        Some(c) if c.is_alphanumeric() => false,
        Some(c) if JOINERS.contains(&c) => !after.next().is_some_and(char::is_alphanumeric),
        Some(_) => true,
    }
}

/// End of the ASCII alphanumeric run starting at `i`.
fn alnum_end(b: &[u8], i: usize) -> usize {
    i + b[i..].iter().take_while(|c| c.is_ascii_alphanumeric()).count()
}

/// IBAN lengths of the countries whose length we know.
const IBAN_LENGTHS: [(&str, usize); 29] = [
    ("IT", 27),
    ("SM", 27),
    ("DE", 22),
    ("FR", 27),
    ("ES", 24),
    ("GB", 22),
    ("CH", 21),
    ("AT", 20),
    ("BE", 16),
    ("NL", 18),
    ("LU", 20),
    ("PT", 25),
    ("IE", 22),
    ("DK", 18),
    ("SE", 24),
    ("NO", 15),
    ("FI", 18),
    ("PL", 28),
    ("GR", 27),
    ("MT", 31),
    ("MC", 27),
    ("VA", 22),
    ("HR", 21),
    ("SI", 19),
    ("CZ", 24),
    ("SK", 24),
    ("HU", 28),
    ("RO", 24),
    ("LI", 21),
];

/// Whether an uppercase compact IBAN has the right shape, length and mod-97 remainder.
fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return false;
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| cc.as_bytes() == &b[..2])
        && *len != b.len()
    {
        return false;
    }
    let remainder = b[4..].iter().chain(&b[..4]).fold(0u32, |r, &c| {
        if c.is_ascii_digit() { (r * 10 + u32::from(c - b'0')) % 97 } else { (r * 100 + u32::from(c - b'A') + 10) % 97 }
    });
    remainder == 1
}

/// The end of an IBAN starting at `start`, compact or in groups of 4 separated by single spaces.
fn match_iban(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let first_end = alnum_end(b, start);
    if first_end - start < 4
        || !b[start..start + 2].iter().all(u8::is_ascii_alphabetic)
        || !b[start + 2..start + 4].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let mut compact = String::new();
    let mut best = None;
    let mut pos = start;
    loop {
        let end = alnum_end(b, pos);
        compact.push_str(&text[pos..end].to_ascii_uppercase());
        if compact.len() > 34 {
            break;
        }
        if iban_valid(&compact) && right_boundary(text, end) {
            best = Some(end);
        }
        let grouped_on =
            end - pos == 4 && b.get(end) == Some(&b' ') && b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric);
        if !grouped_on {
            break;
        }
        pos = end + 1;
    }
    best
}

/// Whether a digit string passes the Luhn check.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether a card number may start at byte `i`: not after `+` (phone numbers), nor inside a digit run or a mask.
fn card_may_start(text: &str, i: usize) -> bool {
    let mut before = text[..i].chars().rev();
    match before.next() {
        Some('+' | '*') => false,
        Some(' ') => !before.next().is_some_and(|c| c.is_ascii_digit() || c == '*'),
        _ => true,
    }
}

/// The end of a payment card number starting at `start`: digits, maybe grouped by single spaces or hyphens.
fn match_card(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    if !card_may_start(text, start) || !(b'2'..=b'6').contains(&b[start]) {
        return None;
    }
    let sep = {
        let end = alnum_end(b, start);
        match b.get(end) {
            Some(&s @ (b' ' | b'-')) if b.get(end + 1).is_some_and(u8::is_ascii_digit) => Some(s),
            _ => None,
        }
    };
    let mut digits = Vec::with_capacity(19);
    let mut ends = Vec::new();
    let mut truncated = false;
    let mut pos = start;
    loop {
        let end = alnum_end(b, pos);
        if !b[pos..end].iter().all(u8::is_ascii_digit) {
            break;
        }
        if digits.len() + (end - pos) > 19 {
            truncated = true;
            break;
        }
        digits.extend_from_slice(&b[pos..end]);
        ends.push((end, digits.len()));
        match sep {
            Some(s) if b.get(end) == Some(&s) && b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric) => pos = end + 1,
            _ => break,
        }
    }
    if ends.is_empty() {
        return None;
    }
    // A run joined by hyphens or not grouped at all is one token: it is a card as a whole or not at all.
    let whole_only = sep != Some(b' ');
    if whole_only && truncated {
        return None;
    }
    let candidates = if whole_only { &ends[ends.len() - 1..] } else { &ends[..] };
    candidates
        .iter()
        .rev()
        .find(|&&(end, n)| (13..=19).contains(&n) && luhn(&digits[..n]) && right_boundary(text, end))
        .map(|&(end, _)| end)
}

/// Value of a fiscal code character at an odd position (1st, 3rd, …).
const CF_ODD: [u32; 26] =
    [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/// The check character of the first 15 characters (uppercase ASCII alphanumerics) of a fiscal code.
fn fiscal_check_char(first15: &[u8]) -> Option<u8> {
    let mut sum = 0;
    for (i, &c) in first15.iter().enumerate() {
        let index = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A',
            _ => return None,
        };
        sum += if i % 2 == 0 { CF_ODD[usize::from(index)] } else { u32::from(index) };
    }
    Some(b'A' + (sum % 26) as u8)
}

/// Whether an uppercase 16-character text is a well-formed fiscal code with the right check character.
fn fiscal_code_valid(code: &[u8]) -> bool {
    const OMOCODIA: &[u8] = b"LMNPQRSTUV";
    const MONTHS: &[u8] = b"ABCDEHLMPRST";
    let digitish = |c: u8| c.is_ascii_digit() || OMOCODIA.contains(&c);
    code.len() == 16
        && code[..6].iter().all(u8::is_ascii_uppercase)
        && code[6..8].iter().all(|&c| digitish(c))
        && MONTHS.contains(&code[8])
        && code[9..11].iter().all(|&c| digitish(c))
        && code[11].is_ascii_uppercase()
        && code[12..15].iter().all(|&c| digitish(c))
        && fiscal_check_char(&code[..15]) == Some(code[15])
}

/// The end of an Italian fiscal code starting at `start`.
fn match_fiscal_code(text: &str, start: usize) -> Option<usize> {
    let end = alnum_end(text.as_bytes(), start);
    (end - start == 16
        && fiscal_code_valid(text[start..end].to_ascii_uppercase().as_bytes())
        && right_boundary(text, end))
    .then_some(end)
}

/// Masks a matched span: alphanumerics become `*` except the `keep_first` first and `keep_last` last ones.
fn mask_span(span: &str, keep_first: usize, keep_last: usize, out: &mut String) {
    let total = span.bytes().filter(u8::is_ascii_alphanumeric).count();
    let mut seen = 0;
    for c in span.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if seen < keep_first || seen + keep_last >= total { c } else { '*' });
            seen += 1;
        } else {
            out.push(c);
        }
    }
}

/// Masks IBANs, payment card numbers and Italian fiscal codes; everything else is kept byte for byte.
pub fn mask_sensitive(text: &str) -> Masked {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut found = Vec::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() && left_boundary(text, i) {
            let hit = if b[i].is_ascii_digit() {
                match_card(text, i).map(|end| (end, SensitiveKind::PaymentCard, 0, 4))
            } else {
                match_iban(text, i)
                    .map(|end| (end, SensitiveKind::Iban, 2, 4))
                    .or_else(|| match_fiscal_code(text, i).map(|end| (end, SensitiveKind::FiscalCode, 3, 1)))
            };
            if let Some((end, kind, keep_first, keep_last)) = hit {
                out.push_str(&text[copied..i]);
                mask_span(&text[i..end], keep_first, keep_last, &mut out);
                found.push(kind);
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    Masked { text: out, found }
}

named_enum!(
    /// Why an automatic reply must not be sent (RFC 3834 and common practice).
    AutoReason {
        /// `Auto-Submitted` is present and not `no`.
        AutoSubmitted => "auto_submitted",
        /// `Precedence: bulk`, `junk` or `list`.
        Precedence => "precedence",
        /// `X-Auto-Response-Suppress` asks for no automatic replies.
        Suppress => "suppress",
        /// The message came through a mailing list.
        MailingList => "mailing_list",
        /// The sender is a no-reply or system mailbox.
        NoReplySender => "no_reply_sender",
    }
);

/// Whether an automatic reply (acknowledgement, auto-response) may be sent to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoVerdict {
    /// An automatic reply may be sent.
    Allowed,
    /// No automatic reply, for this reason.
    Suppressed(AutoReason),
}

/// A header value's main token: before any `;` parameters, without `(comments)`, trimmed.
fn header_token(value: &str) -> String {
    let main = value.split(';').next().unwrap_or_default();
    let mut out = String::new();
    let mut depth = 0usize;
    for c in main.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// Local parts of system and no-reply mailboxes, compared case-insensitively.
const NO_REPLY_LOCALS: [&str; 7] =
    ["mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "do-not-reply", "donotreply"];

/// Whether a `From` (bare address or `Name <address>`) is a no-reply or system mailbox.
fn is_no_reply_sender(from: &str) -> bool {
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    };
    let Some((local, _)) = address.trim().rsplit_once('@') else { return false };
    let local = local.to_ascii_lowercase();
    NO_REPLY_LOCALS.iter().any(|name| {
        local.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.', '_', '+']))
    })
}

/// Decides whether an automatic reply may be sent, from the message's headers, list status and sender.
pub fn auto_reply_allowed(
    auto_submitted: Option<&str>,
    precedence: Option<&str>,
    x_auto_response_suppress: Option<&str>,
    list: bool,
    from: &str,
) -> AutoVerdict {
    if let Some(value) = auto_submitted
        && !header_token(value).eq_ignore_ascii_case("no")
    {
        return AutoVerdict::Suppressed(AutoReason::AutoSubmitted);
    }
    if let Some(value) = precedence
        && ["bulk", "junk", "list"].iter().any(|p| header_token(value).eq_ignore_ascii_case(p))
    {
        return AutoVerdict::Suppressed(AutoReason::Precedence);
    }
    if let Some(value) = x_auto_response_suppress
        && value
            .split([',', ';', ' ', '\t'])
            .any(|t| ["all", "autoreply", "oof", "dr"].iter().any(|s| t.trim().eq_ignore_ascii_case(s)))
    {
        return AutoVerdict::Suppressed(AutoReason::Suppress);
    }
    if list {
        return AutoVerdict::Suppressed(AutoReason::MailingList);
    }
    if is_no_reply_sender(from) {
        return AutoVerdict::Suppressed(AutoReason::NoReplySender);
    }
    AutoVerdict::Allowed
}

/// Splits `local+tag@domain` into the lowercased `local@domain` and the tag (`None` if absent or empty).
pub fn split_plus(address: &str) -> (String, Option<String>) {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else { return (address, None) };
    match local.split_once('+') {
        Some((base, tag)) => (format!("{base}@{domain}"), (!tag.is_empty()).then(|| tag.to_string())),
        None => (address.clone(), None),
    }
}

/// The ticket number in a plus address (`support+310@x.it` → 310), when the tag is a positive number.
pub fn plus_ticket(address: &str) -> Option<i64> {
    let tag = split_plus(address).1?;
    if !tag.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    tag.parse::<i64>().ok().filter(|&n| n > 0)
}

/// Trims and lowercases an address; `None` unless it is `local@domain.tld` with no spaces.
pub fn normalize_address(address: &str) -> Option<String> {
    let address = address.trim().to_lowercase();
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = address.split_once('@')?;
    let ok =
        !local.is_empty() && !domain.contains('@') && domain.contains('.') && domain.split('.').all(|l| !l.is_empty());
    ok.then_some(address)
}

/// Reply and forward prefixes removed by [`strip_reply_prefixes`], compared case-insensitively.
const REPLY_PREFIXES: [&str; 9] = ["re", "r", "fwd", "fw", "i", "aw", "wg", "rif", "tr"];

/// Removes any number of leading `Re:`, `R:`, `Fwd:`, `Fw:`, `I:`, `AW:`, `WG:`, `Rif:` (and `Re[2]:`) and spaces.
pub fn strip_reply_prefixes(subject: &str) -> &str {
    let mut rest = subject.trim();
    loop {
        let word_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        if !REPLY_PREFIXES.iter().any(|p| p.eq_ignore_ascii_case(&rest[..word_len])) {
            return rest;
        }
        let mut after = &rest[word_len..];
        // `Re[2]:` as written by some clients.
        if let Some(counted) = after.strip_prefix('[')
            && let Some(close) = counted.find(']')
            && close > 0
            && counted[..close].bytes().all(|b| b.is_ascii_digit())
        {
            after = &counted[close + 1..];
        }
        match after.trim_start_matches(' ').strip_prefix(':') {
            Some(tail) => rest = tail.trim_start(),
            None => return rest,
        }
    }
}

/// A line of a text with its start offset; the content is without the line ending.
struct Line<'a> {
    start: usize,
    text: &'a str,
}

fn lines_of(text: &str) -> Vec<Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n')
        .map(|raw| {
            let line = Line { start, text: raw.trim_end_matches(['\n', '\r']) };
            start += raw.len();
            line
        })
        .collect()
}

/// `text` without leading `*` (plain-text renderings of bold headers), trimmed at the start.
fn unbold(text: &str) -> &str {
    text.trim_start().trim_start_matches('*').trim_start()
}

/// Whether `text` starts with `prefix`, ASCII case-insensitively.
fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Attribution lines `<opening> … <closing>`, possibly wrapped over up to 3 lines.
const ATTRIBUTIONS: [(&str, &str); 3] = [("On ", "wrote:"), ("Il ", "ha scritto:"), ("El ", "va escriure:")];

/// Whether line `i` opens a quoted block: an attribution, an "original message" rule, or an Outlook header.
fn opens_quote(lines: &[Line<'_>], i: usize) -> bool {
    let line = lines[i].text.trim();
    for (open, close) in ATTRIBUTIONS {
        if starts_with_ci(line, open) {
            let mut joined = String::from(line);
            for next in lines.iter().skip(i).take(3) {
                if next.start != lines[i].start {
                    if next.text.trim().is_empty() {
                        break;
                    }
                    joined.push(' ');
                    joined.push_str(next.text.trim());
                }
                if joined.len() > 400 {
                    break;
                }
                if joined.ends_with(close) {
                    return true;
                }
            }
        }
    }
    let rule = line.trim_matches(|c: char| c == '-' || c == ' ');
    if line.starts_with("---")
        && (rule.eq_ignore_ascii_case("original message") || rule.eq_ignore_ascii_case("messaggio originale"))
    {
        return true;
    }
    let header = unbold(line);
    let follows: &[&str] = if starts_with_ci(header, "Da:") {
        &["Inviato:", "Data:"]
    } else if starts_with_ci(header, "From:") {
        &["Sent:", "Date:"]
    } else {
        return false;
    };
    lines.iter().skip(i + 1).take(3).any(|next| follows.iter().any(|f| starts_with_ci(unbold(next.text), f)))
}

/// Whether a line is a signature separator (`-- `, or `--` once trailing spaces are stripped).
fn is_signature(line: &str) -> bool {
    line == "-- " || line == "--"
}

/// The index of the first line of a run of `>` lines that continues to the end of the text.
fn trailing_quote_run(lines: &[Line<'_>]) -> Option<usize> {
    let quoted = |l: &Line<'_>| l.text.trim_start().starts_with('>');
    let mut end = lines.len();
    if let Some(sig) = lines.iter().rposition(|l| is_signature(l.text))
        && !lines[sig + 1..].iter().any(quoted)
    {
        end = sig;
    }
    while end > 0 && lines[end - 1].text.trim().is_empty() {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && (quoted(&lines[start - 1]) || lines[start - 1].text.trim().is_empty()) {
        start -= 1;
    }
    lines[start..end].iter().position(quoted).map(|p| start + p)
}

/// Splits a plain-text reply into (new text without trailing whitespace, quoted history from its first line).
pub fn split_quoted(text: &str) -> (&str, &str) {
    let lines = lines_of(text);
    let header = (0..lines.len()).find(|&i| opens_quote(&lines, i)).map(|i| {
        // An Outlook rule of underscores just above the header belongs to the history.
        let mut first = i;
        while first > 0 && lines[first - 1].text.trim().is_empty() {
            first -= 1;
        }
        let above = first.checked_sub(1).map(|j| lines[j].text.trim());
        match above {
            Some(rule) if rule.len() >= 5 && rule.chars().all(|c| c == '_' || c == '-') => first - 1,
            _ => i,
        }
    });
    let split = match (header, trailing_quote_run(&lines)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match split {
        Some(i) => (text[..lines[i].start].trim_end(), &text[lines[i].start..]),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Makes a valid IBAN from a country code and a BBAN by computing the check digits.
    fn make_iban(country: &str, bban: &str) -> String {
        let probe = format!("{country}00{bban}");
        let rearranged = format!("{}{}", &probe[4..], &probe[..4]);
        let r = rearranged.bytes().fold(0u32, |r, c| {
            if c.is_ascii_digit() {
                (r * 10 + u32::from(c - b'0')) % 97
            } else {
                (r * 100 + u32::from(c - b'A') + 10) % 97
            }
        });
        format!("{country}{:02}{bban}", 98 - r)
    }

    /// Makes a valid fiscal code from its first 15 characters.
    fn make_cf(first15: &str) -> String {
        let check = fiscal_check_char(first15.as_bytes()).unwrap();
        format!("{first15}{}", check as char)
    }

    fn masked(text: &str) -> String {
        mask_sensitive(text).text
    }

    #[test]
    fn sensitive_kind_names() {
        assert_eq!(SensitiveKind::Iban.as_str(), "iban");
        assert_eq!(SensitiveKind::PaymentCard.as_str(), "payment_card");
        assert_eq!(SensitiveKind::FiscalCode.as_str(), "fiscal_code");
    }

    #[test]
    fn masks_well_known_ibans_grouped_and_compact() {
        let m = mask_sensitive("IBAN: IT60 X054 2811 1010 0000 0123 456, grazie");
        assert_eq!(m.text, "IBAN: IT** **** **** **** **** ***3 456, grazie");
        assert_eq!(m.found, vec![SensitiveKind::Iban]);
        assert_eq!(masked("GB82 WEST 1234 5698 7654 32"), "GB** **** **** **** **54 32");
        assert_eq!(masked("DE89 3704 0044 0532 0130 00."), "DE** **** **** **** **30 00.");
        assert_eq!(masked("it60x0542811101000000123456"), "it*********************3456");
        assert_eq!(masked("(DE89370400440532013000)"), "(DE****************3000)");
    }

    #[test]
    fn masks_built_ibans_of_known_and_unknown_countries() {
        for (country, bban) in [("SM", "X0542811101000000123456"), ("BE", "539007547034"), ("NL", "ABNA0417164300")] {
            let iban = make_iban(country, bban);
            let m = mask_sensitive(&format!("conto {iban} ok"));
            assert_eq!(m.found, vec![SensitiveKind::Iban], "{iban}");
            assert!(m.text.starts_with(&format!("conto {country}**")));
            assert!(m.text.ends_with(&format!("{} ok", &iban[iban.len() - 4..])));
        }
        // A country we don't know: any length 15–34 with a right check.
        let other = make_iban("QQ", "12345678901234");
        assert_eq!(mask_sensitive(&other).found, vec![SensitiveKind::Iban]);
    }

    #[test]
    fn leaves_wrong_ibans() {
        assert_eq!(masked("IT61 X054 2811 1010 0000 0123 456"), "IT61 X054 2811 1010 0000 0123 456");
        assert_eq!(masked("GB82WEST1234569876543"), "GB82WEST1234569876543");
        // Right check but wrong length for the country.
        let short = make_iban("IT", "X054281110100000012345");
        assert_eq!(masked(&short), short);
        // Part of a longer token.
        assert_eq!(masked("XGB82WEST12345698765432"), "XGB82WEST12345698765432");
        assert_eq!(masked("GB82WEST12345698765432X"), "GB82WEST12345698765432X");
        assert_eq!(masked("ref-GB82WEST12345698765432"), "ref-GB82WEST12345698765432");
        assert_eq!(masked("GB82WEST12345698765432è"), "GB82WEST12345698765432è");
    }

    #[test]
    fn iban_groups_stop_at_the_iban() {
        assert_eq!(masked("GB82 WEST 1234 5698 7654 32 ABCD"), "GB** **** **** **** **54 32 ABCD");
        assert_eq!(masked("IT60 X054 2811 1010 0000 0123 456 7890"), "IT** **** **** **** **** ***3 456 7890");
    }

    #[test]
    fn masks_test_cards() {
        let m = mask_sensitive("carta 4111 1111 1111 1111 scad. 12/27");
        assert_eq!(m.text, "carta **** **** **** 1111 scad. 12/27");
        assert_eq!(m.found, vec![SensitiveKind::PaymentCard]);
        assert_eq!(masked("5555-5555-5555-4444"), "****-****-****-4444");
        assert_eq!(masked("Amex 378282246310005."), "Amex ***********0005.");
        assert_eq!(masked("4111111111111111\r\n"), "************1111\r\n");
        // A CVV after the number.
        assert_eq!(masked("4111 1111 1111 1111 123"), "**** **** **** 1111 123");
    }

    #[test]
    fn leaves_non_cards() {
        for text in [
            "4111 1111 1111 1112",                   // Luhn fails
            "41111111111111111111",                  // 20-digit tracking number
            "tracking 00340434161234567890 spedito", // longer run
            "1111111111111117",                      // IIN not 2–6
            "+39 031 555 1234",                      // phone
            "+4111111111111111",                     // phone-like
            "ordine 2024-000123 del 03/03/2025",     // order number and date
            "2025-03-03",                            // date
            "5555-5555-5555-4444-12",                // longer hyphenated code
            "AB4111111111111111",                    // inside a code
            "4111111111111111AB",
            "x.4111111111111111",
            "4111-1111 1111 1111", // mixed separators
        ] {
            assert_eq!(masked(text), text, "{text}");
        }
    }

    #[test]
    fn masks_fiscal_codes() {
        let cf = make_cf("RSSMRA85T10A562");
        assert_eq!(cf, "RSSMRA85T10A562S");
        let m = mask_sensitive("Codice fiscale: RSSMRA85T10A562S.");
        assert_eq!(m.text, "Codice fiscale: RSS************S.");
        assert_eq!(m.found, vec![SensitiveKind::FiscalCode]);
        assert_eq!(masked("cf rssmra85t10a562s"), "cf rss************s");
        // Omocodia: digits replaced by letters, with its own check character.
        let omocode = make_cf("RSSMRA85T10A56N");
        assert_eq!(mask_sensitive(&omocode).found, vec![SensitiveKind::FiscalCode]);
    }

    #[test]
    fn leaves_wrong_fiscal_codes_and_vat_numbers() {
        for text in [
            "RSSMRA85T10A562T",  // wrong check
            "RSSMRA85Z10A562S",  // not a month letter
            "XRSSMRA85T10A562S", // longer token
            "RSSMRA85T10A562S1",
            "RSSMRA85T10A562S-2",
            "P.IVA 01234567897", // partita IVA is public
            "IT01234567897",
        ] {
            assert_eq!(masked(text), text, "{text}");
        }
    }

    #[test]
    fn keeps_everything_else_byte_for_byte() {
        let text = "Buongiorno,\r\nla linea è giù da lunedì; IBAN IT60 X054 2811 1010 0000 0123 456 e CF RSSMRA85T10A562S.\r\nCarta: 5555 5555 5555 4444 — perché?\r\n";
        let m = mask_sensitive(text);
        assert_eq!(
            m.text,
            "Buongiorno,\r\nla linea è giù da lunedì; IBAN IT** **** **** **** **** ***3 456 e CF RSS************S.\r\nCarta: **** **** **** 4444 — perché?\r\n"
        );
        assert_eq!(m.found, vec![SensitiveKind::Iban, SensitiveKind::FiscalCode, SensitiveKind::PaymentCard]);
        assert_eq!(mask_sensitive(&m.text), Masked { text: m.text.clone(), found: vec![] });
        assert_eq!(mask_sensitive(""), Masked { text: String::new(), found: vec![] });
    }

    fn check_masking(text: &str) -> Result<(), TestCaseError> {
        let m = mask_sensitive(text);
        prop_assert_eq!(m.text.len(), text.len());
        prop_assert_eq!(m.text.chars().count(), text.chars().count());
        for (a, b) in text.chars().zip(m.text.chars()) {
            prop_assert!(a == b || (b == '*' && a.is_ascii_alphanumeric()), "{a:?} became {b:?}");
        }
        let again = mask_sensitive(&m.text);
        prop_assert_eq!(&again.text, &m.text);
        prop_assert!(again.found.is_empty());
        Ok(())
    }

    proptest! {
        #[test]
        fn masking_never_panics(text in "\\PC{0,200}") {
            let _ = mask_sensitive(&text);
        }

        #[test]
        fn masking_keeps_length_and_outside_and_is_idempotent(text in ".{0,120}") {
            check_masking(&text)?;
        }

        #[test]
        fn masking_with_secrets_keeps_length_and_is_idempotent(
            parts in proptest::collection::vec(prop_oneof![
                "[ a-zA-Z0-9+*\\-.,:/@àè\r\n]{0,12}",
                Just("IT60 X054 2811 1010 0000 0123 456".to_string()),
                Just("GB82WEST12345698765432".to_string()),
                Just("4111 1111 1111 1111".to_string()),
                Just("5555-5555-5555-4444".to_string()),
                Just("378282246310005".to_string()),
                Just("RSSMRA85T10A562S".to_string()),
            ], 0..10),
            glue in "[ \\-*.]{0,2}",
        ) {
            let text = parts.join(&glue);
            check_masking(&text)?;
        }
    }

    #[test]
    fn auto_submitted_no_is_allowed_anything_else_suppresses() {
        let v = |a: &str| auto_reply_allowed(Some(a), None, None, false, "mario@x.it");
        assert_eq!(v("no"), AutoVerdict::Allowed);
        assert_eq!(v(" No ; foo=bar"), AutoVerdict::Allowed);
        assert_eq!(v("NO (human)"), AutoVerdict::Allowed);
        assert_eq!(v("auto-replied"), AutoVerdict::Suppressed(AutoReason::AutoSubmitted));
        assert_eq!(v("auto-generated; owner-email=x@y.it"), AutoVerdict::Suppressed(AutoReason::AutoSubmitted));
        assert_eq!(v("auto-notified"), AutoVerdict::Suppressed(AutoReason::AutoSubmitted));
        assert_eq!(v(""), AutoVerdict::Suppressed(AutoReason::AutoSubmitted));
        assert_eq!(auto_reply_allowed(None, None, None, false, "mario@x.it"), AutoVerdict::Allowed);
    }

    #[test]
    fn precedence_suppresses_bulk_junk_list() {
        let v = |p: &str| auto_reply_allowed(None, Some(p), None, false, "mario@x.it");
        assert_eq!(v("bulk"), AutoVerdict::Suppressed(AutoReason::Precedence));
        assert_eq!(v("Junk"), AutoVerdict::Suppressed(AutoReason::Precedence));
        assert_eq!(v(" LIST "), AutoVerdict::Suppressed(AutoReason::Precedence));
        assert_eq!(v("first-class"), AutoVerdict::Allowed);
        assert_eq!(v("normal"), AutoVerdict::Allowed);
    }

    #[test]
    fn x_auto_response_suppress_values() {
        let v = |s: &str| auto_reply_allowed(None, None, Some(s), false, "mario@x.it");
        for value in ["All", "OOF", "AutoReply", "DR", "RN, NRN, OOF", "dr,rn", "autoreply"] {
            assert_eq!(v(value), AutoVerdict::Suppressed(AutoReason::Suppress), "{value}");
        }
        for value in ["RN", "NRN, RN", "None", ""] {
            assert_eq!(v(value), AutoVerdict::Allowed, "{value}");
        }
    }

    #[test]
    fn mailing_lists_and_no_reply_senders() {
        assert_eq!(
            auto_reply_allowed(None, None, None, true, "mario@x.it"),
            AutoVerdict::Suppressed(AutoReason::MailingList)
        );
        for from in [
            "MAILER-DAEMON@mx.example.com",
            "postmaster@x.it",
            "noreply@bank.it",
            "No-Reply <no-reply@x.it>",
            "do-not-reply@x.it",
            "DoNotReply@x.it",
            "noreply-fatture@x.it",
            "noreply+bounce@x.it",
        ] {
            assert_eq!(
                auto_reply_allowed(None, None, None, false, from),
                AutoVerdict::Suppressed(AutoReason::NoReplySender),
                "{from}"
            );
        }
        for from in ["mario@x.it", "noreplyer@x.it", "Noreply Fan <mario@x.it>", "postmasters@x.it", "no-reply"] {
            assert_eq!(auto_reply_allowed(None, None, None, false, from), AutoVerdict::Allowed, "{from}");
        }
        assert_eq!(AutoReason::NoReplySender.as_str(), "no_reply_sender");
        assert_eq!(AutoReason::MailingList.as_str(), "mailing_list");
        assert_eq!(AutoReason::AutoSubmitted.as_str(), "auto_submitted");
    }

    #[test]
    fn first_reason_wins() {
        assert_eq!(
            auto_reply_allowed(Some("auto-replied"), Some("bulk"), Some("All"), true, "noreply@x.it"),
            AutoVerdict::Suppressed(AutoReason::AutoSubmitted)
        );
        assert_eq!(
            auto_reply_allowed(Some("no"), Some("bulk"), Some("All"), true, "noreply@x.it"),
            AutoVerdict::Suppressed(AutoReason::Precedence)
        );
    }

    #[test]
    fn plus_addresses() {
        assert_eq!(split_plus("support+310@x.it"), ("support@x.it".into(), Some("310".into())));
        assert_eq!(split_plus(" Support+ABC@X.it "), ("support@x.it".into(), Some("abc".into())));
        assert_eq!(split_plus("support@x.it"), ("support@x.it".into(), None));
        assert_eq!(split_plus("support+@x.it"), ("support@x.it".into(), None));
        assert_eq!(split_plus("a+b+c@x.it"), ("a@x.it".into(), Some("b+c".into())));
        assert_eq!(split_plus("nodomain"), ("nodomain".into(), None));
        assert_eq!(plus_ticket("support+310@x.it"), Some(310));
        assert_eq!(plus_ticket("support+0@x.it"), None);
        assert_eq!(plus_ticket("support+-3@x.it"), None);
        assert_eq!(plus_ticket("support++3@x.it"), None);
        assert_eq!(plus_ticket("support+99999999999999999999@x.it"), None);
        assert_eq!(plus_ticket("support+abc@x.it"), None);
        assert_eq!(plus_ticket("support@x.it"), None);
    }

    #[test]
    fn normalizes_addresses() {
        assert_eq!(normalize_address("  Mario.Rossi@Example.IT "), Some("mario.rossi@example.it".into()));
        assert_eq!(normalize_address("a+b@x.co.uk"), Some("a+b@x.co.uk".into()));
        for bad in [
            "",
            "mario",
            "@x.it",
            "mario@",
            "mario@localhost",
            "a@b@x.it",
            "ma rio@x.it",
            "mario@x .it",
            "mario@.it",
            "mario@x.",
            "mario@x..it",
        ] {
            assert_eq!(normalize_address(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn normalized_addresses_are_stable(local in "[A-Za-z0-9._+-]{1,20}", domain in "[A-Za-z0-9-]{1,10}\\.[a-z]{2,4}") {
            let n = normalize_address(&format!(" {local}@{domain} ")).unwrap();
            prop_assert_eq!(normalize_address(&n), Some(n.clone()));
            prop_assert_eq!(split_plus(&n).0.matches('@').count(), 1);
        }

        #[test]
        fn address_functions_never_panic(text in "\\PC{0,60}") {
            let _ = split_plus(&text);
            let _ = plus_ticket(&text);
            let _ = normalize_address(&text);
            let _ = strip_reply_prefixes(&text);
            let _ = split_quoted(&text);
        }
    }

    #[test]
    fn strips_reply_and_forward_prefixes() {
        assert_eq!(strip_reply_prefixes("Re: RE: Fwd: [support#310] Linea giù"), "[support#310] Linea giù");
        assert_eq!(strip_reply_prefixes("R: I: Guasto fibra"), "Guasto fibra");
        assert_eq!(strip_reply_prefixes("AW: WG: Störung"), "Störung");
        assert_eq!(strip_reply_prefixes("Rif: RIF: fattura 12"), "fattura 12");
        assert_eq!(strip_reply_prefixes("  re:fw:FW :  Ordine  "), "Ordine");
        assert_eq!(strip_reply_prefixes("Re[2]: Ordine"), "Ordine");
        assert_eq!(strip_reply_prefixes("Regarding: nothing"), "Regarding: nothing");
        assert_eq!(strip_reply_prefixes("Rete lenta"), "Rete lenta");
        assert_eq!(strip_reply_prefixes("Info: orari"), "Info: orari");
        assert_eq!(strip_reply_prefixes("Re:"), "");
        assert_eq!(strip_reply_prefixes(""), "");
    }

    #[test]
    fn splits_gmail_replies() {
        let en = "Thanks, it works now.\n\nOn Mon, 3 Mar 2025 at 10:00, Sportello <support@x.it> wrote:\n> Please restart the router.\n>\n> Regards\n";
        assert_eq!(
            split_quoted(en),
            (
                "Thanks, it works now.",
                "On Mon, 3 Mar 2025 at 10:00, Sportello <support@x.it> wrote:\n> Please restart the router.\n>\n> Regards\n"
            )
        );
        let wrapped = "Grazie\r\n\r\nIl giorno lun 3 mar 2025 alle ore 10:00 Sportello <\r\nsupport@x.it> ha scritto:\r\n\r\n> Riavvii il router.\r\n";
        let (new, old) = split_quoted(wrapped);
        assert_eq!(new, "Grazie");
        assert!(old.starts_with("Il giorno lun 3 mar 2025"));
    }

    #[test]
    fn splits_outlook_replies() {
        let it = "Va bene, grazie.\r\n\r\n________________________________\r\nDa: Sportello <support@x.it>\r\nInviato: lunedì 3 marzo 2025 10:00\r\nA: Mario Rossi <mario@x.it>\r\nOggetto: [support#310] Linea giù\r\n\r\nRiavvii il router.\r\n";
        let (new, old) = split_quoted(it);
        assert_eq!(new, "Va bene, grazie.");
        assert!(old.starts_with("________________________________\r\nDa: Sportello"));
        let en = "OK.\n\nFrom: Sportello <support@x.it>\nSent: Monday, March 3, 2025 10:00 AM\nTo: Mario\nSubject: x\n\nRestart.";
        assert_eq!(split_quoted(en).0, "OK.");
        assert!(split_quoted(en).1.starts_with("From: Sportello"));
        let bold = "Fatto\n\n*Da:* Sportello\n*Data:* 3 marzo 2025\n*A:* Mario\n";
        assert_eq!(split_quoted(bold), ("Fatto", "*Da:* Sportello\n*Data:* 3 marzo 2025\n*A:* Mario\n"));
        let original = "Ciao\n\n-----Messaggio originale-----\nDa: x\n";
        assert_eq!(split_quoted(original), ("Ciao", "-----Messaggio originale-----\nDa: x\n"));
        let original_en = "Hi\n-----Original Message-----\nFrom: x\n";
        assert_eq!(split_quoted(original_en), ("Hi", "-----Original Message-----\nFrom: x\n"));
    }

    #[test]
    fn splits_apple_mail_and_thunderbird_replies() {
        let apple = "Risolto.\n\nInviato da iPhone\n\n> Il giorno 3 mar 2025, alle ore 10:00, Sportello <support@x.it> ha scritto:\n> \n> Riavvii il router.\n";
        let (new, old) = split_quoted(apple);
        assert_eq!(new, "Risolto.\n\nInviato da iPhone");
        assert!(old.starts_with("> Il giorno"));
        let apple_en = "Done.\n\n> On 3 Mar 2025, at 10:00, Sportello <support@x.it> wrote:\n> \n> Restart.\n";
        assert_eq!(split_quoted(apple_en).0, "Done.");
        let thunderbird = "Sì, funziona.\n\nIl 03/03/25 10:00, Sportello ha scritto:\n> Riavvii il router.\n\n-- \nMario Rossi\nACME Telecom\n";
        assert_eq!(split_quoted(thunderbird).0, "Sì, funziona.");
        let catalan =
            "D'acord.\n\nEl dl., 3 de març 2025 a les 10:00, Sportello <support@x.it> va escriure:\n> Reinicia.\n";
        assert_eq!(split_quoted(catalan).0, "D'acord.");
    }

    #[test]
    fn splits_bare_quote_runs_only_at_the_end() {
        let bare = "New text\n> old 1\n>\n> old 2\n\n";
        assert_eq!(split_quoted(bare), ("New text", "> old 1\n>\n> old 2\n\n"));
        let signed = "New text\n\n> old\n\n-- \nMario\n";
        assert_eq!(split_quoted(signed), ("New text", "> old\n\n-- \nMario\n"));
        let sig_first = "New text\n-- \nMario\n\n> old\n";
        assert_eq!(split_quoted(sig_first), ("New text\n-- \nMario", "> old\n"));
        let inline = "> question?\nanswer\n> other\n";
        assert_eq!(split_quoted(inline), ("> question?\nanswer", "> other\n"));
        let nothing = "Just a message\nwith two lines\n";
        assert_eq!(split_quoted(nothing), (nothing, ""));
        assert_eq!(split_quoted(""), ("", ""));
        // `From:` without `Sent:` is just text.
        let from = "From: the shop we ordered 3 lines\nthanks\n";
        assert_eq!(split_quoted(from), (from, ""));
        let on = "On Monday the line was down.\nToday it works.\n";
        assert_eq!(split_quoted(on), (on, ""));
    }
}
