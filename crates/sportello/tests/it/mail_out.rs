//! Outbound email end to end: notifications rendered into the outbox by ticket changes, delivered
//! by real job workers to a real SMTP server (Python's aiosmtpd, a child process on a free port
//! that writes each message it accepts to a file).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use app::App;
use app::tickets::{MessageInput, NewTicketInput, TicketPatch};
use domain::{MessageKind, Status};

use crate::harness::{Ctx, both};

const SERVER: &str = r#"
import itertools, json, os, sys, threading
from aiosmtpd.controller import Controller

out, port, reject = sys.argv[1], int(sys.argv[2]), sys.argv[3].lower()
counter = itertools.count()

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if reject and address.lower() == reject:
            return '550 5.1.1 <%s>: mailbox unavailable' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(out, '%06d' % next(counter))
        with open(name + '.tmp', 'wb') as f:
            head = json.dumps({'from': envelope.mail_from, 'to': envelope.rcpt_tos})
            f.write(head.encode() + b'\n' + envelope.original_content)
        os.rename(name + '.tmp', name + '.eml')
        return '250 2.0.0 accepted'

c = Controller(Handler(), hostname='127.0.0.1', port=port)
c.start()
print('ready', flush=True)
threading.Event().wait()
"#;

/// Whether aiosmtpd is there; without it the test is skipped, except in CI where it must run.
pub(crate) fn have_aiosmtpd() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() || std::env::var_os("SPORTELLO_REQUIRE_BROWSER").is_some() {
            panic!("aiosmtpd is required here: python3 -m pip install aiosmtpd");
        }
        eprintln!("aiosmtpd missing (python3 -m pip install aiosmtpd): outbound mail test skipped");
    }
    ok
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A received message: envelope and the bytes.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) to: Vec<String>,
    pub(crate) raw: String,
}

impl Received {
    /// A header's value, unfolded; `None` when absent.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("").replace("\r\n ", " ").replace("\r\n\t", " ");
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    fn message_id(&self) -> String {
        self.header("Message-ID").unwrap().trim_matches(['<', '>']).to_owned()
    }
}

/// The SMTP server: a child process on `port`, saving messages under `dir`.
pub(crate) struct Smtp {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    script: std::path::PathBuf,
}

impl Smtp {
    pub(crate) fn new(reject: &str) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("server.py");
        std::fs::write(&script, SERVER).unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let mut s = Smtp { child: None, dir, port: free_port(), script };
        s.start(reject);
        s
    }

    fn start(&mut self, reject: &str) {
        let mut child = Command::new("python3")
            .arg(&self.script)
            .arg(self.dir.path().join("out"))
            .arg(self.port.to_string())
            .arg(reject)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path().join("out"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
                let (head, raw) = text.split_once('\n').unwrap();
                let v: serde_json::Value = serde_json::from_str(head).unwrap();
                let to = v["to"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_lowercase()).collect();
                Received { to, raw: raw.to_owned() }
            })
            .collect()
    }

    pub(crate) fn to(&self, address: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.to.iter().any(|a| a == address)).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The test's application: mail from help@op.example, links to https://help.op.example, the
/// support queue's address support@op.example.
pub(crate) async fn mail_app(t: &Ctx) -> App {
    let mut app = t.app.clone();
    let c = Arc::make_mut(&mut app.config);
    c.mail_from = "help@op.example".into();
    c.public_url = Some("https://help.op.example".into());
    app
}

async fn set_queue_address(app: &App) {
    let mut tx = app.db.write().await.unwrap();
    let q = store::queues::by_slug(&mut tx, "support").await.unwrap().unwrap();
    let mut m = store::mail::queue_mail_by_id(&mut tx, q.id).await.unwrap().unwrap();
    m.address = Some("support@op.example".into());
    store::mail::set_queue_mail(&mut tx, &m).await.unwrap();
    tx.commit().await.unwrap();
}

/// Runs a real worker with the built-in handlers and `mail.send` until no job is due or running.
pub(crate) async fn deliver(app: &App, smtp_url: &str) {
    let handlers = mail::send::Sender::from_url(smtp_url).unwrap().register(app::jobs::Handlers::builtin());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let cfg =
        app::jobs::WorkerConfig { node: "mail-test".into(), poll: Duration::from_millis(20), ..Default::default() };
    let w = app.clone();
    let worker = tokio::spawn(async move { w.run_worker(handlers, cfg, rx).await });
    for _ in 0..3000 {
        let now = store::micros(app.now());
        let mut tx = app.db.read().await.unwrap();
        let jobs = store::jobs::list(&mut tx, None, 500).await.unwrap();
        drop(tx);
        if !jobs.iter().any(|j| j.state == "running" || (j.state == "queued" && j.run_at <= now)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
}

fn reply(body: &str) -> MessageInput {
    MessageInput {
        kind: MessageKind::Reply,
        body: body.into(),
        body_html: None,
        attachments: vec![],
        status: None,
        owner: None,
        time: None,
    }
}

both!(
    async fn ack_reply_resolution_and_owner_notice(t: &Ctx) {
        if !have_aiosmtpd() {
            return;
        }
        let cast = t.seed().await;
        let app = mail_app(t).await;
        set_queue_address(&app).await;
        let smtp = Smtp::new("");
        let input = NewTicketInput {
            queue: "support".into(),
            title: "Nessun segnale sulla linea".into(),
            cc: vec!["bruno@acme.example".into()],
            body: "Da stamattina la linea è muta.".into(),
            ..Default::default()
        };
        let tk = app.create_ticket(&cast.anna, input).await.unwrap();
        deliver(&app, &smtp.url()).await;
        let tag = format!("[support#{}]", tk.number);

        // The acknowledgement: to the requestor only, tagged, automatic, answered at the queue.
        let ack = smtp.to("anna@acme.example");
        assert_eq!(ack.len(), 1, "{ack:?}");
        let ack = &ack[0];
        assert!(ack.header("Subject").unwrap().starts_with(&tag), "{:?}", ack.header("Subject"));
        assert_eq!(ack.header("Auto-Submitted").as_deref(), Some("auto-replied"));
        assert!(ack.header("Reply-To").unwrap().contains("<support@op.example>"));
        assert!(ack.header("From").unwrap().contains("<help@op.example>"));
        assert!(ack.header("Content-Type").unwrap().starts_with("text/plain; charset=utf-8"));
        let ack_id = ack.message_id();
        assert!(ack_id.starts_with(&format!("ticket-{}.", tk.number)) && ack_id.ends_with("@op.example"), "{ack_id}");
        assert!(smtp.to("bruno@acme.example").is_empty(), "the Cc gets no acknowledgement");
        // The agents who see the queue hear of it.
        for agent in ["agent@op.example", "viewer@op.example"] {
            let n = smtp.to(agent);
            assert_eq!(n.len(), 1, "{agent}");
            assert_eq!(n[0].header("Auto-Submitted").as_deref(), Some("auto-generated"));
            assert!(n[0].raw.contains("https://help.op.example/tickets/"), "{}", n[0].raw);
        }
        assert!(smtp.to("admin@op.example").is_empty());

        // An agent's public reply (taking the ticket): to the requestor and the Cc, not the author.
        let mut r = reply("Abbiamo riavviato la porta, può riprovare?");
        r.owner = Some(Some("agent@op.example".into()));
        app.add_message(&cast.agent, tk.number, r).await.unwrap();
        deliver(&app, &smtp.url()).await;
        for who in ["anna@acme.example", "bruno@acme.example"] {
            let got = smtp.to(who);
            let rep = got.last().unwrap();
            assert!(rep.header("Subject").unwrap().starts_with(&tag));
            assert_eq!(rep.header("Auto-Submitted"), None, "a person's reply is not automatic");
            assert!(
                rep.header("References").unwrap().contains(&format!("<{ack_id}>")),
                "{:?}",
                rep.header("References")
            );
            assert!(rep.header("In-Reply-To").is_some());
            assert!(rep.raw.contains("riavviato"));
        }
        assert_eq!(smtp.to("agent@op.example").len(), 1, "no mail about one's own reply");

        // A customer's reply: to the owner.
        app.add_message(&cast.anna, tk.number, reply("Ora funziona, grazie.")).await.unwrap();
        deliver(&app, &smtp.url()).await;
        let owner = smtp.to("agent@op.example");
        assert_eq!(owner.len(), 2);
        assert!(owner[1].raw.contains("Ora funziona"));
        assert_eq!(owner[1].header("Auto-Submitted").as_deref(), Some("auto-generated"));
        assert_eq!(smtp.to("viewer@op.example").len(), 1, "only the owner hears of customer replies");

        // Resolution: a notice to the requestor.
        let patch = TicketPatch { status: Some(Status::Resolved), ..Default::default() };
        app.update_ticket(&cast.agent, tk.number, patch).await.unwrap();
        deliver(&app, &smtp.url()).await;
        let anna = smtp.to("anna@acme.example");
        assert_eq!(anna.len(), 3, "ack, reply, resolution");
        assert!(anna[2].header("Subject").unwrap().contains("Risolto"), "{:?}", anna[2].header("Subject"));
        assert_eq!(smtp.to("bruno@acme.example").len(), 1, "the Cc gets replies, not the resolution notice");

        // Every email is in the outbox, sent, and recorded as outbound mail of the ticket.
        let outbox = app.ticket_outbox(&cast.admin, tk.number).await.unwrap();
        assert_eq!(outbox.len(), smtp.received().len());
        assert!(outbox.iter().all(|o| o.state == "sent" && o.attempts == 1), "{outbox:?}");
        let mut tx = app.db.read().await.unwrap();
        assert_eq!(store::mail::ticket_of_message_ids(&mut tx, &[ack_id]).await.unwrap(), Some(tk.number));
    }
);

both!(
    async fn no_mail_to_bouncing_addresses_nor_acknowledgement_for_staff(t: &Ctx) {
        if !have_aiosmtpd() {
            return;
        }
        let cast = t.seed().await;
        let app = mail_app(t).await;
        let smtp = Smtp::new("");
        let mut tx = app.db.write().await.unwrap();
        store::mail::mark_bouncing(&mut tx, "anna@acme.example", "5.1.1", 1).await.unwrap();
        tx.commit().await.unwrap();
        let input = NewTicketInput {
            queue: "support".into(),
            title: "Bounce".into(),
            body: "Hello".into(),
            ..Default::default()
        };
        let tk = app.create_ticket(&cast.anna, input).await.unwrap();
        // Staff opening a ticket for a customer: no acknowledgement (the agents still hear of it).
        let staff = app
            .create_ticket(
                &cast.agent,
                NewTicketInput {
                    queue: "support".into(),
                    title: "Opened by staff".into(),
                    requestors: vec!["bruno@acme.example".into()],
                    body: "We noticed an outage".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        deliver(&app, &smtp.url()).await;
        assert!(smtp.to("anna@acme.example").is_empty());
        assert!(smtp.to("bruno@acme.example").is_empty());
        assert_eq!(smtp.to("viewer@op.example").len(), 2);
        assert_eq!(smtp.to("agent@op.example").len(), 1, "not about the ticket the agent opened");
        let kinds: Vec<_> =
            app.ticket_outbox(&cast.admin, tk.number).await.unwrap().into_iter().map(|o| o.kind).collect();
        assert_eq!(kinds, ["agent_new"], "one notice for the queue's agents");
        let kinds: Vec<_> =
            app.ticket_outbox(&cast.admin, staff.number).await.unwrap().into_iter().map(|o| o.kind).collect();
        assert_eq!(kinds, ["agent_new"]);
    }
);

both!(
    async fn server_down_then_up_delivers_once(t: &Ctx) {
        if !have_aiosmtpd() {
            return;
        }
        let cast = t.seed().await;
        let clock = app::Clock::manual(jiff::Timestamp::now());
        let app = mail_app(t).await.with_clock(clock.clone());
        let mut smtp = Smtp::new("");
        smtp.stop();
        let input = NewTicketInput {
            queue: "support".into(),
            title: "Down".into(),
            body: "Hello".into(),
            ..Default::default()
        };
        let tk = app.create_ticket(&cast.dario, input).await.unwrap();
        deliver(&app, &smtp.url()).await;
        let outbox = app.ticket_outbox(&cast.admin, tk.number).await.unwrap();
        assert_eq!(outbox.len(), 2, "the ack, and one notice to both agents");
        assert!(outbox.iter().all(|o| o.state == "queued" && o.attempts == 1 && o.last_error.is_some()), "{outbox:?}");
        let jobs = app.jobs(&cast.admin, Some("queued"), 100).await.unwrap();
        assert_eq!(jobs.iter().filter(|j| j.kind == "mail.send").count(), 2, "retried later");

        // Down for minutes: every attempt, backing off, fails and keeps the email queued.
        for _ in 0..4 {
            clock.set(clock.now() + jiff::SignedDuration::from_secs(90));
            deliver(&app, &smtp.url()).await;
        }
        let outbox = app.ticket_outbox(&cast.admin, tk.number).await.unwrap();
        assert!(outbox.iter().all(|o| o.state == "queued" && o.attempts == 5), "{outbox:?}");
        assert!(smtp.received().is_empty());

        smtp.start("");
        clock.set(clock.now() + jiff::SignedDuration::from_secs(180));
        deliver(&app, &smtp.url()).await;
        assert_eq!(smtp.received().len(), 2);
        let outbox = app.ticket_outbox(&cast.admin, tk.number).await.unwrap();
        assert!(outbox.iter().all(|o| o.state == "sent" && o.attempts == 6), "{outbox:?}");

        // A job run again after the success sends nothing.
        let sender = mail::send::Sender::from_url(&smtp.url()).unwrap();
        for o in &outbox {
            assert_eq!(sender.deliver(&app, o.id, false).await.unwrap(), mail::send::Outcome::Skipped);
        }
        let mut tx = app.db.write().await.unwrap();
        let payload = serde_json::json!({ "outbox": outbox[0].id }).to_string();
        let now = store::micros(app.now());
        store::jobs::enqueue(&mut tx, app::notify::SEND, &payload, now, 3, now).await.unwrap();
        tx.commit().await.unwrap();
        deliver(&app, &smtp.url()).await;
        assert_eq!(smtp.received().len(), 2, "never twice");
    }
);

both!(
    async fn permanent_refusal_fails_the_email_with_an_event(t: &Ctx) {
        if !have_aiosmtpd() {
            return;
        }
        let cast = t.seed().await;
        let app = mail_app(t).await;
        let smtp = Smtp::new("anna@acme.example");
        let input = NewTicketInput {
            queue: "support".into(),
            title: "Refused".into(),
            body: "Hello".into(),
            ..Default::default()
        };
        let tk = app.create_ticket(&cast.anna, input).await.unwrap();
        deliver(&app, &smtp.url()).await;
        assert!(smtp.to("anna@acme.example").is_empty());
        assert_eq!(smtp.received().len(), 1, "the agents' notice goes through");
        assert_eq!(smtp.to("agent@op.example").len(), 1);
        assert_eq!(smtp.to("viewer@op.example").len(), 1);
        let outbox = app.ticket_outbox(&cast.admin, tk.number).await.unwrap();
        let ack = outbox.iter().find(|o| o.kind == "ack").unwrap();
        assert_eq!(ack.state, "failed");
        let err = ack.last_error.clone().unwrap();
        assert!(err.contains("550") && err.contains("mailbox unavailable"), "{err}");
        let events = app.ticket_events(&cast.admin, tk.number).await.unwrap();
        let failed = events.iter().find(|e| e.kind == "mail_failed").expect("a mail_failed event");
        assert!(failed.new_value.as_deref().unwrap().contains("550"), "{failed:?}");
        let jobs = app.jobs(&cast.admin, None, 100).await.unwrap();
        assert!(jobs.iter().filter(|j| j.kind == "mail.send").all(|j| j.state == "done"), "no retry of a refusal");
    }
);

both!(
    async fn templates_override_refuse_broken_and_preview(t: &Ctx) {
        if !have_aiosmtpd() {
            return;
        }
        let cast = t.seed().await;
        let app = mail_app(t).await;
        let smtp = Smtp::new("");
        // Preview of the default, with sample data.
        let p = app.preview_mail(&cast.admin, "ack", "en").await.unwrap();
        assert!(p.subject.contains("No dial tone"), "{p:?}");
        assert!(p.body.contains("support#310"), "{p:?}");
        // A broken template is refused, naming the part and the line.
        let err = app
            .set_mail_template(
                &cast.admin,
                "ack",
                "it",
                "Ricevuto",
                "Riga uno\nRiga due\n{% if ticket.title %}senza fine\n",
            )
            .await
            .unwrap_err();
        match &err {
            app::Error::Invalid(p) => {
                assert_eq!(p[0].field, "body");
                assert!(p[0].message.contains("line 3"), "{}", p[0].message);
            }
            other => panic!("{other:?}"),
        }
        let err = app.set_mail_template(&cast.admin, "ack", "it", "{{ tiket.title }}", "x").await.unwrap_err();
        assert!(
            matches!(&err, app::Error::Invalid(p) if p[0].field == "subject" && p[0].message.contains("line 1")),
            "{err:?}"
        );
        assert!(app.set_mail_template(&cast.agent, "ack", "it", "x", "y").await.is_err(), "admins only");
        // An admin's version is used (anna reads Italian).
        app.set_mail_template(
            &cast.admin,
            "ack",
            "it",
            "Presa in carico: {{ ticket.title }}",
            "Ciao {{ recipient.email }}, ticket {{ ticket.reference }}.\n",
        )
        .await
        .unwrap();
        assert!(app.mail_template(&cast.admin, "ack", "it").await.unwrap().overridden);
        let p = app.preview_mail(&cast.admin, "ack", "it").await.unwrap();
        assert_eq!(p.subject, "Presa in carico: No dial tone on line 0341 555 123");
        let input = NewTicketInput {
            queue: "support".into(),
            title: "Modello".into(),
            body: "Hello".into(),
            ..Default::default()
        };
        let tk = app.create_ticket(&cast.anna, input).await.unwrap();
        deliver(&app, &smtp.url()).await;
        let ack = &smtp.to("anna@acme.example")[0];
        assert_eq!(ack.header("Subject").unwrap(), format!("[support#{}] Presa in carico: Modello", tk.number));
        assert!(ack.raw.contains(&format!("Ciao anna@acme.example, ticket support#{}.", tk.number)), "{}", ack.raw);
        // Reset: the default again.
        let back = app.reset_mail_template(&cast.admin, "ack", "it").await.unwrap();
        assert!(!back.overridden && back.subject.starts_with("Abbiamo ricevuto"));
        assert_eq!(app.mail_templates(&cast.admin).await.unwrap().len(), 30);
    }
);

#[test]
fn smtp_urls_are_read_or_refused_clearly() {
    for good in [
        "smtp://127.0.0.1:25",
        "smtp://relay.example",
        "smtp://relay.example:587?tls=required",
        "smtp://relay.example:25?tls=none",
        "smtps://user%40example.net:p%C3%A0ss@relay.example:465",
        "smtp://[::1]:2525",
    ] {
        assert!(mail::send::Sender::from_url(good).is_ok(), "{good}");
    }
    for bad in [
        "ftp://relay.example",
        "relay.example:25",
        "smtp://:25",
        "smtp://h:99999",
        "smtp://h:25?tls=maybe",
        "smtp://h:25?x=%",
    ] {
        assert!(mail::send::Sender::from_url(bad).is_err(), "{bad}");
    }
}
