//! Real-browser tests: headless Chromium, driven over W3C WebDriver (`chromedriver`) by the small
//! blocking client below (on `ureq`), against the real router on a real TCP port. They cover
//! what the in-process `client::Browser` cannot: the forms as a browser submits them (select,
//! type, click), `app.js` running under the page's CSP, text that must stay text, and that no
//! request leaves the origin. Scenarios: an agent searches, opens and replies with a status
//! change; a contact opens a ticket and sees public replies only, and not another customer's
//! ticket; a partner user sees its customers' tickets and filters them; Italian pages; a hostile
//! title. Screenshots go to `target/screenshots/<scenario>-<page>.png`.
//!
//! They run on SQLite only: storage on both backends is covered by the other modules. Without
//! `chromedriver` on `PATH` they print "skipped: no chromedriver" and pass, except in CI (`CI`
//! set, or `SPORTELLO_REQUIRE_BROWSER=1`), where they fail.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::tickets::{MessageInput, NewTicketInput};
use base64::Engine;
use domain::MessageKind;
use serde_json::{Value, json};

use crate::client::{PASSWORD, with_passwords};
use crate::harness::*;

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for an element or a page.
const WAIT: Duration = Duration::from_secs(20);

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn browser_required() -> bool {
    let ci = std::env::var("CI").map(|v| !v.is_empty() && v != "0" && v != "false").unwrap_or(false);
    ci || std::env::var("SPORTELLO_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// A `chromedriver` child process, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts `chromedriver` on a free port; `None` (after saying so) when there is none and
    /// the browser is not required.
    fn start(scenario: &str) -> Option<Driver> {
        let Some(exe) = on_path("chromedriver") else {
            assert!(
                !browser_required(),
                "chromedriver is not on PATH, and the browser tests are required here (CI or SPORTELLO_REQUIRE_BROWSER=1)"
            );
            eprintln!("browser::{scenario}: skipped: no chromedriver on PATH");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let http = agent();
        let start = Instant::now();
        loop {
            let ready = http
                .get(format!("{}/status", driver.url))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                return Some(driver);
            }
            assert!(start.elapsed() < WAIT, "chromedriver did not start on port {port}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A WebDriver error: its `error` code and message.
#[derive(Debug)]
struct WdError {
    error: String,
    message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// One headless Chromium session on the test's server. Dropping it ends the session (which
/// closes the browser), then stops `chromedriver`.
struct Chrome {
    http: ureq::Agent,
    session: String,
    origin: String,
    scenario: &'static str,
    _driver: Driver,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.session).call();
    }
}

impl Chrome {
    fn open(driver: Driver, origin: &str, scenario: &'static str) -> Chrome {
        let http = agent();
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--lang=en-US"],
            "prefs": {"intl.accept_languages": "en-US,en"},
        });
        if let Some(chromium) = on_path("chromium") {
            options["binary"] = json!(chromium);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let mut r = http.post(format!("{}/session", driver.url)).send_json(caps).unwrap();
        let v: Value = r.body_mut().read_json().unwrap();
        let id = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {v}")).to_owned();
        let chrome = Chrome {
            http,
            session: format!("{}/session/{id}", driver.url),
            origin: origin.to_owned(),
            scenario,
            _driver: driver,
        };
        chrome.call("POST", "/timeouts", Some(json!({"pageLoad": 20_000, "script": 10_000}))).unwrap();
        chrome
    }

    /// One WebDriver command; `path` is relative to the session.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.session);
        let mut r = match (method, body) {
            ("GET", _) => self.http.get(&url).call(),
            ("DELETE", _) => self.http.delete(&url).call(),
            (_, body) => self.http.post(&url).send_json(body.unwrap_or_else(|| json!({}))),
        }
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let ok = r.status().is_success();
        let v: Value = r.body_mut().read_json().unwrap();
        let value = v["value"].clone();
        if ok {
            Ok(value)
        } else {
            Err(WdError {
                error: value["error"].as_str().unwrap_or("?").to_owned(),
                message: value["message"].as_str().unwrap_or("").lines().next().unwrap_or("").to_owned(),
            })
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, path, body).unwrap_or_else(|e| panic!("{}: WebDriver {method} {path}: {e}", self.scenario))
    }

    /// Opens `path` on the server.
    fn go(&self, path: &str) {
        self.cmd("POST", "/url", Some(json!({"url": format!("{}{path}", self.origin)})));
    }

    fn refresh(&self) {
        self.cmd("POST", "/refresh", None);
    }

    /// The path (and query) of the current page.
    fn path(&self) -> String {
        let url = self.cmd("GET", "/url", None).as_str().unwrap().to_owned();
        url.strip_prefix(&self.origin).unwrap_or(&url).to_owned()
    }

    fn title(&self) -> String {
        self.cmd("GET", "/title", None).as_str().unwrap().to_owned()
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None).as_str().unwrap().to_owned()
    }

    /// The elements matching `css` now (no waiting).
    fn all(&self, css: &str) -> Vec<String> {
        let found = self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        found.as_array().unwrap().iter().map(|e| e[ELEMENT].as_str().unwrap().to_owned()).collect()
    }

    /// The first element matching `css`, waiting for it to appear.
    fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            match self.call("POST", "/element", Some(json!({"using": "css selector", "value": css}))) {
                Ok(e) => return e[ELEMENT].as_str().unwrap().to_owned(),
                Err(e) if e.error == "no such element" && start.elapsed() < WAIT => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("{}: no {css} on {}: {e}", self.scenario, self.path()),
            }
        }
    }

    fn click(&self, css: &str) {
        let el = self.find(css);
        self.cmd("POST", &format!("/element/{el}/click"), None);
    }

    /// Types `text` into the field `css` (after clearing it).
    fn fill(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.cmd("POST", &format!("/element/{el}/clear"), None);
        self.cmd("POST", &format!("/element/{el}/value"), Some(json!({"text": text})));
    }

    /// The rendered text of the first element matching `css`.
    /// The text of the first element matching `css`. An element replaced between finding it and
    /// reading it (the page still settling after a navigation) is found again.
    fn text(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let el = self.find(css);
            match self.call("GET", &format!("/element/{el}/text"), None) {
                Ok(v) => return v.as_str().unwrap().to_owned(),
                Err(e) if e.error == "stale element reference" && start.elapsed() < WAIT => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("{}: text of {css} on {}: {e}", self.scenario, self.path()),
            }
        }
    }

    /// Runs `script` (a function body) in the page and returns its value.
    fn exec(&self, script: &str) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// Does `act` (a click or a key that leaves the page) and waits until a new document has
    /// loaded in place of the old one; returns its path. The path alone does not tell: it changes
    /// as soon as the navigation commits, before the new page is there to read, and a form posted
    /// back to its own page keeps it. The old document carries a mark the new one lacks.
    fn navigate(&self, what: &str, act: impl FnOnce()) -> String {
        self.exec("window.sportelloLeft = true;");
        act();
        let probe = json!({
            "script": "return document.readyState === 'complete' && window.sportelloLeft === undefined;",
            "args": [],
        });
        let start = Instant::now();
        loop {
            // While the navigation is under way the script may fail (no document yet): not there.
            if let Ok(Value::Bool(true)) = self.call("POST", "/execute/sync", Some(probe.clone())) {
                return self.path();
            }
            assert!(
                start.elapsed() < WAIT,
                "{}: still on the old page of {}, waiting for {what}",
                self.scenario,
                self.path()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Saves a screenshot of the top of the page as `target/screenshots/<scenario>-<page>.png`.
    fn screenshot(&self, page: &str) {
        self.exec("window.scrollTo(0, 0)");
        let png = self.cmd("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}-{page}.png", self.scenario)), bytes).unwrap();
    }

    /// Logs in through the form and waits to leave it.
    fn login(&self, email: &str) {
        self.go("/login");
        self.fill("#email", email);
        self.fill("#password", PASSWORD);
        let to = self.navigate("the login", || self.click("form[action=\"/login\"] button[type=submit]"));
        assert!(!to.starts_with("/login"), "{}: the login of {email} failed: {}", self.scenario, self.text("main"));
    }

    /// Forgets the session cookie (a fresh visitor).
    fn logout(&self) {
        self.cmd("DELETE", "/cookie", None);
    }
}

/// Serves the real router on a real port; returns the origin (`http://127.0.0.1:N`).
async fn serve(t: &Ctx) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let service = web::router(t.app.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    (origin, server)
}

/// Runs blocking WebDriver calls without holding up the runtime.
fn web<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

fn message(kind: MessageKind, body: &str) -> MessageInput {
    MessageInput {
        kind,
        body: body.into(),
        body_html: None,
        attachments: vec![],
        status: None,
        owner: None,
        time: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_searches_opens_and_replies_changing_the_status() {
    let Some(driver) = Driver::start("agent-reply") else { return };
    let t = Ctx::sqlite().await;
    let cast = t.seed().await;
    with_passwords(&t, &cast).await;
    let wanted =
        t.ticket(&cast, "support", "Sede di Como senza linea", "anna@acme.example", "Il router lampeggia rosso").await;
    let other = t.ticket(&cast, "support", "Fattura doppia", "bruno@acme.example", "Due addebiti a marzo").await;
    let (origin, server) = serve(&t).await;
    web(|| {
        let b = Chrome::open(driver, &origin, "agent-reply");
        b.login("agent@op.example");
        b.go("/tickets");
        assert_eq!(b.all("#ticket-list tr[data-number]").len(), 2, "both tickets are in the queue view");
        let to = b.navigate("the search", || b.fill("#q", "lampeggia\u{E007}"));
        assert!(to.contains("q=lampeggia"), "{to}");
        let rows = b.all("#ticket-list tbody tr[data-number]");
        assert_eq!(rows.len(), 1, "one result for a word of the body: {}", b.text("#ticket-list"));
        let listed = b.text("#ticket-list tbody");
        assert!(listed.contains(&wanted.reference) && !listed.contains(&other.reference), "{listed}");
        b.screenshot("search");

        let link = format!("#ticket-list tr[data-number=\"{}\"] a[href=\"/tickets/{}\"]", wanted.number, wanted.number);
        let page = format!("/tickets/{}", wanted.number);
        assert_eq!(b.navigate("the ticket page", || b.click(&link)), page);
        assert!(b.text("h1").contains("Sede di Como senza linea"));
        b.fill("#reply-body", "Abbiamo sostituito il router: ci confermate che la linea è tornata?");
        b.click("#reply-status option[value=\"stalled\"]");
        // The form posts back to the ticket page: its path does not change, its document does.
        let to = b.navigate("the reply to be saved", || b.click("form.compose.reply button[type=submit]"));
        assert!(to.starts_with(&page), "{to}");
        let history = b.text("ol.history");
        assert!(history.contains("Replied"), "{history}");
        assert!(history.contains("Status:") && history.contains("→ Stalled"), "the status change: {history}");
        assert_eq!(b.text(".ticket-head .status"), "Stalled");
        let thread = b.text("section.thread");
        assert!(thread.contains("Abbiamo sostituito il router: ci confermate che la linea è tornata?"), "{thread}");
        b.screenshot("ticket");
    });
    let view = t.app.ticket(&cast.agent, wanted.number).await.unwrap();
    assert_eq!(view.status, domain::Status::Stalled);
    server.abort();
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_opens_a_ticket_sees_public_replies_only_and_not_others_tickets() {
    let Some(driver) = Driver::start("contact") else { return };
    let t = Ctx::sqlite().await;
    let cast = t.seed().await;
    with_passwords(&t, &cast).await;
    let dario = t.ticket(&cast, "support", "Segreto di OTHER", "dario@other.example", "solo per dario").await;
    let (origin, server) = serve(&t).await;
    let b = Chrome::open(driver, &origin, "contact");
    let n: i64 = web(|| {
        b.login("anna@acme.example");
        b.go("/portal/tickets/new");
        b.click("#category option[value=\"non_blocking_fault\"]");
        b.fill("#title", "Linea lenta in magazzino");
        b.fill("#body", "Da ieri la linea va a 2 Mbit/s.");
        b.screenshot("new-ticket");
        let path = b.navigate("the new ticket", || b.click("form.portal-form button[type=submit]"));
        assert!(path.starts_with("/portal/tickets/") && !path.ends_with("/new"), "{path}: {}", b.text("main"));
        path.rsplit('/').next().unwrap().parse().unwrap()
    });
    let view = t.app.ticket(&cast.agent, n).await.unwrap();
    assert_eq!(view.customer.as_ref().unwrap().code, "ACME");
    assert_eq!(view.category, domain::Category::NonBlockingFault);
    t.app.add_message(&cast.agent, n, message(MessageKind::Reply, "Abbiamo riavviato la porta.")).await.unwrap();
    t.app.add_message(&cast.agent, n, message(MessageKind::Comment, "NOTA INTERNA: cliente moroso")).await.unwrap();
    web(|| {
        b.refresh();
        let thread = b.text("section[aria-labelledby=thread]");
        assert!(thread.contains("Da ieri la linea va a 2 Mbit/s."), "{thread}");
        assert!(thread.contains("Abbiamo riavviato la porta."), "the public reply: {thread}");
        assert!(!b.source().contains("NOTA INTERNA"), "the internal comment is not on the page");
        b.screenshot("ticket");

        b.go(&format!("/portal/tickets/{}", dario.number));
        // WebDriver shows no status code: the page is the error page, in anna's language.
        assert!(b.title().starts_with("Qualcosa è andato storto"), "{}", b.title());
        assert!(b.text("main").contains("Questa pagina non esiste, oppure non puoi vederla."));
        let source = b.source();
        assert!(
            !source.contains("Segreto di OTHER") && !source.contains(&dario.reference),
            "nothing of dario's ticket"
        );
        b.screenshot("not-found");
    });
    web(|| drop(b));
    server.abort();
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_user_sees_its_customers_tickets_and_filters_them() {
    let Some(driver) = Driver::start("partner") else { return };
    let t = Ctx::sqlite().await;
    let cast = t.seed().await;
    with_passwords(&t, &cast).await;
    let app::Who::Partner { partner_id } = cast.partner.who else { panic!("not a partner user") };
    let input = app::admin::CustomerInput {
        code: "COMO".into(),
        name: "Customer COMO".into(),
        vip: false,
        partner_id: Some(partner_id),
    };
    t.app.create_customer(&t.system(), input).await.unwrap();
    let lake = t.ticket(&cast, "support", "Ponte radio Lecco giù", "carla@lake.example", "giù").await;
    let como = t
        .app
        .create_ticket(
            &cast.admin,
            NewTicketInput {
                queue: "support".into(),
                title: "Fibra Como in ritardo".into(),
                requestors: vec!["ufficio@como.example".into()],
                body: "attivazione".into(),
                customer: Some("COMO".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let acme = t.ticket(&cast, "support", "Linea lenta ACME", "anna@acme.example", "lenta").await;
    let other = t.ticket(&cast, "support", "Guasto OTHER", "dario@other.example", "guasto").await;
    let (origin, server) = serve(&t).await;
    web(|| {
        let b = Chrome::open(driver, &origin, "partner");
        b.login("noc@partner.example");
        b.go("/portal");
        let main = b.text("main");
        assert!(main.contains(&lake.reference) && main.contains("Ponte radio Lecco giù"), "{main}");
        assert!(main.contains(&como.reference), "{main}");
        for hidden in [&acme, &other] {
            assert!(!main.contains(&hidden.reference) && !main.contains(&hidden.title), "{}: {main}", hidden.title);
        }
        b.screenshot("portal");

        b.click("#customer option[value=\"LAKE\"]");
        let to = b.navigate("the filter", || b.click("form.filter button[type=submit]"));
        assert!(to.contains("customer=LAKE"), "{to}");
        let main = b.text("main");
        assert!(main.contains(&lake.reference), "{main}");
        assert!(!main.contains(&como.reference) && !main.contains("Fibra Como"), "COMO is filtered out: {main}");
        assert!(b.all("#customer option[value=\"LAKE\"]:checked").len() == 1, "the filter shows its choice");
        b.screenshot("portal-filtered");
    });
    server.abort();
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_italian_for_a_contact_and_for_an_agent_who_chose_it() {
    let Some(driver) = Driver::start("italian") else { return };
    let t = Ctx::sqlite().await;
    let cast = t.seed().await;
    with_passwords(&t, &cast).await;
    let ticket = t.ticket(&cast, "support", "Linea lenta", "anna@acme.example", "lenta").await;
    let settings = app::account::SettingsInput { language: Some("it".into()), time_zone: None };
    t.app.save_settings(&cast.agent, settings).await.unwrap();
    let (origin, server) = serve(&t).await;
    web(|| {
        // The browser asks for English; the contact's language (it) wins.
        let b = Chrome::open(driver, &origin, "italian");
        b.login("anna@acme.example");
        b.go("/portal");
        assert_eq!(b.exec("return document.documentElement.lang"), json!("it"));
        assert_eq!(b.text("h1"), "I miei ticket");
        let nav = b.text("header.top nav");
        assert!(nav.contains("Nuovo ticket") && nav.contains("Impostazioni") && nav.contains("Esci"), "{nav}");
        assert!(b.text("main").contains("Ticket aperti"));
        assert!(b.text("main").contains(&ticket.reference));
        b.screenshot("portal");

        b.logout();
        b.login("agent@op.example");
        b.go("/tickets");
        assert_eq!(b.exec("return document.documentElement.lang"), json!("it"));
        assert_eq!(b.text("h1"), "Ticket");
        assert_eq!(b.text("label[for=q]"), "Cerca");
        assert_eq!(b.text("form[role=search] > button[type=submit]"), "Mostra");
        let row = b.text(&format!("#ticket-list tr[data-number=\"{}\"]", ticket.number));
        assert!(row.contains("Nuovo"), "the status in Italian: {row}");
        b.screenshot("queue");
    });
    server.abort();
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_page_shows_a_hostile_title_as_text_runs_its_script_and_stays_on_the_origin() {
    let Some(driver) = Driver::start("hostile") else { return };
    let t = Ctx::sqlite().await;
    let cast = t.seed().await;
    with_passwords(&t, &cast).await;
    let hostile = "<img src=x onerror=alert(1)>";
    let ticket = t.ticket(&cast, "support", hostile, "anna@acme.example", "<script>alert(2)</script> corpo").await;
    let (origin, server) = serve(&t).await;
    web(|| {
        let b = Chrome::open(driver, &origin, "hostile");
        b.login("agent@op.example");
        b.go(&format!("/tickets/{}", ticket.number));
        assert!(b.text("h1").contains(hostile), "the title is text: {}", b.text("h1"));
        assert!(b.title().contains(hostile), "{}", b.title());
        assert!(b.all("h1 img").is_empty() && b.all("main img").is_empty(), "no image was made of it");
        assert!(b.text("section.thread").contains("<script>alert(2)</script> corpo"));
        match b.call("GET", "/alert/text", None) {
            Err(e) => assert_eq!(e.error, "no such alert", "{e:?}"),
            Ok(text) => panic!("an alert is open: {text}"),
        }
        b.screenshot("ticket");

        // app.js runs (from our origin, under the CSP): "r" focuses the reply box.
        let keys = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": "r"}, {"type": "keyUp", "value": "r"}]}]});
        b.cmd("POST", "/actions", Some(keys));
        assert_eq!(b.exec("return document.activeElement && document.activeElement.id"), json!("reply-body"));

        let resources = b.exec("return performance.getEntriesByType('resource').map(e => e.name)");
        let resources: Vec<&str> = resources.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(resources.iter().any(|r| r.ends_with("/static/app.js")), "{resources:?}");
        let prefix = format!("{origin}/");
        for r in &resources {
            assert!(r.starts_with(&prefix), "a request left the origin {origin}: {r}");
        }
    });
    server.abort();
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_view_gets_new_tickets_live_and_pages_fit_a_360_pixel_screen() {
    let Some(driver) = Driver::start("live") else { return };
    let t = Ctx::sqlite().await;
    let cast = t.seed().await;
    with_passwords(&t, &cast).await;
    let first = t.ticket(&cast, "support", "Primo guasto", "anna@acme.example", "fibra").await;
    let (origin, server) = serve(&t).await;
    let rt = tokio::runtime::Handle::current();
    web(|| {
        let b = Chrome::open(driver, &origin, "live");
        b.login("agent@op.example");
        b.go("/tickets?queue=support&order=created");
        b.find(&format!("tr[data-number=\"{}\"]", first.number));
        // The feed is open once the page has loaded; a ticket created now appears without reload.
        std::thread::sleep(Duration::from_millis(500));
        let fresh = rt.block_on(t.ticket(&cast, "support", "Secondo <b>guasto</b>", "bruno@acme.example", "rame"));
        let row = format!("tr[data-number=\"{}\"]", fresh.number);
        b.find(&row);
        assert!(b.text(&row).contains("Secondo <b>guasto</b>"), "{}", b.text(&row));
        assert!(b.text("#live").contains(&fresh.reference), "{}", b.text("#live"));
        b.screenshot("queue-new-row");

        // Usable at 360 px: nothing wider than the screen on the main pages.
        b.cmd("POST", "/window/rect", Some(json!({"width": 360, "height": 800})));
        for path in ["/tickets", &format!("/tickets/{}", first.number), "/"] {
            b.go(path);
            let wide = b.exec("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
            let (scroll, client) = (wide[0].as_i64().unwrap(), wide[1].as_i64().unwrap());
            assert!(client <= 400, "the window is narrow: {client}");
            assert!(scroll <= client, "{path} is {scroll} px wide on a {client} px screen");
        }
        b.go(&format!("/tickets/{}", first.number));
        b.screenshot("ticket-360");
        b.logout();
        b.login("anna@acme.example");
        b.go("/portal");
        let wide = b.exec("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
        assert!(wide[0].as_i64().unwrap() <= wide[1].as_i64().unwrap(), "portal: {wide}");
        b.screenshot("portal-360");
    });
    server.abort();
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_in_the_affected_province_sees_the_notice_on_home_line_and_ticket_form_another_none() {
    let Some(driver) = Driver::start("notice") else { return };
    let t = Ctx::sqlite().await;
    let cast = t.seed().await;
    with_passwords(&t, &cast).await;
    crate::notices::inventory(&t, &cast).await;
    let id = crate::notice_pages::milan_fault(&t, &cast).await;
    let (origin, server) = serve(&t).await;
    let b = Chrome::open(driver, &origin, "notice");
    web(|| {
        b.login("anna@acme.example");
        b.go("/portal");
        let banner = b.text(&format!("article[data-notice=\"{id}\"]"));
        assert!(banner.contains("Guasto fibra <b>Milano</b>"), "the title, as text: {banner}");
        assert!(banner.contains("ACME-1") && banner.contains("ACME-2") && !banner.contains("ACME-3"), "{banner}");
        b.screenshot("home");
        // From the banner to the line's page, and from there to the ticket form.
        let link = format!("article[data-notice=\"{id}\"] a[href=\"/portal/lines/ACME-1\"]");
        assert_eq!(b.navigate("the line page", || b.click(&link)), "/portal/lines/ACME-1");
        assert!(b.text(&format!("article[data-notice=\"{id}\"]")).contains("Tecnici al lavoro"));
        b.screenshot("line");
        let to = b.navigate("the ticket form", || b.click("a.button[href^=\"/portal/tickets/new\"]"));
        assert!(to.starts_with("/portal/tickets/new"), "{to}");
        let known = b.text("section.known-fault");
        assert!(known.contains("ACME-1") && known.contains("Guasto fibra"), "the notice first: {known}");
        b.screenshot("ticket-form");
        // The Como line is not affected: the form shows no notice for it.
        b.go("/portal/tickets/new?line=ACME-3");
        assert!(b.all("section.known-fault").is_empty());
        b.logout();

        b.login("dario@other.example");
        b.go("/portal");
        assert!(b.all("article.notice-banner").is_empty(), "nothing for a customer in Roma");
        assert!(!b.source().contains("Guasto fibra"));
        b.go("/portal/lines/OTHER-1");
        assert!(b.all("article.notice-banner").is_empty());
        b.go("/portal/tickets/new?line=OTHER-1");
        assert!(b.all("section.known-fault").is_empty());
        b.go(&format!("/portal/notices/{id}"));
        assert!(!b.source().contains("Guasto fibra"), "the notice's own page is not found for dario");
        b.screenshot("elsewhere");
    });
    web(|| drop(b));
    server.abort();
    t.finish().await;
}
