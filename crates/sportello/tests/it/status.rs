//! The public status page and its Atom and iCalendar feeds: what they show (active incidents,
//! maintenance, recent history, by region and service), what they never show (customers, lines,
//! notes, tickets, drafts, notices about named lines), their formats, and the operator's switch.

use app::notices::{NoticeInput, NoticeText, NoticeUpdateInput};
use axum::http::{StatusCode, header};
use domain::notice::{Impact, NoticeKind, NoticeState};
use domain::scope::{Scope, ScopeTerm};

use crate::client::*;
use crate::harness::*;

fn term(territory: Option<&str>, element: Option<&str>, service: Option<&str>) -> ScopeTerm {
    ScopeTerm {
        territory: territory.map(String::from),
        network_element: element.map(String::from),
        service: service.map(String::from),
    }
}

fn rome(s: &str) -> jiff::Timestamp {
    format!("{s}+01:00[Europe/Rome]").parse::<jiff::Zoned>().unwrap().timestamp()
}

pub(crate) const HOSTILE: &str = "<script>alert('x')</script> Guasto fibra";
const NOTES: &str = "Fibre cut near the exchange of Via Segreta";

fn notice(kind: NoticeKind, title: &str, scope: Scope) -> NoticeInput {
    NoticeInput {
        kind,
        impact: Impact::Outage,
        texts: [
            ("it".to_string(), NoticeText { title: title.into(), body: "Stiamo lavorando <b>subito</b>".into() }),
            ("en".to_string(), NoticeText { title: format!("{title} (en)"), body: "We are on it".into() }),
        ]
        .into(),
        internal_notes: NOTES.into(),
        scope,
        window: None,
        estimated_restoration: None,
        publish: true,
    }
}

fn update(state: Option<NoticeState>, body: &str) -> NoticeUpdateInput {
    NoticeUpdateInput {
        state,
        texts: [("it".to_string(), NoticeText { title: String::new(), body: body.into() })].into(),
        estimated_restoration: None,
        ..Default::default()
    }
}

/// What the fixture knows that the public must never see.
const SECRETS: &[&str] = &[
    "ACME",
    "LAKE",
    "OTHER-1",
    "Customer",
    "Rete Lario",
    "anna@",
    "carla@",
    "dario@",
    "Via Segreta",
    "MI-OLT-07",
    "MI-POP-1",
    "RM-POP-1",
    "Bozza riservata",
    "Linea dedicata",
    "support#",
];

fn assert_no_secrets(what: &str, body: &str) {
    for s in SECRETS {
        assert!(!body.contains(s), "{what} shows `{s}`:\n{body}");
    }
}

/// A minimal XML well-formedness check: one root, tags balanced and properly nested, attributes
/// quoted, no raw `<` in text or attributes, every `&` an entity or a character reference.
pub(crate) fn assert_well_formed_xml(doc: &str) {
    fn entity_ok(rest: &str) -> usize {
        let end = rest.find(';').unwrap_or_else(|| panic!("unterminated entity at {rest:.20}"));
        let name = &rest[1..end];
        let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name.strip_prefix("#x").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || name.strip_prefix('#').is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        assert!(ok, "bad entity &{name};");
        end + 1
    }
    fn check_text(text: &str) {
        let mut i = 0;
        while let Some(at) = text[i..].find('&') {
            i += at;
            i += entity_ok(&text[i..]);
        }
        assert!(!text.contains('<'), "raw < in {text:.40}");
    }
    let mut rest = doc.trim_start_matches('\u{feff}');
    if rest.starts_with("<?xml") {
        let end = rest.find("?>").expect("prolog ends");
        rest = &rest[end + 2..];
    }
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    while !rest.is_empty() {
        match rest.find('<') {
            None => {
                assert!(rest.trim().is_empty() || !stack.is_empty(), "text outside the root");
                check_text(rest);
                break;
            }
            Some(at) => {
                let text = &rest[..at];
                assert!(stack.is_empty() && text.trim().is_empty() || !stack.is_empty(), "text outside the root");
                check_text(text);
                rest = &rest[at..];
            }
        }
        let end = rest.find('>').expect("tag ends");
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name.trim(), "mis-nested tags");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
        assert!(!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || ":-_.".contains(c)), "name {name}");
        // Attributes: name="value" pairs.
        let mut attrs = tag[name.len()..].trim();
        while !attrs.is_empty() {
            let eq = attrs.find("=\"").unwrap_or_else(|| panic!("unquoted attribute in <{tag}>"));
            let close = attrs[eq + 2..].find('"').expect("attribute ends") + eq + 2;
            check_text(&attrs[eq + 2..close]);
            attrs = attrs[close + 1..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1, "one root element");
}

/// The content lines of an iCalendar document, checking CRLF endings and 75-octet folding.
pub(crate) fn ics_lines(doc: &str) -> Vec<String> {
    assert!(doc.ends_with("\r\n"), "the last line ends with CRLF");
    let physical: Vec<&str> = doc[..doc.len() - 2].split("\r\n").collect();
    let mut lines: Vec<String> = Vec::new();
    for p in physical {
        assert!(!p.contains('\n') && !p.contains('\r'), "bare line break in {p:?}");
        assert!(p.len() <= 75, "line over 75 octets: {p:?}");
        match p.strip_prefix(' ') {
            Some(cont) => lines.last_mut().expect("a continuation follows a line").push_str(cont),
            None => lines.push(p.to_owned()),
        }
    }
    let mut stack = Vec::new();
    for l in &lines {
        assert!(l.contains(':'), "not a content line: {l}");
        if let Some(c) = l.strip_prefix("BEGIN:") {
            stack.push(c.to_owned());
        } else if let Some(c) = l.strip_prefix("END:") {
            assert_eq!(stack.pop().as_deref(), Some(c), "END:{c} without its BEGIN");
        }
    }
    assert!(stack.is_empty(), "unclosed components {stack:?}");
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    lines
}

/// The events of an iCalendar document, each as its property lines.
fn events(lines: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for l in lines {
        match l.as_str() {
            "BEGIN:VEVENT" => current = Some(Vec::new()),
            "END:VEVENT" => out.push(current.take().unwrap()),
            _ => {
                if let Some(c) = current.as_mut() {
                    c.push(l.clone());
                }
            }
        }
    }
    out
}

fn prop<'a>(event: &'a [String], name: &str) -> Option<&'a str> {
    event.iter().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
}

pub(crate) struct Published {
    pub incident: i64,
    pub maintenance: i64,
    pub cancelled: i64,
    pub resolved: i64,
}

/// At `2026-11-20 10:00` Rome: an open incident in Milano (FTTH in the province ∪ behind OLT 7)
/// with a linked ticket and a hostile title, maintenance in Roma in two days, a cancelled one,
/// a resolved incident, a draft and a notice about one named line.
pub(crate) async fn publish_fixture(t: &Ctx, a: &app::App, cast: &Cast) -> Published {
    crate::notices::inventory(t, cast).await;
    let milano = Scope {
        terms: vec![term(Some("015"), None, Some("FTTH")), term(None, Some("MI-OLT-07"), None)],
        lines: vec![],
    };
    let incident = a.create_notice(&cast.agent, notice(NoticeKind::Incident, HOSTILE, milano)).await.unwrap();
    let ticket = t.ticket(cast, "support", "Internet giù", "anna@acme.example", "non va").await;
    a.link_ticket_to_notice(&cast.agent, incident.id, ticket.number).await.unwrap();
    a.post_notice_update(&cast.agent, incident.id, update(Some(NoticeState::Identified), "Trovata la causa"))
        .await
        .unwrap();

    let roma = Scope { terms: vec![term(Some("058"), None, None)], lines: vec![] };
    let mut m = notice(NoticeKind::Maintenance, "Lavori <i onclick=\"x()\">Roma</i>, centrale; \\ EUR", roma.clone());
    m.window = Some((rome("2026-11-22T02:00:00"), rome("2026-11-22T04:00:00")));
    let maintenance = a.create_notice(&cast.agent, m).await.unwrap();

    let mut c = notice(NoticeKind::Maintenance, "Lavori annullati", roma);
    c.window = Some((rome("2026-11-23T02:00:00"), rome("2026-11-23T04:00:00")));
    let cancelled = a.create_notice(&cast.agent, c).await.unwrap();
    a.post_notice_update(&cast.agent, cancelled.id, update(Some(NoticeState::Cancelled), "Rinviati")).await.unwrap();

    let como = Scope { terms: vec![term(Some("013"), None, None)], lines: vec![] };
    let resolved =
        a.create_notice(&cast.agent, notice(NoticeKind::Incident, "Guasto Como risolto", como.clone())).await.unwrap();
    a.post_notice_update(&cast.agent, resolved.id, update(Some(NoticeState::Resolved), "Tutto a posto")).await.unwrap();

    let mut draft = notice(NoticeKind::Incident, "Bozza riservata", como);
    draft.publish = false;
    a.create_notice(&cast.agent, draft).await.unwrap();
    let named = Scope { terms: vec![], lines: vec!["ACME-3".into()] };
    a.create_notice(&cast.agent, notice(NoticeKind::Incident, "Linea dedicata ACME", named)).await.unwrap();

    Published { incident: incident.id, maintenance: maintenance.id, cancelled: cancelled.id, resolved: resolved.id }
}

both!(
    async fn status_page_lists_incidents_and_maintenance_by_region_and_service_and_no_customer_data(t: &Ctx) {
        let cast = t.seed().await;
        let a = t.app.clone().with_clock(app::Clock::manual(rome("2026-11-20T10:00:00")));
        let p = publish_fixture(t, &a, &cast).await;
        let mut b = Browser { router: web::router(a.clone()), cookies: Default::default(), language: "it" };

        let page = b.get("/status").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.headers[header::CACHE_CONTROL], "public, max-age=30");
        assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert!(page.body.contains("<html lang=\"it\">"));
        assert_no_secrets("the page", &page.body);
        // The incident, in Italian, with its region and services, state and timeline.
        assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"), "escaped");
        assert!(!page.body.contains("<script>alert"), "no live script");
        assert!(!page.body.contains("<b>subito</b>"), "the text is escaped too");
        assert!(page.body.contains(&format!("id=\"notice-{}\"", p.incident)));
        assert!(page.body.contains("Lombardia") && page.body.contains("Fibre to the home"), "{}", page.body);
        assert!(page.body.contains("Causa individuata") && page.body.contains("Trovata la causa"));
        // Maintenance in two days, in Lazio, every service there.
        let m_at = page.body.find(&format!("id=\"notice-{}\"", p.maintenance)).expect("maintenance shown");
        assert!(page.body[m_at..].contains("Lazio"));
        assert!(
            page.body.contains("Lavori &#60;i onclick=&#34;x()&#34;&#62;Roma&#60;/i&#62;, centrale; \\ EUR"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("<i onclick"));
        assert!(page.body.contains("22/11/2026 02:00 – 22/11/2026 04:00"), "window in Rome time");
        // History: the cancelled maintenance and the resolved incident; no draft, no named line.
        assert!(page.body.contains(&format!("id=\"notice-{}\"", p.cancelled)));
        assert!(page.body.contains(&format!("id=\"notice-{}\"", p.resolved)) && page.body.contains("Lombardia"));
        let history = &page.body[page.body.find("id=\"history\"").unwrap()..];
        assert!(history.contains("Guasto Como risolto") && history.contains("Lavori annullati"));
        assert!(history.contains("tutti i servizi"), "a scope naming no service concerns them all");
        assert!(!history.contains(&format!("id=\"notice-{}\"", p.incident)));
        // The same page in English, by query.
        let en = b.get("/status?lang=en").await;
        assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Current incidents"));
        assert!(en.body.contains("Guasto fibra (en)") && en.body.contains("We are on it"));
        assert_no_secrets("the English page", &en.body);

        // Atom: well-formed, an entry per notice, escaped, no secrets.
        let atom = b.get("/status.atom").await;
        assert_eq!(atom.status, StatusCode::OK);
        assert_eq!(atom.headers[header::CONTENT_TYPE], "application/atom+xml; charset=utf-8");
        assert_eq!(atom.headers[header::CACHE_CONTROL], "public, max-age=30");
        assert_well_formed_xml(&atom.body);
        assert!(atom.body.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"it\">"));
        assert!(atom.body.contains("<id>urn:sportello:status</id>"));
        assert_eq!(atom.body.matches("<entry>").count(), 4, "incident, maintenance, cancelled, resolved");
        assert!(atom.body.contains(&format!("<id>urn:sportello:status:notice:{}</id>", p.incident)));
        assert!(atom.body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Guasto fibra"));
        assert!(atom.body.contains("Lavori &lt;i onclick=&quot;x()&quot;&gt;Roma&lt;/i&gt;, centrale; \\ EUR"));
        assert!(!atom.body.contains("<script>") && !atom.body.contains("<b>"));
        assert!(atom.body.contains("Trovata la causa") && atom.body.contains("Regioni: Lombardia"));
        assert_no_secrets("the Atom feed", &atom.body);

        // iCalendar: the two maintenance notices, folded CRLF lines, escaped text, no secrets.
        let ics = b.get("/status.ics").await;
        assert_eq!(ics.status, StatusCode::OK);
        assert_eq!(ics.headers[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
        assert_no_secrets("the calendar", &ics.body);
        assert!(!ics.body.contains("Guasto fibra"), "incidents are not in the calendar");
        let lines = ics_lines(&ics.body);
        assert!(lines.contains(&"VERSION:2.0".to_string()) && lines.iter().any(|l| l.starts_with("PRODID:")));
        let evs = events(&lines);
        assert_eq!(evs.len(), 2, "{lines:#?}");
        let by_uid = |id: i64| {
            let uid = format!("notice-{id}@sportello");
            evs.iter().find(|e| prop(e, "UID") == Some(uid.as_str())).unwrap_or_else(|| panic!("{uid}"))
        };
        let m = by_uid(p.maintenance);
        assert_eq!(prop(m, "DTSTART"), Some("20261122T010000Z"));
        assert_eq!(prop(m, "DTEND"), Some("20261122T030000Z"));
        // In the calendar the title is text: HTML means nothing there, only `,;\\` are escaped.
        assert_eq!(prop(m, "SUMMARY"), Some("Lavori <i onclick=\"x()\">Roma</i>\\, centrale\\; \\\\ EUR"));
        assert_eq!(prop(m, "STATUS"), Some("CONFIRMED"));
        assert!(prop(m, "DTSTAMP").unwrap().ends_with('Z') && prop(m, "DTSTAMP").unwrap().len() == 16);
        assert!(prop(m, "DESCRIPTION").unwrap().contains("\\n\\nRegioni: Lazio\\n"), "{m:?}");
        let sequence = |e: &[String]| prop(e, "SEQUENCE").unwrap().parse::<i64>().unwrap();
        let before = sequence(m);
        let c = by_uid(p.cancelled);
        assert_eq!(prop(c, "STATUS"), Some("CANCELLED"));
        assert!(sequence(c) > before, "the cancelled one changed more");

        // A change to the maintenance raises its SEQUENCE and shows at once.
        a.post_notice_update(
            &cast.agent,
            p.maintenance,
            update(
                None,
                "Confermati i lavori, con un testo abbastanza lungo da essere ripiegato su più righe del calendario",
            ),
        )
        .await
        .unwrap();
        let ics = b.get("/status.ics").await;
        let lines = ics_lines(&ics.body);
        let evs = events(&lines);
        let m = evs.iter().find(|e| prop(e, "UID") == Some(&format!("notice-{}@sportello", p.maintenance))).unwrap();
        assert!(sequence(m) > before);
        assert!(ics.body.contains("\r\n "), "long lines are folded");

        // Published with the instance's address, feeds use it for ids and links.
        let cfg =
            web::pages::PagesConfig { public_url: Some("https://help.example.net/".into()), ..Default::default() };
        let mut b = Browser { router: web::router_with(a.clone(), cfg), cookies: Default::default(), language: "en" };
        let atom = b.get("/status.atom").await;
        assert!(atom.body.contains("<id>https://help.example.net/status</id>"));
        assert!(atom.body.contains("href=\"https://help.example.net/status.atom\""));
        assert!(atom.body.contains(&format!("<id>https://help.example.net/status#notice-{}</id>", p.incident)));
        let ics = b.get("/status.ics").await;
        assert!(ics.body.contains(&format!("UID:notice-{}@help.example.net\r\n", p.maintenance)));
    }
);

both!(
    async fn maintenance_beyond_its_lead_time_and_old_history_are_not_shown(t: &Ctx) {
        let cast = t.seed().await;
        let clock = app::Clock::manual(rome("2026-11-20T10:00:00"));
        let a = t.app.clone().with_clock(clock.clone());
        crate::notices::inventory(t, &cast).await;
        let roma = Scope { terms: vec![term(Some("058"), None, Some("FTTH"))], lines: vec![] };
        let mut far = notice(NoticeKind::Maintenance, "Lavori lontani", roma.clone());
        far.window = Some((rome("2026-12-20T02:00:00"), rome("2026-12-20T04:00:00")));
        a.create_notice(&cast.agent, far).await.unwrap();
        let old = a.create_notice(&cast.agent, notice(NoticeKind::Incident, "Guasto vecchio", roma)).await.unwrap();
        a.post_notice_update(&cast.agent, old.id, update(Some(NoticeState::Resolved), "ok")).await.unwrap();
        let everywhere = Scope { terms: vec![term(None, None, Some("FWA"))], lines: vec![] };
        a.create_notice(&cast.agent, notice(NoticeKind::Incident, "Radio ovunque", everywhere)).await.unwrap();
        let mut b = Browser { router: web::router(a.clone()), cookies: Default::default(), language: "it" };
        let page = b.get("/status").await;
        let radio = &page.body[page.body.find("Radio ovunque").unwrap()..];
        assert!(radio.contains("ovunque</dd>") && radio.contains("Fixed wireless access"), "{radio}");
        assert!(!page.body.contains("Lavori lontani"), "a month ahead is beyond the 7-day lead");
        assert!(page.body.contains("Guasto vecchio"), "just ended");
        assert!(page.body.contains("Fibre to the home") && page.body.contains("Lazio"));
        // Later the resolved incident has left the history and the maintenance is near.
        clock.set(rome("2026-12-14T10:00:00"));
        a.forget_caches();
        let page = b.get("/status").await;
        assert!(!page.body.contains("Guasto vecchio"));
        assert!(page.body.contains("Lavori lontani"));
        let ics = ics_lines(&b.get("/status.ics").await.body);
        assert_eq!(events(&ics).len(), 1);
    }
);

both!(
    async fn the_operator_turns_the_status_page_off_and_all_three_answer_404(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        t.app.set_password(&cast.admin, cast.admin.user_id.unwrap(), PASSWORD).await.unwrap();
        let mut public = Browser::new(t);
        for path in ["/status", "/status.atom", "/status.ics"] {
            assert_eq!(public.get(path).await.status, StatusCode::OK, "on by default: {path}");
        }
        assert_eq!(t.app.instance_settings().await.unwrap(), app::instance::InstanceSettings::default());

        // Agents may not change it.
        let mut agent = Browser::new(t);
        agent.login("agent@op.example", PASSWORD).await;
        assert_eq!(agent.get("/admin/status").await.status, StatusCode::FORBIDDEN);
        let csrf = agent.get("/").await.hidden("csrf");
        let refused = agent
            .post("/admin/status", &[("csrf", &csrf), ("storm_min_tickets", "5"), ("storm_within_minutes", "15")])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(t.app.instance_settings().await.unwrap().status_page);

        let mut admin = Browser::new(t);
        admin.login("admin@op.example", PASSWORD).await;
        let index = admin.get("/admin").await;
        assert!(index.body.contains("href=\"/admin/status\""));
        let form = admin.get("/admin/status").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("name=\"status_page\" value=\"1\" checked"));
        let csrf = form.hidden("csrf");
        // A forged form changes nothing.
        let forged = admin
            .post("/admin/status", &[("csrf", "nope"), ("storm_min_tickets", "5"), ("storm_within_minutes", "15")])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(t.app.instance_settings().await.unwrap().status_page);
        // Bad numbers are refused naming the field, and nothing changes.
        let bad = admin
            .post(
                "/admin/status",
                &[
                    ("csrf", &csrf),
                    ("storm_min_tickets", "1"),
                    ("storm_within_minutes", "soon"),
                    ("maintenance_lead_days", "91"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        for field in ["storm_min_tickets", "storm_within_minutes", "maintenance_lead_days"] {
            assert!(bad.body.contains(field), "{field}: {}", bad.body);
        }
        assert_eq!(t.app.instance_settings().await.unwrap(), app::instance::InstanceSettings::default());

        // Unticked: off.
        let off = admin
            .post(
                "/admin/status",
                &[
                    ("csrf", &csrf),
                    ("storm_min_tickets", "6"),
                    ("storm_within_minutes", "20"),
                    ("maintenance_lead_days", "10"),
                ],
            )
            .await;
        assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
        assert_eq!(off.location(), "/admin/status?saved=1");
        let s = t.app.instance_settings().await.unwrap();
        assert_eq!(
            (s.status_page, s.storm_min_tickets, s.storm_within_minutes, s.maintenance_lead_days),
            (false, 6, 20, 10)
        );
        for path in ["/status", "/status.atom", "/status.ics", "/status?lang=en"] {
            let r = public.get(path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "off: {path}");
            assert_ne!(r.headers.get(header::CACHE_CONTROL).unwrap(), "public, max-age=30");
        }
        // Each change is an event.
        let mut tx = t.app.db.read().await.unwrap();
        let changes: Vec<(String, Option<String>)> = store::with_conn!(&mut tx, c => sqlx::query_as(
            "SELECT field, new_value FROM events WHERE subject = 'setting' ORDER BY id")
            .fetch_all(&mut *c).await)
        .unwrap();
        drop(tx);
        assert_eq!(
            changes,
            [
                ("status_page".to_string(), Some("off".to_string())),
                ("storm_min_tickets".to_string(), Some("6".to_string())),
                ("storm_within_minutes".to_string(), Some("20".to_string())),
                ("maintenance_lead_days".to_string(), Some("10".to_string())),
            ]
        );

        // Ticked again: on.
        let on = admin
            .post(
                "/admin/status",
                &[
                    ("csrf", &csrf),
                    ("status_page", "1"),
                    ("storm_min_tickets", "6"),
                    ("storm_within_minutes", "20"),
                    ("maintenance_lead_days", "10"),
                ],
            )
            .await;
        assert_eq!(on.status, StatusCode::SEE_OTHER);
        assert_eq!(public.get("/status").await.status, StatusCode::OK);
        // Another node sees the change within the cache's lifetime; this one at once.
        assert!(t.app.instance_settings().await.unwrap().status_page);
    }
);

both!(
    async fn warming_at_start_compiles_the_visible_notices_and_places_those_of_the_status_page(t: &Ctx) {
        let cast = t.seed().await;
        let a = t.app.clone().with_clock(app::Clock::manual(rome("2026-11-20T10:00:00")));
        let none = a.warm_caches().await.unwrap();
        assert_eq!((none.visible_notices, none.status_notices), (0, Some(0)));
        publish_fixture(t, &a, &cast).await;
        // Visible: the incident, the maintenance in two days and the one about a named line (not
        // the draft, nor the ended ones); on the page: the incident, the maintenance and the two
        // ended ones, not the named line's.
        let warmed = a.warm_caches().await.unwrap();
        assert_eq!((warmed.visible_notices, warmed.status_notices), (3, Some(4)), "{warmed:?}");
        let page = a.status_page("it").await.unwrap();
        assert_eq!(page.incidents.len() + page.maintenance.len() + page.history.len(), 4);
        let off = app::instance::InstanceSettingsInput { status_page: Some(false), ..Default::default() };
        a.save_instance_settings(&cast.admin, off).await.unwrap();
        let warmed = a.warm_caches().await.unwrap();
        assert_eq!((warmed.visible_notices, warmed.status_notices), (3, None), "no status page to warm");
    }
);
