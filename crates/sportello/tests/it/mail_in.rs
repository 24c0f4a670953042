//! Email in: the LMTP listener spoken to by a real client (Python's `smtplib.LMTP`) and by hand,
//! the `mail ingest` pipe as a process, and the decisions of `App::ingest_mail` — threading by
//! subject tag, plus-address and Message-ID, senders, policies, loops, masking, bounces.

use std::io::Write;
use std::process::{Command, Stdio};

use app::ingest::{Outcome, QueueMailInput};
use app::mail::Delivery;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_sportello");

/// Gives the `support` queue its addresses.
async fn addresses(t: &Ctx, cast: &Cast) {
    let input = QueueMailInput {
        address: Some("support@op.example".into()),
        comment_address: Some("support-comment@op.example".into()),
        ..Default::default()
    };
    t.app.set_queue_mail(&cast.admin, "support", input).await.unwrap();
}

/// A plain message.
fn message(from: &str, to: &str, subject: &str, id: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Sun, 22 Nov 2026 09:00:00 +0100\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn ingest(t: &Ctx, raw: Vec<u8>, to: &str) -> Outcome {
    match mail::deliver::deliver(&t.app, &raw, &Delivery::Address(to.into())).await.unwrap() {
        mail::deliver::Delivered::Taken(o) => o,
        other => panic!("not taken: {other:?}"),
    }
}

both!(
    async fn replies_thread_by_subject_tag_plus_address_and_message_id(t: &Ctx) {
        let cast = t.seed().await;
        addresses(t, &cast).await;
        let first = message(
            "Anna <anna@acme.example>",
            "support@op.example",
            "Fibra giù a Lecco",
            "a1@acme.example",
            "",
            "La linea è ferma da stamattina.",
        );
        let Outcome::NewTicket(n) = ingest(t, first, "support@op.example").await else { panic!() };
        let tk = t.app.ticket(&cast.admin, n).await.unwrap();
        assert_eq!(tk.requestors[0].email, "anna@acme.example");
        assert_eq!(tk.title, "Fibra giù a Lecco");
        let msgs = t.app.messages(&cast.admin, n).await.unwrap();
        assert_eq!(msgs[0].channel, domain::Channel::Email);
        assert!(msgs[0].body_text.contains("ferma da stamattina"));

        // By subject tag (also RT's form), by plus-address, by In-Reply-To.
        let tagged = message(
            "anna@acme.example",
            "support@op.example",
            &format!("Re: [support#{n}] Fibra giù"),
            "a2@acme.example",
            "",
            "Ancora nulla.",
        );
        assert_eq!(ingest(t, tagged, "support@op.example").await, Outcome::Reply(n));
        let rt = message(
            "anna@acme.example",
            "support@op.example",
            &format!("R: [support #{n}] Fibra"),
            "a3@acme.example",
            "",
            "Grazie.",
        );
        assert_eq!(ingest(t, rt, "support@op.example").await, Outcome::Reply(n));
        let plus = message(
            "anna@acme.example",
            &format!("support+{n}@op.example"),
            "senza tag",
            "a4@acme.example",
            "",
            "Via plus.",
        );
        assert_eq!(ingest(t, plus, &format!("support+{n}@op.example")).await, Outcome::Reply(n));
        let threaded = message(
            "bruno@acme.example",
            "support@op.example",
            "Re: la linea",
            "b1@acme.example",
            "In-Reply-To: <a1@acme.example>\r\n",
            "Anche qui.",
        );
        assert_eq!(ingest(t, threaded, "support@op.example").await, Outcome::Reply(n));
        assert_eq!(t.app.messages(&cast.admin, n).await.unwrap().len(), 5);

        // The same delivery twice changes nothing.
        let again = message(
            "anna@acme.example",
            "support@op.example",
            &format!("Re: [support#{n}] Fibra giù"),
            "a2@acme.example",
            "",
            "Ancora nulla.",
        );
        assert_eq!(ingest(t, again, "support@op.example").await, Outcome::Duplicate(Some(n)));
        assert_eq!(t.app.messages(&cast.admin, n).await.unwrap().len(), 5);

        // A reply to a resolved ticket reopens it.
        t.app
            .update_ticket(
                &cast.admin,
                n,
                app::tickets::TicketPatch { status: Some(domain::Status::Resolved), ..Default::default() },
            )
            .await
            .unwrap();
        let reopen = message(
            "anna@acme.example",
            "support@op.example",
            &format!("[support#{n}] di nuovo"),
            "a5@acme.example",
            "",
            "Di nuovo giù.",
        );
        assert_eq!(ingest(t, reopen, "support@op.example").await, Outcome::Reply(n));
        assert_eq!(t.app.ticket(&cast.admin, n).await.unwrap().status, domain::Status::Open);

        // An agent answering from their own address is the agent's reply; via the comment
        // address, an internal comment.
        let agent = message(
            "agent@op.example",
            "support@op.example",
            &format!("Re: [support#{n}]"),
            "g1@op.example",
            "",
            "Abbiamo riavviato.",
        );
        assert_eq!(ingest(t, agent, "support@op.example").await, Outcome::Reply(n));
        let note = message(
            "agent@op.example",
            "support-comment@op.example",
            &format!("[support#{n}] nota"),
            "g2@op.example",
            "",
            "Nota interna.",
        );
        assert_eq!(ingest(t, note, "support-comment@op.example").await, Outcome::Comment(n));
        let last = t.app.messages(&cast.admin, n).await.unwrap();
        assert_eq!(last.last().unwrap().kind, domain::MessageKind::Comment);
        assert!(last.last().unwrap().author.contains("agent@op.example"));
        let public = t.app.messages(&cast.anna, n).await.unwrap();
        assert!(public.iter().all(|m| m.kind == domain::MessageKind::Reply));
    }
);

both!(
    async fn strangers_cannot_write_into_a_ticket_and_unknown_senders_follow_the_queue_policy(t: &Ctx) {
        let cast = t.seed().await;
        addresses(t, &cast).await;
        let first = message("anna@acme.example", "support@op.example", "Guasto", "s1@acme.example", "", "x");
        let Outcome::NewTicket(n) = ingest(t, first, "support@op.example").await else { panic!() };
        // Dario (another customer) uses Anna's tag: kept as an internal comment for review.
        let intruder = message(
            "dario@other.example",
            "support@op.example",
            &format!("[support#{n}] chiudete"),
            "d1@other.example",
            "",
            "Chiudete pure.",
        );
        assert_eq!(ingest(t, intruder, "support@op.example").await, Outcome::Comment(n));
        let seen = t.app.messages(&cast.anna, n).await.unwrap();
        assert!(seen.iter().all(|m| !m.body_text.contains("Chiudete")), "the requestor never sees it");
        // With the other policy, the stranger gets their own ticket.
        let input = QueueMailInput { stranger_reply: Some("new_ticket".into()), ..Default::default() };
        t.app.set_queue_mail(&cast.admin, "support", input).await.unwrap();
        let intruder = message(
            "dario@other.example",
            "support@op.example",
            &format!("[support#{n}] chiudete"),
            "d2@other.example",
            "",
            "Chiudete.",
        );
        let Outcome::NewTicket(m) = ingest(t, intruder, "support@op.example").await else { panic!() };
        assert_ne!(m, n);
        assert_eq!(t.app.ticket(&cast.admin, m).await.unwrap().requestors[0].email, "dario@other.example");

        // Unknown sender: a contact and a ticket by default…
        let unknown =
            message("Ignoto <nuovo@nowhere.example>", "support@op.example", "Info", "u1@nowhere.example", "", "Salve");
        let Outcome::NewTicket(u) = ingest(t, unknown, "support@op.example").await else { panic!() };
        assert_eq!(t.app.ticket(&cast.admin, u).await.unwrap().requestors[0].email, "nuovo@nowhere.example");
        // … held for moderation, or refused (members only).
        for (policy, expect_held) in [("hold", true), ("refuse", false)] {
            let input = QueueMailInput { unknown_sender: Some(policy.into()), ..Default::default() };
            t.app.set_queue_mail(&cast.admin, "support", input).await.unwrap();
            let raw = message(
                "altro@nowhere.example",
                "support@op.example",
                "Info",
                &format!("u-{policy}@nowhere.example"),
                "",
                "Salve",
            );
            let outcome = ingest(t, raw, "support@op.example").await;
            assert_eq!(matches!(outcome, Outcome::Held(_)), expect_held, "{policy}: {outcome:?}");
            if !expect_held {
                assert_eq!(outcome, Outcome::Refused);
            }
        }
        // The refused sender gets one polite answer, automatic and threaded to their message.
        let mut tx = t.app.db.read().await.unwrap();
        let answers: Vec<(String, String)> = store::with_conn!(&mut tx, c => sqlx::query_as(
            "SELECT o.recipients, o.message_id FROM outbox o WHERE o.kind = 'refused'").fetch_all(&mut *c).await)
        .unwrap();
        drop(tx);
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert!(answers[0].0.contains("altro@nowhere.example"));
        // An automatic message to a members-only queue is not answered (no loops).
        let auto = message(
            "robot@nowhere.example",
            "support@op.example",
            "Out of office",
            "u-auto@nowhere.example",
            "Auto-Submitted: auto-replied\r\n",
            "Sono in ferie",
        );
        assert_eq!(ingest(t, auto, "support@op.example").await, Outcome::Refused);
        let mut tx = t.app.db.read().await.unwrap();
        let n_refused: i64 = store::with_conn!(&mut tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'refused'").fetch_one(&mut *c).await)
        .unwrap();
        drop(tx);
        assert_eq!(n_refused, 1);
        // Bad settings are refused with the field named, and nothing changes.
        let bad = QueueMailInput {
            unknown_sender: Some("maybe".into()),
            address: Some("not an address".into()),
            ..Default::default()
        };
        let err = t.app.set_queue_mail(&cast.admin, "support", bad).await.unwrap_err().to_string();
        assert!(err.contains("unknown_sender") && err.contains("address"), "{err}");
        assert_eq!(
            t.app.queue_mail(&cast.admin, "support").await.unwrap().address.as_deref(),
            Some("support@op.example")
        );
        assert!(t.app.set_queue_mail(&cast.agent, "support", QueueMailInput::default()).await.is_err());
    }
);

both!(
    async fn sensitive_data_is_masked_and_bounces_mark_the_address(t: &Ctx) {
        let cast = t.seed().await;
        addresses(t, &cast).await;
        let raw = message(
            "anna@acme.example",
            "support@op.example",
            "Pagamento",
            "m1@acme.example",
            "",
            "Il mio IBAN è IT60 X054 2811 1010 0000 0123 456 e la carta 4111 1111 1111 1111.",
        );
        let Outcome::NewTicket(n) = ingest(t, raw, "support@op.example").await else { panic!() };
        let msgs = t.app.messages(&cast.admin, n).await.unwrap();
        assert!(
            !msgs[0].body_text.contains("0000 0123") && !msgs[0].body_text.contains("4111 1111 1111 1111"),
            "{}",
            msgs[0].body_text
        );
        assert!(msgs[0].body_text.contains("**** 1111"));
        assert!(msgs.iter().any(|m| m.kind == domain::MessageKind::Comment && m.body_text.contains("masked")));
        // The requestor is asked to use a safer channel; the email repeats none of the data.
        let out = t.app.ticket_outbox(&cast.admin, n).await.unwrap();
        let masked: Vec<_> = out.iter().filter(|o| o.kind == "masked").collect();
        assert_eq!(masked.len(), 1, "{:?}", out.iter().map(|o| &o.kind).collect::<Vec<_>>());
        assert_eq!(masked[0].recipients, vec!["anna@acme.example".to_owned()]);
        let full = t.app.outbox_message(masked[0].id).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&full.raw);
        assert!(
            !text.contains("4111") && !text.contains("0123 456") && text.contains("Auto-Submitted: auto-replied"),
            "{text}"
        );
        // The raw message, which still holds them, is not kept.
        let mut tx = t.app.db.read().await.unwrap();
        let kept: Option<String> = store::with_conn!(&mut tx, c => sqlx::query_scalar("SELECT raw_sha256 FROM mail_messages WHERE message_id = 'm1@acme.example'").fetch_one(&mut *c).await).unwrap();
        assert_eq!(kept, None);
        drop(tx);

        // A DSN about mail we sent for ticket n: the address bounces, the report joins the ticket.
        let mut tx = t.app.db.write().await.unwrap();
        let rec = store::mail::MailRecord {
            direction: "out",
            message_id: format!("ticket-{n}.1@op.example"),
            from_address: String::new(),
            raw_sha256: None,
            outcome: "reply".into(),
        };
        store::mail::insert(&mut tx, &rec, Some(n), None, 1).await.unwrap();
        tx.commit().await.unwrap();
        let dsn = format!(
            "From: MAILER-DAEMON@mx.acme.example\r\nTo: support@op.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.acme.example>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\nFinal-Recipient: rfc822; anna@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ticket-{n}.1@op.example>\r\nSubject: [support#{n}] Pagamento\r\n\r\n--b--\r\n"
        );
        assert_eq!(ingest(t, dsn.into_bytes(), "support@op.example").await, Outcome::Bounce(Some(n)));
        let mut tx = t.app.db.read().await.unwrap();
        assert!(store::mail::is_bouncing(&mut tx, "anna@acme.example").await.unwrap());
        drop(tx);
        let last = t.app.messages(&cast.admin, n).await.unwrap();
        assert!(last.last().unwrap().body_text.contains("Delivery failed for anna@acme.example"));
    }
);

/// Talks LMTP by hand on one connection: each step is sent, then `replies` replies are read
/// (multi-line replies count once). Returns the last line of each reply, greeting first.
async fn lmtp(addr: &str, steps: &[(&str, usize)]) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let mut out = vec![lines.next_line().await.unwrap().unwrap()];
    for (text, replies) in steps {
        w.write_all(text.as_bytes()).await.unwrap();
        let mut got = 0;
        while got < *replies {
            let line = lines.next_line().await.unwrap().unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                out.push(line);
                got += 1;
            }
        }
    }
    out
}

both!(
    async fn lmtp_answers_each_recipient_after_commit_and_refuses_what_it_must(t: &Ctx) {
        let cast = t.seed().await;
        addresses(t, &cast).await;
        t.app
            .create_queue(
                &cast.admin,
                app::admin::QueueInput {
                    slug: "billing".into(),
                    name: "Billing".into(),
                    description: String::new(),
                    reference_prefix: Some("billing".into()),
                    active: Some(true),
                },
            )
            .await
            .unwrap();
        t.app
            .set_queue_mail(
                &cast.admin,
                "billing",
                QueueMailInput { address: Some("billing@op.example".into()), ..Default::default() },
            )
            .await
            .unwrap();
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let cfg = mail::lmtp::LmtpConfig { max_message_bytes: 4096, ..Default::default() };
        let addr =
            mail::lmtp::serve(t.app.clone(), mail::lmtp::Listen::Tcp("127.0.0.1:0".into()), cfg, stop).await.unwrap();

        // A real client: Python's smtplib.LMTP.
        let script = format!(
            "import smtplib\ns = smtplib.LMTP('{host}', {port})\ns.ehlo('mx.test')\nr = s.sendmail('anna@acme.example', ['support@op.example'], b'From: anna@acme.example\\r\\nTo: support@op.example\\r\\nSubject: Linea muta\\r\\nMessage-ID: <py1@acme.example>\\r\\n\\r\\nNessun segnale.\\r\\n')\nprint('refused', r)\ntry:\n    s.sendmail('anna@acme.example', ['nobody@op.example'], b'Subject: x\\r\\n\\r\\ny\\r\\n')\nexcept smtplib.SMTPRecipientsRefused as e:\n    print('550' in str(e.recipients))\ns.quit()\n",
            host = addr.split(':').next().unwrap(),
            port = addr.rsplit(':').next().unwrap()
        );
        let addr2 = addr.clone();
        let out = tokio::task::spawn_blocking(move || Command::new("python3").args(["-c", &script]).output().unwrap())
            .await
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{printed} {}", String::from_utf8_lossy(&out.stderr));
        assert!(printed.contains("refused {}") && printed.contains("True"), "{printed}");
        let page = t
            .app
            .list_tickets(&cast.admin, app::tickets::ListInput { q: Some("segnale".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(page.tickets.len(), 1);

        // By hand: two recipients, two replies after the data, in order; an unknown one refused at RCPT.
        let data = "From: bruno@acme.example\r\nSubject: Doppio\r\nMessage-ID: <two@acme.example>\r\n\r\n..riga col punto\r\nfine\r\n.\r\n";
        let convo = lmtp(
            &addr2,
            &[
                ("LHLO mx\r\n", 1),
                ("MAIL FROM:<bruno@acme.example>\r\n", 1),
                ("RCPT TO:<support@op.example>\r\n", 1),
                ("RCPT TO:<ghost@op.example>\r\n", 1),
                ("RCPT TO:<billing@op.example>\r\n", 1),
                ("DATA\r\n", 1),
                (data, 2),
                ("QUIT\r\n", 1),
            ],
        )
        .await;
        assert!(convo[4].starts_with("550 5.1.1"), "{convo:?}");
        assert!(convo[6].starts_with("354"), "{convo:?}");
        assert!(convo[7].starts_with("250 2.0.0 <support@op.example>"), "{convo:?}");
        assert!(convo[8].starts_with("250 2.0.0 <billing@op.example>"), "{convo:?}");
        assert!(convo[9].starts_with("221"), "{convo:?}");
        // One ticket in each queue, and the dot-stuffed line came through unstuffed.
        for queue in ["support", "billing"] {
            let page = t
                .app
                .list_tickets(
                    &cast.admin,
                    app::tickets::ListInput {
                        q: Some("Doppio".into()),
                        queue: Some(queue.into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(page.tickets.len(), 1, "{queue}");
            let m = t.app.messages(&cast.admin, page.tickets[0].number).await.unwrap();
            assert!(m[0].body_text.starts_with(".riga col punto"), "{:?}", m[0].body_text);
        }

        // Over the size limit: 552 for the recipient, nothing stored. Not LHLO: refused.
        let big = format!("Subject: grande\r\nMessage-ID: <big@acme.example>\r\n\r\n{}\r\n.\r\n", "x".repeat(5000));
        let convo = lmtp(
            &addr2,
            &[
                ("HELO mx\r\n", 1),
                ("LHLO mx\r\n", 1),
                ("MAIL FROM:<anna@acme.example>\r\n", 1),
                ("RCPT TO:<support@op.example>\r\n", 1),
                ("DATA\r\n", 1),
                (&big, 1),
            ],
        )
        .await;
        assert!(convo[1].starts_with("500"), "{convo:?}");
        assert!(convo[6].starts_with("552 5.3.4"), "{convo:?}");
        let page = t
            .app
            .list_tickets(&cast.admin, app::tickets::ListInput { q: Some("grande".into()), ..Default::default() })
            .await
            .unwrap();
        assert!(page.tickets.is_empty());

        // Database away: 451 and nothing half-written (the pool is closed under the listener). The
        // recipient may pass (queues' addresses are cached for a few seconds): then the message
        // gets the 451 after its data.
        t.app.db.close().await;
        let convo = lmtp(
            &addr2,
            &[
                ("LHLO mx\r\n", 1),
                ("MAIL FROM:<anna@acme.example>\r\n", 1),
                ("RCPT TO:<support@op.example>\r\n", 1),
                ("DATA\r\n", 1),
                ("From: anna@acme.example\r\nSubject: away\r\nMessage-ID: <away@acme.example>\r\n\r\nx\r\n.\r\n", 1),
            ],
        )
        .await;
        assert!(convo.iter().any(|l| l.starts_with("451 4.3.0")), "{convo:?}");
        assert!(!convo.last().unwrap().starts_with("250"), "{convo:?}");
    }
);

both!(
    async fn the_pipe_takes_one_message_and_says_so_by_its_exit_status(t: &Ctx) {
        let cast = t.seed().await;
        addresses(t, &cast).await;
        let run = |args: Vec<String>, input: Vec<u8>| {
            let mut child = Command::new(BIN)
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&input).unwrap();
            let out = child.wait_with_output().unwrap();
            (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let args = |url: &str| {
            vec![
                "--database-url".to_owned(),
                url.to_owned(),
                "mail".into(),
                "ingest".into(),
                "--queue".into(),
                "support".into(),
            ]
        };
        let url = t.url.clone();
        let ok =
            message("anna@acme.example", "support@op.example", "Dal pipe", "p1@acme.example", "", "Arrivato via pipe.");
        let (code, err) = tokio::task::spawn_blocking({
            let a = args(&url);
            move || run(a, ok)
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("new_ticket"), "{err}");
        // Nothing readable as a message: 65, and kept in the quarantine.
        let (code, err) = tokio::task::spawn_blocking({
            let a = args(&url);
            move || run(a, Vec::new())
        })
        .await
        .unwrap();
        assert_eq!(code, 65, "{err}");
        let mut tx = t.app.db.read().await.unwrap();
        let held: i64 = store::with_conn!(&mut tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM quarantine WHERE reason = 'malformed'").fetch_one(&mut *c).await).unwrap();
        assert_eq!(held, 1);
        drop(tx);
        // Database away: 75, try again later.
        let gone = message("anna@acme.example", "support@op.example", "x", "p2@acme.example", "", "y");
        let (code, _) = tokio::task::spawn_blocking({
            let a = args("postgres://postgres@127.0.0.1:1/nothing");
            move || run(a, gone)
        })
        .await
        .unwrap();
        assert_eq!(code, 75);
        let page = t
            .app
            .list_tickets(&cast.admin, app::tickets::ListInput { q: Some("pipe".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(page.tickets.len(), 1);
    }
);

both!(
    async fn lmtp_on_a_unix_socket_for_postfix(t: &Ctx) {
        let cast = t.seed().await;
        addresses(t, &cast).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lmtp.sock");
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let listen = mail::lmtp::Listen::parse(path.to_str().unwrap());
        mail::lmtp::serve(t.app.clone(), listen, mail::lmtp::LmtpConfig::default(), stop).await.unwrap();
        let script = format!(
            "import smtplib\ns = smtplib.LMTP('{}')\nprint(s.sendmail('bruno@acme.example', ['support@op.example'], b'From: bruno@acme.example\\r\\nSubject: Via socket\\r\\nMessage-ID: <sock1@acme.example>\\r\\n\\r\\nRouter spento.\\r\\n'))\ns.quit()\n",
            path.display()
        );
        let out = tokio::task::spawn_blocking(move || Command::new("python3").args(["-c", &script]).output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
        let page = t
            .app
            .list_tickets(&cast.admin, app::tickets::ListInput { q: Some("spento".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(page.tickets.len(), 1);
    }
);

/// One generated message: who writes, to which address, threaded how, marked how.
#[derive(Debug, Clone)]
struct Generated {
    raw: Vec<u8>,
    to: String,
}

fn generated() -> impl proptest::strategy::Strategy<Value = Generated> {
    use proptest::prelude::*;
    let from = prop::sample::select(vec![
        "anna@acme.example",
        "Bruno <bruno@acme.example>",
        "agent@op.example",
        "admin@op.example",
        "stranger@nowhere.example",
        "MAILER-DAEMON@mx.example",
        "",
        "\"=?utf-8?q?Ren=C3=A9?=\" <rene@other.example>",
        "not an address",
    ]);
    let to = prop::sample::select(vec![
        "support@op.example",
        "support-comment@op.example",
        "support+1@op.example",
        "support+999999@op.example",
        "support+abc@op.example",
    ]);
    let subject = prop::sample::select(vec![
        "Linea giù",
        "Re: [support#1] Linea giù",
        "[Fwd: Re: [support #2] x]",
        "[support#999999999999999999999] overflow",
        "=?iso-8859-1?q?Fattura_d=E9j=E0_pay=E9e?=",
        "",
    ]);
    let extra = prop::sample::select(vec![
        "",
        "Auto-Submitted: auto-replied\r\n",
        "Precedence: bulk\r\n",
        "In-Reply-To: <unknown@x>\r\nReferences: <a@b> <c@d>\r\n",
        "X-Auto-Response-Suppress: All\r\n",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n",
        "Content-Type: multipart/mixed; boundary=\"zz\"\r\n",
        "Content-Transfer-Encoding: base64\r\n",
    ]);
    let body = prop::sample::select(vec![
        "Nessun segnale.",
        "IBAN IT60 X054 2811 1010 0000 0123 456, carta 4111 1111 1111 1111, CF RSSMRA85T10A562S",
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; anna@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--",
        "--zz\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script><p onclick=x>hi</p>\r\n--zz",
        "@@@ not base64 @@@",
        "",
    ]);
    let id = prop::option::of(0u8..20);
    (from, to, subject, extra, body, id, any::<bool>()).prop_map(|(from, to, subject, extra, body, id, crlf)| {
        let id = id.map(|n| format!("Message-ID: <gen{n}@prop.example>\r\n")).unwrap_or_default();
        let from = if from.is_empty() { String::new() } else { format!("From: {from}\r\n") };
        let mut raw = format!("{from}To: {to}\r\nSubject: {subject}\r\n{id}{extra}\r\n{body}\r\n");
        if !crlf {
            raw = raw.replace("\r\n", "\n");
        }
        Generated { raw: raw.into_bytes(), to: to.to_owned() }
    })
}

both!(
    async fn the_whole_ingest_path_takes_any_message_without_panic_or_loss(t: &Ctx) {
        use proptest::strategy::{Strategy, ValueTree};
        let cast = t.seed().await;
        addresses(t, &cast).await;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = generated();
        for case in 0..120 {
            // Policies change as the cases go, so every branch is met.
            if case % 40 == 0 {
                let (unknown, stranger) =
                    [("create", "comment"), ("hold", "new_ticket"), ("refuse", "comment")][case / 40];
                let input = QueueMailInput {
                    unknown_sender: Some(unknown.into()),
                    stranger_reply: Some(stranger.into()),
                    ..Default::default()
                };
                t.app.set_queue_mail(&cast.admin, "support", input).await.unwrap();
            }
            let g = strategy.new_tree(&mut runner).unwrap().current();
            let delivery = Delivery::Address(g.to.clone());
            // Whatever it is, it is taken, kept aside, or refused for its address: never an
            // error that would make the MTA retry forever, never a panic.
            match mail::deliver::deliver(&t.app, &g.raw, &delivery).await {
                Ok(mail::deliver::Delivered::Taken(_)) => {}
                Ok(mail::deliver::Delivered::Malformed(q) | mail::deliver::Delivered::Rejected(q)) => {
                    assert!(t.app.quarantined_raw(&cast.admin, q).await.unwrap().1 == g.raw, "kept as received");
                }
                Err(mail::deliver::DeliverError::NoSuchAddress(_)) => {}
                Err(e) => panic!("case {case}: {e} for {:?}", String::from_utf8_lossy(&g.raw)),
            }
            // A second delivery of the same bytes changes nothing more than the first (no
            // duplicate ticket), when the message has an id.
            if g.raw.windows(11).any(|w| w == b"Message-ID:") {
                let before = t.app.quarantined(&cast.admin, "held", None).await.unwrap().len();
                if let Ok(mail::deliver::Delivered::Taken(o)) = mail::deliver::deliver(&t.app, &g.raw, &delivery).await
                {
                    assert!(
                        matches!(o, Outcome::Duplicate(_)) || matches!(o, Outcome::Held(_) | Outcome::Refused),
                        "case {case}: {o:?}"
                    );
                }
                assert!(t.app.quarantined(&cast.admin, "held", None).await.unwrap().len() <= before + 1);
            }
        }
    }
);

both!(
    async fn swaks_delivers_over_lmtp_with_an_attachment(t: &Ctx) {
        if !std::path::Path::new("/usr/bin/swaks").exists() {
            if std::env::var_os("CI").is_some() || std::env::var_os("SPORTELLO_REQUIRE_BROWSER").is_some() {
                panic!("swaks is required here: apt-get install swaks");
            }
            eprintln!("swaks missing (apt-get install swaks): test skipped");
            return;
        }
        let cast = t.seed().await;
        addresses(t, &cast).await;
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let addr = mail::lmtp::serve(
            t.app.clone(),
            mail::lmtp::Listen::parse("127.0.0.1:0"),
            mail::lmtp::LmtpConfig::default(),
            stop,
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("traceroute.txt");
        std::fs::write(&file, "1  192.0.2.1  1.2 ms\n2  * * *\n").unwrap();
        let (host, port) = addr.rsplit_once(':').unwrap();
        let args: Vec<String> = [
            "--protocol",
            "LMTP",
            "--server",
            host,
            "--port",
            port,
            "--from",
            "anna@acme.example",
            "--to",
            "support@op.example",
            "--h-From",
            "Anna <anna@acme.example>",
            "--h-Subject",
            "Perdita di pacchetti a Como",
            "--add-header",
            "Message-ID: <swaks1@acme.example>",
            "--body",
            "Perdo il 30% dei pacchetti, traceroute allegato.",
            "--attach-type",
            "text/plain",
            "--attach-name",
            "traceroute.txt",
            "--attach",
            file.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out =
            tokio::task::spawn_blocking(move || Command::new("swaks").args(&args).output().unwrap()).await.unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{printed}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(printed.contains("<-  250"), "{printed}");
        let page = t
            .app
            .list_tickets(&cast.admin, app::tickets::ListInput { q: Some("pacchetti".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(page.tickets.len(), 1, "{printed}");
        let n = page.tickets[0].number;
        let msgs = t.app.messages(&cast.admin, n).await.unwrap();
        assert_eq!(msgs[0].attachments.len(), 1, "{:?}", msgs[0]);
        assert_eq!(msgs[0].attachments[0].filename, "traceroute.txt");
        let (_, data) = t.app.attachment(&cast.admin, n, msgs[0].attachments[0].id).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&data), "1  192.0.2.1  1.2 ms\n2  * * *\n");
    }
);
