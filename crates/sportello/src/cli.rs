//! Command-line definitions and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use app::{Actor, App};
use clap::{Args, Parser, Subcommand, ValueEnum};
use domain::{Channel, Role};

/// Sportello: helpdesk and targeted outage notices for telecom operators.
#[derive(Debug, Parser)]
#[command(name = "sportello", version, about, long_about = None)]
pub struct Cli {
    /// Database: sqlite://PATH (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(long, env = "SPORTELLO_DATABASE_URL", default_value = "sqlite://sportello-data/sportello.db", global = true)]
    pub database_url: String,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server, the API and the background workers.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administration: users and API tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Fill an empty database with a believable operator (queues, people, tickets) and print the logins.
    Demo,
    /// Measure performance on a large seeded database and print the figures.
    Bench(crate::bench::BenchArgs),
    /// Measure the delivery of queued notification email to a local SMTP server.
    BenchMail(crate::bench::MailBenchArgs),
    /// Measure business-time arithmetic on the built-in support levels' calendars, and the
    /// recompute of running SLA clocks after a calendar change.
    BenchSla(crate::bench::SlaBenchArgs),
    /// Measure the public status page and its feeds over a loaded inventory and many notices.
    BenchStatus(crate::bench_status::StatusBenchArgs),
    /// Load inventory from a CSV file (`-`: standard input). Exit status: 0 every row imported,
    /// 3 some rows refused (the others imported), 65 nothing written (bad file, --strict with a bad
    /// row, or every row refused), 66 the file cannot be opened, 1 any other failure.
    Import(crate::import::ImportArgs),
    /// Measure line imports through the real CSV path on a national inventory (the ISTAT
    /// municipalities), then affected-set counts and portal homes with active notices.
    BenchInventory(crate::bench_inventory::InventoryBenchArgs),
    /// Measure the fan-out of a notice to subscribed contacts: publish, then every alert email
    /// rendered into the outbox.
    BenchAlerts(crate::bench_alerts::AlertBenchArgs),
    /// Email: take in a message.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Service levels: compute due times.
    #[command(subcommand)]
    Sla(SlaCommand),
}

/// Service-level commands.
#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Print when the intervention and the restoration of a ticket are due under a support level
    /// of the database (built in: professional, advanced, extended; admins may add and change them).
    Due {
        /// The support level.
        #[arg(long)]
        level: String,
        /// The ticket's severity.
        #[arg(long, value_enum)]
        severity: SeverityArg,
        /// When the ticket was opened (RFC 3339, e.g. 2026-11-20T16:30:00+01:00).
        #[arg(long)]
        opened: String,
        /// When the intervention happened (restoration counts from it; without it, from the
        /// intervention's due time).
        #[arg(long)]
        intervened: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A ticket's severity.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SeverityArg {
    /// The service does not work.
    Blocking,
    /// The service works, badly or partly.
    NonBlocking,
}

/// Email commands.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Read one message on standard input and ingest it (for Postfix's `pipe` or an alias).
    /// Exit status: 0 taken, 75 temporary failure (try again), 65 malformed (kept in the quarantine).
    Ingest {
        /// The queue (slug) the message is for.
        #[arg(long)]
        queue: String,
        /// `correspond` (new tickets and replies) or `comment` (internal comments).
        #[arg(long, value_enum, default_value = "correspond")]
        action: MailActionArg,
        /// The largest message accepted, in bytes (larger ones are refused with status 65).
        #[arg(long, default_value_t = 25 << 20)]
        max_bytes: usize,
    },
}

/// What an ingested message asks for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MailActionArg {
    /// New tickets and public replies.
    Correspond,
    /// Internal comments.
    Comment,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SPORTELLO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The public URL of this instance (for links in messages).
    #[arg(long, env = "SPORTELLO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seed demo data on first start of an empty database.
    #[arg(long)]
    pub demo: bool,
    /// Background job workers in this process (0 for none).
    #[arg(long, env = "SPORTELLO_WORKERS", default_value_t = 4)]
    pub workers: usize,
    /// The name of this node in job records (default: host name and process id).
    #[arg(long, env = "SPORTELLO_NODE")]
    pub node: Option<String>,
    /// Database connections in the pool.
    #[arg(long, env = "SPORTELLO_DB_CONNECTIONS", default_value_t = 16)]
    pub db_connections: u32,
    /// Deliver notification email through this SMTP server: `smtp://host:25`,
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`.
    #[arg(long, env = "SPORTELLO_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The address notification email comes from.
    #[arg(long, env = "SPORTELLO_MAIL_FROM", default_value = "sportello@localhost")]
    pub mail_from: String,
    /// Take in email over LMTP at this TCP address (`127.0.0.1:2424`) or unix socket path.
    #[arg(long, env = "SPORTELLO_LMTP_LISTEN")]
    pub lmtp_listen: Option<String>,
    /// Seconds between two polls of each IMAP mailbox configured by admins (0: this node
    /// polls none).
    #[arg(long, env = "SPORTELLO_IMAP_INTERVAL", default_value_t = 60)]
    pub imap_interval: u64,
    /// Seconds between two sweeps for SLA warnings and breaches and for maintenance windows
    /// starting or ending (0: this node sweeps none; several nodes may sweep, each mark and each
    /// window edge is recorded once).
    #[arg(long, env = "SPORTELLO_SLA_INTERVAL", default_value_t = 30)]
    pub sla_interval: u64,
    /// PEM file of certificates to trust for IMAP over TLS besides the system's (a private CA).
    #[arg(long, env = "SPORTELLO_IMAP_CA_FILE")]
    pub imap_ca_file: Option<std::path::PathBuf>,
}

/// Roles a user can be created with from the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UserRole {
    /// Administrator.
    Admin,
    /// Agent.
    Agent,
}

impl From<UserRole> for Role {
    fn from(r: UserRole) -> Role {
        match r {
            UserRole::Admin => Role::Admin,
            UserRole::Agent => Role::Agent,
        }
    }
}

/// `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin or agent.
    CreateUser {
        /// Email (the login).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role.
        #[arg(long, value_enum)]
        role: UserRole,
        /// File whose first line is the password ("-" for standard input). Without it the
        /// user has no password until one is set.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Create an API token and print it, once, alone on standard output.
    Token {
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Role the token acts with.
        #[arg(long, value_enum)]
        role: UserRole,
        /// Email of the user the token acts as (without it, an integration token with all
        /// rights of the role).
        #[arg(long)]
        user: Option<String>,
    },
}

/// Opens and migrates the database named on the command line, with a clear message on failure.
pub async fn open(url: &str, connections: u32) -> anyhow::Result<App> {
    let db = app::open_database(url, connections)
        .await
        .with_context(|| format!("cannot open the database at {}", crate::redact(url)))?;
    Ok(App::new(db, app::Config::default()))
}

fn read_password(path: &PathBuf) -> anyhow::Result<String> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s).context("cannot read the password from standard input")?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    Ok(text.lines().next().unwrap_or("").to_owned())
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            crate::serve::serve(&cli.database_url, args).await?;
        }
        Command::Migrate => {
            let app = open(&cli.database_url, 2).await?;
            eprintln!("sportello: the database at {} is up to date", crate::redact(&cli.database_url));
            app.db.close().await;
        }
        Command::Admin(AdminCommand::CreateUser { email, name, role, password_file }) => {
            let password = password_file.as_ref().map(read_password).transpose()?;
            let app = open(&cli.database_url, 2).await?;
            let input = app::admin::UserInput { email, name, role: role.into(), partner_id: None, active: Some(true) };
            let u = app.create_user(&Actor::system(Channel::System), input, password.as_deref()).await?;
            eprintln!(
                "sportello: created {} {} (id {}){}",
                u.role,
                u.email,
                u.id,
                if password.is_none() { ", without a password" } else { "" }
            );
            app.db.close().await;
        }
        Command::Admin(AdminCommand::Token { name, role, user }) => {
            let app = open(&cli.database_url, 2).await?;
            let t = app.create_token(&Actor::system(Channel::System), &name, role.into(), user.as_deref()).await?;
            println!("{}", t.secret);
            app.db.close().await;
        }
        Command::Demo => {
            let app = open(&cli.database_url, 4).await?;
            let logins = crate::demo::seed(&app).await?;
            println!("{logins}");
            app.db.close().await;
        }
        Command::Bench(args) => crate::bench::run(&cli.database_url, args).await?,
        Command::BenchMail(args) => crate::bench::run_mail(&cli.database_url, args).await?,
        Command::BenchSla(args) => crate::bench::run_sla(&cli.database_url, args).await?,
        Command::BenchStatus(args) => crate::bench_status::run_status(&cli.database_url, args).await?,
        Command::BenchInventory(args) => crate::bench_inventory::run(&cli.database_url, args).await?,
        Command::Import(args) => return crate::import::run(&cli.database_url, args).await,
        Command::BenchAlerts(args) => crate::bench_alerts::run(&cli.database_url, args).await?,
        Command::Mail(MailCommand::Ingest { queue, action, max_bytes }) => {
            return Ok(crate::mail_ingest::run(&cli.database_url, queue, action, max_bytes).await);
        }
        Command::Sla(SlaCommand::Due { level, severity, opened, intervened, json }) => {
            let severity = match severity {
                SeverityArg::Blocking => domain::Severity::Blocking,
                SeverityArg::NonBlocking => domain::Severity::NonBlocking,
            };
            print!("{}", sla_due(&cli.database_url, &level, severity, &opened, intervened.as_deref(), json).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The text `sportello sla due` prints, for a support level of the database (the built-in ones
/// are there from the first migration).
async fn sla_due(
    database_url: &str,
    level: &str,
    severity: domain::Severity,
    opened: &str,
    intervened: Option<&str>,
    json: bool,
) -> anyhow::Result<String> {
    let instant = |flag: &str, text: &str| -> anyhow::Result<jiff::Timestamp> {
        text.trim()
            .parse::<jiff::Timestamp>()
            .map_err(|e| anyhow::anyhow!("{flag}: `{text}` is not an RFC 3339 instant with an offset: {e}"))
    };
    let opened = instant("--opened", opened)?;
    let intervened = intervened.map(|t| instant("--intervened", t)).transpose()?;
    if intervened.is_some_and(|i| i < opened) {
        anyhow::bail!("--intervened: before --opened");
    }
    let app = open(database_url, 2).await?;
    let result = app.sla_due(&level.to_ascii_lowercase(), severity, opened, intervened).await;
    app.db.close().await;
    let (l, due) = match result {
        Ok(r) => r,
        Err(app::Error::Invalid(p)) => {
            anyhow::bail!("--level: {}", p.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "))
        }
        Err(e) => return Err(e.into()),
    };
    let tz = jiff::tz::TimeZone::get(l.calendar.time_zone())?;
    let show = |t: jiff::Timestamp| {
        let local = t.to_zoned(tz.clone());
        t.display_with_offset(local.offset()).to_string()
    };
    let (iv, rs) = (show(due.intervention), show(due.restoration));
    Ok(if json {
        format!(
            "{}\n",
            serde_json::json!({
                "level": l.slug,
                "severity": severity.as_str(),
                "time_zone": l.calendar.time_zone(),
                "intervention_due": iv,
                "restoration_due": rs,
            })
        )
    } else {
        format!("intervention due {iv}\nrestoration due  {rs}\n")
    })
}
