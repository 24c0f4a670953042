//! The pages: login, sessions, CSRF, the agent home and the portal home, translations.

use axum::http::{StatusCode, header};

use crate::client::*;
use crate::harness::*;

both!(
    async fn agent_logs_in_sees_home_and_logs_out_with_csrf(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let hostile = t
            .app
            .create_ticket(
                &cast.admin,
                app::tickets::NewTicketInput {
                    queue: "support".into(),
                    title: "<script>alert('x')</script> fibra giù".into(),
                    requestors: vec!["anna@acme.example".into()],
                    owner: Some("agent@op.example".into()),
                    body: "non va".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut b = Browser::new(t);
        let first = b.get("/").await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        assert_eq!(first.location(), "/login?next=/");

        let wrong = b.login("agent@op.example", "not the password").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("Wrong email or password"), "{}", wrong.body);
        assert!(!b.cookies.contains_key(web::pages::SESSION_COOKIE));

        // A login form posted without its own token (a forged cross-site login) is refused.
        let forged =
            b.post("/login", &[("csrf", "forged"), ("email", "agent@op.example"), ("password", PASSWORD)]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);

        let ok = b.login("agent@op.example", PASSWORD).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        assert_eq!(ok.location(), "/");
        let set: Vec<&str> = ok.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        let session = set.iter().find(|c| c.starts_with("sportello_session=")).unwrap();
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
        let first_token = b.cookies[web::pages::SESSION_COOKIE].clone();

        let home = b.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        assert!(home.body.contains(&hostile.reference), "my ticket is listed");
        assert!(home.body.contains("&#60;script&#62;") || home.body.contains("&lt;script&gt;"), "the title is escaped");
        assert!(!home.body.contains("<script>alert"), "no live script");
        let csp = home.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");

        // Logging in again (with the old cookie still sent) rotates the session: the old token
        // stops working.
        b.cookies.remove(web::pages::SESSION_COOKIE);
        let csrf = b.get("/login").await.hidden("csrf");
        b.cookies.insert(web::pages::SESSION_COOKIE.into(), first_token.clone());
        let again = b.post("/login", &[("csrf", &csrf), ("email", "agent@op.example"), ("password", PASSWORD)]).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        assert_ne!(b.cookies[web::pages::SESSION_COOKIE], first_token);
        assert!(t.app.session(&first_token).await.unwrap().is_none());

        // A new password ends the sessions opened with the old one.
        let live = b.cookies[web::pages::SESSION_COOKIE].clone();
        assert!(t.app.session(&live).await.unwrap().is_some());
        t.app.set_password(&cast.admin, cast.agent.user_id.unwrap(), "another long password").await.unwrap();
        assert!(t.app.session(&live).await.unwrap().is_none());
        assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
        b.login("agent@op.example", "another long password").await;

        // Logout needs the session's CSRF token.
        let csrf = b.get("/").await.hidden("csrf");
        let forged = b.post("/logout", &[("csrf", "nope")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(b.get("/").await.status, StatusCode::OK, "still signed in");
        let out = b.post("/logout", &[("csrf", &csrf)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER, "signed out");
    }
);

both!(
    async fn failed_logins_are_limited_per_account(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let mut b = Browser::new(t);
        for _ in 0..app::sessions::MAX_FAILURES_PER_ACCOUNT {
            assert_eq!(b.login("agent@op.example", "guess guess guess").await.status, StatusCode::UNAUTHORIZED);
        }
        let limited = b.login("agent@op.example", PASSWORD).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.body.contains("Too many failed attempts"), "{}", limited.body);
        assert!(!b.cookies.contains_key(web::pages::SESSION_COOKIE));
        // Another account is not affected.
        let other = b.login("noc@partner.example", PASSWORD).await;
        assert_eq!(other.status, StatusCode::SEE_OTHER);
        assert_eq!(other.location(), "/portal", "partner users go to the portal");
    }
);

both!(
    async fn contact_sees_own_tickets_on_the_portal_in_their_language(t: &Ctx) {
        let cast = t.seed().await;
        with_passwords(t, &cast).await;
        let mine = t.ticket(&cast, "support", "Linea lenta a Valbrona", "anna@acme.example", "lenta").await;
        let theirs = t.ticket(&cast, "support", "Fax muto", "dario@other.example", "muto").await;
        let mut b = Browser::new(t);
        b.language = "en-GB,en;q=0.8";
        let ok = b.login("anna@acme.example", PASSWORD).await;
        assert_eq!(ok.location(), "/portal");
        let portal = b.get("/portal").await;
        assert_eq!(portal.status, StatusCode::OK);
        // Anna's own setting (Italian) wins over the browser's English.
        assert!(portal.body.contains("<html lang=\"it\">"), "{}", portal.body);
        assert!(portal.body.contains("I miei ticket") && portal.body.contains("Avvisi sulle tue linee"));
        assert!(portal.body.contains(&mine.reference));
        assert!(!portal.body.contains(&theirs.reference), "another customer's ticket is not shown");
        // The agent console is not for customers.
        assert_eq!(b.get("/").await.location(), "/portal");
    }
);

#[test]
fn every_locale_has_every_key_and_pages_use_only_known_keys() {
    let en_list = web::pages::i18n::keys("en");
    let en: std::collections::BTreeSet<String> = en_list.iter().cloned().collect();
    assert!(en.len() > 30);
    for (code, _) in web::pages::i18n::LOCALES {
        let list = web::pages::i18n::keys(code);
        let keys: std::collections::BTreeSet<String> = list.iter().cloned().collect();
        assert_eq!(keys.len(), list.len(), "locale {code} defines a key twice");
        assert_eq!(keys, en, "locale {code} differs from en");
    }
    // Every key that templates and page handlers ask for exists.
    let web_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    let mut files = Vec::new();
    let mut dirs = vec![web_dir.join("templates"), web_dir.join("src/pages")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let mut seen = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for part in text.split("tr.t(\"").skip(1).chain(text.split("tr.t1(\"").skip(1)) {
            let key = part.split('"').next().unwrap();
            assert!(en.contains(key), "key {key} used in {} is missing from the locales", path.display());
            seen += 1;
        }
    }
    assert!(seen > 30);
}

#[test]
fn language_comes_from_the_setting_then_the_browser_then_the_default() {
    use web::pages::i18n::negotiate;
    assert_eq!(negotiate(Some("ca"), Some("it"), "en"), "ca");
    assert_eq!(negotiate(None, Some("fr-FR, it;q=0.8, en;q=0.5"), "en"), "it");
    assert_eq!(negotiate(Some("de"), Some("de-DE"), "it"), "it");
    assert_eq!(negotiate(None, None, "ca"), "ca");
}
