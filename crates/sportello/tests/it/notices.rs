//! Targeted notices: scopes against the inventory, the live affected set, maintenance windows
//! moving by themselves, and who may see what.

use app::notices::{NoticeInput, NoticeText, NoticeUpdateInput};
use domain::notice::{Impact, NoticeKind, NoticeState};
use domain::scope::{Scope, ScopeTerm};

use crate::harness::*;

pub(crate) const TERRITORY: &str = "code,name,level,parent_code
IT,Italia,country,
03,Lombardia,region,IT
015,Milano,province,03
013,Como,province,03
015146,Milano,municipality,015
015002,Abbiategrasso,municipality,015
013075,Como,municipality,013
12,Lazio,region,IT
058,Roma,province,12
058091,Roma,municipality,058
";

const NETWORK: &str = "code,name,kind,parent_code
MI-POP-1,Milano PoP,pop,
MI-OLT-07,OLT 7,olt,MI-POP-1
MI-OLT-07-P1,PON 1,pon_port,MI-OLT-07
RM-POP-1,Roma PoP,pop,
";

/// ACME: two FTTH lines in Milano (one behind OLT 7), an FTTC in Como; LAKE (the partner's):
/// FTTH in Abbiategrasso; OTHER: FTTH in Roma.
const LINES: &str = "identifier,customer_code,service,municipality_code,network_elements,status
ACME-1,ACME,FTTH,015146,MI-OLT-07-P1,active
ACME-2,ACME,FTTH,015146,,active
ACME-3,ACME,FTTC,013075,,active
LAKE-1,LAKE,FTTH,015002,,active
OTHER-1,OTHER,FTTH,058091,RM-POP-1,active
";

pub(crate) async fn inventory(t: &Ctx, cast: &Cast) {
    let ok = |r: app::inventory::ImportReport| assert!(r.rejected.is_empty() && !r.aborted, "{r:?}");
    ok(t.app.import_territory(&cast.admin, TERRITORY.as_bytes(), true).await.unwrap());
    ok(t.app.import_network(&cast.admin, NETWORK.as_bytes(), true).await.unwrap());
    ok(t.app.import_lines(&cast.admin, LINES.as_bytes(), true, &|_| {}).await.unwrap());
}

fn term(territory: Option<&str>, element: Option<&str>, service: Option<&str>) -> ScopeTerm {
    ScopeTerm {
        territory: territory.map(String::from),
        network_element: element.map(String::from),
        service: service.map(String::from),
    }
}

fn notice(kind: NoticeKind, title: &str, scope: Scope) -> NoticeInput {
    NoticeInput {
        kind,
        impact: Impact::Outage,
        texts: [("it".to_string(), NoticeText { title: title.into(), body: "Stiamo lavorando".into() })].into(),
        internal_notes: "Fibre cut near the exchange".into(),
        scope,
        window: None,
        estimated_restoration: None,
        publish: true,
    }
}

fn rome(s: &str) -> jiff::Timestamp {
    format!("{s}+01:00[Europe/Rome]").parse::<jiff::Zoned>().unwrap().timestamp()
}

both!(
    async fn a_scope_reaches_the_lines_below_its_territories_and_elements_and_only_their_customers_see_it(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        // FTTH in the province of Milano ∪ everything behind OLT 7.
        let scope = Scope {
            terms: vec![term(Some("015"), None, Some("FTTH")), term(None, Some("MI-OLT-07"), None)],
            lines: vec![],
        };
        let preview = t.app.preview_scope(&cast.agent, &scope).await.unwrap();
        assert_eq!((preview.lines, preview.customers), (3, 2), "ACME-1, ACME-2, LAKE-1");
        assert_eq!(preview.by_region_and_service.len(), 1);
        assert_eq!(
            (preview.by_region_and_service[0].region.as_str(), preview.by_region_and_service[0].service.as_str()),
            ("03", "FTTH")
        );
        let v =
            t.app.create_notice(&cast.agent, notice(NoticeKind::Incident, "Guasto fibra Milano", scope)).await.unwrap();
        assert_eq!((v.state, v.affected_lines, v.affected_customers), (NoticeState::Investigating, Some(3), Some(2)));

        // The customers whose lines are hit see it; the one in Roma does not.
        let anna = t.app.my_notices(&cast.anna).await.unwrap();
        assert_eq!(anna.len(), 1);
        assert_eq!(anna[0].1, ["ACME-1", "ACME-2"], "the lines it touches");
        assert_eq!(anna[0].0.title, "Guasto fibra Milano");
        assert!(anna[0].0.scope.is_none() && anna[0].0.affected_lines.is_none() && anna[0].0.internal_notes.is_none());
        assert!(t.app.my_notices(&cast.dario).await.unwrap().is_empty());
        assert!(t.app.notice(&cast.dario, v.id).await.is_err(), "not found for a customer it does not touch");
        assert_eq!(t.app.my_notices(&cast.partner).await.unwrap().len(), 1, "the partner, for LAKE");
        assert!(t.app.my_notices(&cast.other_partner).await.unwrap().is_empty());
        assert_eq!(t.app.line_notices(&cast.anna, "ACME-1").await.unwrap().len(), 1);
        assert!(t.app.line_notices(&cast.anna, "ACME-3").await.unwrap().is_empty(), "FTTC in Como");
        assert!(t.app.line_notices(&cast.anna, "OTHER-1").await.is_err(), "someone else's line");
        assert_eq!(t.app.customer_notices(&cast.agent, "LAKE").await.unwrap().len(), 1);

        // The affected set is live: a new FTTH line in Milano is covered, a ceased one drops out.
        let more = "identifier,customer_code,service,municipality_code,network_elements,status
OTHER-2,OTHER,FTTH,015146,,active
ACME-2,ACME,FTTH,015146,,ceased
";
        t.app.import_lines(&cast.admin, more.as_bytes(), true, &|_| {}).await.unwrap();
        let v = t.app.notice(&cast.agent, v.id).await.unwrap();
        assert_eq!((v.affected_lines, v.affected_customers), (Some(3), Some(3)));
        t.app.forget_caches();
        assert_eq!(t.app.my_notices(&cast.dario).await.unwrap()[0].1, ["OTHER-2"]);

        // Updates build the timeline; resolving ends it and customers stop seeing it.
        let update = |state: Option<NoticeState>, body: &str| NoticeUpdateInput {
            state,
            texts: [("it".to_string(), NoticeText { title: String::new(), body: body.into() })].into(),
            estimated_restoration: None,
            ..Default::default()
        };
        t.app
            .post_notice_update(&cast.agent, v.id, update(Some(NoticeState::Identified), "Causa trovata"))
            .await
            .unwrap();
        let bad = t.app.post_notice_update(&cast.agent, v.id, update(Some(NoticeState::Completed), "x")).await;
        assert!(bad.unwrap_err().to_string().contains("state"));
        let v =
            t.app.post_notice_update(&cast.agent, v.id, update(Some(NoticeState::Resolved), "Risolto")).await.unwrap();
        assert_eq!(
            v.timeline.iter().map(|e| e.state).collect::<Vec<_>>(),
            [NoticeState::Identified, NoticeState::Resolved]
        );
        assert!(v.ended_at.is_some());
        assert!(t.app.my_notices(&cast.anna).await.unwrap().is_empty());
        // Customers cannot write notices.
        let s = Scope { terms: vec![term(Some("015"), None, None)], lines: vec![] };
        assert!(t.app.create_notice(&cast.anna, notice(NoticeKind::Incident, "x", s)).await.is_err());
    }
);

both!(
    async fn bad_scopes_and_windows_are_refused_naming_every_unknown_code(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let scope = Scope {
            terms: vec![term(Some("999"), Some("NOPE-OLT"), Some("FTTH")), term(None, None, Some("CARRIER-PIGEON"))],
            lines: vec!["ACME-1".into(), "GHOST-9".into()],
        };
        let e = t.app.create_notice(&cast.agent, notice(NoticeKind::Incident, "x", scope)).await.unwrap_err();
        let app::Error::Unprocessable(problems) = e else { panic!("422 expected: {e:?}") };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["scope.terms[0].territory", "scope.terms[0].network_element", "scope.terms[1].service", "scope.lines[1]"]
        );
        let empty = t.app.create_notice(&cast.agent, notice(NoticeKind::Incident, "x", Scope::default())).await;
        assert!(matches!(empty, Err(app::Error::Unprocessable(_))));
        let mut inverted =
            notice(NoticeKind::Maintenance, "Lavori", Scope { terms: vec![], lines: vec!["ACME-1".into()] });
        inverted.window = Some((rome("2026-12-01T02:00:00"), rome("2026-12-01T01:00:00")));
        assert!(matches!(t.app.create_notice(&cast.agent, inverted.clone()).await, Err(app::Error::Unprocessable(_))));
        inverted.window = None;
        assert!(matches!(t.app.create_notice(&cast.agent, inverted).await, Err(app::Error::Unprocessable(_))));
        assert!(t.app.open_notices(&cast.agent).await.unwrap().is_empty(), "nothing saved");
    }
);

both!(
    async fn maintenance_is_announced_ahead_and_moves_through_its_window_by_itself(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let clock = app::Clock::manual(rome("2026-11-20T10:00:00"));
        let a = t.app.clone().with_clock(clock.clone());
        let mut input = notice(
            NoticeKind::Maintenance,
            "Manutenzione OLT 7",
            Scope { terms: vec![term(None, Some("MI-OLT-07"), None)], lines: vec![] },
        );
        input.window = Some((rome("2026-12-01T02:00:00"), rome("2026-12-01T04:00:00")));
        let v = a.create_notice(&cast.agent, input).await.unwrap();
        assert_eq!((v.state, v.affected_lines), (NoticeState::Scheduled, Some(1)));
        // Eleven days ahead: not shown yet (lead time 7 days); from 24 November it is.
        assert!(a.my_notices(&cast.anna).await.unwrap().is_empty());
        // An admin lengthens the lead time to 14 days: shown at once, here and on the status page.
        let lead =
            |days| app::instance::InstanceSettingsInput { maintenance_lead_days: Some(days), ..Default::default() };
        assert!(a.save_instance_settings(&cast.agent, lead(14)).await.is_err(), "admins only");
        assert!(a.save_instance_settings(&cast.admin, lead(91)).await.is_err(), "at most 90 days");
        assert_eq!(a.save_instance_settings(&cast.admin, lead(14)).await.unwrap().maintenance_lead_days, 14);
        assert_eq!(a.my_notices(&cast.anna).await.unwrap().len(), 1);
        assert_eq!(a.status_page("it").await.unwrap().maintenance.len(), 1);
        a.save_instance_settings(&cast.admin, lead(7)).await.unwrap();
        assert!(a.my_notices(&cast.anna).await.unwrap().is_empty());
        assert!(a.status_page("it").await.unwrap().maintenance.is_empty());
        clock.set(rome("2026-11-24T03:00:00"));
        a.forget_caches();
        assert_eq!(a.my_notices(&cast.anna).await.unwrap().len(), 1);
        // The window opens and closes: in progress, then completed, each an event.
        clock.set(rome("2026-12-01T02:00:00"));
        assert_eq!(a.notice_sweep().await.unwrap(), 1);
        assert_eq!(a.notice(&cast.agent, v.id).await.unwrap().state, NoticeState::InProgress);
        assert_eq!(a.notice_sweep().await.unwrap(), 0);
        clock.set(rome("2026-12-01T04:00:01"));
        assert_eq!(a.notice_sweep().await.unwrap(), 1);
        assert_eq!(a.notice(&cast.agent, v.id).await.unwrap().state, NoticeState::Completed);
        assert!(a.my_notices(&cast.anna).await.unwrap().is_empty());
    }
);
