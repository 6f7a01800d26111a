//! Ticketing rules without I/O: typed ids, the booking state machine, field validation
//! (currencies, prices, emails, voucher codes, sales windows), pricing with vouchers, seat
//! allocations per quota, and the random codes and tokens bookings and tickets carry.
//!
//! Validation functions take the field name they report in a `422` (a JSON path such as
//! `positions[1].quantity`) and return the normalized value.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};
use kernel::AppError;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub use events::domain::{optional_long_text, optional_text, required_text};

kernel::typed_id!(
    /// A kind of admission sold for an event (GA, VIP, early bird …).
    TicketTypeId
);
kernel::typed_id!(
    /// A capacity pool shared by one or more ticket types.
    QuotaId
);
kernel::typed_id!(
    /// An order: one buyer, one or more positions, then its tickets.
    BookingId
);
kernel::typed_id!(
    /// One line of a booking: a ticket type × quantity at a price.
    PositionId
);
kernel::typed_id!(
    /// One admission.
    TicketId
);
kernel::typed_id!(
    /// A discount or unlock code for an event.
    VoucherId
);

mod waitlist;
pub use waitlist::*;

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5_000;
pub const EMAIL_MAX: usize = 254;
pub const REFERENCE_MAX: usize = 200;
/// 1 000 000 000.00 in a currency with two decimals: far above any ticket, far below overflow.
pub const PRICE_MAX: i64 = 100_000_000_000;
pub const CAPACITY_MAX: i64 = 10_000_000;
/// Tickets in one booking, and the largest `max_per_order`.
pub const BOOKING_TICKETS_MAX: i64 = 100;
pub const POSITIONS_MAX: usize = 50;
pub const TYPES_PER_EVENT_MAX: i64 = 200;
pub const QUOTAS_PER_EVENT_MAX: i64 = 200;
pub const VOUCHER_CODE_MAX: usize = 64;
pub const VOUCHER_TYPES_MAX: usize = 200;
pub const HOLD_SECONDS_DEFAULT: i64 = 600;
pub const HOLD_SECONDS_MAX: i64 = 86_400;
pub const WAITLIST_OFFER_HOURS_DEFAULT: i64 = 24;
pub const WAITLIST_OFFER_HOURS_MAX: i64 = 24 * 14;
pub const WAITLIST_TIERS_MAX: usize = 10;
pub const SORT_ORDER_MAX: i64 = 1_000_000;
/// Longest text a check-in accepts (a signed QR payload is about 200 characters).
pub const SCAN_TEXT_MAX: usize = 1_024;
pub const SCAN_ID_MAX: usize = 100;
pub const GATE_MAX: usize = 100;
pub const CHECKIN_BATCH_MAX: usize = 500;

/// Who may see and book a ticket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Listed and bookable by everyone during its sales window.
    Public,
    /// Listed and bookable only with a voucher that unlocks it (members always see it).
    Hidden,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Hidden => "hidden",
        }
    }
}

impl TryFrom<String> for Visibility {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "public" => Ok(Visibility::Public),
            "hidden" => Ok(Visibility::Hidden),
            _ => Err(format!("unknown visibility {s}")),
        }
    }
}

/// Where a booking is in its life:
/// `pending_payment → confirmed → cancelled | refunded`, `pending_payment → expired`
/// (and `pending_payment → cancelled`). Only live bookings (pending or confirmed) hold seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Seats are held until `hold_expires_at`; paid offline, then marked paid by staff.
    PendingPayment,
    /// Paid (or free); tickets issued.
    Confirmed,
    /// Cancelled by the buyer or the organizer; seats released, tickets void.
    Cancelled,
    /// Refunded through a payment provider (a later issue); seats released, tickets void.
    Refunded,
    /// The hold ran out before payment; seats released.
    Expired,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::PendingPayment => "pending_payment",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Refunded => "refunded",
            BookingStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<BookingStatus> {
        Some(match s {
            "pending_payment" => BookingStatus::PendingPayment,
            "confirmed" => BookingStatus::Confirmed,
            "cancelled" => BookingStatus::Cancelled,
            "refunded" => BookingStatus::Refunded,
            "expired" => BookingStatus::Expired,
            _ => return None,
        })
    }

    /// Whether the booking holds seats (and voucher uses, and counts for the buyer cap).
    pub fn is_live(self) -> bool {
        matches!(self, BookingStatus::PendingPayment | BookingStatus::Confirmed)
    }
}

impl TryFrom<String> for BookingStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        BookingStatus::parse(&s).ok_or_else(|| format!("unknown booking status {s}"))
    }
}

/// A ticket's validity (check-in adds `checked_in_at`, not a status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    Valid,
    Cancelled,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Valid => "valid",
            TicketStatus::Cancelled => "cancelled",
        }
    }
}

impl TryFrom<String> for TicketStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "valid" => Ok(TicketStatus::Valid),
            "cancelled" => Ok(TicketStatus::Cancelled),
            _ => Err(format!("unknown ticket status {s}")),
        }
    }
}

kernel::typed_id!(
    /// A door's list: which tickets it admits, and from when to when.
    CheckinListId
);
kernel::typed_id!(
    /// One scan at a door, whatever it found.
    CheckinId
);
kernel::typed_id!(
    /// One of an organization's ticket-signing keys.
    SigningKeyId
);

/// What a scan found. Only `valid` admits; every result is recorded under its scan id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckinResult {
    /// Admitted now.
    Valid,
    /// Admitted before on this list (`previous` says when and where).
    AlreadyCheckedIn,
    /// A ticket of another event (or of another organization).
    WrongEvent,
    /// A ticket of this event whose type this list does not admit.
    WrongTicketType,
    /// The ticket was cancelled (its booking cancelled, expired or refunded).
    Cancelled,
    /// Before the list opens, or before the ticket's `valid_from`.
    NotYetValid,
    /// After the list closed.
    Closed,
    /// No ticket has this code.
    Unknown,
    /// A QR payload that is malformed or whose signature does not verify: forged or damaged.
    Invalid,
}

impl CheckinResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckinResult::Valid => "valid",
            CheckinResult::AlreadyCheckedIn => "already_checked_in",
            CheckinResult::WrongEvent => "wrong_event",
            CheckinResult::WrongTicketType => "wrong_ticket_type",
            CheckinResult::Cancelled => "cancelled",
            CheckinResult::NotYetValid => "not_yet_valid",
            CheckinResult::Closed => "closed",
            CheckinResult::Unknown => "unknown",
            CheckinResult::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Option<CheckinResult> {
        use CheckinResult::*;
        [Valid, AlreadyCheckedIn, WrongEvent, WrongTicketType, Cancelled, NotYetValid, Closed, Unknown, Invalid]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

impl TryFrom<String> for CheckinResult {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CheckinResult::parse(&s).ok_or_else(|| format!("unknown check-in result {s}"))
    }
}

/// Where a booking's ticket PDF is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Asked for; the rendering job has not finished yet.
    Pending,
    /// Rendered and stored: download it from `url`.
    Ready,
    /// The job gave up (`error` says why); ask again to retry.
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }
}

impl TryFrom<String> for DocumentStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "pending" => Ok(DocumentStatus::Pending),
            "ready" => Ok(DocumentStatus::Ready),
            "failed" => Ok(DocumentStatus::Failed),
            _ => Err(format!("unknown document status {s}")),
        }
    }
}

/// What a scanner sent, normalized: a signed QR payload as is; a code typed in by hand in
/// upper case without spaces or dashes (Crockford base32 reads `O` as `0` and `I`/`L` as `1`).
pub fn scanned_text(field: &str, raw: &str) -> Result<String, AppError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    if t.chars().count() > SCAN_TEXT_MAX {
        return Err(AppError::validation(field, format!("at most {SCAN_TEXT_MAX} characters")));
    }
    if t.starts_with("BL1.") {
        // Recorded as scanned; a control character (NUL above all) is no part of a payload
        // and would not store.
        if t.chars().any(char::is_control) {
            return Err(AppError::validation(field, "must not contain control characters"));
        }
        return Ok(t.to_string());
    }
    let code: String = t
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::validation(field, "must be a ticket code or a scanned ticket QR payload"));
    }
    Ok(code)
}

/// A scanner's id for one scan (so uploading it twice counts once): 1–100 printable ASCII
/// characters.
pub fn scan_id(field: &str, raw: &str) -> Result<String, AppError> {
    let t = raw.trim();
    if t.is_empty() || t.len() > SCAN_ID_MAX || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::validation(field, format!("must be 1 to {SCAN_ID_MAX} printable ASCII characters")));
    }
    Ok(t.to_string())
}

// ---- fields -----------------------------------------------------------------------------

/// ISO 4217 codes in use (active currencies, plus a few funds and precious metals that
/// payment providers accept).
pub(crate) const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD \
CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF \
IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU \
MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP \
SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF \
YER ZAR ZMW ZWG ZWL";

/// An ISO 4217 currency code, normalized to upper case (`eur` → `EUR`).
pub fn currency(field: &str, raw: &str) -> Result<String, AppError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) && CURRENCIES.split(' ').any(|c| c == code) {
        Ok(code)
    } else {
        Err(AppError::validation(field, "must be an ISO 4217 currency code (3 letters, e.g. EUR)"))
    }
}

/// A price in minor units (cents): 0..=PRICE_MAX.
pub fn price(field: &str, raw: i64) -> Result<i64, AppError> {
    if (0..=PRICE_MAX).contains(&raw) {
        Ok(raw)
    } else {
        Err(AppError::validation(field, format!("must be between 0 and {PRICE_MAX} (minor units, e.g. cents)")))
    }
}

/// A capacity: 0..=CAPACITY_MAX.
pub fn capacity(field: &str, raw: i64) -> Result<i64, AppError> {
    if (0..=CAPACITY_MAX).contains(&raw) {
        Ok(raw)
    } else {
        Err(AppError::validation(field, format!("must be between 0 and {CAPACITY_MAX}")))
    }
}

/// An integer within `range`, named in the error.
pub fn within(field: &str, raw: i64, range: std::ops::RangeInclusive<i64>) -> Result<i64, AppError> {
    if range.contains(&raw) {
        Ok(raw)
    } else {
        Err(AppError::validation(field, format!("must be between {} and {}", range.start(), range.end())))
    }
}

/// A plausible email address (the mailbox proves the rest): trimmed, one `@`, a dot in the
/// domain, no spaces or control characters, at most 254 characters.
pub fn email(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    let bad = || AppError::validation(field, "must be an email address");
    if s.is_empty() || s.chars().count() > EMAIL_MAX || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = s.split_once('@').ok_or_else(bad)?;
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(bad());
    }
    Ok(s.to_string())
}

/// The key the per-buyer cap counts by: the address in lower case.
pub fn buyer_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A voucher code: 1–64 letters, digits, `-` or `_`; compared case-insensitively.
pub fn voucher_code(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    if s.is_empty() || s.len() > VOUCHER_CODE_MAX || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(AppError::validation(field, "must be 1–64 letters, digits, '-' or '_'"));
    }
    Ok(s.to_string())
}

/// The case-insensitive form a voucher code is looked up by.
pub fn code_norm(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// An optional `[from, until)` window.
pub type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Checks an optional `[from, until)` window: years 1900–9999, `until` after `from`.
pub fn window(
    (from_field, from): (&str, Option<DateTime<Utc>>),
    (until_field, until): (&str, Option<DateTime<Utc>>),
) -> Result<Window, AppError> {
    for (field, t) in [(from_field, from), (until_field, until)] {
        if let Some(t) = t
            && !(1900..=9999).contains(&t.year())
        {
            return Err(AppError::validation(field, "must be between the years 1900 and 9999"));
        }
    }
    if let (Some(f), Some(u)) = (from, until)
        && u <= f
    {
        return Err(AppError::validation(until_field, format!("must be after {from_field}")));
    }
    Ok((from.map(kernel::time::truncate), until.map(kernel::time::truncate)))
}

/// Waitlist tiers: 1–10 distinct slugs (`a-z`, `0-9`, `-`, `_`, up to 32 characters), in
/// priority order.
pub fn tiers(field: &str, raw: &[String]) -> Result<Vec<String>, AppError> {
    if raw.is_empty() || raw.len() > WAITLIST_TIERS_MAX {
        return Err(AppError::validation(field, format!("must list 1–{WAITLIST_TIERS_MAX} tiers")));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let t = t.trim().to_ascii_lowercase();
        if t.is_empty()
            || t.len() > 32
            || !t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(AppError::validation(format!("{field}[{i}]"), "must be 1–32 of a-z, 0-9, '-' or '_'"));
        }
        if out.contains(&t) {
            return Err(AppError::validation(format!("{field}[{i}]"), "listed twice"));
        }
        out.push(t);
    }
    Ok(out)
}

// ---- sales windows ------------------------------------------------------------------------

/// Whether a ticket type is on sale at `at`: after `sales_start` (if any) and before
/// `sales_end`, which defaults to the end of the event. `Err` says why not.
pub fn sales_open(
    at: DateTime<Utc>,
    sales_start: Option<DateTime<Utc>>,
    sales_end: Option<DateTime<Utc>>,
    event_ends_at: DateTime<Utc>,
) -> Result<(), String> {
    if let Some(start) = sales_start
        && at < start
    {
        return Err(format!("sales start at {}", start.to_rfc3339()));
    }
    let end = sales_end.unwrap_or(event_ends_at);
    if at >= end {
        return Err(if sales_end.is_some() { "sales have ended".to_string() } else { "the event is over".to_string() });
    }
    Ok(())
}

// ---- pricing ------------------------------------------------------------------------------

/// What a voucher takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// Only unlocks hidden types.
    None,
    /// This many minor units off the booking, once (at most the value of the tickets it
    /// applies to).
    Fixed(i64),
    /// This share (0–100 %) off every ticket it applies to, rounded down to the minor unit.
    Percent(i64),
}

/// One position to price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub unit_price: i64,
    pub quantity: i64,
    /// Whether the voucher applies to this position's ticket type.
    pub discountable: bool,
}

/// The priced booking: discount per line, and the totals (never below zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub line_discounts: Vec<i64>,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
}

/// Prices `lines` with `discount`. Inputs are validated (prices ≤ PRICE_MAX, quantities ≤
/// BOOKING_TICKETS_MAX, at most POSITIONS_MAX lines), so nothing overflows.
pub fn price_booking(lines: &[Line], discount: Discount) -> Priced {
    let mut remaining = match discount {
        Discount::Fixed(n) => n.max(0),
        _ => 0,
    };
    let mut line_discounts = Vec::with_capacity(lines.len());
    let mut subtotal = 0i64;
    for line in lines {
        let gross = line.unit_price * line.quantity;
        subtotal += gross;
        let off = if !line.discountable {
            0
        } else {
            match discount {
                Discount::None => 0,
                Discount::Percent(p) => gross * p.clamp(0, 100) / 100,
                Discount::Fixed(_) => {
                    let take = remaining.min(gross);
                    remaining -= take;
                    take
                }
            }
        };
        line_discounts.push(off);
    }
    let discount: i64 = line_discounts.iter().sum();
    Priced { line_discounts, subtotal, discount, total: (subtotal - discount).max(0) }
}

/// Giving back `n` of a position's `quantity` tickets (a refund that names them): what they
/// are worth and the position's discount afterwards. The discount shrinks in proportion,
/// rounded down, so giving back every ticket, in any number of steps, returns exactly what
/// was paid for the position (`unit_price × quantity − discount`).
pub fn give_back(unit_price: i64, quantity: i64, discount: i64, n: i64) -> (i64, i64) {
    let n = n.clamp(0, quantity);
    let left = quantity - n;
    let discount_after = if quantity == 0 { 0 } else { discount * left / quantity };
    (unit_price * n - (discount - discount_after), discount_after)
}

/// Seats to take per quota: every requested type takes its quantity from each quota it
/// belongs to. Sorted by quota id, the order every transaction takes row locks in, so two
/// bookings can never wait on each other in a cycle (PostgreSQL deadlocks).
pub fn allocations<'a>(items: impl IntoIterator<Item = (&'a [QuotaId], i64)>) -> Vec<(QuotaId, i64)> {
    let mut per_quota: BTreeMap<QuotaId, i64> = BTreeMap::new();
    for (quotas, quantity) in items {
        for q in quotas {
            *per_quota.entry(*q).or_default() += quantity;
        }
    }
    per_quota.into_iter().collect()
}

// ---- codes and tokens ---------------------------------------------------------------------

/// Crockford's base32 alphabet: no I, L, O, U, so codes read out loud and typed at a door
/// come out right.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn base32(bytes: &[u8], chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | b as u64;
        bits += 8;
        while bits >= 5 && out.len() < chars {
            bits -= 5;
            out.push(CROCKFORD[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 && out.len() < chars {
        out.push(CROCKFORD[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf
}

/// A booking's order code: 10 Crockford base32 characters (50 random bits), short enough to
/// read over the phone; unique in the database (a collision retries the booking).
pub fn booking_code() -> String {
    base32(&random_bytes::<7>(), 10)
}

/// A ticket's code: 16 Crockford base32 characters carrying 80 random bits, so it cannot be
/// guessed or enumerated (a scanner checks a few per second; guessing one valid code among a
/// million tickets would take ~10^18 tries), and short enough that the signed QR payload
/// stays near 200 characters (a version-10 QR code at error-correction level M).
pub fn ticket_code() -> String {
    base32(&random_bytes::<10>(), 16)
}

/// The secret an anonymous buyer uses to reach their booking (`?token=`); only its hash is
/// stored.
pub fn booking_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two equal-length hashes in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- CSV ----------------------------------------------------------------------------------

/// One CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR at the start) gets a leading `'`.
pub fn csv_field(out: &mut String, raw: &str) {
    let guarded = raw.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if guarded || raw.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if guarded {
            out.push('\'');
        }
        out.push_str(&raw.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(raw);
    }
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
    fn currencies_prices_emails_codes() {
        assert_eq!(currency("currency", "eur").unwrap(), "EUR");
        for bad in ["", "EU", "EURO", "XYZ", "€", "e1r"] {
            assert_eq!(field(currency("currency", bad).unwrap_err()), "currency", "{bad}");
        }
        assert!(price("price", -1).is_err());
        assert_eq!(price("price", 0).unwrap(), 0);
        assert!(price("price", PRICE_MAX + 1).is_err());
        assert_eq!(email("buyer_email", " Ann@Example.org ").unwrap(), "Ann@Example.org");
        for bad in ["", "ann", "ann@", "@x.org", "a b@x.org", "a@b", "a@b@c.org", "a@.org", "a@x.org."] {
            assert!(email("buyer_email", bad).is_err(), "{bad}");
        }
        assert!(email("buyer_email", &format!("{}@x.org", "é".repeat(EMAIL_MAX - 6))).is_ok(), "characters, not bytes");
        assert!(email("buyer_email", &format!("{}@x.org", "é".repeat(EMAIL_MAX - 5))).is_err());
        assert_eq!(buyer_key(" Ann@Example.ORG"), "ann@example.org");
        assert_eq!(voucher_code("code", " Early-Bird_1 ").unwrap(), "Early-Bird_1");
        assert!(voucher_code("code", "no spaces").is_err());
        assert!(voucher_code("code", &"x".repeat(65)).is_err());
        assert_eq!(code_norm("early-bird"), "EARLY-BIRD");
        assert_eq!(tiers("waitlist_tiers", &["VIP".into(), "standard".into()]).unwrap(), vec!["vip", "standard"]);
        assert_eq!(field(tiers("waitlist_tiers", &["vip".into(), "vip".into()]).unwrap_err()), "waitlist_tiers[1]");
        assert!(tiers("waitlist_tiers", &[]).is_err());
    }

    #[test]
    fn booking_states() {
        for s in ["pending_payment", "confirmed", "cancelled", "refunded", "expired"] {
            assert_eq!(BookingStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(BookingStatus::PendingPayment.is_live() && BookingStatus::Confirmed.is_live());
        assert!(!BookingStatus::Expired.is_live() && !BookingStatus::Cancelled.is_live());
    }

    #[test]
    fn sales_windows() {
        let t: DateTime<Utc> = "2026-05-01T12:00:00Z".parse().unwrap();
        let end: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        assert!(sales_open(t, None, None, end).is_ok());
        assert!(sales_open(t, Some(t), None, end).is_ok());
        assert!(sales_open(t, Some(t + chrono::TimeDelta::seconds(1)), None, end).is_err());
        assert!(sales_open(t, None, Some(t), end).is_err());
        assert!(sales_open(end, None, None, end).is_err());
        let (from, until) = window(("valid_from", Some(t)), ("valid_until", Some(end))).unwrap();
        assert_eq!((from, until), (Some(t), Some(end)));
        assert_eq!(field(window(("valid_from", Some(end)), ("valid_until", Some(t))).unwrap_err()), "valid_until");
    }

    #[test]
    fn pricing_with_vouchers() {
        let lines = [
            Line { unit_price: 5000, quantity: 2, discountable: true },
            Line { unit_price: 2000, quantity: 1, discountable: false },
        ];
        let p = price_booking(&lines, Discount::None);
        assert_eq!((p.subtotal, p.discount, p.total), (12000, 0, 12000));
        let p = price_booking(&lines, Discount::Percent(25));
        assert_eq!(p.line_discounts, vec![2500, 0]);
        assert_eq!(p.total, 9500);
        let p = price_booking(&lines, Discount::Fixed(1500));
        assert_eq!((p.discount, p.total), (1500, 10500));
        // A fixed discount never exceeds what it applies to, and totals never go negative.
        let p = price_booking(&lines, Discount::Fixed(1_000_000));
        assert_eq!(p.line_discounts, vec![10000, 0]);
        assert_eq!(p.total, 2000);
        let p = price_booking(&[Line { unit_price: 333, quantity: 1, discountable: true }], Discount::Percent(50));
        assert_eq!(p.total, 167, "the discount is rounded down");
        let p = price_booking(&[Line { unit_price: 0, quantity: 3, discountable: true }], Discount::Percent(100));
        assert_eq!(p.total, 0);
    }

    #[test]
    fn giving_back_tickets_in_steps_returns_what_was_paid() {
        // 3 × 1000 with 500 off: 2500 paid.
        assert_eq!(give_back(1000, 3, 500, 3), (2500, 0));
        let (first, d) = give_back(1000, 3, 500, 1);
        assert_eq!((first, d), (833, 333));
        let (second, d) = give_back(1000, 2, d, 1);
        let (third, d) = give_back(1000, 1, d, 1);
        assert_eq!((first + second + third, d), (2500, 0));
        assert_eq!(give_back(1000, 2, 0, 1), (1000, 0));
        assert_eq!(give_back(1000, 2, 0, 5), (2000, 0), "never more than the position holds");
    }

    #[test]
    fn allocations_are_summed_and_sorted() {
        let (a, b) = (QuotaId::new(), QuotaId::new());
        let ga = [b, a];
        let vip = [a];
        let alloc = allocations([(&ga[..], 2), (&vip[..], 3)]);
        assert_eq!(alloc, vec![(a, 5), (b, 2)]);
    }

    #[test]
    fn codes_and_tokens() {
        let c = ticket_code();
        assert_eq!(c.len(), 16);
        assert!(c.bytes().all(|b| CROCKFORD.contains(&b)));
        assert_ne!(c, ticket_code());
        assert_eq!(booking_code().len(), 10);
        assert_eq!(base32(&[0xff, 0xff], 4), "ZZZG");
        let t = booking_token();
        assert!(t.len() >= 43);
        assert!(same_hash(&hash_token(&t), &hash_token(&t)));
        assert!(!same_hash(&hash_token(&t), &hash_token("other")));
    }

    #[test]
    fn scanned_text_normalizes_typed_codes_and_keeps_qr_payloads() {
        assert_eq!(scanned_text("code", " ab0-1oil ").unwrap(), "AB01011");
        assert_eq!(scanned_text("code", "BL1.abc.def").unwrap(), "BL1.abc.def");
        for bad in ["", "   ", "a b!c", "-- --"] {
            let e = scanned_text("code", bad).unwrap_err();
            assert!(matches!(e, AppError::Validation { ref field, .. } if field == "code"), "{bad}: {e}");
        }
        assert!(scanned_text("code", &"A".repeat(SCAN_TEXT_MAX + 1)).is_err());
        assert!(scanned_text("code", &format!("BL1.{}", "é".repeat(SCAN_TEXT_MAX - 4))).is_ok(), "characters, not bytes");
        assert!(scanned_text("code", "BL1.ab\0cd").is_err(), "a NUL would not store");
        assert_eq!(scan_id("scan_id", " dev1-0001 ").unwrap(), "dev1-0001");
        assert!(scan_id("scan_id", "two words").is_err());
        assert!(scan_id("scan_id", &"x".repeat(SCAN_ID_MAX + 1)).is_err());
        for r in ["valid", "already_checked_in", "wrong_event", "wrong_ticket_type", "cancelled", "not_yet_valid", "closed"] {
            assert_eq!(CheckinResult::parse(r).unwrap().as_str(), r);
        }
        assert_eq!(CheckinResult::parse("nope"), None);
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        let mut s = String::new();
        csv_field(&mut s, "plain");
        s.push(',');
        csv_field(&mut s, "a,\"b\"");
        s.push(',');
        csv_field(&mut s, "=HYPERLINK(\"x\")");
        assert_eq!(s, "plain,\"a,\"\"b\"\"\",\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
