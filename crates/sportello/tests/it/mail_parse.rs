//! Inbound MIME parsing (`mail::parse`) against a corpus of hand-written messages in the shapes
//! real clients produce, and a property test that no input makes it panic.

use std::path::PathBuf;

use app::mail::{Bounce, InboundMail, Mailbox};
use mail::parse::{ParseError, parse};
use proptest::prelude::*;

/// Every fixture, for the mutation property test.
const FIXTURES: [&str; 18] = [
    "outlook_alternative.eml",
    "gmail_alternative.eml",
    "apple_mixed_related.eml",
    "thunderbird_flowed.eml",
    "mobile_plain.eml",
    "iso2022jp.eml",
    "rfc2047_split_subject.eml",
    "html_only_script.eml",
    "forwarded_rfc822.eml",
    "dsn_postfix.eml",
    "gmail_bounce.eml",
    "auto_reply.eml",
    "mailing_list.eml",
    "broken_missing_boundary.eml",
    "broken_bad_base64.eml",
    "broken_8bit_header.eml",
    "broken_no_blank_line.eml",
    "empty.eml",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/mail").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parsed(name: &str) -> InboundMail {
    let raw = fixture(name);
    let mail = parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(mail.raw, raw, "{name}: raw kept as is");
    mail
}

fn mailbox(email: &str, name: &str) -> Mailbox {
    Mailbox { email: email.into(), name: name.into() }
}

fn attachment_summary(mail: &InboundMail) -> Vec<(&str, &str, usize)> {
    mail.attachments.iter().map(|a| (a.filename.as_str(), a.content_type.as_str(), a.data.len())).collect()
}

#[test]
fn outlook_alternative_windows_1252_quoted_printable() {
    let mail = parsed("outlook_alternative.eml");
    assert_eq!(mail.subject, "R: [#310] Guasto linea ADSL – ancora disservizio");
    assert_eq!(mail.from, Some(mailbox("paolo.ferri@ferri-impianti.example", "Paolo Ferri")));
    assert_eq!(mail.reply_to, None);
    assert_eq!(mail.to, vec![mailbox("assistenza+310@sportello.example", "Sportello Assistenza")]);
    assert_eq!(mail.cc, vec![mailbox("amministrazione@ferri-impianti.example", "Ufficio Amministrazione – Ferri")]);
    assert_eq!(
        mail.message_id.as_deref(),
        Some("AM0PR04MB6417C0FFEE0123456789ABCDEF@AM0PR04MB6417.eurprd04.prod.outlook.example")
    );
    assert_eq!(mail.in_reply_to, vec!["ticket-310.1699870500.k9x@sportello.example"]);
    assert_eq!(mail.references, vec!["ticket-310.1699870500.k9x@sportello.example"]);
    assert!(mail.text.contains("il modem si disconnette ogni 10 minuti."), "soft line break joined: {}", mail.text);
    assert!(mail.text.contains("Il canone è di 39,90 € al mese"), "{}", mail.text);
    assert!(mail.text.contains("utilizzabile da lunedì.\n"), "{}", mail.text);
    assert!(mail.text.contains("-----Messaggio originale-----\nDa: Sportello Assistenza"), "{}", mail.text);
    assert!(!mail.text.contains('\r'), "line ends normalised");
    let html = mail.html.as_deref().unwrap();
    assert!(html.contains(r#"<p class="MsoNormal">Il canone è di 39,90 € al mese"#), "{html}");
    assert!(mail.attachments.is_empty());
    assert_eq!(mail.auto, Default::default());
    assert_eq!(mail.bounce, None);
}

#[test]
fn gmail_alternative_utf8_base64_with_threading() {
    let mail = parsed("gmail_alternative.eml");
    assert_eq!(mail.subject, "Re: [#311] Fibre down at Girona office");
    assert_eq!(mail.from, Some(mailbox("laura.puig@gmail.example", "Laura Puig")));
    assert_eq!(mail.reply_to, None, "Reply-To differing only in case is the From address");
    assert_eq!(
        mail.message_id.as_deref(),
        Some("CAKx9fH3+Z0p2wQ_8y=Vb7nN1sT4uE5rG6hJ7kL8mN9oP0qR1sA@mail.gmail.example")
    );
    assert_eq!(mail.in_reply_to, vec!["ticket-311.1699870600.r2e@sportello.example"]);
    assert_eq!(
        mail.references,
        vec!["ticket-311.1699870500.q1w@sportello.example", "ticket-311.1699870600.r2e@sportello.example"]
    );
    assert!(mail.text.starts_with("Hi,\n\nthe fibre connection at our Girona office dropped again"), "{}", mail.text);
    assert!(mail.text.contains("08:40 – the ONT shows a red LOS light"));
    assert!(mail.text.contains("<assistenza@sportello.example> wrote:\n> We opened ticket #311"), "{}", mail.text);
    assert!(mail.html.as_deref().unwrap().contains(r#"<div class="gmail_quote">"#));
    assert!(mail.attachments.is_empty());
}

#[test]
fn apple_mail_mixed_related_inline_image_and_rfc2231_filename() {
    let mail = parsed("apple_mixed_related.eml");
    assert_eq!(mail.subject, "Linea muta - foto ripartitore e fattura");
    assert_eq!(mail.from, Some(mailbox("chiara.neri@icloud.example", "Chiara Neri")));
    assert_eq!(mail.to, vec![mailbox("assistenza@sportello.example", "")]);
    assert_eq!(mail.message_id.as_deref(), Some("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@icloud.example"));
    assert!(mail.text.contains("la linea telefonica è muta da tre giorni."), "{}", mail.text);
    let html = mail.html.as_deref().unwrap();
    assert!(html.contains(r#"<img src="cid:5A1B2C3D-0E4F-4A5B-8C6D-7E8F9A0B1C2D@home""#), "{html}");
    assert_eq!(
        attachment_summary(&mail),
        vec![("ripartitore.png", "image/png", 69), ("fattura_luglio_€.pdf", "application/pdf", 193)]
    );
    assert!(mail.attachments[0].data.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(mail.attachments[1].data.starts_with(b"%PDF-1.4"));
    assert!(mail.attachments[1].data.ends_with(b"%%EOF\n"));
}

#[test]
fn thunderbird_format_flowed_iso_8859_15() {
    let mail = parsed("thunderbird_flowed.eml");
    assert_eq!(mail.subject, "Addebito intervento tecnico");
    assert_eq!(mail.from, Some(mailbox("marco@galli.example", "Marco Galli")));
    assert_eq!(mail.message_id.as_deref(), Some("8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f@galli.example"));
    assert!(mail.text.contains("l'addebito di 25 € per l'intervento"), "{}", mail.text);
    assert!(mail.text.contains("la velocità resta sotto i 10 Mbit/s."));
    assert!(mail.text.contains("> Il tecnico è passato venerdì."));
    assert_eq!(mail.html, None);
    assert!(mail.attachments.is_empty());
}

#[test]
fn mobile_plain_text_base64_without_message_id() {
    let mail = parsed("mobile_plain.eml");
    assert_eq!(mail.message_id, None);
    assert_eq!(mail.subject, "Sense connexio");
    assert_eq!(mail.from, Some(mailbox("jordi.soler@mobil.example", "Jordi Soler")));
    assert!(mail.text.starts_with("Bon dia, no tinc connexió a internet des d'ahir a la nit."), "{}", mail.text);
    assert!(mail.text.ends_with("Enviat des del meu mòbil"));
    assert_eq!(mail.html, None);
    assert!(mail.in_reply_to.is_empty() && mail.references.is_empty());
}

#[test]
fn iso_2022_jp_subject_sender_and_body() {
    let mail = parsed("iso2022jp.eml");
    assert_eq!(mail.subject, "光回線の障害");
    assert_eq!(mail.from, Some(mailbox("tanaka@example.jp", "田中太郎")));
    assert_eq!(mail.text, "お世話になっております。\n昨日から光回線が繋がりません。\n確認をお願いします。");
}

#[test]
fn rfc2047_subject_split_across_encoded_words_and_folded() {
    let mail = parsed("rfc2047_split_subject.eml");
    assert_eq!(mail.subject, "Guasto fibra a Canzò - urgente");
    assert_eq!(mail.from, Some(mailbox("nicolo.bianchi@example.it", "Nicolò Bianchi")));
    assert_eq!(mail.text, "La fibra a Canzò è giù da stamattina, tutta via Mazzini.");
}

#[test]
fn html_only_keeps_raw_html_and_derives_text() {
    let mail = parsed("html_only_script.eml");
    assert_eq!(mail.subject, "Router in blocco");
    let html = mail.html.as_deref().unwrap();
    assert!(html.contains("<script>document.location="), "raw, the app sanitises: {html}");
    assert!(html.contains(r#"onerror="alert('pwned')""#));
    assert_eq!(mail.text, "Il router della filiale di Como è in blocco.\n\nPotete richiamarci al numero 031 123456?");
    assert!(mail.attachments.is_empty());
}

#[test]
fn forwarded_message_becomes_an_eml_attachment() {
    let mail = parsed("forwarded_rfc822.eml");
    assert_eq!(mail.subject, "I: Guasto ripetitore Monte Cucco");
    assert_eq!(mail.text, "Vi inoltro la segnalazione del tecnico comunale.");
    assert_eq!(mail.attachments.len(), 1);
    let eml = &mail.attachments[0];
    assert_eq!(eml.filename, "Guasto ripetitore Monte Cucco.eml");
    assert_eq!(eml.content_type, "message/rfc822");
    let inner = parse(&eml.data).unwrap();
    assert_eq!(inner.subject, "Guasto ripetitore Monte Cucco");
    assert_eq!(inner.message_id.as_deref(), Some("orig-9@comune-example.it"));
    assert_eq!(inner.text, "Il ripetitore radio sul Monte Cucco non trasmette da stasera.");
    assert_eq!(mail.bounce, None);
}

#[test]
fn postfix_dsn_gives_recipients_statuses_and_our_message_id() {
    let mail = parsed("dsn_postfix.eml");
    assert_eq!(mail.subject, "Undelivered Mail Returned to Sender");
    assert_eq!(mail.from, Some(mailbox("mailer-daemon@mx.sportello.example", "Mail Delivery System")));
    assert_eq!(mail.auto.auto_submitted.as_deref(), Some("auto-replied"));
    assert_eq!(
        mail.bounce,
        Some(Bounce {
            recipients: vec!["mario.rossi@example.it".into(), "guasti@example.it".into()],
            statuses: vec!["5.1.1".into(), "5.2.2".into()],
            original_message_id: Some("ticket-310.1700000000.abc@sportello.example".into()),
            permanent: true,
        })
    );
    assert!(mail.text.starts_with("This is the mail system at host mx.sportello.example."));
    assert_eq!(
        attachment_summary(&mail).iter().map(|a| (a.0, a.1)).collect::<Vec<_>>(),
        vec![("attachment-1.txt", "message/delivery-status"), ("attachment-2.txt", "text/rfc822-headers")]
    );
}

#[test]
fn dsn_with_a_delayed_recipient_is_not_permanent() {
    let raw = fixture("dsn_postfix.eml");
    let raw = String::from_utf8(raw).unwrap().replace("Status: 5.2.2", "Status: 4.2.2");
    let bounce = parse(raw.as_bytes()).unwrap().bounce.unwrap();
    assert_eq!(bounce.statuses, vec!["5.1.1", "4.2.2"]);
    assert!(!bounce.permanent);
}

#[test]
fn gmail_style_nonstandard_bounce_is_recognised() {
    let mail = parsed("gmail_bounce.eml");
    assert_eq!(mail.subject, "Delivery Status Notification (Failure)");
    assert_eq!(
        mail.bounce,
        Some(Bounce {
            recipients: vec!["giulia.verdi@example.net".into()],
            statuses: vec!["5.1.1".into()],
            original_message_id: Some("ticket-312.1700651040.zz9@sportello.example".into()),
            permanent: true,
        })
    );
    assert_eq!(attachment_summary(&mail)[0].0, "[#312] Intervento programmato.eml");
}

#[test]
fn a_forwarded_bounce_from_a_person_is_not_a_bounce() {
    let raw = fixture("gmail_bounce.eml");
    let raw = String::from_utf8(raw)
        .unwrap()
        .replace("From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>", "From: Anna <anna@example.it>")
        .replace("Subject: Delivery Status", "Subject: Fwd: Delivery Status");
    let mail = parse(raw.as_bytes()).unwrap();
    assert_eq!(mail.bounce, None);
}

#[test]
fn read_receipt_report_is_not_a_bounce() {
    let raw = b"From: postmaster@example.it\r\nTo: assistenza@sportello.example\r\nSubject: Letto: Guasto\r\n\
Message-ID: <mdn-1@example.it>\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nIl messaggio e' stato letto.\r\n--b--\r\n";
    assert_eq!(parse(raw).unwrap().bounce, None);
}

#[test]
fn auto_reply_headers() {
    let mail = parsed("auto_reply.eml");
    assert_eq!(mail.subject, "Risposta automatica: [#313] Guasto centralino");
    assert_eq!(mail.auto.auto_submitted.as_deref(), Some("auto-replied"));
    assert_eq!(mail.auto.precedence.as_deref(), Some("bulk"));
    assert_eq!(mail.auto.x_auto_response_suppress.as_deref(), Some("All"));
    assert!(!mail.auto.list);
    assert_eq!(mail.in_reply_to, vec!["ticket-313.1700744000.x1@sportello.example"]);
    assert_eq!(mail.bounce, None);
}

#[test]
fn mailing_list_headers() {
    let mail = parsed("mailing_list.eml");
    assert!(mail.auto.list);
    assert_eq!(mail.auto.precedence.as_deref(), Some("list"));
    assert_eq!(mail.auto.auto_submitted, None);
    assert_eq!(mail.to, vec![mailbox("outages@lists.operators.example", "")]);
    assert!(mail.text.starts_with("Planned maintenance on the Milan-Turin backbone, 2023-11-28"));
}

#[test]
fn missing_closing_boundary_keeps_text_and_attachment() {
    let mail = parsed("broken_missing_boundary.eml");
    assert_eq!(mail.text, "In allegato il verbale dell'intervento sulla linea.");
    assert_eq!(attachment_summary(&mail), vec![("verbale.pdf", "application/pdf", 193)]);
    assert!(mail.attachments[0].data.starts_with(b"%PDF-1.4"));
}

#[test]
fn bad_base64_body_is_kept_as_sent() {
    let mail = parsed("broken_bad_base64.eml");
    assert_eq!(mail.subject, "Linea disturbata");
    assert_eq!(mail.from, Some(mailbox("piero@gatti.example", "Piero Gatti")));
    assert!(mail.text.contains("not base64 at all"), "{}", mail.text);
}

#[test]
fn raw_latin1_bytes_in_a_header_are_read_as_windows_1252() {
    let mail = parsed("broken_8bit_header.eml");
    assert_eq!(mail.subject, "Linea guasta a Forlì");
    assert_eq!(mail.text, "La linea telefonica a Forlì non funziona.");
}

#[test]
fn headers_running_into_the_body_without_a_blank_line() {
    let mail = parsed("broken_no_blank_line.eml");
    assert_eq!(mail.subject, "Telefono muto");
    assert_eq!(mail.message_id.as_deref(), Some("broken-17@leone.example"));
    assert_eq!(mail.text, "Il telefono di casa e' muto da ieri sera.\nGrazie.");
}

#[test]
fn empty_and_headerless_input_is_not_a_message() {
    assert_eq!(parse(&fixture("empty.eml")).unwrap_err(), ParseError::Empty);
    assert_eq!(parse(b" \r\n\r\n\t").unwrap_err(), ParseError::Empty);
    assert_eq!(parse(b"just some words, no header at all").unwrap_err(), ParseError::NotAMessage);
    assert_eq!(parse(b"X-Nothing: here\r\n\r\n").unwrap_err(), ParseError::NotAMessage);
}

#[test]
fn unnamed_parts_get_generated_names() {
    let raw = b"From: a@example.it\r\nSubject: foto\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nEcco.\r\n\
--x\r\nContent-Type: image/JPEG\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n\
--x\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n\
--x\r\nContent-Type: image/png; name=\"=?UTF-8?Q?antenna=5F=C3=A8.png?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n\
--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.it\r\n\r\nsenza oggetto\r\n\
--x--\r\n";
    let mail = parse(raw).unwrap();
    assert_eq!(mail.text, "Ecco.");
    assert_eq!(
        attachment_summary(&mail),
        vec![
            ("image-1.jpg", "image/jpeg", 6),
            ("attachment-1.bin", "application/octet-stream", 3),
            ("antenna_è.png", "image/png", 4),
            ("attachment-2.eml", "message/rfc822", 35),
        ]
    );
    assert_eq!(mail.attachments[3].data, b"From: b@example.it\r\n\r\nsenza oggetto");
}

#[test]
fn nul_bytes_and_huge_headers_do_not_break_parsing() {
    let mut raw = b"From: a@example.it\r\nSubject: nul\x00byte\r\nX-Huge: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 1 << 20));
    raw.extend(b"\r\n");
    for i in 0..5_000 {
        raw.extend(format!("X-Many-{i}: v\r\n").as_bytes());
    }
    raw.extend(b"\r\ncorpo\x00con NUL\r\n");
    let mail = parse(&raw).unwrap();
    assert_eq!(mail.from, Some(mailbox("a@example.it", "")));
    assert!(mail.text.starts_with("corpo"));
}

/// Byte strings that break structure, inserted into fixtures.
const INSERTS: &[&[u8]] = &[b"\r\n", b"\n--", b"=?", b"\x00", b"=", b";"];

/// Bytes that look like pieces of MIME messages, for random structures.
fn mime_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"From: =?UTF-8?Q?A=C3=A8?= <a@example.it>\r\n"[..]),
        Just(&b"Message-ID: <x@y>\r\n"[..]),
        Just(&b"Subject: =?ISO-2022-JP?B?GyRCOHcyc0AeGyhC?=\r\n"[..]),
        Just(&b"Content-Type: multipart/mixed; boundary=b\r\n"[..]),
        Just(&b"Content-Type: multipart/alternative; boundary=\"c\"\r\n"[..]),
        Just(&b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"[..]),
        Just(&b"Content-Type: message/rfc822\r\n"[..]),
        Just(&b"Content-Type: message/delivery-status\r\n"[..]),
        Just(&b"Content-Type: text/rfc822-headers\r\n"[..]),
        Just(&b"Content-Type: text/html; charset=iso-2022-jp\r\n"[..]),
        Just(&b"Content-Type: image/png; name*=utf-8''%E2%82\r\n"[..]),
        Just(&b"Content-Transfer-Encoding: base64\r\n"[..]),
        Just(&b"Content-Transfer-Encoding: quoted-printable\r\n"[..]),
        Just(&b"Final-Recipient: rfc822; x@y\r\nStatus: 5.1.1\r\n"[..]),
        Just(&b"From: MAILER-DAEMON@example.it\r\nSubject: Mail delivery failed\r\n"[..]),
        Just(&b"--b\r\n"[..]),
        Just(&b"--b--\r\n"[..]),
        Just(&b"--c\r\n"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\n"[..]),
        Just(&b" folded\r\n"[..]),
        Just(&b"=E2=82=AC=\r\n"[..]),
        Just(&b"4oKs===\r\n"[..]),
        Just(&b"\x1b$B\x1b(B\xff\x00\r\n"[..]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&raw);
    }

    #[test]
    fn mime_soup_never_panics(raw in mime_soup()) {
        if let Ok(mail) = parse(&raw) {
            prop_assert_eq!(mail.raw, raw);
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        inserts in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(INSERTS)), 0..4),
    ) {
        let mut raw = fixture(FIXTURES[which]);
        if !raw.is_empty() {
            for (at, byte) in flips {
                let i = at.index(raw.len());
                raw[i] = byte;
            }
            for (at, bytes) in inserts {
                let i = at.index(raw.len());
                raw.splice(i..i, bytes.iter().copied());
            }
            raw.truncate(cut.index(raw.len() + 1));
        }
        let _ = parse(&raw);
    }
}
