//! `sportello bench-inventory`: loads a believable national inventory through the real import
//! path (CSV files read by `App::import_*`), then creates active notices and times what people
//! wait for: the affected-set count of a notice and a customer's portal home.
//!
//! The inventory: the 7,904 real municipalities of the ISTAT list; customers whose homes are
//! spread in proportion to population (consumers with one or two lines, small and medium
//! businesses with lines in their province or region, a few large ones with SIMs all over the
//! country); per province a PoP, per municipality OLTs with 32-line PON ports, exchanges with
//! 150-line cabinets and 300-line radio base stations, and four national SBCs for VoIP.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use app::notices::{NoticeInput, NoticeText};
use app::{Actor, App};
use clap::Args;
use domain::notice::{Impact, NoticeKind};
use domain::scope::{Scope, ScopeTerm};
use domain::{Channel, Role};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Options of `bench-inventory`.
#[derive(Debug, Clone, Args)]
pub struct InventoryBenchArgs {
    /// Lines to load.
    #[arg(long, default_value_t = 10_000_000)]
    pub lines: u64,
    /// Active notices to create before measuring.
    #[arg(long, default_value_t = 1_000)]
    pub notices: usize,
    /// Portal home calls measured (each as a random customer's contact).
    #[arg(long, default_value_t = 10_000)]
    pub portal_calls: usize,
    /// Share of lines changed in the second re-import, in percent (0: no such pass).
    #[arg(long, default_value_t = 1.0)]
    pub changed_percent: f64,
    /// The ISTAT municipalities.
    #[arg(long, default_value = "../shared/testdata/territory/it-comuni-istat.csv")]
    pub territory: PathBuf,
    /// Folder for the generated CSV files (default: a temporary folder, removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The database already holds this benchmark's inventory and notices: only measure again.
    #[arg(long)]
    pub reuse: bool,
    /// Seed of the generator.
    #[arg(long, default_value_t = 6)]
    pub seed: u64,
}

/// A municipality of the ISTAT list.
struct Muni {
    code: String,
    province: String,
    region: String,
    population: u64,
}

/// Municipalities to pick from in proportion to population.
#[derive(Default)]
struct Weighted {
    index: Vec<usize>,
    cumulative: Vec<u64>,
}

impl Weighted {
    fn push(&mut self, i: usize, weight: u64) {
        let last = self.cumulative.last().copied().unwrap_or(0);
        self.index.push(i);
        self.cumulative.push(last + weight.max(1));
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let x = rng.random_range(0..total);
        let at = self.cumulative.partition_point(|c| *c <= x);
        self.index[at.min(self.index.len() - 1)]
    }
}

struct Places {
    munis: Vec<Muni>,
    all: Weighted,
    by_province: HashMap<String, Weighted>,
    by_region: HashMap<String, Weighted>,
}

impl Places {
    fn load(path: &Path) -> anyhow::Result<Places> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut munis = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            if i == 0 || line.trim().is_empty() {
                continue;
            }
            // istat_code,name,region_code,region_name,province_code,province_name,province_abbr,population_2011
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 8 {
                bail!("{}: line {}: expected 8 fields", path.display(), i + 1);
            }
            munis.push(Muni {
                code: f[0].to_owned(),
                province: f[4].to_owned(),
                region: f[2].to_owned(),
                population: f[7].parse().unwrap_or(1),
            });
        }
        let mut p = Places { munis, all: Weighted::default(), by_province: HashMap::new(), by_region: HashMap::new() };
        for (i, m) in p.munis.iter().enumerate() {
            p.all.push(i, m.population);
            p.by_province.entry(m.province.clone()).or_default().push(i, m.population);
            p.by_region.entry(m.region.clone()).or_default().push(i, m.population);
        }
        Ok(p)
    }
}

const SERVICES: [&str; 7] = ["FTTH", "FTTC", "ADSL", "FWA", "SIM", "VOIP", "LEASED"];
const FTTH: usize = 0;
const FTTC: usize = 1;
const ADSL: usize = 2;
const FWA: usize = 3;
const SIM: usize = 4;
const VOIP: usize = 5;
const LEASED: usize = 6;

/// Lines per PON port, ports per OLT, lines per cabinet, cabinets per exchange, ADSL lines per
/// exchange, lines per radio base station.
const PORT_LINES: u64 = 32;
const OLT_PORTS: u64 = 64;
const CABINET_LINES: u64 = 150;
const EXCHANGE_CABINETS: u64 = 67;
const EXCHANGE_ADSL: u64 = 10_000;
const BTS_LINES: u64 = 300;

fn fixed_service(rng: &mut StdRng) -> usize {
    match rng.random_range(0..100) {
        0..55 => FTTH,
        55..85 => FTTC,
        85..95 => FWA,
        _ => ADSL,
    }
}

/// Generates the customers and their lines, the same way every time for one seed: `customer`
/// hears each customer (number, VIP), `line` each line (customer, service, municipality).
fn plan(
    places: &Places,
    seed: u64,
    lines: u64,
    mut customer: impl FnMut(u64, bool) -> anyhow::Result<()>,
    mut line: impl FnMut(u64, usize, usize) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut made = 0u64;
    let mut n = 0u64;
    while made < lines {
        n += 1;
        let home = places.all.pick(&mut rng);
        let r: f64 = rng.random();
        let (size, large) = if r < 0.80 {
            (if rng.random_bool(0.3) { 2 } else { 1 }, false)
        } else if r < 0.98 {
            (rng.random_range(2..=20), false)
        } else if r < 0.999 {
            (rng.random_range(20..=200), false)
        } else {
            // Log-uniform from 200 to 5,000: fleets of SIMs, chains of shops.
            ((200.0 * 25f64.powf(rng.random::<f64>())) as u64, true)
        };
        let size = size.min(lines - made);
        customer(n, large)?;
        for i in 0..size {
            let (service, place) = if r < 0.80 {
                (if i == 0 { fixed_service(&mut rng) } else { SIM }, home)
            } else if r < 0.98 {
                let s = match rng.random_range(0..100) {
                    0..50 => fixed_service(&mut rng),
                    50..70 => VOIP,
                    70..95 => SIM,
                    _ => LEASED,
                };
                let m = &places.munis[home];
                let place = if rng.random_bool(0.2) { places.by_province[&m.province].pick(&mut rng) } else { home };
                (s, place)
            } else if r < 0.999 {
                let s = match rng.random_range(0..100) {
                    0..40 => fixed_service(&mut rng),
                    40..55 => VOIP,
                    55..90 => SIM,
                    _ => LEASED,
                };
                (s, places.by_region[&places.munis[home].region].pick(&mut rng))
            } else {
                let s = if rng.random_bool(0.9) { SIM } else { fixed_service(&mut rng) };
                (s, places.all.pick(&mut rng))
            };
            line(n, service, place)?;
        }
        made += size;
    }
    Ok(n)
}

/// Lines per municipality and service.
type Counts = Vec<[u64; 7]>;

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

fn exchanges(c: &[u64; 7]) -> u64 {
    ceil_div(ceil_div(c[FTTC], CABINET_LINES), EXCHANGE_CABINETS).max(ceil_div(c[ADSL], EXCHANGE_ADSL))
}

/// Writes the network: a PoP per province, four SBCs, and per municipality the OLTs and ports,
/// exchanges and cabinets, and base stations its lines need. Returns some element codes of
/// each kind for notices.
fn write_network(path: &Path, places: &Places, counts: &Counts) -> anyhow::Result<(u64, Vec<String>)> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "code,name,kind,parent_code")?;
    let mut provinces: Vec<&str> = places.munis.iter().map(|m| m.province.as_str()).collect();
    provinces.sort_unstable();
    provinces.dedup();
    let mut n = 0u64;
    let mut sample = Vec::new();
    for p in &provinces {
        writeln!(w, "POP-{p},PoP {p},pop,")?;
        n += 1;
    }
    for s in 0..4 {
        writeln!(w, "SBC-{s},SBC {s},sbc,")?;
        n += 1;
    }
    for (i, m) in places.munis.iter().enumerate() {
        let c = &counts[i];
        let (code, pop) = (&m.code, &m.province);
        let ports = ceil_div(c[FTTH], PORT_LINES);
        for o in 0..ceil_div(ports, OLT_PORTS) {
            writeln!(w, "OLT-{code}-{o},OLT {o} {code},olt,POP-{pop}")?;
            sample.push(format!("OLT-{code}-{o}"));
        }
        for p in 0..ports {
            writeln!(w, "PON-{code}-{p},PON {p} {code},pon_port,OLT-{code}-{}", p / OLT_PORTS)?;
        }
        for e in 0..exchanges(c) {
            writeln!(w, "CO-{code}-{e},Exchange {e} {code},exchange,POP-{pop}")?;
            sample.push(format!("CO-{code}-{e}"));
        }
        for k in 0..ceil_div(c[FTTC], CABINET_LINES) {
            writeln!(w, "CAB-{code}-{k},Cabinet {k} {code},cabinet,CO-{code}-{}", k / EXCHANGE_CABINETS)?;
            if k % 7 == 0 {
                sample.push(format!("CAB-{code}-{k}"));
            }
        }
        for b in 0..ceil_div(c[FWA], BTS_LINES) {
            writeln!(w, "BTS-{code}-{b},Base station {b} {code},bts,POP-{pop}")?;
            sample.push(format!("BTS-{code}-{b}"));
        }
        n += ceil_div(ports, OLT_PORTS)
            + ports
            + exchanges(c)
            + ceil_div(c[FTTC], CABINET_LINES)
            + ceil_div(c[FWA], BTS_LINES);
    }
    w.flush()?;
    Ok((n, sample))
}

/// The identifier of a line of `service`, the `k`-th of its kind: each service has its own
/// format and they interleave in the file, as in an export in order of activation.
fn identifier(out: &mut String, service: usize, k: u64) {
    out.clear();
    let _ = match service {
        SIM => write!(out, "8939{k:015}"),
        VOIP => write!(out, "+39{:010}", 200_000_000 + k),
        LEASED => write!(out, "CDN-{k:07}"),
        s => write!(out, "{}-{k:09}", SERVICES[s]),
    };
}

/// The elements a line depends on, from its position among its municipality's lines of its service.
fn element(out: &mut String, places: &Places, counts: &Counts, m: usize, service: usize, k: u64) {
    out.clear();
    let code = &places.munis[m].code;
    let _ = match service {
        FTTH => write!(out, "PON-{code}-{}", k / PORT_LINES),
        FTTC => write!(out, "CAB-{code}-{}", k / CABINET_LINES),
        ADSL => write!(out, "CO-{code}-{}", (k / EXCHANGE_ADSL).min(exchanges(&counts[m]).saturating_sub(1))),
        FWA => write!(out, "BTS-{code}-{}", k / BTS_LINES),
        VOIP => write!(out, "SBC-{}", places.munis[m].region.parse::<u64>().unwrap_or(0) % 4),
        LEASED => write!(out, "POP-{}", places.munis[m].province),
        _ => Ok(()),
    };
}

/// Times one async call.
async fn timed<T>(f: impl std::future::Future<Output = app::Result<T>>) -> anyhow::Result<(T, Duration)> {
    let t = Instant::now();
    let v = f.await?;
    Ok((v, t.elapsed()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    ms(sorted[i])
}

fn term(territory: Option<&str>, element: Option<&str>, service: Option<&str>) -> ScopeTerm {
    ScopeTerm {
        territory: territory.map(String::from),
        network_element: element.map(String::from),
        service: service.map(String::from),
    }
}

/// What the benchmark keeps between the load and the measurements.
struct Loaded {
    customers: u64,
    /// Notices by scope kind: regions, municipalities.
    regions: Vec<i64>,
    municipalities: Vec<i64>,
}

/// Runs the benchmark and prints its figures.
pub async fn run(database_url: &str, args: InventoryBenchArgs) -> anyhow::Result<()> {
    let db = app::open_database(database_url, 8).await?;
    let app = App::new(db, app::Config::default());
    let admin = Actor::system(Channel::System);
    let staff = bench_agent(&app, &admin).await?;
    let places = Places::load(&args.territory)?;
    println!(
        "bench-inventory: {} on {} ({} municipalities)",
        crate::import::thousands(args.lines),
        crate::redact(database_url),
        places.munis.len()
    );
    let loaded = if args.reuse {
        reuse(&app, &staff).await?
    } else {
        let temp;
        let dir = match &args.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                d.clone()
            }
            None => {
                temp = tempdir()?;
                temp.0.clone()
            }
        };
        load(&app, &admin, &staff, &places, &args, &dir).await?
    };
    measure(&app, &staff, &args, &loaded).await?;
    app.db.close().await;
    Ok(())
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> anyhow::Result<TempDir> {
    let path = std::env::temp_dir().join(format!("sportello-bench-inventory-{}", std::process::id()));
    std::fs::create_dir_all(&path)?;
    Ok(TempDir(path))
}

/// An agent with no queue rights: staff, so it may read notices with their counts.
async fn bench_agent(app: &App, admin: &Actor) -> anyhow::Result<Actor> {
    let email = "bench-inventory@op.example";
    if let Ok(a) = app.user_actor_by_email(email, Channel::Api).await {
        return Ok(a);
    }
    let input = app::admin::UserInput {
        email: email.into(),
        name: "Inventory benchmark".into(),
        role: Role::Agent,
        partner_id: None,
        active: Some(true),
    };
    app.create_user(admin, input, None).await?;
    Ok(app.user_actor_by_email(email, Channel::Api).await?)
}

fn report(name: &str, r: &app::inventory::ImportReport, took: Duration) -> anyhow::Result<()> {
    if r.rejected_count() > 0 || r.aborted {
        bail!("{name}: {} rows refused, first: {:?}", r.rejected_count(), r.rejected.first());
    }
    println!(
        "| import {name} | {} rows in {:.1} s | {} rows/s | {} added, {} updated, {} unchanged |",
        crate::import::thousands(r.rows),
        took.as_secs_f64(),
        crate::import::thousands((r.rows as f64 / took.as_secs_f64()) as u64),
        crate::import::thousands(r.added),
        crate::import::thousands(r.updated),
        crate::import::thousands(r.unchanged),
    );
    Ok(())
}

async fn import_file(
    app: &App,
    admin: &Actor,
    kind: crate::import::ImportKind,
    path: &Path,
) -> anyhow::Result<(app::inventory::ImportReport, Duration)> {
    use crate::import::ImportKind as K;
    let file = std::fs::File::open(path)?;
    let t = Instant::now();
    let r = match kind {
        K::Territory => app.import_territory(admin, file, false).await?,
        K::Network => app.import_network(admin, file, false).await?,
        K::Customers => app.import_customers(admin, file, false).await?,
        K::Lines => app.import_lines(admin, file, false, &|_| {}).await?,
    };
    Ok((r, t.elapsed()))
}

async fn load(
    app: &App,
    admin: &Actor,
    staff: &Actor,
    places: &Places,
    args: &InventoryBenchArgs,
    dir: &Path,
) -> anyhow::Result<Loaded> {
    use crate::import::ImportKind as K;
    if app.open_notices(staff).await?.iter().any(|n| n.title.starts_with("Bench")) {
        bail!("the database already holds a benchmark inventory: use an empty database, or --reuse");
    }
    let (r, took) = import_file(app, admin, K::Territory, &args.territory).await?;
    report("territory (ISTAT)", &r, took)?;

    // Pass 1: customers, and lines per municipality and service (to size the network).
    let t = Instant::now();
    let mut counts: Counts = vec![[0; 7]; places.munis.len()];
    let customers_path = dir.join("customers.csv");
    let mut cw = BufWriter::new(std::fs::File::create(&customers_path)?);
    writeln!(cw, "code,name,vip,partner_code,contact_email,contact_name,language")?;
    let customers = plan(
        places,
        args.seed,
        args.lines,
        |n, large| {
            writeln!(cw, "C{n:07},Cliente {n},{},,c{n}@bench.example,,it", if large { "yes" } else { "no" })?;
            Ok(())
        },
        |_, s, m| {
            counts[m][s] += 1;
            Ok(())
        },
    )?;
    cw.flush()?;
    drop(cw);
    let network_path = dir.join("network.csv");
    let (elements, sample) = write_network(&network_path, places, &counts)?;

    // Pass 2: the lines, and the same file with a share of them changed.
    let lines_path = dir.join("lines.csv");
    let changed_path = dir.join("lines-changed.csv");
    let mut lw = BufWriter::with_capacity(1 << 20, std::fs::File::create(&lines_path)?);
    let mut chw = (args.changed_percent > 0.0)
        .then(|| std::fs::File::create(&changed_path).map(|f| BufWriter::with_capacity(1 << 20, f)))
        .transpose()?;
    let header = "identifier,customer_code,service,municipality_code,network_elements,status";
    writeln!(lw, "{header}")?;
    if let Some(w) = &mut chw {
        writeln!(w, "{header}")?;
    }
    let mut next: Counts = vec![[0; 7]; places.munis.len()];
    let mut per_service = [0u64; 7];
    let mut status_rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let (mut id, mut el, mut row) = (String::new(), String::new(), String::new());
    let share = args.changed_percent / 100.0;
    plan(
        places,
        args.seed,
        args.lines,
        |_, _| Ok(()),
        |cust, s, m| {
            per_service[s] += 1;
            identifier(&mut id, s, per_service[s]);
            let k = next[m][s];
            next[m][s] += 1;
            element(&mut el, places, &counts, m, s, k);
            let status = match status_rng.random_range(0..100) {
                0..97 => "active",
                97..99 => "suspended",
                _ => "ceased",
            };
            row.clear();
            let _ = write!(row, "{id},C{cust:07},{},{},{el},", SERVICES[s], places.munis[m].code);
            writeln!(lw, "{row}{status}")?;
            if let Some(w) = &mut chw {
                let changed = status_rng.random_bool(share);
                let status = match (changed, status) {
                    (false, s) => s,
                    (true, "active") => "suspended",
                    (true, _) => "active",
                };
                writeln!(w, "{row}{status}")?;
            }
            Ok(())
        },
    )?;
    lw.flush()?;
    drop(lw);
    if let Some(mut w) = chw {
        w.flush()?;
    }
    println!(
        "generated {} customers, {} network elements, {} lines in {:.1} s (files in {})",
        crate::import::thousands(customers),
        crate::import::thousands(elements),
        crate::import::thousands(args.lines),
        t.elapsed().as_secs_f64(),
        dir.display()
    );

    let (r, took) = import_file(app, admin, K::Customers, &customers_path).await?;
    report("customers (with a contact each)", &r, took)?;
    let (r, took) = import_file(app, admin, K::Network, &network_path).await?;
    report("network elements", &r, took)?;
    println!("| import | rows | rows/s | |");
    println!("| --- | --- | --- | --- |");
    let (r, took) = import_file(app, admin, K::Lines, &lines_path).await?;
    report("lines, new", &r, took)?;
    let (r, took) = import_file(app, admin, K::Lines, &lines_path).await?;
    report("lines, the same file again", &r, took)?;
    if args.changed_percent > 0.0 {
        let (r, took) = import_file(app, admin, K::Lines, &changed_path).await?;
        report(&format!("lines, {}% changed", args.changed_percent), &r, took)?;
    }

    let loaded = create_notices(app, staff, places, args, &sample, customers).await?;
    Ok(loaded)
}

/// Creates the active notices: one per region, provinces (some for FTTH only), municipalities
/// in proportion to population (some for one service), network elements, a service in a
/// region, and three national service outages.
async fn create_notices(
    app: &App,
    staff: &Actor,
    places: &Places,
    args: &InventoryBenchArgs,
    sample: &[String],
    customers: u64,
) -> anyhow::Result<Loaded> {
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x40_71ce);
    let mut regions: Vec<&str> = places.munis.iter().map(|m| m.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let mut provinces: Vec<&str> = places.munis.iter().map(|m| m.province.as_str()).collect();
    provinces.sort_unstable();
    provinces.dedup();
    let mut scopes: Vec<(&str, Scope)> = Vec::new();
    let one = |t: ScopeTerm| Scope { terms: vec![t], lines: vec![] };
    for r in &regions {
        scopes.push(("region", one(term(Some(r), None, None))));
    }
    for s in ["VOIP", "SIM", "LEASED"] {
        scopes.push(("service", one(term(None, None, Some(s)))));
    }
    let n = args.notices;
    while scopes.len() < n {
        let i = scopes.len();
        let kind = i % 20;
        let scope = match kind {
            0..2 => {
                let p = provinces[rng.random_range(0..provinces.len())];
                let service = rng.random_bool(0.3).then_some("FTTH");
                ("province", one(term(Some(p), None, service)))
            }
            2..12 => {
                let m = &places.munis[places.all.pick(&mut rng)].code;
                let service = rng.random_bool(0.2).then(|| SERVICES[rng.random_range(0..4)]);
                ("municipality", one(term(Some(m), None, service)))
            }
            12..19 if !sample.is_empty() => {
                ("element", one(term(None, Some(&sample[rng.random_range(0..sample.len())]), None)))
            }
            _ => {
                let r = regions[rng.random_range(0..regions.len())];
                ("service in region", one(term(Some(r), None, Some(SERVICES[rng.random_range(0..4)]))))
            }
        };
        scopes.push(scope);
    }
    scopes.truncate(n);
    let t = Instant::now();
    let mut out = Loaded { customers, regions: Vec::new(), municipalities: Vec::new() };
    for (i, (kind, scope)) in scopes.into_iter().enumerate() {
        let input = NoticeInput {
            kind: NoticeKind::Incident,
            impact: Impact::Outage,
            texts: [(
                "it".to_string(),
                NoticeText { title: format!("Bench {kind} {i}"), body: "Guasto in corso, stiamo intervenendo.".into() },
            )]
            .into(),
            internal_notes: String::new(),
            scope,
            window: None,
            estimated_restoration: None,
            publish: true,
        };
        let v = app.create_notice(staff, input).await?;
        match kind {
            "region" => out.regions.push(v.id),
            "municipality" => out.municipalities.push(v.id),
            _ => {}
        }
    }
    println!("created {n} active notices in {:.1} s", t.elapsed().as_secs_f64());
    Ok(out)
}

/// Finds the notices and customers of an earlier run.
async fn reuse(app: &App, staff: &Actor) -> anyhow::Result<Loaded> {
    let mut out = Loaded { customers: 0, regions: Vec::new(), municipalities: Vec::new() };
    for n in app.open_notices(staff).await? {
        if n.title.starts_with("Bench region") {
            out.regions.push(n.id);
        } else if n.title.starts_with("Bench municipality") {
            out.municipalities.push(n.id);
        }
    }
    // Contacts were added one per customer, in order: find the last one.
    let exists = |id: u64| async move { app.contact_actor(id as i64, Channel::Web).await.is_ok() };
    let mut high = 1u64;
    while exists(high).await {
        high *= 2;
    }
    let mut low = high / 2;
    while low + 1 < high {
        let mid = (low + high) / 2;
        if exists(mid).await {
            low = mid;
        } else {
            high = mid;
        }
    }
    out.customers = low;
    if out.regions.is_empty() || out.customers == 0 {
        bail!("no benchmark inventory in this database: run without --reuse first");
    }
    Ok(out)
}

async fn measure(app: &App, staff: &Actor, args: &InventoryBenchArgs, loaded: &Loaded) -> anyhow::Result<()> {
    // What `sportello import` does after writing lines: count the tallies again.
    match app.refresh_line_tallies().await? {
        app::tallies::TallyRefresh::Refreshed { rows, lines, took } => println!(
            "line tallies counted again in {:.1} s ({} rows, {} lines in service)",
            took.as_secs_f64(),
            crate::import::thousands(rows as u64),
            crate::import::thousands(lines as u64)
        ),
        other => println!("line tallies: {other:?}"),
    }
    anyhow::ensure!(app.line_tallies_current().await?, "the line tallies are not current");
    println!();
    println!("| figure | target | median | max | notes |");
    println!("| --- | --- | --- | --- | --- |");
    for (what, ids, target) in [
        ("region-wide notice", &loaded.regions, "≤ 500 ms"),
        ("one-municipality notice", &loaded.municipalities, "≤ 10 ms"),
    ] {
        let ids: Vec<i64> = ids.iter().copied().take(200).collect();
        let mut notice = Vec::new();
        let mut count = Vec::new();
        let mut preview = Vec::new();
        let mut from_lines = Vec::new();
        let mut lines = Vec::new();
        for id in &ids {
            let (v, d) = timed(app.notice(staff, *id)).await?;
            notice.push(d);
            let scope = v.scope.clone().unwrap_or_default();
            let ((l, _), d) = timed(app.count_scope(staff, &scope)).await?;
            count.push(d);
            lines.push(l);
            let (p, d) = timed(app.preview_scope(staff, &scope)).await?;
            preview.push(d);
            // The same breakdown read from the lines, for comparison (a few notices: it is slow):
            // the term again for FTTH only adds no line, but the scope is no longer one tally.
            if from_lines.len() < 5 && scope.terms.len() == 1 && scope.terms[0].service.is_none() {
                let mut twice = scope.clone();
                let mut ftth = scope.terms[0].clone();
                ftth.service = Some("FTTH".into());
                twice.terms.push(ftth);
                let (q, d) = timed(app.preview_scope(staff, &twice)).await?;
                anyhow::ensure!(q.by_region_and_service == p.by_region_and_service, "the breakdowns differ");
                from_lines.push(d);
            }
        }
        notice.sort();
        count.sort();
        preview.sort();
        from_lines.sort();
        lines.sort_unstable();
        let median_lines = lines.get(lines.len() / 2).copied().unwrap_or(0);
        let max_lines = lines.last().copied().unwrap_or(0);
        println!(
            "| affected-set count, {what} (`App::notice` with counts) | {target} | {:.2} ms | {:.2} ms | {} notices; lines reached: median {}, max {} |",
            percentile(&notice, 0.5),
            percentile(&notice, 1.0),
            ids.len(),
            crate::import::thousands(median_lines as u64),
            crate::import::thousands(max_lines as u64),
        );
        println!(
            "| the count alone (`App::count_scope`), {what} | | {:.2} ms | {:.2} ms | |",
            percentile(&count, 0.5),
            percentile(&count, 1.0)
        );
        println!(
            "| the editor's preview, counts and lines per region and service (`App::preview_scope`), {what} | | {:.2} ms | {:.2} ms | from the tallies; the same read from the lines: median {:.2} ms, max {:.2} ms over {} |",
            percentile(&preview, 0.5),
            percentile(&preview, 1.0),
            percentile(&from_lines, 0.5),
            percentile(&from_lines, 1.0),
            from_lines.len()
        );
    }
    // The portal home of random customers' contacts (contact n belongs to customer n).
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x90_47a1);
    let mut actors = Vec::with_capacity(args.portal_calls);
    while actors.len() < args.portal_calls {
        let id = rng.random_range(1..=loaded.customers.max(1)) as i64;
        if let Ok(a) = app.contact_actor(id, Channel::Web).await {
            actors.push(a);
        }
    }
    app.my_notices(&actors[0]).await?; // the compiled notices, warm
    let mut took = Vec::with_capacity(actors.len());
    let mut shown = 0usize;
    let mut touched = 0usize;
    for a in &actors {
        let (v, d) = timed(app.my_notices(a)).await?;
        took.push((d, v.len(), v.iter().map(|(_, l)| l.len()).sum::<usize>()));
        shown += v.len();
        touched += usize::from(!v.is_empty());
    }
    took.sort();
    // What the slowest hundredth shows: how many notices, over how many of the customer's lines.
    let slow = &took[took.len() - (took.len() / 100).max(1)..];
    let slow_notices = slow.iter().map(|t| t.1).sum::<usize>() as f64 / slow.len() as f64;
    let slow_lines = slow.iter().map(|t| t.2).sum::<usize>() as f64 / slow.len() as f64;
    let took: Vec<Duration> = took.into_iter().map(|t| t.0).collect();
    println!(
        "| a customer's active notices, portal home (`App::my_notices`) | p99 ≤ 2 ms | {:.3} ms | {:.2} ms | p99 {:.3} ms over {} calls (compiled notices cached); {:.0}% of customers see at least one, {:.2} notices on average; the slowest 1% show {:.1} notices touching {:.0} of their lines |",
        percentile(&took, 0.5),
        percentile(&took, 1.0),
        percentile(&took, 0.99),
        took.len(),
        touched as f64 * 100.0 / took.len().max(1) as f64,
        shown as f64 / took.len().max(1) as f64,
        slow_notices,
        slow_lines,
    );
    Ok(())
}
