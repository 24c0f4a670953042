//! Service levels: calendars, support levels and contracts in the database, the due times they
//! give, and what admins may not save.

use app::sla::{CalendarInput, ContractInput, LevelInput};
use domain::Severity;

use crate::harness::*;

fn at(s: &str) -> jiff::Timestamp {
    s.parse::<jiff::Zoned>().unwrap().timestamp()
}

both!(
    async fn built_in_levels_give_due_times_and_admins_define_their_own(t: &Ctx) {
        let cast = t.seed().await;
        // The built-in levels are there from the migration, with the contract's maths.
        let levels = t.app.support_levels(&cast.agent).await.unwrap();
        let slugs: Vec<&str> = levels.iter().map(|l| l.slug.as_str()).collect();
        assert_eq!(slugs, ["advanced", "extended", "professional"]);
        let (_, due) = t
            .app
            .sla_due("professional", Severity::Blocking, at("2026-11-20T16:30:00+01:00[Europe/Rome]"), None)
            .await
            .unwrap();
        assert_eq!(due.intervention, at("2026-11-23T11:30:00+01:00[Europe/Rome]"));

        // A local calendar: Como's patron saint (31 August) and a bridge day closed.
        let mut week: [Vec<String>; 7] = Default::default();
        for d in week.iter_mut().take(5) {
            *d = vec!["08:30-12:30".into(), "13:30-17:30".into()];
        }
        let input = CalendarInput {
            slug: "como".into(),
            name: "Ufficio di Como".into(),
            time_zone: "Europe/Rome".into(),
            always_open: false,
            week: week.clone(),
            holidays: vec!["12-25".into(), "easter+1".into(), "08-31".into(), "2026-12-07".into()],
        };
        let saved = t.app.save_calendar(&cast.admin, input.clone()).await.unwrap();
        assert_eq!(saved.week[0].1, vec!["08:30-12:30", "13:30-17:30"]);
        let level = LevelInput {
            slug: "como-gold".into(),
            name: "Como Gold".into(),
            calendar: "como".into(),
            intervention_minutes: (120, 240),
            restoration_minutes: (240, 480),
            ..Default::default()
        };
        t.app.save_support_level(&cast.admin, level.clone()).await.unwrap();
        // Friday 4 December 2026 at 17:00 + 2 h: 30 minutes that day, Monday 7 December is the
        // bridge day, Tuesday 8 December a national holiday not in this calendar: 10:00.
        let (_, due) = t
            .app
            .sla_due("como-gold", Severity::Blocking, at("2026-12-04T17:00:00+01:00[Europe/Rome]"), None)
            .await
            .unwrap();
        assert_eq!(due.intervention, at("2026-12-08T10:00:00+01:00[Europe/Rome]"));

        // Bad input names the field and saves nothing.
        let mut bad = input.clone();
        bad.week[2] = vec!["09:00-13:00".into(), "12:00-18:00".into()];
        let e = t.app.save_calendar(&cast.admin, bad).await.unwrap_err().to_string();
        assert!(e.contains("week") && e.contains("overlap"), "{e}");
        let mut bad = input.clone();
        bad.time_zone = "Europe/Atlantis".into();
        bad.slug = "atlantis".into();
        assert!(t.app.save_calendar(&cast.admin, bad).await.unwrap_err().to_string().contains("time_zone"));
        let mut bad = input.clone();
        bad.week = Default::default();
        bad.slug = "never".into();
        assert!(t.app.save_calendar(&cast.admin, bad).await.is_err());
        let mut bad = level.clone();
        bad.intervention_minutes = (0, 240);
        bad.calendar = "nowhere".into();
        let e = t.app.save_support_level(&cast.admin, bad).await.unwrap_err().to_string();
        assert!(e.contains("intervention_minutes") && e.contains("calendar"), "{e}");
        assert_eq!(t.app.calendars(&cast.admin).await.unwrap().len(), 4);
        // Agents read, only admins change.
        assert!(t.app.save_calendar(&cast.agent, input).await.is_err());
        assert!(t.app.calendars(&cast.anna).await.is_err());
    }
);

both!(
    async fn the_contract_in_force_is_the_customers_own_else_its_partners(t: &Ctx) {
        let cast = t.seed().await;
        let customer = t
            .app
            .customers(&cast.admin)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.partner_id.is_some())
            .expect("a partner's customer");
        let partner_id = customer.partner_id.unwrap();
        let day = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
        assert_eq!(
            t.app.contract_in_force(&cast.admin, &customer.code, day("2026-11-22")).await.unwrap(),
            None,
            "support on request"
        );

        let partner = ContractInput {
            partner_id: Some(partner_id),
            level: "advanced".into(),
            valid_from: "2026-01-01".into(),
            ..Default::default()
        };
        t.app.create_contract(&cast.admin, partner).await.unwrap();
        let k = t.app.contract_in_force(&cast.admin, &customer.code, day("2026-11-22")).await.unwrap().unwrap();
        assert_eq!((k.level.as_str(), k.partner_id), ("advanced", Some(partner_id)));

        let own = ContractInput {
            customer: Some(customer.code.clone()),
            level: "extended".into(),
            valid_from: "2026-11-01".into(),
            valid_until: Some("2027-10-31".into()),
            included_minutes: 600,
            evo: true,
            ..Default::default()
        };
        t.app.create_contract(&cast.admin, own).await.unwrap();
        let k = t.app.contract_in_force(&cast.admin, &customer.code, day("2026-11-22")).await.unwrap().unwrap();
        assert_eq!((k.level.as_str(), k.evo, k.included_minutes), ("extended", true, 600));
        // Before its own contract starts and after it ends, the partner's applies.
        assert_eq!(
            t.app.contract_in_force(&cast.admin, &customer.code, day("2026-10-31")).await.unwrap().unwrap().level,
            "advanced"
        );
        assert_eq!(
            t.app.contract_in_force(&cast.admin, &customer.code, day("2027-11-01")).await.unwrap().unwrap().level,
            "advanced"
        );

        // Bad contracts name the field.
        let bad = ContractInput {
            customer: Some(customer.code.clone()),
            level: "platinum".into(),
            valid_from: "2026-12-01".into(),
            valid_until: Some("2026-01-01".into()),
            included_minutes: -5,
            ..Default::default()
        };
        let e = t.app.create_contract(&cast.admin, bad).await.unwrap_err().to_string();
        for field in ["level", "valid_until", "included_minutes"] {
            assert!(e.contains(field), "{field}: {e}");
        }
        let both_ways = ContractInput {
            customer: Some(customer.code.clone()),
            partner_id: Some(partner_id),
            level: "advanced".into(),
            valid_from: "2026-01-01".into(),
            ..Default::default()
        };
        assert!(t.app.create_contract(&cast.admin, both_ways).await.is_err());
        assert!(t.app.create_contract(&cast.agent, ContractInput::default()).await.is_err());
    }
);

fn rome(s: &str) -> jiff::Timestamp {
    at(&format!("{s}+01:00[Europe/Rome]"))
}

async fn contract(t: &Ctx, cast: &crate::harness::Cast, customer: &str, level: &str, included: i64) {
    let input = ContractInput {
        customer: Some(customer.into()),
        level: level.into(),
        valid_from: "2026-01-01".into(),
        included_minutes: included,
        ..Default::default()
    };
    t.app.create_contract(&cast.admin, input).await.unwrap();
}

fn fault(title: &str, requestor: &str) -> app::tickets::NewTicketInput {
    app::tickets::NewTicketInput {
        queue: "support".into(),
        title: title.into(),
        requestors: vec![requestor.into()],
        body: "No sync on the fibre line".into(),
        category: Some(domain::Category::BlockingFault),
        owner: Some("agent@op.example".into()),
        ..Default::default()
    }
}

fn message(kind: domain::MessageKind, body: &str, time: Option<(i64, bool)>) -> app::tickets::MessageInput {
    app::tickets::MessageInput {
        kind,
        body: body.into(),
        body_html: None,
        attachments: vec![],
        status: None,
        owner: None,
        time: time.map(|(minutes, billable)| app::tickets::TimeInput { minutes, billable, note: String::new() }),
    }
}

fn status(s: domain::Status) -> app::tickets::TicketPatch {
    app::tickets::TicketPatch { status: Some(s), ..Default::default() }
}

async fn sla_events(t: &Ctx, cast: &crate::harness::Cast, number: i64) -> Vec<(String, String)> {
    t.app
        .ticket_events(&cast.admin, number)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "sla")
        .map(|e| (e.field.unwrap_or_default(), e.new_value.unwrap_or_default()))
        .collect()
}

both!(
    async fn a_ticket_clock_pauses_warns_breaches_escalates_and_keeps_consumed_time(t: &Ctx) {
        use domain::clock::{ClockState, Phase};
        use domain::{MessageKind, Status};
        let cast = t.seed().await;
        contract(t, &cast, "ACME", "professional", 0).await;
        // Professional escalates to the treasury queue (the escalation group here) with +10.
        let mut level =
            t.app.support_levels(&cast.admin).await.unwrap().into_iter().find(|l| l.slug == "professional").unwrap();
        level.escalation_queue = Some("treasury".into());
        level.escalation_raise = 10;
        let input = LevelInput {
            slug: level.slug,
            name: level.name,
            calendar: level.calendar,
            intervention_minutes: level.intervention_minutes,
            restoration_minutes: level.restoration_minutes,
            category_minutes: level.category_minutes,
            warn_percent: 75,
            pause_statuses: vec![Status::Stalled],
            escalation_queue: level.escalation_queue,
            escalation_raise: 10,
        };
        t.app.save_support_level(&cast.admin, input).await.unwrap();

        let clock = app::Clock::manual(rome("2026-11-20T16:30:00"));
        let a = t.app.clone().with_clock(clock.clone());
        let v = a.create_ticket(&cast.agent, fault("Fibre down in Lecco", "anna@acme.example")).await.unwrap();
        let sla = v.sla.clone().expect("ACME has a contract");
        assert_eq!(
            (sla.level.as_str(), sla.state, sla.phase),
            ("professional", ClockState::Running, Phase::Intervention)
        );
        assert_eq!(sla.intervention_due, Some(rome("2026-11-23T11:30:00")));
        assert_eq!(sla.restoration_due, Some(rome("2026-11-23T16:30:00")));
        // VIP 15 + blocking 40 + blocking fault 15.
        assert_eq!((v.priority, v.priority_manual), (70, false));

        // Waiting for the customer from Friday 17:00 to Monday 10:00: 30 minutes consumed.
        clock.set(rome("2026-11-20T17:00:00"));
        let v2 = a.update_ticket(&cast.agent, v.number, status(Status::Stalled)).await.unwrap();
        assert_eq!(v2.sla.as_ref().unwrap().state, ClockState::Paused);
        assert_eq!(v2.sla.as_ref().unwrap().intervention_due, None);
        clock.set(rome("2026-11-23T10:00:00"));
        let v2 = a.update_ticket(&cast.agent, v.number, status(Status::Open)).await.unwrap();
        let sla = v2.sla.unwrap();
        // 3.5 h left from 10:00: 10:00-13:00 and 14:00-14:30.
        assert_eq!(sla.intervention_due, Some(rome("2026-11-23T14:30:00")));
        assert_eq!(sla.paused_for, 65 * 3600);

        // 75% (3 h) is consumed at 12:30: the sweep warns the owner once.
        clock.set(rome("2026-11-23T12:29:00"));
        a.sla_sweep().await.unwrap();
        assert!(sla_events(t, &cast, v.number).await.is_empty());
        clock.set(rome("2026-11-23T12:31:00"));
        a.sla_sweep().await.unwrap();
        a.sla_sweep().await.unwrap();
        assert_eq!(sla_events(t, &cast, v.number).await, [("intervention".into(), "warning".into())]);
        let kinds: Vec<String> =
            a.ticket_outbox(&cast.admin, v.number).await.unwrap().into_iter().map(|m| m.kind).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "agent_sla_warning").count(), 1, "{kinds:?}");
        let v3 = a.ticket(&cast.agent, v.number).await.unwrap();
        assert_eq!(v3.priority, 80, "warned: +10");

        // At 14:30 the intervention is late: breach, +10 escalation, moved to treasury unowned.
        clock.set(rome("2026-11-23T14:31:00"));
        a.sla_sweep().await.unwrap();
        let v4 = a.ticket(&cast.admin, v.number).await.unwrap();
        assert_eq!(v4.sla.as_ref().unwrap().state, ClockState::Breached);
        assert_eq!((v4.queue.as_str(), v4.owner.is_none(), v4.priority), ("treasury", true, 100));
        let kinds: Vec<String> =
            a.ticket_outbox(&cast.admin, v.number).await.unwrap().into_iter().map(|m| m.kind).collect();
        assert!(kinds.iter().any(|k| k == "agent_sla_breach"), "{kinds:?}");

        // The reply at 15:00 is the (late) intervention; restoration counts from it: 4 h.
        clock.set(rome("2026-11-23T15:00:00"));
        a.add_message(&cast.admin, v.number, message(MessageKind::Reply, "We are on it", Some((30, true))))
            .await
            .unwrap();
        let sla = a.ticket(&cast.admin, v.number).await.unwrap().sla.unwrap();
        assert_eq!((sla.phase, sla.intervened_at), (Phase::Restoration, Some(rome("2026-11-23T15:00:00"))));
        assert_eq!(sla.restoration_due, Some(rome("2026-11-24T10:00:00")));

        // Non-blocking from Tuesday 09:00 keeps the 3 h consumed: 5 h of 8 left, due 15:00.
        clock.set(rome("2026-11-24T09:00:00"));
        let patch = app::tickets::TicketPatch { severity: Some(domain::Severity::NonBlocking), ..Default::default() };
        let sla = a.update_ticket(&cast.admin, v.number, patch).await.unwrap().sla.unwrap();
        assert_eq!(sla.restoration_due, Some(rome("2026-11-24T15:00:00")));

        clock.set(rome("2026-11-24T12:00:00"));
        let sla = a.update_ticket(&cast.admin, v.number, status(Status::Resolved)).await.unwrap().sla.unwrap();
        assert_eq!((sla.phase, sla.state), (Phase::Done, ClockState::Breached), "the intervention was late");
        assert!(!sla.restoration_breached);
        assert_eq!(
            sla_events(t, &cast, v.number).await,
            [
                ("intervention".to_string(), "warning".to_string()),
                ("intervention".into(), "breached".into()),
                ("severity".into(), "non_blocking".into()),
                ("restoration".into(), "met".into()),
            ]
        );
    }
);

both!(
    async fn categories_other_than_faults_run_a_clock_only_when_the_level_promises_them_one(t: &Ctx) {
        use domain::Category;
        let cast = t.seed().await;
        contract(t, &cast, "ACME", "professional", 0).await;
        let levels = t.app.support_levels(&cast.admin).await.unwrap();
        let professional = levels.into_iter().find(|l| l.slug == "professional").unwrap();
        assert!(professional.category_minutes.is_empty(), "the presets promise faults only");
        let save = |categories: &[(Category, (i64, i64))]| LevelInput {
            slug: professional.slug.clone(),
            name: professional.name.clone(),
            calendar: professional.calendar.clone(),
            intervention_minutes: professional.intervention_minutes,
            restoration_minutes: professional.restoration_minutes,
            category_minutes: categories.iter().copied().collect(),
            ..Default::default()
        };
        // Service requests: intervention in 8 business hours, done 16 hours after.
        t.app.save_support_level(&cast.admin, save(&[(Category::ServiceRequest, (480, 960))])).await.unwrap();
        let stored = t.app.support_levels(&cast.admin).await.unwrap();
        let stored = stored.iter().find(|l| l.slug == "professional").unwrap();
        assert_eq!(stored.category_minutes.get(&Category::ServiceRequest), Some(&(480, 960)));

        let clock = app::Clock::manual(rome("2026-11-20T16:30:00"));
        let a = t.app.clone().with_clock(clock.clone());
        let of = |category| app::tickets::NewTicketInput {
            category: Some(category),
            ..fault("Port forward", "anna@acme.example")
        };
        // Friday 16:30 + 8 h: 1.5 h on Friday, 6.5 h on Monday (09-13, 14-16:30).
        let request = a.create_ticket(&cast.agent, of(Category::ServiceRequest)).await.unwrap();
        let sla = request.sla.expect("service requests are promised");
        assert_eq!(sla.intervention_due, Some(rome("2026-11-23T16:30:00")));
        // A question: nothing promised, so no clock (support goes on, untimed).
        let question = a.create_ticket(&cast.agent, of(Category::InformationRequest)).await.unwrap();
        assert!(question.sla.is_none());

        // The question turns out to be a fault on Monday 09:00: the clock counts from the opening
        // (blocking, 4 h: 1.5 h Friday, 2.5 h Monday) and says so.
        clock.set(rome("2026-11-23T09:00:00"));
        let to = |c: Category| app::tickets::TicketPatch { category: Some(c), ..Default::default() };
        let blocking = app::tickets::TicketPatch {
            category: Some(Category::BlockingFault),
            severity: Some(domain::Severity::Blocking),
            ..Default::default()
        };
        let v = a.update_ticket(&cast.agent, question.number, blocking).await.unwrap();
        assert_eq!(v.sla.unwrap().intervention_due, Some(rome("2026-11-23T11:30:00")));
        assert_eq!(sla_events(t, &cast, question.number).await, [("level".into(), "professional".into())]);

        // The service request becomes an order, which the level promises nothing for: no clock.
        let v = a.update_ticket(&cast.agent, request.number, to(Category::Order)).await.unwrap();
        assert!(v.sla.is_none());
        // And back to a service request: the clock restarts from the opening, 1.5 h consumed
        // on Friday, due Monday 16:30 again.
        let v = a.update_ticket(&cast.agent, request.number, to(Category::ServiceRequest)).await.unwrap();
        assert_eq!(v.sla.unwrap().intervention_due, Some(rome("2026-11-23T16:30:00")));
        // A fault recategorised as a service request keeps the time consumed: the fault (opened
        // Friday 16:30) used 1.5 h Friday + 1 h Monday by 10:00, so 5.5 h of 8 are left.
        clock.set(rome("2026-11-23T10:00:00"));
        let v = a.update_ticket(&cast.agent, question.number, to(Category::ServiceRequest)).await.unwrap();
        assert_eq!(v.sla.unwrap().intervention_due, Some(rome("2026-11-23T16:30:00")));
        assert!(sla_events(t, &cast, question.number).await.contains(&("category".into(), "service_request".into())));

        // Withdrawing the promise drops the running clocks of that category when the recompute runs.
        a.save_support_level(&cast.admin, save(&[])).await.unwrap();
        assert_eq!(a.recompute_calendar(&professional.calendar).await.unwrap(), 0, "both dropped, none left");
        assert!(a.ticket(&cast.agent, request.number).await.unwrap().sla.is_none());
        assert!(a.ticket(&cast.agent, question.number).await.unwrap().sla.is_none());

        // Bad targets name the category; faults cannot be given per category.
        let e = t.app.save_support_level(&cast.admin, save(&[(Category::Order, (0, 10))])).await.unwrap_err();
        assert!(e.to_string().contains("category_minutes.order"), "{e}");
        let e = t.app.save_support_level(&cast.admin, save(&[(Category::BlockingFault, (10, 10))])).await.unwrap_err();
        assert!(e.to_string().contains("category_minutes.blocking_fault"), "{e}");
    }
);

both!(
    async fn a_calendar_change_recomputes_running_clocks_and_support_on_request_has_none(t: &Ctx) {
        use app::sla::CalendarInput;
        let cast = t.seed().await;
        contract(t, &cast, "ACME", "professional", 0).await;
        let clock = app::Clock::manual(rome("2026-11-20T16:30:00"));
        let a = t.app.clone().with_clock(clock.clone());
        let v = a.create_ticket(&cast.agent, fault("Fibre down", "anna@acme.example")).await.unwrap();
        assert_eq!(v.sla.unwrap().intervention_due, Some(rome("2026-11-23T11:30:00")));
        // OTHER has no contract: support on request, no clock, priority still computed.
        let other = a.create_ticket(&cast.agent, fault("Slow line", "dario@other.example")).await.unwrap();
        assert!(other.sla.is_none());
        assert_eq!(other.priority, 55);

        // The office opens on Saturday mornings from now on: 1.5 h on Friday, 2.5 h on Saturday.
        let office = a.calendars(&cast.admin).await.unwrap().into_iter().find(|c| c.slug == "office-it").unwrap();
        let mut week: [Vec<String>; 7] = Default::default();
        for (i, (_, ivs)) in office.week.iter().enumerate() {
            week[i] = ivs.clone();
        }
        week[5] = vec!["09:00-13:00".into()];
        let input = CalendarInput {
            slug: office.slug,
            name: office.name,
            time_zone: office.time_zone,
            always_open: false,
            week,
            holidays: office.holidays,
        };
        a.save_calendar(&cast.admin, input).await.unwrap();
        t.drain_jobs().await;
        let sla = a.ticket(&cast.agent, v.number).await.unwrap().sla.unwrap();
        assert_eq!(sla.intervention_due, Some(rome("2026-11-21T11:30:00")));
        assert_eq!(sla.restoration_due, Some(rome("2026-11-23T11:30:00")));
        // The breaching-soon view lists it first within a day, and not within an hour.
        let soon = a.breaching_soon(&cast.agent, jiff::SignedDuration::from_hours(24), 50).await.unwrap();
        assert_eq!(soon.iter().map(|s| s.number).collect::<Vec<_>>(), [v.number]);
        assert_eq!(soon[0].sla_due, Some(rome("2026-11-21T11:30:00")));
        assert!(a.breaching_soon(&cast.agent, jiff::SignedDuration::from_hours(1), 50).await.unwrap().is_empty());
        assert!(a.breaching_soon(&cast.anna, jiff::SignedDuration::from_hours(24), 50).await.is_err());
        // Listings carry the due instant for the countdown badges.
        let page = a
            .list_tickets(&cast.agent, app::tickets::ListInput { order: Some("priority".into()), ..Default::default() })
            .await
            .unwrap();
        let listed = page.tickets.iter().find(|s| s.number == v.number).unwrap();
        assert_eq!(listed.sla_due, Some(rome("2026-11-21T11:30:00")));
        assert_eq!(page.tickets[0].number, v.number, "the VIP fault first");
    }
);

both!(
    async fn priority_override_is_an_event_and_time_is_reported_per_customer(t: &Ctx) {
        use domain::MessageKind;
        let cast = t.seed().await;
        contract(t, &cast, "ACME", "extended", 60).await;
        let clock = app::Clock::manual(rome("2026-11-10T10:00:00"));
        let a = t.app.clone().with_clock(clock.clone());
        let v = a.create_ticket(&cast.agent, fault("Fibre down", "anna@acme.example")).await.unwrap();
        let patch = app::tickets::TicketPatch { priority: Some(30), ..Default::default() };
        let v2 = a.update_ticket(&cast.agent, v.number, patch).await.unwrap();
        assert_eq!((v2.priority, v2.priority_manual), (30, true));
        let patch = app::tickets::TicketPatch { impact: Some(250), priority_auto: true, ..Default::default() };
        let v3 = a.update_ticket(&cast.agent, v.number, patch).await.unwrap();
        assert_eq!((v3.priority, v3.priority_manual, v3.impact), (85, false, 250));
        let events = a.ticket_events(&cast.admin, v.number).await.unwrap();
        let overrides: Vec<_> = events
            .iter()
            .filter(|e| e.field.as_deref() == Some("priority_override"))
            .map(|e| e.new_value.clone().unwrap_or_default())
            .collect();
        assert_eq!(overrides, ["manual", "computed"]);

        // Time: with a reply, with a comment, and on its own.
        a.add_message(&cast.agent, v.number, message(MessageKind::Reply, "Checking", Some((30, true)))).await.unwrap();
        a.add_message(&cast.agent, v.number, message(MessageKind::Comment, "Called NOC", Some((15, false))))
            .await
            .unwrap();
        let time = app::tickets::TimeInput { minutes: 45, billable: true, note: "On site".into() };
        a.add_time(&cast.agent, v.number, time).await.unwrap();
        let other = a.create_ticket(&cast.agent, fault("Router config", "dario@other.example")).await.unwrap();
        a.add_time(
            &cast.agent,
            other.number,
            app::tickets::TimeInput { minutes: 20, billable: true, note: "=cmd".into() },
        )
        .await
        .unwrap();
        assert_eq!(a.time_entries(&cast.agent, v.number).await.unwrap().len(), 3);
        // Bad time and customers are refused.
        let bad = app::tickets::TimeInput { minutes: 0, billable: true, note: String::new() };
        assert!(a.add_time(&cast.agent, v.number, bad.clone()).await.unwrap_err().to_string().contains("minutes"));
        assert!(a.add_time(&cast.anna, v.number, bad).await.is_err());
        assert!(
            a.add_message(&cast.anna, v.number, message(MessageKind::Reply, "thanks", Some((5, true)))).await.is_err()
        );

        let report = a.time_report(&cast.admin, "2026-11", "Europe/Rome").await.unwrap();
        let acme = report.iter().find(|r| r.customer == "ACME").unwrap();
        assert_eq!(
            (acme.billable_minutes, acme.other_minutes, acme.included_minutes, acme.to_invoice_minutes, acme.tickets),
            (75, 15, 60, 15, 1)
        );
        assert_eq!(acme.level.as_deref(), Some("extended"));
        let on_request = report.iter().find(|r| r.customer == "OTHER").unwrap();
        assert_eq!((on_request.level.as_deref(), on_request.to_invoice_minutes), (None, 20));
        let csv = app::timesheet::time_report_csv(&report);
        assert!(csv.starts_with("customer,name,level,"), "{csv}");
        assert!(csv.contains("ACME,Customer ACME,extended,60,75,15,15,1\r\n"), "{csv}");
        assert!(a.time_report(&cast.admin, "2026-12", "Europe/Rome").await.unwrap().is_empty());
        assert!(a.time_report(&cast.admin, "2026-13", "Europe/Rome").await.unwrap_err().to_string().contains("month"));
        assert!(a.time_report(&cast.agent, "2026-11", "Europe/Rome").await.is_err());
    }
);
