//! Opt-in email alerts of notices: who may subscribe whom to what, one email per contact and
//! event listing its lines in its language (delivered to a real SMTP server), updates and the
//! end, retries that send nothing twice, the per-line record, the signed unsubscribe link, the
//! API and the portal page.

use app::alerts::SubscribeInput;
use app::notices::{NoticeInput, NoticeText, NoticeUpdateInput};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::notice::{Impact, NoticeKind, NoticeState};
use domain::scope::{Scope, ScopeTerm};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::client::*;
use crate::harness::*;
use crate::mail_out::{Smtp, deliver, have_aiosmtpd, mail_app};

fn line(contact: Option<&str>, identifier: &str) -> SubscribeInput {
    SubscribeInput { contact: contact.map(String::from), line: Some(identifier.into()), zone: None }
}

fn zone(contact: Option<&str>, code: &str) -> SubscribeInput {
    SubscribeInput { contact: contact.map(String::from), line: None, zone: Some(code.into()) }
}

fn kind_of(e: app::Error) -> &'static str {
    match e {
        app::Error::NotFound(_) => "404",
        app::Error::Invalid(_) => "400",
        app::Error::Unprocessable(_) => "422",
        app::Error::Forbidden(_) => "403",
        other => panic!("unexpected {other:?}"),
    }
}

/// FTTH in the province of Milano: ACME-1 and ACME-2 (Milano), LAKE-1 (Abbiategrasso); not
/// ACME-3 (FTTC in Como) nor OTHER-1 (Roma).
fn milano_ftth() -> Scope {
    Scope {
        terms: vec![ScopeTerm { territory: Some("015".into()), network_element: None, service: Some("FTTH".into()) }],
        lines: vec![],
    }
}

fn texts(it: (&str, &str), en: (&str, &str)) -> std::collections::BTreeMap<String, NoticeText> {
    [
        ("it".to_string(), NoticeText { title: it.0.into(), body: it.1.into() }),
        ("en".to_string(), NoticeText { title: en.0.into(), body: en.1.into() }),
    ]
    .into()
}

fn incident(scope: Scope) -> NoticeInput {
    NoticeInput {
        kind: NoticeKind::Incident,
        impact: Impact::Outage,
        texts: texts(
            ("Guasto fibra Milano", "Un cavo è stato tranciato durante dei lavori stradali."),
            ("Fibre cut in Milan", "A cable was cut during road works."),
        ),
        internal_notes: "Scavatore in via Padova".into(),
        scope,
        window: None,
        estimated_restoration: None,
        publish: true,
    }
}

fn update(state: Option<NoticeState>, it: &str, en: &str) -> NoticeUpdateInput {
    NoticeUpdateInput { state, texts: texts(("", it), ("", en)), ..Default::default() }
}

/// Elena: an English-speaking contact of ACME.
async fn elena(t: &Ctx, cast: &Cast) {
    let input = app::admin::ContactInput {
        email: "elena@acme.example".into(),
        name: "Elena Neri".into(),
        phone: String::new(),
        language: Some("en".into()),
        customer: Some("ACME".into()),
    };
    t.app.create_contact(&cast.admin, input).await.unwrap();
}

/// A received message's decoded subject and text.
fn read(raw: &str) -> (String, String) {
    let m = mail::parse::parse(raw.as_bytes()).unwrap();
    (m.subject, m.text)
}

async fn alert_outbox(t: &Ctx) -> Vec<(i64, String)> {
    let mut tx = t.app.db.read().await.unwrap();
    store::with_conn!(&mut tx, c => sqlx::query_as::<_, (i64, String)>(
        "SELECT id, recipients FROM outbox WHERE kind = 'notice_alert' ORDER BY id").fetch_all(&mut *c).await)
    .unwrap()
}

/// Runs a real worker on `app` (its clock and settings) until no job is queued or running;
/// `mail.send` sends nothing.
async fn drain(app: &app::App) {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let w = app.clone();
    let cfg = app::jobs::WorkerConfig {
        node: "alerts-test".into(),
        poll: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let handlers = mail::send::hold(app::jobs::Handlers::builtin());
    let worker = tokio::spawn(async move { w.run_worker(handlers, cfg, rx).await });
    for _ in 0..1000 {
        let counts = store::jobs::counts(&app.db).await.unwrap();
        if !counts.iter().any(|(s, n)| (s == "queued" || s == "running") && *n > 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
}

/// The unsubscribe path in an alert email's text.
fn unsubscribe_path(text: &str) -> String {
    let at = text.find("/alerts/unsubscribe/").unwrap_or_else(|| panic!("no unsubscribe link in {text}"));
    text[at..].split_whitespace().next().unwrap().to_owned()
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    let mac = app::alerts::hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // A key longer than the block is hashed first (test case 6).
    let mac = app::alerts::hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
    assert_eq!(hex(&mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

both!(
    async fn contacts_subscribe_to_their_own_lines_and_zones_partners_and_staff_on_their_behalf(t: &Ctx) {
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        let a = &t.app;
        // Off by default.
        assert!(a.alert_subscriptions(&cast.anna, None).await.unwrap().is_empty());

        let (s1, new) = a.subscribe_alerts(&cast.anna, line(None, "ACME-1")).await.unwrap();
        assert!(new);
        assert_eq!(
            (s1.contact.as_str(), s1.line.as_deref(), s1.zone.is_none()),
            ("anna@acme.example", Some("ACME-1"), true)
        );
        let (again, new) = a.subscribe_alerts(&cast.anna, line(None, "ACME-1")).await.unwrap();
        assert_eq!((again.id, new), (s1.id, false), "subscribing twice changes nothing");
        let (province, _) = a.subscribe_alerts(&cast.anna, zone(None, "015")).await.unwrap();
        assert_eq!(province.zone.as_ref().map(|z| (z.code.as_str(), z.level.as_str())), Some(("015", "province")));
        let (como, _) = a.subscribe_alerts(&cast.anna, zone(Some("ANNA@acme.example"), "013075")).await.unwrap();
        assert_eq!(como.zone.unwrap().name, "Como");

        // Someone else's line, or a line that does not exist: not found; zones only where ACME has lines.
        assert_eq!(kind_of(a.subscribe_alerts(&cast.anna, line(None, "OTHER-1")).await.unwrap_err()), "404");
        assert_eq!(kind_of(a.subscribe_alerts(&cast.anna, line(None, "GHOST")).await.unwrap_err()), "404");
        assert_eq!(kind_of(a.subscribe_alerts(&cast.anna, zone(None, "058")).await.unwrap_err()), "422", "Roma");
        assert_eq!(kind_of(a.subscribe_alerts(&cast.anna, zone(None, "03")).await.unwrap_err()), "422", "a region");
        assert_eq!(kind_of(a.subscribe_alerts(&cast.anna, zone(None, "999999")).await.unwrap_err()), "404");
        let both_given = SubscribeInput { contact: None, line: Some("ACME-1".into()), zone: Some("015".into()) };
        assert_eq!(kind_of(a.subscribe_alerts(&cast.anna, both_given).await.unwrap_err()), "400");
        assert_eq!(kind_of(a.subscribe_alerts(&cast.anna, SubscribeInput::default()).await.unwrap_err()), "400");
        // A contact manages only itself.
        assert_eq!(
            kind_of(a.subscribe_alerts(&cast.anna, line(Some("bruno@acme.example"), "ACME-1")).await.unwrap_err()),
            "404"
        );
        assert_eq!(kind_of(a.alert_subscriptions(&cast.anna, Some("bruno@acme.example")).await.unwrap_err()), "404");

        // The partner, for its customer's contact and lines only.
        let (lake, _) = a.subscribe_alerts(&cast.partner, line(Some("carla@lake.example"), "LAKE-1")).await.unwrap();
        assert_eq!(lake.contact, "carla@lake.example");
        assert_eq!(
            kind_of(a.subscribe_alerts(&cast.partner, line(Some("anna@acme.example"), "ACME-1")).await.unwrap_err()),
            "404"
        );
        assert_eq!(
            kind_of(a.subscribe_alerts(&cast.partner, line(Some("carla@lake.example"), "ACME-1")).await.unwrap_err()),
            "404"
        );
        assert_eq!(
            kind_of(
                a.subscribe_alerts(&cast.other_partner, line(Some("carla@lake.example"), "LAKE-1")).await.unwrap_err()
            ),
            "404"
        );
        assert_eq!(
            kind_of(a.subscribe_alerts(&cast.partner, line(None, "LAKE-1")).await.unwrap_err()),
            "400",
            "which contact?"
        );
        assert_eq!(kind_of(a.unsubscribe_alert(&cast.other_partner, lake.id).await.unwrap_err()), "404");

        // Staff, for anyone, on lines of the contact's own customer.
        a.subscribe_alerts(&cast.agent, line(Some("bruno@acme.example"), "ACME-3")).await.unwrap();
        assert_eq!(
            kind_of(a.subscribe_alerts(&cast.agent, line(Some("carla@lake.example"), "ACME-1")).await.unwrap_err()),
            "422"
        );
        assert_eq!(
            kind_of(a.subscribe_alerts(&cast.agent, line(Some("nobody@x.example"), "ACME-1")).await.unwrap_err()),
            "404"
        );
        assert_eq!(a.alert_subscriptions(&cast.agent, Some("bruno@acme.example")).await.unwrap().len(), 1);

        // Unsubscribing: one's own only.
        assert_eq!(kind_of(a.unsubscribe_alert(&cast.dario, s1.id).await.unwrap_err()), "404");
        assert_eq!(kind_of(a.unsubscribe_alert(&cast.bruno, s1.id).await.unwrap_err()), "404");
        a.unsubscribe_alert(&cast.anna, s1.id).await.unwrap();
        assert_eq!(kind_of(a.unsubscribe_alert(&cast.anna, s1.id).await.unwrap_err()), "404");
        let left: Vec<String> = a
            .alert_subscriptions(&cast.anna, None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.zone.map(|z| z.code).or(s.line).unwrap())
            .collect();
        assert_eq!(left, ["015", "013075"]);

        // What the portal offers: ACME's lines and the zones where they are.
        let choices = a.alert_choices(&cast.anna, None).await.unwrap();
        assert_eq!(
            choices.lines.iter().map(|l| l.identifier.as_str()).collect::<Vec<_>>(),
            ["ACME-1", "ACME-2", "ACME-3"]
        );
        let zones: Vec<&str> = choices.zones.iter().map(|z| z.code.as_str()).collect();
        assert_eq!(zones, ["013", "015", "013075", "015146"], "provinces, then municipalities, by name");
        assert_eq!(kind_of(a.alert_contacts(&cast.agent).await.unwrap_err()), "403");
        let partner_contacts: Vec<String> =
            a.alert_contacts(&cast.partner).await.unwrap().into_iter().map(|c| c.email).collect();
        assert_eq!(partner_contacts, ["carla@lake.example"]);
    }
);

both!(
    async fn a_notice_sends_one_email_per_subscribed_contact_listing_its_lines_in_its_language(t: &Ctx) {
        if !have_aiosmtpd() {
            return;
        }
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        elena(t, &cast).await;
        let app = mail_app(t).await;
        let smtp = Smtp::new("");
        // Anna (it): Milano as a zone and ACME-1 on its own (both reach ACME-1: one email all the same).
        app.subscribe_alerts(&cast.anna, zone(None, "015146")).await.unwrap();
        app.subscribe_alerts(&cast.anna, line(None, "ACME-1")).await.unwrap();
        // Elena (en): ACME-2 only. Carla (it): LAKE-1. Dario: his line in Roma, not in scope.
        app.subscribe_alerts(&cast.admin, line(Some("elena@acme.example"), "ACME-2")).await.unwrap();
        app.subscribe_alerts(&cast.partner, line(Some("carla@lake.example"), "LAKE-1")).await.unwrap();
        app.subscribe_alerts(&cast.dario, line(None, "OTHER-1")).await.unwrap();
        // Bruno (ACME too) is not subscribed.

        let n = app.create_notice(&cast.agent, incident(milano_ftth())).await.unwrap();
        deliver(&app, &smtp.url()).await;

        let anna = smtp.to("anna@acme.example");
        assert_eq!(anna.len(), 1, "one email for both lines: {anna:?}");
        let (subject, text) = read(&anna[0].raw);
        assert_eq!(subject, "Disservizio: Guasto fibra Milano");
        assert!(text.contains("2 delle tue linee"), "{text}");
        assert!(text.contains("- ACME-1 (FTTH, Milano)") && text.contains("- ACME-2 (FTTH, Milano)"), "{text}");
        assert!(!text.contains("ACME-3"), "{text}");
        assert!(text.contains("Un cavo è stato tranciato"), "{text}");
        assert!(text.contains("Stato: in analisi"), "{text}");
        assert!(text.contains("https://help.op.example/portal/alerts"), "{text}");
        let link = anna[0].header("List-Unsubscribe").unwrap();
        assert!(link.starts_with("<https://help.op.example/alerts/unsubscribe/") && link.ends_with('>'), "{link}");
        assert_eq!(anna[0].header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
        assert_eq!(anna[0].header("Auto-Submitted").as_deref(), Some("auto-generated"));
        assert!(anna[0].header("From").unwrap().contains("help@op.example"));
        assert!(text.contains(link.trim_matches(['<', '>'])), "the same link in the text: {text}");

        let elena = smtp.to("elena@acme.example");
        assert_eq!(elena.len(), 1);
        let (subject, text) = read(&elena[0].raw);
        assert_eq!(subject, "Service disruption: Fibre cut in Milan");
        assert!(text.starts_with("Hello Elena Neri,"), "{text}");
        assert!(
            text.contains("your line:") && text.contains("- ACME-2 (FTTH, Milano)") && !text.contains("ACME-1"),
            "{text}"
        );
        assert!(text.contains("A cable was cut"), "{text}");
        assert_eq!(smtp.to("carla@lake.example").len(), 1, "the partner's customer");
        assert!(smtp.to("dario@other.example").is_empty(), "a line the notice does not reach");
        assert!(smtp.to("bruno@acme.example").is_empty(), "not subscribed");
        assert_eq!(smtp.received().len(), 3);

        // An update, then the resolution: told again, each once.
        app.post_notice_update(
            &cast.agent,
            n.id,
            update(Some(NoticeState::Identified), "Trovato il guasto.", "Fault found."),
        )
        .await
        .unwrap();
        deliver(&app, &smtp.url()).await;
        let anna = smtp.to("anna@acme.example");
        assert_eq!(anna.len(), 2);
        let (subject, text) = read(&anna[1].raw);
        assert_eq!(subject, "Aggiornamento: Guasto fibra Milano");
        assert!(text.contains("Trovato il guasto.") && text.contains("Stato: causa individuata"), "{text}");
        let (subject, text) = read(&smtp.to("elena@acme.example")[1].raw);
        assert_eq!(subject, "Update: Fibre cut in Milan");
        assert!(text.contains("Fault found."), "{text}");

        app.post_notice_update(
            &cast.agent,
            n.id,
            update(Some(NoticeState::Resolved), "Servizio ripristinato.", "Service restored."),
        )
        .await
        .unwrap();
        deliver(&app, &smtp.url()).await;
        let (subject, text) = read(&smtp.to("anna@acme.example")[2].raw);
        assert_eq!(subject, "Risolto: Guasto fibra Milano");
        assert!(text.contains("Servizio ripristinato.") && text.contains("si è concluso"), "{text}");
        assert_eq!(read(&smtp.to("elena@acme.example")[2].raw).0, "Resolved: Fibre cut in Milan");
        assert_eq!(smtp.received().len(), 9, "three contacts, three events");

        // The record, per line: who was told of which event, and what became of the email.
        let record = app.line_deliveries(&cast.agent, "ACME-1", 100).await.unwrap();
        let told: Vec<(&str, &str, Option<&str>)> =
            record.iter().map(|d| (d.event.as_str(), d.contact.as_str(), d.mail_state.as_deref())).collect();
        assert_eq!(
            told,
            [
                ("ended", "anna@acme.example", Some("sent")),
                ("update", "anna@acme.example", Some("sent")),
                ("published", "anna@acme.example", Some("sent"))
            ]
        );
        assert!(record.iter().all(|d| d.notice == n.id));
        assert_eq!(record[0].state.as_deref(), Some("resolved"));
        let acme2: Vec<String> =
            app.line_deliveries(&cast.agent, "ACME-2", 100).await.unwrap().into_iter().map(|d| d.contact).collect();
        assert_eq!(acme2.len(), 6, "anna and elena, three events each: {acme2:?}");
        assert!(app.line_deliveries(&cast.agent, "OTHER-1", 100).await.unwrap().is_empty());
        assert_eq!(kind_of(app.line_deliveries(&cast.anna, "ACME-1", 100).await.unwrap_err()), "403", "staff only");
        assert_eq!(kind_of(app.line_deliveries(&cast.agent, "GHOST", 100).await.unwrap_err()), "404");

        // A worker that died after writing the emails but before marking its job done: the job
        // runs again after its lease, and sends nothing twice.
        let mut tx = app.db.write().await.unwrap();
        store::with_conn!(&mut tx, c => sqlx::query(
            "UPDATE jobs SET state = 'running', locked_by = 'dead-node', locked_at = 0 WHERE kind = 'notice.alerts'")
            .execute(&mut *c).await.map(|_| ()))
        .unwrap();
        tx.commit().await.unwrap();
        let requeued = store::jobs::requeue_stale(&app.db, 1, store::micros(app.now())).await.unwrap();
        assert_eq!(requeued, 3);
        deliver(&app, &smtp.url()).await;
        assert_eq!(smtp.received().len(), 9, "nothing sent twice");
        assert_eq!(alert_outbox(t).await.len(), 9);

        // Two runs of one event at the same moment (two nodes): one writes, the other fails whole.
        let v = app
            .post_notice_update(
                &cast.agent,
                n.id,
                update(Some(NoticeState::Investigating), "Di nuovo giù.", "Down again."),
            )
            .await
            .unwrap();
        let u = {
            let mut tx = app.db.read().await.unwrap();
            store::notices::updates_of(&mut tx, v.id).await.unwrap().last().unwrap().id
        };
        let event = format!("update-{u}");
        let (r1, r2) =
            tokio::join!(app.fan_out_alerts(n.id, Some(u), &event), app.fan_out_alerts(n.id, Some(u), &event));
        let written: usize = [&r1, &r2].iter().filter_map(|r| r.as_ref().ok()).sum();
        assert_eq!(written, 3, "{r1:?} {r2:?}");
        assert_eq!(app.fan_out_alerts(n.id, Some(u), &event).await.unwrap(), 0, "already told");
        deliver(&app, &smtp.url()).await;
        assert_eq!(smtp.received().len(), 12);
        assert_eq!(smtp.to("anna@acme.example").len(), 4);
    }
);

both!(
    async fn the_unsubscribe_link_asks_then_unsubscribes_and_a_tampered_one_changes_nothing(t: &Ctx) {
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        let app = mail_app(t).await;
        app.subscribe_alerts(&cast.anna, line(None, "ACME-1")).await.unwrap();
        app.subscribe_alerts(&cast.anna, zone(None, "015146")).await.unwrap();
        app.subscribe_alerts(&cast.anna, zone(None, "013075")).await.unwrap();
        app.subscribe_alerts(&cast.partner, line(Some("carla@lake.example"), "LAKE-1")).await.unwrap();
        app.create_notice(&cast.agent, incident(milano_ftth())).await.unwrap();
        drain(&app).await;
        let outbox = alert_outbox(t).await;
        assert_eq!(outbox.len(), 2, "{outbox:?}");
        let email = |id: i64| {
            let app = app.clone();
            async move { read(&String::from_utf8(app.outbox_message(id).await.unwrap().unwrap().raw).unwrap()).1 }
        };
        let anna_id = outbox.iter().find(|(_, r)| r.contains("anna@")).unwrap().0;
        let carla_id = outbox.iter().find(|(_, r)| r.contains("carla@")).unwrap().0;
        let path = unsubscribe_path(&email(anna_id).await);
        let carla_path = unsubscribe_path(&email(carla_id).await);
        assert_ne!(path, carla_path);

        let mut b = Browser::new(t);
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("anna@acme.example"), "{}", page.body);
        assert!(
            page.body.contains("Line ACME-1") && page.body.contains("Milano (municipality, 015146)"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("013075"), "the Como zone did not cause this email");
        assert!(page.body.contains(&format!("action=\"{path}\"")));

        // Altered, cut short or made up: 400, nothing changes.
        let (head, sig) = path.rsplit_once('.').unwrap();
        let flipped = format!("{head}.{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]);
        let other_payload = format!("{}.{sig}", carla_path.rsplit_once('.').unwrap().0);
        for bad in
            [flipped.as_str(), head, other_payload.as_str(), "/alerts/unsubscribe/abc", "/alerts/unsubscribe/a.b"]
        {
            let page = b.get(bad).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}: {}", page.body);
            assert!(page.body.contains("not valid"), "{}", page.body);
            assert_eq!(b.post(bad, &[]).await.status, StatusCode::BAD_REQUEST);
        }
        assert_eq!(app.alert_subscriptions(&cast.anna, None).await.unwrap().len(), 3, "nothing changed");

        // The button: the subscriptions that caused the email go, the other stays.
        let done = b.post(&path, &[]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert!(done.body.contains("Line ACME-1"), "{}", done.body);
        let left: Vec<String> = app
            .alert_subscriptions(&cast.anna, None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.zone.unwrap().code)
            .collect();
        assert_eq!(left, ["013075"]);
        let again = b.get(&path).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert!(again.body.contains("already cancelled"), "{}", again.body);
        assert_eq!(b.post(&path, &[]).await.status, StatusCode::NOT_FOUND);

        // A mail client's one-click unsubscribe (RFC 8058).
        let req = Request::builder()
            .method("POST")
            .uri(&carla_path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        let r = b.send(req, Body::from("List-Unsubscribe=One-Click")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(app.alert_subscriptions(&cast.partner, Some("carla@lake.example")).await.unwrap().is_empty());
        // Each removal is on the contact's record.
        let mut tx = app.db.read().await.unwrap();
        let n: i64 = store::with_conn!(&mut tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE subject = 'contact' AND kind = 'alerts' AND new_value IS NULL")
            .fetch_one(&mut *c).await)
        .unwrap();
        assert_eq!(n, 3);
    }
);

struct Api {
    router: axum::Router,
    agent: String,
}

impl Api {
    async fn call(&self, method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

both!(
    async fn api_manages_a_contacts_subscriptions_and_shows_a_lines_deliveries_to_staff(t: &Ctx) {
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        let agent =
            t.app.create_token(&t.system(), "agent", domain::Role::Agent, Some("agent@op.example")).await.unwrap();
        let api = Api { router: web::router(t.app.clone()), agent: agent.secret };
        let tok = Some(api.agent.as_str());

        let (s, v) = api
            .call(
                "POST",
                "/api/v1/alerts/subscriptions",
                tok,
                Some(json!({"contact": "anna@acme.example", "line": "ACME-1"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_i64().unwrap();
        assert_eq!((v["line"].as_str(), v["contact"].as_str()), (Some("ACME-1"), Some("anna@acme.example")));
        let (s, v2) = api
            .call(
                "POST",
                "/api/v1/alerts/subscriptions",
                tok,
                Some(json!({"contact": "anna@acme.example", "line": "ACME-1"})),
            )
            .await;
        assert_eq!((s, v2["id"].as_i64()), (StatusCode::OK, Some(id)), "already subscribed");
        let (s, v) = api
            .call(
                "POST",
                "/api/v1/alerts/subscriptions",
                tok,
                Some(json!({"contact": "anna@acme.example", "zone": "015"})),
            )
            .await;
        assert_eq!((s, v["zone"]["level"].as_str()), (StatusCode::CREATED, Some("province")), "{v}");

        // Bad input: a clear error, nothing saved.
        let cases = [
            (json!({"contact": "anna@acme.example"}), StatusCode::BAD_REQUEST),
            (json!({"contact": "anna@acme.example", "line": "ACME-1", "zone": "015"}), StatusCode::BAD_REQUEST),
            (json!({"line": "ACME-1"}), StatusCode::BAD_REQUEST),
            (json!({"contact": "anna@acme.example", "line": "ACME-1", "colour": "red"}), StatusCode::BAD_REQUEST),
            (json!({"contact": "anna@acme.example", "line": "OTHER-1"}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"contact": "anna@acme.example", "zone": "058"}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"contact": "nobody@acme.example", "line": "ACME-1"}), StatusCode::NOT_FOUND),
            (json!({"contact": "anna@acme.example", "line": "GHOST"}), StatusCode::NOT_FOUND),
        ];
        for (body, want) in cases {
            let (s, v) = api.call("POST", "/api/v1/alerts/subscriptions", tok, Some(body.clone())).await;
            assert_eq!(s, want, "{body}: {v}");
            assert!(v["detail"].is_string() || v["errors"].is_array(), "{v}");
        }
        let (s, v) = api.call("GET", "/api/v1/alerts/subscriptions?contact=anna@acme.example", tok, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
        assert_eq!(api.call("GET", "/api/v1/alerts/subscriptions", tok, None).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(
            api.call("GET", "/api/v1/alerts/subscriptions?contact=anna@acme.example", None, None).await.0,
            StatusCode::UNAUTHORIZED
        );

        assert_eq!(
            api.call("DELETE", &format!("/api/v1/alerts/subscriptions/{id}"), tok, None).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            api.call("DELETE", &format!("/api/v1/alerts/subscriptions/{id}"), tok, None).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(api.call("DELETE", "/api/v1/alerts/subscriptions/x", tok, None).await.0, StatusCode::NOT_FOUND);

        // A line's deliveries after a publication.
        t.app.create_notice(&cast.agent, incident(milano_ftth())).await.unwrap();
        t.drain_jobs().await;
        let (s, v) = api.call("GET", "/api/v1/lines/ACME-1/deliveries", tok, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v.as_array().unwrap().len(), 1, "anna by her province: {v}");
        assert_eq!((v[0]["event"].as_str(), v[0]["contact"].as_str()), (Some("published"), Some("anna@acme.example")));
        assert_eq!(v[0]["mail_state"].as_str(), Some("queued"));
        assert_eq!(
            api.call("GET", "/api/v1/lines/ACME-1/deliveries?limit=0", tok, None).await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(api.call("GET", "/api/v1/lines/GHOST/deliveries", tok, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.call("GET", "/api/v1/lines/ACME-1/deliveries", None, None).await.0, StatusCode::UNAUTHORIZED);
    }
);

both!(
    async fn the_portal_page_lists_and_changes_a_contacts_subscriptions_with_csrf(t: &Ctx) {
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        with_passwords(t, &cast).await;
        let mut b = Browser::new(t);
        b.login_ok("anna@acme.example").await;
        let home = b.get("/portal").await;
        assert!(home.body.contains("href=\"/portal/alerts\""), "a link in the navigation");

        let page = b.get("/portal/alerts").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Nessuna iscrizione"), "in Anna's language: {}", page.body);
        assert!(page.body.contains("value=\"ACME-3\""), "ACME's lines are offered");
        assert!(!page.body.contains("OTHER-1") && !page.body.contains("LAKE-1"), "nobody else's");
        assert!(page.body.contains("value=\"015146\"") && page.body.contains("value=\"013\""), "its zones");
        assert!(!page.body.contains("value=\"058\""), "not Roma");
        let csrf = page.hidden("csrf");

        // Without the token: refused, nothing saved.
        let r = b.post("/portal/alerts", &[("line", "ACME-1")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(t.app.alert_subscriptions(&cast.anna, None).await.unwrap().is_empty());

        let r =
            b.post("/portal/alerts", &[("csrf", &csrf), ("contact", "anna@acme.example"), ("line", "ACME-1")]).await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/portal/alerts?contact=anna%40acme.example&saved=1")
        );
        let r = b.post("/portal/alerts", &[("csrf", &csrf), ("zone", "013")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        // A value the form did not offer: the page again, with why; someone else's contact: 404.
        let r = b.post("/portal/alerts", &[("csrf", &csrf), ("zone", "058")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("non è possibile"), "{}", r.body);
        let r = b.post("/portal/alerts", &[("csrf", &csrf), ("line", "OTHER-1")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r =
            b.post("/portal/alerts", &[("csrf", &csrf), ("contact", "bruno@acme.example"), ("line", "ACME-1")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        let page = b.get("/portal/alerts?saved=1").await;
        assert!(page.body.contains("Salvato."));
        assert!(page.body.contains("Linea ACME-1") && page.body.contains("Como (provincia, 013)"), "{}", page.body);
        let subs = t.app.alert_subscriptions(&cast.anna, None).await.unwrap();
        assert_eq!(subs.len(), 2);
        let r = b.post(&format!("/portal/alerts/{}/delete", subs[0].id), &[("csrf", "wrong")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = b.post(&format!("/portal/alerts/{}/delete", subs[0].id), &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(t.app.alert_subscriptions(&cast.anna, None).await.unwrap().len(), 1);

        // Dario cannot remove Anna's subscription.
        let mut d = Browser::new(t);
        d.login_ok("dario@other.example").await;
        let dcsrf = d.get("/portal/alerts").await.hidden("csrf");
        let r = d.post(&format!("/portal/alerts/{}/delete", subs[1].id), &[("csrf", &dcsrf)]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(t.app.alert_subscriptions(&cast.anna, None).await.unwrap().len(), 1);

        // The partner's user picks a contact of its customers, and only those.
        let mut p = Browser::new(t);
        p.login_ok("noc@partner.example").await;
        let page = p.get("/portal/alerts").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("value=\"carla@lake.example\"") && !page.body.contains("anna@"), "{}", page.body);
        let page = p.get("/portal/alerts?contact=carla@lake.example").await;
        assert!(page.body.contains("value=\"LAKE-1\""), "{}", page.body);
        let pcsrf = page.hidden("csrf");
        let r =
            p.post("/portal/alerts", &[("csrf", &pcsrf), ("contact", "carla@lake.example"), ("line", "LAKE-1")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(p.get("/portal/alerts?contact=anna@acme.example").await.status, StatusCode::NOT_FOUND);
        assert_eq!(t.app.alert_subscriptions(&cast.agent, Some("carla@lake.example")).await.unwrap().len(), 1);
    }
);

both!(
    async fn a_maintenance_ended_by_the_clock_tells_its_subscribers_once(t: &Ctx) {
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        let start: jiff::Timestamp = "2026-11-20T22:00:00Z".parse().unwrap();
        let clock = app::Clock::manual(start - jiff::SignedDuration::from_hours(24));
        let app = t.app.clone().with_clock(clock.clone());
        app.subscribe_alerts(&cast.anna, line(None, "ACME-1")).await.unwrap();
        let mut input = incident(milano_ftth());
        input.kind = NoticeKind::Maintenance;
        input.window = Some((start, start + jiff::SignedDuration::from_hours(4)));
        app.create_notice(&cast.agent, input).await.unwrap();
        drain(&app).await;
        // The clock starts it (no email), then ends it (one email).
        clock.set(start + jiff::SignedDuration::from_hours(1));
        assert_eq!(app.notice_sweep().await.unwrap(), 1);
        drain(&app).await;
        assert_eq!(alert_outbox(t).await.len(), 1);
        clock.set(start + jiff::SignedDuration::from_hours(5));
        assert_eq!(app.notice_sweep().await.unwrap(), 1);
        assert_eq!(app.notice_sweep().await.unwrap(), 0);
        drain(&app).await;
        let outbox = alert_outbox(t).await;
        assert_eq!(outbox.len(), 2);
        let raw = String::from_utf8(app.outbox_message(outbox[1].0).await.unwrap().unwrap().raw).unwrap();
        let (subject, text) = read(&raw);
        assert_eq!(subject, "Completato: Guasto fibra Milano");
        assert!(text.contains("Finestra: dal 2026-11-20 23:00 CET al 2026-11-21 03:00 CET"), "{text}");
        let record = app.line_deliveries(&cast.agent, "ACME-1", 10).await.unwrap();
        assert_eq!(record.iter().map(|d| d.event.as_str()).collect::<Vec<_>>(), ["ended", "published"]);
    }
);

both!(
    async fn a_fan_out_over_several_batches_tells_each_contact_once_and_skips_those_told_before_a_crash(t: &Ctx) {
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        let n = app::alerts::BATCH + 100;
        let mut customers = String::from("code,name,vip,partner_code,contact_email,contact_name,language\n");
        let mut lines = String::from("identifier,customer_code,service,municipality_code,network_elements,status\n");
        let mut rows = Vec::new();
        for i in 0..n {
            customers.push_str(&format!("B{i},Bulk {i},false,,b{i}@bulk.example,,it\n"));
            lines.push_str(&format!("BL{i},B{i},FTTH,015146,,active\n"));
            rows.push(app::alerts::BulkSubscription {
                contact: format!("b{i}@bulk.example"),
                line: Some(format!("BL{i}")),
                zone: None,
            });
        }
        t.app.import_customers(&cast.admin, customers.as_bytes(), true).await.unwrap();
        t.app.import_lines(&cast.admin, lines.as_bytes(), true, &|_| {}).await.unwrap();
        let bad = |contact: &str, line: Option<&str>, zone: Option<&str>| app::alerts::BulkSubscription {
            contact: contact.into(),
            line: line.map(String::from),
            zone: zone.map(String::from),
        };
        rows.push(bad("nobody@bulk.example", Some("BL1"), None));
        rows.push(bad("b1@bulk.example", Some("BL2"), None));
        rows.push(bad("b1@bulk.example", None, Some("03")));
        let report = t.app.bulk_subscribe(&cast.admin, &rows).await.unwrap();
        assert_eq!(report.added, n as u64);
        assert_eq!(report.rejected.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [n, n + 1, n + 2], "{report:?}");
        assert_eq!(t.app.bulk_subscribe(&cast.admin, &rows[..n]).await.unwrap().added, 0, "once");
        assert_eq!(kind_of(t.app.bulk_subscribe(&cast.agent, &rows[..1]).await.unwrap_err()), "403");

        // A draft, then 300 contacts recorded as told of its publication (a run that crashed
        // after committing them), then the publication.
        let mut input = incident(milano_ftth());
        input.publish = false;
        let notice = t.app.create_notice(&cast.agent, input).await.unwrap();
        let mut tx = t.app.db.write().await.unwrap();
        let told: Vec<(i64, i64)> = store::with_conn!(&mut tx, c => sqlx::query_as(
            "SELECT k.id, l.id FROM contacts k JOIN lines l ON l.customer_id = k.customer_id
             WHERE k.email LIKE '%@bulk.example' ORDER BY k.id LIMIT 300").fetch_all(&mut *c).await)
        .unwrap();
        let told: Vec<store::notices::DeliveryIn> = told
            .into_iter()
            .map(|(contact_id, line_id)| store::notices::DeliveryIn { contact_id, line_id, outbox_id: None })
            .collect();
        store::notices::record_deliveries(&mut tx, notice.id, None, "published", &told, 1).await.unwrap();
        tx.commit().await.unwrap();
        t.app.publish_notice(&cast.agent, notice.id).await.unwrap();
        t.drain_jobs().await;
        let outbox = alert_outbox(t).await;
        assert_eq!(outbox.len(), n - 300, "the others, once each");
        let mut to: Vec<&str> = outbox.iter().map(|(_, r)| r.as_str()).collect();
        to.sort_unstable();
        to.dedup();
        assert_eq!(to.len(), n - 300);
        let mut tx = t.app.db.read().await.unwrap();
        assert_eq!(store::notices::count_deliveries(&mut tx, notice.id).await.unwrap(), n as i64);
        drop(tx);
        assert_eq!(t.app.fan_out_alerts(notice.id, None, "published").await.unwrap(), 0);
    }
);
