//! The admin pages, the agent's customer, partner and contact pages, and invitation links.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::client::*;
use crate::harness::*;

/// The seeded cast with passwords, the admin's included.
async fn cast_with_passwords(t: &Ctx) -> Cast {
    let cast = t.seed().await;
    with_passwords(t, &cast).await;
    t.app.set_password(&cast.admin, cast.admin.user_id.unwrap(), PASSWORD).await.unwrap();
    cast
}

/// A browser logged in as `email`, with the session's CSRF token.
async fn logged_in(t: &Ctx, email: &str) -> (Browser, String) {
    let mut b = Browser::new(t);
    b.login_ok(email).await;
    // Every page with the header carries the session's token in the logout form.
    let page = b.get("/").await;
    let page = if page.status == StatusCode::OK { page } else { b.get("/portal").await };
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.hidden("csrf");
    (b, csrf)
}

async fn api_status(b: &mut Browser, secret: &str) -> StatusCode {
    let req = Request::builder()
        .method("GET")
        .uri("/api/v1/queues")
        .header(header::AUTHORIZATION, format!("Bearer {secret}"));
    b.send(req, Body::empty()).await.status
}

fn contact_id(cast_actor: &app::Actor) -> i64 {
    cast_actor.contact_id().unwrap()
}

both!(
    async fn admin_creates_a_queue_and_a_custom_field_through_the_forms(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut b, csrf) = logged_in(t, "admin@op.example").await;
        let index = b.get("/admin").await;
        assert_eq!(index.status, StatusCode::OK, "{}", index.body);
        assert!(index.body.contains("href=\"/admin/queues\"") && index.body.contains("href=\"/admin/tokens\""));

        let form = b.get("/admin/queues/new").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        // A bad slug: the form comes back with the problem and what was typed.
        let bad = b
            .post(
                "/admin/queues/new",
                &[("csrf", &csrf), ("slug", "Bad Slug!"), ("name", "Network operations"), ("reference_prefix", "noc")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("value=\"Network operations\""), "{}", bad.body);
        assert!(bad.body.contains("slug"), "{}", bad.body);
        assert!(t.app.queue(&cast.admin, "noc").await.is_err());

        let ok = b
            .post(
                "/admin/queues/new",
                &[
                    ("csrf", &csrf),
                    ("slug", "noc"),
                    ("name", "Network operations"),
                    ("description", "Faults on the backbone"),
                    ("reference_prefix", "noc"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        assert_eq!(ok.location(), "/admin/queues/noc");
        let q = t.app.queue(&cast.admin, "noc").await.unwrap();
        assert_eq!((q.name.as_str(), q.reference_prefix.as_str(), q.active), ("Network operations", "noc", true));

        // A choice field without choices is refused, keeping the label typed.
        let bad = b
            .post(
                "/admin/queues/noc/fields",
                &[
                    ("csrf", &csrf),
                    ("name", "circuit"),
                    ("label", "Circuit type"),
                    ("kind", "choice"),
                    ("position", "1"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("value=\"Circuit type\""), "{}", bad.body);
        let field = b
            .post(
                "/admin/queues/noc/fields",
                &[
                    ("csrf", &csrf),
                    ("name", "circuit"),
                    ("label", "Circuit type"),
                    ("kind", "choice"),
                    ("choices", "FTTH\r\nFTTC\r\n"),
                    ("required", "1"),
                    ("position", "1"),
                ],
            )
            .await;
        assert_eq!(field.status, StatusCode::SEE_OTHER, "{}", field.body);
        let q = t.app.queue(&cast.admin, "noc").await.unwrap();
        assert_eq!(q.fields.len(), 1);
        assert_eq!(q.fields[0].choices, vec!["FTTH".to_string(), "FTTC".to_string()]);
        assert!(q.fields[0].required);
        let page = b.get("/admin/queues/noc").await;
        assert!(page.body.contains("Circuit type") && page.body.contains("FTTH, FTTC"), "{}", page.body);
        let edit = b.get("/admin/queues/noc?field=circuit").await;
        assert!(edit.body.contains("FTTH\nFTTC</textarea>"), "{}", edit.body);

        // Settings change; then the field goes.
        let ok = b
            .post(
                "/admin/queues/noc",
                &[("csrf", &csrf), ("slug", "noc"), ("name", "NOC"), ("reference_prefix", "noc")],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let q = t.app.queue(&cast.admin, "noc").await.unwrap();
        assert_eq!((q.name.as_str(), q.active), ("NOC", false));
        let gone = b.post("/admin/queues/noc/fields/circuit/delete", &[("csrf", &csrf)]).await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.body);
        assert!(t.app.queue(&cast.admin, "noc").await.unwrap().fields.is_empty());
        let list = b.get("/admin/queues").await;
        assert!(list.body.contains("href=\"/admin/queues/noc\""), "{}", list.body);
    }
);

both!(
    async fn admin_creates_a_token_sees_its_secret_once_and_revokes_it(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut b, csrf) = logged_in(t, "admin@op.example").await;
        let created = b.post("/admin/tokens", &[("csrf", &csrf), ("name", "monitoring"), ("role", "agent")]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let secret = created.hidden("secret");
        assert!(secret.starts_with("spt_"), "{secret}");
        assert!(created.body.contains("shown only once"), "{}", created.body);
        assert_eq!(api_status(&mut b, &secret).await, StatusCode::OK);

        let list = b.get("/admin/tokens").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("monitoring"), "{}", list.body);
        assert!(!list.body.contains(&secret), "the secret is never shown again");

        // An admin token for a user who is not an admin is refused, keeping the form.
        let bad = b
            .post(
                "/admin/tokens",
                &[("csrf", &csrf), ("name", "wrong"), ("role", "admin"), ("user", "agent@op.example")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("value=\"wrong\""), "{}", bad.body);

        let tokens = t.app.tokens(&cast.admin).await.unwrap();
        assert_eq!(tokens.len(), 1);
        let id = tokens[0].id;
        let revoked = b.post(&format!("/admin/tokens/{id}/revoke"), &[("csrf", &csrf)]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        assert_eq!(revoked.location(), "/admin/tokens");
        assert_eq!(api_status(&mut b, &secret).await, StatusCode::UNAUTHORIZED);
        assert!(t.app.tokens(&cast.admin).await.unwrap()[0].revoked_at.is_some());
        let list = b.get("/admin/tokens").await;
        assert!(list.body.contains("Revoked"), "{}", list.body);
    }
);

both!(
    async fn an_invitation_link_sets_the_password_once_and_logs_in(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let bruno = contact_id(&cast.bruno);
        let (mut admin, csrf) = logged_in(t, "admin@op.example").await;

        // Inviting again replaces the pending link.
        let first = admin.post(&format!("/admin/contacts/{bruno}/invite"), &[("csrf", &csrf)]).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        let first_link = first.hidden("link");
        let invited = admin.post(&format!("/admin/contacts/{bruno}/invite"), &[("csrf", &csrf)]).await;
        assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
        let link = invited.hidden("link");
        assert!(link.starts_with("/invite/spt_") && link != first_link, "{link}");
        assert!(invited.body.contains("bruno@acme.example"), "{}", invited.body);
        let edit = admin.get(&format!("/admin/contacts/{bruno}")).await;
        assert!(edit.body.contains("invitation is pending"), "{}", edit.body);

        let mut b = Browser::new(t);
        assert_eq!(b.get(&first_link).await.status, StatusCode::NOT_FOUND);
        let form = b.get(&link).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("bruno@acme.example"), "{}", form.body);
        let token = form.hidden("csrf");

        // Without the form's own token nothing happens.
        let forged = b.post(&link, &[("csrf", "forged"), ("password", PASSWORD), ("confirmation", PASSWORD)]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let mismatch =
            b.post(&link, &[("csrf", &token), ("password", PASSWORD), ("confirmation", "something else")]).await;
        assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
        assert!(mismatch.body.contains("differ"), "{}", mismatch.body);
        let token = mismatch.hidden("csrf");
        let short = b.post(&link, &[("csrf", &token), ("password", "short"), ("confirmation", "short")]).await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST);
        assert!(short.body.contains("at least 10"), "{}", short.body);
        let token = short.hidden("csrf");

        let done = b.post(&link, &[("csrf", &token), ("password", PASSWORD), ("confirmation", PASSWORD)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location(), "/portal");
        assert!(b.cookies.contains_key(web::pages::SESSION_COOKIE));
        let portal = b.get("/portal").await;
        assert_eq!(portal.status, StatusCode::OK, "{}", portal.body);

        // The link is used up: shown as such, and a second post changes nothing.
        let mut again = Browser::new(t);
        let used = again.get(&link).await;
        assert_eq!(used.status, StatusCode::GONE, "{}", used.body);
        assert!(used.body.contains("used already"), "{}", used.body);
        again.cookies.insert("sportello_invite".into(), "tok".into());
        let reuse = again
            .post(&link, &[("csrf", "tok"), ("password", "another password 1"), ("confirmation", "another password 1")])
            .await;
        assert_eq!(reuse.status, StatusCode::GONE);
        assert!(!again.cookies.contains_key(web::pages::SESSION_COOKIE));
        assert_eq!(again.login("bruno@acme.example", "another password 1").await.status, StatusCode::UNAUTHORIZED);
        let mut fresh = Browser::new(t);
        fresh.login_ok("bruno@acme.example").await;

        // The history records the invitation and its acceptance.
        let events = t.app.subject_events(&cast.admin, "contact", bruno).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert!(kinds.contains(&"invited") && kinds.contains(&"invitation_accepted"), "{kinds:?}");

        // Unknown links are 404.
        assert_eq!(Browser::new(t).get("/invite/spt_nothing").await.status, StatusCode::NOT_FOUND);
    }
);

both!(
    async fn a_partner_user_accepts_an_invitation_and_lands_on_the_portal(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut admin, csrf) = logged_in(t, "admin@op.example").await;
        let id = cast.other_partner.user_id.unwrap();
        let page = admin.get(&format!("/admin/users/{id}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let invited = admin.post(&format!("/admin/users/{id}/invite"), &[("csrf", &csrf)]).await;
        assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
        let link = invited.hidden("link");
        let mut b = Browser::new(t);
        let token = b.get(&link).await.hidden("csrf");
        let done = b.post(&link, &[("csrf", &token), ("password", PASSWORD), ("confirmation", PASSWORD)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location(), "/portal");
        assert_eq!(b.get("/portal").await.status, StatusCode::OK);
    }
);

both!(
    async fn an_expired_invitation_is_refused_and_changes_nothing(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let bruno = contact_id(&cast.bruno);
        let inv = t.app.invite(&cast.admin, app::invitations::Invitee::Contact(bruno)).await.unwrap();
        let link = format!("/invite/{}", inv.secret);
        let later = t.app.now() + jiff::SignedDuration::from_hours(8 * 24);
        let app = t.app.clone().with_clock(app::Clock::manual(later));
        let mut b = Browser { router: web::router(app), cookies: HashMap::new(), language: "en" };
        let page = b.get(&link).await;
        assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
        assert!(page.body.contains("expired"), "{}", page.body);
        b.cookies.insert("sportello_invite".into(), "tok".into());
        let post = b.post(&link, &[("csrf", "tok"), ("password", PASSWORD), ("confirmation", PASSWORD)]).await;
        assert_eq!(post.status, StatusCode::GONE);
        let mut tx = t.app.db.read().await.unwrap();
        let row = store::people::contact(&mut tx, bruno).await.unwrap().unwrap();
        assert!(row.password_hash.is_none(), "no password was set");
        drop(tx);
        // Still valid now, on the real clock.
        assert_eq!(Browser::new(t).get(&link).await.status, StatusCode::OK);
    }
);

both!(
    async fn admin_forms_without_the_right_csrf_token_change_nothing(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut b, _csrf) = logged_in(t, "admin@op.example").await;
        let queue = [("slug", "noc"), ("name", "NOC"), ("reference_prefix", "noc")];
        let forged = b.post("/admin/queues/new", &[&[("csrf", "forged")][..], &queue[..]].concat()).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let missing = b.post("/admin/queues/new", &queue).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        assert!(t.app.queue(&cast.admin, "noc").await.is_err());
        let token = b.post("/admin/tokens", &[("csrf", ""), ("name", "x"), ("role", "agent")]).await;
        assert_eq!(token.status, StatusCode::FORBIDDEN);
        assert!(t.app.tokens(&cast.admin).await.unwrap().is_empty());
        let bruno = contact_id(&cast.bruno);
        let invite = b.post(&format!("/admin/contacts/{bruno}/invite"), &[("csrf", "nope")]).await;
        assert_eq!(invite.status, StatusCode::FORBIDDEN);
        let pending = t.app.pending_invitation(&cast.admin, app::invitations::Invitee::Contact(bruno)).await.unwrap();
        assert!(pending.is_none());
        let customer = b.post("/admin/customers/ACME", &[("csrf", "nope"), ("name", "Renamed")]).await;
        assert_eq!(customer.status, StatusCode::FORBIDDEN);
        assert_eq!(t.app.customer(&cast.admin, "ACME").await.unwrap().name, "Customer ACME");
    }
);

both!(
    async fn agents_and_portal_users_are_refused_admin_pages(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let mut anon = Browser::new(t);
        let r = anon.get("/admin").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(r.location().starts_with("/login"));

        let (mut agent, csrf) = logged_in(t, "agent@op.example").await;
        for path in ["/admin", "/admin/queues", "/admin/users", "/admin/tokens", "/admin/customers/new"] {
            assert_eq!(agent.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        let r = agent.post("/admin/queues/new", &[("csrf", &csrf), ("slug", "noc"), ("name", "NOC")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(t.app.queue(&cast.admin, "noc").await.is_err());
        let bruno = contact_id(&cast.bruno);
        let r = agent.post(&format!("/admin/contacts/{bruno}/invite"), &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        let (mut anna, _) = logged_in(t, "anna@acme.example").await;
        let r = anna.get("/admin/users").await;
        assert!(matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{}", r.status);
    }
);

both!(
    async fn portal_users_do_not_get_the_agent_people_pages(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut anna, _) = logged_in(t, "anna@acme.example").await;
        assert_eq!(anna.get("/customers/ACME").await.status, StatusCode::NOT_FOUND);
        assert_eq!(anna.get("/customers").await.status, StatusCode::NOT_FOUND);
        let id = contact_id(&cast.anna);
        assert_eq!(anna.get(&format!("/contacts/{id}")).await.status, StatusCode::NOT_FOUND);
        let (mut partner, _) = logged_in(t, "noc@partner.example").await;
        assert_eq!(partner.get("/customers/LAKE").await.status, StatusCode::NOT_FOUND);
        let pid = match cast.partner.who {
            app::Who::Partner { partner_id } => partner_id,
            _ => unreachable!(),
        };
        assert_eq!(partner.get(&format!("/partners/{pid}")).await.status, StatusCode::NOT_FOUND);
    }
);

both!(
    async fn the_customer_page_lists_contacts_and_tickets_with_names_escaped(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let open = t.ticket(&cast, "support", "Fibra giù a Lecco", "anna@acme.example", "non va").await;
        let closed = t.ticket(&cast, "support", "Fattura doppia", "bruno@acme.example", "due volte").await;
        t.app
            .update_ticket(
                &cast.admin,
                closed.number,
                app::tickets::TicketPatch { status: Some(domain::Status::Resolved), ..Default::default() },
            )
            .await
            .unwrap();
        let other = t.ticket(&cast, "support", "Altro cliente", "dario@other.example", "x").await;

        // The admin renames the customer through the form, with hostile HTML, and makes it VIP.
        let (mut admin, csrf) = logged_in(t, "admin@op.example").await;
        let edit = admin.get("/admin/customers/ACME").await;
        assert_eq!(edit.status, StatusCode::OK, "{}", edit.body);
        let r = admin
            .post("/admin/customers/ACME", &[("csrf", &csrf), ("name", "<script>alert(1)</script>"), ("vip", "1")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), "/customers/ACME");

        let (mut agent, _) = logged_in(t, "agent@op.example").await;
        let page = agent.get("/customers/ACME").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains("<script>alert(1)"), "no live script");
        assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"), "{}", page.body);
        assert!(page.body.contains("anna@acme.example") && page.body.contains("bruno@acme.example"));
        assert!(page.body.contains(&format!("href=\"/tickets/{}\"", open.number)), "{}", page.body);
        assert!(page.body.contains(&open.reference) && page.body.contains(&closed.reference));
        assert!(!page.body.contains(&other.reference), "another customer's ticket is not listed");
        let open_at = page.body.find(&open.reference).unwrap();
        let closed_at = page.body.find(&closed.reference).unwrap();
        assert!(open_at < closed_at, "open tickets come first");
        assert!(page.body.contains("VIP"));
        assert!(!page.body.contains("href=\"/admin/customers/ACME\""), "agents get no admin links");

        let list = agent.get("/customers?q=lake").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("href=\"/customers/LAKE\"") && !list.body.contains("href=\"/customers/ACME\""));
        assert!(list.body.contains("Rete Lario"), "the partner is named: {}", list.body);

        let anna = contact_id(&cast.anna);
        let contact = agent.get(&format!("/contacts/{anna}")).await;
        assert_eq!(contact.status, StatusCode::OK, "{}", contact.body);
        assert!(contact.body.contains(&open.reference) && !contact.body.contains(&closed.reference));
        assert!(contact.body.contains("href=\"/customers/ACME\""));

        let pid = match cast.partner.who {
            app::Who::Partner { partner_id } => partner_id,
            _ => unreachable!(),
        };
        let partner = agent.get(&format!("/partners/{pid}")).await;
        assert_eq!(partner.status, StatusCode::OK, "{}", partner.body);
        assert!(partner.body.contains("href=\"/customers/LAKE\"") && !partner.body.contains("/customers/ACME"));
        assert_eq!(agent.get("/customers/NOPE").await.status, StatusCode::NOT_FOUND);
    }
);

both!(
    async fn admin_manages_users_rights_partners_customers_and_contacts(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut b, csrf) = logged_in(t, "admin@op.example").await;

        // A partner, then a customer of it, then a contact of that customer.
        let r =
            b.post("/admin/partners/new", &[("csrf", &csrf), ("name", "Valle Net"), ("kind", "multi_utility")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let partner = t.app.partners(&cast.admin).await.unwrap().into_iter().find(|p| p.name == "Valle Net").unwrap();
        assert_eq!(r.location(), format!("/partners/{}", partner.id));
        let r = b
            .post(
                &format!("/admin/partners/{}", partner.id),
                &[("csrf", &csrf), ("name", "Valle Net srl"), ("kind", "msp")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(t.app.partner(&cast.admin, partner.id).await.unwrap().name, "Valle Net srl");
        assert!(b.get("/admin/partners").await.body.contains("Valle Net srl"));

        let pid = partner.id.to_string();
        let r = b
            .post(
                "/admin/customers/new",
                &[("csrf", &csrf), ("code", "VALLE"), ("name", "Comune di Valle"), ("partner_id", &pid), ("vip", "1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let c = t.app.customer(&cast.admin, "VALLE").await.unwrap();
        assert!(c.vip && c.partner_id == Some(partner.id));
        let dup = b.post("/admin/customers/new", &[("csrf", &csrf), ("code", "VALLE"), ("name", "Again")]).await;
        assert_eq!(dup.status, StatusCode::BAD_REQUEST, "{}", dup.body);
        assert!(dup.body.contains("value=\"Again\""));

        let bad = b
            .post(
                "/admin/contacts/new",
                &[
                    ("csrf", &csrf),
                    ("email", "not an email"),
                    ("name", "Elena"),
                    ("language", "it"),
                    ("customer", "VALLE"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("value=\"Elena\"") && bad.body.contains("value=\"not an email\""));
        let r = b
            .post(
                "/admin/contacts/new",
                &[
                    ("csrf", &csrf),
                    ("email", "elena@valle.example"),
                    ("name", "Elena"),
                    ("language", "it"),
                    ("customer", "VALLE"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let contacts = b.get("/admin/contacts?customer=VALLE").await;
        assert!(contacts.body.contains("elena@valle.example"), "{}", contacts.body);
        let elena = t.app.contacts(&cast.admin, Some("VALLE")).await.unwrap().remove(0);
        let r = b
            .post(
                &format!("/admin/contacts/{}", elena.id),
                &[
                    ("csrf", &csrf),
                    ("email", "elena@valle.example"),
                    ("name", "Elena B."),
                    ("phone", "+39 0341 000"),
                    ("language", "ca"),
                    ("customer", "VALLE"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let elena = t.app.contact(&cast.admin, elena.id).await.unwrap();
        assert_eq!((elena.name.as_str(), elena.language.as_str()), ("Elena B.", "ca"));

        // A partner user, and an agent with rights set by checkboxes.
        let r = b
            .post(
                "/admin/users/new",
                &[
                    ("csrf", &csrf),
                    ("email", "noc@valle.example"),
                    ("name", "Valle NOC"),
                    ("role", "partner"),
                    ("partner_id", &pid),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let users = t.app.users(&cast.admin).await.unwrap();
        let u = users.iter().find(|u| u.email == "noc@valle.example").unwrap();
        assert_eq!((u.role, u.partner_id), (domain::Role::Partner, Some(partner.id)));
        let bad = b
            .post("/admin/users/new", &[("csrf", &csrf), ("email", "x@op.example"), ("name", "X"), ("role", "partner")])
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "a partner user needs a partner: {}", bad.body);

        let agent = cast.viewer.user_id.unwrap();
        let page = b.get(&format!("/admin/users/{agent}")).await;
        assert!(page.body.contains("name=\"see-support\""), "{}", page.body);
        let r = b
            .post(
                &format!("/admin/users/{agent}/rights"),
                &[("csrf", &csrf), ("see-treasury", "1"), ("comment-treasury", "1"), ("reply-support", "1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let v = t.app.user(&cast.admin, agent).await.unwrap();
        assert_eq!(v.rights["treasury"], domain::QueueRights { see: true, comment: true, ..Default::default() });
        assert_eq!(v.rights["support"], domain::QueueRights { reply: true, ..Default::default() });
        let r = b
            .post(
                &format!("/admin/users/{agent}"),
                &[("csrf", &csrf), ("email", "viewer@op.example"), ("name", "Vera"), ("role", "agent")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let v = t.app.user(&cast.admin, agent).await.unwrap();
        assert_eq!((v.name.as_str(), v.active), ("Vera", false));
    }
);

both!(
    async fn admin_email_page_sets_queue_policies_mailboxes_quarantine_and_templates(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut b, csrf) = logged_in(t, "admin@op.example").await;
        let page = b.get("/admin/email").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for section in ["id=\"queues\"", "id=\"imap\"", "id=\"quarantine\"", "id=\"templates\""] {
            assert!(page.body.contains(section), "{section}");
        }

        // Queue policies: saved, or refused with the field named and nothing changed.
        let ok = b
            .post(
                "/admin/email/queues/support",
                &[
                    ("csrf", &csrf),
                    ("address", "support@op.example"),
                    ("comment_address", ""),
                    ("unknown_sender", "refuse"),
                    ("stranger_reply", "comment"),
                    ("mask_sensitive", "on"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let m = t.app.queue_mail(&cast.admin, "support").await.unwrap();
        assert_eq!(
            (m.address.as_deref(), m.unknown_sender.as_str(), m.mask_sensitive),
            (Some("support@op.example"), "refuse", true)
        );
        let bad = b
            .post(
                "/admin/email/queues/support",
                &[
                    ("csrf", &csrf),
                    ("address", "not an address"),
                    ("unknown_sender", "refuse"),
                    ("stranger_reply", "comment"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("address"));
        assert_eq!(
            t.app.queue_mail(&cast.admin, "support").await.unwrap().address.as_deref(),
            Some("support@op.example")
        );
        // Without the CSRF token nothing changes.
        let forged = b
            .post(
                "/admin/email/queues/support",
                &[("address", "evil@op.example"), ("unknown_sender", "create"), ("stranger_reply", "comment")],
            )
            .await;
        assert_ne!(forged.status, StatusCode::SEE_OTHER);
        assert_eq!(
            t.app.queue_mail(&cast.admin, "support").await.unwrap().address.as_deref(),
            Some("support@op.example")
        );

        // A mailbox: added (password never shown back), listed, polled now, deleted.
        let added = b
            .post(
                "/admin/email/imap",
                &[
                    ("csrf", &csrf),
                    ("name", "support-imap"),
                    ("host", "imap.op.example"),
                    ("port", ""),
                    ("security", "tls"),
                    ("username", "support"),
                    ("password", "hunter2-secret"),
                    ("folder", ""),
                    ("done_folder", "Done"),
                    ("queue", "support"),
                    ("action", "correspond"),
                ],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let page = b.get("/admin/email").await;
        assert!(page.body.contains("support@imap.op.example:993") && !page.body.contains("hunter2"), "{}", page.body);
        let id = t.app.imap_mailboxes(&cast.admin).await.unwrap()[0].id;
        assert_eq!(
            b.post(&format!("/admin/email/imap/{id}/poll"), &[("csrf", &csrf)]).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            b.post(&format!("/admin/email/imap/{id}/delete"), &[("csrf", &csrf)]).await.status,
            StatusCode::SEE_OTHER
        );
        assert!(t.app.imap_mailboxes(&cast.admin).await.unwrap().is_empty());

        // The quarantine: an unreadable message is listed with its reason, downloaded, discarded.
        let to = app::mail::Delivery::Address("support@op.example".into());
        let d = mail::deliver::deliver(&t.app, b"\xff\xfe<script>x</script>", &to).await.unwrap();
        let mail::deliver::Delivered::Malformed(q) = d else { panic!("{d:?}") };
        let page = b.get("/admin/email").await;
        assert!(
            page.body.contains(&format!("/admin/email/quarantine/{q}/raw"))
                && page.body.contains("Not readable as email")
        );
        assert!(!page.body.contains("<script>x"), "escaped");
        let raw = b.get(&format!("/admin/email/quarantine/{q}/raw")).await;
        assert_eq!(raw.status, StatusCode::OK);
        assert_eq!(
            b.post(&format!("/admin/email/quarantine/{q}/discard"), &[("csrf", &csrf)]).await.status,
            StatusCode::SEE_OTHER
        );
        assert!(!b.get("/admin/email").await.body.contains(&format!("/admin/email/quarantine/{q}/raw")));

        // A template: previewed on sample data without saving, refused when broken, saved, reset.
        let path = "/admin/email/templates/it/ack";
        assert_eq!(b.get(path).await.status, StatusCode::OK);
        let preview = b
            .post(
                path,
                &[
                    ("csrf", &csrf),
                    ("action", "preview"),
                    ("subject", "Presa in carico"),
                    ("body", "Ticket {{ ticket.reference }} per {{ recipient.name }}"),
                ],
            )
            .await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        assert!(preview.body.contains("Ticket support#310"), "{}", preview.body);
        assert!(!t.app.mail_template(&cast.admin, "ack", "it").await.unwrap().overridden);
        let broken = b.post(path, &[("csrf", &csrf), ("action", "save"), ("subject", "x"), ("body", "{% if %}")]).await;
        assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{}", broken.body);
        let saved = b
            .post(path, &[("csrf", &csrf), ("action", "save"), ("subject", "Presa in carico"), ("body", "Grazie")])
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert!(t.app.mail_template(&cast.admin, "ack", "it").await.unwrap().overridden);
        let reset = b.post(path, &[("csrf", &csrf), ("action", "reset"), ("subject", ""), ("body", "")]).await;
        assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
        assert!(!t.app.mail_template(&cast.admin, "ack", "it").await.unwrap().overridden);

        // Agents are not admins.
        let (mut agent, _) = logged_in(t, "agent@op.example").await;
        assert_eq!(agent.get("/admin/email").await.status, StatusCode::FORBIDDEN);
        assert_eq!(agent.get(path).await.status, StatusCode::FORBIDDEN);
    }
);

/// The calendar form's fields: a name, Europe/Rome and the same hours from Monday to Friday.
fn calendar_form<'a>(csrf: &'a str, slug: &'a str, weekdays: &'a str, wednesday: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("slug", slug),
        ("name", "Ufficio di Como"),
        ("time_zone", "Europe/Rome"),
        ("monday", weekdays),
        ("tuesday", weekdays),
        ("wednesday", wednesday),
        ("thursday", weekdays),
        ("friday", weekdays),
        ("saturday", ""),
        ("sunday", ""),
        ("holidays", "12-25, easter+1\r\n08-31"),
    ]
}

both!(
    async fn admin_edits_calendars_levels_and_contracts_on_the_sla_pages(t: &Ctx) {
        let cast = cast_with_passwords(t).await;
        let (mut b, csrf) = logged_in(t, "admin@op.example").await;
        assert!(b.get("/admin").await.body.contains("href=\"/admin/sla\""));
        let page = b.get("/admin/sla").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("Office hours (Italy)") && page.body.contains("href=\"/admin/sla/levels/extended\"")
        );
        let before = t.app.calendars(&cast.admin).await.unwrap().len();

        // A calendar through the form.
        let hours = "08:30-12:30, 13:30-17:30";
        let saved = b.post("/admin/sla/calendars/new", &calendar_form(&csrf, "como", hours, hours)).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let como = t.app.calendars(&cast.admin).await.unwrap().into_iter().find(|c| c.slug == "como").unwrap();
        assert_eq!(como.week[2].1, vec!["08:30-12:30", "13:30-17:30"]);
        assert_eq!(como.holidays, vec!["12-25", "easter+1", "08-31"]);
        let edit = b.get("/admin/sla/calendars/como").await;
        assert!(edit.body.contains("value=\"08:30-12:30, 13:30-17:30\""), "{}", edit.body);

        // Overlapping intervals: the form again with the app's problem naming the field; nothing saved.
        let bad =
            b.post("/admin/sla/calendars/new", &calendar_form(&csrf, "lecco", hours, "09:00-13:00, 12:00-18:00")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("<strong>week</strong>") && bad.body.contains("overlap"), "{}", bad.body);
        assert!(bad.body.contains("value=\"09:00-13:00, 12:00-18:00\""), "what was typed stays");
        let forged = b.post("/admin/sla/calendars/new", &calendar_form("forged", "lecco", hours, hours)).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let calendars = t.app.calendars(&cast.admin).await.unwrap();
        assert_eq!(calendars.len(), before + 1);
        assert!(calendars.iter().all(|c| c.slug != "lecco"));

        // A support level on it.
        let level = [
            ("csrf", csrf.as_str()),
            ("slug", "como-gold"),
            ("name", "Como Gold"),
            ("calendar", "como"),
            ("intervention_blocking", "120"),
            ("intervention_non_blocking", "240"),
            ("restoration_blocking", "240"),
            ("restoration_non_blocking", "480"),
            ("warn_percent", "80"),
            ("pause_statuses", "stalled"),
            ("escalation_queue", "treasury"),
            ("escalation_raise", "10"),
            ("service_request_intervention", "480"),
            ("service_request_restoration", "960"),
            ("order_intervention", ""),
            ("order_restoration", ""),
        ];
        let saved = b.post("/admin/sla/levels/new", &level).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let gold =
            t.app.support_levels(&cast.admin).await.unwrap().into_iter().find(|l| l.slug == "como-gold").unwrap();
        assert_eq!((gold.intervention_minutes, gold.escalation_queue.as_deref()), ((120, 240), Some("treasury")));
        let promised: Vec<_> = gold.category_minutes.iter().map(|(c, m)| (c.as_str(), *m)).collect();
        assert_eq!(promised, [("service_request", (480, 960))], "an empty row promises nothing");
        let form = b.get("/admin/sla/levels/como-gold").await;
        assert!(
            form.body.contains(r#"name="service_request_intervention" type="number" min="1" value="480""#),
            "{}",
            form.body
        );

        // A contract through the form shows on the customer page; before, support on request.
        let other = b.get("/customers/OTHER").await;
        assert!(other.body.contains("Support on request"), "{}", other.body);
        let contract = [
            ("csrf", csrf.as_str()),
            ("customer", "OTHER"),
            ("partner_id", ""),
            ("level", "como-gold"),
            ("valid_from", "2020-01-01"),
            ("valid_until", ""),
            ("included_minutes", "600"),
            ("evo", "1"),
        ];
        let mut unknown_level = contract.to_vec();
        unknown_level[3] = ("level", "platinum");
        let bad = b.post("/admin/sla/contracts", &unknown_level).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert!(bad.body.contains("<strong>level</strong>"), "{}", bad.body);
        assert!(t.app.contracts(&cast.admin).await.unwrap().is_empty());
        let added = b.post("/admin/sla/contracts", &contract).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        assert_eq!(added.location(), "/customers/OTHER");
        let page = b.get("/customers/OTHER").await;
        assert!(!page.body.contains("Support on request"), "{}", page.body);
        let contract_section = page.body.split("id=\"contract\"").nth(1).unwrap().split("</section>").next().unwrap();
        for shown in ["Como Gold", "badge evo", "from 2020-01-01", "with no end date", "10 h"] {
            assert!(contract_section.contains(shown), "{shown}: {contract_section}");
        }
        // Ended today, it is still in force today; deleted, support on request again.
        let id = t.app.contracts(&cast.admin).await.unwrap()[0].id;
        let ended = b.post(&format!("/admin/sla/contracts/{id}/end"), &[("csrf", &csrf)]).await;
        assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
        assert!(t.app.contract(&cast.admin, id).await.unwrap().valid_until.is_some());
        let gone = b.post(&format!("/admin/sla/contracts/{id}/delete"), &[("csrf", &csrf)]).await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.body);
        assert!(b.get("/customers/OTHER").await.body.contains("Support on request"));
        // A calendar in use by a level is not deleted: the overview says why.
        let used = b.post("/admin/sla/calendars/como/delete", &[("csrf", &csrf)]).await;
        assert_eq!(used.status, StatusCode::BAD_REQUEST, "{}", used.body);
        assert!(used.body.contains("used by"), "{}", used.body);

        // The monthly time report: a table and a CSV download.
        let report = b.get("/admin/sla?month=2026-11").await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.body);
        assert!(report.body.contains("href=\"/admin/sla/time.csv?month=2026-11\""), "{}", report.body);
        let csv = b.get("/admin/sla/time.csv?month=2026-11").await;
        assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
        assert_eq!(csv.headers["content-type"], "text/csv");
        assert!(csv.headers["content-disposition"].to_str().unwrap().contains("time-2026-11.csv"));
        assert!(csv.body.starts_with("customer,name,level,"), "{}", csv.body);
        assert_eq!(b.get("/admin/sla/time.csv?month=2026-13").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(b.get("/admin/sla?month=nope").await.status, StatusCode::BAD_REQUEST);

        // Agents are not admins.
        let (mut agent, _) = logged_in(t, "agent@op.example").await;
        assert_eq!(agent.get("/admin/sla").await.status, StatusCode::FORBIDDEN);
        assert_eq!(agent.get("/admin/sla/time.csv").await.status, StatusCode::FORBIDDEN);
    }
);
