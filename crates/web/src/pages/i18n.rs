//! Translations: Fluent files per locale and area (`crates/web/locales/LANG/AREA.ftl`), embedded in
//! the binary. Every locale has the same areas.
//!
//! The language of a page is the user's setting, else the best of the browser's
//! `Accept-Language`, else the instance default. A missing key shows the key itself (and the test
//! `every_locale_has_every_key` fails).

use std::collections::HashMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

macro_rules! locale {
    ($code:literal) => {
        (
            $code,
            &[
                include_str!(concat!("../../locales/", $code, "/core.ftl")),
                include_str!(concat!("../../locales/", $code, "/agent.ftl")),
                include_str!(concat!("../../locales/", $code, "/portal.ftl")),
                include_str!(concat!("../../locales/", $code, "/admin.ftl")),
                include_str!(concat!("../../locales/", $code, "/sla.ftl")),
                include_str!(concat!("../../locales/", $code, "/notices.ftl")),
                include_str!(concat!("../../locales/", $code, "/status.ftl")),
                include_str!(concat!("../../locales/", $code, "/alerts.ftl")),
            ],
        )
    };
}

/// The locales, each with its Fluent sources (one per area of the product).
pub const LOCALES: &[(&str, &[&str])] = &[locale!("en"), locale!("it"), locale!("ca")];

fn resource(code: &str, src: &str) -> FluentResource {
    match FluentResource::try_new(src.to_owned()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::error!(locale = code, ?errors, "errors in a locale file");
            r
        }
    }
}

fn bundles() -> &'static HashMap<&'static str, FluentBundle<FluentResource>> {
    static BUNDLES: OnceLock<HashMap<&'static str, FluentBundle<FluentResource>>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        LOCALES
            .iter()
            .filter_map(|(code, sources)| {
                let lang: unic_langid::LanguageIdentifier = code.parse().ok()?;
                let mut bundle = FluentBundle::new_concurrent(vec![lang]);
                bundle.set_use_isolating(false);
                for src in sources.iter() {
                    if let Err(errors) = bundle.add_resource(resource(code, src)) {
                        tracing::error!(locale = code, ?errors, "duplicate keys in a locale file");
                    }
                }
                Some((*code, bundle))
            })
            .collect()
    })
}

/// The message keys of a locale's files.
pub fn keys(code: &str) -> Vec<String> {
    let Some((_, sources)) = LOCALES.iter().find(|(c, _)| *c == code) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for src in sources.iter() {
        keys.extend(resource(code, src).entries().filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        }));
    }
    keys
}

/// The supported locale closest to a requested one (`it-IT` → `it`), if any.
pub fn supported(code: &str) -> Option<&'static str> {
    let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    LOCALES.iter().map(|(c, _)| *c).find(|c| *c == primary)
}

/// Picks the locale: the user's setting, then `Accept-Language` by weight, then `default`.
pub fn negotiate(setting: Option<&str>, accept_language: Option<&str>, default: &str) -> &'static str {
    if let Some(l) = setting.and_then(supported) {
        return l;
    }
    if let Some(header) = accept_language {
        let mut wanted: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse::<f32>().ok())).unwrap_or(1.0);
                (!tag.is_empty() && q > 0.0).then_some((q, tag))
            })
            .collect();
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
        if let Some(l) = wanted.iter().find_map(|(_, tag)| supported(tag)) {
            return l;
        }
    }
    supported(default).unwrap_or("en")
}

/// The translations of one page, in one locale, with the reader's time zone.
#[derive(Debug, Clone)]
pub struct Tr {
    /// The locale code (`en`, `it`, `ca`), also the page's `lang`.
    pub lang: &'static str,
    /// The reader's time zone.
    pub tz: jiff::tz::TimeZone,
}

impl Tr {
    /// An instant as the reader's local date and time in the locale's format.
    pub fn when(&self, at: &jiff::Timestamp) -> String {
        let local = at.to_zoned(self.tz.clone());
        match self.lang {
            "en" => local.strftime("%Y-%m-%d %H:%M").to_string(),
            _ => local.strftime("%d/%m/%Y %H:%M").to_string(),
        }
    }

    /// The translated name of a ticket status.
    pub fn status(&self, s: &domain::Status) -> String {
        self.t(&format!("status-{}", s.as_str()))
    }

    /// The translated name of a ticket category.
    pub fn category(&self, c: &domain::Category) -> String {
        self.t(&format!("category-{}", c.as_str()))
    }

    /// The translated name of a severity.
    pub fn severity(&self, s: &domain::Severity) -> String {
        self.t(&format!("severity-{}", s.as_str()))
    }

    /// The message `prefix-value`, for names kept in the URL or the database (`order-updated`).
    pub fn named(&self, prefix: &str, value: &str) -> String {
        self.t(&format!("{prefix}-{value}"))
    }

    /// The message `key`.
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with one variable.
    pub fn t1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(value.to_string()));
        self.format(key, Some(&args))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs>) -> String {
        let Some(bundle) = bundles().get(self.lang) else {
            return key.to_owned();
        };
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(key, lang = self.lang, "missing translation");
            return key.to_owned();
        };
        let mut errors = Vec::new();
        bundle.format_pattern(pattern, args, &mut errors).into_owned()
    }
}
