//! Opt-in email alerts of notices.
//!
//! Alerts are off by default: a customer's contact subscribes to one of its customer's lines, or
//! to a zone (a municipality or a province) where its customer has lines; a partner's users and
//! the operator's staff manage the subscriptions of the contacts they may see, on their behalf.
//!
//! The publication of a notice, each public update (the one that resolves, completes or cancels
//! it included) and the clock's end of a maintenance enqueue a fan-out job in the transaction
//! of the change. The job finds every subscribed contact whose customer's lines the notice
//! reaches (one query, see [`store::alerts::reached`]), and writes one email per contact
//! listing all its lines the event concerns, in the contact's language, into the outbox
//! together with a per-line record of who was told of which event (`notice_deliveries`). A
//! contact already told of the event is skipped, and the record's unique key makes a second run
//! of the same event fail whole, so a job retried after a crash sends nothing twice.
//!
//! Every alert carries an unsubscribe link (in the body and in `List-Unsubscribe`, with
//! one-click `List-Unsubscribe-Post`): the subscriptions that caused the email, signed with
//! HMAC-SHA-256 under a key created on first use and kept in the database
//! (`instance_secrets`), so that every node signs and checks alike.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use base64::Engine;
use domain::Channel;
use domain::notice::NoticeState;
use domain::scope::Scope;
use jiff::Timestamp;
use lettre::message::Mailbox;
use serde::Serialize;
use store::{JobRow, Tx};

use crate::access::{Actor, Who};
use crate::error::FieldProblem;
use crate::notices::NoticeText;
use crate::notify::{Compiled, Email, Pending};
use crate::views::ts;
use crate::{App, Error, Result};

/// The notification kind (and template) of alert emails.
pub const KIND: &str = "notice_alert";

/// The job kind that writes the alert emails of one notice event into the outbox.
pub const FANOUT: &str = "notice.alerts";

/// How many times a fan-out is tried before its job is dead.
const FANOUT_ATTEMPTS: i64 = 8;

/// Contacts written per transaction of a fan-out (SQLite's single writer is shared between
/// batches rather than held for a whole notice).
pub const BATCH: usize = 1_000;

/// The name of the key that signs unsubscribe links.
const SECRET: &str = "alerts.unsubscribe";

/// What an unsubscribe link's signature covers besides its payload.
const CONTEXT: &[u8] = b"sportello/alerts/unsubscribe/v1\n";

/// How many subscriptions one link may name.
const MAX_LINK_SUBSCRIPTIONS: usize = 100;

/// Dates in alert emails are given in this zone (contacts have none of their own).
const TIME_ZONE: &str = "Europe/Rome";

/// A zone of alert subscriptions: a municipality or a province.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ZoneView {
    /// Territory code (ISTAT in Italy).
    pub code: String,
    /// Name.
    pub name: String,
    /// `municipality` or `province`.
    pub level: String,
}

/// A contact's subscription to the alerts of one line or one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubscriptionView {
    /// Id.
    pub id: i64,
    /// The contact's email address.
    pub contact: String,
    /// The line's identifier (a line subscription).
    pub line: Option<String>,
    /// The zone (a zone subscription).
    pub zone: Option<ZoneView>,
    /// Since when.
    pub created_at: Timestamp,
}

impl SubscriptionView {
    fn of(s: store::alerts::SubscriptionInfo) -> SubscriptionView {
        let zone = match (s.territory_code, s.territory_name, s.territory_level) {
            (Some(code), Some(name), Some(level)) => Some(ZoneView { code, name, level }),
            _ => None,
        };
        SubscriptionView {
            id: s.id,
            contact: s.contact_email,
            line: s.line_identifier,
            zone,
            created_at: ts(s.created_at),
        }
    }
}

/// What to subscribe to: one line or one zone, for a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeInput {
    /// The contact's email address (staff and partners; a contact subscribes itself).
    pub contact: Option<String>,
    /// A line of the contact's customer, by identifier.
    pub line: Option<String>,
    /// A municipality or province code where the contact's customer has lines.
    pub zone: Option<String>,
}

/// A line a contact may follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineChoice {
    /// Identifier.
    pub identifier: String,
    /// Service type code.
    pub service: String,
    /// Municipality name.
    pub municipality: String,
}

/// What a contact may subscribe to: its customer's lines in service and the zones they are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertChoices {
    /// The contact's email address.
    pub contact: String,
    /// Its customer's code.
    pub customer: String,
    /// The customer's lines in service.
    pub lines: Vec<LineChoice>,
    /// The provinces and municipalities where they are.
    pub zones: Vec<ZoneView>,
}

/// A contact whose alerts an actor manages (the portal's list for a partner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactChoice {
    /// Email address.
    pub email: String,
    /// Name.
    pub name: String,
    /// Its customer's code.
    pub customer: String,
}

/// One entry of a line's delivery record: who was told of which event of which notice, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    /// The notice.
    pub notice: i64,
    /// `published`, `update` or `ended` (resolved, completed, cancelled).
    pub event: String,
    /// The timeline entry it told of, for updates and ends posted by staff.
    pub update: Option<i64>,
    /// The state that entry moved the notice to.
    pub state: Option<String>,
    /// The contact told.
    pub contact: String,
    /// The email in the outbox.
    pub outbox: Option<i64>,
    /// What became of the email: `queued`, `sent` or `failed`.
    pub mail_state: Option<String>,
    /// When it was written into the outbox.
    pub at: Timestamp,
}

/// A subscription to add in bulk (an import of opt-ins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkSubscription {
    /// The contact's email address.
    pub contact: String,
    /// A line of its customer.
    pub line: Option<String>,
    /// A municipality or province code.
    pub zone: Option<String>,
}

/// The outcome of a bulk subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// Subscriptions added (those that existed are not counted).
    pub added: u64,
    /// Refused rows: their index in the input and why.
    pub rejected: Vec<(usize, String)>,
}

/// The event of a notice that alerts tell of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlertEvent {
    /// The notice was published.
    Published,
    /// A public update (timeline entry) was posted.
    Update(i64),
    /// The clock ended it (a maintenance window's end).
    Ended,
}

/// HMAC-SHA-256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(message).finalize();
    Sha256::new().chain_update(&opad).chain_update(inner).finalize().into()
}

/// The signature of a link's payload: the first 128 bits of its HMAC, in hex.
fn signature(key: &[u8], payload: &str) -> String {
    let mut message = CONTEXT.to_vec();
    message.extend_from_slice(payload.as_bytes());
    hex::encode(&hmac_sha256(key, &message)[..16])
}

/// The unsubscribe token naming a contact's subscriptions (id and creation instant each, so a
/// link never names a later subscription that reused an id).
fn link_token(key: &[u8], contact_id: i64, subscriptions: &[(i64, i64)]) -> String {
    let list: Vec<String> = subscriptions.iter().map(|(id, at)| format!("{id}.{at}")).collect();
    let payload = format!("{contact_id}:{}", list.join(","));
    let sig = signature(key, &payload);
    format!("{}.{sig}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload))
}

/// Reads and checks an unsubscribe token: the contact and its subscriptions; `Invalid` when it
/// was altered, cut short or signed with another key.
fn read_token(key: &[u8], token: &str) -> Result<(i64, Vec<(i64, i64)>)> {
    let bad = || Error::invalid("link", "this unsubscribe link is not valid: it was changed or cut short");
    if token.len() > 4_000 {
        return Err(bad());
    }
    let (encoded, sig) = token.rsplit_once('.').ok_or_else(bad)?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).map_err(|_| bad())?;
    let payload = String::from_utf8(payload).map_err(|_| bad())?;
    if !crate::auth::same_secret(&signature(key, &payload), sig) {
        return Err(bad());
    }
    let (contact, list) = payload.split_once(':').ok_or_else(bad)?;
    let contact: i64 = contact.parse().map_err(|_| bad())?;
    let mut subscriptions = Vec::new();
    for part in list.split(',') {
        let (id, at) = part.split_once('.').ok_or_else(bad)?;
        subscriptions.push((id.parse().map_err(|_| bad())?, at.parse().map_err(|_| bad())?));
    }
    if subscriptions.is_empty() || subscriptions.len() > MAX_LINK_SUBSCRIPTIONS {
        return Err(bad());
    }
    Ok((contact, subscriptions))
}

fn texts_of(json: &str) -> BTreeMap<String, NoticeText> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The text in `language`, else English, else Italian, else the first.
fn pick<'a>(texts: &'a BTreeMap<String, NoticeText>, language: &str) -> Option<&'a NoticeText> {
    texts.get(language).or_else(|| texts.get("en")).or_else(|| texts.get("it")).or_else(|| texts.values().next())
}

fn when(us: Option<i64>) -> String {
    let Some(us) = us else { return String::new() };
    let tz = jiff::tz::TimeZone::get(TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    ts(us).to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

#[derive(Serialize)]
struct AlertNoticeVars {
    id: i64,
    kind: String,
    state: String,
    impact: String,
    title: String,
    body: String,
    window_start: String,
    window_end: String,
    estimated_restoration: String,
    url: String,
}

#[derive(Serialize)]
struct AlertUpdateVars {
    text: String,
    at: String,
}

#[derive(Serialize)]
struct AlertLineVars {
    identifier: String,
    service: String,
    municipality: String,
}

#[derive(Serialize)]
struct AlertPersonVars {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct AlertCustomerVars {
    code: String,
    name: String,
}

/// The variables of an alert template.
#[derive(Serialize)]
struct AlertVars {
    /// `published`, `update` or `ended`.
    event: &'static str,
    notice: AlertNoticeVars,
    update: AlertUpdateVars,
    lines: Vec<AlertLineVars>,
    recipient: AlertPersonVars,
    customer: AlertCustomerVars,
    unsubscribe_url: String,
    manage_url: String,
}

/// Sample data for alert templates (what an admin's version is checked against).
pub(crate) fn sample_vars() -> serde_json::Value {
    let vars = AlertVars {
        event: "update",
        notice: AlertNoticeVars {
            id: 42,
            kind: "incident".into(),
            state: "identified".into(),
            impact: "outage".into(),
            title: "Fibre cut in Lecco".into(),
            body: "A fibre cable was cut during road works; FTTH lines in Lecco are down.".into(),
            window_start: String::new(),
            window_end: String::new(),
            estimated_restoration: "2026-11-23 18:00 CET".into(),
            url: "https://help.example/portal".into(),
        },
        update: AlertUpdateVars {
            text: "The damaged cable has been found; splicing starts at 14:00.".into(),
            at: "2026-11-23 11:30 CET".into(),
        },
        lines: vec![
            AlertLineVars { identifier: "0341-555123".into(), service: "FTTH".into(), municipality: "Lecco".into() },
            AlertLineVars { identifier: "0341-555124".into(), service: "FTTH".into(), municipality: "Lecco".into() },
        ],
        recipient: AlertPersonVars { name: "Anna Rossi".into(), email: "anna@acme.example".into() },
        customer: AlertCustomerVars { code: "ACME".into(), name: "Acme S.p.A.".into() },
        unsubscribe_url: "https://help.example/alerts/unsubscribe/MTI6MzQuNTY.0123456789abcdef0123456789abcdef".into(),
        manage_url: "https://help.example/portal/alerts".into(),
    };
    serde_json::to_value(vars).unwrap_or_default()
}

/// One contact's email of a fan-out: the lines it is told of and the subscriptions that did it.
struct Group {
    contact_id: i64,
    email: String,
    name: String,
    language: String,
    customer_code: String,
    customer_name: String,
    /// (line id, identifier, service, municipality), by identifier.
    lines: Vec<(i64, String, String, String)>,
    /// (subscription id, created at).
    subscriptions: Vec<(i64, i64)>,
}

/// Groups the reached rows (ordered by contact, then line) per contact.
fn group(reached: Vec<store::alerts::Reached>) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for r in reached {
        if out.last().is_none_or(|g| g.contact_id != r.contact_id) {
            out.push(Group {
                contact_id: r.contact_id,
                email: r.email,
                name: r.name,
                language: r.language,
                customer_code: r.customer_code,
                customer_name: r.customer_name,
                lines: Vec::new(),
                subscriptions: Vec::new(),
            });
        }
        let Some(g) = out.last_mut() else { continue };
        if !g.lines.iter().any(|l| l.0 == r.line_id) {
            g.lines.push((r.line_id, r.identifier, r.service, r.municipality));
        }
        if !g.subscriptions.iter().any(|s| s.0 == r.subscription_id) {
            g.subscriptions.push((r.subscription_id, r.subscription_created_at));
        }
    }
    for g in &mut out {
        g.subscriptions.sort_unstable();
    }
    out
}

/// What every email of one fan-out shares.
struct Rendering {
    event: &'static str,
    notice: store::notices::NoticeRow,
    texts: BTreeMap<String, NoticeText>,
    update_texts: BTreeMap<String, NoticeText>,
    update_at: String,
    window_start: String,
    window_end: String,
    estimated_restoration: String,
    base: Option<String>,
    key: Vec<u8>,
    from: Mailbox,
    from_addr: String,
    domain: String,
    templates: HashMap<&'static str, Arc<Compiled>>,
}

impl Rendering {
    /// The email of one contact, formatted; `None` when its address cannot take mail.
    fn email(&self, g: &Group, now: i64) -> Result<Option<Pending>> {
        let language = crate::notify::language_of(&g.language);
        let token = link_token(&self.key, g.contact_id, &g.subscriptions);
        let unsubscribe_url = format!("{}/alerts/unsubscribe/{token}", self.base.as_deref().unwrap_or(""));
        let shown = pick(&self.texts, language).cloned().unwrap_or_default();
        let vars = AlertVars {
            event: self.event,
            notice: AlertNoticeVars {
                id: self.notice.id,
                kind: self.notice.kind.clone(),
                state: self.notice.state.clone(),
                impact: self.notice.impact.clone(),
                title: shown.title,
                body: shown.body,
                window_start: self.window_start.clone(),
                window_end: self.window_end.clone(),
                estimated_restoration: self.estimated_restoration.clone(),
                url: self.base.as_ref().map(|b| format!("{b}/portal")).unwrap_or_default(),
            },
            update: AlertUpdateVars {
                text: pick(&self.update_texts, language).map(|t| t.body.clone()).unwrap_or_default(),
                at: self.update_at.clone(),
            },
            lines: g
                .lines
                .iter()
                .map(|(_, identifier, service, municipality)| AlertLineVars {
                    identifier: identifier.clone(),
                    service: service.clone(),
                    municipality: municipality.clone(),
                })
                .collect(),
            recipient: AlertPersonVars { name: g.name.clone(), email: g.email.clone() },
            customer: AlertCustomerVars { code: g.customer_code.clone(), name: g.customer_name.clone() },
            unsubscribe_url: unsubscribe_url.clone(),
            manage_url: self.base.as_ref().map(|b| format!("{b}/portal/alerts")).unwrap_or_default(),
        };
        let rendered = match self.templates.get(language).map(|t| t.render(&vars)) {
            Some(Ok(m)) => m,
            other => {
                if let Some(Err((field, e))) = other {
                    tracing::warn!(language, field, error = %e, "alert template does not render; using the default");
                }
                crate::notify::render_default(language, KIND, &vars)?
            }
        };
        let email = g.email.trim().to_lowercase();
        let Ok(address) = email.parse() else {
            tracing::warn!(address = %email, "not a deliverable address; alert skipped");
            return Ok(None);
        };
        let name = g.name.trim();
        let to = [(Mailbox::new((!name.is_empty()).then(|| name.to_owned()), address), email)];
        // The headers need an absolute address; without a public URL only the body has the link.
        let headers: Vec<(&'static str, String)> = if self.base.is_some() {
            vec![
                ("List-Unsubscribe", format!("<{unsubscribe_url}>")),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
            ]
        } else {
            Vec::new()
        };
        let e = Email {
            kind: KIND,
            ticket_id: None,
            message_row_id: None,
            from: &self.from,
            from_addr: &self.from_addr,
            reply_to: &self.from,
            to: &to,
            subject: rendered.subject,
            body: rendered.body,
            thread: &[],
            headers: &headers,
        };
        crate::notify::prepare_email(e, &self.domain, now).map(Some)
    }
}

impl App {
    /// Enqueues, in the caller's transaction, the job that writes the alert emails of a
    /// notice's event into the outbox (the request that publishes or updates stays fast).
    pub(crate) async fn enqueue_alerts(&self, tx: &mut Tx, notice_id: i64, event: AlertEvent, now: i64) -> Result<()> {
        let (update, key) = match event {
            AlertEvent::Published => (None, "published".to_owned()),
            AlertEvent::Update(id) => (Some(id), format!("update-{id}")),
            AlertEvent::Ended => (None, format!("end-{now}")),
        };
        let payload = serde_json::json!({ "notice": notice_id, "update": update, "event": key }).to_string();
        store::jobs::enqueue(tx, FANOUT, &payload, now, FANOUT_ATTEMPTS, now).await?;
        self.jobs_wake.notify_one();
        Ok(())
    }

    /// Enqueues the alerts of a notice's end when `n` (as saved) is published and over.
    pub(crate) async fn enqueue_alerts_if_ended(
        &self,
        tx: &mut Tx,
        n: &store::notices::NoticeRow,
        now: i64,
    ) -> Result<()> {
        let over = NoticeState::parse(&n.state).is_some_and(NoticeState::is_final);
        if over && n.published_at.is_some() {
            self.enqueue_alerts(tx, n.id, AlertEvent::Ended, now).await?;
        }
        Ok(())
    }

    /// Runs a fan-out job.
    pub(crate) async fn run_alerts(&self, job: &JobRow) -> Result<()> {
        let v: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| Error::Internal(e.to_string()))?;
        let notice = v.get("notice").and_then(|n| n.as_i64()).ok_or_else(|| Error::Internal("no notice".into()))?;
        let event = v.get("event").and_then(|e| e.as_str()).ok_or_else(|| Error::Internal("no event".into()))?;
        let update = v.get("update").and_then(|u| u.as_i64());
        let queued = self.fan_out_alerts(notice, update, event).await?;
        if queued > 0 {
            tracing::info!(notice, event, emails = queued, "notice alerts written into the outbox");
        }
        Ok(())
    }

    /// How many alert fan-outs wait or run (for metrics and benchmarks).
    pub async fn alert_fanouts_pending(&self) -> Result<i64> {
        let mut tx = self.db.read().await?;
        Ok(store::alerts::jobs_pending(&mut tx, FANOUT).await?)
    }

    /// The key that signs unsubscribe links; created (once for all nodes) when `create`.
    async fn signing_key(&self, create: bool) -> Result<Option<Vec<u8>>> {
        let mut tx = self.db.read().await?;
        let mut stored = store::alerts::secret(&mut tx, SECRET).await?;
        drop(tx);
        if stored.is_none() && create {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let mut tx = self.db.write().await?;
            store::alerts::add_secret(&mut tx, SECRET, &hex::encode(bytes), store::micros(self.now())).await?;
            stored = store::alerts::secret(&mut tx, SECRET).await?;
            tx.commit().await?;
        }
        stored.map(|s| hex::decode(s).map_err(|e| Error::Internal(format!("the unsubscribe key: {e}")))).transpose()
    }

    /// Writes the alert emails of one event of a notice (`published`, `update-N`, `end-T`)
    /// into the outbox, one per subscribed contact the notice reaches, with their deliveries;
    /// contacts already told of the event are skipped. Returns how many emails were queued.
    pub async fn fan_out_alerts(&self, notice_id: i64, update_id: Option<i64>, event: &str) -> Result<usize> {
        let mut tx = self.db.read().await?;
        let Some(notice) = store::notices::get(&mut tx, notice_id).await? else { return Ok(0) };
        if notice.published_at.is_none() {
            return Ok(0);
        }
        let update = match update_id {
            Some(u) => match store::notices::updates_of(&mut tx, notice_id).await?.into_iter().find(|x| x.id == u) {
                Some(x) => Some(x),
                None => return Ok(0),
            },
            None => None,
        };
        let scope: Scope = serde_json::from_str(&notice.scope).map_err(|e| Error::Internal(e.to_string()))?;
        let ids = match self.resolve_scope(&mut tx, &scope).await {
            Ok(ids) => ids,
            Err(Error::Unprocessable(p)) => {
                tracing::warn!(notice = notice_id, problems = ?p, "a notice's scope names codes no longer known; no alerts");
                return Ok(0);
            }
            Err(e) => return Err(e),
        };
        let reached = store::alerts::reached(&mut tx, &ids).await?;
        // A run after a crash: the contacts its predecessor told (batches it committed).
        let told: HashSet<i64> = store::alerts::told(&mut tx, notice_id, event).await?.into_iter().collect();
        let mut templates = HashMap::new();
        for language in crate::notify::LANGUAGES {
            templates.insert(language, self.compiled_template(&mut tx, language, KIND).await?);
        }
        drop(tx);
        if reached.is_empty() {
            return Ok(0);
        }
        let groups = group(reached);
        let key = self.signing_key(true).await?.ok_or_else(|| Error::Internal("no unsubscribe key".into()))?;
        let ended = match &update {
            Some(u) => NoticeState::parse(&u.state).is_some_and(NoticeState::is_final),
            None => event.starts_with("end-"),
        };
        let from_addr = self.config.mail_from.trim().to_owned();
        let from: Mailbox = from_addr.parse().map_err(|e| Error::Internal(format!("address `{from_addr}`: {e}")))?;
        let r = Rendering {
            event: if ended {
                "ended"
            } else if update.is_some() {
                "update"
            } else {
                "published"
            },
            texts: texts_of(&notice.texts),
            update_texts: update.as_ref().map(|u| texts_of(&u.texts)).unwrap_or_default(),
            update_at: when(update.as_ref().map(|u| u.at)),
            window_start: when(notice.window_start),
            window_end: when(notice.window_end),
            estimated_restoration: when(notice.estimated_restoration),
            notice,
            base: self.config.public_url.as_ref().map(|b| b.trim_end_matches('/').to_owned()),
            key,
            domain: from_addr.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_else(|| "localhost".into()),
            from,
            from_addr,
            templates,
        };
        // Each batch is rendered on a blocking thread while the previous one is written, so the
        // database and the rendering share the cores; the single SQLite writer waits for none of
        // the rendering.
        let (r, groups, told) = (Arc::new(r), Arc::new(groups), Arc::new(told));
        let batches = groups.len().div_ceil(BATCH);
        let render = |b: usize, now: i64| {
            let (r, groups, told) = (r.clone(), groups.clone(), told.clone());
            tokio::task::spawn_blocking(move || -> Result<(Vec<Pending>, Vec<usize>, std::time::Duration)> {
                let started = std::time::Instant::now();
                let (mut pending, mut owners) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
                for i in b * BATCH..((b + 1) * BATCH).min(groups.len()) {
                    if told.contains(&groups[i].contact_id) {
                        continue;
                    }
                    if let Some(p) = r.email(&groups[i], now)? {
                        pending.push(p);
                        owners.push(i);
                    }
                }
                Ok((pending, owners, started.elapsed()))
            })
        };
        // PostgreSQL takes two batches at once (each its own connection and core); SQLite has one writer.
        let writers = match self.db.backend() {
            store::Backend::Postgres => 2,
            store::Backend::Sqlite => 1,
        };
        let mut writes: tokio::task::JoinSet<Result<(usize, std::time::Duration)>> = tokio::task::JoinSet::new();
        let (mut queued, mut rendering, mut writing) = (0, std::time::Duration::ZERO, std::time::Duration::ZERO);
        let mut next = Some(render(0, store::micros(self.now())));
        for b in 0..batches {
            let now = store::micros(self.now());
            let handle = next.take().ok_or_else(|| Error::Internal("no rendering under way".into()))?;
            let (pending, owners, took) =
                handle.await.map_err(|e| Error::Internal(format!("rendering alerts: {e}")))??;
            rendering += took;
            if b + 1 < batches {
                next = Some(render(b + 1, now));
            }
            if pending.is_empty() {
                continue;
            }
            while writes.len() >= writers {
                let (n, took) = joined(writes.join_next().await)?;
                queued += n;
                writing += took;
            }
            let lines: Vec<(i64, Vec<i64>)> = owners
                .iter()
                .map(|i| (groups[*i].contact_id, groups[*i].lines.iter().map(|l| l.0).collect()))
                .collect();
            let (app, event) = (self.clone(), event.to_owned());
            writes.spawn(async move {
                let started = std::time::Instant::now();
                let n = app.write_alerts(notice_id, update_id, &event, pending, lines, now).await?;
                Ok((n, started.elapsed()))
            });
        }
        while !writes.is_empty() {
            let (n, took) = joined(writes.join_next().await)?;
            queued += n;
            writing += took;
        }
        tracing::debug!(
            notice = notice_id,
            event,
            emails = queued,
            rendering_ms = rendering.as_millis() as u64,
            writing_ms = writing.as_millis() as u64,
            "alert fan-out"
        );
        Ok(queued)
    }

    /// Writes one batch of alert emails into the outbox with their deliveries (`lines`: the
    /// contact and line ids of each email), in one transaction; returns how many.
    async fn write_alerts(
        &self,
        notice_id: i64,
        update_id: Option<i64>,
        event: &str,
        pending: Vec<Pending>,
        lines: Vec<(i64, Vec<i64>)>,
        now: i64,
    ) -> Result<usize> {
        let mut tx = self.db.write().await?;
        let outbox = crate::notify::flush_ids(&mut tx, pending, now).await?;
        let rows: Vec<store::notices::DeliveryIn> = lines
            .iter()
            .zip(&outbox)
            .flat_map(|((contact_id, lines), id)| {
                lines.iter().map(move |line_id| store::notices::DeliveryIn {
                    contact_id: *contact_id,
                    line_id: *line_id,
                    outbox_id: Some(*id),
                })
            })
            .collect();
        // A second run of this event fails here on the unique key, its emails with it.
        store::notices::record_deliveries(&mut tx, notice_id, update_id, event, &rows, now).await?;
        tx.commit().await?;
        Ok(outbox.len())
    }

    /// The contact whose alerts `actor` manages: a contact itself; for a partner's users a
    /// contact of one of its customers, for staff any contact, named by `email`. Others read as
    /// not found.
    async fn managed_contact(&self, tx: &mut Tx, actor: &Actor, email: Option<&str>) -> Result<store::ContactRow> {
        let email = email.map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
        let not_found = |e: &str| Error::NotFound(format!("contact {e}"));
        let c = match (&actor.who, email) {
            (Who::Contact { contact_id, .. }, None) => {
                store::people::contact(tx, *contact_id).await?.ok_or_else(|| not_found("(you)"))?
            }
            (Who::Contact { contact_id, .. }, Some(e)) => store::people::contact(tx, *contact_id)
                .await?
                .filter(|c| c.email.to_lowercase() == e)
                .ok_or_else(|| not_found(&e))?,
            (_, None) => return Err(Error::invalid("contact", "name the contact (its email address)")),
            (Who::Partner { partner_id }, Some(e)) => {
                let c = store::people::contact_by_email(tx, &e).await?.ok_or_else(|| not_found(&e))?;
                let customer = match c.customer_id {
                    Some(id) => store::people::customer(tx, id).await?,
                    None => None,
                };
                if customer.is_none_or(|cu| cu.partner_id != Some(*partner_id)) {
                    return Err(not_found(&e));
                }
                c
            }
            (_, Some(e)) => store::people::contact_by_email(tx, &e).await?.ok_or_else(|| not_found(&e))?,
        };
        if c.customer_id.is_none() {
            return Err(Error::Unprocessable(vec![FieldProblem {
                field: "contact".into(),
                message: format!("{} belongs to no customer: alerts follow a customer's lines", c.email),
            }]));
        }
        Ok(c)
    }

    /// A contact's alert subscriptions (a contact's own; partners and staff name the contact).
    pub async fn alert_subscriptions(&self, actor: &Actor, contact: Option<&str>) -> Result<Vec<SubscriptionView>> {
        let mut tx = self.db.read().await?;
        let c = self.managed_contact(&mut tx, actor, contact).await?;
        Ok(store::alerts::subscriptions_of(&mut tx, c.id).await?.into_iter().map(SubscriptionView::of).collect())
    }

    /// Subscribes a contact to the alerts of one of its customer's lines, or of a zone
    /// (municipality or province) where its customer has lines. Returns the subscription and
    /// whether it is new (subscribing twice changes nothing). A line or zone the actor may not
    /// see reads as not found.
    pub async fn subscribe_alerts(&self, actor: &Actor, input: SubscribeInput) -> Result<(SubscriptionView, bool)> {
        let line = input.line.as_deref().map(str::trim).filter(|l| !l.is_empty());
        let zone = input.zone.as_deref().map(str::trim).filter(|z| !z.is_empty());
        if line.is_some() == zone.is_some() {
            let field = if line.is_some() { "zone" } else { "line" };
            return Err(Error::invalid(field, "give either a line or a zone (municipality or province), not both"));
        }
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let c = self.managed_contact(&mut tx, actor, input.contact.as_deref()).await?;
        let customer_id = c.customer_id.unwrap_or_default();
        let customer = store::people::customer(&mut tx, customer_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("contact {} without its customer", c.id)))?;
        let unprocessable =
            |field: &str, message: String| Error::Unprocessable(vec![FieldProblem { field: field.into(), message }]);
        let (line_id, territory_id, named) = if let Some(identifier) = line {
            let not_found = || Error::NotFound(format!("line {identifier}"));
            let l = store::inventory::line(&mut tx, identifier).await?.ok_or_else(not_found)?;
            let owner = store::people::customer(&mut tx, l.customer_id).await?.ok_or_else(not_found)?;
            if !crate::access::may_see_customer(actor, owner.id, owner.partner_id) {
                return Err(not_found());
            }
            if l.customer_id != customer_id {
                return Err(unprocessable("line", format!("{identifier} is not a line of customer {}", customer.code)));
            }
            if l.status == "ceased" {
                return Err(unprocessable("line", format!("{identifier} has ceased")));
            }
            (Some(l.id), None, ("line", l.identifier))
        } else {
            let code = zone.unwrap_or_default();
            let mut t = store::alerts::territory_by_code(&mut tx, code)
                .await?
                .ok_or_else(|| Error::NotFound(format!("zone {code}")))?;
            // A merged municipality: its lines moved to the successor, and so does the subscription.
            for _ in 0..16 {
                let Some(next) = t.4 else { break };
                match store::alerts::territory(&mut tx, next).await? {
                    Some(s) => t = s,
                    None => break,
                }
            }
            if t.3 != "municipality" && t.3 != "province" {
                return Err(unprocessable("zone", format!("{code} is a {}; give a municipality or a province", t.3)));
            }
            if !store::alerts::customer_has_lines_in(&mut tx, customer_id, t.0).await? {
                return Err(unprocessable(
                    "zone",
                    format!("customer {} has no lines in {code} ({})", customer.code, t.2),
                ));
            }
            (None, Some(t.0), ("zone", t.1))
        };
        let existing = store::notices::subscriptions_of(&mut tx, c.id)
            .await?
            .into_iter()
            .find(|s| s.line_id == line_id && s.territory_id == territory_id);
        let (id, created) = match existing {
            Some(s) => (s.id, false),
            None => (store::notices::subscribe(&mut tx, c.id, line_id, territory_id, now).await?, true),
        };
        if created {
            crate::admin::audit(
                &mut tx,
                actor,
                None,
                "contact",
                c.id,
                "alerts",
                Some(named.0),
                None,
                Some(named.1),
                now,
            )
            .await?;
        }
        let view = store::alerts::subscription(&mut tx, id)
            .await?
            .map(SubscriptionView::of)
            .ok_or_else(|| Error::Internal(format!("subscription {id} not found after saving")))?;
        tx.commit().await?;
        Ok((view, created))
    }

    /// Removes one of a contact's subscriptions (the contact, its customer's partner, staff);
    /// someone else's reads as not found.
    pub async fn unsubscribe_alert(&self, actor: &Actor, id: i64) -> Result<()> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let not_found = || Error::NotFound(format!("subscription {id}"));
        let s = store::alerts::subscription(&mut tx, id).await?.ok_or_else(not_found)?;
        match self.managed_contact(&mut tx, actor, Some(&s.contact_email)).await {
            Ok(c) if c.id == s.contact_id => {}
            Ok(_) | Err(Error::NotFound(_)) | Err(Error::Unprocessable(_)) => return Err(not_found()),
            Err(e) => return Err(e),
        }
        remove(&mut tx, actor, &s, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What a contact may subscribe to: its customer's lines in service and the provinces and
    /// municipalities where they are.
    pub async fn alert_choices(&self, actor: &Actor, contact: Option<&str>) -> Result<AlertChoices> {
        let mut tx = self.db.read().await?;
        let c = self.managed_contact(&mut tx, actor, contact).await?;
        let customer_id = c.customer_id.unwrap_or_default();
        let customer = store::people::customer(&mut tx, customer_id).await?.map(|c| c.code).unwrap_or_default();
        let lines = store::inventory::lines_of(&mut tx, &[customer_id])
            .await?
            .into_iter()
            .filter(|l| l.status != "ceased")
            .map(|l| LineChoice { identifier: l.identifier, service: l.service, municipality: l.municipality_name })
            .collect();
        let zones = store::alerts::zones_of_customer(&mut tx, customer_id)
            .await?
            .into_iter()
            .map(|(code, name, level)| ZoneView { code, name, level })
            .collect();
        Ok(AlertChoices { contact: c.email, customer, lines, zones })
    }

    /// The contacts whose alerts the actor manages from the portal: a contact itself; a
    /// partner's users the contacts of its customers. Staff use the API.
    pub async fn alert_contacts(&self, actor: &Actor) -> Result<Vec<ContactChoice>> {
        let mut tx = self.db.read().await?;
        let customers = match &actor.who {
            Who::Contact { customer_id: Some(c), .. } => vec![*c],
            Who::Contact { .. } => Vec::new(),
            Who::Partner { partner_id } => {
                store::people::customers(&mut tx, Some(*partner_id)).await?.into_iter().map(|c| c.id).collect()
            }
            _ => return Err(Error::Forbidden("staff manage alerts through the API".into())),
        };
        let mut out = Vec::new();
        for id in customers {
            let code = store::people::customer(&mut tx, id).await?.map(|c| c.code).unwrap_or_default();
            for c in store::people::contacts(&mut tx, Some(id)).await? {
                if actor.contact_id().is_none_or(|me| me == c.id) {
                    out.push(ContactChoice { email: c.email, name: c.name, customer: code.clone() });
                }
            }
        }
        Ok(out)
    }

    /// A line's record of who was told of which notice event, and when (newest first). Staff.
    pub async fn line_deliveries(&self, actor: &Actor, identifier: &str, limit: i64) -> Result<Vec<DeliveryView>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let l = store::inventory::line(&mut tx, identifier)
            .await?
            .ok_or_else(|| Error::NotFound(format!("line {identifier}")))?;
        let rows = store::notices::deliveries_of_line(&mut tx, l.id, limit.clamp(1, 1_000)).await?;
        Ok(rows
            .into_iter()
            .map(|d| {
                let ended = d.event.starts_with("end-")
                    || d.update_state.as_deref().and_then(NoticeState::parse).is_some_and(NoticeState::is_final);
                let event = if ended {
                    "ended"
                } else if d.update_id.is_some() {
                    "update"
                } else {
                    "published"
                };
                DeliveryView {
                    notice: d.notice_id,
                    event: event.into(),
                    update: d.update_id,
                    state: d.update_state,
                    contact: d.contact_email,
                    outbox: d.outbox_id,
                    mail_state: d.mail_state,
                    at: ts(d.at),
                }
            })
            .collect())
    }

    /// The subscriptions an unsubscribe link names that still exist (what its page asks to
    /// confirm). `Invalid` for a link that was altered or cut short, `NotFound` when none of
    /// its subscriptions is left.
    pub async fn alert_link_subscriptions(&self, token: &str) -> Result<Vec<SubscriptionView>> {
        let mut tx = self.db.read().await?;
        let list = self.link_subscriptions(&mut tx, token).await?;
        Ok(list.into_iter().map(SubscriptionView::of).collect())
    }

    /// Removes the subscriptions an unsubscribe link names (no sign-in: the signature is the
    /// authorisation); returns what was removed. Errors as [`App::alert_link_subscriptions`].
    pub async fn unsubscribe_by_link(&self, token: &str) -> Result<Vec<SubscriptionView>> {
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let list = self.link_subscriptions(&mut tx, token).await?;
        let Some(first) = list.first() else {
            return Err(Error::NotFound("subscription".into()));
        };
        let contact = store::people::contact(&mut tx, first.contact_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("contact {}", first.contact_id)))?;
        let mut actor = Actor::contact(&contact, Channel::Web);
        actor.label = format!("{} (unsubscribe link)", actor.label);
        for s in &list {
            remove(&mut tx, &actor, s, now).await?;
        }
        tx.commit().await?;
        Ok(list.into_iter().map(SubscriptionView::of).collect())
    }

    async fn link_subscriptions(&self, tx: &mut Tx, token: &str) -> Result<Vec<store::alerts::SubscriptionInfo>> {
        let bad = || Error::invalid("link", "this unsubscribe link is not valid: it was changed or cut short");
        let key = store::alerts::secret(tx, SECRET).await?.and_then(|s| hex::decode(s).ok()).ok_or_else(bad)?;
        let (contact, subscriptions) = read_token(&key, token)?;
        let mut out = Vec::new();
        for (id, created) in subscriptions {
            if let Some(s) = store::alerts::subscription(tx, id).await?
                && s.contact_id == contact
                && s.created_at == created
            {
                out.push(s);
            }
        }
        if out.is_empty() {
            return Err(Error::NotFound("subscription (already cancelled)".into()));
        }
        Ok(out)
    }

    /// Adds many subscriptions at once (an import of opt-ins collected elsewhere): each row a
    /// contact and one of its customer's lines, or a municipality or province. Rows naming an
    /// unknown contact, line or zone, or a line of another customer, are reported and skipped.
    /// Admins only.
    pub async fn bulk_subscribe(&self, actor: &Actor, rows: &[BulkSubscription]) -> Result<BulkReport> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let emails: Vec<String> = rows.iter().map(|r| r.contact.trim().to_lowercase()).collect();
        let contacts: HashMap<String, (i64, Option<i64>)> = store::alerts::contacts_by_email(&mut tx, &emails)
            .await?
            .into_iter()
            .map(|(e, id, customer)| (e, (id, customer)))
            .collect();
        let identifiers: Vec<String> =
            rows.iter().filter_map(|r| r.line.as_ref().map(|l| l.trim().to_owned())).collect();
        let lines: HashMap<String, (i64, i64, String)> = store::alerts::lines_by_identifier(&mut tx, &identifiers)
            .await?
            .into_iter()
            .map(|(identifier, id, customer, status)| (identifier, (id, customer, status)))
            .collect();
        let mut zones: HashMap<String, Option<(i64, String)>> = HashMap::new();
        let mut report = BulkReport::default();
        let mut add = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let Some((contact, customer)) = contacts.get(&emails[i]).copied() else {
                report.rejected.push((i, format!("contact: unknown contact `{}`", emails[i])));
                continue;
            };
            let Some(customer) = customer else {
                report.rejected.push((i, format!("contact: `{}` belongs to no customer", emails[i])));
                continue;
            };
            match (r.line.as_deref().map(str::trim), r.zone.as_deref().map(str::trim)) {
                (Some(l), None) => match lines.get(l) {
                    Some((id, owner, status)) if *owner == customer && status != "ceased" => {
                        add.push((contact, Some(*id), None))
                    }
                    Some(_) => report
                        .rejected
                        .push((i, format!("line: `{l}` is not a line in service of the contact's customer"))),
                    None => report.rejected.push((i, format!("line: unknown line `{l}`"))),
                },
                (None, Some(z)) => {
                    if !zones.contains_key(z) {
                        let t = store::alerts::territory_by_code(&mut tx, z).await?;
                        zones.insert(z.to_owned(), t.map(|t| (t.0, t.3)));
                    }
                    match zones.get(z).cloned().flatten() {
                        Some((id, level)) if level == "municipality" || level == "province" => {
                            add.push((contact, None, Some(id)))
                        }
                        Some(_) => {
                            report.rejected.push((i, format!("zone: `{z}` is not a municipality or a province")))
                        }
                        None => report.rejected.push((i, format!("zone: unknown zone `{z}`"))),
                    }
                }
                _ => report.rejected.push((i, "give either a line or a zone".into())),
            }
        }
        report.added = store::alerts::insert_subscriptions(&mut tx, &add, now).await?;
        crate::admin::audit(
            &mut tx,
            actor,
            None,
            "alerts",
            0,
            "imported",
            None,
            None,
            Some(report.added.to_string()),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// The outcome of a finished write task.
fn joined<T>(r: Option<std::result::Result<Result<T>, tokio::task::JoinError>>) -> Result<T> {
    match r {
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(Error::Internal(format!("writing alerts: {e}"))),
        None => Err(Error::Internal("no write under way".into())),
    }
}

/// Deletes a subscription and records it on the contact.
async fn remove(tx: &mut Tx, actor: &Actor, s: &store::alerts::SubscriptionInfo, now: i64) -> Result<()> {
    if store::alerts::delete_subscription(tx, s.contact_id, s.id, s.created_at).await? {
        let (field, old) = match (&s.line_identifier, &s.territory_code) {
            (Some(l), _) => ("line", l.clone()),
            (None, Some(z)) => ("zone", z.clone()),
            (None, None) => ("line", s.id.to_string()),
        };
        crate::admin::audit(tx, actor, None, "contact", s.contact_id, "alerts", Some(field), Some(old), None, now)
            .await?;
    }
    Ok(())
}
