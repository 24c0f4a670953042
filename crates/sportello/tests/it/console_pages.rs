//! The agent console: the queue view (filters, search, order, pages, bulk actions) and the
//! ticket page (thread, reply and comment with status and owner, take, properties, links,
//! attachments, history).

use axum::http::StatusCode;

use crate::client::*;
use crate::harness::*;

/// The ticket numbers listed on a queue page, in order.
fn listed(body: &str) -> Vec<i64> {
    body.split("<tr data-number=\"").skip(1).map(|p| p.split('"').next().unwrap().parse().unwrap()).collect()
}

both!(
    async fn queue_view_filters_searches_orders_and_pages(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let fibre = t.ticket(&cast, "support", "Fibra giù a Lecco", "anna@acme.example", "nessuna sincronia").await;
        let treasury = t.ticket(&cast, "treasury", "Fattura doppia", "anna@acme.example", "pagato due volte").await;
        let mut many = Vec::new();
        for i in 0..55 {
            many.push(t.ticket(&cast, "support", &format!("Richiesta {i}"), "bruno@acme.example", "info").await.number);
        }
        t.app
            .update_ticket(
                &cast.admin,
                fibre.number,
                app::tickets::TicketPatch {
                    category: Some(domain::Category::BlockingFault),
                    priority: Some(90),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;

        // Default order is priority: the blocking fault first. The agent has no rights on treasury.
        let page = b.get("/tickets").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let first = listed(&page.body);
        assert_eq!(first.len(), 50);
        assert_eq!(first[0], fibre.number);
        assert!(!first.contains(&treasury.number));
        // The next page continues without repeating, and ends.
        let next = page
            .body
            .split("rel=\"next\"")
            .next()
            .unwrap()
            .rsplit("href=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let next = next.replace("&amp;", "&").replace("&#38;", "&");
        assert!(next.contains("cursor="), "{next}");
        let second = b.get(&next).await;
        let rest = listed(&second.body);
        assert_eq!(rest.len(), 6, "{}", second.body);
        assert!(rest.iter().all(|n| !first.contains(n)));
        assert!(!second.body.contains("rel=\"next\""));

        // The search box takes the API's syntax; filters combine.
        let found = b.get("/tickets?q=sincronia+customer%3AACME").await;
        assert_eq!(listed(&found.body), vec![fibre.number]);
        let cat = b.get("/tickets?category=blocking_fault&order=created").await;
        assert_eq!(listed(&cat.body), vec![fibre.number]);
        let newest = b.get("/tickets?order=created").await;
        assert_eq!(listed(&newest.body)[0], *many.last().unwrap());
        let nobody = b.get("/tickets?owner=me").await;
        assert!(listed(&nobody.body).is_empty());
        // A bad query is explained on the page, not an error page.
        let bad = b.get("/tickets?q=status%3Anonsense").await;
        assert_eq!(bad.status, StatusCode::OK);
        assert!(bad.body.contains("class=\"alert\""), "{}", bad.body);
        // Portal users have no queue view.
        let mut anna = Browser::new(t);
        anna.login_ok("anna@acme.example").await;
        let r = anna.get("/tickets").await;
        assert_eq!(r.location(), "/portal");
    }
);

both!(
    async fn bulk_actions_change_the_selected_tickets_and_need_the_csrf_token(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let a = t.ticket(&cast, "support", "Uno", "anna@acme.example", "x").await;
        let c = t.ticket(&cast, "support", "Due", "anna@acme.example", "x").await;
        let other = t.ticket(&cast, "treasury", "Tre", "anna@acme.example", "x").await;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        let page = b.get("/tickets").await;
        let csrf = page.hidden("csrf");
        let (na, nc, no) = (a.number.to_string(), c.number.to_string(), other.number.to_string());

        let forged = b.post("/tickets/bulk", &[("csrf", "forged"), ("action", "take"), ("ticket", &na)]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(t.app.ticket(&cast.admin, a.number).await.unwrap().owner.is_none());

        let took = b
            .post(
                "/tickets/bulk",
                &[
                    ("csrf", &csrf),
                    ("action", "take"),
                    ("ticket", &na),
                    ("ticket", &nc),
                    ("ticket", &no),
                    ("back", "/tickets?order=updated"),
                ],
            )
            .await;
        assert_eq!(took.status, StatusCode::SEE_OTHER);
        assert_eq!(took.location(), "/tickets?order=updated&done=2&failed=1");
        for n in [a.number, c.number] {
            assert_eq!(t.app.ticket(&cast.admin, n).await.unwrap().owner.unwrap().email, "agent@op.example");
        }
        assert!(t.app.ticket(&cast.admin, other.number).await.unwrap().owner.is_none());
        let shown = b.get(took.location()).await;
        assert!(shown.body.contains("2 tickets changed."), "{}", shown.body);

        b.post("/tickets/bulk", &[("csrf", &csrf), ("action", "status"), ("status", "stalled"), ("ticket", &na)]).await;
        assert_eq!(t.app.ticket(&cast.admin, a.number).await.unwrap().status, domain::Status::Stalled);
        b.post("/tickets/bulk", &[("csrf", &csrf), ("action", "assign"), ("owner", "nobody"), ("ticket", &nc)]).await;
        assert!(t.app.ticket(&cast.admin, c.number).await.unwrap().owner.is_none());
        // First line hands a ticket over to the back office: it leaves the agent's view.
        let moved = b
            .post("/tickets/bulk", &[("csrf", &csrf), ("action", "move"), ("queue", "treasury"), ("ticket", &nc)])
            .await;
        assert!(moved.location().ends_with("done=1&failed=0"), "{}", moved.location());
        assert_eq!(t.app.ticket(&cast.admin, c.number).await.unwrap().queue, "treasury");
        assert!(!listed(&b.get("/tickets").await.body).contains(&c.number));
        // Tickets the agent cannot see stay as they are, and are counted.
        let refused = b
            .post("/tickets/bulk", &[("csrf", &csrf), ("action", "status"), ("status", "open"), ("ticket", &nc)])
            .await;
        assert!(refused.location().ends_with("done=0&failed=1"), "{}", refused.location());
        let bad = b.post("/tickets/bulk", &[("csrf", &csrf), ("action", "explode"), ("ticket", &nc)]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
);

both!(
    async fn ticket_page_replies_and_comments_with_status_and_owner_and_shows_the_history(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let tk = t
            .app
            .create_ticket(
                &cast.admin,
                app::tickets::NewTicketInput {
                    queue: "support".into(),
                    title: "<script>alert('t')</script> fibra".into(),
                    requestors: vec!["anna@acme.example".into()],
                    body_html: Some(
                        "<p onclick=\"x()\">ciao <img src=x onerror=alert(1)><script>bad()</script></p>".into(),
                    ),
                    attachments: vec![app::tickets::AttachmentInput {
                        filename: "page.html".into(),
                        content_type: "text/html".into(),
                        data: b"<script>alert(1)</script>".to_vec(),
                    }],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let n = tk.number;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        let page = b.get(&format!("/tickets/{n}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("&#60;script&#62;alert("), "the title is escaped");
        assert!(!page.body.contains("<script>"), "no script survives: {}", page.body);
        assert!(!page.body.contains("onerror") && !page.body.contains("onclick"));
        assert!(page.body.contains("badge vip"), "ACME is VIP");
        let csrf = page.hidden("csrf");

        // An attachment that a browser would render comes down as bytes to save.
        let att = t.app.messages(&cast.admin, n).await.unwrap()[0].attachments[0].id;
        let file = b.get(&format!("/tickets/{n}/attachments/{att}")).await;
        assert_eq!(file.status, StatusCode::OK);
        assert_eq!(file.headers["content-type"], "application/octet-stream");
        assert!(
            file.headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"page.html\"")
        );

        // Take, then reply and set the ticket stalled in the same submit.
        let took = b.post(&format!("/tickets/{n}/take"), &[("csrf", &csrf)]).await;
        assert_eq!(took.status, StatusCode::SEE_OTHER);
        let replied = b
            .post_multipart(
                &format!("/tickets/{n}/messages"),
                &[
                    ("csrf", &csrf),
                    ("kind", "reply"),
                    ("body", "Abbiamo riavviato la porta PON."),
                    ("status", "stalled"),
                    ("owner", ""),
                ],
                &[("attachments", "log.txt", "text/plain", b"pon reset ok")],
            )
            .await;
        assert_eq!(replied.status, StatusCode::SEE_OTHER, "{}", replied.body);
        let commented = b
            .post(
                &format!("/tickets/{n}/messages"),
                &[("csrf", &csrf), ("kind", "comment"), ("body", "Cliente VIP: richiamare"), ("owner", "nobody")],
            )
            .await;
        assert_eq!(commented.status, StatusCode::SEE_OTHER);
        let now = t.app.ticket(&cast.admin, n).await.unwrap();
        assert_eq!(now.status, domain::Status::Stalled);
        assert!(now.owner.is_none());
        let msgs = t.app.messages(&cast.admin, n).await.unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1].attachments[0].filename, "log.txt");
        assert_eq!(msgs[2].kind, domain::MessageKind::Comment);

        let page = b.get(&format!("/tickets/{n}")).await;
        assert!(page.body.contains("class=\"message comment\""), "comments look different");
        assert!(page.body.contains("class=\"message reply\""));
        assert!(
            page.body.contains("Status: Open → Stalled") || page.body.contains("Status: New → Stalled"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Owner: agent@op.example →"), "{}", page.body);

        // Properties: only what changed is recorded; a bad value shows the form with the reason.
        let before = t.app.ticket_events(&cast.admin, n).await.unwrap().len();
        let saved = b
            .post(
                &format!("/tickets/{n}"),
                &[
                    ("csrf", &csrf),
                    ("title", "Fibra giù"),
                    ("status", "stalled"),
                    ("queue", "support"),
                    ("owner", "nobody"),
                    ("priority", "80"),
                    ("category", "blocking_fault"),
                    ("severity", "blocking"),
                    ("customer", "ACME"),
                    ("requestors", "anna@acme.example"),
                    ("cc", "bruno@acme.example"),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let after = t.app.ticket_events(&cast.admin, n).await.unwrap();
        let fields: Vec<_> = after[before..].iter().filter_map(|e| e.field.clone()).collect();
        assert_eq!(fields.len(), 5, "title, priority, category, severity, cc: {fields:?}");
        let bad = b.post(&format!("/tickets/{n}"), &[("csrf", &csrf), ("title", "x"), ("priority", "molto")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("priority"));

        // Links by reference.
        let other = t.ticket(&cast, "support", "Altro", "anna@acme.example", "x").await;
        let linked = b
            .post(
                &format!("/tickets/{n}/links"),
                &[("csrf", &csrf), ("kind", "refers_to"), ("other", &other.reference)],
            )
            .await;
        assert_eq!(linked.status, StatusCode::SEE_OTHER);
        assert_eq!(t.app.links(&cast.admin, n).await.unwrap().len(), 1);

        // Forged token: nothing changes.
        let forged =
            b.post(&format!("/tickets/{n}/messages"), &[("csrf", "x"), ("kind", "reply"), ("body", "no")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(t.app.messages(&cast.admin, n).await.unwrap().len(), 3);

        // A viewer (see and comment only) cannot reply; an unknown ticket is a 404 page.
        let mut v = Browser::new(t);
        t.app.set_password(&cast.admin, cast.viewer.user_id.unwrap(), PASSWORD).await.unwrap();
        v.login_ok("viewer@op.example").await;
        let vp = v.get(&format!("/tickets/{n}")).await;
        let vcsrf = vp.hidden("csrf");
        let refused =
            v.post(&format!("/tickets/{n}/messages"), &[("csrf", &vcsrf), ("kind", "reply"), ("body", "no")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(v.get("/tickets/999999").await.status, StatusCode::NOT_FOUND);
        assert_eq!(v.get("/tickets/abc").await.status, StatusCode::NOT_FOUND);
    }
);
