//! IMAP mailboxes that Sportello polls for mail (a provider's mailbox where no MTA can deliver
//! to the LMTP listener). Admins configure them; the poller (the mail channel) takes a lease on
//! one mailbox at a time, so with several nodes each mailbox is polled by one of them.
//!
//! Passwords are kept as given (the poller must present them to the server) and are never
//! shown again: an admin page only tells whether one is set.

use serde::Serialize;

use crate::access::Actor;
use crate::error::Problems;
use crate::mail::{Delivery, MailAction};
use crate::views::ts;
use crate::{App, Error, Result};

/// How a mailbox's connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ImapSecurity {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS (port 143).
    Starttls,
    /// No encryption (only for a server on the same host or a trusted network).
    None,
}

impl ImapSecurity {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImapSecurity::Tls => "tls",
            ImapSecurity::Starttls => "starttls",
            ImapSecurity::None => "none",
        }
    }

    /// Parses a stored or submitted name.
    pub fn parse(s: &str) -> Option<ImapSecurity> {
        match s {
            "tls" => Some(ImapSecurity::Tls),
            "starttls" => Some(ImapSecurity::Starttls),
            "none" => Some(ImapSecurity::None),
            _ => None,
        }
    }
}

/// A mailbox as an admin sees it (never its password).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailboxView {
    /// Id.
    pub id: i64,
    /// A name for admins (`support-gmail`).
    pub name: String,
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// `tls`, `starttls` or `none`.
    pub security: ImapSecurity,
    /// Login.
    pub username: String,
    /// Whether a password is set.
    pub has_password: bool,
    /// The folder polled (`INBOX`).
    pub folder: String,
    /// The queue its mail goes to (slug).
    pub queue: String,
    /// `correspond` or `comment`.
    pub action: String,
    /// Where processed messages are moved; flagged `\Seen` and left in place when none.
    pub done_folder: Option<String>,
    /// Whether it is polled.
    pub active: bool,
    /// The folder's UIDVALIDITY when last polled.
    pub uid_validity: Option<i64>,
    /// The highest UID taken.
    pub last_uid: i64,
    /// The last poll's error, if it failed.
    pub last_error: Option<String>,
    /// When it was last polled.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub last_polled_at: Option<jiff::Timestamp>,
    /// Messages taken by the last poll.
    pub last_fetched: i64,
}

/// A mailbox's settings as an admin submits them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxInput {
    /// A name for admins.
    pub name: String,
    /// Server host name.
    pub host: String,
    /// Server port (default by security: 993, or 143).
    pub port: Option<u16>,
    /// `tls` (default), `starttls` or `none`.
    pub security: String,
    /// Login.
    pub username: String,
    /// The password; `None` or empty keeps the current one.
    pub password: Option<String>,
    /// The folder polled (default `INBOX`).
    pub folder: String,
    /// The queue's slug.
    pub queue: String,
    /// `correspond` (default) or `comment`.
    pub action: String,
    /// Where processed messages are moved (none: flag them `\Seen`).
    pub done_folder: Option<String>,
    /// Whether it is polled.
    pub active: bool,
}

/// One poll's worth of work for the poller: where to connect and where mail goes.
#[derive(Debug, Clone)]
pub struct PollTask {
    /// Mailbox id.
    pub id: i64,
    /// Its name (for logs).
    pub name: String,
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: ImapSecurity,
    /// Login.
    pub username: String,
    /// Password.
    pub password: String,
    /// The folder polled.
    pub folder: String,
    /// Where processed messages are moved.
    pub done_folder: Option<String>,
    /// Where its messages are delivered.
    pub delivery: Delivery,
    /// The UIDVALIDITY the position belongs to.
    pub uid_validity: Option<u32>,
    /// The highest UID taken under that UIDVALIDITY.
    pub last_uid: u32,
    /// The node holding the lease.
    pub node: String,
}

fn is_plain(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_control())
}

fn mailbox_view(m: store::imap::MailboxRow, queues: &[store::QueueRow]) -> MailboxView {
    MailboxView {
        id: m.id,
        name: m.name,
        host: m.host,
        port: u16::try_from(m.port).unwrap_or(0),
        security: ImapSecurity::parse(&m.tls).unwrap_or(ImapSecurity::Tls),
        username: m.username,
        has_password: !m.password.is_empty(),
        folder: m.folder,
        queue: queues.iter().find(|q| q.id == m.queue_id).map(|q| q.slug.clone()).unwrap_or_default(),
        action: m.action,
        done_folder: m.done_folder,
        active: m.active,
        uid_validity: m.uid_validity,
        last_uid: m.last_uid,
        last_error: m.last_error,
        last_polled_at: m.last_polled_at.map(ts),
        last_fetched: m.last_fetched,
    }
}

impl App {
    /// Every IMAP mailbox, by name. Admins only.
    pub async fn imap_mailboxes(&self, actor: &Actor) -> Result<Vec<MailboxView>> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        let queues = store::queues::all(&mut tx).await?;
        Ok(store::imap::all(&mut tx).await?.into_iter().map(|m| mailbox_view(m, &queues)).collect())
    }

    /// One IMAP mailbox. Admins only.
    pub async fn imap_mailbox(&self, actor: &Actor, id: i64) -> Result<MailboxView> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        let queues = store::queues::all(&mut tx).await?;
        let m = store::imap::by_id(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("mailbox {id}")))?;
        Ok(mailbox_view(m, &queues))
    }

    /// Adds (`id` none) or changes an IMAP mailbox. Admins only.
    pub async fn save_imap_mailbox(&self, actor: &Actor, id: Option<i64>, input: MailboxInput) -> Result<MailboxView> {
        actor.require_admin()?;
        let mut p = Problems::default();
        let name = input.name.trim().to_owned();
        if !is_plain(&name) || name.len() > 100 {
            p.add("name", "a name of 1 to 100 characters is needed");
        }
        let host = input.host.trim().to_ascii_lowercase();
        if host.is_empty()
            || host.len() > 253
            || !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            p.add("host", "a host name or an IP address");
        }
        let security = match input.security.trim() {
            "" => Some(ImapSecurity::Tls),
            s => ImapSecurity::parse(s),
        };
        if security.is_none() {
            p.add("security", "one of: tls, starttls, none");
        }
        let port = match (input.port, security) {
            (Some(0), _) => {
                p.add("port", "between 1 and 65535");
                0
            }
            (Some(port), _) => port,
            (None, Some(ImapSecurity::Tls)) => 993,
            (None, _) => 143,
        };
        let username = input.username.trim().to_owned();
        if !is_plain(&username) || username.len() > 320 {
            p.add("username", "the login is needed");
        }
        let folder = match input.folder.trim() {
            "" => "INBOX".to_owned(),
            f => f.to_owned(),
        };
        if !is_plain(&folder) || folder.len() > 200 {
            p.add("folder", "a folder name without control characters");
        }
        let done_folder = input.done_folder.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned);
        if let Some(f) = &done_folder
            && (!is_plain(f) || f.len() > 200 || *f == folder)
        {
            p.add("done_folder", "another folder than the one polled, without control characters");
        }
        let action = match input.action.trim() {
            "" | "correspond" => "correspond",
            "comment" => "comment",
            _ => {
                p.add("action", "correspond or comment");
                "correspond"
            }
        };
        let password = input.password.filter(|s| !s.is_empty());
        if password.as_ref().is_some_and(|s| s.len() > 1000 || s.chars().any(|c| c.is_control())) {
            p.add("password", "at most 1000 characters, without control characters");
        }
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let queue = store::queues::by_slug(&mut tx, &input.queue.trim().to_ascii_lowercase()).await?;
        if queue.is_none() {
            p.add("queue", format!("no queue `{}`", input.queue));
        }
        let existing = match id {
            Some(id) => {
                Some(store::imap::by_id(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("mailbox {id}")))?)
            }
            None => None,
        };
        let password = match (password, &existing) {
            (Some(pw), _) => pw,
            (None, Some(m)) => m.password.clone(),
            (None, None) => {
                p.add("password", "the password is needed");
                String::new()
            }
        };
        p.finish()?;
        let (Some(queue), Some(security)) = (queue, security) else {
            return Err(Error::Internal("checked inputs missing".into()));
        };
        let data = store::imap::MailboxData {
            name,
            host,
            port: i64::from(port),
            tls: security.as_str().to_owned(),
            username,
            password,
            folder,
            queue_id: queue.id,
            action: action.to_owned(),
            done_folder,
            active: input.active,
        };
        let id = match existing {
            Some(m) => {
                store::imap::update(&mut tx, m.id, &data, now).await.map_err(conflict_name)?;
                crate::admin::audit(&mut tx, actor, None, "imap_mailbox", m.id, "updated", None, None, None, now)
                    .await?;
                m.id
            }
            None => {
                let id = store::imap::insert(&mut tx, &data, now).await.map_err(conflict_name)?;
                crate::admin::audit(&mut tx, actor, None, "imap_mailbox", id, "created", None, None, None, now).await?;
                id
            }
        };
        let queues = store::queues::all(&mut tx).await?;
        let m = store::imap::by_id(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("mailbox {id}")))?;
        tx.commit().await?;
        Ok(mailbox_view(m, &queues))
    }

    /// Removes an IMAP mailbox (its messages stay in the server). Admins only.
    pub async fn delete_imap_mailbox(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        if !store::imap::delete(&mut tx, id).await? {
            return Err(Error::NotFound(format!("mailbox {id}")));
        }
        crate::admin::audit(&mut tx, actor, None, "imap_mailbox", id, "deleted", None, None, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a mailbox due for polling at once. Admins only.
    pub async fn poll_imap_mailbox_now(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.write().await?;
        if !store::imap::make_due(&mut tx, id).await? {
            return Err(Error::NotFound(format!("mailbox {id}")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the lease of the next mailbox due (polled more than `interval` ago) for `lease`;
    /// `None` when none is due or every due one is being polled by another node.
    pub async fn claim_imap_mailbox(
        &self,
        node: &str,
        interval: std::time::Duration,
        lease: std::time::Duration,
    ) -> Result<Option<PollTask>> {
        let now = store::micros(self.now());
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2);
        // A look on a reader first: most of the time nothing is due, and the writer stays free.
        let mut tx = self.db.read().await?;
        if !store::imap::any_due(&mut tx, now, now - micros(interval)).await? {
            return Ok(None);
        }
        drop(tx);
        let mut tx = self.db.write().await?;
        let Some(m) = store::imap::claim(&mut tx, node, now, now - micros(interval), now + micros(lease)).await? else {
            return Ok(None);
        };
        let queue = store::queues::by_id(&mut tx, m.queue_id).await?;
        tx.commit().await?;
        let queue = queue.ok_or_else(|| Error::Internal(format!("mailbox {} without queue", m.id)))?;
        Ok(Some(PollTask {
            id: m.id,
            name: m.name,
            host: m.host,
            port: u16::try_from(m.port).unwrap_or(143),
            security: ImapSecurity::parse(&m.tls).unwrap_or(ImapSecurity::Tls),
            username: m.username,
            password: m.password,
            folder: m.folder,
            done_folder: m.done_folder,
            delivery: Delivery::Queue {
                queue: queue.slug,
                action: if m.action == "comment" { MailAction::Comment } else { MailAction::Correspond },
            },
            uid_validity: m.uid_validity.and_then(|v| u32::try_from(v).ok()),
            last_uid: u32::try_from(m.last_uid).unwrap_or(0),
            node: node.to_owned(),
        }))
    }

    /// Records that every message up to `last_uid` under `uid_validity` was taken; `false` when
    /// this node lost the lease (another node polls it now: stop).
    pub async fn imap_advance(&self, task: &PollTask, uid_validity: u32, last_uid: u32) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let held =
            store::imap::advance(&mut tx, task.id, &task.node, i64::from(uid_validity), i64::from(last_uid)).await?;
        tx.commit().await?;
        Ok(held)
    }

    /// Ends a poll: frees the lease, records how many messages were taken and the error.
    pub async fn imap_finish(&self, task: &PollTask, fetched: usize, error: Option<&str>) -> Result<()> {
        let now = store::micros(self.now());
        let fetched = i64::try_from(fetched).unwrap_or(i64::MAX);
        let error = error.map(|e| e.chars().take(1000).collect::<String>());
        let mut tx = self.db.write().await?;
        store::imap::finish(&mut tx, task.id, &task.node, now, fetched, error.as_deref()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A second mailbox with the same name.
fn conflict_name(e: store::Error) -> Error {
    match e {
        store::Error::Conflict(_) => Error::invalid("name", "another mailbox has this name"),
        e => e.into(),
    }
}
