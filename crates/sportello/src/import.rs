//! `sportello import territory|network|customers|lines FILE`: loads an inventory CSV through the
//! same `app` functions an API would use, shows progress on a terminal, and prints what it did.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use app::Actor;
use app::inventory::ImportReport;
use clap::{Args, ValueEnum};
use domain::Channel;

/// Every row imported.
pub const EXIT_OK: u8 = 0;
/// Some rows were refused, the valid ones were imported.
pub const EXIT_PARTIAL: u8 = 3;
/// Nothing was written: a bad file, `--strict` with a bad row, or every row refused (EX_DATAERR).
pub const EXIT_DATAERR: u8 = 65;
/// The file cannot be opened (EX_NOINPUT).
pub const EXIT_NOINPUT: u8 = 66;

/// How many refused rows the text report prints.
const PRINTED: usize = 50;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportKind {
    /// Territories: the ISTAT list, `code,name,level,parent_code`, or mergers `old_code,successor_code`.
    Territory,
    /// Network elements: `code,name,kind,parent_code`.
    Network,
    /// Customers and their contact: `code,name,vip,partner_code,contact_email,contact_name,language`.
    Customers,
    /// Lines: `identifier,customer_code,service,municipality_code,network_elements,status[,monitoring_address]`.
    Lines,
}

/// Options of `import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// What the file holds.
    #[arg(value_enum)]
    pub kind: ImportKind,
    /// The CSV file, or `-` for standard input.
    pub file: PathBuf,
    /// Write nothing at all if any row is bad (one transaction).
    #[arg(long)]
    pub strict: bool,
    /// Print the report as JSON on standard output, every refused row included.
    #[arg(long)]
    pub json: bool,
}

/// Counts the bytes read through it (for the progress bar).
struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Runs `sportello import`; the exit status says how it went (see `docs/operations.md`).
pub async fn run(database_url: &str, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        match std::fs::File::open(&args.file) {
            Ok(f) => {
                let size = f.metadata().ok().map(|m| m.len());
                (Box::new(f), size)
            }
            Err(e) => {
                eprintln!("sportello: cannot open {name}: {e}");
                return Ok(ExitCode::from(EXIT_NOINPUT));
            }
        }
    };
    let bytes = Arc::new(AtomicU64::new(0));
    let input = Counting { inner: input, bytes: bytes.clone() };
    let app = crate::cli::open(database_url, 2).await?;
    let actor = Actor::system(Channel::System);
    let bar = progress_bar(size);
    let show = {
        let bar = bar.clone();
        move |rows: u64| {
            bar.set_position(bytes.load(Ordering::Relaxed));
            bar.set_message(format!("{} rows", thousands(rows)));
        }
    };
    let started = Instant::now();
    let result = match args.kind {
        ImportKind::Territory => app.import_territory(&actor, input, args.strict).await,
        ImportKind::Network => app.import_network(&actor, input, args.strict).await,
        ImportKind::Customers => app.import_customers(&actor, input, args.strict).await,
        ImportKind::Lines => app.import_lines(&actor, input, args.strict, &show).await,
    };
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    // Counts of notices read the line tallies only while they are current: bring them up to
    // date now rather than leave it to a running server's background task.
    let wrote = result.as_ref().is_ok_and(|r| r.imported > 0);
    let tallies = if wrote && matches!(args.kind, ImportKind::Territory | ImportKind::Lines) {
        Some(app.refresh_line_tallies().await)
    } else {
        None
    };
    app.db.close().await;
    let tally_seconds = match tallies {
        Some(Ok(app::tallies::TallyRefresh::Refreshed { took, .. })) => Some(took.as_secs_f64()),
        Some(Err(e)) => {
            eprintln!("sportello: the line tallies were not refreshed ({e}); a running server will do it");
            None
        }
        _ => None,
    };
    let report = match result {
        Ok(r) => r,
        Err(app::Error::Invalid(problems)) => {
            for p in problems {
                eprintln!("sportello: {name}: {}: {}", p.field, p.message);
            }
            eprintln!("sportello: nothing was imported");
            return Ok(ExitCode::from(EXIT_DATAERR));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot import {name}")),
    };
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("seconds".into(), serde_json::json!(seconds));
            o.insert("rows_per_second".into(), serde_json::json!(rate(report.rows, seconds)));
            o.insert("tallies_seconds".into(), serde_json::json!(tally_seconds));
        }
        println!("{v}");
    } else {
        print!("{}", text_report(&name, args.kind, &report, seconds));
        if let Some(t) = tally_seconds {
            println!("line tallies counted again in {t:.1} s");
        }
    }
    Ok(ExitCode::from(exit_status(&report)))
}

/// The exit status of a finished import.
pub fn exit_status(r: &ImportReport) -> u8 {
    let refused = r.rejected_count();
    if r.aborted || (refused > 0 && refused == r.rows) {
        EXIT_DATAERR
    } else if refused > 0 {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    }
}

/// The report as people read it.
pub fn text_report(file: &str, kind: ImportKind, r: &ImportReport, seconds: f64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let refused = r.rejected_count();
    let _ = writeln!(
        out,
        "{file}: {} rows read in {seconds:.2} s ({} rows/s)",
        thousands(r.rows),
        thousands(rate(r.rows, seconds) as u64)
    );
    if r.aborted {
        let _ = writeln!(out, "nothing written: --strict and {} bad rows", thousands(refused));
    } else {
        let _ = write!(
            out,
            "imported {} ({} added, {} updated)",
            thousands(r.imported),
            thousands(r.added),
            thousands(r.updated)
        );
        if kind == ImportKind::Lines {
            let _ = write!(out, ", {} unchanged", thousands(r.unchanged));
        }
        let _ = writeln!(out, ", rejected {}", thousands(refused));
    }
    for x in r.rejected.iter().take(PRINTED) {
        let _ = writeln!(out, "  line {}: {}", x.line, x.reason);
    }
    if refused > PRINTED as u64 {
        let _ = writeln!(out, "  … and {} more (--json lists them all)", thousands(refused - PRINTED as u64));
    }
    out
}

fn rate(rows: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { rows as f64 / seconds } else { 0.0 }
}

/// `12,345,678`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A progress line on standard error, redrawn at most 10 times a second, only on a terminal.
fn progress_bar(size: Option<u64>) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr_with_hz(10)
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let (bar, template) = match size {
        Some(len) => (
            indicatif::ProgressBar::with_draw_target(Some(len), target),
            "{elapsed_precise} [{bar:30}] {percent:>3}% {msg} ({eta} left)",
        ),
        None => (indicatif::ProgressBar::with_draw_target(None, target), "{elapsed_precise} {spinner} {msg}"),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
