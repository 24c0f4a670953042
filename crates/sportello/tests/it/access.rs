//! Who may do what: a matrix of role × action × owner of the data, run on both backends.

use app::tickets::{MessageInput, TicketPatch};
use app::{Actor, Error};
use domain::MessageKind;

use crate::harness::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    Forbidden,
    Hidden,
}
use Outcome::{Forbidden as F, Hidden as H, Ok as K};

fn outcome<T: std::fmt::Debug>(r: Result<T, Error>) -> Outcome {
    match r {
        Ok(_) => K,
        Err(Error::Forbidden(_)) => F,
        Err(Error::NotFound(_)) => H,
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

async fn try_all(t: &Ctx, actor: &Actor, email: &str, number: i64) -> [Outcome; 6] {
    let msg = |kind| MessageInput {
        kind,
        body: "x".into(),
        body_html: None,
        attachments: vec![],
        status: None,
        owner: None,
        time: None,
    };
    [
        outcome(t.app.ticket(actor, number).await),
        outcome(t.app.add_message(actor, number, msg(MessageKind::Reply)).await),
        outcome(t.app.add_message(actor, number, msg(MessageKind::Comment)).await),
        outcome(t.app.update_ticket(actor, number, TicketPatch { priority: Some(70), ..Default::default() }).await),
        outcome(
            t.app
                .update_ticket(actor, number, TicketPatch { owner: Some(Some(email.into())), ..Default::default() })
                .await,
        ),
        outcome(t.app.ticket_events(actor, number).await),
    ]
}

both!(
    async fn ticket_rights_matrix_by_role_action_and_owner(t: &Ctx) {
        let cast = t.seed().await;
        let acme_support = t.ticket(&cast, "support", "acme", "anna@acme.example", "x").await.number;
        let lake_support = t.ticket(&cast, "support", "lake", "carla@lake.example", "x").await.number;
        let acme_treasury = t.ticket(&cast, "treasury", "fattura", "anna@acme.example", "x").await.number;
        //                      see reply comment modify take history
        let rows: Vec<(&str, &Actor, &str, i64, [Outcome; 6])> = vec![
            ("admin", &cast.admin, "admin@op.example", acme_support, [K, K, K, K, K, K]),
            ("admin", &cast.admin, "admin@op.example", acme_treasury, [K, K, K, K, K, K]),
            ("agent", &cast.agent, "agent@op.example", acme_support, [K, K, K, K, K, K]),
            ("agent", &cast.agent, "agent@op.example", lake_support, [K, K, K, K, K, K]),
            ("agent", &cast.agent, "agent@op.example", acme_treasury, [F, F, F, F, F, F]),
            ("viewer", &cast.viewer, "viewer@op.example", acme_support, [K, F, K, F, F, K]),
            ("viewer", &cast.viewer, "viewer@op.example", acme_treasury, [F, F, F, F, F, F]),
            ("partner", &cast.partner, "noc@partner.example", lake_support, [K, K, F, F, F, F]),
            ("partner", &cast.partner, "noc@partner.example", acme_support, [H, H, H, H, H, H]),
            ("other partner", &cast.other_partner, "noc@other.example", lake_support, [H, H, H, H, H, H]),
            ("requestor", &cast.anna, "anna@acme.example", acme_support, [K, K, F, F, F, F]),
            ("requestor", &cast.anna, "anna@acme.example", acme_treasury, [K, K, F, F, F, F]),
            ("colleague", &cast.bruno, "bruno@acme.example", acme_support, [K, K, F, F, F, F]),
            ("requestor", &cast.anna, "anna@acme.example", lake_support, [H, H, H, H, H, H]),
            ("stranger", &cast.dario, "dario@other.example", acme_support, [H, H, H, H, H, H]),
        ];
        for (who, actor, email, number, expected) in rows {
            let got = try_all(t, actor, email, number).await;
            assert_eq!(got, expected, "{who} on ticket {number}");
        }
    }
);

both!(
    async fn customers_close_and_reopen_but_change_nothing_else(t: &Ctx) {
        let cast = t.seed().await;
        let n = t.ticket(&cast, "support", "x", "anna@acme.example", "x").await.number;
        let close = TicketPatch { status: Some(domain::Status::Resolved), ..Default::default() };
        assert_eq!(t.app.update_ticket(&cast.anna, n, close).await.unwrap().status, domain::Status::Resolved);
        let reopen = TicketPatch { status: Some(domain::Status::Open), ..Default::default() };
        assert_eq!(t.app.update_ticket(&cast.anna, n, reopen).await.unwrap().status, domain::Status::Open);
        let stall = TicketPatch { status: Some(domain::Status::Stalled), ..Default::default() };
        assert!(matches!(t.app.update_ticket(&cast.anna, n, stall).await, Err(Error::Forbidden(_))));
        let delete = TicketPatch { status: Some(domain::Status::Deleted), ..Default::default() };
        t.app.update_ticket(&cast.agent, n, delete).await.unwrap();
        assert!(
            matches!(t.app.ticket(&cast.anna, n).await, Err(Error::NotFound(_))),
            "deleted tickets vanish for customers"
        );
        assert!(t.app.ticket(&cast.agent, n).await.is_ok(), "and stay for staff");
    }
);

both!(
    async fn lists_show_each_role_only_its_own_tickets(t: &Ctx) {
        let cast = t.seed().await;
        let a = t.ticket(&cast, "support", "acme", "anna@acme.example", "x").await.number;
        let l = t.ticket(&cast, "support", "lake", "carla@lake.example", "x").await.number;
        let tr = t.ticket(&cast, "treasury", "fattura", "bruno@acme.example", "x").await.number;
        let o = t.ticket(&cast, "support", "other", "dario@other.example", "x").await.number;
        let list = |actor: Actor| {
            let app = t.app.clone();
            async move {
                let p = app.list_tickets(&actor, Default::default()).await.unwrap();
                let mut v: Vec<i64> = p.tickets.iter().map(|x| x.number).collect();
                v.sort();
                v
            }
        };
        assert_eq!(list(cast.admin.clone()).await, vec![a, l, tr, o]);
        assert_eq!(list(cast.agent.clone()).await, vec![a, l, o]);
        assert_eq!(list(cast.partner.clone()).await, vec![l]);
        assert_eq!(list(cast.other_partner.clone()).await, Vec::<i64>::new());
        assert_eq!(list(cast.anna.clone()).await, vec![a, tr]);
        assert_eq!(list(cast.dario.clone()).await, vec![o]);
        // Filters cannot widen what a role sees.
        let p = t
            .app
            .list_tickets(
                &cast.partner,
                app::tickets::ListInput { customer: Some("ACME".into()), ..Default::default() },
            )
            .await
            .unwrap();
        assert!(p.tickets.is_empty());
        let p = t
            .app
            .list_tickets(&cast.agent, app::tickets::ListInput { queue: Some("treasury".into()), ..Default::default() })
            .await
            .unwrap();
        assert!(p.tickets.is_empty());
    }
);

both!(
    async fn people_are_visible_by_role_and_managed_by_admins_only(t: &Ctx) {
        let cast = t.seed().await;
        let codes = |v: Vec<app::views::CustomerView>| v.into_iter().map(|c| c.code).collect::<Vec<_>>();
        assert_eq!(codes(t.app.customers(&cast.agent).await.unwrap()), ["ACME", "LAKE", "OTHER"]);
        assert_eq!(codes(t.app.customers(&cast.partner).await.unwrap()), ["LAKE"]);
        assert_eq!(codes(t.app.customers(&cast.anna).await.unwrap()), ["ACME"]);
        assert!(matches!(t.app.customer(&cast.partner, "ACME").await, Err(Error::NotFound(_))));
        assert!(matches!(t.app.customer(&cast.anna, "LAKE").await, Err(Error::NotFound(_))));
        let emails = |v: Vec<app::views::ContactView>| v.into_iter().map(|c| c.email).collect::<Vec<_>>();
        assert_eq!(emails(t.app.contacts(&cast.partner, None).await.unwrap()), ["carla@lake.example"]);
        assert_eq!(
            emails(t.app.contacts(&cast.anna, None).await.unwrap()),
            ["anna@acme.example", "bruno@acme.example"]
        );
        assert!(matches!(t.app.contacts(&cast.partner, Some("ACME")).await, Err(Error::NotFound(_))));
        let q = app::admin::QueueInput {
            slug: "noc".into(),
            name: "NOC".into(),
            description: String::new(),
            reference_prefix: None,
            active: None,
        };
        for actor in [&cast.agent, &cast.partner, &cast.anna] {
            assert!(matches!(t.app.create_queue(actor, q.clone()).await, Err(Error::Forbidden(_))));
            assert!(matches!(t.app.users(actor).await, Err(Error::Forbidden(_))));
            assert!(matches!(t.app.tokens(actor).await, Err(Error::Forbidden(_))));
            assert!(matches!(t.app.jobs(actor, None, 10).await, Err(Error::Forbidden(_))));
        }
        assert!(t.app.create_queue(&cast.admin, q).await.is_ok());
    }
);
