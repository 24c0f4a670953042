//! Personal settings of the signed-in person (user or contact): the language and the time zone
//! of their pages. Sessions read them at every request, so a change shows on the next page.

use crate::access::Actor;
use crate::admin::{LANGUAGES, audit};
use crate::error::Problems;
use crate::{App, Error, Result};

/// A person's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `en`, `it` or `ca`; `None` follows the browser (users only).
    pub language: Option<String>,
    /// IANA time zone; `None` uses the instance's.
    pub time_zone: Option<String>,
    /// Whether they are a customer's contact: their language is always set, since it is also
    /// the language of the emails they receive.
    pub contact: bool,
}

/// New settings (both are replaced).
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    /// `en`, `it` or `ca`, or `None` to follow the browser (refused for contacts).
    pub language: Option<String>,
    /// An IANA time zone name such as `Europe/Rome`, or `None` for the instance's.
    pub time_zone: Option<String>,
}

/// Whom the settings belong to.
enum Holder {
    User(i64),
    Contact(i64),
}

fn holder(actor: &Actor) -> Result<Holder> {
    match (actor.contact_id(), actor.user_id) {
        (Some(id), _) => Ok(Holder::Contact(id)),
        (None, Some(id)) => Ok(Holder::User(id)),
        (None, None) => Err(Error::Forbidden("settings belong to a person; this actor is none".into())),
    }
}

/// Checks an IANA time zone name; returns it trimmed.
pub fn check_time_zone(name: &str) -> std::result::Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || jiff::tz::TimeZone::get(name).is_err() {
        return Err(format!("`{name}` is not a known time zone (e.g. Europe/Rome)"));
    }
    Ok(name.to_owned())
}

impl App {
    /// The acting person's settings.
    pub async fn settings(&self, actor: &Actor) -> Result<Settings> {
        let mut tx = self.db.read().await?;
        match holder(actor)? {
            Holder::User(id) => {
                let u = store::people::user(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("user {id}")))?;
                Ok(Settings { language: u.language, time_zone: u.time_zone, contact: false })
            }
            Holder::Contact(id) => {
                let c = store::people::contact(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("contact {id}")))?;
                Ok(Settings { language: Some(c.language), time_zone: c.time_zone, contact: true })
            }
        }
    }

    /// Saves the acting person's settings; each changed one is recorded as a `set` event.
    pub async fn save_settings(&self, actor: &Actor, input: SettingsInput) -> Result<Settings> {
        let now = store::micros(self.now());
        let who = holder(actor)?;
        let mut p = Problems::default();
        let language = input.language.map(|l| l.trim().to_ascii_lowercase()).filter(|l| !l.is_empty());
        if let Some(l) = &language
            && !LANGUAGES.contains(&l.as_str())
        {
            p.add("language", "one of: en, it, ca");
        }
        if language.is_none() && matches!(who, Holder::Contact(_)) {
            p.add("language", "one of: en, it, ca (it is also the language of your emails)");
        }
        let time_zone = match input.time_zone.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
            Some(z) => p.check("time_zone", check_time_zone(z)),
            None => None,
        };
        p.finish()?;
        let before = self.settings(actor).await?;
        let mut tx = self.db.write().await?;
        let (subject, id) = match who {
            Holder::User(id) => {
                store::account::set_user_settings(&mut tx, id, language.as_deref(), time_zone.as_deref(), now).await?;
                ("user", id)
            }
            Holder::Contact(id) => {
                let l = language.as_deref().unwrap_or("en");
                store::account::set_contact_settings(&mut tx, id, l, time_zone.as_deref(), now).await?;
                ("contact", id)
            }
        };
        let after = Settings { language, time_zone, contact: before.contact };
        for (field, old, new) in [
            ("language", before.language.clone(), after.language.clone()),
            ("time_zone", before.time_zone.clone(), after.time_zone.clone()),
        ] {
            if old != new {
                audit(&mut tx, actor, None, subject, id, "set", Some(field), old, new, now).await?;
            }
        }
        tx.commit().await?;
        // A user's language is in the cached list of a queue's watchers.
        self.forget_notice_cache();
        Ok(after)
    }
}
