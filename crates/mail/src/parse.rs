//! Inbound MIME to [`InboundMail`]: headers, bodies, attachments, automatic-message headers and
//! delivery status notifications.
//!
//! Decoding (charsets, RFC 2047 encoded words, RFC 2231 parameters, transfer encodings) is done
//! by `mail-parser`, which picks the text and HTML bodies the JMAP way (RFC 8621 §4.1.4). This
//! module shapes its result for the application and never panics: what cannot be read is left
//! out, and only input that is not a message at all is an error.
//!
//! Decisions:
//! - `text` joins every text/plain body part (a client may split the text around an inline
//!   image); with no text/plain body it is derived from the first HTML body.
//! - attachments are every part that is not a chosen body: inline images included, nested
//!   messages named after their subject (`.eml`), unnamed parts get `image-N.<subtype>` or
//!   `attachment-N.<ext>` (N counts unnamed images and other unnamed parts from 1).
//! - a non-standard bounce is a message from `mailer-daemon`/`postmaster` whose subject reads
//!   like a failure notice or which returns a message or its headers; recipients are the
//!   addresses in its text (or the returned message's `To`), statuses the first enhanced status
//!   code in the text (`5.0.0` when none).

use std::borrow::Cow;

use app::mail::{AutoHeaders, Bounce, InboundMail, Mailbox};
use app::tickets::AttachmentInput;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// Why bytes could not be read as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("empty message")]
    Empty,
    /// No header section, or no From, no Message-ID and no body.
    #[error("not an email message")]
    NotAMessage,
}

/// Parses one message as received (LMTP, pipe, IMAP).
pub fn parse(raw: &[u8]) -> Result<InboundMail, ParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let message = MessageParser::default().parse(raw).ok_or(ParseError::NotAMessage)?;
    let field_name = |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !message.headers().iter().any(|h| field_name(h.name.as_str())) {
        return Err(ParseError::NotAMessage);
    }

    let from = first_mailbox(message.from());
    let reply_to = first_mailbox(message.reply_to()).filter(|r| from.as_ref().is_none_or(|f| f.email != r.email));
    let (mut text, html) = bodies(&message);
    if text.is_empty() && html.is_none() && !message.parts.first().is_some_and(MessagePart::is_multipart) {
        text = unseparated_body(raw, &message).unwrap_or_default();
    }
    let mut mail = InboundMail {
        raw: raw.to_vec(),
        message_id: message.message_id().map(strip_id).filter(|id| !id.is_empty()),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        from,
        reply_to,
        to: mailboxes(message.to()),
        cc: mailboxes(message.cc()),
        subject: subject(&message),
        text,
        html,
        attachments: attachments(&message),
        auto: auto_headers(&message),
        bounce: None,
    };
    if mail.from.is_none()
        && mail.message_id.is_none()
        && mail.text.trim().is_empty()
        && mail.html.is_none()
        && mail.attachments.is_empty()
    {
        return Err(ParseError::NotAMessage);
    }
    mail.bounce = dsn(&message).or_else(|| nonstandard_bounce(&message, &mail));
    Ok(mail)
}

/// An id without angle brackets or surrounding space.
fn strip_id(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim().to_owned()
}

/// Message ids from an `In-Reply-To` or `References` value.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(AsRef::as_ref).collect(),
        _ => Vec::new(),
    };
    raw.into_iter().flat_map(str::split_whitespace).map(strip_id).filter(|id| !id.is_empty()).collect()
}

/// Every mailbox with an address in an address header.
fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(address) = address else {
        return Vec::new();
    };
    address
        .iter()
        .filter_map(|addr| {
            let email = addr.address.as_deref()?.trim().to_lowercase();
            if email.is_empty() {
                return None;
            }
            let name = addr.name.as_deref().map(collapse).unwrap_or_default();
            Some(Mailbox { email, name })
        })
        .collect()
}

/// The first mailbox of an address header.
fn first_mailbox(address: Option<&Address<'_>>) -> Option<Mailbox> {
    mailboxes(address).into_iter().next()
}

/// Trims and collapses whitespace runs (folding) to one space.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The decoded subject; a subject sent as raw 8-bit bytes that are not UTF-8 is read as
/// Windows-1252 (the usual culprit) instead of keeping replacement characters.
fn subject(message: &Message<'_>) -> String {
    let decoded = message.subject().map(collapse).unwrap_or_default();
    if decoded.contains('\u{FFFD}')
        && let Some(bytes) = raw_header(message, "subject")
        && std::str::from_utf8(bytes).is_err()
        && !bytes.windows(2).any(|w| w == b"=?")
    {
        return collapse(&latin(bytes));
    }
    decoded
}

/// The raw value bytes of a top-level header.
fn raw_header<'a>(message: &'a Message<'_>, name: &str) -> Option<&'a [u8]> {
    let header = message.headers().iter().find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    message.raw_message.get(header.offset_start as usize..header.offset_end as usize)
}

/// Windows-1252 bytes as text.
fn latin(bytes: &[u8]) -> String {
    mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252")
        .map(|decode| decode(bytes))
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// The text of a top-level header, trimmed and unfolded.
fn header_text(message: &Message<'_>, name: &str) -> Option<String> {
    let header = message.headers().iter().find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let text = match &header.value {
        HeaderValue::Text(t) => collapse(t),
        HeaderValue::TextList(list) => collapse(&list.join(", ")),
        _ => collapse(&String::from_utf8_lossy(raw_header(message, name)?)),
    };
    Some(text)
}

/// Whether a top-level header is present.
fn has_header(message: &Message<'_>, name: &str) -> bool {
    message.headers().iter().any(|h| h.name.as_str().eq_ignore_ascii_case(name))
}

/// Headers that mark automatic messages.
fn auto_headers(message: &Message<'_>) -> AutoHeaders {
    AutoHeaders {
        auto_submitted: header_text(message, "Auto-Submitted"),
        precedence: header_text(message, "Precedence"),
        x_auto_response_suppress: header_text(message, "X-Auto-Response-Suppress"),
        list: has_header(message, "List-Id") || has_header(message, "List-Unsubscribe"),
    }
}

/// `type/subtype` of a part, lowercased, without parameters.
fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let main = ct.ctype().trim().to_ascii_lowercase();
            match ct.subtype() {
                Some(sub) => format!("{main}/{}", sub.trim().to_ascii_lowercase()),
                None if main == "text" => "text/plain".to_owned(),
                None => main,
            }
        }
        None => match &part.body {
            PartType::Text(_) => "text/plain".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            PartType::Message(_) => "message/rfc822".to_owned(),
            _ => "application/octet-stream".to_owned(),
        },
    }
}

/// The text and HTML bodies.
fn bodies(message: &Message<'_>) -> (String, Option<String>) {
    let texts: Vec<Cow<'_, str>> = message
        .text_body
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .filter_map(|part| match &part.body {
            PartType::Text(t) if content_type(part) == "text/plain" => {
                Some(recovered_text(part).map_or(Cow::Borrowed(t.as_ref()), Cow::Owned))
            }
            _ => None,
        })
        .filter(|t| !t.trim().is_empty())
        .collect();
    let html =
        message.html_body.iter().filter_map(|&id| message.parts.get(id as usize)).find_map(|part| match &part.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        });
    let text = if texts.is_empty() {
        html.as_deref().map(app::text::html_to_text).unwrap_or_default()
    } else {
        texts.iter().map(|t| t.trim_end()).collect::<Vec<_>>().join("\n\n")
    };
    (text.replace("\r\n", "\n"), html)
}

/// The bytes of a base64 part `mail-parser` could not decode (it keeps the encoded text, e.g.
/// when the closing boundary is missing), when they are clean base64 after all.
fn recovered_base64(part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let base64 = part.content_transfer_encoding().is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
    if !part.is_encoding_problem || !base64 {
        return None;
    }
    lenient_base64(part.contents())
}

/// The text of a part recovered by [`recovered_base64`], decoded from its charset.
fn recovered_text(part: &MessagePart<'_>) -> Option<String> {
    let bytes = recovered_base64(part)?;
    let charset = part.content_type().and_then(|ct| ct.attribute("charset"));
    Some(match charset.and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes())) {
        Some(decode) => decode(&bytes),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Base64 with line breaks and padding; `None` on any other character.
fn lenient_base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padded = false;
    for &b in text {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padded = true;
                continue;
            }
            b if b.is_ascii_whitespace() => continue,
            _ => return None,
        };
        if padded {
            return None;
        }
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    (bits < 6).then_some(out)
}

/// The body of a message whose headers run straight into the text with no blank line: the
/// lines from the first one that is neither a header field nor a continuation.
fn unseparated_body(raw: &[u8], message: &Message<'_>) -> Option<String> {
    let mut offset = 0;
    for (i, line) in raw.split_inclusive(|&b| b == b'\n').enumerate() {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            return None;
        }
        if i == 0 && content.starts_with(b"From ") {
            // An mbox separator line (`From sender date`), as some pipes add.
            offset += line.len();
            continue;
        }
        let continuation = i > 0 && (content.starts_with(b" ") || content.starts_with(b"\t"));
        let field = content
            .iter()
            .position(|&b| b == b':')
            .is_some_and(|colon| colon > 0 && content[..colon].iter().all(|&b| b.is_ascii_graphic()));
        if !continuation && !field {
            let body = raw.get(offset..)?;
            let charset = message.parts.first()?.content_type().and_then(|ct| ct.attribute("charset"));
            let text = match charset.and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes())) {
                Some(decode) => decode(body),
                None => String::from_utf8_lossy(body).into_owned(),
            };
            let text = text.replace("\r\n", "\n").trim().to_owned();
            return (!text.is_empty()).then_some(text);
        }
        offset += line.len();
    }
    None
}

/// Every part that is not a body, in order.
fn attachments(message: &Message<'_>) -> Vec<AttachmentInput> {
    let mut unnamed = Unnamed::default();
    let mut out = Vec::new();
    for &id in &message.attachments {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        if part.is_multipart() {
            continue;
        }
        let ctype = content_type(part);
        let named = match &part.body {
            PartType::Message(nested) => {
                nested.subject().map(collapse).filter(|s| !s.is_empty()).map(|s| format!("{s}.eml"))
            }
            _ => None,
        }
        .or_else(|| part.attachment_name().map(collapse))
        .map(|n| safe_filename(&n))
        .filter(|n| !n.is_empty());
        let filename = named.unwrap_or_else(|| unnamed.name(&ctype));
        let data = recovered_base64(part).unwrap_or_else(|| part.contents().to_vec());
        out.push(AttachmentInput { filename, content_type: ctype, data });
    }
    out
}

/// A file name without path separators or control characters, at most 150 characters.
fn safe_filename(name: &str) -> String {
    let cleaned: String =
        name.chars()
            .map(|c| {
                if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                    '_'
                } else {
                    c
                }
            })
            .take(150)
            .collect();
    cleaned.trim().trim_matches('.').trim().to_owned()
}

/// Counts of parts without a name, for generated names.
#[derive(Default)]
struct Unnamed {
    /// Images so far.
    images: usize,
    /// Other parts so far.
    others: usize,
}

impl Unnamed {
    /// `image-N.png` for the Nth unnamed image, `attachment-N.pdf`, `attachment-N.bin`, … for
    /// the Nth other unnamed part.
    fn name(&mut self, ctype: &str) -> String {
        let (main, sub) = ctype.split_once('/').unwrap_or((ctype, ""));
        let sub = sub.split('+').next().unwrap_or_default();
        if main == "image" && !sub.is_empty() && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            self.images += 1;
            let ext = if sub == "jpeg" { "jpg" } else { sub };
            return format!("image-{}.{ext}", self.images);
        }
        self.others += 1;
        format!("attachment-{}.{}", self.others, extension(ctype))
    }
}

/// A file extension for a content type that is not an image.
fn extension(ctype: &str) -> &'static str {
    let main = ctype.split('/').next().unwrap_or_default();
    match ctype {
        "text/html" => "html",
        "message/rfc822" | "message/global" => "eml",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        _ if main == "text" || ctype == "message/delivery-status" || ctype == "message/global-delivery-status" => "txt",
        _ => "bin",
    }
}

/// A delivery status notification (RFC 3464): `multipart/report; report-type=delivery-status`.
fn dsn(message: &Message<'_>) -> Option<Bounce> {
    let root = message.parts.first()?;
    let ct = root.content_type()?;
    let is_report = ct.ctype().eq_ignore_ascii_case("multipart")
        && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && ct.attribute("report-type").is_some_and(|r| r.trim().eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let mut bounce = Bounce::default();
    if let Some(status) = message
        .parts
        .iter()
        .find(|p| matches!(content_type(p).as_str(), "message/delivery-status" | "message/global-delivery-status"))
    {
        let (recipients, statuses) = delivery_status(&String::from_utf8_lossy(status.contents()));
        bounce.recipients = recipients;
        bounce.statuses = statuses;
    }
    bounce.original_message_id = returned_message_id(message);
    bounce.permanent = !bounce.statuses.is_empty() && bounce.statuses.iter().all(|s| s.starts_with('5'));
    Some(bounce)
}

/// Recipients and statuses from a message/delivery-status body: one group of fields per
/// recipient after the per-message group.
fn delivery_status(body: &str) -> (Vec<String>, Vec<String>) {
    let mut recipients = Vec::new();
    let mut statuses = Vec::new();
    for group in unfold(body).split(|l: &String| l.trim().is_empty()) {
        let mut recipient = None;
        let mut original = None;
        let mut status = None;
        for line in group {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "final-recipient" => recipient = Some(typed_address(value)),
                "original-recipient" => original = Some(typed_address(value)),
                "status" => status = value.split_whitespace().next().map(str::to_owned),
                _ => {}
            }
        }
        if let Some(rcpt) = recipient.or(original).filter(|r| !r.is_empty()) {
            recipients.push(rcpt);
            statuses.push(status.unwrap_or_default());
        }
    }
    (recipients, statuses)
}

/// Header-style lines with continuation lines joined.
fn unfold(body: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in body.lines() {
        if line.starts_with([' ', '\t'])
            && !line.trim().is_empty()
            && let Some(last) = lines.last_mut()
            && !last.trim().is_empty()
        {
            last.push(' ');
            last.push_str(line.trim());
        } else {
            lines.push(line.to_owned());
        }
    }
    lines
}

/// `rfc822; Mario@Example.IT` → `mario@example.it`.
fn typed_address(value: &str) -> String {
    let addr = value.split_once(';').map_or(value, |(_, a)| a);
    addr.trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase()
}

/// The Message-ID of the returned message (message/rfc822) or of its headers
/// (text/rfc822-headers).
fn returned_message_id(message: &Message<'_>) -> Option<String> {
    message.parts.iter().find_map(|part| match &part.body {
        PartType::Message(nested) => nested.message_id().map(strip_id).filter(|id| !id.is_empty()),
        _ if matches!(content_type(part).as_str(), "text/rfc822-headers" | "message/global-headers") => {
            let headers = MessageParser::default().parse_headers(part.contents())?;
            headers.message_id().map(strip_id).filter(|id| !id.is_empty())
        }
        _ => None,
    })
}

/// Subjects of the usual failure notices (Postfix, Exim, Gmail, Exchange, qmail, Sendmail).
const BOUNCE_SUBJECTS: [&str; 10] = [
    "undelivered mail returned to sender",
    "delivery status notification (failure)",
    "mail delivery failed",
    "undeliverable",
    "non recapitabile",
    "delivery failure",
    "failure notice",
    "returned mail",
    "mail delivery failure",
    "delivery has failed",
];

/// A bounce that is not a proper DSN: see the module documentation.
fn nonstandard_bounce(message: &Message<'_>, mail: &InboundMail) -> Option<Bounce> {
    let from = mail.from.as_ref()?;
    if !is_daemon(&from.email) {
        return None;
    }
    let subject = mail.subject.to_lowercase();
    let subject_says = BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s));
    let original = message.parts.iter().find_map(|p| p.message());
    let original_id = returned_message_id(message);
    if !subject_says && original.is_none() && original_id.is_none() {
        return None;
    }
    let mut recipients: Vec<String> = Vec::new();
    let original_from = original.and_then(|m| first_mailbox(m.from())).map(|m| m.email);
    for addr in addresses_in(&mail.text) {
        if !is_daemon(&addr)
            && addr != from.email
            && original_from.as_deref() != Some(addr.as_str())
            && !recipients.contains(&addr)
        {
            recipients.push(addr);
        }
    }
    if recipients.is_empty()
        && let Some(original) = original
    {
        recipients = mailboxes(original.to()).into_iter().map(|m| m.email).collect();
    }
    let status = enhanced_status(&mail.text).unwrap_or_else(|| "5.0.0".to_owned());
    let statuses = vec![status; recipients.len()];
    Some(Bounce {
        permanent: !statuses.is_empty() && statuses.iter().all(|s| s.starts_with('5')),
        recipients,
        statuses,
        original_message_id: original_id,
    })
}

/// Whether an address is a mail system's own (`mailer-daemon@`, `postmaster@`).
fn is_daemon(email: &str) -> bool {
    let local = email.split('@').next().unwrap_or_default();
    matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon" | "mailerdaemon")
}

/// Addresses written in a text (`mario@example.it`, `<mario@example.it>`), lowercased.
fn addresses_in(text: &str) -> Vec<String> {
    let is_addr_char = |c: char| c.is_alphanumeric() || "._%+-@'".contains(c);
    text.split(|c: char| !is_addr_char(c))
        .map(|w| w.trim_matches(|c: char| c == '.' || c == '\'' || c == '-'))
        .filter(|w| {
            let Some((local, domain)) = w.split_once('@') else {
                return false;
            };
            !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.')
        })
        .map(str::to_lowercase)
        .collect()
}

/// The first enhanced status code (`5.1.1`, RFC 3463) in a text.
fn enhanced_status(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_end_matches('.'))
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && (1..=3).contains(&parts[1].len())
                && (1..=3).contains(&parts[2].len())
                && parts[1..].iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_owned)
}
