//! Short-lived per-process copies of rows that change rarely and are read on every new ticket,
//! change or email (queues and their fields and email settings, the agents who watch a queue,
//! compiled mail templates). A
//! change made through this process forgets them at once; one made on another node is seen
//! within [`TTL`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a copy is used before it is read again.
pub(crate) const TTL: Duration = Duration::from_secs(5);

/// A map whose entries expire after [`TTL`].
pub(crate) struct Ttl<K, V> {
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for Ttl<K, V> {
    fn default() -> Self {
        Ttl { map: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq, V: Clone> Ttl<K, V> {
    /// The fresh copy for `key`, if any.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let map = self.map.lock().ok()?;
        map.get(key).filter(|(at, _)| at.elapsed() < TTL).map(|(_, v)| v.clone())
    }

    /// Remembers `value` for `key`.
    pub(crate) fn put(&self, key: K, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(key, (Instant::now(), value));
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }
}

/// What notifications read on every change.
#[derive(Default)]
pub(crate) struct NoticeCache {
    /// Compiled templates by (language, kind).
    pub templates: Ttl<(&'static str, &'static str), Arc<crate::notify::Compiled>>,
    /// The agents who see a queue, by queue id (with whether their address bounces).
    pub watchers: Ttl<i64, Vec<store::outbox::Recipient>>,
    /// Every queue's email settings (addresses, prefixes, policies).
    pub queue_list: Ttl<(), std::sync::Arc<Vec<store::mail::QueueMail>>>,
    /// Queues with their custom fields, by slug (what a new ticket is checked against).
    pub queue_rows: Ttl<String, std::sync::Arc<(store::QueueRow, Vec<store::CustomFieldRow>)>>,
    /// Support levels with their calendars and clock rules, by level id.
    pub levels: Ttl<i64, std::sync::Arc<crate::clocks::Rules>>,
    /// The contract in force by (customer id, UTC date).
    pub contracts: Ttl<(i64, String), Option<crate::clocks::InForce>>,
    /// The settings and what the public status page read (see [`crate::status`]).
    pub status: crate::status::StatusCache,
    /// The published notices visible now, compiled for matching lines.
    pub visible: Ttl<(), Arc<crate::notices::Visible>>,
}

impl NoticeCache {
    /// Forgets everything (after a change to templates, queues, users, rights or bounces).
    pub(crate) fn clear(&self) {
        self.templates.clear();
        self.watchers.clear();
        self.queue_list.clear();
        self.queue_rows.clear();
        self.levels.clear();
        self.contracts.clear();
        self.status.clear();
        self.visible.clear();
    }
}
