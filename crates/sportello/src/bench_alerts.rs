//! `sportello bench-alerts`: loads subscribed contacts (each the contact of its own customer,
//! with lines in one province), publishes an incident on that province through `App` with a
//! job worker running in this process, and times until every alert email is rendered into the
//! outbox (no SMTP server: the emails stay queued). Prints the figures of `docs/performance.md`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use app::alerts::BulkSubscription;
use app::notices::{NoticeInput, NoticeText};
use app::{Actor, App};
use clap::Args;
use domain::Channel;
use domain::notice::{Impact, NoticeKind};
use domain::scope::{Scope, ScopeTerm};

/// Options of `bench-alerts`.
#[derive(Debug, Clone, Args)]
pub struct AlertBenchArgs {
    /// Subscribed contacts, each of its own customer.
    #[arg(long, default_value_t = 100_000)]
    pub contacts: usize,
    /// Lines per customer, all in the affected province (spread over its municipalities).
    #[arg(long, default_value_t = 2)]
    pub lines: usize,
    /// Municipalities of the bench province.
    #[arg(long, default_value_t = 20)]
    pub municipalities: usize,
    /// Keep what an earlier run loaded (with the same options) and publish one more notice.
    #[arg(long)]
    pub reuse: bool,
}

const PROVINCE: &str = "BENCH-P";

fn email(i: usize) -> String {
    format!("c{i}@alerts.bench.example")
}

/// Loads the territory, customers with their contact, lines and subscriptions: even contacts
/// follow a zone (the province or the municipality of their first line), odd ones each of
/// their lines.
async fn load(app: &App, admin: &Actor, args: &AlertBenchArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut territory =
        String::from("code,name,level,parent_code\nIT,Italia,country,\nBENCH-R,Bench region,region,IT\n");
    writeln!(territory, "{PROVINCE},Bench province,province,BENCH-R")?;
    for m in 0..args.municipalities {
        writeln!(territory, "BENCH-M{m:03},Bench municipality {m},municipality,{PROVINCE}")?;
    }
    let r = app.import_territory(admin, territory.as_bytes(), true).await?;
    if !r.rejected.is_empty() {
        bail!("territory refused: {:?}", r.rejected);
    }
    let mut customers = String::from("code,name,vip,partner_code,contact_email,contact_name,language\n");
    let languages = ["it", "en", "ca"];
    for i in 0..args.contacts {
        writeln!(customers, "BENCH-C{i},Bench customer {i},false,,{},Contact {i},{}", email(i), languages[i % 3])?;
    }
    let r = app.import_customers(admin, customers.as_bytes(), true).await?;
    if !r.rejected.is_empty() {
        bail!("customers refused: {:?}", &r.rejected[..r.rejected.len().min(5)]);
    }
    println!("loaded {} customers and contacts in {:.1} s", args.contacts, t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    let mut lines = String::from("identifier,customer_code,service,municipality_code,network_elements,status\n");
    let municipality = |i: usize, j: usize| (i * args.lines + j) % args.municipalities;
    for i in 0..args.contacts {
        for j in 0..args.lines {
            writeln!(lines, "BENCH-L{i}-{j},BENCH-C{i},FTTH,BENCH-M{:03},,active", municipality(i, j))?;
        }
    }
    let r = app.import_lines(admin, lines.as_bytes(), true, &|_| {}).await?;
    if !r.rejected.is_empty() {
        bail!("lines refused: {:?}", &r.rejected[..r.rejected.len().min(5)]);
    }
    println!("loaded {} lines in {:.1} s", args.contacts * args.lines, t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    let mut rows = Vec::new();
    for i in 0..args.contacts {
        match i % 4 {
            0 => rows.push(BulkSubscription { contact: email(i), line: None, zone: Some(PROVINCE.into()) }),
            2 => rows.push(BulkSubscription {
                contact: email(i),
                line: None,
                zone: Some(format!("BENCH-M{:03}", municipality(i, 0))),
            }),
            _ => {
                for j in 0..args.lines {
                    rows.push(BulkSubscription {
                        contact: email(i),
                        line: Some(format!("BENCH-L{i}-{j}")),
                        zone: None,
                    });
                }
            }
        }
    }
    let report = app.bulk_subscribe(admin, &rows).await?;
    if !report.rejected.is_empty() {
        bail!("subscriptions refused: {:?}", &report.rejected[..report.rejected.len().min(5)]);
    }
    println!("added {} subscriptions in {:.1} s", report.added, t0.elapsed().as_secs_f64());
    Ok(())
}

/// Runs the benchmark.
pub async fn run(database_url: &str, args: AlertBenchArgs) -> anyhow::Result<()> {
    if args.contacts == 0 || args.lines == 0 || args.municipalities == 0 {
        bail!("--contacts, --lines and --municipalities must be above zero");
    }
    let db = app::open_database(database_url, 8).await.context("opening the database")?;
    let config = app::Config {
        public_url: Some("https://help.bench.example".into()),
        mail_from: "alerts@bench.example".into(),
        ..Default::default()
    };
    let app = App::new(db, config);
    let admin = Actor::system(Channel::System);
    let last = email(args.contacts - 1);
    let loaded = app.alert_subscriptions(&admin, Some(&last)).await.map(|s| !s.is_empty()).unwrap_or(false);
    if !(args.reuse && loaded) {
        load(&app, &admin, &args).await?;
    }

    // A worker as `serve` runs it, without `mail.send` (no SMTP server: emails stay queued).
    let (stop, rx) = tokio::sync::watch::channel(false);
    let cfg = app::jobs::WorkerConfig {
        node: "bench-alerts".into(),
        timeout: Duration::from_secs(900),
        lease: Duration::from_secs(900),
        ..Default::default()
    };
    let w = app.clone();
    let worker = tokio::spawn(async move { w.run_worker(app::jobs::Handlers::builtin(), cfg, rx).await });

    let before = app.outbox_queued_count().await?;
    let text = |title: &str, body: &str| NoticeText { title: title.into(), body: body.into() };
    let input = NoticeInput {
        kind: NoticeKind::Incident,
        impact: Impact::Outage,
        texts: [
            ("it".to_string(), text("Guasto fibra nella provincia", "Un cavo di dorsale è stato tranciato.")),
            ("en".to_string(), text("Fibre cut in the province", "A backbone cable was cut.")),
            ("ca".to_string(), text("Tall de fibra a la província", "S'ha tallat un cable troncal.")),
        ]
        .into(),
        internal_notes: String::new(),
        scope: Scope {
            terms: vec![ScopeTerm {
                territory: Some(PROVINCE.into()),
                network_element: None,
                service: Some("FTTH".into()),
            }],
            lines: vec![],
        },
        window: None,
        estimated_restoration: None,
        publish: true,
    };
    let t0 = Instant::now();
    let notice = app.create_notice(&admin, input).await?;
    let request = t0.elapsed();
    // The fan-out job writes every email before it is done; asking for its state is an indexed
    // count that leaves the cores to the job (counting the outbox every few milliseconds did not).
    while app.alert_fanouts_pending().await? > 0 {
        if t0.elapsed() > Duration::from_secs(900) {
            bail!("the fan-out is still running after 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    let written = app.outbox_queued_count().await? - before;
    let want = args.contacts as i64;
    if written != want {
        bail!("{written} alert emails in the outbox, {want} expected");
    }
    stop.send(true).ok();
    worker.await.ok();
    println!(
        "| publish a notice reaching {} subscribed contacts ({} lines): the request | {:.1} ms |",
        args.contacts,
        args.contacts * args.lines,
        request.as_secs_f64() * 1e3
    );
    println!(
        "| all {written} alert emails rendered into the outbox (notice {}) | {:.2} s ({:.0} emails/s) |",
        notice.id,
        took.as_secs_f64(),
        written as f64 / took.as_secs_f64()
    );
    app.db.close().await;
    Ok(())
}
