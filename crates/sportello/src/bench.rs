//! `sportello bench`: seeds a large database (bulk load through `app`), starts the real server on
//! it, drives it over HTTP from this process, and prints the figures of `docs/performance.md`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use app::admin::{BulkMessage, BulkTicket};
use app::admin::{BulkRefs, ContactInput, CustomerInput, QueueInput, UserInput};
use app::{Actor, App};
use clap::Args;
use domain::{Category, Channel, MessageKind, QueueRights, Role, Status};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

/// Options of `bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Tickets to seed (messages: three per ticket on average).
    #[arg(long, default_value_t = 1_000_000)]
    pub tickets: u64,
    /// Keep the tickets already in the database and only top them up to `--tickets`.
    #[arg(long)]
    pub reuse: bool,
    /// Tickets per bulk transaction.
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Sequential creations measured.
    #[arg(long, default_value_t = 2000)]
    pub creates: usize,
    /// Concurrent clients for the throughput phase.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds of the throughput phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Queue listings and searches measured (each).
    #[arg(long, default_value_t = 1000)]
    pub reads: usize,
    /// Municipality names for the texts (the ISTAT list of the test data).
    #[arg(long, default_value = "../shared/testdata/territory/it-comuni-istat.csv")]
    pub territory: String,
}

const COMMON: &[&str] = &[
    "linea",
    "fibra",
    "router",
    "modem",
    "guasto",
    "connessione",
    "internet",
    "lenta",
    "velocità",
    "segnale",
    "cliente",
    "ufficio",
    "sede",
    "tecnico",
    "intervento",
    "verifica",
    "problema",
    "servizio",
    "rete",
    "centralino",
    "chiamate",
    "telefono",
    "numero",
    "fattura",
    "pagamento",
    "contratto",
    "attivazione",
    "ont",
    "olt",
    "borchia",
    "cavo",
    "armadio",
    "ripartitore",
    "antenna",
    "sim",
    "apn",
    "voip",
    "trunk",
    "sip",
    "registrazione",
    "ping",
    "latenza",
    "pacchetti",
    "persi",
    "banda",
    "download",
    "upload",
    "speedtest",
    "riavviato",
    "spento",
    "acceso",
    "lampeggia",
    "rosso",
    "verde",
    "led",
    "pon",
    "los",
    "dhcp",
    "indirizzo",
    "statico",
    "dns",
    "porta",
    "inoltro",
    "firewall",
    "wifi",
    "rete",
    "line",
    "fibre",
    "down",
    "slow",
    "outage",
    "customer",
    "office",
    "engineer",
    "please",
    "urgent",
    "since",
    "morning",
    "evening",
    "again",
    "still",
    "working",
    "thanks",
    "invoice",
    "payment",
    "order",
    "upgrade",
    "change",
    "request",
    "address",
    "static",
    "subnet",
    "reverse",
    "mail",
    "server",
    "backup",
    "lte",
    "fwa",
    "ftth",
    "fttc",
    "vdsl",
    "adsl",
    "buongiorno",
    "salve",
    "grazie",
    "cordiali",
    "saluti",
    "urgente",
    "stamattina",
    "ieri",
    "sera",
    "notte",
    "oggi",
    "domani",
    "dopo",
    "prima",
    "ancora",
    "sempre",
    "mai",
    "tutto",
    "niente",
    "nostro",
    "vostro",
    "abbiamo",
    "avete",
    "potete",
    "possiamo",
    "serve",
    "funziona",
    "navighiamo",
    "lavori",
    "stradali",
    "scavo",
    "tranciato",
    "squadra",
    "risolto",
    "chiuso",
    "aperto",
    "attesa",
    "sollecito",
    "bonifico",
    "iban",
    "addebito",
    "scadenza",
    "rata",
    "canone",
];

const TITLES: &[&str] = &[
    "Linea FTTH giù a",
    "Internet lento la sera a",
    "Centralino VoIP non registra a",
    "Fibra interrotta a",
    "Guasto linea a",
    "Outage on our line in",
    "Slow speeds in",
    "Fattura doppia sede di",
    "Richiesta IP statico sede di",
    "SIM IoT offline a",
    "Antenna FWA instabile a",
    "Perdita pacchetti verso",
    "Cambio profilo linea a",
    "Nuova attivazione a",
    "Trasloco linea a",
];

/// The benchmark's made-up operator and its texts.
struct Corpus {
    places: Vec<String>,
    weights: Vec<f64>,
}

impl Corpus {
    fn load(path: &str) -> Corpus {
        let places: Vec<String> = std::fs::read_to_string(path)
            .map(|t| t.lines().skip(1).filter_map(|l| l.split(',').nth(1).map(str::to_owned)).collect())
            .unwrap_or_default();
        let places = if places.is_empty() {
            ["Milano", "Como", "Lecco", "Bergamo", "Torino"].map(String::from).to_vec()
        } else {
            places
        };
        // Zipf-like word frequencies: the n-th common word is 1/n as frequent as the first.
        let mut acc = 0.0;
        let weights = (1..=COMMON.len()).map(|n| {
            acc += 1.0 / n as f64;
            acc
        });
        Corpus { places, weights: weights.collect() }
    }

    fn word(&self, rng: &mut StdRng) -> &'static str {
        let total = self.weights.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        let i = self.weights.partition_point(|w| *w < x);
        COMMON[i.min(COMMON.len() - 1)]
    }

    fn body(&self, rng: &mut StdRng) -> String {
        let n = rng.random_range(12..40);
        let mut s = String::with_capacity(n * 9 + 40);
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            if i == n / 2 {
                s.push_str(self.places.choose(rng).map(String::as_str).unwrap_or("Milano"));
                s.push(' ');
            }
            s.push_str(self.word(rng));
        }
        s.push_str(&format!(". Circuito MI-{:06}.", rng.random_range(0..1_000_000)));
        s
    }

    fn title(&self, rng: &mut StdRng) -> String {
        format!(
            "{} {}",
            TITLES.choose(rng).copied().unwrap_or("Guasto a"),
            self.places.choose(rng).map(String::as_str).unwrap_or("Milano")
        )
    }
}

async fn prepare(app: &App) -> anyhow::Result<BulkRefs> {
    let sys = Actor::system(Channel::System);
    if app.queues(&sys).await?.is_empty() {
        for (slug, prefix) in [("support", "support"), ("treasury", "treasury")] {
            app.create_queue(
                &sys,
                QueueInput {
                    slug: slug.into(),
                    name: slug.into(),
                    description: String::new(),
                    reference_prefix: Some(prefix.into()),
                    active: None,
                },
            )
            .await?;
        }
        for i in 0..20 {
            let u = app
                .create_user(
                    &sys,
                    UserInput {
                        email: format!("agent{i}@bench.example"),
                        name: format!("Agent {i}"),
                        role: Role::Agent,
                        partner_id: None,
                        active: None,
                    },
                    None,
                )
                .await?;
            app.set_rights(&sys, u.id, "support", QueueRights::ALL).await?;
        }
        for c in 0..200 {
            let code = format!("B-{c:04}");
            app.create_customer(
                &sys,
                CustomerInput { code: code.clone(), name: format!("Cliente {c}"), vip: c % 10 == 0, partner_id: None },
            )
            .await?;
            for k in 0..5 {
                app.create_contact(
                    &sys,
                    ContactInput {
                        email: format!("c{c}.{k}@cliente.example"),
                        name: String::new(),
                        phone: String::new(),
                        language: Some("it".into()),
                        customer: Some(code.clone()),
                    },
                )
                .await?;
            }
        }
    }
    Ok(app.bulk_refs(&sys).await?)
}

fn ticket(
    corpus: &Corpus,
    cast: &BulkRefs,
    rng: &mut StdRng,
    id: i64,
    next_message: &mut i64,
    at: i64,
    recent: bool,
) -> BulkTicket {
    let (queue_id, prefix) = if rng.random_bool(0.9) { &cast.queues[0] } else { &cast.queues[cast.queues.len() - 1] };
    let (contact_id, customer_id, email) = cast.contacts.choose(rng).cloned().unwrap_or((1, None, "x@y.z".into()));
    let (agent_id, agent_label) = cast.agents.choose(rng).cloned().unwrap_or((1, "agent".into()));
    let status = match rng.random_range(0..100) {
        _ if !recent => {
            if rng.random_bool(0.93) {
                Status::Resolved
            } else {
                Status::Rejected
            }
        }
        0..30 => Status::New,
        30..75 => Status::Open,
        75..85 => Status::Stalled,
        _ => Status::Resolved,
    };
    let count = if status == Status::New { 1 } else { rng.random_range(2..=4) };
    let mut messages = Vec::with_capacity(count);
    for k in 0..count {
        let agent = k % 2 == 1;
        let kind = if agent && rng.random_bool(0.3) { MessageKind::Comment } else { MessageKind::Reply };
        messages.push(BulkMessage {
            id: *next_message,
            kind,
            author_user_id: agent.then_some(agent_id),
            author_contact_id: (!agent).then_some(contact_id),
            author_label: if agent { agent_label.clone() } else { email.clone() },
            channel: if agent { Channel::Web } else { Channel::Email },
            body: corpus.body(rng),
            at: at + k as i64 * 3_600_000_000,
        });
        *next_message += 1;
    }
    let category =
        *[Category::BlockingFault, Category::NonBlockingFault, Category::InformationRequest, Category::Administrative]
            .choose(rng)
            .unwrap_or(&Category::InformationRequest);
    let updated = messages.last().map(|m| m.at).unwrap_or(at);
    BulkTicket {
        id,
        queue_id: *queue_id,
        reference: format!("{prefix}#{id}"),
        title: corpus.title(rng),
        status,
        owner_id: (status != Status::New).then_some(agent_id),
        customer_id,
        category,
        severity: category.default_severity(),
        priority: rng.random_range(10..90),
        created_at: at,
        updated_at: updated,
        resolved_at: (status == Status::Resolved).then_some(updated),
        requestor_id: contact_id,
        messages,
    }
}

/// Seeds up to `target` tickets; returns (tickets added, messages added, seconds).
async fn seed(app: &App, args: &BenchArgs, corpus: &Corpus) -> anyhow::Result<(u64, u64, f64)> {
    let sys = Actor::system(Channel::System);
    let cast = prepare(app).await?;
    let (first_ticket, mut next_message) = app.bulk_next_ids(&sys).await?;
    let have = (first_ticket - 1) as u64;
    if have > 0 && !args.reuse {
        bail!("the database has {have} tickets already: pass --reuse to top it up, or use an empty database");
    }
    let todo = args.tickets.saturating_sub(have);
    let bar = ProgressBar::new(todo);
    bar.set_style(
        ProgressStyle::with_template("seeding {bar:40} {pos}/{len} tickets {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rng = StdRng::seed_from_u64(1_000_003 + have);
    let now = jiff::Timestamp::now().as_microsecond();
    let span = 3 * 365 * 24 * 3_600_000_000i64;
    let started = Instant::now();
    let first_message = next_message;
    let mut id = first_ticket;
    let end = first_ticket + todo as i64;
    // PostgreSQL does the indexing work in its own processes: two loaders keep both cores busy.
    // SQLite has one writer, so more loaders would only queue.
    let loaders = if app.db.backend() == app::Backend::Postgres { 2 } else { 1 };
    let mut inflight = tokio::task::JoinSet::new();
    while id < end {
        let n = (end - id).min(args.batch as i64);
        let mut batch = Vec::with_capacity(n as usize);
        for k in 0..n {
            let tid = id + k;
            let at = now - span + span * (tid - 1) / (args.tickets.max(1) as i64);
            let recent = tid as f64 > args.tickets as f64 * 0.97;
            batch.push(ticket(corpus, &cast, &mut rng, tid, &mut next_message, at, recent));
        }
        while inflight.len() >= loaders {
            if let Some(done) = inflight.join_next().await {
                bar.inc(done??);
            }
        }
        let (app, sys) = (app.clone(), sys.clone());
        inflight.spawn(async move { app.bulk_load(&sys, &batch).await.map(|()| n as u64) });
        id += n;
    }
    while let Some(done) = inflight.join_next().await {
        bar.inc(done??);
    }
    bar.finish_and_clear();
    app.bulk_finish(&sys).await?;
    Ok((todo, (next_message - first_message) as u64, started.elapsed().as_secs_f64()))
}

/// A minimal keep-alive HTTP/1.1 client with Nagle off, so that latency is the server's.
struct Client {
    stream: BufReader<TcpStream>,
    host: String,
    token: String,
    /// A session cookie, for the pages.
    cookie: Option<String>,
}

/// An answer: status, header lines, body (as it came on the wire; chunks joined).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Client {
    fn connect(addr: &str, token: &str) -> anyhow::Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client { stream: BufReader::new(s), host: addr.into(), token: token.into(), cookie: None })
    }

    /// A client of the pages, with a session cookie instead of a token.
    fn browser(addr: &str, session: &str) -> anyhow::Result<Client> {
        let mut c = Client::connect(addr, "")?;
        c.cookie = Some(format!("{}={session}", web::pages::SESSION_COOKIE));
        Ok(c)
    }

    fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<(u16, Vec<u8>)> {
        let a = self.send(method, path, body, "")?;
        Ok((a.status, a.body))
    }

    fn send(&mut self, method: &str, path: &str, body: Option<&str>, extra: &str) -> anyhow::Result<Answer> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}", self.host);
        match &self.cookie {
            Some(c) => req.push_str(&format!("Cookie: {c}\r\n")),
            None => req.push_str(&format!("Authorization: Bearer {}\r\n", self.token)),
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()));
        } else {
            req.push_str("\r\n");
        }
        self.stream.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("bad status line")?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let mut answer = Answer { status, headers, body: Vec::new() };
        if answer.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                self.stream.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                answer.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let len: usize = answer.header("content-length").map(str::parse).transpose()?.unwrap_or(0);
            answer.body = vec![0; len];
            self.stream.read_exact(&mut answer.body)?;
        }
        Ok(answer)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn timed(mut f: impl FnMut(usize) -> anyhow::Result<()>, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i)?;
        out.push(t.elapsed());
    }
    out.sort();
    Ok(out)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn create_body(i: usize, corpus: &Corpus, rng: &mut StdRng) -> String {
    serde_json::json!({
        "queue": "support",
        "title": corpus.title(rng),
        "requestor": format!("c{}.{}@cliente.example", i % 200, i % 5),
        "body": corpus.body(rng),
        "category": "non_blocking_fault",
    })
    .to_string()
}

/// Runs the benchmark and prints its figures.
pub async fn run(database_url: &str, args: BenchArgs) -> anyhow::Result<()> {
    let app = crate::cli::open(database_url, 4).await?;
    let corpus = Arc::new(Corpus::load(&args.territory));
    let backend = format!("{:?}", app.db.backend());
    eprintln!("bench: {backend} at {}", crate::redact(database_url));
    let (added, messages, seed_secs) = seed(&app, &args, &corpus).await?;
    if added > 0 {
        eprintln!("bench: seeded {added} tickets and {messages} messages in {seed_secs:.1} s");
    }
    let token = app.create_token(&Actor::system(Channel::System), "bench", Role::Admin, None).await?.secret;
    let (tickets_now, messages_now) = app.bulk_next_ids(&Actor::system(Channel::System)).await?;
    let (session, long_thread) = pages_setup(&app, &corpus).await?;
    app.db.close().await;

    // Start the real server and time start-up to the first healthy answer.
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["--database-url", database_url, "serve", "--listen", "127.0.0.1:0", "--workers", "1"])
        .args(["--lmtp-listen", "127.0.0.1:0"])
        .env("SPORTELLO_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut lmtp_addr = String::new();
    let addr = loop {
        let line = lines.next().context("the server exited")??;
        if let Some(a) = line.strip_prefix("sportello: LMTP on ") {
            lmtp_addr = a.to_string();
        }
        if let Some(a) = line.strip_prefix("sportello: listening on http://") {
            break a.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let mut probe = Client::connect(&addr, &token)?;
    while probe.request("GET", "/healthz", None)?.0 != 200 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let startup = started.elapsed();
    let pid = server.0.id();
    let peak = Arc::new(AtomicU64::new(0));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (peak, watching) = (peak.clone(), watching.clone());
        std::thread::spawn(move || {
            while watching.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let results = tokio::task::spawn_blocking({
        let (addr, token, corpus, args, session, lmtp_addr) =
            (addr.clone(), token.clone(), corpus.clone(), args.clone(), session.clone(), lmtp_addr.clone());
        move || -> anyhow::Result<Vec<(String, String)>> {
            let mut out = Vec::new();
            let mut rng = StdRng::seed_from_u64(42);
            let mut c = Client::connect(&addr, &token)?;
            // Warm up.
            for i in 0..50 {
                c.request("POST", "/api/v1/tickets", Some(&create_body(i, &corpus, &mut rng)))?;
            }
            let creates = timed(
                |i| {
                    let (s, b) = c.request("POST", "/api/v1/tickets", Some(&create_body(i, &corpus, &mut rng)))?;
                    if s != 201 {
                        bail!("create answered {s}: {}", String::from_utf8_lossy(&b));
                    }
                    Ok(())
                },
                args.creates,
            )?;
            out.push((
                "create ticket, sequential".into(),
                format!(
                    "p50 {:.2} ms, p99 {:.2} ms ({} requests)",
                    percentile(&creates, 0.5),
                    percentile(&creates, 0.99),
                    creates.len()
                ),
            ));

            let stop = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicU64::new(0));
            let mut threads = Vec::new();
            for t in 0..args.clients {
                let (addr, token, corpus, stop, done) =
                    (addr.clone(), token.clone(), corpus.clone(), stop.clone(), done.clone());
                threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
                    let mut rng = StdRng::seed_from_u64(t as u64);
                    let mut c = Client::connect(&addr, &token)?;
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        let (s, _) = c.request("POST", "/api/v1/tickets", Some(&create_body(i, &corpus, &mut rng)))?;
                        if s != 201 {
                            bail!("create answered {s}");
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                        i += args.clients;
                    }
                    Ok(())
                }));
            }
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(args.seconds));
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                t.join().map_err(|_| anyhow::anyhow!("a client panicked"))??;
            }
            let rate = done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64();
            out.push((format!("create ticket, {} concurrent clients", args.clients), format!("{rate:.0} tickets/s")));

            let listing = timed(
                |_| {
                    let (s, b) = c.request("GET", "/api/v1/tickets?queue=support&status=new,open&limit=50", None)?;
                    if s != 200 || b.len() < 1000 {
                        bail!("listing answered {s} with {} bytes", b.len());
                    }
                    Ok(())
                },
                args.reads,
            )?;
            out.push((
                "queue listing, 50 newest open".into(),
                format!("p50 {:.2} ms, p99 {:.2} ms", percentile(&listing, 0.5), percentile(&listing, 0.99)),
            ));

            // Two words of middling frequency, as people search ("borchia lampeggia").
            let pool: Vec<&str> = COMMON[20..120].iter().copied().filter(|w| w.is_ascii()).collect();
            let mut hits = 0usize;
            let search = timed(
                |_| {
                    let a = pool.choose(&mut rng).copied().unwrap_or("fibra");
                    let b = pool.choose(&mut rng).copied().unwrap_or("lenta");
                    let (s, body) = c.request("GET", &format!("/api/v1/tickets?q={a}%20{b}&limit=50"), None)?;
                    if s != 200 {
                        bail!("search answered {s}");
                    }
                    hits += usize::from(body.len() > 100);
                    Ok(())
                },
                args.reads,
            )?;
            out.push((
                "search, two words".into(),
                format!(
                    "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({hits} of {} with results)",
                    percentile(&search, 0.5),
                    percentile(&search, 0.95),
                    percentile(&search, 0.99),
                    search.len()
                ),
            ));
            out.extend(pages_phase(&addr, &session, long_thread, args.reads)?);
            out.extend(lmtp_phase(&lmtp_addr, &corpus, long_thread)?);
            Ok(out)
        }
    })
    .await??;
    watching.store(false, Ordering::Relaxed);
    let _ = watcher.join();
    drop(server);

    println!(
        "Sportello benchmark — {backend}, {} tickets and {} messages stored before the load",
        tickets_now - 1,
        messages_now - 1
    );
    if added > 0 {
        println!("| seed {added} tickets with {messages} messages | {seed_secs:.0} s |");
    }
    println!("| start to serving | {:.0} ms |", startup.as_secs_f64() * 1000.0);
    for (k, v) in results {
        println!("| {k} | {v} |");
    }
    println!("| server peak resident memory | {} MB |", peak.load(Ordering::Relaxed) / 1024);
    Ok(())
}

/// The agent of the page measurements: an admin with a password, and a session of theirs.
const PAGES_AGENT: &str = "bench.pages@sportello.invalid";

/// Opens a session for the pages and a ticket with a 100-message thread (replies and internal
/// comments, as agents write them) to measure the ticket page on.
async fn pages_setup(app: &App, corpus: &Corpus) -> anyhow::Result<(String, i64)> {
    let sys = Actor::system(Channel::System);
    let password = "bench pages password";
    let input = UserInput {
        email: PAGES_AGENT.into(),
        name: "Bench agent".into(),
        role: Role::Admin,
        partner_id: None,
        active: Some(true),
    };
    match app.create_user(&sys, input, Some(password)).await {
        Ok(_) => {}
        Err(app::Error::Conflict(_)) => {
            let id = app.users(&sys).await?.into_iter().find(|u| u.email == PAGES_AGENT).context("bench agent")?.id;
            app.set_password(&sys, id, password).await?;
        }
        Err(e) => return Err(e.into()),
    }
    let session = app.login(PAGES_AGENT, password, "127.0.0.1", None).await?.token;
    let mail = app::ingest::QueueMailInput { address: Some(BENCH_QUEUE_ADDRESS.into()), ..Default::default() };
    app.set_queue_mail(&sys, "support", mail).await?;
    let agent = app.user_actor_by_email(PAGES_AGENT, Channel::Web).await?;
    let mut rng = StdRng::seed_from_u64(100);
    let ticket = app
        .create_ticket(
            &agent,
            app::tickets::NewTicketInput {
                queue: "support".into(),
                title: corpus.title(&mut rng),
                requestors: vec!["lunga.discussione@cliente.invalid".into()],
                body: corpus.body(&mut rng),
                ..Default::default()
            },
        )
        .await?;
    for i in 1..100 {
        let kind = if i % 3 == 0 { MessageKind::Comment } else { MessageKind::Reply };
        let input = app::tickets::MessageInput {
            kind,
            body: corpus.body(&mut rng),
            body_html: None,
            attachments: Vec::new(),
            status: None,
            owner: None,
            time: None,
        };
        app.add_message(&agent, ticket.number, input).await?;
    }
    Ok((session, ticket.number))
}

/// The pages' figures: the ticket page with 100 messages, the queue page, and the weight of the
/// queue page (HTML, CSS and script) as sent uncompressed and gzip-compressed.
fn pages_phase(addr: &str, session: &str, ticket: i64, reads: usize) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut c = Client::browser(addr, session)?;
    let check = |path: &str, c: &mut Client| -> anyhow::Result<usize> {
        let a = c.send("GET", path, None, "")?;
        if a.status != 200 {
            bail!("{path} answered {}: {}", a.status, String::from_utf8_lossy(&a.body));
        }
        Ok(a.body.len())
    };
    let thread = check(&format!("/tickets/{ticket}"), &mut c)?;
    if thread < 100 * 200 {
        bail!("the ticket page is {thread} bytes: not the 100-message thread");
    }
    let ticket_page = timed(|_| check(&format!("/tickets/{ticket}"), &mut c).map(|_| ()), reads)?;
    out.push((
        "ticket page, 100-message thread".into(),
        format!("p50 {:.2} ms, p99 {:.2} ms", percentile(&ticket_page, 0.5), percentile(&ticket_page, 0.99)),
    ));
    let queue = timed(|_| check("/tickets?queue=support", &mut c).map(|_| ()), reads)?;
    out.push((
        "queue page, 50 tickets by priority".into(),
        format!("p50 {:.2} ms, p99 {:.2} ms", percentile(&queue, 0.5), percentile(&queue, 0.99)),
    ));
    let mut plain = 0;
    let mut wire = 0;
    for path in ["/tickets?queue=support", "/static/app.css", "/static/app.js"] {
        plain += c.send("GET", path, None, "")?.body.len();
        let gz = c.send("GET", path, None, "Accept-Encoding: gzip\r\n")?;
        if gz.header("content-encoding") != Some("gzip") {
            bail!("{path} was not compressed");
        }
        wire += gz.body.len();
    }
    out.push((
        "queue page weight, HTML + CSS + JS".into(),
        format!("{:.1} KB uncompressed, {:.1} KB gzip on the wire", plain as f64 / 1024.0, wire as f64 / 1024.0),
    ));
    Ok(out)
}

/// The address of the `support` queue in the mail phase.
const BENCH_QUEUE_ADDRESS: &str = "support@bench.sportello.invalid";

/// One LMTP connection of the mail phase.
struct Lmtp {
    stream: BufReader<TcpStream>,
}

impl Lmtp {
    fn connect(addr: &str) -> anyhow::Result<Lmtp> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut l = Lmtp { stream: BufReader::new(s) };
        l.reply()?;
        l.stream.get_mut().write_all(b"LHLO bench\r\n")?;
        l.reply()?;
        Ok(l)
    }

    /// Reads one reply (its last line).
    fn reply(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.stream.read_line(&mut line)? == 0 {
                bail!("the LMTP server closed the connection");
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line);
            }
        }
    }

    /// Delivers one message to one recipient; fails unless it is acknowledged with 250.
    fn deliver(&mut self, message: &str) -> anyhow::Result<()> {
        let data = message.replace("\r\n.", "\r\n..");
        let text =
            format!("MAIL FROM:<bench@cliente.invalid>\r\nRCPT TO:<{BENCH_QUEUE_ADDRESS}>\r\nDATA\r\n{data}\r\n.\r\n");
        self.stream.get_mut().write_all(text.as_bytes())?;
        for step in ["MAIL", "RCPT", "DATA", "message"] {
            let r = self.reply()?;
            let ok = if step == "DATA" { r.starts_with("354") } else { r.starts_with("250") };
            if !ok {
                bail!("LMTP {step} answered {}", r.trim());
            }
        }
        Ok(())
    }
}

/// A message of the mail phase: 70% new tickets from customers, 30% replies on `reply_to`.
fn bench_mail(i: usize, run: u64, corpus: &Corpus, rng: &mut StdRng, reply_to: i64) -> String {
    let (subject, extra) = if i % 10 < 3 {
        (format!("Re: [support#{reply_to}] {}", corpus.title(rng)), String::new())
    } else {
        (corpus.title(rng), String::new())
    };
    format!(
        "From: Cliente {i} <cliente{}@bench.invalid>\r\nTo: {BENCH_QUEUE_ADDRESS}\r\nSubject: {subject}\r\nMessage-ID: <bench-{run}-{i}@bench.invalid>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        i % 200,
        corpus.body(rng)
    )
}

/// The mail phase: 1,000 messages over 4 concurrent LMTP connections (throughput), then 1,000
/// over one (latency per message, each acknowledged only once committed).
fn lmtp_phase(addr: &str, corpus: &Arc<Corpus>, reply_to: i64) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let started = Instant::now();
    let mut threads = Vec::new();
    for t in 0..4usize {
        let (addr, corpus) = (addr.to_owned(), corpus.clone());
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut rng = StdRng::seed_from_u64(1000 + t as u64);
            let mut c = Lmtp::connect(&addr)?;
            for k in 0..250 {
                c.deliver(&bench_mail(t * 250 + k, run, &corpus, &mut rng, reply_to))?;
            }
            Ok(())
        }));
    }
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("an LMTP client panicked"))??;
    }
    let rate = 1000.0 / started.elapsed().as_secs_f64();
    out.push(("LMTP ingestion, 4 connections (70% new, 30% replies)".into(), format!("{rate:.0} messages/s")));
    let mut c = Lmtp::connect(addr)?;
    let mut rng = StdRng::seed_from_u64(2000);
    let seq = timed(|i| c.deliver(&bench_mail(10_000 + i, run, corpus, &mut rng, reply_to)), 1000)?;
    out.push((
        "LMTP ingestion, sequential, per message".into(),
        format!("p50 {:.2} ms, p99 {:.2} ms", percentile(&seq, 0.5), percentile(&seq, 0.99)),
    ));
    Ok(out)
}

/// Options of `bench-mail`.
#[derive(Debug, Clone, Args)]
pub struct MailBenchArgs {
    /// Notifications to deliver (half acknowledgements, half agents' notices of new tickets).
    #[arg(long, default_value_t = 10_000)]
    pub notifications: usize,
    /// Job workers of the server (`serve`'s default).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
}

/// A local SMTP server that accepts everything and counts the messages it receives.
async fn smtp_sink(listener: tokio::net::TcpListener, received: Arc<AtomicUsize>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let received = received.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut r = tokio::io::BufReader::new(r);
            if w.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                return;
            }
            let mut line = Vec::new();
            let mut in_data = false;
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let reply: &[u8] = if in_data {
                    if line == b".\r\n" {
                        in_data = false;
                        received.fetch_add(1, Ordering::Relaxed);
                        b"250 2.0.0 queued\r\n"
                    } else {
                        continue;
                    }
                } else {
                    let verb = line.get(..4).map(|v| v.to_ascii_uppercase()).unwrap_or_default();
                    match &verb[..] {
                        b"EHLO" => b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                        b"DATA" => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        b"QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    }
                };
                if w.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Measures the delivery of queued notifications to a local SMTP server: creates tickets by
/// email (each queues an acknowledgement and an agents' notice in its transaction), then starts
/// `sportello serve` with `--smtp-url` at a local sink and times until every email arrived.
pub async fn run_mail(database_url: &str, args: MailBenchArgs) -> anyhow::Result<()> {
    let app = crate::cli::open(database_url, 4).await?;
    let system = Actor::system(Channel::System);
    if app.queue(&system, "support").await.is_err() {
        let input = app::admin::QueueInput {
            slug: "support".into(),
            name: "Support".into(),
            description: String::new(),
            reference_prefix: None,
            active: None,
        };
        app.create_queue(&system, input).await?;
    }
    // One agent who sees the queue: the agents' notice has a recipient.
    let agent_email = "bench.mail.agent@sportello.invalid";
    let agent = match app.users(&system).await?.into_iter().find(|u| u.email == agent_email) {
        Some(u) => u,
        None => {
            let input = app::admin::UserInput {
                email: agent_email.into(),
                name: "Bench agent".into(),
                role: Role::Agent,
                partner_id: None,
                active: None,
            };
            app.create_user(&system, input, None).await?
        }
    };
    let rights = domain::QueueRights::ALL;
    app.set_rights(&system, agent.id, "support", rights).await?;
    let queued_before = app.outbox_queued_count().await?;
    let tickets = args.notifications.div_ceil(2);
    let by_email = Actor::system(Channel::Email);
    let t0 = Instant::now();
    for i in 0..tickets {
        let input = app::tickets::NewTicketInput {
            queue: "support".into(),
            title: format!("Linea muta {i}"),
            requestors: vec![format!("cliente{i}@bench-mail.invalid")],
            body: "Da stamattina la linea non funziona.".into(),
            ..Default::default()
        };
        app.create_ticket(&by_email, input).await?;
    }
    let queued = app.outbox_queued_count().await?;
    let generated = t0.elapsed();
    app.db.close().await;
    eprintln!(
        "bench-mail: {} emails queued by {tickets} tickets in {:.1} s ({queued_before} were queued before)",
        queued - queued_before,
        generated.as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink = listener.local_addr()?;
    let received = Arc::new(AtomicUsize::new(0));
    tokio::spawn(smtp_sink(listener, received.clone()));
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let child = Command::new(exe)
        .args(["--database-url", database_url, "serve", "--listen", "127.0.0.1:0", "--imap-interval", "0"])
        .args(["--workers", &args.workers.to_string(), "--smtp-url", &format!("smtp://{sink}")])
        .env("SPORTELLO_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let _server = Server(child);
    let want = usize::try_from(queued).unwrap_or(usize::MAX);
    let deadline = Instant::now() + Duration::from_secs(600);
    while received.load(Ordering::Relaxed) < want {
        if Instant::now() > deadline {
            bail!("only {} of {want} emails arrived in 10 minutes", received.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    println!("Sportello mail benchmark — {} workers", args.workers);
    println!(
        "| queue {} notifications ({tickets} tickets by email) | {:.1} s |",
        queued - queued_before,
        generated.as_secs_f64()
    );
    println!(
        "| deliver {want} queued emails to a local SMTP server (server start included) | {:.1} s, {:.0} emails/s |",
        took.as_secs_f64(),
        want as f64 / took.as_secs_f64()
    );
    Ok(())
}

/// Measures one business-time addition and one measurement on each built-in level's calendar:
/// 200,000 random starts over a year (2026), targets of 1 to 16 business hours.
/// Options of `sportello bench-sla`.
#[derive(Debug, clap::Args)]
pub struct SlaBenchArgs {
    /// Running SLA clocks to recompute after a calendar change (0: only the arithmetic).
    #[arg(long, default_value_t = 1_000_000)]
    pub clocks: i64,
    /// Use the clocks already loaded by an earlier run instead of loading new ones.
    #[arg(long)]
    pub reuse: bool,
}

/// Business-time arithmetic, then the recompute of `args.clocks` running clocks.
pub async fn run_sla(database_url: &str, args: SlaBenchArgs) -> anyhow::Result<()> {
    arithmetic()?;
    if args.clocks > 0 {
        recompute(database_url, &args).await?;
    }
    Ok(())
}

/// Loads running clocks on a level of its own, changes that level's calendar and times the
/// recompute of every due instant; checks a sample against the domain's arithmetic.
async fn recompute(database_url: &str, args: &SlaBenchArgs) -> anyhow::Result<()> {
    let db = app::open_database(database_url, 8).await?;
    let app = app::App::new(db, app::Config::default());
    let admin = app::access::Actor::system(domain::Channel::System);
    let week = |open: &str| -> [Vec<String>; 7] {
        let day = vec![open.to_owned()];
        [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]]
    };
    let calendar = |open: &str| app::sla::CalendarInput {
        slug: "bench-office".into(),
        name: "Benchmark office".into(),
        time_zone: "Europe/Rome".into(),
        always_open: false,
        week: week(open),
        holidays: domain::calendar::italian_holidays().iter().map(ToString::to_string).collect(),
    };
    let loaded = app.running_clocks("bench-level").await?;
    if !args.reuse || loaded < args.clocks {
        app.save_calendar(&admin, calendar("09:00-18:00")).await?;
        let level = app::sla::LevelInput {
            slug: "bench-level".into(),
            name: "Benchmark level".into(),
            calendar: "bench-office".into(),
            intervention_minutes: (240, 480),
            restoration_minutes: (240, 480),
            ..Default::default()
        };
        app.save_support_level(&admin, level).await?;
        if app.queues(&admin).await?.iter().all(|q| q.slug != "bench-sla") {
            let q = app::admin::QueueInput {
                slug: "bench-sla".into(),
                name: "SLA benchmark".into(),
                description: String::new(),
                reference_prefix: Some("slabench".into()),
                active: Some(true),
            };
            app.create_queue(&admin, q).await?;
        }
        let t0 = Instant::now();
        app.bulk_load_clocks(&admin, "bench-sla", "bench-level", args.clocks).await?;
        println!("loaded {} running clocks in {:.1} s", args.clocks, t0.elapsed().as_secs_f64());
    }
    // The office now opens an hour earlier (or later again): every running clock of the level moves.
    let earlier =
        app.calendars(&admin).await?.iter().any(|c| c.slug == "bench-office" && c.week[0].1[0].starts_with("09"));
    app.save_calendar(&admin, calendar(if earlier { "08:00-18:00" } else { "09:00-18:00" })).await?;
    let t0 = Instant::now();
    let n = app.recompute_calendar("bench-office").await?;
    let took = t0.elapsed();
    let checked = app.verify_clock_dues("bench-level", 10_000).await?;
    println!(
        "| recompute due times of {n} running clocks after a calendar change | {:.2} s ({:.0} clocks/s; {checked} checked against the domain) |",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    Ok(())
}

fn arithmetic() -> anyhow::Result<()> {
    let levels = domain::sla::presets().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut rng = StdRng::seed_from_u64(7);
    let year_start = jiff::Timestamp::from_second(1_767_225_600)?; // 2026-01-01T00:00:00Z
    let n = 200_000;
    println!("Sportello SLA benchmark — {n} operations per level, starts spread over 2026");
    for l in &levels {
        let cases: Vec<(jiff::Timestamp, jiff::SignedDuration)> = (0..n)
            .map(|_| {
                let start = year_start + jiff::SignedDuration::from_secs(rng.random_range(0..365 * 86_400));
                (start, jiff::SignedDuration::from_mins(rng.random_range(60..=16 * 60)))
            })
            .collect();
        let t0 = Instant::now();
        let mut dues = Vec::with_capacity(n);
        for (start, d) in &cases {
            dues.push(l.calendar.add(*start, *d).map_err(|e| anyhow::anyhow!(e))?);
        }
        let add = t0.elapsed();
        let t0 = Instant::now();
        let mut total = jiff::SignedDuration::ZERO;
        for ((start, _), due) in cases.iter().zip(&dues) {
            total += l.calendar.between(*start, *due);
        }
        let between = t0.elapsed();
        let expected: jiff::SignedDuration = cases.iter().map(|(_, d)| *d).sum();
        if total != expected {
            bail!("{}: measured {total:?} of business time, added {expected:?}", l.slug);
        }
        println!(
            "| {}: add business time | {:.2} µs on average |\n| {}: measure business time | {:.2} µs on average |",
            l.slug,
            add.as_secs_f64() * 1e6 / n as f64,
            l.slug,
            between.as_secs_f64() * 1e6 / n as f64
        );
    }
    Ok(())
}
