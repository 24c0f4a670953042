//! The portal's ticket pages (new ticket, public thread, reply, close and reopen, downloads) for
//! contacts and partner users, and personal settings (language, time zone) for everybody.

use app::tickets::{AttachmentInput, ListInput, MessageInput, NewTicketInput};
use axum::http::{StatusCode, header};
use domain::{MessageKind, Status};

use crate::client::*;
use crate::harness::*;

/// The number at the end of a `/portal/tickets/N` redirect.
fn number_of(location: &str) -> i64 {
    location.strip_prefix("/portal/tickets/").unwrap_or_else(|| panic!("not a ticket: {location}")).parse().unwrap()
}

/// The attachment ids linked from a portal ticket page, in order.
fn attachment_ids(body: &str, number: i64) -> Vec<i64> {
    let marker = format!("/portal/tickets/{number}/attachments/");
    body.split(&marker).skip(1).map(|rest| rest.split('"').next().unwrap().parse().unwrap()).collect()
}

async fn ticket_count(t: &Ctx, cast: &Cast) -> usize {
    t.app.list_tickets(&cast.admin, ListInput { limit: Some(200), ..Default::default() }).await.unwrap().tickets.len()
}

fn message(kind: MessageKind, body: &str, attachments: Vec<AttachmentInput>) -> MessageInput {
    MessageInput { kind, body: body.into(), body_html: None, attachments, status: None, owner: None, time: None }
}

both!(
    async fn contact_opens_a_ticket_reads_public_replies_downloads_replies_closes_and_reopens(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let mut b = Browser::new(t);
        b.login_ok("anna@acme.example").await;

        let form = b.get("/portal/tickets/new").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("enctype=\"multipart/form-data\""));
        assert!(form.body.contains("value=\"blocking_fault\""), "categories are offered");
        assert!(!form.body.contains("name=\"customer\""), "a contact does not pick a customer");
        let csrf = form.hidden("csrf");

        let created = b
            .post_multipart(
                "/portal/tickets/new",
                &[
                    ("csrf", &csrf),
                    ("category", "non_blocking_fault"),
                    ("title", "<script>alert(1)</script> Linea lenta"),
                    ("body", "<img src=x onerror=alert(1)> va a 2 Mbit/s"),
                ],
                &[
                    ("attachments", "speedtest.txt", "text/plain", b"download 2 Mbit/s"),
                    ("attachments", "report.html", "text/html", b"<script>alert(1)</script>"),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let n = number_of(created.location());
        let view = t.app.ticket(&cast.agent, n).await.unwrap();
        assert_eq!(view.queue, "support", "portal tickets go to the support queue");
        assert_eq!(view.category, domain::Category::NonBlockingFault);
        assert_eq!(view.customer.as_ref().unwrap().code, "ACME");
        assert_eq!(view.requestors[0].email, "anna@acme.example");

        // The agent answers publicly and comments internally (the comment with a file).
        t.app
            .add_message(&cast.agent, n, message(MessageKind::Reply, "Abbiamo riavviato la porta.", vec![]))
            .await
            .unwrap();
        let secret = AttachmentInput {
            filename: "internal-notes.txt".into(),
            content_type: "text/plain".into(),
            data: b"credit check".to_vec(),
        };
        t.app
            .add_message(&cast.agent, n, message(MessageKind::Comment, "NOTA INTERNA: cliente moroso", vec![secret]))
            .await
            .unwrap();

        // The app gives the customer side public replies only; staff see everything.
        let theirs = t.app.messages(&cast.anna, n).await.unwrap();
        assert_eq!(theirs.len(), 2);
        assert!(theirs.iter().all(|m| m.kind == MessageKind::Reply));
        assert_eq!(
            t.app.messages(&cast.partner, n).await.map(|_| ()).unwrap_err().to_string(),
            format!("ticket {n} not found")
        );
        assert_eq!(t.app.messages(&cast.agent, n).await.unwrap().len(), 3);
        let comment_file = t
            .app
            .messages(&cast.agent, n)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.kind == MessageKind::Comment)
            .unwrap()
            .attachments[0]
            .id;

        let page = b.get(&format!("/portal/tickets/{n}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(&view.reference));
        assert!(page.body.contains("Abbiamo riavviato la porta."), "the public reply is shown");
        assert!(
            !page.body.contains("NOTA INTERNA") && !page.body.contains("internal-notes.txt"),
            "no internal comment"
        );
        assert!(!page.body.contains("<script>alert(1)"), "the title is inert");
        assert!(!page.body.contains("<img src=x"), "the body is inert");
        assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"), "shown as text");
        assert!(page.body.contains(&format!("action=\"/portal/tickets/{n}/close\"")));

        // Downloads: the customer's own files; active content as bytes; never the comment's file.
        let ids = attachment_ids(&page.body, n);
        assert_eq!(ids.len(), 2, "{}", page.body);
        assert!(!ids.contains(&comment_file));
        let txt = b.get(&format!("/portal/tickets/{n}/attachments/{}", ids[0])).await;
        assert_eq!(txt.status, StatusCode::OK);
        assert_eq!(txt.body, "download 2 Mbit/s");
        assert_eq!(txt.headers[header::CONTENT_TYPE], "text/plain");
        let disposition = txt.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(disposition.starts_with("attachment; filename=\"speedtest.txt\""), "{disposition}");
        assert_eq!(txt.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let html = b.get(&format!("/portal/tickets/{n}/attachments/{}", ids[1])).await;
        assert_eq!(html.status, StatusCode::OK);
        assert_eq!(html.headers[header::CONTENT_TYPE], "application/octet-stream");
        assert!(html.headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment;"));
        let hidden = b.get(&format!("/portal/tickets/{n}/attachments/{comment_file}")).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "a comment's file is not the customer's");

        // A reply with a file; an empty reply is refused and adds nothing.
        let csrf = page.hidden("csrf");
        let empty =
            b.post_multipart(&format!("/portal/tickets/{n}/reply"), &[("csrf", &csrf), ("body", "  ")], &[]).await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST);
        assert_eq!(t.app.messages(&cast.agent, n).await.unwrap().len(), 3);
        let replied = b
            .post_multipart(
                &format!("/portal/tickets/{n}/reply"),
                &[("csrf", &csrf), ("body", "Grazie, ora va a 100 Mbit/s.")],
                &[("attachments", "after.txt", "text/plain", b"100 Mbit/s")],
            )
            .await;
        assert_eq!(replied.status, StatusCode::SEE_OTHER, "{}", replied.body);
        assert_eq!(replied.location(), format!("/portal/tickets/{n}"));
        let page = b.get(&format!("/portal/tickets/{n}")).await;
        assert!(page.body.contains("Grazie, ora va a 100 Mbit/s.") && page.body.contains("after.txt"));

        // Close (resolved), then reopen (open): POST forms with the session's token.
        let closed = b.post(&format!("/portal/tickets/{n}/close"), &[("csrf", &csrf)]).await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
        assert_eq!(t.app.ticket(&cast.agent, n).await.unwrap().status, Status::Resolved);
        let page = b.get(&format!("/portal/tickets/{n}")).await;
        assert!(page.body.contains(&format!("action=\"/portal/tickets/{n}/reopen\"")));
        assert!(!page.body.contains(&format!("action=\"/portal/tickets/{n}/close\"")));
        let reopened = b.post(&format!("/portal/tickets/{n}/reopen"), &[("csrf", &csrf)]).await;
        assert_eq!(reopened.status, StatusCode::SEE_OTHER, "{}", reopened.body);
        assert_eq!(t.app.ticket(&cast.agent, n).await.unwrap().status, Status::Open);
        let events = t.app.ticket_events(&cast.admin, n).await.unwrap();
        let status_changes: Vec<_> = events
            .iter()
            .filter(|e| e.field.as_deref() == Some("status") && e.channel == domain::Channel::Web)
            .map(|e| e.new_value.clone().unwrap_or_default())
            .collect();
        assert_eq!(status_changes, ["resolved", "open"], "both changes are in the history");

        // The home lists it.
        let home = b.get("/portal").await;
        assert!(home.body.contains(&view.reference) && home.body.contains("href=\"/portal/tickets/new\""));
    }
);

both!(
    async fn another_customers_ticket_and_its_files_are_not_found(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let file = AttachmentInput {
            filename: "fax.pdf".into(),
            content_type: "application/pdf".into(),
            data: b"%PDF".to_vec(),
        };
        let dario = t
            .app
            .create_ticket(
                &cast.admin,
                NewTicketInput {
                    queue: "support".into(),
                    title: "Fax muto".into(),
                    requestors: vec!["dario@other.example".into()],
                    body: "muto".into(),
                    attachments: vec![file],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let file_id = t.app.messages(&cast.dario, dario.number).await.unwrap()[0].attachments[0].id;
        let anna = t.ticket(&cast, "support", "Linea lenta", "anna@acme.example", "lenta").await;

        let mut b = Browser::new(t);
        b.login_ok("anna@acme.example").await;
        let csrf = b.get("/portal").await.hidden("csrf");
        let page = b.get(&format!("/portal/tickets/{}", dario.number)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(!page.body.contains("Fax muto"));
        let n = dario.number;
        assert_eq!(b.get(&format!("/portal/tickets/{n}/attachments/{file_id}")).await.status, StatusCode::NOT_FOUND);
        // Nor through her own ticket's number.
        let via_mine = b.get(&format!("/portal/tickets/{}/attachments/{file_id}", anna.number)).await;
        assert_eq!(via_mine.status, StatusCode::NOT_FOUND);
        assert_eq!(b.get("/portal/tickets/not-a-number").await.status, StatusCode::NOT_FOUND);
        assert_eq!(b.get("/portal/tickets/999999").await.status, StatusCode::NOT_FOUND);
        // Writing to it is refused the same way and changes nothing.
        let reply =
            b.post_multipart(&format!("/portal/tickets/{n}/reply"), &[("csrf", &csrf), ("body", "ciao")], &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(
            b.post(&format!("/portal/tickets/{n}/close"), &[("csrf", &csrf)]).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(t.app.messages(&cast.admin, n).await.unwrap().len(), 1);
        assert_eq!(t.app.ticket(&cast.admin, n).await.unwrap().status, Status::New);
        // Dario himself sees it and its file.
        let mut d = Browser::new(t);
        d.login_ok("dario@other.example").await;
        assert_eq!(d.get(&format!("/portal/tickets/{n}")).await.status, StatusCode::OK);
        assert_eq!(d.get(&format!("/portal/tickets/{n}/attachments/{file_id}")).await.body, "%PDF");
    }
);

both!(
    async fn partner_user_sees_filters_and_opens_tickets_only_for_its_customers(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let carla = t.ticket(&cast, "support", "Ponte radio Lecco giù", "carla@lake.example", "giù").await;
        let anna = t.ticket(&cast, "support", "Linea lenta ACME", "anna@acme.example", "lenta").await;
        t.app
            .add_message(&cast.agent, carla.number, message(MessageKind::Comment, "Nota interna sul partner", vec![]))
            .await
            .unwrap();
        let seen = t.app.messages(&cast.partner, carla.number).await.unwrap();
        assert_eq!(seen.len(), 1, "a partner gets the public thread only");
        assert!(seen.iter().all(|m| m.kind == MessageKind::Reply));
        let mut b = Browser::new(t);
        b.login_ok("noc@partner.example").await;

        let home = b.get("/portal").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        assert!(home.body.contains(&carla.reference), "its customer's ticket");
        assert!(!home.body.contains(&anna.reference) && !home.body.contains("Linea lenta ACME"), "not ACME's");
        assert!(home.body.contains("<option value=\"LAKE\""), "the customer filter lists its customers");
        assert!(!home.body.contains("value=\"ACME\"") && !home.body.contains("value=\"OTHER\""));
        let filtered = b.get("/portal?customer=LAKE").await;
        assert_eq!(filtered.status, StatusCode::OK);
        assert!(filtered.body.contains(&carla.reference));
        assert!(filtered.body.contains("<option value=\"LAKE\" selected>"));
        assert_eq!(b.get("/portal?customer=ACME").await.status, StatusCode::NOT_FOUND, "not its customer");
        assert_eq!(b.get(&format!("/portal/tickets/{}", anna.number)).await.status, StatusCode::NOT_FOUND);
        let page = b.get(&format!("/portal/tickets/{}", carla.number)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Ponte radio Lecco") && !page.body.contains("Nota interna"));

        let form = b.get("/portal/tickets/new").await;
        assert!(form.body.contains("name=\"customer\"") && form.body.contains("value=\"LAKE\""));
        assert!(!form.body.contains("value=\"ACME\""));
        let csrf = form.hidden("csrf");
        let before = ticket_count(t, &cast).await;
        for customer in ["ACME", "OTHER", "", "NOSUCH"] {
            let refused = b
                .post_multipart(
                    "/portal/tickets/new",
                    &[
                        ("csrf", &csrf),
                        ("customer", customer),
                        ("category", "blocking_fault"),
                        ("title", "Per conto di altri"),
                        ("body", "tentativo"),
                    ],
                    &[],
                )
                .await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "customer {customer:?}");
            assert!(refused.body.contains("Per conto di altri"), "what was typed is kept");
        }
        assert_eq!(ticket_count(t, &cast).await, before, "nothing was created");

        let ok = b
            .post(
                "/portal/tickets/new",
                &[
                    ("csrf", &csrf),
                    ("customer", "LAKE"),
                    ("category", "blocking_fault"),
                    ("title", "Sede di Lecco isolata"),
                    ("body", "Nessun traffico dalle 9:00"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let n = number_of(ok.location());
        let view = t.app.ticket(&cast.admin, n).await.unwrap();
        assert_eq!(view.customer.unwrap().code, "LAKE");
        assert_eq!(view.queue, "support");
        assert_eq!(view.severity, domain::Severity::Blocking);
        let page = b.get(&format!("/portal/tickets/{n}")).await;
        assert!(page.body.contains("Sede di Lecco isolata") && page.body.contains("Nessun traffico"));
        assert!(b.get("/portal?customer=LAKE").await.body.contains(&view.reference));
        // The other partner does not see it.
        assert!(t.app.ticket(&cast.other_partner, n).await.is_err());
    }
);

both!(
    async fn forged_or_missing_csrf_is_refused_and_changes_nothing(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let mine = t.ticket(&cast, "support", "Linea lenta", "anna@acme.example", "lenta").await;
        let n = mine.number;
        let mut b = Browser::new(t);
        b.login_ok("anna@acme.example").await;
        let before = ticket_count(t, &cast).await;
        let new = [("category", "order"), ("title", "Forged"), ("body", "forged")];
        for token in [Some("forged"), None] {
            let mut fields: Vec<(&str, &str)> = new.to_vec();
            if let Some(tok) = token {
                fields.push(("csrf", tok));
            }
            assert_eq!(b.post_multipart("/portal/tickets/new", &fields, &[]).await.status, StatusCode::FORBIDDEN);
            let mut fields = vec![("body", "forged reply")];
            if let Some(tok) = token {
                fields.push(("csrf", tok));
            }
            let path = format!("/portal/tickets/{n}/reply");
            assert_eq!(b.post_multipart(&path, &fields, &[]).await.status, StatusCode::FORBIDDEN);
            let form: Vec<(&str, &str)> = token.map(|tok| vec![("csrf", tok)]).unwrap_or_default();
            assert_eq!(b.post(&format!("/portal/tickets/{n}/close"), &form).await.status, StatusCode::FORBIDDEN);
            let mut fields = vec![("language", "ca"), ("time_zone", "Asia/Tokyo")];
            if let Some(tok) = token {
                fields.push(("csrf", tok));
            }
            assert_eq!(b.post("/settings", &fields).await.status, StatusCode::FORBIDDEN);
        }
        assert_eq!(ticket_count(t, &cast).await, before);
        assert_eq!(t.app.messages(&cast.admin, n).await.unwrap().len(), 1);
        assert_eq!(t.app.ticket(&cast.admin, n).await.unwrap().status, Status::New);
        let settings = t.app.settings(&cast.anna).await.unwrap();
        assert_eq!((settings.language.as_deref(), settings.time_zone.as_deref()), (Some("it"), None));
    }
);

both!(
    async fn an_invalid_new_ticket_comes_back_with_messages_and_what_was_typed(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let mut b = Browser::new(t);
        b.login_ok("anna@acme.example").await;
        let csrf = b.get("/portal/tickets/new").await.hidden("csrf");
        let before = ticket_count(t, &cast).await;
        let bad = b
            .post_multipart(
                "/portal/tickets/new",
                &[("csrf", &csrf), ("category", "nonsense"), ("title", " "), ("body", "<b>testo scritto</b> a mano")],
                &[("attachments", "a.txt", "text/plain", b"x")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.body.contains("&#60;b&#62;testo scritto&#60;/b&#62; a mano")
                || bad.body.contains("&lt;b&gt;testo scritto")
        );
        assert!(bad.body.contains("aria-invalid=\"true\""));
        assert!(bad.body.contains("id=\"title-error\"") && bad.body.contains("id=\"category-error\""));
        assert!(!bad.body.contains("id=\"body-error\""), "the description was fine");
        let too_long = "x".repeat(201);
        let bad = b
            .post("/portal/tickets/new", &[("csrf", &csrf), ("category", "order"), ("title", &too_long), ("body", "")])
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains(&too_long) && bad.body.contains("id=\"body-error\""));
        assert_eq!(ticket_count(t, &cast).await, before, "nothing was created");
    }
);

both!(
    async fn settings_change_the_language_and_time_zone_of_the_next_pages(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let mine = t.ticket(&cast, "support", "Linea lenta", "anna@acme.example", "lenta").await;
        let mut b = Browser::new(t);
        b.language = "en";
        b.login_ok("anna@acme.example").await;
        let form = b.get("/settings").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("<html lang=\"it\">") && form.body.contains("Impostazioni"));
        assert!(form.body.contains("<option value=\"it\" lang=\"it\" selected>"));
        assert!(!form.body.contains("<option value=\"\">"), "a contact's language is always set");
        let csrf = form.hidden("csrf");

        let saved =
            b.post("/settings", &[("csrf", &csrf), ("language", "ca"), ("time_zone", "America/New_York")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let page = b.get(&format!("/portal/tickets/{}", mine.number)).await;
        assert!(page.body.contains("<html lang=\"ca\">"), "{}", page.body);
        assert!(page.body.contains("Conversa"));
        let ny = mine.created_at.to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap());
        let shown = ny.strftime("%d/%m/%Y %H:%M").to_string();
        assert!(page.body.contains(&shown), "{shown} in {}", page.body);

        b.post("/settings", &[("csrf", &csrf), ("language", "ca"), ("time_zone", "Asia/Tokyo")]).await;
        let tokyo = mine.created_at.to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
        let page = b.get(&format!("/portal/tickets/{}", mine.number)).await;
        assert!(page.body.contains(&tokyo.strftime("%d/%m/%Y %H:%M").to_string()));
        assert!(!page.body.contains(&shown));

        // Bad values come back with messages and change nothing.
        let bad = b.post("/settings", &[("csrf", &csrf), ("language", "ca"), ("time_zone", "Mars/Olympus_Mons")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("Mars/Olympus_Mons") && bad.body.contains("id=\"time-zone-error\""));
        let bad = b.post("/settings", &[("csrf", &csrf), ("language", "")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "a contact cannot follow the browser");
        let bad = b.post("/settings", &[("csrf", &csrf), ("language", "fr")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let s = t.app.settings(&cast.anna).await.unwrap();
        assert_eq!((s.language.as_deref(), s.time_zone.as_deref()), (Some("ca"), Some("Asia/Tokyo")));
        let changes = t.app.subject_events(&cast.admin, "contact", cast.anna.contact_id().unwrap()).await.unwrap();
        assert!(
            changes
                .iter()
                .any(|e| e.field.as_deref() == Some("time_zone") && e.new_value.as_deref() == Some("Asia/Tokyo"))
        );

        // Agents too; they may go back to the browser's language.
        let mut a = Browser::new(t);
        a.language = "en";
        a.login_ok("agent@op.example").await;
        let form = a.get("/settings").await;
        assert!(form.body.contains("<option value=\"\">"), "users may follow the browser");
        let csrf = form.hidden("csrf");
        a.post("/settings", &[("csrf", &csrf), ("language", "it"), ("time_zone", "")]).await;
        assert!(a.get("/").await.body.contains("<html lang=\"it\">"));
        a.post("/settings", &[("csrf", &csrf), ("language", ""), ("time_zone", "")]).await;
        assert!(a.get("/").await.body.contains("<html lang=\"en\">"));
        let s = t.app.settings(&cast.agent).await.unwrap();
        assert_eq!((s.language, s.time_zone), (None, None));
    }
);

both!(
    async fn html_replies_are_shown_sanitised(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let mine = t.ticket(&cast, "support", "Linea lenta", "anna@acme.example", "lenta").await;
        let html = "<p>Risolto, vedi <b>qui</b>.</p><script>alert(1)</script>\
                    <img src=x onerror=alert(1)><a href=\"javascript:alert(1)\">link</a>";
        let input = MessageInput { body_html: Some(html.into()), ..message(MessageKind::Reply, "", vec![]) };
        t.app.add_message(&cast.agent, mine.number, input).await.unwrap();
        let mut b = Browser::new(t);
        b.login_ok("anna@acme.example").await;
        let page = b.get(&format!("/portal/tickets/{}", mine.number)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<b>qui</b>"), "formatting is kept: {}", page.body);
        assert!(
            !page.body.contains("<script>alert")
                && !page.body.contains("onerror")
                && !page.body.contains("javascript:")
        );
    }
);
