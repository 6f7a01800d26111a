//! Check-in rules without I/O: what a scan can find, where a ticket PDF is, and how a
//! scanner's input is normalized.

use kernel::AppError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest text a check-in accepts (a signed QR payload is about 200 characters).
pub const SCAN_TEXT_MAX: usize = 1_024;
pub const SCAN_ID_MAX: usize = 100;
pub const GATE_MAX: usize = 100;
pub const CHECKIN_BATCH_MAX: usize = 500;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
