//! Field rules every context shares, without I/O: single- and multi-line texts, name lists,
//! URLs, countries, IANA time zones, query-string instants. Each takes the field name it
//! reports in a `422` as a JSON path (`tags[2]`) and returns the normalized value.
//!
//! Next to the rules are the same rules as JSON Schema patterns, for the OpenAPI document.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use crate::AppError;

/// Longest URL accepted, in characters.
pub const URL_MAX: usize = 2048;

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
#[doc(hidden)]
#[macro_export]
macro_rules! ws_class {
    () => {
        "\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}
/// Control characters (`char::is_control`, category Cc).
#[doc(hidden)]
#[macro_export]
macro_rules! cc_class {
    () => {
        "\\u0000-\\u001f\\u007f-\\u009f"
    };
}
/// Control characters and whitespace.
#[doc(hidden)]
#[macro_export]
macro_rules! ws_cc_class {
    () => {
        "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}
/// Control characters but tab, line feed and carriage return.
#[doc(hidden)]
#[macro_export]
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
/// A blank query parameter (no filter).
pub const BLANK_PATTERN: &str = concat!("^[", ws_class!(), "]*$");
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

/// Parses an RFC 3339 instant from a query string. A `+` in an unencoded offset arrives as a
/// space; it is put back rather than rejected.
pub fn parse_instant(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, AppError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    let s = s.replace(' ', "+");
    DateTime::parse_from_rfc3339(&s)
        .map(|t| Some(crate::time::truncate(t.with_timezone(&Utc))))
        .map_err(|_| AppError::validation(field, "must be an RFC 3339 timestamp, e.g. 2025-06-01T00:00:00Z"))
}

/// `t` as wall-clock time in `tz`, RFC 3339 with the offset in effect then
/// (`2025-01-10T20:00:00+01:00`).
pub fn local_rfc3339(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The code points of a regex class body made of `\uXXXX` escapes, ASCII characters and
/// ranges between them: what the schema patterns' classes contain, for the tests that tie
/// them to Rust's character predicates (here and in the contexts that build their own).
#[doc(hidden)]
pub fn class_members(body: &str) -> Vec<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: AppError) -> String {
        match e {
            AppError::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn texts_and_lists() {
        assert_eq!(required_text("name", "  Gig  ", 10).unwrap(), "Gig");
        assert_eq!(field(required_text("name", "   ", 10).unwrap_err()), "name");
        assert!(required_text("name", &"x".repeat(201), 200).is_err());
        assert!(required_text("name", &"é".repeat(200), 200).is_ok());
        assert!(required_text("name", "bad\u{0}name", 200).is_err());
        assert!(required_text("name", "two\nlines", 200).is_err());
        assert_eq!(optional_long_text("address", Some("Street 1\nBerlin"), 500).unwrap().as_deref(), Some("Street 1\nBerlin"));
        assert!(long_text("description", Some("a\u{1b}[31m"), 100).is_err());
        assert_eq!(optional_text("category", Some("  "), 60).unwrap(), None);
        assert_eq!(long_text("description", None, 10).unwrap(), "");
        assert!(long_text("description", Some(&"x".repeat(20_001)), 20_000).is_err());

        let tags = name_list("tags", &["Rock".into(), " rock ".into(), "Jazz".into()], 20, 40).unwrap();
        assert_eq!(tags, vec!["Rock", "Jazz"]);
        assert_eq!(field(name_list("tags", &["ok".into(), " ".into()], 20, 40).unwrap_err()), "tags[1]");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(field(name_list("tags", &many, 20, 40).unwrap_err()), "tags");
        assert!(name_list("performers", &["x".repeat(121)], 50, 120).is_err());
    }

    #[test]
    fn urls_countries_zones() {
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
    }

    #[test]
    fn schema_classes_are_the_servers() {
        let ws = class_members(ws_class!());
        let cc = class_members(cc_class!());
        let ws_cc = class_members(ws_cc_class!());
        let cc_multiline = class_members(cc_multiline_class!());
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let p = c as u32;
            assert_eq!(ws.contains(&p), c.is_whitespace(), "{p:04x}");
            assert_eq!(cc.contains(&p), c.is_control(), "{p:04x}");
            assert_eq!(ws_cc.contains(&p), c.is_whitespace() || c.is_control(), "{p:04x}");
            assert_eq!(cc_multiline.contains(&p), c.is_control() && !matches!(c, '\t' | '\n' | '\r'), "{p:04x}");
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

    #[test]
    fn instants_and_local_times() {
        let start: DateTime<Utc> = "2025-01-10T19:00:00Z".parse().unwrap();
        assert_eq!(local_rfc3339(start, chrono_tz::Europe::Berlin), "2025-01-10T20:00:00+01:00");
        let summer: DateTime<Utc> = "2025-07-10T18:00:00Z".parse().unwrap();
        assert_eq!(local_rfc3339(summer, chrono_tz::Europe::Berlin), "2025-07-10T20:00:00+02:00");
        assert_eq!(local_rfc3339(start, chrono_tz::America::New_York), "2025-01-10T14:00:00-05:00");
        assert_eq!(parse_instant("from", Some("2025-01-10T20:00:00 01:00")).unwrap(), Some(start));
        assert_eq!(parse_instant("from", Some("")).unwrap(), None);
        assert_eq!(field(parse_instant("from", Some("yesterday")).unwrap_err()), "from");
    }
}
