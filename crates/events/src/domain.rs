//! Events rules without I/O: typed ids, the event status machine, the limits of every field,
//! the checks only events need (capacities, time windows) and full-text query building. The
//! shared text, URL, country and time-zone validators live in `kernel::validate`.
//!
//! Validation functions take the field name they report in a `422`, as a JSON path
//! (`tags[2]`), and return the normalized value.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use kernel::AppError;
use kernel::jobs::Topic;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::topics::{self, EventChanged};

kernel::typed_id!(
    /// An event (a show, a festival day, a conference).
    EventId
);
kernel::typed_id!(
    /// A venue of an organization.
    VenueId
);
kernel::typed_id!(
    /// One item of an event's agenda (a set, a talk, a slot).
    EventSessionId
);

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 20_000;
pub const CATEGORY_MAX: usize = 60;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 40;
pub const PERFORMERS_MAX: usize = 50;
pub const PERFORMER_MAX: usize = 120;
pub const ADDRESS_MAX: usize = 500;
pub const CITY_MAX: usize = 120;
pub const ROOM_MAX: usize = 120;
pub const SESSION_DESCRIPTION_MAX: usize = 5_000;
pub const CAPACITY_MAX: i64 = 10_000_000;
/// An event may run for up to a year (festivals, exhibitions); a session for up to a week.
pub const EVENT_MAX_DAYS: i64 = 366;
pub const SESSION_MAX_DAYS: i64 = 7;
/// Sessions (agenda items) per event.
pub const SESSIONS_MAX: i64 = 500;
/// Search input: at most this many characters and this many terms.
pub const QUERY_MAX: usize = 200;
pub const QUERY_TERMS_MAX: usize = 8;

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// Being prepared; visible to members of the organization only.
    Draft,
    /// Public.
    Published,
    /// Called off; visible to members of the organization only. Final.
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Draft => "draft",
            EventStatus::Published => "published",
            EventStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<EventStatus> {
        Some(match s {
            "draft" => EventStatus::Draft,
            "published" => EventStatus::Published,
            "cancelled" => EventStatus::Cancelled,
            _ => return None,
        })
    }
}

impl TryFrom<String> for EventStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EventStatus::parse(&s).ok_or_else(|| format!("unknown event status {s}"))
    }
}

/// A change of status, as validated by [`Transition::between`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Unchanged,
    /// draft → published
    Publish,
    /// published → draft
    Unpublish,
    /// draft/published → cancelled
    Cancel,
}

impl Transition {
    /// draft ↔ published, draft/published → cancelled; cancelled is final.
    pub fn between(from: EventStatus, to: EventStatus) -> Result<Transition, AppError> {
        use EventStatus::*;
        match (from, to) {
            (a, b) if a == b => Ok(Transition::Unchanged),
            (Draft, Published) => Ok(Transition::Publish),
            (Published, Draft) => Ok(Transition::Unpublish),
            (Draft | Published, Cancelled) => Ok(Transition::Cancel),
            (Cancelled, _) => {
                Err(AppError::conflict("invalid_transition", "the event is cancelled; a cancelled event cannot change status"))
            }
            (a, b) => Err(AppError::conflict("invalid_transition", format!("cannot go from {} to {}", a.as_str(), b.as_str()))),
        }
    }

    /// The outbox topic of the transition, if it is one; its name is also the audit action.
    pub fn topic(self) -> Option<Topic<EventChanged>> {
        match self {
            Transition::Unchanged => None,
            Transition::Publish => Some(topics::EVENT_PUBLISHED),
            Transition::Unpublish => Some(topics::EVENT_UNPUBLISHED),
            Transition::Cancel => Some(topics::EVENT_CANCELLED),
        }
    }
}

/// An optional capacity: 0..=10 million.
pub fn capacity(field: &str, raw: Option<i64>) -> Result<Option<i64>, AppError> {
    match raw {
        Some(n) if !(0..=CAPACITY_MAX).contains(&n) => {
            Err(AppError::validation(field, format!("must be between 0 and {CAPACITY_MAX}")))
        }
        other => Ok(other),
    }
}

/// [`time_window`]'s years 1900–9999 (in UTC), as far as a pattern over the RFC 3339 text
/// can say it: local years 1901–9998 are within range whatever the offset.
pub const INSTANT_PATTERN: &str = "^(?:19(?:0[1-9]|[1-9][0-9])|[2-8][0-9]{3}|9(?:[0-8][0-9]{2}|9(?:[0-8][0-9]|9[0-8])))-";
/// Some of the letters and digits [`SearchQuery::parse`] splits terms on (`char::is_alphanumeric`):
/// ASCII, Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, kana, CJK ideographs, Hangul.
macro_rules! alnum_class {
    () => {
        concat!(
            "0-9A-Za-z\\u00aa\\u00b2-\\u00b3\\u00b5\\u00b9-\\u00ba\\u00bc-\\u00be\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f",
            "\\u0370-\\u0374\\u0376-\\u0377\\u037a-\\u037d\\u037f\\u0386\\u0388-\\u038a\\u038c\\u038e-\\u03a1\\u03a3-\\u03f5",
            "\\u03f7-\\u0481\\u048a-\\u052f\\u0531-\\u0556\\u0559\\u0560-\\u0588\\u05d0-\\u05ea\\u0620-\\u0657\\u0659-\\u0669",
            "\\u066e-\\u06d3\\u06d5-\\u06dc\\u06e1-\\u06e8\\u06ed-\\u06fc\\u06ff\\u1e00-\\u1eff\\u3041-\\u3096\\u309d-\\u309f",
            "\\u30a1-\\u30fa\\u30fc-\\u30ff\\u4e00-\\u9fff\\uac00-\\ud7a3"
        )
    };
}
/// A required search query: contains a letter or digit.
pub const QUERY_PATTERN: &str = concat!("[", alnum_class!(), "]");
/// An optional search query: blank (no search), or containing a letter or digit.
pub const OPTIONAL_QUERY_PATTERN: &str = concat!("^[", kernel::ws_class!(), "]*$|[", alnum_class!(), "]");

// ---- time -------------------------------------------------------------------------------

/// Checks a `[starts, ends)` window: both in years 1900–9999, ends strictly after starts, and
/// at most `max_days` long. Errors name `ends_field` (or `starts_field` for its own range).
pub fn time_window(
    (starts_field, starts): (&str, DateTime<Utc>),
    (ends_field, ends): (&str, DateTime<Utc>),
    max_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    for (field, t) in [(starts_field, starts), (ends_field, ends)] {
        if !(1900..=9999).contains(&t.year()) {
            return Err(AppError::validation(field, "must be between the years 1900 and 9999"));
        }
    }
    if ends <= starts {
        return Err(AppError::validation(ends_field, format!("must be after {starts_field}")));
    }
    if ends - starts > TimeDelta::days(max_days) {
        return Err(AppError::validation(ends_field, format!("must be at most {max_days} days after {starts_field}")));
    }
    Ok((kernel::time::truncate(starts), kernel::time::truncate(ends)))
}

// ---- search -----------------------------------------------------------------------------

/// A full-text query reduced to plain terms (runs of letters and digits, lower-cased), so
/// nothing a user types reaches the database as query syntax. Every term is a prefix match
/// and all terms must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    /// `None` for an absent or blank query; `422` for one without letters or digits.
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Option<SearchQuery>, AppError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
        if raw.chars().count() > QUERY_MAX {
            return Err(AppError::validation(field, format!("must be at most {QUERY_MAX} characters")));
        }
        let mut terms: Vec<String> = Vec::new();
        for term in raw.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()) {
            let term = term.to_lowercase();
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        if terms.is_empty() {
            return Err(AppError::validation(field, "must contain letters or digits"));
        }
        terms.truncate(QUERY_TERMS_MAX);
        Ok(Some(SearchQuery { terms }))
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// SQLite FTS5: `"rock"* "berlin"*` (implicit AND of prefix phrases).
    pub fn fts5(&self) -> String {
        self.terms.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>().join(" ")
    }

    /// PostgreSQL `to_tsquery`: `rock:* & berlin:*`.
    pub fn tsquery(&self) -> String {
        self.terms.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(" & ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventStatus::*;

    fn code(e: AppError) -> &'static str {
        e.code()
    }

    fn field(e: AppError) -> String {
        match e {
            AppError::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn status_transitions() {
        assert_eq!(Transition::between(Draft, Published).unwrap(), Transition::Publish);
        assert_eq!(Transition::between(Published, Draft).unwrap(), Transition::Unpublish);
        assert_eq!(Transition::between(Draft, Cancelled).unwrap(), Transition::Cancel);
        assert_eq!(Transition::between(Published, Cancelled).unwrap(), Transition::Cancel);
        assert_eq!(Transition::between(Published, Published).unwrap(), Transition::Unchanged);
        assert_eq!(Transition::between(Cancelled, Cancelled).unwrap(), Transition::Unchanged);
        for to in [Draft, Published] {
            assert_eq!(code(Transition::between(Cancelled, to).unwrap_err()), "invalid_transition");
        }
        assert_eq!(Transition::Publish.topic().map(|t| t.name()), Some("event.published"));
        assert_eq!(Transition::Unchanged.topic().map(|t| t.name()), None);
        assert_eq!(EventStatus::try_from("published".to_string()).unwrap(), Published);
        assert!(EventStatus::try_from("gone".to_string()).is_err());
    }

    #[test]
    fn time_windows() {
        let start: DateTime<Utc> = "2025-01-10T19:00:00Z".parse().unwrap();
        let end = start + TimeDelta::hours(3);
        assert!(time_window(("starts_at", start), ("ends_at", end), EVENT_MAX_DAYS).is_ok());
        assert_eq!(field(time_window(("starts_at", start), ("ends_at", start), EVENT_MAX_DAYS).unwrap_err()), "ends_at");
        assert_eq!(field(time_window(("starts_at", end), ("ends_at", start), EVENT_MAX_DAYS).unwrap_err()), "ends_at");
        let long = start + TimeDelta::days(8);
        assert!(time_window(("starts_at", start), ("ends_at", long), SESSION_MAX_DAYS).is_err());
        let ancient: DateTime<Utc> = "1800-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(field(time_window(("starts_at", ancient), ("ends_at", end), EVENT_MAX_DAYS).unwrap_err()), "starts_at");
    }

    #[test]
    fn search_queries_carry_no_syntax() {
        let q = SearchQuery::parse("q", Some("  Rock' OR 1=1; \"Berlin\"* & !x:* ")).unwrap().unwrap();
        assert_eq!(q.terms(), ["rock", "or", "1", "berlin", "x"]);
        assert_eq!(q.fts5(), "\"rock\"* \"or\"* \"1\"* \"berlin\"* \"x\"*");
        assert_eq!(q.tsquery(), "rock:* & or:* & 1:* & berlin:* & x:*");
        let q = SearchQuery::parse("q", Some("Björk Ólafur")).unwrap().unwrap();
        assert_eq!(q.tsquery(), "björk:* & ólafur:*");
        assert_eq!(SearchQuery::parse("q", Some("   ")).unwrap(), None);
        assert_eq!(SearchQuery::parse("q", None).unwrap(), None);
        assert_eq!(field(SearchQuery::parse("q", Some("!!! ***")).unwrap_err()), "q");
        assert!(SearchQuery::parse("q", Some(&"a".repeat(201))).is_err());
        let many = SearchQuery::parse("q", Some("a b c d e f g h i j")).unwrap().unwrap();
        assert_eq!(many.terms().len(), QUERY_TERMS_MAX);
    }

    #[test]
    fn search_classes_are_letters_and_digits() {
        let alnum = kernel::validate::class_members(alnum_class!());
        assert!(alnum.len() > 30_000);
        for p in alnum {
            assert!(char::from_u32(p).is_some_and(char::is_alphanumeric), "{p:04x}");
        }
    }

    #[test]
    fn capacities() {
        assert!(capacity("capacity", Some(-1)).is_err());
        assert_eq!(capacity("capacity", Some(0)).unwrap(), Some(0));
        assert_eq!(capacity("capacity", None).unwrap(), None);
    }
}
