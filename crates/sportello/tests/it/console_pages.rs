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
        // Statuses repeated in a hand-made URL count once.
        let repeated = format!("/tickets?{}", vec!["status=new"; 600].join("&"));
        let page = b.get(&repeated).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(listed(&page.body).len(), 50);
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
        assert_eq!(fields.len(), 6, "title, priority, priority_override, category, severity, cc: {fields:?}");
        // A form shown before someone else's change does not put their values back.
        let shown = b.get(&format!("/tickets/{n}")).await;
        let seen = shown.hidden("seen");
        t.app
            .update_ticket(&cast.admin, n, app::tickets::TicketPatch { priority: Some(10), ..Default::default() })
            .await
            .unwrap();
        let stale = b
            .post(
                &format!("/tickets/{n}"),
                &[("csrf", &csrf), ("seen", &seen), ("title", "Titolo vecchio"), ("priority", "80")],
            )
            .await;
        assert_eq!(stale.status, StatusCode::BAD_REQUEST);
        assert!(stale.body.contains("changed this ticket meanwhile"), "{}", stale.body);
        let now = t.app.ticket(&cast.admin, n).await.unwrap();
        assert_eq!((now.priority, now.title.as_str()), (10, "Fibra giù"));
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
        let missing = v.get("/tickets/999999").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.body.contains("action=\"/logout\""), "the error page keeps the navigation");
        assert_eq!(v.get("/tickets/abc").await.status, StatusCode::NOT_FOUND);
    }
);

/// Opens a live feed as the browser's session and returns its stream of bytes.
async fn feed(b: &Browser, path: &str) -> (StatusCode, axum::body::BodyDataStream) {
    use tower::ServiceExt;
    let jar: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let req = axum::http::Request::builder()
        .uri(path)
        .header(axum::http::header::COOKIE, jar.join("; "))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = b.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    if status == StatusCode::OK {
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
    }
    (status, resp.into_body().into_data_stream())
}

/// Reads the feed until an event of `kind` arrives (or fails after 10 s); returns its data.
async fn next_event(stream: &mut axum::body::BodyDataStream, kind: &str) -> String {
    use futures_util::StreamExt;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let marker = format!("event: {kind}\ndata: ");
        if let Some(at) = text.find(&marker) {
            return text[at + marker.len()..].lines().next().unwrap().to_owned();
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event in 10 s; got {text:?}"))
            .expect("the feed ended")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

both!(
    async fn live_feeds_bring_new_tickets_and_changes_by_others(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let tk = t.ticket(&cast, "support", "Fibra giù", "anna@acme.example", "x").await;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        let page = b.get(&format!("/tickets/{}", tk.number)).await;
        let feed_url = page.body.split("data-feed=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let (status, mut changes) = feed(&b, &feed_url).await;
        assert_eq!(status, StatusCode::OK);
        // The agent's own change is not news to them; the admin's is.
        t.app
            .update_ticket(
                &cast.agent,
                tk.number,
                app::tickets::TicketPatch { priority: Some(70), ..Default::default() },
            )
            .await
            .unwrap();
        t.app
            .update_ticket(
                &cast.admin,
                tk.number,
                app::tickets::TicketPatch { priority: Some(90), ..Default::default() },
            )
            .await
            .unwrap();
        let change: serde_json::Value = serde_json::from_str(&next_event(&mut changes, "change").await).unwrap();
        assert!(change["actor"].as_str().unwrap().contains("admin@op.example"), "{change}");
        // A second reader, logged out meanwhile, hears nothing more: the feed ends.
        let mut other = Browser::new(t);
        other.login_ok("agent@op.example").await;
        let (_, mut gone) = feed(&other, &format!("/live/tickets/{}", tk.number)).await;
        let csrf = other.get("/").await.hidden("csrf");
        other.post("/logout", &[("csrf", &csrf)]).await;
        t.app
            .update_ticket(
                &cast.admin,
                tk.number,
                app::tickets::TicketPatch { priority: Some(95), ..Default::default() },
            )
            .await
            .unwrap();
        let mut heard = String::new();
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            use futures_util::StreamExt;
            while let Some(chunk) = gone.next().await {
                heard.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            }
        })
        .await;
        assert!(ended.is_ok(), "the feed of a logged-out session goes on");
        assert!(!heard.contains("event: change"), "{heard}");

        // The queue view hears of new tickets that match its filters, and only those.
        let queue = b.get("/tickets?queue=support&order=updated").await;
        let feed_url =
            queue.body.split("data-feed=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
        assert!(feed_url.starts_with("/live/tickets?after="), "{feed_url}");
        let (_, mut news) = feed(&b, &feed_url).await;
        t.ticket(&cast, "treasury", "Fattura", "anna@acme.example", "x").await;
        let fresh = t.ticket(&cast, "support", "<b>Nuovo</b> guasto", "bruno@acme.example", "y").await;
        let shown: serde_json::Value = serde_json::from_str(&next_event(&mut news, "ticket").await).unwrap();
        assert_eq!(shown["number"], fresh.number);
        assert_eq!(shown["title"], "<b>Nuovo</b> guasto", "text, set with textContent by the script");

        // Portal users get no feeds.
        let mut anna = Browser::new(t);
        anna.login_ok("anna@acme.example").await;
        assert_eq!(feed(&anna, &format!("/live/tickets/{}", tk.number)).await.0, StatusCode::FORBIDDEN);
        assert_eq!(feed(&anna, "/live/tickets").await.0, StatusCode::FORBIDDEN);
    }
);

both!(
    async fn an_expired_session_goes_to_login_and_back_to_the_page_asked_for(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let tk = t.ticket(&cast, "support", "Fibra giù", "anna@acme.example", "x").await;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        let asked = format!("/tickets?q=fibra&order=updated#{}", tk.number);
        assert_eq!(b.get(&asked).await.status, StatusCode::OK);

        // Eleven idle hours later the same browser is a stranger.
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(11);
        b.router = web::router(t.app.clone().with_clock(app::Clock::manual(later)));
        let gone = b.get("/tickets?q=fibra&order=updated").await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        let login = gone.location().to_owned();
        assert_eq!(login, "/login?next=/tickets%3Fq%3Dfibra%26order%3Dupdated");
        let form = b.get(&login).await;
        assert!(form.body.contains("name=\"next\" value=\"/tickets?q=fibra&#38;order=updated\""), "{}", form.body);
        let csrf = form.hidden("csrf");
        let back = b
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", "agent@op.example"),
                    ("password", PASSWORD),
                    ("next", "/tickets?q=fibra&order=updated"),
                ],
            )
            .await;
        assert_eq!(back.status, StatusCode::SEE_OTHER);
        assert_eq!(back.location(), "/tickets?q=fibra&order=updated");
        let page = b.get(back.location()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&tk.reference));
        // A forged next never leaves the site (browsers drop tabs: `/\t/evil` would be `//evil`).
        for next in ["https://evil.example/", "//evil.example/", "/%09/evil.example", "/%5C/evil.example", "/%0A/evil"]
        {
            let r = b.get(&format!("/login?next={next}")).await;
            assert_eq!(r.location(), "/", "{next}");
        }
    }
);

both!(
    async fn an_unknown_page_is_an_html_404_and_an_unknown_api_path_a_problem(t: &Ctx) {
        use tower::ServiceExt;
        let router = web::router(t.app.clone());
        let ask = |path: &str| {
            axum::http::Request::builder()
                .uri(path)
                .header("accept", "text/html,application/xhtml+xml")
                .header("accept-language", "it")
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let page = router.clone().oneshot(ask("/nowhere/%3Cscript%3E")).await.unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let body = axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("<html lang=\"it\">") && !body.contains("<script>"), "{body}");
        let api = router.oneshot(ask("/api/v1/nowhere")).await.unwrap();
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert_eq!(api.headers()["content-type"], "application/problem+json");
    }
);

both!(
    async fn an_email_message_links_to_its_original_for_agents_only(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let input = app::ingest::QueueMailInput { address: Some("support@op.example".into()), ..Default::default() };
        t.app.set_queue_mail(&cast.admin, "support", input).await.unwrap();
        let raw = b"From: Anna <anna@acme.example>\r\nTo: support@op.example\r\nSubject: Linea muta\r\nMessage-ID: <page-raw@acme.example>\r\nX-Originating-IP: [192.0.2.7]\r\n\r\nNessun segnale.\r\n";
        let to = app::mail::Delivery::Address("support@op.example".into());
        let d = mail::deliver::deliver(&t.app, raw, &to).await.unwrap();
        let mail::deliver::Delivered::Taken(app::ingest::Outcome::NewTicket(n)) = d else { panic!("{d:?}") };
        let m = t.app.messages(&cast.admin, n).await.unwrap()[0].id;
        let link = format!("/tickets/{n}/messages/{m}/raw");

        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        let page = b.get(&format!("/tickets/{n}")).await;
        assert!(page.body.contains(&format!("href=\"{link}\"")), "{}", page.body);
        let got = b.get(&link).await;
        assert_eq!(got.status, StatusCode::OK);
        assert!(got.body.contains("X-Originating-IP: [192.0.2.7]"), "{}", got.body);
        // A message of another ticket under this number's path is not found.
        assert_eq!(b.get(&format!("/tickets/{}/messages/{m}/raw", n + 1)).await.status, StatusCode::NOT_FOUND);
    }
);

/// ACME under the Extended level (24/7) since 2020, and a blocking fault of its contact Anna.
async fn fault_under_contract(t: &Ctx, cast: &Cast) -> app::views::TicketView {
    let contract = app::sla::ContractInput {
        customer: Some("ACME".into()),
        level: "extended".into(),
        valid_from: "2020-01-01".into(),
        evo: true,
        ..Default::default()
    };
    t.app.create_contract(&cast.admin, contract).await.unwrap();
    let input = app::tickets::NewTicketInput {
        queue: "support".into(),
        title: "Fibra giù a Lecco".into(),
        requestors: vec!["anna@acme.example".into()],
        body: "nessuna sincronia".into(),
        category: Some(domain::Category::BlockingFault),
        ..Default::default()
    };
    t.app.create_ticket(&cast.admin, input).await.unwrap()
}

/// The row of ticket `number` in a list page.
fn row(body: &str, number: i64) -> String {
    let marker = format!("<tr data-number=\"{number}\">");
    body.split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no row {number}: {body}"))
        .split("</tr>")
        .next()
        .unwrap()
        .into()
}

both!(
    async fn a_ticket_under_contract_shows_its_clock_records_the_intervention_and_time(t: &Ctx) {
        use domain::clock::Phase;
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let tk = fault_under_contract(t, &cast).await;
        let on_request = t.ticket(&cast, "support", "Fax muto", "dario@other.example", "muto").await;
        let n = tk.number;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;

        // The queue view: a countdown badge with the due instant, none without a contract.
        let queue = b.get("/tickets").await;
        let badge = row(&queue.body, n);
        assert!(badge.contains("<time class=\"sla sla-fine\" datetime=\""), "{badge}");
        assert!(badge.contains("title=\"Due ") && badge.contains(" h "), "{badge}");
        assert!(!row(&queue.body, on_request.number).contains("class=\"sla "));

        // The ticket page: the SLA panel with the level, Evo, state, phase and the button.
        let page = b.get(&format!("/tickets/{n}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let panel = page.body.split("class=\"sla-panel card\"").nth(1).unwrap().split("</section>").next().unwrap();
        for shown in ["Extended", "badge evo", "Running", "Intervention", "class=\"sla sla-fine\"", "Paused for"] {
            assert!(panel.contains(shown), "{shown}: {panel}");
        }
        assert!(panel.contains(&format!("action=\"/tickets/{n}/intervene\"")), "{panel}");
        let csrf = page.hidden("csrf");
        let forged = b.post(&format!("/tickets/{n}/intervene"), &[("csrf", "forged")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(t.app.ticket(&cast.admin, n).await.unwrap().sla.unwrap().phase, Phase::Intervention);

        // "Record intervention": the clock moves to the restoration.
        let done = b.post(&format!("/tickets/{n}/intervene"), &[("csrf", &csrf)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let sla = t.app.ticket(&cast.admin, n).await.unwrap().sla.unwrap();
        assert_eq!(sla.phase, Phase::Restoration);
        assert!(sla.intervened_at.is_some());
        let page = b.get(&format!("/tickets/{n}")).await;
        let panel = page.body.split("class=\"sla-panel card\"").nth(1).unwrap().split("</section>").next().unwrap();
        assert!(panel.contains("Restoration") && panel.contains("Done "), "{panel}");
        assert!(!panel.contains("/intervene"), "no button after the intervention: {panel}");

        // A comment with minutes records a time entry; bad minutes record nothing.
        let bad = b
            .post(
                &format!("/tickets/{n}/messages"),
                &[("csrf", &csrf), ("kind", "comment"), ("body", "Chiamato il NOC"), ("minutes", "molti")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("time.minutes"), "{}", bad.body);
        let noted = b
            .post_multipart(
                &format!("/tickets/{n}/messages"),
                &[("csrf", &csrf), ("kind", "comment"), ("body", "Chiamato il NOC"), ("minutes", "25")],
                &[],
            )
            .await;
        assert_eq!(noted.status, StatusCode::SEE_OTHER, "{}", noted.body);
        let entries = t.app.time_entries(&cast.admin, n).await.unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!((entries[0].minutes, entries[0].billable), (25, false));
        assert!(entries[0].message.is_some());
        let page = b.get(&format!("/tickets/{n}")).await;
        let time = page.body.split("id=\"time\"").nth(1).unwrap().split("</table>").next().unwrap();
        assert!(time.contains("agent@op.example") && time.contains("<td>25</td>"), "{time}");

        // Impact and a priority set by hand, then computed again.
        let status = t.app.ticket(&cast.admin, n).await.unwrap().status;
        let props = |priority: &str, mode: &str| {
            [
                ("csrf", csrf.as_str()),
                ("title", tk.title.as_str()),
                ("status", status.as_str()),
                ("queue", "support"),
                ("owner", "nobody"),
                ("priority", priority),
                ("priority_mode", mode),
                ("impact", "40"),
                ("category", "blocking_fault"),
                ("severity", "blocking"),
                ("customer", "ACME"),
                ("requestors", "anna@acme.example"),
                ("cc", ""),
            ]
            .map(|(k, v)| (k, v.to_owned()))
        };
        let form = props("20", "manual");
        let manual = b.post(&format!("/tickets/{n}"), &form.each_ref().map(|(k, v)| (*k, v.as_str()))).await;
        assert_eq!(manual.status, StatusCode::SEE_OTHER, "{}", manual.body);
        let v = t.app.ticket(&cast.admin, n).await.unwrap();
        assert_eq!((v.priority, v.priority_manual, v.impact), (20, true, 40));
        assert!(b.get(&format!("/tickets/{n}")).await.body.contains("<option value=\"manual\" selected>"));
        let form = props("20", "computed");
        let computed = b.post(&format!("/tickets/{n}"), &form.each_ref().map(|(k, v)| (*k, v.as_str()))).await;
        assert_eq!(computed.status, StatusCode::SEE_OTHER, "{}", computed.body);
        let v = t.app.ticket(&cast.admin, n).await.unwrap();
        assert!(!v.priority_manual);
        let history = b.get(&format!("/tickets/{n}")).await.body;
        assert!(history.contains("Priority mode: Set by hand → Computed"), "{history}");
        assert_ne!(v.priority, 20, "computed again");
    }
);

both!(
    async fn breaching_soon_lists_due_tickets_for_agents_and_refuses_customers(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let tk = fault_under_contract(t, &cast).await;
        let on_request = t.ticket(&cast, "support", "Fax muto", "dario@other.example", "muto").await;
        let mut b = Browser::new(t);
        b.login_ok("agent@op.example").await;
        assert!(b.get("/").await.body.contains("href=\"/sla/breaching\""), "linked from the navigation");

        // Due in 4 h (Extended, blocking, 24/7): within the default 4 h and 24 h, not within 1 h.
        let soon = b.get("/sla/breaching").await;
        assert_eq!(soon.status, StatusCode::OK, "{}", soon.body);
        assert!(soon.body.contains("<option value=\"4h\" selected>"), "{}", soon.body);
        assert!(row(&soon.body, tk.number).contains("class=\"sla sla-fine\""), "{}", soon.body);
        assert!(!soon.body.contains(&on_request.reference), "no clock, not listed");
        assert!(b.get("/sla/breaching?within=24h").await.body.contains(&tk.reference));
        let hour = b.get("/sla/breaching?within=1h").await;
        assert!(!hour.body.contains(&tk.reference) && hour.body.contains("No ticket is due"), "{}", hour.body);

        // Contacts and partner users have no such page.
        let mut anna = Browser::new(t);
        anna.login_ok("anna@acme.example").await;
        let refused = anna.get("/sla/breaching").await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert!(!refused.body.contains(&tk.reference));
        let mut partner = Browser::new(t);
        partner.login_ok("noc@partner.example").await;
        assert_eq!(partner.get("/sla/breaching").await.status, StatusCode::NOT_FOUND);
    }
);
