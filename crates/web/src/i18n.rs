//! Every user-facing string goes through here: Project Fluent messages, one file per
//! language under `locales/` (English and German today; adding a language is adding a file
//! and a line in [`LOCALES`]). The language is the visitor's choice (the `lang` cookie set by
//! the language switch), else the best match of `Accept-Language`, else English.
//!
//! Dates are formatted with the names from the same files, in the event's own time zone
//! (the caller passes the local time with its offset); amounts with the currency's minor
//! unit and the language's decimal separator.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages shipped, the first being the fallback for a missing message.
const LOCALES: [(&str, &str); 2] = [("en", include_str!("../locales/en.ftl")), ("de", include_str!("../locales/de.ftl"))];

/// One of the shipped languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locale(usize);

impl Locale {
    pub const FALLBACK: Locale = Locale(0);

    /// The language code (`en`, `de`), for `<html lang>` and links.
    pub fn code(self) -> &'static str {
        LOCALES[self.0].0
    }
}

pub struct I18n {
    bundles: Vec<FluentBundle<FluentResource>>,
    ids: Vec<LanguageIdentifier>,
}

impl I18n {
    /// Parses every message file; a syntax error in one is a start-up error naming it.
    pub fn load() -> anyhow::Result<I18n> {
        let mut bundles = Vec::new();
        let mut ids = Vec::new();
        for (code, source) in LOCALES {
            let id: LanguageIdentifier = code.parse().map_err(|e| anyhow::anyhow!("locale {code}: {e}"))?;
            let resource = FluentResource::try_new(source.to_string())
                .map_err(|(_, errors)| anyhow::anyhow!("locales/{code}.ftl: {errors:?}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
            // Unicode isolation marks around placeables are for bidirectional text in plain
            // strings; in HTML they only add invisible characters to copy-pasted text.
            bundle.set_use_isolating(false);
            bundle.add_resource(resource).map_err(|errors| anyhow::anyhow!("locales/{code}.ftl: {errors:?}"))?;
            bundles.push(bundle);
            ids.push(id);
        }
        Ok(I18n { bundles, ids })
    }

    /// A language by its code, if shipped.
    pub fn locale(&self, code: &str) -> Option<Locale> {
        LOCALES.iter().position(|(c, _)| c.eq_ignore_ascii_case(code.trim())).map(Locale)
    }

    /// The visitor's language: the chosen one (cookie) if shipped, else the best match of the
    /// `Accept-Language` header, else the fallback.
    pub fn negotiate(&self, chosen: Option<&str>, accept_language: Option<&str>) -> Locale {
        if let Some(locale) = chosen.and_then(|c| self.locale(c)) {
            return locale;
        }
        let requested = fluent_langneg::accepted_languages::parse(accept_language.unwrap_or(""));
        let default = &self.ids[0];
        let matched = fluent_langneg::negotiate_languages(
            &requested,
            &self.ids,
            Some(default),
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        matched.first().and_then(|m| self.ids.iter().position(|id| id == *m)).map(Locale).unwrap_or(Locale::FALLBACK)
    }

    /// The message `key` in `locale` with `args`; a message missing there comes from the
    /// fallback language, and a key missing everywhere shows as itself (and is logged).
    pub fn text(&self, locale: Locale, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        for bundle in [&self.bundles[locale.0], &self.bundles[0]] {
            if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
                if !errors.is_empty() {
                    tracing::warn!(key, locale = locale.code(), ?errors, "message formatted with errors");
                }
                return text.into_owned();
            }
        }
        tracing::warn!(key, locale = locale.code(), "no such message");
        key.to_string()
    }

    /// Every shipped language as (code, its own name: `language-name` in its file).
    pub fn languages(&self) -> Vec<(&'static str, String)> {
        LOCALES.iter().enumerate().map(|(i, (code, _))| (*code, self.text(Locale(i), "language-name", &[]))).collect()
    }

    /// The message `key` without arguments, if some language has it.
    pub fn lookup(&self, locale: Locale, key: &str) -> Option<String> {
        let found = [&self.bundles[locale.0], &self.bundles[0]].into_iter().any(|b| b.has_message(key));
        found.then(|| self.text(locale, key, &[]))
    }

    /// A wall-clock time as read in its own zone: `Sat, 12 Dec 2026, 20:00`.
    pub fn datetime(&self, locale: Locale, t: DateTime<FixedOffset>) -> String {
        let weekday = self.text(locale, &format!("weekday-{}", t.weekday().number_from_monday()), &[]);
        let month = self.text(locale, &format!("month-{}", t.month()), &[]);
        self.text(
            locale,
            "datetime",
            &[
                ("weekday", weekday.into()),
                ("day", t.day().to_string().into()),
                ("month", month.into()),
                ("year", t.year().to_string().into()),
                ("time", format!("{:02}:{:02}", t.hour(), t.minute()).into()),
            ],
        )
    }

    /// A date alone: `12 Dec 2026`.
    pub fn date(&self, locale: Locale, t: DateTime<FixedOffset>) -> String {
        let month = self.text(locale, &format!("month-{}", t.month()), &[]);
        self.text(
            locale,
            "date",
            &[("day", t.day().to_string().into()), ("month", month.into()), ("year", t.year().to_string().into())],
        )
    }

    /// An amount in minor units: `12.50 EUR` / `12,50 EUR`; zero is "Free".
    pub fn money(&self, locale: Locale, minor: i64, currency: &str) -> String {
        if minor == 0 {
            return self.text(locale, "price-free", &[]);
        }
        let exponent = kernel::money::Currency::from_code(currency).map(|c| c.exponent()).unwrap_or(2);
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let amount = if exponent == 0 {
            format!("{sign}{abs}")
        } else {
            let unit = 10u64.pow(exponent);
            let separator = self.text(locale, "decimal-separator", &[]);
            format!("{sign}{}{separator}{:0width$}", abs / unit, abs % unit, width = exponent as usize)
        };
        self.text(locale, "money", &[("amount", amount.into()), ("currency", currency.to_string().into())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(source: &str) -> Vec<String> {
        let resource = FluentResource::try_new(source.to_string()).unwrap();
        let mut keys: Vec<String> = resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn every_language_has_every_message() {
        let english = keys(LOCALES[0].1);
        assert!(english.len() > 40, "{english:?}");
        for (code, source) in &LOCALES[1..] {
            assert_eq!(keys(source), english, "locales/{code}.ftl must translate exactly what en.ftl has");
        }
    }

    #[test]
    fn languages_are_negotiated_and_chosen() {
        let i18n = I18n::load().unwrap();
        assert_eq!(i18n.negotiate(None, Some("de-DE,de;q=0.9,en;q=0.8")).code(), "de");
        assert_eq!(i18n.negotiate(None, Some("fr-FR,fr;q=0.9")).code(), "en");
        assert_eq!(i18n.negotiate(None, None).code(), "en");
        assert_eq!(i18n.negotiate(Some("de"), Some("en")).code(), "de");
        assert_eq!(i18n.negotiate(Some("xx"), Some("de")).code(), "de");
    }

    #[test]
    fn dates_and_money_read_as_each_language_writes_them() {
        let i18n = I18n::load().unwrap();
        let (en, de) = (i18n.locale("en").unwrap(), i18n.locale("de").unwrap());
        let t = DateTime::parse_from_rfc3339("2026-12-12T20:00:00+01:00").unwrap();
        assert_eq!(i18n.datetime(en, t), "Sat, 12 Dec 2026, 20:00");
        assert_eq!(i18n.datetime(de, t), "Sa., 12. Dez. 2026, 20:00");
        assert_eq!(i18n.money(en, 1250, "EUR"), "12.50 EUR");
        assert_eq!(i18n.money(de, 1250, "EUR"), "12,50 EUR");
        assert_eq!(i18n.money(de, 500, "JPY"), "500 JPY");
        assert_eq!(i18n.money(en, 0, "EUR"), "Free");
        assert_eq!(i18n.money(de, 0, "EUR"), "Kostenlos");
        assert_eq!(i18n.text(de, "no-such-message", &[]), "no-such-message");
    }
}
