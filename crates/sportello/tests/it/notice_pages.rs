//! Notices where people meet them: the portal's banners (home, line page, ticket form), a ticket
//! opened anyway linked to its notice with its SLA clock recording it, the agents' editor and
//! notice page, and updates carried to the linked tickets.

use app::notices::{NoticeInput, NoticeText};
use app::tickets::{ListInput, NewTicketInput};
use axum::http::StatusCode;
use domain::notice::{Impact, NoticeKind};
use domain::scope::{Scope, ScopeTerm};
use domain::{Category, Status};

use crate::client::*;
use crate::harness::*;

const TITLE_IT: &str = "Guasto fibra <b>Milano</b>";
const TITLE_EN: &str = "Fibre cut in Milan";

/// A published fault on FTTH lines in the province of Milano (ACME-1, ACME-2, LAKE-1).
pub(crate) async fn milan_fault(t: &Ctx, cast: &Cast) -> i64 {
    let texts = [
        ("it".to_string(), NoticeText { title: TITLE_IT.into(), body: "Tecnici al lavoro".into() }),
        ("en".to_string(), NoticeText { title: TITLE_EN.into(), body: "Technicians on site".into() }),
    ];
    let input = NoticeInput {
        kind: NoticeKind::Incident,
        impact: Impact::Outage,
        texts: texts.into(),
        internal_notes: "cut by the roadworks on via Padova".into(),
        scope: Scope {
            terms: vec![ScopeTerm {
                territory: Some("015".into()),
                network_element: None,
                service: Some("FTTH".into()),
            }],
            lines: vec![],
        },
        window: None,
        estimated_restoration: None,
        publish: true,
    };
    t.app.create_notice(&cast.agent, input).await.unwrap().id
}

async fn ticket_count(t: &Ctx, cast: &Cast) -> usize {
    t.app.list_tickets(&cast.admin, ListInput { limit: Some(200), ..Default::default() }).await.unwrap().tickets.len()
}

/// Whether a page shows the fault's banner (the reader's language: Italian; escaped).
fn shows_fault(body: &str) -> bool {
    assert!(!body.contains("<b>Milano</b>"), "titles are escaped");
    body.contains("Guasto fibra &lt;b&gt;Milano&lt;/b&gt;") || body.contains("Guasto fibra &#60;b&#62;Milano")
}

both!(
    async fn customers_in_the_affected_province_see_the_notice_on_home_line_and_ticket_form(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        crate::notices::inventory(t, &cast).await;
        let id = milan_fault(t, &cast).await;

        let mut anna = Browser::new(t);
        anna.login_ok("anna@acme.example").await;
        let home = anna.get("/portal").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(shows_fault(&home.body), "{}", home.body);
        assert!(home.body.contains("ACME-1") && home.body.contains("ACME-2"), "the lines it touches");
        assert!(!home.body.contains("roadworks"), "internal notes stay inside");
        let lines = anna.get("/portal/lines").await;
        assert!(lines.body.contains("ACME-3") && !lines.body.contains("OTHER-1") && !lines.body.contains("LAKE-1"));
        assert!(shows_fault(&anna.get("/portal/lines/ACME-1").await.body));
        let como = anna.get("/portal/lines/ACME-3").await;
        assert_eq!(como.status, StatusCode::OK);
        assert!(!shows_fault(&como.body), "FTTC in Como is not affected");
        assert_eq!(anna.get("/portal/lines/OTHER-1").await.status, StatusCode::NOT_FOUND, "someone else's line");
        assert!(shows_fault(&anna.get(&format!("/portal/notices/{id}")).await.body));

        // The ticket form: the notice first; a ticket opened anyway is linked to it.
        let form = anna.get("/portal/tickets/new?line=ACME-1").await;
        assert!(shows_fault(&form.body), "{}", form.body);
        assert!(!shows_fault(&anna.get("/portal/tickets/new?line=ACME-3").await.body));
        let csrf = form.hidden("csrf");
        let before = ticket_count(t, &cast).await;
        let fields = [
            ("csrf", csrf.as_str()),
            ("line", "ACME-1"),
            ("category", "blocking_fault"),
            ("title", "Internet non va"),
            ("body", "Da stamattina nessuna connessione"),
        ];
        let first = anna.post_multipart("/portal/tickets/new", &fields, &[]).await;
        assert_eq!(first.status, StatusCode::OK, "shown the notice first, not created");
        assert!(shows_fault(&first.body));
        assert_eq!(first.hidden("seen_notices"), "ACME-1");
        assert_eq!(ticket_count(t, &cast).await, before);
        let mut anyway = fields.to_vec();
        anyway.push(("seen_notices", "ACME-1"));
        let created = anna.post_multipart("/portal/tickets/new", &anyway, &[]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let number: i64 = created.location().strip_prefix("/portal/tickets/").unwrap().parse().unwrap();
        let v = t.app.ticket(&cast.agent, number).await.unwrap();
        assert_eq!((v.line.as_deref(), v.notices.as_slice()), (Some("ACME-1"), &[id][..]));
        assert!(t.app.notice(&cast.agent, id).await.unwrap().linked_tickets.unwrap().contains(&number));
        let page = anna.get(&format!("/portal/tickets/{number}")).await;
        assert!(page.body.contains(&format!("/portal/notices/{id}")), "the ticket points to the notice");
        // A line that is not the reader's: refused on the form, nothing created.
        let mut foreign = fields.to_vec();
        foreign[1] = ("line", "OTHER-1");
        let refused = anna.post_multipart("/portal/tickets/new", &foreign, &[]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(ticket_count(t, &cast).await, before + 1);

        // A customer elsewhere sees none of it.
        let mut dario = Browser::new(t);
        dario.login_ok("dario@other.example").await;
        let home = dario.get("/portal").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(!shows_fault(&home.body) && !home.body.contains("ACME-1"));
        assert!(!shows_fault(&dario.get("/portal/lines/OTHER-1").await.body));
        assert!(!shows_fault(&dario.get("/portal/tickets/new?line=ACME-1").await.body));
        assert_eq!(dario.get(&format!("/portal/notices/{id}")).await.status, StatusCode::NOT_FOUND);
    }
);

both!(
    async fn tickets_on_an_affected_line_are_linked_and_their_clock_records_the_notice(t: &Ctx) {
        let cast = t.seed().await;
        crate::notices::inventory(t, &cast).await;
        let contract = app::sla::ContractInput {
            customer: Some("ACME".into()),
            level: "extended".into(),
            valid_from: "2020-01-01".into(),
            ..Default::default()
        };
        t.app.create_contract(&cast.admin, contract).await.unwrap();
        let id = milan_fault(t, &cast).await;
        let open = |line: Option<&str>| NewTicketInput {
            queue: "support".into(),
            title: "No sync".into(),
            body: "The ONT is red".into(),
            category: Some(Category::BlockingFault),
            line: line.map(String::from),
            ..Default::default()
        };
        let v = t.app.create_ticket(&cast.anna, open(Some("ACME-1"))).await.unwrap();
        assert_eq!(v.notices, [id]);
        assert_eq!(v.sla.as_ref().map(|s| s.notice), Some(Some(id)), "the clock records the notice");
        let again = t.app.ticket(&cast.agent, v.number).await.unwrap();
        assert_eq!((again.line.as_deref(), again.notices.as_slice()), (Some("ACME-1"), &[id][..]));
        assert_eq!(again.sla.unwrap().notice, Some(id));
        let events = t.app.ticket_events(&cast.agent, v.number).await.unwrap();
        assert!(events.iter().any(|e| e.kind == "notice" && e.new_value.as_deref() == Some(&*id.to_string())));

        // A line no notice touches: no link; the customer comes from the line for a partner.
        let v = t.app.create_ticket(&cast.anna, open(Some("ACME-3"))).await.unwrap();
        assert!(v.notices.is_empty() && v.sla.as_ref().is_some_and(|s| s.notice.is_none()));
        let lake = t.app.create_ticket(&cast.partner, open(Some("LAKE-1"))).await.unwrap();
        assert_eq!(lake.customer.as_ref().map(|c| c.code.as_str()), Some("LAKE"));
        assert_eq!(lake.notices, [id]);
        // Someone else's line, or a line of another customer than the one named: refused.
        let err = t.app.create_ticket(&cast.anna, open(Some("OTHER-1"))).await.unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
        let err = t.app.create_ticket(&cast.other_partner, open(Some("LAKE-1"))).await.unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
        let mut mixed = open(Some("ACME-1"));
        mixed.customer = Some("OTHER".into());
        mixed.requestors = vec!["anna@acme.example".into()];
        let err = t.app.create_ticket(&cast.agent, mixed).await.unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
        // Tickets by line, as the line page lists them.
        let on_line = |line: &str| ListInput { line: Some(line.into()), ..Default::default() };
        assert_eq!(t.app.list_tickets(&cast.agent, on_line("ACME-1")).await.unwrap().tickets.len(), 1);
        assert!(t.app.list_tickets(&cast.dario, on_line("ACME-1")).await.unwrap().tickets.is_empty());
    }
);

both!(
    async fn agents_preview_publish_update_and_resolve_a_notice_with_its_tickets_from_the_pages(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        crate::notices::inventory(t, &cast).await;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        let form = b.get("/notices/new").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.hidden("csrf");
        let base = [
            ("csrf", csrf.as_str()),
            ("kind", "incident"),
            ("impact", "degraded"),
            ("title_it", "Rallentamenti OLT 7"),
            ("body_it", "Navigazione lenta"),
            ("title_en", "Slow OLT 7"),
            ("term0_element", "MI-OLT-07"),
            ("term1_territory", "013"),
            ("term1_service", "FTTC"),
        ];
        // The preview: ACME-1 behind OLT 7 and ACME-3 (FTTC in Como), both ACME.
        let mut preview = base.to_vec();
        preview.push(("action", "preview"));
        let p = b.post("/notices/new", &preview).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        assert!(p.body.contains("2 lines in service") && p.body.contains("1 customers"), "{}", p.body);
        assert!(p.body.contains("value=\"MI-OLT-07\""), "the form keeps what was typed");
        // Unknown codes: named, nothing created.
        let mut unknown = preview.clone();
        unknown[6] = ("term0_element", "NO-SUCH-OLT");
        unknown.push(("term2_territory", "999"));
        let bad = b.post("/notices/new", &unknown).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("NO-SUCH-OLT") && bad.body.contains("`999`"), "{}", bad.body);
        let mut draft = base.to_vec();
        draft.push(("action", "draft"));
        draft[6] = ("term0_element", "NO-SUCH-OLT");
        assert_eq!(b.post("/notices/new", &draft).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(t.app.open_notices(&cast.agent).await.unwrap().is_empty());

        let mut publish = base.to_vec();
        publish.push(("action", "publish"));
        let created = b.post("/notices/new", &publish).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let path = created.location().to_owned();
        let id: i64 = path.strip_prefix("/notices/").unwrap().parse().unwrap();
        assert!(t.app.my_notices(&cast.anna).await.unwrap().iter().any(|(n, _)| n.id == id));

        // Two tickets of the storm, linked: one from the line, one by hand.
        let mk = |line: Option<&str>| NewTicketInput {
            queue: "support".into(),
            title: "Lento".into(),
            body: "Va piano".into(),
            line: line.map(String::from),
            ..Default::default()
        };
        let a = t.app.create_ticket(&cast.anna, mk(Some("ACME-1"))).await.unwrap().number;
        let c = t.app.create_ticket(&cast.anna, mk(None)).await.unwrap().number;
        let page = b.get(&path).await;
        assert!(page.body.contains("affected-lines\">2<"), "{}", page.body);
        let csrf = page.hidden("csrf");
        let linked = b.post(&format!("{path}/link"), &[("csrf", &csrf), ("ticket", &c.to_string())]).await;
        assert_eq!(linked.status, StatusCode::SEE_OTHER);
        let page = b.get(&path).await;
        assert!(page.body.contains(&format!("/tickets/{a}")) && page.body.contains(&format!("/tickets/{c}")));

        // An update carried to the linked tickets as a public reply.
        let upd = [
            ("csrf", csrf.as_str()),
            ("state", "identified"),
            ("body_it", "Sostituita la scheda della OLT"),
            ("reply_to_tickets", "1"),
        ];
        assert_eq!(b.post(&format!("{path}/update"), &upd).await.status, StatusCode::SEE_OTHER);
        for n in [a, c] {
            let msgs = t.app.messages(&cast.anna, n).await.unwrap();
            assert!(msgs.iter().any(|m| m.body_text.contains("Sostituita la scheda")), "ticket {n}: {msgs:?}");
        }
        // Resolving the notice resolves them with the message.
        let done = [
            ("csrf", csrf.as_str()),
            ("state", "resolved"),
            ("body_it", "Servizio ripristinato"),
            ("reply_to_tickets", "1"),
            ("resolve_tickets", "1"),
        ];
        assert_eq!(b.post(&format!("{path}/update"), &done).await.status, StatusCode::SEE_OTHER);
        for n in [a, c] {
            assert_eq!(t.app.ticket(&cast.agent, n).await.unwrap().status, Status::Resolved, "ticket {n}");
        }
        let page = b.get(&path).await;
        assert!(page.body.contains("Servizio ripristinato") || page.body.contains("Resolved"));
        // Customers cannot reach the editor.
        let mut anna = Browser::new(t);
        anna.login_ok("anna@acme.example").await;
        assert_eq!(anna.get("/notices/new").await.status, StatusCode::NOT_FOUND);
        assert_eq!(anna.get(&path).await.status, StatusCode::SEE_OTHER, "to the portal's page of the notice");
    }
);

both!(
    async fn the_demo_seeds_lines_and_notices_its_customers_see(t: &Ctx) {
        let logins = sportello::demo::seed(&t.app).await.unwrap();
        assert!(logins.contains("lines") && logins.contains("notices"), "{logins}");
        let sys = t.system();
        let open = t.app.open_notices(&sys).await.unwrap();
        assert_eq!(open.len(), 2, "the fault and the maintenance; the solved one has ended");
        let fault = open.iter().find(|n| n.kind == NoticeKind::Incident).unwrap();
        let fault = t.app.notice(&sys, fault.id).await.unwrap();
        assert_eq!(fault.affected_lines, Some(3), "FTTH in province 015 behind OLT 7: two of C-1001, one of C-1007");
        assert_eq!(fault.linked_tickets.as_ref().map(Vec::len), Some(1), "the law firm's ticket on its line");
        let firm = t.app.customer_notices(&sys, "C-1001").await.unwrap();
        assert_eq!(firm.len(), 1);
        assert!(t.app.customer_notices(&sys, "C-1003").await.unwrap().is_empty(), "FTTC in Como: nothing");
        let lake = t.app.customer_notices(&sys, "C-2003").await.unwrap();
        assert_eq!(lake.len(), 1, "the Lecco exchange's maintenance, three days ahead");
        assert_eq!(lake[0].kind, NoticeKind::Maintenance);
    }
);

both!(
    async fn a_notice_is_changed_field_by_field_until_it_ends(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        crate::notices::inventory(t, &cast).await;
        let id = milan_fault(t, &cast).await;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        let form = b.get(&format!("/notices/{id}/edit")).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("value=\"015\"") && form.body.contains("Tecnici al lavoro"), "prefilled");
        let csrf = form.hidden("csrf");
        // Widen it to the FTTC lines of province 013 (ACME-3) and give an expected restoration.
        let change = [
            ("csrf", csrf.as_str()),
            ("kind", "incident"),
            ("impact", "degraded"),
            ("title_it", TITLE_IT),
            ("body_it", "Tecnici al lavoro, anche a Como"),
            ("title_en", TITLE_EN),
            ("body_en", "Technicians on site"),
            ("term0_territory", "015"),
            ("term0_service", "FTTH"),
            ("term1_territory", "013"),
            ("term1_service", "FTTC"),
            ("eta", "2030-01-01T18:00"),
            ("internal_notes", "cut by the roadworks on via Padova"),
            ("action", "save"),
        ];
        let saved = b.post(&format!("/notices/{id}/edit"), &change).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let v = t.app.notice(&cast.agent, id).await.unwrap();
        assert_eq!((v.affected_lines, v.impact), (Some(4), Impact::Degraded), "ACME-1, ACME-2, LAKE-1 and ACME-3");
        assert!(v.estimated_restoration.is_some());
        t.app.forget_caches();
        assert!(t.app.line_notices(&cast.anna, "ACME-3").await.unwrap().iter().any(|n| n.id == id));
        let events = t.app.subject_events(&cast.admin, "notice", id).await.unwrap();
        let fields: Vec<&str> = events.iter().filter(|e| e.kind == "set").filter_map(|e| e.field.as_deref()).collect();
        for f in ["impact", "texts", "scope", "estimated_restoration"] {
            assert!(fields.contains(&f), "{f} recorded: {fields:?}");
        }
        assert!(!fields.contains(&"internal_notes") && !fields.contains(&"window"), "unchanged: {fields:?}");
        // Bad changes change nothing: an unknown code, another kind.
        let mut bad = change.to_vec();
        bad[9] = ("term1_territory", "999");
        assert_eq!(b.post(&format!("/notices/{id}/edit"), &bad).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut input = NoticeInput {
            kind: NoticeKind::Maintenance,
            impact: Impact::Outage,
            texts: [("it".to_string(), NoticeText { title: "x".into(), body: String::new() })].into(),
            internal_notes: String::new(),
            scope: v.scope.clone().unwrap(),
            window: Some((jiff::Timestamp::now(), jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1))),
            estimated_restoration: None,
            publish: true,
        };
        assert!(t.app.edit_notice(&cast.agent, id, input.clone()).await.unwrap_err().to_string().contains("kind"));
        assert!(t.app.edit_notice(&cast.anna, id, input.clone()).await.is_err(), "customers do not edit");
        assert_eq!(t.app.notice(&cast.agent, id).await.unwrap().affected_lines, Some(4));
        // Once ended, it stays as it was.
        let end = app::notices::NoticeUpdateInput {
            state: Some(domain::notice::NoticeState::Resolved),
            texts: [("it".to_string(), NoticeText { title: String::new(), body: "Risolto".into() })].into(),
            ..Default::default()
        };
        t.app.post_notice_update(&cast.agent, id, end).await.unwrap();
        input.kind = NoticeKind::Incident;
        input.window = None;
        assert!(t.app.edit_notice(&cast.agent, id, input).await.unwrap_err().to_string().contains("ended"));
        assert_eq!(b.get(&format!("/notices/{id}/edit")).await.status, StatusCode::SEE_OTHER);
    }
);
