//! Events rules without I/O: typed ids, the event status machine, field validation (texts,
//! name lists, URLs, countries, time zones, time windows), full-text query building and the
//! change summaries written to the audit trail.
//!
//! Validation functions take the field name they report in a `422`, as a JSON path
//! (`tags[2]`), and return the normalized value.

use chrono::{DateTime, Datelike, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;
use kernel::AppError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
pub const URL_MAX: usize = 2048;
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

    /// The audit action and outbox topic of the transition, if it is one.
    pub fn topic(self) -> Option<&'static str> {
        match self {
            Transition::Unchanged => None,
            Transition::Publish => Some("event.published"),
            Transition::Unpublish => Some("event.unpublished"),
            Transition::Cancel => Some("event.cancelled"),
        }
    }
}

// ---- texts ------------------------------------------------------------------------------

/// A required, trimmed, single-line text of 1..=max characters.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    check_text(field, s, max, false)?;
    Ok(s.to_string())
}

/// An optional single-line text of at most `max` characters; blank becomes `None`.
pub fn optional_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => check_text(field, s, max, false).map(|_| Some(s.to_string())),
    }
}

/// An optional text that may span lines (an address, a session description); blank
/// becomes `None`.
pub fn optional_long_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => check_text(field, s, max, true).map(|_| Some(s.to_string())),
    }
}

/// A long text (an event description), empty if absent.
pub fn long_text(field: &str, raw: Option<&str>, max: usize) -> Result<String, AppError> {
    let s = raw.unwrap_or("").trim();
    check_text(field, s, max, true)?;
    Ok(s.to_string())
}

fn check_text(field: &str, s: &str, max: usize, multiline: bool) -> Result<(), AppError> {
    if s.chars().count() > max {
        return Err(AppError::validation(field, format!("must be at most {max} characters")));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if s.chars().any(|c| c.is_control() && !allowed(c)) {
        let what = if multiline { "control characters" } else { "line breaks or control characters" };
        return Err(AppError::validation(field, format!("must not contain {what}")));
    }
    Ok(())
}

/// A list of short names (tags, performers): each trimmed, non-empty, at most `max_len`
/// characters; duplicates (ignoring case) dropped; at most `max_items` of them.
pub fn name_list(field: &str, raw: &[String], max_items: usize, max_len: usize) -> Result<Vec<String>, AppError> {
    if raw.len() > max_items {
        return Err(AppError::validation(field, format!("at most {max_items} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, item) in raw.iter().enumerate() {
        let item = required_text(&format!("{field}[{i}]"), item, max_len)?;
        if !out.iter().any(|o| o.to_lowercase() == item.to_lowercase()) {
            out.push(item);
        }
    }
    Ok(out)
}

/// An optional absolute http(s) URL with a host.
pub fn optional_url(field: &str, raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(s) = optional_text(field, raw, URL_MAX)? else { return Ok(None) };
    match url::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(Some(s)),
        _ => Err(AppError::validation(field, "must be an absolute http(s) URL")),
    }
}

/// An IANA time zone name, checked against the time-zone database.
pub fn time_zone(field: &str, raw: &str) -> Result<Tz, AppError> {
    raw.trim().parse::<Tz>().map_err(|_| AppError::validation(field, "unknown IANA time zone (e.g. Europe/Berlin)"))
}

/// The zone of a stored name; names are validated on the way in, so UTC is only a safety net.
pub fn zone_of(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// ISO 3166-1 alpha-2 codes officially assigned, plus `XK` (Kosovo, in common use).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV \
BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA \
GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI \
KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA \
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK \
SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS \
XK YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, normalized to upper case (`de` → `DE`).
pub fn country(field: &str, raw: &str) -> Result<String, AppError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) && COUNTRIES.split(' ').any(|c| c == code) {
        Ok(code)
    } else {
        Err(AppError::validation(field, "must be an ISO 3166-1 alpha-2 country code (e.g. DE)"))
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

// ---- the rules above as JSON Schema ---------------------------------------------------------
//
// The OpenAPI description states what the validators above accept, so a client (or a schema
// fuzzer) whose input is schema-valid never meets a `422` the schema could have predicted
// (the schema-only types in `model` use these). The text patterns accept exactly what the
// validators accept, apart from length: `maxLength` counts the untrimmed characters. Each is
// valid ECMA-262 (with and without the `u` flag) and Python `re`, and spells out its classes
// (no `\s`, whose members differ between the dialects and from Rust's `str::trim`); a test
// checks them against `char::is_whitespace`, `is_control` and `is_alphanumeric`.

/// What `str::trim` strips (Unicode `White_Space`), as the body of a regex class.
macro_rules! ws_class {
    () => {
        "\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}
/// Control characters (`char::is_control`, category Cc).
macro_rules! cc_class {
    () => {
        "\\u0000-\\u001f\\u007f-\\u009f"
    };
}
/// Control characters and whitespace.
macro_rules! ws_cc_class {
    () => {
        "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}
/// Control characters but tab, line feed and carriage return.
macro_rules! cc_multiline_class {
    () => {
        "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
    };
}

/// [`required_text`]: after trimming, not empty and free of control characters.
pub const LINE_PATTERN: &str =
    concat!("^[", ws_class!(), "]*[^", ws_cc_class!(), "](?:[^", cc_class!(), "]*[^", ws_cc_class!(), "])?[", ws_class!(), "]*$");
/// [`optional_text`]: after trimming, free of control characters (blank is allowed: no value).
pub const OPTIONAL_LINE_PATTERN: &str = concat!(
    "^[",
    ws_class!(),
    "]*(?:[^",
    ws_cc_class!(),
    "](?:[^",
    cc_class!(),
    "]*[^",
    ws_cc_class!(),
    "])?)?[",
    ws_class!(),
    "]*$"
);
/// [`optional_long_text`] and [`long_text`]: after trimming, free of control characters but
/// tab and line breaks (blank is allowed).
pub const MULTILINE_PATTERN: &str = concat!(
    "^[",
    ws_class!(),
    "]*(?:[^",
    ws_cc_class!(),
    "](?:[^",
    cc_multiline_class!(),
    "]*[^",
    ws_cc_class!(),
    "])?)?[",
    ws_class!(),
    "]*$"
);
/// [`optional_url`], narrowed to what the URL parser surely accepts: http(s), a host of
/// ASCII labels whose last one starts with a letter (so it is never read as an IPv4 number),
/// an optional port up to 65535, then anything without whitespace or control characters.
/// Blank is allowed (no value).
pub const URL_PATTERN: &str = concat!(
    "^[",
    ws_class!(),
    "]*(?:[Hh][Tt][Tt][Pp][Ss]?://(?:[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*\\.)*[A-Za-z][0-9A-Za-z]*(?:-[0-9A-Za-z]+)*",
    "(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    "(?:[/?#][^",
    ws_cc_class!(),
    "]*)?)?[",
    ws_class!(),
    "]*$"
);
/// [`time_window`]'s years 1900–9999 (in UTC), as far as a pattern over the RFC 3339 text
/// can say it: local years 1901–9998 are within range whatever the offset.
pub const INSTANT_PATTERN: &str = "^(?:19(?:0[1-9]|[1-9][0-9])|[2-8][0-9]{3}|9(?:[0-8][0-9]{2}|9(?:[0-8][0-9]|9[0-8])))-";
/// A blank query parameter (no filter).
pub const BLANK_PATTERN: &str = concat!("^[", ws_class!(), "]*$");
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
pub const OPTIONAL_QUERY_PATTERN: &str = concat!("^[", ws_class!(), "]*$|[", alnum_class!(), "]");

/// [`country`] as a pattern: one of the codes, either case, trimmed.
pub fn country_pattern() -> String {
    let mut groups: Vec<(char, String)> = Vec::new();
    for code in COUNTRIES.split(' ') {
        let mut chars = code.chars();
        let (Some(first), Some(second)) = (chars.next(), chars.next()) else { continue };
        match groups.last_mut() {
            Some((f, seconds)) if *f == first => seconds.push(second),
            _ => groups.push((first, second.to_string())),
        }
    }
    let alternatives: Vec<String> = groups
        .iter()
        .map(|(first, seconds)| format!("[{first}{}][{seconds}{}]", first.to_ascii_lowercase(), seconds.to_ascii_lowercase()))
        .collect();
    format!("^[{ws}]*(?:{})[{ws}]*$", alternatives.join("|"), ws = ws_class!())
}

/// The names [`time_zone`] accepts.
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

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

/// Parses an RFC 3339 instant from a query string. A `+` in an unencoded offset arrives as a
/// space; it is put back rather than rejected.
pub fn parse_instant(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, AppError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    let s = s.replace(' ', "+");
    DateTime::parse_from_rfc3339(&s)
        .map(|t| Some(kernel::time::truncate(t.with_timezone(&Utc))))
        .map_err(|_| AppError::validation(field, "must be an RFC 3339 timestamp, e.g. 2025-06-01T00:00:00Z"))
}

/// `t` as wall-clock time in `tz`, RFC 3339 with the offset in effect then
/// (`2025-01-10T20:00:00+01:00`).
pub fn local_rfc3339(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::AutoSi, false)
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

// ---- audit ------------------------------------------------------------------------------

/// The fields of `new` whose values differ from `old` (both JSON objects), with their new
/// values, leaving out bookkeeping timestamps. A cleared field shows as `null`.
pub fn changed_fields(old: &serde_json::Value, new: &serde_json::Value) -> serde_json::Value {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else { return new.clone() };
    let changed = new
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "created_at" | "updated_at"))
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::Value::Object(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventStatus::*;
    use serde_json::json;

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
        assert_eq!(Transition::Publish.topic(), Some("event.published"));
        assert_eq!(Transition::Unchanged.topic(), None);
        assert_eq!(EventStatus::try_from("published".to_string()).unwrap(), Published);
        assert!(EventStatus::try_from("gone".to_string()).is_err());
    }

    #[test]
    fn texts_and_lists() {
        assert_eq!(required_text("name", "  Gig  ", 10).unwrap(), "Gig");
        assert_eq!(field(required_text("name", "   ", 10).unwrap_err()), "name");
        assert!(required_text("name", &"x".repeat(201), NAME_MAX).is_err());
        assert!(required_text("name", &"é".repeat(200), NAME_MAX).is_ok());
        assert!(required_text("name", "bad\u{0}name", NAME_MAX).is_err());
        assert!(required_text("name", "two\nlines", NAME_MAX).is_err());
        assert_eq!(optional_long_text("address", Some("Street 1\nBerlin"), 500).unwrap().as_deref(), Some("Street 1\nBerlin"));
        assert!(long_text("description", Some("a\u{1b}[31m"), 100).is_err());
        assert_eq!(optional_text("category", Some("  "), 60).unwrap(), None);
        assert_eq!(long_text("description", None, 10).unwrap(), "");
        assert!(long_text("description", Some(&"x".repeat(20_001)), DESCRIPTION_MAX).is_err());

        let tags = name_list("tags", &["Rock".into(), " rock ".into(), "Jazz".into()], TAGS_MAX, TAG_MAX).unwrap();
        assert_eq!(tags, vec!["Rock", "Jazz"]);
        assert_eq!(field(name_list("tags", &["ok".into(), " ".into()], TAGS_MAX, TAG_MAX).unwrap_err()), "tags[1]");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(field(name_list("tags", &many, TAGS_MAX, TAG_MAX).unwrap_err()), "tags");
        assert!(name_list("performers", &["x".repeat(121)], PERFORMERS_MAX, PERFORMER_MAX).is_err());
    }

    #[test]
    fn urls_countries_zones_capacity() {
        assert_eq!(
            optional_url("image_url", Some("https://img.example/a.jpg")).unwrap().as_deref(),
            Some("https://img.example/a.jpg")
        );
        for bad in ["ftp://x.org/a", "javascript:alert(1)", "https://", "not a url", "/relative.png"] {
            assert_eq!(field(optional_url("image_url", Some(bad)).unwrap_err()), "image_url", "{bad}");
        }
        assert_eq!(optional_url("image_url", Some("")).unwrap(), None);
        assert_eq!(country("country", "de").unwrap(), "DE");
        assert_eq!(country("country", "GB").unwrap(), "GB");
        for bad in ["", "D", "DEU", "ZZ", "1A", "UK"] {
            assert!(country("country", bad).is_err(), "{bad}");
        }
        assert_eq!(COUNTRIES.split(' ').count(), 250);
        assert_eq!(time_zone("time_zone", "Europe/Berlin").unwrap(), chrono_tz::Europe::Berlin);
        assert_eq!(field(time_zone("time_zone", "Mars/Olympus").unwrap_err()), "time_zone");
        assert!(capacity("capacity", Some(-1)).is_err());
        assert_eq!(capacity("capacity", Some(0)).unwrap(), Some(0));
    }

    #[test]
    fn time_windows_and_local_times() {
        let start: DateTime<Utc> = "2025-01-10T19:00:00Z".parse().unwrap();
        let end = start + TimeDelta::hours(3);
        assert!(time_window(("starts_at", start), ("ends_at", end), EVENT_MAX_DAYS).is_ok());
        assert_eq!(field(time_window(("starts_at", start), ("ends_at", start), EVENT_MAX_DAYS).unwrap_err()), "ends_at");
        assert_eq!(field(time_window(("starts_at", end), ("ends_at", start), EVENT_MAX_DAYS).unwrap_err()), "ends_at");
        let long = start + TimeDelta::days(8);
        assert!(time_window(("starts_at", start), ("ends_at", long), SESSION_MAX_DAYS).is_err());
        let ancient: DateTime<Utc> = "1800-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(field(time_window(("starts_at", ancient), ("ends_at", end), EVENT_MAX_DAYS).unwrap_err()), "starts_at");

        assert_eq!(local_rfc3339(start, chrono_tz::Europe::Berlin), "2025-01-10T20:00:00+01:00");
        let summer: DateTime<Utc> = "2025-07-10T18:00:00Z".parse().unwrap();
        assert_eq!(local_rfc3339(summer, chrono_tz::Europe::Berlin), "2025-07-10T20:00:00+02:00");
        assert_eq!(local_rfc3339(start, chrono_tz::America::New_York), "2025-01-10T14:00:00-05:00");

        assert_eq!(parse_instant("from", Some("2025-01-10T20:00:00 01:00")).unwrap(), Some(start));
        assert_eq!(parse_instant("from", Some("")).unwrap(), None);
        assert_eq!(field(parse_instant("from", Some("yesterday")).unwrap_err()), "from");
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
    fn change_summaries() {
        let old = json!({ "name": "A", "category": "rock", "tags": ["x"], "updated_at": "t1" });
        let new = json!({ "name": "B", "category": null, "tags": ["x"], "updated_at": "t2" });
        assert_eq!(changed_fields(&old, &new), json!({ "name": "B", "category": null }));
    }

    /// The code points of a regex class body made of `\uXXXX` escapes, ASCII characters and
    /// ranges between them.
    fn class_members(body: &str) -> Vec<u32> {
        let mut points = Vec::new();
        let mut rest = body;
        let next = |rest: &mut &str| -> u32 {
            if let Some(hex) = rest.strip_prefix("\\u") {
                let c = u32::from_str_radix(&hex[..4], 16).unwrap();
                *rest = &hex[4..];
                c
            } else {
                let c = rest.chars().next().unwrap();
                *rest = &rest[c.len_utf8()..];
                c as u32
            }
        };
        while !rest.is_empty() {
            let lo = next(&mut rest);
            if let Some(r) = rest.strip_prefix('-') {
                rest = r;
                let hi = next(&mut rest);
                points.extend(lo..=hi);
            } else {
                points.push(lo);
            }
        }
        points
    }

    fn all_chars() -> impl Iterator<Item = char> {
        (0..=0x10FFFF).filter_map(char::from_u32)
    }

    #[test]
    fn schema_classes_are_the_servers() {
        let ws = class_members(ws_class!());
        let cc = class_members(cc_class!());
        let ws_cc = class_members(ws_cc_class!());
        let cc_multiline = class_members(cc_multiline_class!());
        for c in all_chars() {
            let p = c as u32;
            assert_eq!(ws.contains(&p), c.is_whitespace(), "{p:04x}");
            assert_eq!(cc.contains(&p), c.is_control(), "{p:04x}");
            assert_eq!(ws_cc.contains(&p), c.is_whitespace() || c.is_control(), "{p:04x}");
            assert_eq!(cc_multiline.contains(&p), c.is_control() && !matches!(c, '\t' | '\n' | '\r'), "{p:04x}");
        }
        let alnum = class_members(alnum_class!());
        assert!(alnum.len() > 30_000);
        for p in alnum {
            assert!(char::from_u32(p).is_some_and(char::is_alphanumeric), "{p:04x}");
        }
    }

    #[test]
    fn country_and_zone_schemas_list_what_is_accepted() {
        let pattern = country_pattern();
        assert!(pattern.contains("|[Dd][EJKMOZejkmoz]|"), "{pattern}");
        // Each code is its first letter's group and, in the class after it, its second letter
        // in both cases; nothing else is.
        let seconds: usize = pattern.split("][").skip(1).map(|g| g.split(']').next().unwrap().len()).sum();
        assert_eq!(seconds, 2 * COUNTRIES.split(' ').count());
        for code in COUNTRIES.split(' ') {
            let (a, b) = (&code[..1], &code[1..]);
            let group = pattern.split(&format!("[{a}{}][", a.to_lowercase())).nth(1).unwrap();
            assert!(group.split(']').next().unwrap().contains(b), "{code}");
        }
        let zones: Vec<&str> = time_zone_names().collect();
        assert!(zones.len() > 500 && zones.contains(&"Europe/Berlin") && zones.contains(&"UTC"));
        for z in zones {
            assert_eq!(time_zone("time_zone", z).unwrap().name(), z);
        }
    }
}
