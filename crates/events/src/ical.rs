//! iCalendar (RFC 5545) for events: one event (`/api/events/{id}/ical`) or an organization's
//! feed (`/api/orgs/{org_id}/events.ics`).
//!
//! Times are written as wall-clock time in the event's own zone (`DTSTART;TZID=Europe/Berlin:
//! 20250110T200000`), and each zone used gets a `VTIMEZONE` generated from the time-zone
//! database (chrono-tz): the offset in effect at the start of the years the events span, then
//! every UTC-offset change in those years, found by scanning. Calendar clients therefore show
//! the right local time even when their own database differs. Text values are escaped, lines
//! folded at 75 octets, and every line ends in CRLF.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use crate::domain::{EventId, EventStatus};

const PRODID: &str = "-//Backline//Backline Events//EN";
/// Step of the scan for offset changes; zones do not change twice within it.
const SCAN_STEP_HOURS: i64 = 6;
/// Padding around the scanned years, so that instants near New Year in far-off zones are
/// covered.
const SCAN_PAD_DAYS: i64 = 2;

/// What a `VEVENT` shows of an event.
#[derive(Debug, Clone)]
pub struct CalendarEvent<'a> {
    pub id: EventId,
    pub name: &'a str,
    pub description: &'a str,
    pub category: Option<&'a str>,
    /// Venue name, address, city and country.
    pub location: Option<String>,
    /// The event's public page.
    pub url: String,
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: Tz,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `VCALENDAR` with one `VTIMEZONE` per zone used and one `VEVENT` per event.
/// `feed` adds refresh hints for subscribed calendars.
pub fn calendar(events: &[CalendarEvent<'_>], stamp: DateTime<Utc>, feed: bool) -> String {
    let mut w = Writer::default();
    w.line("BEGIN:VCALENDAR");
    w.line("VERSION:2.0");
    w.line(&format!("PRODID:{PRODID}"));
    w.line("CALSCALE:GREGORIAN");
    w.line("METHOD:PUBLISH");
    if feed {
        w.line("REFRESH-INTERVAL;VALUE=DURATION:PT1H");
        w.line("X-PUBLISHED-TTL:PT1H");
    }
    let mut zones: BTreeMap<&'static str, (Tz, BTreeSet<i32>)> = BTreeMap::new();
    for e in events {
        let years = &mut zones.entry(e.time_zone.name()).or_insert_with(|| (e.time_zone, BTreeSet::new())).1;
        years.extend(e.starts_at.year()..=e.ends_at.year());
    }
    for (tz, years) in zones.values() {
        vtimezone(&mut w, *tz, years);
    }
    for e in events {
        vevent(&mut w, e, stamp);
    }
    w.line("END:VCALENDAR");
    w.out
}

fn vevent(w: &mut Writer, e: &CalendarEvent<'_>, stamp: DateTime<Utc>) {
    let tz = e.time_zone;
    w.line("BEGIN:VEVENT");
    w.line(&format!("UID:{}@backline", e.id));
    w.line(&format!("DTSTAMP:{}", utc_stamp(stamp)));
    w.line(&format!("CREATED:{}", utc_stamp(e.created_at)));
    w.line(&format!("LAST-MODIFIED:{}", utc_stamp(e.updated_at)));
    w.line(&format!("DTSTART;TZID={}:{}", tz.name(), local_stamp(e.starts_at.with_timezone(&tz).naive_local())));
    w.line(&format!("DTEND;TZID={}:{}", tz.name(), local_stamp(e.ends_at.with_timezone(&tz).naive_local())));
    w.line(&format!("SUMMARY:{}", escape_text(e.name)));
    if !e.description.is_empty() {
        w.line(&format!("DESCRIPTION:{}", escape_text(e.description)));
    }
    if let Some(location) = &e.location {
        w.line(&format!("LOCATION:{}", escape_text(location)));
    }
    if let Some(category) = e.category {
        w.line(&format!("CATEGORIES:{}", escape_text(category)));
    }
    w.line(match e.status {
        EventStatus::Published => "STATUS:CONFIRMED",
        EventStatus::Cancelled => "STATUS:CANCELLED",
        EventStatus::Draft => "STATUS:TENTATIVE",
    });
    w.line(&format!("URL:{}", e.url));
    w.line("END:VEVENT");
}

/// The offset in effect at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Observed {
    /// Seconds east of UTC.
    offset: i32,
    dst: bool,
}

fn observed(tz: Tz, t: DateTime<Utc>) -> (Observed, Option<String>) {
    let o = tz.offset_from_utc_datetime(&t.naive_utc());
    let observed = Observed { offset: o.fix().local_minus_utc(), dst: !o.dst_offset().is_zero() };
    (observed, o.abbreviation().map(str::to_string))
}

/// One `STANDARD`/`DAYLIGHT` onset.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Onset {
    at: DateTime<Utc>,
    from: Observed,
    to: Observed,
    name: Option<String>,
}

/// The onsets covering `years`: for each run of consecutive years, the offset in effect at
/// its start, then every change of offset within it.
fn onsets(tz: Tz, years: &BTreeSet<i32>) -> Vec<Onset> {
    let mut out = Vec::new();
    let mut runs: Vec<(i32, i32)> = Vec::new();
    for &y in years {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == y => *last = y,
            _ => runs.push((y, y)),
        }
    }
    let step = TimeDelta::hours(SCAN_STEP_HOURS);
    for (first, last) in runs {
        let (Some(start), Some(end)) = (new_year(first), new_year(last + 1)) else { continue };
        let start = start - TimeDelta::days(SCAN_PAD_DAYS);
        let end = end + TimeDelta::days(SCAN_PAD_DAYS);
        let (initial, name) = observed(tz, start);
        out.push(Onset { at: start, from: initial, to: initial, name });
        let mut t = start;
        let mut current = initial;
        while t < end {
            let next = t + step;
            let (seen, _) = observed(tz, next);
            if seen != current {
                // Narrow the change down to the second: `lo` still has the old offset.
                let (mut lo, mut hi) = (t.timestamp(), next.timestamp());
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if observed(tz, at_second(mid)).0 == current { lo = mid } else { hi = mid }
                }
                let hi = at_second(hi);
                let (to, name) = observed(tz, hi);
                out.push(Onset { at: hi, from: current, to, name });
                current = to;
            }
            t = next;
        }
    }
    out
}

fn at_second(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn new_year(year: i32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single()
}

fn vtimezone(w: &mut Writer, tz: Tz, years: &BTreeSet<i32>) {
    w.line("BEGIN:VTIMEZONE");
    w.line(&format!("TZID:{}", tz.name()));
    for onset in onsets(tz, years) {
        let kind = if onset.to.dst { "DAYLIGHT" } else { "STANDARD" };
        // An onset's DTSTART is local time as observed just before it (RFC 5545 §3.6.5).
        let local = onset.at.naive_utc() + TimeDelta::seconds(onset.from.offset.into());
        w.line(&format!("BEGIN:{kind}"));
        w.line(&format!("DTSTART:{}", local_stamp(local)));
        w.line(&format!("TZOFFSETFROM:{}", utc_offset(onset.from.offset)));
        w.line(&format!("TZOFFSETTO:{}", utc_offset(onset.to.offset)));
        if let Some(name) = &onset.name {
            w.line(&format!("TZNAME:{}", escape_text(name)));
        }
        w.line(&format!("END:{kind}"));
    }
    w.line("END:VTIMEZONE");
}

/// `+0100`, `-0500`, `+0530`; seconds only when there are any (`-004430`).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    if sec == 0 { format!("{sign}{h:02}{m:02}") } else { format!("{sign}{h:02}{m:02}{sec:02}") }
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local_stamp(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// Escapes a TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line breaks;
/// other control characters (not allowed in TEXT) are dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (RFC 5545 §3.1): continuation lines start with a space,
/// and a UTF-8 character is never split. Every line ends in CRLF.
pub fn fold(line: &str) -> String {
    const LIMIT: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut rest = line;
    let mut limit = LIMIT;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return out;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space counts towards the next line's 75 octets.
        limit = LIMIT - 1;
    }
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn line(&mut self, line: &str) {
        self.out.push_str(&fold(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(s: &str) -> String {
        s.replace("\r\n ", "")
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_text("Rock; Pop, Jazz\\Blues"), "Rock\\; Pop\\, Jazz\\\\Blues");
        assert_eq!(escape_text("line one\nline two\r\nthree\rfour"), "line one\\nline two\\nthree\\nfour");
        assert_eq!(escape_text("bell\u{7}less"), "bellless");
    }

    #[test]
    fn folding() {
        assert_eq!(fold("SUMMARY:short"), "SUMMARY:short\r\n");
        let long = format!("DESCRIPTION:{}", "x".repeat(200));
        let folded = fold(&long);
        for line in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert!(folded.lines().skip(1).all(|l| l.starts_with(' ')));
        assert_eq!(unfold(&folded), format!("{long}\r\n"));

        // Multi-byte characters are never split.
        let long = format!("SUMMARY:{}", "ü€😀".repeat(40));
        let folded = fold(&long);
        for line in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75);
        }
        assert_eq!(unfold(&folded), format!("{long}\r\n"));
    }

    fn berlin_event() -> CalendarEvent<'static> {
        let starts_at: DateTime<Utc> = "2025-01-10T19:00:00Z".parse().unwrap();
        CalendarEvent {
            id: EventId(uuid::Uuid::nil()),
            name: "Winter Show, Vol. 2; live",
            description: "Doors 19:00\nSupport: The Openers",
            category: Some("concert"),
            location: Some("Club Nord, Hauptstraße 1, Berlin, DE".into()),
            url: "https://backline.example/events/00000000-0000-0000-0000-000000000000".into(),
            status: EventStatus::Published,
            starts_at,
            ends_at: starts_at + TimeDelta::hours(3),
            time_zone: chrono_tz::Europe::Berlin,
            created_at: starts_at - TimeDelta::days(30),
            updated_at: starts_at - TimeDelta::days(1),
        }
    }

    #[test]
    fn berlin_winter_event() {
        let stamp: DateTime<Utc> = "2024-12-01T12:00:00Z".parse().unwrap();
        let ics = calendar(&[berlin_event()], stamp, false);
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF in output");
        let text = unfold(&ics);
        let lines: Vec<&str> = text.split("\r\n").collect();
        for expected in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "UID:00000000-0000-0000-0000-000000000000@backline",
            "DTSTAMP:20241201T120000Z",
            "DTSTART;TZID=Europe/Berlin:20250110T200000",
            "DTEND;TZID=Europe/Berlin:20250110T230000",
            "SUMMARY:Winter Show\\, Vol. 2\\; live",
            "DESCRIPTION:Doors 19:00\\nSupport: The Openers",
            "LOCATION:Club Nord\\, Hauptstraße 1\\, Berlin\\, DE",
            "STATUS:CONFIRMED",
            "BEGIN:VTIMEZONE",
            "TZID:Europe/Berlin",
            "TZOFFSETFROM:+0100",
            "TZOFFSETTO:+0200",
            "TZNAME:CEST",
            "TZNAME:CET",
        ] {
            assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
        }
        // The spring-forward onset of 2025: 02:00 local (CET) becomes 03:00 CEST.
        let daylight = text.split("BEGIN:DAYLIGHT\r\n").nth(1).expect("a DAYLIGHT component");
        assert!(daylight.starts_with("DTSTART:20250330T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"), "{daylight}");
        // The zone is described before the event that uses it.
        assert!(text.find("BEGIN:VTIMEZONE").unwrap() < text.find("BEGIN:VEVENT").unwrap());
    }

    #[test]
    fn zone_without_transitions_has_one_standard() {
        let mut e = berlin_event();
        e.time_zone = chrono_tz::Asia::Kolkata;
        e.status = EventStatus::Cancelled;
        let ics = unfold(&calendar(&[e], Utc::now(), true));
        assert_eq!(ics.matches("BEGIN:STANDARD").count(), 1, "{ics}");
        assert!(!ics.contains("BEGIN:DAYLIGHT"));
        assert!(ics.contains("TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530"));
        assert!(ics.contains("DTSTART;TZID=Asia/Kolkata:20250111T003000"));
        assert!(ics.contains("STATUS:CANCELLED"));
        assert!(ics.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H"));
    }

    #[test]
    fn southern_hemisphere_and_offsets() {
        let years = BTreeSet::from([2025]);
        let onsets = onsets(chrono_tz::Australia::Sydney, &years);
        // Summer time at New Year, then April (to standard) and October (to daylight).
        assert!(onsets[0].to.dst);
        assert_eq!(onsets.len(), 3);
        assert_eq!(onsets[1].from.offset, 11 * 3600);
        assert_eq!(onsets[1].to.offset, 10 * 3600);
        assert_eq!(onsets[1].at, "2025-04-05T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(utc_offset(-5 * 3600), "-0500");
        assert_eq!(utc_offset(0), "+0000");
        assert_eq!(utc_offset(-(44 * 60 + 30)), "-004430");
    }
}
