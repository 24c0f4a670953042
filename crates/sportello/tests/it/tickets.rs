//! The ticket core: creation, lifecycle, messages, attachments, links, merges, search, fields.

use std::collections::BTreeMap;

use app::Error;
use app::tickets::{AttachmentInput, ListInput, MessageInput, NewTicketInput, TicketPatch};
use domain::{Category, LinkKind, MessageKind, Status};

use crate::harness::*;

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

fn comment(body: &str) -> MessageInput {
    MessageInput { kind: MessageKind::Comment, ..reply(body) }
}

async fn count(t: &Ctx, table: &str) -> i64 {
    let mut tx = t.app.db.read().await.unwrap();
    let sql = format!("SELECT COUNT(*) FROM {table}");
    store::with_conn!(&mut tx, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *c).await)
        .unwrap()
}

both!(
    async fn created_ticket_has_reference_requestor_customer_and_creation_events(t: &Ctx) {
        let cast = t.seed().await;
        let v = t.ticket(&cast, "support", "Linea FTTH giù", "anna@acme.example", "Il led PON è rosso").await;
        assert_eq!(v.reference, format!("support#{}", v.number));
        assert_eq!(v.status, Status::New);
        assert_eq!(v.requestors[0].email, "anna@acme.example");
        assert_eq!(v.customer.as_ref().map(|c| c.code.as_str()), Some("ACME"));
        assert!(v.customer.as_ref().unwrap().vip);
        let second = t.ticket(&cast, "treasury", "Fattura doppia", "newcomer@example.net", "Due fatture").await;
        assert_eq!(second.number, v.number + 1, "numbers are global and sequential");
        assert_eq!(second.reference, format!("treasury#{}", second.number));
        assert!(second.customer.is_none(), "an unknown sender becomes a contact without customer");
        let events = t.app.ticket_events(&cast.agent, v.number).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["created", "reply"]);
        assert_eq!(events[0].new_value.as_deref(), Some(v.reference.as_str()));
        assert!(events[0].actor.contains("admin@op.example"));
        assert_eq!(events[0].channel, domain::Channel::Api);
    }
);

both!(
    async fn agent_first_public_reply_opens_a_new_ticket_but_a_comment_does_not(t: &Ctx) {
        let cast = t.seed().await;
        let v = t.ticket(&cast, "support", "Lenta la sera", "anna@acme.example", "5 Mbit/s").await;
        t.app.add_message(&cast.agent, v.number, comment("checking RADIUS")).await.unwrap();
        assert_eq!(t.app.ticket(&cast.agent, v.number).await.unwrap().status, Status::New);
        t.app.add_message(&cast.agent, v.number, reply("Stiamo verificando")).await.unwrap();
        assert_eq!(t.app.ticket(&cast.agent, v.number).await.unwrap().status, Status::Open);
        let events = t.app.ticket_events(&cast.agent, v.number).await.unwrap();
        let status = events.iter().find(|e| e.field.as_deref() == Some("status")).unwrap();
        assert_eq!((status.old_value.as_deref(), status.new_value.as_deref()), (Some("new"), Some("open")));
    }
);

both!(
    async fn requestor_reply_reopens_resolved_and_stalled_tickets(t: &Ctx) {
        let cast = t.seed().await;
        let v = t.ticket(&cast, "support", "No sync", "anna@acme.example", "x").await;
        let resolve = MessageInput { status: Some(Status::Resolved), ..reply("Risolto, era la borchia") };
        t.app.add_message(&cast.agent, v.number, resolve).await.unwrap();
        let after = t.app.ticket(&cast.agent, v.number).await.unwrap();
        assert_eq!(after.status, Status::Resolved);
        assert!(after.resolved_at.is_some());
        t.app.add_message(&cast.anna, v.number, reply("Di nuovo giù")).await.unwrap();
        let reopened = t.app.ticket(&cast.agent, v.number).await.unwrap();
        assert_eq!(reopened.status, Status::Open);
        assert!(reopened.resolved_at.is_none());
        t.app
            .update_ticket(&cast.agent, v.number, TicketPatch { status: Some(Status::Stalled), ..Default::default() })
            .await
            .unwrap();
        t.app.add_message(&cast.bruno, v.number, reply("Novità?")).await.unwrap();
        assert_eq!(
            t.app.ticket(&cast.agent, v.number).await.unwrap().status,
            Status::Open,
            "a colleague of the same customer reopens too"
        );
    }
);

both!(
    async fn invalid_transition_is_refused_with_the_allowed_ones_and_changes_nothing(t: &Ctx) {
        let cast = t.seed().await;
        let v = t.ticket(&cast, "support", "x", "anna@acme.example", "x").await;
        t.app
            .update_ticket(&cast.agent, v.number, TicketPatch { status: Some(Status::Resolved), ..Default::default() })
            .await
            .unwrap();
        let events_before = count(t, "events").await;
        let err = t
            .app
            .update_ticket(
                &cast.agent,
                v.number,
                TicketPatch { status: Some(Status::Stalled), title: Some("new title".into()), ..Default::default() },
            )
            .await
            .unwrap_err();
        match err {
            Error::Transition { allowed, .. } => assert_eq!(allowed, vec![Status::Open, Status::Deleted]),
            e => panic!("unexpected {e:?}"),
        }
        let after = t.app.ticket(&cast.agent, v.number).await.unwrap();
        assert_eq!(after.title, "x");
        assert_eq!(count(t, "events").await, events_before);
    }
);

both!(
    async fn bad_input_is_refused_field_by_field_and_writes_nothing(t: &Ctx) {
        let cast = t.seed().await;
        let before = (
            count(t, "tickets").await,
            count(t, "contacts").await,
            count(t, "events").await,
            count(t, "messages").await,
        );
        let input = NewTicketInput {
            queue: "support".into(),
            title: "é".repeat(201),
            requestors: vec!["not-an-email".into(), "ok@example.net".into()],
            body: String::new(),
            priority: Some(101),
            fields: BTreeMap::from([("nope".into(), "x".into())]),
            ..Default::default()
        };
        let Error::Invalid(problems) = t.app.create_ticket(&cast.admin, input).await.unwrap_err() else {
            panic!("expected invalid")
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for f in ["title", "requestors[0]", "body", "priority", "fields.nope"] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        let unknown = NewTicketInput {
            queue: "nosuch".into(),
            title: "t".into(),
            requestors: vec!["a@b.it".into()],
            body: "b".into(),
            ..Default::default()
        };
        assert!(matches!(t.app.create_ticket(&cast.admin, unknown).await, Err(Error::NotFound(_))));
        let after = (
            count(t, "tickets").await,
            count(t, "contacts").await,
            count(t, "events").await,
            count(t, "messages").await,
        );
        assert_eq!(before, after);
    }
);

both!(
    async fn attachments_are_stored_once_by_content_and_limited_in_size(t: &Ctx) {
        let cast = t.seed().await;
        let v = t.ticket(&cast, "support", "speedtest", "anna@acme.example", "see attached").await;
        let file = AttachmentInput {
            filename: "speedtest.png".into(),
            content_type: "image/png".into(),
            data: vec![7u8; 5000],
        };
        let m = MessageInput {
            attachments: vec![file.clone(), AttachmentInput { filename: "copy.png".into(), ..file.clone() }],
            ..reply("two copies")
        };
        let msg = t.app.add_message(&cast.anna, v.number, m).await.unwrap();
        assert_eq!(msg.attachments.len(), 2);
        assert_eq!(msg.attachments[0].sha256, msg.attachments[1].sha256);
        assert_eq!(count(t, "blobs WHERE sha256 IN (SELECT sha256 FROM attachments)").await, 1);
        let (meta, data) = t.app.attachment(&cast.anna, v.number, msg.attachments[0].id).await.unwrap();
        assert_eq!((meta.size, data.len()), (5000, 5000));
        let big = AttachmentInput { data: vec![0u8; t.app.config.max_attachment_bytes + 1], ..file };
        let err = t
            .app
            .add_message(&cast.anna, v.number, MessageInput { attachments: vec![big], ..reply("too big") })
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Invalid(p) if p[0].field == "attachments[0].content"), "{err:?}");
        assert_eq!(count(t, "blobs WHERE sha256 IN (SELECT sha256 FROM attachments)").await, 1);
    }
);

both!(
    async fn internal_comments_and_their_attachments_never_reach_the_customer(t: &Ctx) {
        let cast = t.seed().await;
        let v = t.ticket(&cast, "support", "x", "anna@acme.example", "help").await;
        let secret = AttachmentInput {
            filename: "radius.log".into(),
            content_type: "text/plain".into(),
            data: b"secret".to_vec(),
        };
        let c = t
            .app
            .add_message(
                &cast.agent,
                v.number,
                MessageInput { attachments: vec![secret], ..comment("cliente moroso, attenzione") },
            )
            .await
            .unwrap();
        let public = t.app.messages(&cast.anna, v.number).await.unwrap();
        assert_eq!(public.len(), 1);
        assert!(public.iter().all(|m| m.kind == MessageKind::Reply));
        let staff = t.app.messages(&cast.agent, v.number).await.unwrap();
        assert_eq!(staff.len(), 2);
        assert!(matches!(t.app.attachment(&cast.anna, v.number, c.attachments[0].id).await, Err(Error::NotFound(_))));
        assert!(matches!(t.app.ticket_events(&cast.anna, v.number).await, Err(Error::Forbidden(_))));
        let search =
            t.app.list_tickets(&cast.anna, ListInput { q: Some("moroso".into()), ..Default::default() }).await.unwrap();
        assert!(search.tickets.is_empty(), "customers cannot find tickets by words of internal comments");
        let staff_search = t
            .app
            .list_tickets(&cast.agent, ListInput { q: Some("moroso".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(staff_search.tickets.len(), 1);
    }
);

both!(
    async fn html_bodies_are_sanitised_and_get_a_text_form(t: &Ctx) {
        let cast = t.seed().await;
        let input = NewTicketInput {
            queue: "support".into(),
            title: "html".into(),
            requestors: vec!["anna@acme.example".into()],
            body_html: Some(r#"<p onclick="x()">Ciao <b>team</b></p><script>alert(1)</script><a href="javascript:alert(2)">link</a><img src=x onerror=alert(3)>"#.into()),
            ..Default::default()
        };
        let v = t.app.create_ticket(&cast.admin, input).await.unwrap();
        let m = &t.app.messages(&cast.agent, v.number).await.unwrap()[0];
        let html = m.body_html.as_deref().unwrap();
        for bad in ["script", "onclick", "javascript:", "onerror"] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
        assert!(html.contains("<b>team</b>"));
        assert!(m.body_text.contains("Ciao team"), "{}", m.body_text);
        assert!(!m.body_text.contains("alert(1)"));
    }
);

both!(
    async fn merge_moves_messages_and_the_old_number_resolves_to_the_survivor(t: &Ctx) {
        let cast = t.seed().await;
        let a = t.ticket(&cast, "support", "Guasto Valbrona", "anna@acme.example", "primo").await;
        let b = t.ticket(&cast, "support", "Ancora giù", "bruno@acme.example", "secondo zanzibar").await;
        let c = t.ticket(&cast, "support", "Terzo", "bruno@acme.example", "terzo").await;
        t.app.add_link(&cast.agent, c.number, LinkKind::RefersTo, b.number).await.unwrap();
        let survivor = t.app.merge_ticket(&cast.agent, b.number, a.number).await.unwrap();
        assert_eq!(survivor.number, a.number);
        assert_eq!(survivor.merged_from, vec![b.number]);
        let emails: Vec<&str> = survivor.requestors.iter().map(|p| p.email.as_str()).collect();
        assert_eq!(emails, ["anna@acme.example", "bruno@acme.example"]);
        assert_eq!(t.app.ticket(&cast.agent, b.number).await.unwrap().number, a.number);
        assert_eq!(t.app.ticket_by_reference(&cast.agent, &b.reference).await.unwrap().number, a.number);
        let msgs = t.app.messages(&cast.agent, a.number).await.unwrap();
        assert_eq!(msgs.len(), 2);
        let links = t.app.links(&cast.agent, a.number).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!((links[0].from, links[0].to), (c.number, a.number));
        // A reply to the merged number lands on the survivor.
        t.app.add_message(&cast.bruno, b.number, reply("risposta al vecchio")).await.unwrap();
        assert_eq!(t.app.messages(&cast.agent, a.number).await.unwrap().len(), 3);
        // Search finds the moved message under the survivor at once, and still after the
        // re-index job ran.
        for drained in [false, true] {
            if drained {
                t.drain_jobs().await;
            }
            let found = t
                .app
                .list_tickets(&cast.agent, ListInput { q: Some("zanzibar".into()), ..Default::default() })
                .await
                .unwrap();
            assert_eq!(found.tickets.iter().map(|x| x.number).collect::<Vec<_>>(), vec![a.number], "{drained}");
        }
        let events = t.app.ticket_events(&cast.agent, a.number).await.unwrap();
        assert!(events.iter().any(|e| e.kind == "merged_from"));
        assert!(
            events.iter().any(|e| e.kind == "merged" && e.ticket == Some(b.number)),
            "the history keeps the merged ticket's events"
        );
        assert!(
            matches!(t.app.merge_ticket(&cast.agent, a.number, b.number).await, Err(Error::Invalid(_))),
            "merging into itself"
        );
    }
);

both!(
    async fn links_are_recorded_on_both_sides_and_cycles_are_refused(t: &Ctx) {
        let cast = t.seed().await;
        let a = t.ticket(&cast, "support", "a", "anna@acme.example", "a").await;
        let b = t.ticket(&cast, "support", "b", "anna@acme.example", "b").await;
        let c = t.ticket(&cast, "support", "c", "anna@acme.example", "c").await;
        t.app.add_link(&cast.agent, a.number, LinkKind::DependsOn, b.number).await.unwrap();
        t.app.add_link(&cast.agent, b.number, LinkKind::DependsOn, c.number).await.unwrap();
        let err = t.app.add_link(&cast.agent, c.number, LinkKind::DependsOn, a.number).await.unwrap_err();
        assert!(matches!(&err, Error::Invalid(p) if p[0].message.contains("cycle")), "{err:?}");
        t.app.add_link(&cast.agent, c.number, LinkKind::RefersTo, a.number).await.unwrap();
        t.app.add_link(&cast.agent, a.number, LinkKind::ChildOf, c.number).await.unwrap();
        assert_eq!(t.app.links(&cast.agent, a.number).await.unwrap().len(), 3);
        assert!(t.app.ticket_events(&cast.agent, b.number).await.unwrap().iter().any(|e| e.kind == "link"));
        t.app.remove_link(&cast.agent, a.number, LinkKind::DependsOn, b.number).await.unwrap();
        assert!(matches!(
            t.app.remove_link(&cast.agent, a.number, LinkKind::DependsOn, b.number).await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            t.app.add_link(&cast.agent, a.number, LinkKind::RefersTo, 99999).await,
            Err(Error::Invalid(_))
        ));
    }
);

both!(
    async fn search_finds_words_and_phrases_with_filters(t: &Ctx) {
        let cast = t.seed().await;
        let a = t
            .ticket(
                &cast,
                "support",
                "Fibra giù a Valbrona",
                "anna@acme.example",
                "Il led PON lampeggia rosso da stamattina",
            )
            .await;
        let b = t
            .ticket(&cast, "support", "Lentezza serale", "carla@lake.example", "La fibra è lenta, il led è verde")
            .await;
        let c =
            t.ticket(&cast, "treasury", "Fattura doppia", "anna@acme.example", "Due fatture uguali per la fibra").await;
        let find = |q: &str| {
            let q = q.to_string();
            let app = t.app.clone();
            let agent = cast.admin.clone();
            async move {
                let page = app.list_tickets(&agent, ListInput { q: Some(q), ..Default::default() }).await.unwrap();
                page.tickets.iter().map(|x| x.number).collect::<Vec<_>>()
            }
        };
        assert_eq!(find("fibra").await, vec![c.number, b.number, a.number]);
        assert_eq!(find("fibra led").await, vec![b.number, a.number], "title and body words match together");
        assert_eq!(find("\"led pon\"").await, vec![a.number]);
        assert_eq!(find("\"pon led\"").await, Vec::<i64>::new());
        assert_eq!(find("FIBRA queue:support").await, vec![b.number, a.number]);
        assert_eq!(find("fibra customer:LAKE").await, vec![b.number]);
        assert_eq!(find("requestor:anna@acme.example").await, vec![c.number, a.number]);
        assert_eq!(find("gù").await, Vec::<i64>::new());
        assert_eq!(find("giu").await, vec![a.number], "accents are folded");
        t.app
            .update_ticket(
                &cast.agent,
                a.number,
                TicketPatch { owner: Some(Some("agent@op.example".into())), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(find("owner:agent@op.example").await, vec![a.number]);
        assert_eq!(find("owner:nobody status:new").await, vec![c.number, b.number]);
        let mine = t
            .app
            .list_tickets(&cast.agent, ListInput { q: Some("owner:me".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(mine.tickets.len(), 1);
        // Title changes reach the index through the re-index job.
        t.app
            .update_ticket(
                &cast.agent,
                b.number,
                TicketPatch { title: Some("Degrado notturno Dervio".into()), ..Default::default() },
            )
            .await
            .unwrap();
        t.drain_jobs().await;
        assert_eq!(find("dervio").await, vec![b.number]);
        assert!(matches!(
            t.app.list_tickets(&cast.admin, ListInput { q: Some("status:closed".into()), ..Default::default() }).await,
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            t.app.list_tickets(&cast.admin, ListInput { q: Some("\"open".into()), ..Default::default() }).await,
            Err(Error::Invalid(_))
        ));
    }
);

both!(
    async fn cursor_pagination_walks_every_ticket_once_in_each_order(t: &Ctx) {
        let cast = t.seed().await;
        let mut numbers = Vec::new();
        for i in 0..23 {
            let v = t.ticket(&cast, "support", &format!("t{i}"), "anna@acme.example", "x").await;
            t.app
                .update_ticket(&cast.agent, v.number, TicketPatch { priority: Some(i % 4 * 10), ..Default::default() })
                .await
                .unwrap();
            numbers.push(v.number);
        }
        for order in ["newest", "updated", "priority"] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = t
                    .app
                    .list_tickets(
                        &cast.agent,
                        ListInput {
                            order: Some(order.into()),
                            cursor: cursor.clone(),
                            limit: Some(5),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                seen.extend(page.tickets.iter().map(|x| x.number));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(sorted, numbers, "order {order}");
        }
        assert!(matches!(
            t.app.list_tickets(&cast.agent, ListInput { cursor: Some("garbage!".into()), ..Default::default() }).await,
            Err(Error::Invalid(_))
        ));
    }
);

both!(
    async fn custom_fields_are_checked_per_queue_and_changes_are_events(t: &Ctx) {
        let cast = t.seed().await;
        let field = |name: &str, kind, choices: &[&str], required| app::admin::FieldInput {
            name: name.into(),
            label: name.into(),
            kind,
            choices: choices.iter().map(|s| s.to_string()).collect(),
            required,
            position: 0,
        };
        t.app
            .set_field(
                &cast.admin,
                "support",
                field("service", domain::CustomFieldKind::Choice, &["FTTH", "FWA"], true),
            )
            .await
            .unwrap();
        t.app
            .set_field(&cast.admin, "support", field("lines", domain::CustomFieldKind::Number, &[], false))
            .await
            .unwrap();
        t.app
            .set_field(&cast.admin, "support", field("since", domain::CustomFieldKind::Date, &[], false))
            .await
            .unwrap();
        let mut input = NewTicketInput {
            queue: "support".into(),
            title: "t".into(),
            requestors: vec!["anna@acme.example".into()],
            body: "b".into(),
            ..Default::default()
        };
        let err = t.app.create_ticket(&cast.admin, input.clone()).await.unwrap_err();
        assert!(matches!(&err, Error::Invalid(p) if p[0].field == "fields.service"), "{err:?}");
        input.fields = BTreeMap::from([
            ("service".into(), "ADSL".into()),
            ("lines".into(), "tre".into()),
            ("since".into(), "2026-02-30".into()),
        ]);
        let Error::Invalid(p) = t.app.create_ticket(&cast.admin, input.clone()).await.unwrap_err() else { panic!() };
        assert_eq!(p.len(), 3);
        input.fields = BTreeMap::from([("service".into(), "FWA".into()), ("lines".into(), " 12 ".into())]);
        let v = t.app.create_ticket(&cast.admin, input).await.unwrap();
        assert_eq!(v.fields.get("lines").map(String::as_str), Some("12"));
        let patch = TicketPatch {
            fields: BTreeMap::from([("since".into(), Some("2026-11-02".into())), ("lines".into(), None)]),
            ..Default::default()
        };
        let v = t.app.update_ticket(&cast.agent, v.number, patch).await.unwrap();
        assert_eq!(v.fields.get("since").map(String::as_str), Some("2026-11-02"));
        assert!(!v.fields.contains_key("lines"));
        let events = t.app.ticket_events(&cast.agent, v.number).await.unwrap();
        assert!(events.iter().any(|e| e.field.as_deref() == Some("fields.lines")
            && e.old_value.as_deref() == Some("12")
            && e.new_value.is_none()));
    }
);

both!(
    async fn every_field_change_is_an_event_with_old_and_new_values(t: &Ctx) {
        let cast = t.seed().await;
        let v = t.ticket(&cast, "support", "prima", "anna@acme.example", "x").await;
        let patch = TicketPatch {
            title: Some("dopo".into()),
            priority: Some(90),
            category: Some(Category::BlockingFault),
            queue: Some("treasury".into()),
            customer: Some(Some("OTHER".into())),
            cc: Some(vec!["boss@acme.example".into()]),
            ..Default::default()
        };
        let after = t.app.update_ticket(&cast.admin, v.number, patch).await.unwrap();
        assert_eq!(after.reference, format!("treasury#{}", v.number));
        let events = t.app.ticket_events(&cast.admin, v.number).await.unwrap();
        let set: Vec<(String, Option<String>, Option<String>)> = events
            .iter()
            .filter(|e| e.kind == "set")
            .map(|e| (e.field.clone().unwrap(), e.old_value.clone(), e.new_value.clone()))
            .collect();
        for expected in [
            ("title", Some("prima"), Some("dopo")),
            // Computed for a VIP's information request: 20 + 15; set by hand, an override.
            ("priority", Some("35"), Some("90")),
            ("priority_override", Some("computed"), Some("manual")),
            ("category", Some("information_request"), Some("blocking_fault")),
            ("queue", Some("support"), Some("treasury")),
            ("customer", Some("ACME"), Some("OTHER")),
            ("cc", None, Some("boss@acme.example")),
        ] {
            let e = (expected.0.to_string(), expected.1.map(String::from), expected.2.map(String::from));
            assert!(set.contains(&e), "{e:?} missing in {set:?}");
        }
        assert!(after.updated_at > v.updated_at);
    }
);

both!(
    async fn search_walks_windows_of_tickets_newest_first_and_pages_across_them(t: &Ctx) {
        let cast = t.seed().await;
        let sys = t.system();
        let queue = t.app.queues(&sys).await.unwrap();
        assert_eq!(queue[0].slug, "support");
        let anna = t.app.contacts(&sys, Some("ACME")).await.unwrap()[0].id;
        let (first_ticket, mut next_message) = t.app.bulk_next_ids(&sys).await.unwrap();
        // 10,000 tickets: more than two search windows. The rare word sits in five of them.
        let rare =
            [first_ticket + 2, first_ticket + 4_100, first_ticket + 4_101, first_ticket + 9_000, first_ticket + 9_999];
        let mut batch = Vec::new();
        for k in 0..10_000 {
            let id = first_ticket + k;
            let body = if rare.contains(&id) {
                format!("the ont shows zebrafish {id}")
            } else {
                format!("ordinary words {id}")
            };
            let message = store::bulk::BulkMessage {
                id: next_message,
                kind: domain::MessageKind::Reply,
                author_user_id: None,
                author_contact_id: Some(anna),
                author_label: "anna".into(),
                channel: domain::Channel::Email,
                body,
                at: 1_700_000_000_000_000 + k,
            };
            next_message += 1;
            batch.push(store::bulk::BulkTicket {
                id,
                queue_id: 1,
                reference: format!("support#{id}"),
                title: "bulk".into(),
                status: Status::Open,
                owner_id: None,
                customer_id: None,
                category: Category::InformationRequest,
                severity: domain::Severity::NonBlocking,
                priority: 50,
                created_at: 1_700_000_000_000_000 + k,
                updated_at: 1_700_000_000_000_000 + k,
                resolved_at: None,
                requestor_id: anna,
                messages: vec![message],
            });
        }
        t.app.bulk_load(&sys, &batch).await.unwrap();
        t.app.bulk_finish(&sys).await.unwrap();
        // A later reply on an old ticket still finds that old ticket, in its place.
        t.app.add_message(&cast.agent, first_ticket + 10, reply("zebrafish again")).await.unwrap();
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = t
                .app
                .list_tickets(
                    &cast.admin,
                    ListInput {
                        q: Some("zebrafish".into()),
                        limit: Some(2),
                        cursor: cursor.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            pages.push(page.tickets.iter().map(|x| x.number).collect::<Vec<_>>());
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let o = first_ticket;
        assert_eq!(pages, vec![vec![o + 9_999, o + 9_000], vec![o + 4_101, o + 4_100], vec![o + 10, o + 2]]);
        let both = t
            .app
            .list_tickets(&cast.admin, ListInput { q: Some("ont zebrafish".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(both.tickets.len(), 5, "both words in one document");
        // After the new tickets, numbering goes on where the bulk load stopped.
        let next = t.ticket(&cast, "support", "after", "anna@acme.example", "x").await.number;
        assert_eq!(next, o + 10_000);
    }
);

both!(
    async fn stale_order_lists_the_longest_waiting_first_across_pages(t: &Ctx) {
        let cast = t.seed().await;
        let mut numbers = Vec::new();
        for title in ["primo", "secondo", "terzo"] {
            numbers.push(t.ticket(&cast, "support", title, "anna@acme.example", "testo").await.number);
        }
        // Touch them in the order 2, 0, 1: that is their order by last change.
        for i in [2, 0, 1] {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            t.app
                .update_ticket(&cast.agent, numbers[i], TicketPatch { priority: Some(60), ..Default::default() })
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = t
                .app
                .list_tickets(
                    &cast.agent,
                    ListInput {
                        order: Some("stale".into()),
                        limit: Some(1),
                        cursor: cursor.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            seen.extend(page.tickets.iter().map(|x| x.number));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, vec![numbers[2], numbers[0], numbers[1]]);
    }
);
