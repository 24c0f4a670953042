//! Ticket storms: enough new tickets from lines of one municipality or behind one network element
//! within the rule's window become a suggested notice; accepting it creates the notice and links
//! the tickets; dismissing hides it; only staff see and act on them.

use app::storm::{StormAcceptInput, StormKind};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::Role;
use domain::notice::{Impact, NoticeState};
use domain::scope::{Scope, ScopeTerm};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::client::*;
use crate::harness::*;

/// Lines of ACME: five in Como, four in Abbiategrasso, five in Roma; four more behind OLT 7 in
/// four municipalities (with ACME-1, five), and one behind OLT 8 (under the same aggregation node).
const LINES: &str = "identifier,customer_code,service,municipality_code,network_elements,status
CO-1,ACME,FTTC,013075,,active
CO-2,ACME,FTTC,013075,,active
CO-3,ACME,FTTC,013075,,active
CO-4,ACME,FTTC,013075,,active
CO-5,ACME,FTTC,013075,,active
AB-1,ACME,FTTH,015002,,active
AB-2,ACME,FTTH,015002,,active
AB-3,ACME,FTTH,015002,,active
AB-4,ACME,FTTH,015002,,active
RM-1,ACME,FTTH,058091,,active
RM-2,ACME,FTTH,058091,,active
RM-3,ACME,FTTH,058091,,active
RM-4,ACME,FTTH,058091,,active
RM-5,ACME,FTTH,058091,,active
OLT-MI,ACME,FTTH,015146,MI-OLT-07-P1,active
OLT-AB,ACME,FTTH,015002,MI-OLT-07,active
OLT-CO,ACME,FTTH,013075,MI-OLT-07,active
OLT-RM,ACME,FTTH,058091,MI-OLT-07,active
OLT8-1,ACME,FTTH,015146,MI-OLT-08,active
";

async fn inventory(t: &Ctx, cast: &Cast) {
    crate::notices::inventory(t, cast).await;
    // OLT 7 and OLT 8 behind an aggregation node whose code sorts before theirs: only older
    // tickets (behind OLT 8) tell that it serves more than OLT 7.
    let network =
        "code,name,kind,parent_code\nAA-AGG,Aggregation,pop,\nMI-OLT-07,OLT 7,olt,AA-AGG\nMI-OLT-08,OLT 8,olt,AA-AGG\n";
    let r = t.app.import_network(&cast.admin, network.as_bytes(), true).await.unwrap();
    assert!(r.rejected.is_empty(), "{r:?}");
    let r = t.app.import_lines(&cast.admin, LINES.as_bytes(), true, &|_| {}).await.unwrap();
    assert!(r.rejected.is_empty(), "{r:?}");
}

fn base() -> Timestamp {
    "2026-11-20T10:00:00+01:00[Europe/Rome]".parse::<jiff::Zoned>().unwrap().timestamp()
}

fn at(minutes: i64) -> Timestamp {
    base() + SignedDuration::from_secs(minutes * 60)
}

/// Opens a ticket for Anna (ACME) on `line` at `when`; returns its number.
async fn ticket_on(a: &app::App, clock: &app::Clock, cast: &Cast, line: &str, when: Timestamp) -> i64 {
    clock.set(when);
    a.create_ticket(
        &cast.admin,
        app::tickets::NewTicketInput {
            queue: "support".into(),
            title: format!("Guasto su {line}"),
            requestors: vec!["anna@acme.example".into()],
            body: "non va".into(),
            line: Some(line.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .number
}

fn territory(code: &str) -> Scope {
    Scope { terms: vec![ScopeTerm { territory: Some(code.into()), ..Default::default() }], lines: vec![] }
}

/// Como: 5 tickets at minutes 0, 3, 6, 9, 12. Abbiategrasso: 4 at 1, 4, 7, 10. Roma: 5 every 5
/// minutes from -8 to 12 (20 minutes).
async fn three_places(a: &app::App, clock: &app::Clock, cast: &Cast) -> Vec<i64> {
    let mut como = Vec::new();
    for (i, m) in [0, 3, 6, 9, 12].into_iter().enumerate() {
        como.push(ticket_on(a, clock, cast, &format!("CO-{}", i + 1), at(m)).await);
    }
    for (i, m) in [1, 4, 7, 10].into_iter().enumerate() {
        ticket_on(a, clock, cast, &format!("AB-{}", i + 1), at(m)).await;
    }
    for (i, m) in [-8, -3, 2, 7, 12].into_iter().enumerate() {
        ticket_on(a, clock, cast, &format!("RM-{}", i + 1), at(m)).await;
    }
    como
}

both!(
    async fn five_tickets_in_fifteen_minutes_from_one_municipality_make_one_suggestion_naming_it(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let clock = app::Clock::manual(at(-60));
        let a = t.app.clone().with_clock(clock.clone());
        let como = three_places(&a, &clock, &cast).await;

        clock.set(at(12) + SignedDuration::from_secs(30));
        let list = a.storm_suggestions(&cast.agent).await.unwrap();
        assert_eq!((list.min_tickets, list.within_minutes), (5, 15));
        assert_eq!(list.storms.len(), 1, "Como only (Abbiategrasso has 4, Roma is spread over 20 minutes): {list:#?}");
        let s = &list.storms[0];
        assert_eq!((s.kind, s.code.as_str(), s.name.as_str()), (StormKind::Municipality, "013075", "Como"));
        assert_eq!(s.tickets, como);
        assert_eq!((s.first, s.last), (at(0), at(12)));
        assert_eq!(s.scope, territory("013075"));

        // Four minutes later the first Como ticket is older than 15 minutes: no storm.
        clock.set(at(16));
        assert!(a.storm_suggestions(&cast.agent).await.unwrap().storms.is_empty());
        // The rule is the administrator's: 4 tickets in 20 minutes finds all three places.
        a.save_instance_settings(
            &cast.admin,
            app::instance::InstanceSettingsInput {
                storm_min_tickets: Some(4),
                storm_within_minutes: Some(20),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        clock.set(at(12));
        let list = a.storm_suggestions(&cast.agent).await.unwrap();
        let names: Vec<&str> = list.storms.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Como", "Roma", "Abbiategrasso"], "most tickets first: 5, 5, 4 (then by code)");

        // Only staff.
        for who in [&cast.anna, &cast.partner] {
            assert!(matches!(a.storm_suggestions(who).await, Err(app::Error::Forbidden(_))));
            let input = StormAcceptInput {
                kind: StormKind::Municipality,
                code: "013075".into(),
                texts: Default::default(),
                impact: Impact::Outage,
                internal_notes: None,
                publish: true,
            };
            assert!(matches!(a.accept_storm(who, input).await, Err(app::Error::Forbidden(_))));
            assert!(matches!(
                a.dismiss_storm(who, StormKind::Municipality, "013075").await,
                Err(app::Error::Forbidden(_))
            ));
        }
    }
);

both!(
    async fn five_tickets_behind_one_olt_in_different_municipalities_suggest_the_olt_and_accepting_links_them(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let clock = app::Clock::manual(at(-180));
        let a = t.app.clone().with_clock(clock.clone());
        // Three hours before, a ticket behind OLT 8: the aggregation node serves more than OLT 7.
        ticket_on(&a, &clock, &cast, "OLT8-1", at(-180)).await;
        let mut olt = Vec::new();
        for (m, line) in [(0, "OLT-MI"), (2, "OLT-AB"), (4, "OLT-CO"), (6, "OLT-RM"), (8, "ACME-1")] {
            olt.push(ticket_on(&a, &clock, &cast, line, at(m)).await);
        }
        // Four tickets only: nothing yet.
        clock.set(at(7));
        assert!(a.storm_suggestions(&cast.agent).await.unwrap().storms.is_empty());

        clock.set(at(9));
        let list = a.storm_suggestions(&cast.viewer).await.unwrap();
        assert_eq!(list.storms.len(), 1, "{list:#?}");
        let s = &list.storms[0];
        assert_eq!((s.kind, s.code.as_str(), s.name.as_str()), (StormKind::Element, "MI-OLT-07", "OLT 7"));
        assert_eq!(s.tickets, olt);
        assert_eq!(
            s.scope,
            Scope {
                terms: vec![ScopeTerm { network_element: Some("MI-OLT-07".into()), ..Default::default() }],
                lines: vec![]
            }
        );

        // Accepting: a draft incident with that scope and the default texts, the five tickets linked.
        let input = StormAcceptInput {
            kind: StormKind::Element,
            code: "MI-OLT-07".into(),
            texts: Default::default(),
            impact: Impact::Degraded,
            internal_notes: None,
            publish: false,
        };
        let n = a.accept_storm(&cast.agent, input.clone()).await.unwrap();
        assert_eq!((n.state, n.impact, n.published_at), (NoticeState::Investigating, Impact::Degraded, None));
        assert_eq!(n.linked_tickets.as_deref(), Some(olt.as_slice()));
        assert_eq!(n.scope, Some(s.scope.clone()));
        let texts = n.texts.clone().unwrap();
        assert_eq!(texts["en"].title, "Possible outage on our network", "no element name in public texts");
        assert_eq!(texts["it"].title, "Possibile disservizio sulla rete");
        let notes = n.internal_notes.clone().unwrap();
        assert!(notes.contains("MI-OLT-07") && notes.contains(&format!("#{}", olt[0])), "{notes}");
        assert_eq!(n.affected_lines, Some(5), "ACME-1, OLT-MI, OLT-AB, OLT-CO, OLT-RM");
        for number in &olt {
            let v = a.ticket(&cast.agent, *number).await.unwrap();
            assert_eq!(v.notices, vec![n.id], "ticket {number} linked");
        }
        // The storm is handled: no suggestion, and a second acceptance finds nothing.
        assert!(a.storm_suggestions(&cast.agent).await.unwrap().storms.is_empty());
        assert!(matches!(a.accept_storm(&cast.agent, input).await, Err(app::Error::NotFound(_))));
        // A draft: not on the public status page.
        let page = a.status_page("en").await.unwrap();
        assert!(page.all().all(|p| p.id != n.id));
        // Each link is an event on the ticket, and the notice records the storm it came from.
        let mut tx = t.app.db.read().await.unwrap();
        let storm_events: Vec<(String, Option<String>, Option<String>)> =
            store::with_conn!(&mut tx, c => sqlx::query_as(
            "SELECT kind, field, new_value FROM events WHERE subject = 'notice' AND subject_id = $1 ORDER BY id")
            .bind(n.id).fetch_all(&mut *c).await)
            .unwrap();
        drop(tx);
        assert_eq!(
            storm_events,
            [
                ("created".to_string(), None, Some("incident".to_string())),
                ("storm".to_string(), Some("element".to_string()), Some("MI-OLT-07".to_string())),
            ]
        );
    }
);

async fn api_call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

both!(
    async fn storms_over_the_api_list_accept_and_dismiss_for_staff_only(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let clock = app::Clock::manual(at(-60));
        let a = t.app.clone().with_clock(clock.clone());
        let mut como = three_places(&a, &clock, &cast).await;
        clock.set(at(13));
        let agent =
            t.app.create_token(&t.system(), "agent", Role::Agent, Some("agent@op.example")).await.unwrap().secret;
        let router = web::router(a.clone());

        let (status, _) = api_call(&router, "GET", "/api/v1/storms", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, v) = api_call(&router, "GET", "/api/v1/storms", Some(&agent), None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["min_tickets"], 5);
        assert_eq!(v["storms"][0]["kind"], "municipality");
        assert_eq!(v["storms"][0]["code"], "013075");
        assert_eq!(v["storms"][0]["name"], "Como");
        assert_eq!(v["storms"][0]["tickets"], json!(como));
        assert_eq!(v["storms"][0]["scope"], json!({"terms": [{"territory": "013075"}], "lines": []}));

        // Bad bodies change nothing.
        let (status, v) = api_call(
            &router,
            "POST",
            "/api/v1/storms/accept",
            Some(&agent),
            Some(json!({"kind": "planet", "code": "x"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        let long = "x".repeat(201);
        let (status, v) = api_call(
            &router,
            "POST",
            "/api/v1/storms/accept",
            Some(&agent),
            Some(json!({"kind": "municipality", "code": "013075", "title": long})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["errors"][0]["field"], "texts.it.title");
        let (status, _) = api_call(
            &router,
            "POST",
            "/api/v1/storms/accept",
            Some(&agent),
            Some(json!({"kind": "municipality", "code": "058091"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "Roma is no storm");
        assert!(a.open_notices(&cast.agent).await.unwrap().is_empty(), "nothing created");

        // Dismissed: hidden from every agent for the window, then back if still a storm.
        let (status, _) = api_call(
            &router,
            "POST",
            "/api/v1/storms/dismiss",
            Some(&agent),
            Some(json!({"kind": "municipality", "code": "013075"})),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(a.storm_suggestions(&cast.viewer).await.unwrap().storms.is_empty());
        // With a longer window the storm lasts, but the dismissal holds for the 15 minutes it was made for.
        a.save_instance_settings(
            &cast.admin,
            app::instance::InstanceSettingsInput { storm_within_minutes: Some(60), ..Default::default() },
        )
        .await
        .unwrap();
        clock.set(at(13) + SignedDuration::from_mins(14));
        let still = a.storm_suggestions(&cast.viewer).await.unwrap();
        assert!(still.storms.iter().all(|s| s.code != "013075"), "still dismissed: {still:#?}");
        assert!(still.storms.iter().any(|s| s.code == "058091"), "Roma, within the hour, is not dismissed");
        // A ticket joining the dismissed storm brings it back at once: the agent dismissed what they saw.
        como.push(ticket_on(&a, &clock, &cast, "CO-1", at(13) + SignedDuration::from_secs(14 * 60 + 30)).await);
        let again = a.storm_suggestions(&cast.viewer).await.unwrap();
        let storm = again.storms.iter().find(|s| s.code == "013075").expect("back with the new ticket");
        assert_eq!(storm.tickets.len(), 6, "{storm:#?}");
        clock.set(at(13) + SignedDuration::from_mins(16));
        let back = a.storm_suggestions(&cast.viewer).await.unwrap();
        assert!(back.storms.iter().any(|s| s.code == "013075"), "{back:#?}");

        // Accepting with a published Italian text: the notice is public, the tickets linked.
        let (status, v) = api_call(
            &router,
            "POST",
            "/api/v1/storms/accept",
            Some(&agent),
            Some(json!({"kind": "municipality", "code": "013075", "title": "Guasto a Como", "body": "Ci lavoriamo", "publish": true})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["linked_tickets"], json!(como));
        assert!(v["published_at"].is_string());
        assert_eq!(v["texts"], json!({"it": {"title": "Guasto a Como", "body": "Ci lavoriamo"}}));
        let page = a.status_page("it").await.unwrap();
        let shown = page.incidents.iter().find(|p| p.title == "Guasto a Como").expect("on the status page");
        assert_eq!(shown.regions, ["Lombardia"]);
    }
);

both!(
    async fn agents_accept_and_dismiss_storms_from_the_console_and_customers_cannot_reach_it(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        inventory(t, &cast).await;
        let clock = app::Clock::manual(at(-60));
        let a = t.app.clone().with_clock(clock.clone());
        let como = three_places(&a, &clock, &cast).await;
        clock.set(at(13));
        a.save_instance_settings(
            &cast.admin,
            app::instance::InstanceSettingsInput { storm_min_tickets: Some(4), ..Default::default() },
        )
        .await
        .unwrap();

        let mut agent = Browser { router: web::router(a.clone()), cookies: Default::default(), language: "en" };
        agent.login("agent@op.example", PASSWORD).await;
        let home = agent.get("/").await;
        assert!(home.body.contains("href=\"/storms\""), "in the navigation");
        let page = agent.get("/storms").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("A storm is at least 4 new tickets within 15 minutes"));
        assert!(
            page.body.contains("Possible outage in Como") && page.body.contains("Possible outage in Abbiategrasso")
        );
        for n in &como {
            assert!(page.body.contains(&format!("href=\"/tickets/{n}\"")));
        }
        let csrf = page.hidden("csrf");

        // Customers and partners do not reach the console.
        for email in ["anna@acme.example", "noc@partner.example"] {
            let mut b = Browser { router: web::router(a.clone()), cookies: Default::default(), language: "en" };
            b.login(email, PASSWORD).await;
            assert_eq!(b.get("/storms").await.status, StatusCode::NOT_FOUND, "{email}");
            let their_csrf = b.get("/portal").await.hidden("csrf");
            let tried = b
                .post(
                    "/storms/accept",
                    &[("csrf", &their_csrf), ("kind", "municipality"), ("code", "013075"), ("title", "x")],
                )
                .await;
            assert_eq!(tried.status, StatusCode::NOT_FOUND, "{email}");
            let tried =
                b.post("/storms/dismiss", &[("csrf", &their_csrf), ("kind", "municipality"), ("code", "015002")]).await;
            assert_eq!(tried.status, StatusCode::NOT_FOUND, "{email}");
        }
        assert!(a.open_notices(&cast.agent).await.unwrap().is_empty());

        // A forged form does nothing; dismissing Abbiategrasso hides it.
        let forged =
            agent.post("/storms/dismiss", &[("csrf", "nope"), ("kind", "municipality"), ("code", "015002")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let dismissed =
            agent.post("/storms/dismiss", &[("csrf", &csrf), ("kind", "municipality"), ("code", "015002")]).await;
        assert_eq!(dismissed.location(), "/storms?dismissed=1");
        let page = agent.get("/storms").await;
        assert!(
            !page.body.contains("Possible outage in Abbiategrasso") && page.body.contains("Possible outage in Como")
        );

        // An empty title is refused on the form, which keeps what was typed.
        let bad = agent
            .post(
                "/storms/accept",
                &[
                    ("csrf", &csrf),
                    ("kind", "municipality"),
                    ("code", "013075"),
                    ("name", "Como"),
                    ("title", ""),
                    ("body", "Typed text"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("Typed text") && bad.body.contains("texts.en.title"));
        assert!(a.open_notices(&cast.agent).await.unwrap().is_empty());

        // Accepted with the default texts, published: every language gets its default.
        let ok = agent
            .post(
                "/storms/accept",
                &[
                    ("csrf", &csrf),
                    ("kind", "municipality"),
                    ("code", "013075"),
                    ("name", "Como"),
                    ("title", "Possible outage in Como"),
                    ("body", "We are looking into several reports of a fault in this area."),
                    ("impact", "partial"),
                    ("publish", "1"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let id: i64 = ok.location().strip_prefix("/notices/").unwrap().parse().unwrap();
        let n = a.notice(&cast.agent, id).await.unwrap();
        assert_eq!(n.linked_tickets.as_deref(), Some(como.as_slice()));
        assert_eq!(n.impact, Impact::Partial);
        assert!(n.published_at.is_some());
        assert_eq!(n.texts.as_ref().unwrap()["it"].title, "Possibile disservizio a Como");
        let notice_page = agent.get(ok.location()).await;
        assert_eq!(notice_page.status, StatusCode::OK, "the editor's notice page");
        // Accepting it again: it is gone.
        let again = agent
            .post("/storms/accept", &[("csrf", &csrf), ("kind", "municipality"), ("code", "013075"), ("title", "x")])
            .await;
        assert_eq!(again.location(), "/storms?gone=1");
        let page = agent.get("/storms?gone=1").await;
        assert!(page.body.contains("no longer current") && !page.body.contains("Possible outage in Como"));
    }
);
