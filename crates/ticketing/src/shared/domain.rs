//! Rules every feature uses, without I/O: the limits of plain text fields, emails and the
//! per-buyer key, integer ranges, and the random codes and tokens bookings, tickets and
//! waitlist entries carry (with the constant-time comparison of their hashes), and CSV
//! quoting.
//!
//! Validation functions take the field name they report in a `422` (a JSON path such as
//! `positions[1].quantity`) and return the normalized value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::AppError;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use kernel::validate::{optional_long_text, optional_text, required_text};

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5_000;
pub const EMAIL_MAX: usize = 254;
pub const REFERENCE_MAX: usize = 200;

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
