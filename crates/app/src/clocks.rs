//! SLA clocks on tickets: started when a ticket opens under a contract, moved by its changes
//! (intervention, status, severity, customer), swept for warnings and breaches, recomputed when
//! a level or its calendar changes; and the computed priority that depends on them.
//!
//! Every mark a clock passes is an event of the ticket (`sla`, field `intervention` or
//! `restoration`, value `warning`, `breached` or `met`). Warnings and breaches are emailed to the
//! owner, or to the queue's agents when nobody owns the ticket; a breach raises the priority by
//! the level's `escalation_raise` and moves the ticket to its escalation queue, if it has one.

use std::sync::Arc;

use domain::clock::{Alarm, Clock, Dues, Phase};
use domain::priority::{Factors, Urgency, score};
use domain::sla::{Promise, SupportLevel};
use domain::{Channel, Status};
use jiff::{SignedDuration, Timestamp};
use store::sla::ClockRow;
use store::{TicketRow, Tx};

use crate::access::Actor;
use crate::views::{SlaView, ts};
use crate::{App, Error, Result};

/// The job kind that recomputes the due instants of a level's running clocks.
pub const RECOMPUTE: &str = "sla.recompute";

/// How many clocks one recompute transaction handles.
const RECOMPUTE_BATCH: i64 = 5_000;

/// A support level with the rules of its clocks.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// The level and its calendar.
    pub level: SupportLevel,
    /// Warn at this share (per cent) of a target.
    pub warn_percent: i64,
    /// The statuses that pause the clocks.
    pub pausing: Vec<Status>,
    /// Where a breached ticket goes.
    pub escalation_queue_id: Option<i64>,
    /// Priority points added at a breach.
    pub escalation_raise: i64,
}

impl Rules {
    /// What the level promises a clock's ticket. A clock exists only for a category the level
    /// has targets for; should those targets be removed, the recompute the change starts drops
    /// such clocks, and until then they count with the fault targets of their severity.
    pub(crate) fn promise(&self, k: &ClockRow) -> Promise {
        self.level.promise(k.category, k.severity).unwrap_or_else(|| self.level.for_fault(k.severity))
    }
}

fn instant(us: i64) -> Timestamp {
    ts(us)
}

fn opt(us: Option<i64>) -> Option<Timestamp> {
    us.map(instant)
}

/// The domain's clock of a stored row.
fn clock_of(k: &ClockRow) -> Clock {
    Clock {
        phase: k.phase,
        consumed: SignedDuration::from_micros(k.consumed),
        running_since: opt(k.running_since),
        paused_since: opt(k.paused_since),
        paused_for: SignedDuration::from_micros(k.paused_for),
        intervened_at: opt(k.intervened_at),
        restored_at: opt(k.restored_at),
        intervention_breached: k.intervention_breached,
        restoration_breached: k.restoration_breached,
        warned: k.warned,
    }
}

fn us(d: SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Writes a clock and its due instants back into the row.
fn store_clock(k: &mut ClockRow, c: &Clock, d: &Dues) {
    let m = |t: Option<Timestamp>| t.map(store::micros);
    k.phase = c.phase;
    k.consumed = us(c.consumed);
    k.running_since = m(c.running_since);
    k.paused_since = m(c.paused_since);
    k.paused_for = us(c.paused_for);
    k.intervened_at = m(c.intervened_at);
    k.restored_at = m(c.restored_at);
    k.intervention_breached = c.intervention_breached;
    k.restoration_breached = c.restoration_breached;
    k.warned = c.warned;
    k.intervention_due = m(d.intervention);
    k.restoration_due = m(d.restoration);
    k.next_due = m(d.next_due);
    k.alarm_at = m(d.alarm_at);
}

/// The statuses named in a level's `pause_statuses`.
pub(crate) fn pausing(text: &str) -> Vec<Status> {
    text.split(',').filter_map(|s| Status::parse(s.trim())).collect()
}

/// How close a clock is to a breach, for the priority.
fn urgency(k: Option<&ClockRow>) -> Urgency {
    match k {
        Some(k) if k.intervention_breached || k.restoration_breached => Urgency::Breached,
        Some(k) if k.warned => Urgency::Warned,
        _ => Urgency::Calm,
    }
}

/// The computed priority of a ticket: the domain's score, plus the level's escalation raise once
/// a promise is broken.
pub(crate) fn computed_priority(t: &TicketRow, vip: bool, k: Option<&ClockRow>, raise: i64) -> i64 {
    let u = urgency(k);
    let base = score(Factors { vip, severity: t.severity, category: t.category, impact: t.impact, urgency: u });
    let extra = if u == Urgency::Breached { raise } else { 0 };
    (base + extra).min(100)
}

/// The contract in force for a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InForce {
    /// The contract.
    pub contract_id: i64,
    /// Its support level.
    pub level_id: i64,
    /// Entitled to new versions and features.
    pub evo: bool,
}

/// What a change did to a ticket, as far as its clock cares.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClockChange {
    /// An agent intervened (first public reply, or recorded by hand).
    pub intervened: bool,
}

impl App {
    /// A level's rules with its calendar, from the short cache when fresh.
    pub(crate) async fn level_rules(&self, tx: &mut Tx, level_id: i64) -> Result<Arc<Rules>> {
        if let Some(r) = self.notice_cache.levels.get(&level_id) {
            return Ok(r);
        }
        let l =
            store::sla::level(tx, level_id).await?.ok_or_else(|| Error::Internal(format!("no level {level_id}")))?;
        let c = store::sla::calendar(tx, l.calendar_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("level {} without calendar", l.slug)))?;
        let rules = Arc::new(Rules {
            level: crate::sla::support_level(&l, &c)?,
            warn_percent: l.warn_percent,
            pausing: pausing(&l.pause_statuses),
            escalation_queue_id: l.escalation_queue_id,
            escalation_raise: l.escalation_raise,
        });
        self.notice_cache.levels.put(level_id, rules.clone());
        Ok(rules)
    }

    /// The contract in force for a customer at `at` (its own first, else its partner's), from
    /// the short cache when fresh.
    pub(crate) async fn contract_for(&self, tx: &mut Tx, customer_id: i64, at: i64) -> Result<Option<InForce>> {
        let day = instant(at).to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
        let key = (customer_id, day.clone());
        if let Some(found) = self.notice_cache.contracts.get(&key) {
            return Ok(found);
        }
        let Some(c) = store::people::customer(tx, customer_id).await? else { return Ok(None) };
        let all = store::sla::contracts_of(tx, c.id, c.partner_id).await?;
        let found = crate::sla::in_force(&all, c.id, &day).map(|k| InForce {
            contract_id: k.id,
            level_id: k.level_id,
            evo: k.evo,
        });
        self.notice_cache.contracts.put(key, found);
        Ok(found)
    }

    /// Starts the clock of a new ticket when its customer has a contract whose level promises
    /// something for the ticket's category; returns it.
    pub(crate) async fn start_clock(&self, tx: &mut Tx, t: &TicketRow, now: i64) -> Result<Option<ClockRow>> {
        let Some(customer_id) = t.customer_id else { return Ok(None) };
        let Some(InForce { contract_id, level_id, .. }) = self.contract_for(tx, customer_id, t.created_at).await?
        else {
            return Ok(None);
        };
        let rules = self.level_rules(tx, level_id).await?;
        if rules.level.promise(t.category, t.severity).is_none() {
            return Ok(None);
        }
        let mut c = Clock::start(instant(t.created_at), !rules.pausing.contains(&t.status));
        let mut k = ClockRow {
            ticket_id: t.id,
            contract_id: Some(contract_id),
            level_id,
            category: t.category,
            severity: t.severity,
            phase: Phase::Intervention,
            consumed: 0,
            running_since: None,
            paused_since: None,
            paused_for: 0,
            intervened_at: None,
            restored_at: None,
            intervention_breached: false,
            restoration_breached: false,
            warned: false,
            intervention_due: None,
            restoration_due: None,
            next_due: None,
            alarm_at: None,
            notice_id: None,
        };
        // A ticket opened after the fact (a customer set later) may already be late.
        c.check(&rules.level, rules.promise(&k), rules.warn_percent, instant(now));
        let d = c.dues(&rules.level, rules.promise(&k), rules.warn_percent);
        store_clock(&mut k, &c, &d);
        store::sla::save_clock(tx, &k, now).await?;
        Ok(Some(k))
    }

    /// Moves a ticket's clock after a change from `before` to `t` (in the change's transaction),
    /// records the marks it passed, and recomputes the priority unless it was set by hand.
    pub(crate) async fn advance_clock(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        before: &TicketRow,
        t: &mut TicketRow,
        change: ClockChange,
        now: i64,
    ) -> Result<()> {
        let relevant = change.intervened
            || before.status != t.status
            || before.severity != t.severity
            || before.customer_id != t.customer_id
            || before.category != t.category
            || before.impact != t.impact
            || before.priority_manual != t.priority_manual;
        if !relevant {
            return Ok(());
        }
        let mut clock = store::sla::clock_for_update(tx, t.id).await?;
        let at = instant(now);
        let mut fired: Vec<Alarm> = Vec::new();
        if before.customer_id != t.customer_id {
            let wanted = match t.customer_id {
                Some(id) => self.contract_for(tx, id, t.created_at).await?,
                None => None,
            };
            let wanted = wanted.map(|w| (w.contract_id, w.level_id));
            let current = clock.as_ref().map(|k| (k.contract_id, k.level_id));
            match (current, wanted) {
                (Some((Some(cid), _)), Some((wcid, _))) if cid == wcid => {}
                (Some(_), Some((wcid, wlevel))) => {
                    if let Some(k) = clock.as_mut() {
                        let old = self.level_rules(tx, k.level_id).await?;
                        let mut c = clock_of(k);
                        c.rebase(&old.level, at);
                        let d = c.dues(&old.level, old.promise(k), old.warn_percent);
                        store_clock(k, &c, &d);
                        let (old_slug, new) = (old.level.slug.clone(), self.level_rules(tx, wlevel).await?);
                        k.contract_id = Some(wcid);
                        k.level_id = wlevel;
                        crate::tickets::record(
                            tx,
                            actor,
                            t.id,
                            "sla",
                            Some("level"),
                            Some(old_slug),
                            Some(new.level.slug.clone()),
                            now,
                        )
                        .await?;
                    }
                }
                (Some(_), None) => {
                    // No contract any more: support on request, no clock.
                    if let Some(k) = clock.take() {
                        let old = self.level_rules(tx, k.level_id).await?;
                        store::sla::delete_clock(tx, t.id).await?;
                        crate::tickets::record(
                            tx,
                            actor,
                            t.id,
                            "sla",
                            Some("level"),
                            Some(old.level.slug.clone()),
                            None,
                            now,
                        )
                        .await?;
                    }
                }
                (None, Some(_)) => {
                    // The clock counts from the opening, under the contract in force then.
                    clock = self.start_clock(tx, t, now).await?;
                    if let Some(k) = &clock {
                        let rules = self.level_rules(tx, k.level_id).await?;
                        crate::tickets::record(
                            tx,
                            actor,
                            t.id,
                            "sla",
                            Some("level"),
                            None,
                            Some(rules.level.slug.clone()),
                            now,
                        )
                        .await?;
                    }
                }
                (None, None) => {}
            }
        }
        if before.category != t.category || clock.is_some() {
            clock = self.recategorise(tx, actor, t, clock, now).await?;
        }
        let mut raise = 0;
        if let Some(k) = clock.as_mut() {
            let rules = self.level_rules(tx, k.level_id).await?;
            raise = rules.escalation_raise;
            let mut c = clock_of(k);
            if k.severity != t.severity {
                c.rebase(&rules.level, at);
                crate::tickets::record(
                    tx,
                    actor,
                    t.id,
                    "sla",
                    Some("severity"),
                    Some(k.severity.to_string()),
                    Some(t.severity.to_string()),
                    now,
                )
                .await?;
                k.severity = t.severity;
            }
            if change.intervened || (t.status == Status::Resolved && c.phase == Phase::Intervention) {
                fired.extend(c.intervene(&rules.level, rules.promise(k), at));
            }
            if before.status != t.status {
                fired.extend(c.on_status(&rules.level, rules.promise(k), t.status, &rules.pausing, at));
            }
            fired.extend(c.check(&rules.level, rules.promise(k), rules.warn_percent, at));
            let d = c.dues(&rules.level, rules.promise(k), rules.warn_percent);
            store_clock(k, &c, &d);
            store::sla::save_clock(tx, k, now).await?;
        }
        let breach = fired.iter().any(|a| matches!(a, Alarm::Breach(_)));
        self.record_alarms(tx, actor, t, &fired, clock.as_ref(), now).await?;
        if breach {
            self.escalate(tx, t, clock.as_ref(), now).await?;
        } else if !t.priority_manual {
            let vip = self.vip(tx, t.customer_id).await?;
            t.priority = computed_priority(t, vip, clock.as_ref(), raise);
        }
        Ok(())
    }

    /// The ticket's category changed: its clock now counts for the new category (keeping the
    /// business time consumed), stops when the level promises nothing for it (as it does when
    /// the level's targets for the category were removed), or starts (from the opening) when the
    /// ticket had none and now gets a promise.
    async fn recategorise(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        t: &TicketRow,
        clock: Option<ClockRow>,
        now: i64,
    ) -> Result<Option<ClockRow>> {
        let Some(mut k) = clock else {
            let Some(k) = self.start_clock(tx, t, now).await? else { return Ok(None) };
            let rules = self.level_rules(tx, k.level_id).await?;
            let level = Some(rules.level.slug.clone());
            crate::tickets::record(tx, actor, t.id, "sla", Some("level"), None, level, now).await?;
            return Ok(Some(k));
        };
        let rules = self.level_rules(tx, k.level_id).await?;
        let promised = rules.level.promise(t.category, t.severity).is_some();
        if k.category == t.category && promised {
            return Ok(Some(k));
        }
        if !promised {
            store::sla::delete_clock(tx, t.id).await?;
            let level = Some(rules.level.slug.clone());
            crate::tickets::record(tx, actor, t.id, "sla", Some("level"), level, None, now).await?;
            return Ok(None);
        }
        let mut c = clock_of(&k);
        c.rebase(&rules.level, instant(now));
        let d = c.dues(&rules.level, rules.promise(&k), rules.warn_percent);
        store_clock(&mut k, &c, &d);
        let (old, new) = (Some(k.category.to_string()), Some(t.category.to_string()));
        crate::tickets::record(tx, actor, t.id, "sla", Some("category"), old, new, now).await?;
        k.category = t.category;
        Ok(Some(k))
    }

    /// The due instant of a clock's current phase in its calendar's time zone, for emails.
    async fn due_text(&self, tx: &mut Tx, k: Option<&ClockRow>) -> Result<String> {
        let Some((k, due)) = k.and_then(|k| k.next_due.map(|d| (k, d))) else { return Ok(String::new()) };
        let rules = self.level_rules(tx, k.level_id).await?;
        let zone = jiff::tz::TimeZone::get(rules.level.calendar.time_zone()).unwrap_or(jiff::tz::TimeZone::UTC);
        Ok(instant(due).to_zoned(zone).strftime("%Y-%m-%d %H:%M %Z").to_string())
    }

    async fn vip(&self, tx: &mut Tx, customer_id: Option<i64>) -> Result<bool> {
        Ok(match customer_id {
            Some(id) => store::people::customer(tx, id).await?.is_some_and(|c| c.vip),
            None => false,
        })
    }

    /// Records the marks a clock passed as events, and emails warnings and breaches.
    async fn record_alarms(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        t: &TicketRow,
        fired: &[Alarm],
        k: Option<&ClockRow>,
        now: i64,
    ) -> Result<()> {
        for a in fired {
            let (phase, what) = match a {
                Alarm::Warning(p) => (p, "warning"),
                Alarm::Breach(p) => (p, "breached"),
                Alarm::Met(p) => (p, "met"),
            };
            crate::tickets::record(tx, actor, t.id, "sla", Some(phase.as_str()), None, Some(what.into()), now).await?;
            metrics::counter!("sportello_sla_marks_total", "phase" => phase.as_str(), "mark" => what).increment(1);
        }
        let alarms: Vec<&Alarm> = fired.iter().filter(|a| !matches!(a, Alarm::Met(_))).collect();
        if let Some(a) = alarms.last() {
            let due = self.due_text(tx, k).await?;
            self.notify_sla(tx, t, a, due, now).await?;
        }
        Ok(())
    }

    /// At a breach: raises the priority by the level's raise and moves the ticket to the level's
    /// escalation queue (without an owner, for that group to take); the caller records the
    /// changed fields.
    async fn escalate(&self, tx: &mut Tx, t: &mut TicketRow, k: Option<&ClockRow>, now: i64) -> Result<()> {
        let Some(k) = k else { return Ok(()) };
        let rules = self.level_rules(tx, k.level_id).await?;
        let system = Actor::system(Channel::System);
        if t.priority_manual {
            t.priority = (t.priority + rules.escalation_raise).min(100);
        } else {
            let vip = self.vip(tx, t.customer_id).await?;
            t.priority = computed_priority(t, vip, Some(k), rules.escalation_raise);
        }
        if let Some(q) = rules.escalation_queue_id
            && q != t.queue_id
            && let Some(queue) = store::queues::by_id(tx, q).await?
        {
            let old = store::queues::by_id(tx, t.queue_id).await?.map(|q| q.slug);
            crate::tickets::record(tx, &system, t.id, "escalated", Some("queue"), old, Some(queue.slug), now).await?;
            t.queue_id = q;
            t.owner_id = None;
            // The escalation group hears of it too.
            let alarm = Alarm::Breach(k.phase);
            let due = self.due_text(tx, Some(k)).await?;
            self.notify_sla(tx, t, &alarm, due, now).await?;
        }
        t.updated_at = now;
        Ok(())
    }

    /// Records the marks passed by clocks whose next warning or breach is due at `now`; returns
    /// how many tickets it looked at. Every node may run it: a clock is read locked and a mark is
    /// recorded once.
    pub async fn sla_sweep(&self) -> Result<usize> {
        let mut seen = 0;
        let mut done = std::collections::HashSet::new();
        loop {
            let now = store::micros(self.now());
            let mut tx = self.db.write().await?;
            let ids = store::sla::alarms_due(&mut tx, now, 100).await?;
            // A clock is looked at once per sweep, even if its next mark were somehow still due.
            if ids.iter().all(|id| done.contains(id)) {
                return Ok(seen);
            }
            done.extend(ids.iter().copied());
            let system = Actor::system(Channel::System);
            for id in &ids {
                // The ticket first, then its clock: the order every change takes them in.
                let Some(mut t) = store::tickets::get_for_update(&mut tx, *id).await? else { continue };
                let Some(mut k) = store::sla::clock_for_update(&mut tx, *id).await? else { continue };
                let rules = self.level_rules(&mut tx, k.level_id).await?;
                let mut c = clock_of(&k);
                let fired = c.check(&rules.level, rules.promise(&k), rules.warn_percent, instant(now));
                let d = c.dues(&rules.level, rules.promise(&k), rules.warn_percent);
                store_clock(&mut k, &c, &d);
                store::sla::save_clock(&mut tx, &k, now).await?;
                let before = t.clone();
                self.record_alarms(&mut tx, &system, &t, &fired, Some(&k), now).await?;
                if fired.iter().any(|a| matches!(a, Alarm::Breach(_))) {
                    self.escalate(&mut tx, &mut t, Some(&k), now).await?;
                } else if !t.priority_manual {
                    let vip = self.vip(&mut tx, t.customer_id).await?;
                    t.priority = computed_priority(&t, vip, Some(&k), rules.escalation_raise);
                }
                if t != before {
                    self.record_changes(&mut tx, &system, &before, &mut t, now).await?;
                    store::tickets::save(&mut tx, &t).await?;
                }
            }
            tx.commit().await?;
            seen += ids.len();
            self.jobs_wake.notify_one();
        }
    }

    /// Sweeps for SLA marks every `every` until `shutdown` turns true.
    pub async fn run_sla_sweeper(&self, every: std::time::Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.sla_sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(tickets = n, "SLA marks recorded"),
                Err(e) => tracing::warn!(error = %e, "SLA sweep failed; trying again later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Recomputes the due instants of every running clock of the levels using calendar
    /// `calendar_id` (or of level `level_id`), in transactions of [`RECOMPUTE_BATCH`] clocks;
    /// returns how many clocks it recomputed.
    pub async fn recompute_clocks(&self, calendar_id: Option<i64>, level_id: Option<i64>) -> Result<usize> {
        let levels: Vec<i64> = {
            let mut tx = self.db.read().await?;
            store::sla::levels(&mut tx)
                .await?
                .into_iter()
                .filter(|l| Some(l.calendar_id) == calendar_id || Some(l.id) == level_id)
                .map(|l| l.id)
                .collect()
        };
        self.forget_notice_cache();
        let mut total = 0;
        let (mut read, mut compute, mut write) =
            (std::time::Duration::ZERO, std::time::Duration::ZERO, std::time::Duration::ZERO);
        for level in levels {
            let mut after = 0;
            loop {
                let t0 = std::time::Instant::now();
                let mut tx = self.db.write().await?;
                let rules = self.level_rules(&mut tx, level).await?;
                let rows = store::sla::running_dues_input(&mut tx, level, after, RECOMPUTE_BATCH).await?;
                let Some(last) = rows.last() else { break };
                after = last.ticket_id;
                let t1 = std::time::Instant::now();
                let (rows, dropped): (Vec<_>, Vec<_>) =
                    rows.into_iter().partition(|k| rules.level.promise(k.category, k.severity).is_some());
                self.drop_clocks(&mut tx, &rules, &dropped).await?;
                let m = |t: Option<Timestamp>| t.map(store::micros);
                let dues: Vec<_> = rows
                    .iter()
                    .map(|k| {
                        let d = clock_of(k).dues(&rules.level, rules.promise(k), rules.warn_percent);
                        store::sla::DueRow {
                            ticket_id: k.ticket_id,
                            intervention: m(d.intervention),
                            restoration: m(d.restoration),
                            next_due: m(d.next_due),
                            alarm_at: m(d.alarm_at),
                        }
                    })
                    .collect();
                let t2 = std::time::Instant::now();
                store::sla::save_dues(&mut tx, &dues).await?;
                tx.commit().await?;
                total += rows.len();
                read += t1 - t0;
                compute += t2 - t1;
                write += t2.elapsed();
            }
        }
        tracing::info!(clocks = total, ?read, ?compute, ?write, "SLA due times recomputed");
        Ok(total)
    }

    /// Drops the clocks of categories their level no longer promises anything for (the tickets
    /// go on without a clock; each records it).
    async fn drop_clocks(&self, tx: &mut Tx, rules: &Rules, clocks: &[ClockRow]) -> Result<()> {
        let now = store::micros(self.now());
        let system = Actor::system(Channel::System);
        for k in clocks {
            store::sla::delete_clock(tx, k.ticket_id).await?;
            let level = Some(rules.level.slug.clone());
            crate::tickets::record(tx, &system, k.ticket_id, "sla", Some("level"), level, None, now).await?;
        }
        Ok(())
    }

    /// Runs a [`RECOMPUTE`] job.
    pub(crate) async fn run_recompute(&self, job: &store::JobRow) -> Result<()> {
        let v: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| Error::Internal(e.to_string()))?;
        let n = self.recompute_clocks(v["calendar"].as_i64(), v["level"].as_i64()).await?;
        tracing::info!(clocks = n, "SLA due times recomputed");
        Ok(())
    }

    /// The SLA view of a clock [`App::start_clock`] just started, from the caches it filled
    /// (no read under the write lock).
    pub(crate) async fn new_clock_view(&self, tx: &mut Tx, t: &TicketRow, k: &ClockRow, now: i64) -> Result<SlaView> {
        let rules = self.level_rules(tx, k.level_id).await?;
        let evo = match t.customer_id {
            Some(id) => self.contract_for(tx, id, t.created_at).await?.is_some_and(|c| c.evo),
            None => false,
        };
        Ok(sla_view_of(k, &rules, evo, instant(now)))
    }

    /// The SLA view of a stored clock at `now`.
    pub(crate) async fn sla_view(&self, tx: &mut Tx, k: &ClockRow, now: Timestamp) -> Result<SlaView> {
        let rules = self.level_rules(tx, k.level_id).await?;
        let evo = match k.contract_id {
            Some(id) => store::sla::contract(tx, id).await?.is_some_and(|c| c.evo),
            None => false,
        };
        Ok(sla_view_of(k, &rules, evo, now))
    }
}

/// Enqueues, in the caller's transaction, the recompute of the clocks a change of calendar or
/// level moves.
pub(crate) async fn enqueue_recompute(
    tx: &mut Tx,
    calendar_id: Option<i64>,
    level_id: Option<i64>,
    now: i64,
) -> Result<()> {
    let payload = serde_json::json!({ "calendar": calendar_id, "level": level_id }).to_string();
    store::jobs::enqueue(tx, RECOMPUTE, &payload, now, crate::jobs::MAX_ATTEMPTS, now).await?;
    Ok(())
}

/// The SLA view of a clock under its level's rules.
pub(crate) fn sla_view_of(k: &ClockRow, rules: &Rules, evo: bool, now: Timestamp) -> SlaView {
    let c = clock_of(k);
    let state = c.state(opt(k.next_due), now);
    SlaView {
        level: rules.level.slug.clone(),
        level_name: rules.level.name.clone(),
        contract: k.contract_id,
        evo,
        state,
        phase: k.phase,
        intervention_due: opt(k.intervention_due),
        restoration_due: opt(k.restoration_due),
        intervened_at: opt(k.intervened_at),
        restored_at: opt(k.restored_at),
        paused_for: c.paused_for_at(now).as_secs(),
        left: if k.phase == Phase::Done { 0 } else { c.left_at(&rules.level, rules.promise(k), now).as_secs() },
        intervention_breached: k.intervention_breached,
        restoration_breached: k.restoration_breached,
        notice: k.notice_id,
    }
}

/// Puts each listed ticket's running due instant and clock state on its summary.
pub(crate) fn with_clocks(
    rows: Vec<store::TicketListRow>,
    clocks: &[ClockRow],
    now: Timestamp,
) -> Vec<crate::views::TicketSummary> {
    rows.into_iter()
        .map(|r| {
            let mut s = crate::views::TicketSummary::from(r);
            if let Some(k) = clocks.iter().find(|k| k.ticket_id == s.number) {
                s.sla_due = opt(k.next_due);
                s.sla_state = Some(clock_of(k).state(opt(k.next_due), now));
            }
            s
        })
        .collect()
}

impl App {
    /// Recomputes the running clocks of the levels using calendar `slug` now (what the job a
    /// calendar change enqueues does); returns how many.
    pub async fn recompute_calendar(&self, slug: &str) -> Result<usize> {
        let id = {
            let mut tx = self.db.read().await?;
            store::sla::calendar_by_slug(&mut tx, slug)
                .await?
                .ok_or_else(|| Error::NotFound(format!("calendar {slug}")))?
                .id
        };
        self.recompute_clocks(Some(id), None).await
    }

    /// How many clocks of level `slug` are running.
    pub async fn running_clocks(&self, slug: &str) -> Result<i64> {
        let mut tx = self.db.read().await?;
        let Some(l) = store::sla::level_by_slug(&mut tx, slug).await? else { return Ok(0) };
        store::sla::count_running(&mut tx, l.id).await.map_err(Into::into)
    }

    /// Loads `n` open tickets in queue `queue` with running clocks of level `level`, opened a
    /// minute apart up to now (for benchmarks). Admins only.
    pub async fn bulk_load_clocks(&self, actor: &Actor, queue: &str, level: &str, n: i64) -> Result<i64> {
        actor.require_admin()?;
        let mut tx = self.db.write().await?;
        let l = store::sla::level_by_slug(&mut tx, level)
            .await?
            .ok_or_else(|| Error::NotFound(format!("level {level}")))?;
        let q =
            store::queues::by_slug(&mut tx, queue).await?.ok_or_else(|| Error::NotFound(format!("queue {queue}")))?;
        let first_opened = store::micros(self.now()) - n * 60_000_000;
        let first = store::bulk::clocks(&mut tx, q.id, l.id, n, first_opened).await?;
        store::bulk::finish(&mut tx).await?;
        tx.commit().await?;
        Ok(first)
    }

    /// Checks the stored due instants of up to `sample` running clocks of level `slug` against
    /// the domain's arithmetic under the level as it is now; returns how many were checked, or
    /// the first that differs.
    pub async fn verify_clock_dues(&self, slug: &str, sample: i64) -> Result<usize> {
        let mut tx = self.db.read().await?;
        let l =
            store::sla::level_by_slug(&mut tx, slug).await?.ok_or_else(|| Error::NotFound(format!("level {slug}")))?;
        let rules = self.level_rules(&mut tx, l.id).await?;
        let rows = store::sla::running_of_level(&mut tx, l.id, 0, sample).await?;
        for k in &rows {
            let d = clock_of(k).dues(&rules.level, rules.promise(k), rules.warn_percent);
            if k.intervention_due != d.intervention.map(store::micros) || k.alarm_at != d.alarm_at.map(store::micros) {
                return Err(Error::Internal(format!(
                    "ticket {}: stored due {:?}, computed {:?}",
                    k.ticket_id, k.intervention_due, d.intervention
                )));
            }
        }
        Ok(rows.len())
    }
}
