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
