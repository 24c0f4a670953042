//! Sportello's use cases. Every operation a person or a channel can perform is one function here:
//! it checks who may do it, runs inside one store transaction, records audit events and enqueues
//! jobs in that same transaction. Web, API, email and command line all come through this door.

pub mod access;
pub mod account;
pub mod admin;
pub mod alerts;
pub mod auth;
mod cache;
mod clocks;
pub mod console;
pub mod error;
pub mod ingest;
pub mod instance;
pub mod inventory;
pub mod invitations;
pub mod jobs;
pub mod mail;
pub mod mailboxes;
pub mod notices;
pub mod notify;
pub mod sessions;
pub mod sla;
pub mod status;
pub mod storm;
pub mod tallies;
pub mod text;
pub mod tickets;
pub mod timesheet;
pub mod views;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub use access::{Actor, Who};
pub use error::{Error, FieldProblem, Result};
pub use store::{Backend, Db};

/// Limits and settings of the application.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest attachment accepted, in bytes.
    pub max_attachment_bytes: usize,
    /// Attachments per message.
    pub max_attachments: usize,
    /// The public address of the web pages (`https://help.example`), for links in emails.
    pub public_url: Option<String>,
    /// The address notifications come from (the queue's name is the display name).
    pub mail_from: String,
}

impl Default for Config {
    /// 10 MiB attachments, 20 per message, mail from `sportello@localhost`, no public address.
    fn default() -> Self {
        Config {
            max_attachment_bytes: 10 << 20,
            max_attachments: 20,
            public_url: None,
            mail_from: "sportello@localhost".into(),
        }
    }
}

/// Where use cases read the time: the system clock, or a hand-set one (demo data, tests).
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Microseconds since the epoch, moved by hand.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A hand-set clock showing `at`.
    pub fn manual(at: jiff::Timestamp) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(at.as_microsecond())))
    }

    /// Sets a hand-set clock (no effect on the system clock).
    pub fn set(&self, at: jiff::Timestamp) {
        if let Clock::Manual(us) = self {
            us.store(at.as_microsecond(), Ordering::SeqCst);
        }
    }

    /// The time it shows.
    pub fn now(&self) -> jiff::Timestamp {
        match self {
            Clock::System => jiff::Timestamp::now(),
            Clock::Manual(us) => {
                jiff::Timestamp::from_microsecond(us.load(Ordering::SeqCst)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            }
        }
    }
}

/// A read transaction opened on first use, so that a use case whose reads all hit caches takes
/// no connection and sends no `BEGIN`.
pub(crate) struct LazyRead<'a> {
    db: &'a Db,
    tx: Option<store::Tx>,
}

impl<'a> LazyRead<'a> {
    /// Nothing opened yet.
    pub(crate) fn new(db: &'a Db) -> LazyRead<'a> {
        LazyRead { db, tx: None }
    }

    /// The transaction, opened now if it was not.
    pub(crate) async fn get(&mut self) -> Result<&mut store::Tx> {
        if self.tx.is_none() {
            self.tx = Some(self.db.read().await?);
        }
        self.tx.as_mut().ok_or_else(|| Error::Internal("no read transaction".into()))
    }
}

/// The application: the database, the settings and the clock, cheap to clone.
#[derive(Clone)]
pub struct App {
    /// The database.
    pub db: Db,
    /// InstanceSettings.
    pub config: Arc<Config>,
    /// The clock every use case reads.
    pub clock: Clock,
    /// Wakes this process's job workers when a use case commits a job.
    pub jobs_wake: Arc<tokio::sync::Notify>,
    /// Actors of recently seen API tokens (see [`auth::TOKEN_CACHE_TTL`]).
    pub(crate) token_cache: Arc<std::sync::Mutex<std::collections::HashMap<String, (Actor, std::time::Instant)>>>,
    /// What notifications read on every change (see [`cache`]).
    pub(crate) notice_cache: Arc<cache::NoticeCache>,
}

impl App {
    /// Wraps an open (and migrated) database.
    pub fn new(db: Db, config: Config) -> App {
        App {
            db,
            config: Arc::new(config),
            clock: Clock::System,
            jobs_wake: Arc::new(tokio::sync::Notify::new()),
            token_cache: Arc::default(),
            notice_cache: Arc::default(),
        }
    }

    /// The same application reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> App {
        self.clock = clock;
        self
    }

    /// The current instant, as every use case sees it.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// Checks that the database answers (for health checks).
    pub async fn health(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }
}

/// Opens the database named by `url` with at most `connections` pooled connections, applies
/// pending migrations, and returns it.
pub async fn open_database(url: &str, connections: u32) -> Result<Db> {
    let mut options = store::Options::new(url);
    options.max_connections = connections;
    let db = Db::connect(&options).await?;
    store::migrate::run(&db).await?;
    Ok(db)
}
