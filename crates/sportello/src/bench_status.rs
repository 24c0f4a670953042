//! `sportello bench-status`: loads the ISTAT territory, a synthetic access network, lines spread
//! over the municipalities in proportion to population and many published notices, then times
//! the public status page: the first read after a start (every notice's regions and services
//! computed), a refresh when its short cache expires (places kept), reads from the cache, and
//! `/status`, `/status.atom`, `/status.ics` over real HTTP.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use app::notices::{NoticeInput, NoticeText};
use app::{Actor, App};
use clap::Args;
use domain::Channel;
use domain::notice::{Impact, NoticeKind};
use domain::scope::{Scope, ScopeTerm};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Options of `bench-status`.
#[derive(Debug, Clone, Args)]
pub struct StatusBenchArgs {
    /// Lines to load, spread over the municipalities by population.
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u64,
    /// Published notices to create (incidents by municipality, province, region and OLT; some maintenance).
    #[arg(long, default_value_t = 1_000)]
    pub notices: u64,
    /// The ISTAT municipalities file.
    #[arg(long, default_value = "../shared/testdata/territory/it-comuni-istat.csv")]
    pub territory: String,
    /// Timed reads of each kind.
    #[arg(long, default_value_t = 300)]
    pub requests: usize,
    /// Use the inventory and notices already loaded by an earlier run.
    #[arg(long)]
    pub reuse: bool,
}

/// A municipality of the ISTAT file.
struct Place {
    code: String,
    province: String,
    region: String,
    population: u64,
}

fn places(path: &str) -> anyhow::Result<Vec<Place>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 8 {
            continue;
        }
        out.push(Place {
            code: f[0].into(),
            region: f[2].into(),
            province: f[4].into(),
            population: f[7].trim().parse().unwrap_or(1).max(1),
        });
    }
    anyhow::ensure!(!out.is_empty(), "no municipalities in {path}");
    Ok(out)
}

const OLTS_PER_PROVINCE: usize = 4;
const CUSTOMERS: u64 = 1_000;
const SERVICES: [&str; 4] = ["FTTH", "FTTH", "FTTC", "FWA"];

async fn load(app: &App, args: &StatusBenchArgs, places: &[Place]) -> anyhow::Result<()> {
    let sys = Actor::system(Channel::Api);
    let t = Instant::now();
    let file = std::fs::File::open(&args.territory)?;
    let r = app.import_territory(&sys, file, false).await?;
    println!("territory: {} rows imported in {:.1} s", r.imported, t.elapsed().as_secs_f64());
    let provinces: std::collections::BTreeSet<&str> = places.iter().map(|p| p.province.as_str()).collect();
    let mut network = String::from("code,name,kind,parent_code\n");
    for p in &provinces {
        network.push_str(&format!("POP-{p},PoP {p},pop,\n"));
        for k in 0..OLTS_PER_PROVINCE {
            network.push_str(&format!("OLT-{p}-{k},OLT {k} {p},olt,POP-{p}\n"));
        }
    }
    app.import_network(&sys, network.as_bytes(), true).await?;
    let mut customers = String::from("code,name,vip,partner_code,contact_email,contact_name,language\n");
    for c in 0..CUSTOMERS {
        customers.push_str(&format!("C{c:04},Customer {c},false,,,,it\n"));
    }
    app.import_customers(&sys, customers.as_bytes(), true).await?;
    // Lines by population.
    let mut cumulative = Vec::with_capacity(places.len());
    let mut total = 0u64;
    for p in places {
        total += p.population;
        cumulative.push(total);
    }
    let mut rng = StdRng::seed_from_u64(7);
    let t = Instant::now();
    let chunk = 500_000u64;
    let mut done = 0u64;
    while done < args.lines {
        let n = chunk.min(args.lines - done);
        let mut csv = String::with_capacity(n as usize * 48);
        csv.push_str("identifier,customer_code,service,municipality_code,network_elements,status\n");
        for i in done..done + n {
            let at = rng.random_range(0..total);
            let p = &places[cumulative.partition_point(|c| *c <= at)];
            let olt = rng.random_range(0..OLTS_PER_PROVINCE);
            csv.push_str(&format!(
                "L{i:09},C{:04},{},{},OLT-{}-{olt},active\n",
                i % CUSTOMERS,
                SERVICES[(i % 4) as usize],
                p.code,
                p.province
            ));
        }
        let r = app.import_lines(&sys, csv.as_bytes(), false, &|_| {}).await?;
        anyhow::ensure!(r.rejected.is_empty(), "rejected lines: {:?}", r.rejected.first());
        done += n;
    }
    println!("lines: {} in {:.1} s", args.lines, t.elapsed().as_secs_f64());
    // Notices.
    let t = Instant::now();
    let regions: Vec<&str> = {
        let s: std::collections::BTreeSet<&str> = places.iter().map(|p| p.region.as_str()).collect();
        s.into_iter().collect()
    };
    let provinces: Vec<&str> = provinces.into_iter().collect();
    let term = |territory: Option<String>, element: Option<String>, service: Option<&str>| ScopeTerm {
        territory,
        network_element: element,
        service: service.map(String::from),
    };
    let now = app.now();
    for i in 0..args.notices {
        let place = &places[rng.random_range(0..places.len())];
        let (kind, scope_term, window) = match i % 20 {
            0 => (
                NoticeKind::Incident,
                term(Some(regions[rng.random_range(0..regions.len())].into()), None, Some("FTTH")),
                None,
            ),
            1..=3 => (
                NoticeKind::Incident,
                term(Some(provinces[rng.random_range(0..provinces.len())].into()), None, None),
                None,
            ),
            4 => {
                let p = provinces[rng.random_range(0..provinces.len())];
                (
                    NoticeKind::Incident,
                    term(None, Some(format!("OLT-{p}-{}", rng.random_range(0..OLTS_PER_PROVINCE))), None),
                    None,
                )
            }
            5 | 6 => {
                let start = now + jiff::SignedDuration::from_hours(24 + (i % 100) as i64);
                (
                    NoticeKind::Maintenance,
                    term(Some(place.code.clone()), None, None),
                    Some((start, start + jiff::SignedDuration::from_hours(2))),
                )
            }
            _ => (NoticeKind::Incident, term(Some(place.code.clone()), None, None), None),
        };
        let texts: BTreeMap<String, NoticeText> = [(
            "it".to_owned(),
            NoticeText { title: format!("Avviso {i}"), body: "Stiamo lavorando per risolvere il problema.".into() },
        )]
        .into();
        let input = NoticeInput {
            kind,
            impact: Impact::Outage,
            texts,
            internal_notes: String::new(),
            scope: Scope { terms: vec![scope_term], lines: vec![] },
            window,
            estimated_restoration: None,
            publish: true,
        };
        app.create_notice(&sys, input).await?;
    }
    println!("notices: {} in {:.1} s", args.notices, t.elapsed().as_secs_f64());
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let pick = |p: f64| ms(v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]);
    format!("p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} reads)", pick(0.5), pick(0.99), pick(1.0), v.len())
}

/// Loads (unless `--reuse`) and times the status page.
pub async fn run_status(database_url: &str, args: StatusBenchArgs) -> anyhow::Result<()> {
    let db = app::open_database(database_url, 8).await?;
    let app = App::new(db, app::Config::default());
    if !args.reuse {
        let places = places(&args.territory)?;
        load(&app, &args, &places).await?;
    }
    app.forget_caches();
    let t = Instant::now();
    let page = app.status_page("it").await?;
    let cold = t.elapsed();
    let shown = page.incidents.len() + page.maintenance.len() + page.history.len();
    println!("status page, first read (regions and services of {shown} notices computed): {:.0} ms", ms(cold));
    let mut refresh = Vec::new();
    for _ in 0..args.requests.min(50) {
        app.forget_status_page();
        let t = Instant::now();
        app.status_page("it").await?;
        refresh.push(t.elapsed());
    }
    println!("status page, refresh after the 5 s cache (places kept): {}", summary(refresh));
    let mut warm = Vec::new();
    for _ in 0..args.requests {
        let t = Instant::now();
        app.status_page("it").await?;
        warm.push(t.elapsed());
    }
    println!("status page, from the cache: {}", summary(warm));

    // Over HTTP, on a real port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = web::router(app.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let requests = args.requests;
    let results = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut out = Vec::new();
        for path in ["/status", "/status.atom", "/status.ics"] {
            let url = format!("http://{addr}{path}?lang=it");
            let mut times = Vec::with_capacity(requests);
            let mut size = 0;
            for _ in 0..requests {
                let t = Instant::now();
                let mut resp = agent.get(&url).call()?;
                anyhow::ensure!(resp.status() == 200, "{path}: {}", resp.status());
                size = resp.body_mut().read_to_string()?.len();
                times.push(t.elapsed());
            }
            out.push(format!("GET {path}: {} KiB, {}", size / 1024, summary(times)));
        }
        Ok(out)
    })
    .await??;
    for r in results {
        println!("{r}");
    }
    server.abort();
    app.db.close().await;
    Ok(())
}
