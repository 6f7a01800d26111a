//! Ticket QR payloads signed with the organization's Ed25519 key, so a scanner can tell a
//! genuine ticket from a forged one offline, holding nothing but the organization's public
//! keys (published as JWKs, see [`PublicJwk`]).
//!
//! # Wire format (version 1)
//!
//! The QR code holds the ASCII text
//!
//! ```text
//! BL1.<payload>.<signature>
//! ```
//!
//! Both parts are base64url **without padding** (RFC 4648 §5); non-canonical encodings are
//! rejected. `<signature>` decodes to 64 bytes: a pure Ed25519 signature (RFC 8032, no
//! pre-hash, no context) over the decoded payload bytes. `<payload>` decodes to:
//!
//! | offset | bytes | field |
//! |-------:|------:|-------|
//! | 0 | 1 | format version, `0x01` |
//! | 1 | 8 | key id: the first 8 bytes of SHA-256 over the raw 32-byte public key |
//! | 9 | 16 | ticket id (UUID, RFC 4122 byte order) |
//! | 25 | 16 | event id (UUID) |
//! | 41 | 16 | organization id (UUID) |
//! | 57 | 1 | flags: bit 0 (`0x01`) = `valid_from` follows; every other bit must be 0 |
//! | 58 | 8 | `valid_from`: signed 64-bit big-endian Unix seconds — only when flag bit 0 is set |
//! | next | 1 | length `n` of the ticket code, 1–64 |
//! | next | n | ticket code, UTF-8 (the code printed on the ticket) |
//!
//! Nothing may follow the code. The key id is written as 16 lowercase hex digits wherever it
//! appears as text (the JWK `kid`).
//!
//! # Verifying (what a scanner does)
//!
//! 1. Split the text at `.` into exactly three parts; the first must be `BL1`.
//! 2. Decode both parts; the signature must be 64 bytes; parse the payload as above (version
//!    `0x01`, no unknown flag bits, exact length). Any failure: *malformed*.
//! 3. Pick the public key whose key id equals payload bytes 1–8. None: *unknown key* — the
//!    organization may have rotated keys; refresh them from its JWK set.
//! 4. Verify the signature over the payload bytes (strict verification: canonical `S`, no
//!    small-order keys). Failure: *bad signature*.
//!
//! A valid signature proves the organization issued this ticket; it does not say the ticket
//! is still good. Checking the event id, `valid_from` against the clock, cancellations and
//! earlier check-ins is the check-in's business, not this module's.
//!
//! # Size
//!
//! 91 characters of fixed overhead (prefix, separators, signature) plus the base64 of a
//! 59-byte payload (67 with `valid_from`) and the code: with `valid_from` and a 12-character
//! code the text is 197 characters, which fits a version-10 QR code at error-correction
//! level M (57 × 57 modules). Each further code byte adds about 1.3 characters.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use ed25519_dalek::VerifyingKey;

/// Text prefix of a version-1 payload.
pub const PREFIX: &str = "BL1";
const VERSION: u8 = 1;
const FLAG_VALID_FROM: u8 = 0x01;
/// Longest ticket code a payload can carry, in bytes.
pub const MAX_CODE_LEN: usize = 64;
const KEY_ID_LEN: usize = 8;
const FIXED_LEN: usize = 1 + KEY_ID_LEN + 16 * 3 + 1;

/// What a ticket's QR code asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    pub ticket_id: Uuid,
    pub event_id: Uuid,
    pub org_id: Uuid,
    /// The ticket's code, as printed (and typed in when a QR code will not scan).
    pub code: String,
    /// Not valid for admission before this instant (Unix seconds), e.g. doors opening.
    pub valid_from: Option<i64>,
}

/// Claims that cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsError {
    /// The code is empty or longer than [`MAX_CODE_LEN`] bytes.
    CodeLength,
}

impl fmt::Display for ClaimsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimsError::CodeLength => write!(f, "a ticket code must be 1 to {MAX_CODE_LEN} bytes"),
        }
    }
}

impl std::error::Error for ClaimsError {}

/// Why a QR payload was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// Not a `BL1.…` payload, or one that does not decode (the reason says where).
    Malformed(&'static str),
    /// Signed with a key not among those given (hex key id): refresh the organization's keys.
    UnknownKey(String),
    /// The signature does not match: forged or altered.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Malformed(reason) => write!(f, "not a valid ticket code: {reason}"),
            VerifyError::UnknownKey(kid) => write!(f, "ticket signed with unknown key {kid}"),
            VerifyError::BadSignature => write!(f, "ticket signature does not match"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The key id of a public key: the first 8 bytes of its SHA-256, as 16 hex digits.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(raw_key_id(key))
}

fn raw_key_id(key: &VerifyingKey) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

/// An organization's ticket-signing key (the private half: store it as a secret).
#[derive(Clone)]
pub struct OrgSigningKey {
    key: SigningKey,
}

impl fmt::Debug for OrgSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgSigningKey").field("kid", &self.key_id()).finish_non_exhaustive()
    }
}

impl OrgSigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> OrgSigningKey {
        OrgSigningKey { key: SigningKey::generate(&mut rand::rngs::OsRng) }
    }

    /// The 32-byte secret seed, for storage.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn from_bytes(seed: &[u8; 32]) -> OrgSigningKey {
        OrgSigningKey { key: SigningKey::from_bytes(seed) }
    }

    /// From stored bytes of unchecked length.
    pub fn from_slice(seed: &[u8]) -> Option<OrgSigningKey> {
        <&[u8; 32]>::try_from(seed).ok().map(OrgSigningKey::from_bytes)
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The raw public key, base64url without padding.
    pub fn public_key_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }

    pub fn key_id(&self) -> String {
        key_id(&self.key.verifying_key())
    }

    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::from_key(&self.key.verifying_key())
    }

    /// The QR text for `claims` (see the module docs for the format).
    pub fn sign(&self, claims: &TicketClaims) -> Result<String, ClaimsError> {
        let payload = encode_payload(claims, &raw_key_id(&self.key.verifying_key()))?;
        let signature = self.key.sign(&payload);
        Ok(format!("{PREFIX}.{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(signature.to_bytes())))
    }
}

fn encode_payload(claims: &TicketClaims, kid: &[u8; KEY_ID_LEN]) -> Result<Vec<u8>, ClaimsError> {
    let code = claims.code.as_bytes();
    if code.is_empty() || code.len() > MAX_CODE_LEN {
        return Err(ClaimsError::CodeLength);
    }
    let mut out = Vec::with_capacity(FIXED_LEN + 8 + 1 + code.len());
    out.push(VERSION);
    out.extend_from_slice(kid);
    for id in [claims.ticket_id, claims.event_id, claims.org_id] {
        out.extend_from_slice(id.as_bytes());
    }
    match claims.valid_from {
        Some(t) => {
            out.push(FLAG_VALID_FROM);
            out.extend_from_slice(&t.to_be_bytes());
        }
        None => out.push(0),
    }
    out.push(code.len() as u8);
    out.extend_from_slice(code);
    Ok(out)
}

/// Reads the payload without checking anything but its shape.
fn decode_payload(payload: &[u8]) -> Result<([u8; KEY_ID_LEN], TicketClaims), VerifyError> {
    let malformed = VerifyError::Malformed;
    let mut r = Reader(payload);
    if r.take(1).ok_or(malformed("empty payload"))?[0] != VERSION {
        return Err(malformed("unsupported payload version"));
    }
    let truncated = || malformed("payload is truncated");
    let kid: [u8; KEY_ID_LEN] = r.array().ok_or_else(truncated)?;
    let ticket_id = Uuid::from_bytes(r.array().ok_or_else(truncated)?);
    let event_id = Uuid::from_bytes(r.array().ok_or_else(truncated)?);
    let org_id = Uuid::from_bytes(r.array().ok_or_else(truncated)?);
    let flags = r.take(1).ok_or_else(truncated)?[0];
    if flags & !FLAG_VALID_FROM != 0 {
        return Err(malformed("unknown flags"));
    }
    let valid_from = if flags & FLAG_VALID_FROM != 0 { Some(i64::from_be_bytes(r.array().ok_or_else(truncated)?)) } else { None };
    let len = usize::from(r.take(1).ok_or_else(truncated)?[0]);
    if len == 0 || len > MAX_CODE_LEN {
        return Err(malformed("bad code length"));
    }
    let code = std::str::from_utf8(r.take(len).ok_or_else(truncated)?).map_err(|_| malformed("code is not UTF-8"))?;
    if !r.0.is_empty() {
        return Err(malformed("trailing bytes after the code"));
    }
    Ok((kid, TicketClaims { ticket_id, event_id, org_id, code: code.to_string(), valid_from }))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).map(|b| b.try_into().expect("took N bytes"))
    }
}

/// The three decoded parts of a QR text: payload bytes, parsed payload, signature.
fn split(qr: &str) -> Result<(Vec<u8>, [u8; KEY_ID_LEN], TicketClaims, Signature), VerifyError> {
    let malformed = VerifyError::Malformed;
    let mut parts = qr.trim().split('.');
    let (Some(prefix), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("expected BL1.<payload>.<signature>"));
    };
    if prefix != PREFIX {
        return Err(malformed("unknown prefix"));
    }
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed("payload is not base64url"))?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed("signature is not base64url"))?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| malformed("signature is not 64 bytes"))?;
    let (kid, claims) = decode_payload(&payload)?;
    Ok((payload, kid, claims, Signature::from_bytes(&signature)))
}

/// Verifies a QR text against an organization's public keys (current and rotated-out ones)
/// and returns its claims. See the module docs for what this does and does not establish.
pub fn verify(qr: &str, public_keys: &[VerifyingKey]) -> Result<TicketClaims, VerifyError> {
    let (payload, kid, claims, signature) = split(qr)?;
    let key = public_keys.iter().find(|k| raw_key_id(k) == kid).ok_or_else(|| VerifyError::UnknownKey(hex::encode(kid)))?;
    key.verify_strict(&payload, &signature).map_err(|_| VerifyError::BadSignature)?;
    Ok(claims)
}

/// The claims and hex key id of a QR text, **unverified**: only for choosing which keys to
/// [`verify`] it with (e.g. loading the keys of `claims.org_id`). Never trust the result.
pub fn read_unverified(qr: &str) -> Result<(TicketClaims, String), VerifyError> {
    split(qr).map(|(_, kid, claims, _)| (claims, hex::encode(kid)))
}

/// An Ed25519 public key as a JSON Web Key (RFC 8037), as published for scanners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicJwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The raw 32-byte public key, base64url without padding.
    pub x: String,
    /// Key id: 16 hex digits, as carried in ticket payloads.
    pub kid: String,
    /// Always `EdDSA`.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
}

impl PublicJwk {
    pub fn from_key(key: &VerifyingKey) -> PublicJwk {
        PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            kid: key_id(key),
            alg: "EdDSA".into(),
            key_use: "sig".into(),
        }
    }

    /// The key, if this is a well-formed Ed25519 JWK whose `kid` matches its key.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return None;
        }
        let raw: [u8; 32] = URL_SAFE_NO_PAD.decode(&self.x).ok()?.try_into().ok()?;
        let key = VerifyingKey::from_bytes(&raw).ok()?;
        (key_id(&key) == self.kid).then_some(key)
    }
}

/// A JWK set: `{"keys": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicJwks {
    pub keys: Vec<PublicJwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TicketClaims {
        TicketClaims {
            ticket_id: Uuid::now_v7(),
            event_id: Uuid::now_v7(),
            org_id: Uuid::now_v7(),
            code: "K7QF3M9XW2PA".into(),
            valid_from: Some(1_797_000_000),
        }
    }

    /// Replaces the character at `i` by another base64url character.
    fn flip_char(s: &str, i: usize) -> String {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    }

    fn parts(qr: &str) -> (String, String) {
        let mut it = qr.split('.').skip(1);
        (it.next().unwrap().to_string(), it.next().unwrap().to_string())
    }

    #[test]
    fn round_trip() {
        let key = OrgSigningKey::generate();
        for c in [claims(), TicketClaims { valid_from: None, code: "Björk-1".into(), ..claims() }] {
            let qr = key.sign(&c).unwrap();
            assert!(qr.starts_with("BL1."));
            assert!(qr.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{qr}");
            assert_eq!(verify(&qr, &[key.verifying_key()]).unwrap(), c);
            assert_eq!(read_unverified(&qr).unwrap(), (c.clone(), key.key_id()));
        }
    }

    #[test]
    fn payload_layout_is_as_documented() {
        let key = OrgSigningKey::from_bytes(&[7u8; 32]);
        let c = claims();
        let (payload, signature) = parts(&key.sign(&c).unwrap());
        let p = URL_SAFE_NO_PAD.decode(payload).unwrap();
        assert_eq!(p[0], 1);
        assert_eq!(&p[1..9], &Sha256::digest(key.verifying_key().as_bytes())[..8]);
        assert_eq!(&p[9..25], c.ticket_id.as_bytes());
        assert_eq!(&p[25..41], c.event_id.as_bytes());
        assert_eq!(&p[41..57], c.org_id.as_bytes());
        assert_eq!(p[57], 1);
        assert_eq!(&p[58..66], &1_797_000_000i64.to_be_bytes());
        assert_eq!(p[66] as usize, c.code.len());
        assert_eq!(&p[67..], c.code.as_bytes());
        // The signature is plain Ed25519 over the payload bytes, checkable with any library.
        let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(signature).unwrap().try_into().unwrap();
        key.verifying_key().verify_strict(&p, &Signature::from_bytes(&sig)).unwrap();
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let key = OrgSigningKey::generate();
        let qr = key.sign(&claims()).unwrap();
        let (payload, signature) = parts(&qr);
        // Every position past the version and key id: a changed id, flag, time or code.
        for i in 12..payload.len() - 1 {
            let forged = format!("BL1.{}.{signature}", flip_char(&payload, i));
            let err = verify(&forged, &[key.verifying_key()]).unwrap_err();
            assert!(matches!(err, VerifyError::BadSignature | VerifyError::Malformed(_)), "{i}: {err:?}");
        }
        // A well-formed payload with other claims under the old signature.
        let mut other = URL_SAFE_NO_PAD.decode(&payload).unwrap();
        other[30] ^= 0x01;
        let forged = format!("BL1.{}.{signature}", URL_SAFE_NO_PAD.encode(&other));
        assert_eq!(verify(&forged, &[key.verifying_key()]), Err(VerifyError::BadSignature));
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let key = OrgSigningKey::generate();
        let qr = key.sign(&claims()).unwrap();
        let (payload, signature) = parts(&qr);
        for i in [0, 20, 42, 84] {
            let forged = format!("BL1.{payload}.{}", flip_char(&signature, i));
            assert_eq!(verify(&forged, &[key.verifying_key()]), Err(VerifyError::BadSignature), "{i}");
        }
    }

    #[test]
    fn wrong_key_is_rejected() {
        let key = OrgSigningKey::generate();
        let other = OrgSigningKey::generate();
        let qr = key.sign(&claims()).unwrap();
        assert_eq!(verify(&qr, &[other.verifying_key()]), Err(VerifyError::UnknownKey(key.key_id())));
        assert_eq!(verify(&qr, &[]), Err(VerifyError::UnknownKey(key.key_id())));
        // Another key forging this key's id still fails on the signature.
        let (payload, _) = parts(&qr);
        let payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let forged_sig = other.key.sign(&payload);
        let forged = format!("BL1.{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(forged_sig.to_bytes()));
        assert_eq!(verify(&forged, &[key.verifying_key(), other.verifying_key()]), Err(VerifyError::BadSignature));
    }

    #[test]
    fn rotation_verifies_with_any_listed_key() {
        let old = OrgSigningKey::generate();
        let new = OrgSigningKey::generate();
        let keys = [new.verifying_key(), old.verifying_key()];
        let before = old.sign(&claims()).unwrap();
        let after = new.sign(&claims()).unwrap();
        assert!(verify(&before, &keys).is_ok());
        assert!(verify(&after, &keys).is_ok());
        assert_ne!(old.key_id(), new.key_id());
        // Once the old key is retired, its tickets name a key the scanner does not hold.
        assert_eq!(verify(&before, &keys[..1]), Err(VerifyError::UnknownKey(old.key_id())));
    }

    #[test]
    fn malformed_inputs_are_named() {
        let key = OrgSigningKey::generate();
        let keys = [key.verifying_key()];
        let qr = key.sign(&claims()).unwrap();
        let (payload, signature) = parts(&qr);
        let raw = URL_SAFE_NO_PAD.decode(&payload).unwrap();
        let with = |bytes: &[u8]| format!("BL1.{}.{signature}", URL_SAFE_NO_PAD.encode(bytes));
        let mut version2 = raw.clone();
        version2[0] = 2;
        let mut bad_flags = raw.clone();
        bad_flags[57] |= 0x80;
        let mut trailing = raw.clone();
        trailing.push(0);
        for bad in [
            String::new(),
            "K7QF3M9XW2PA".into(),
            format!("BL2.{payload}.{signature}"),
            format!("BL1.{payload}"),
            format!("BL1.{payload}.{signature}.x"),
            format!("BL1.{payload}=.{signature}"),
            format!("BL1.{payload}.{}", &signature[..40]),
            format!("BL1.{payload}.{signature}A"),
            with(&version2),
            with(&bad_flags),
            with(&trailing),
            with(&raw[..raw.len() - 1]),
            with(&raw[..20]),
            with(&[]),
        ] {
            assert!(matches!(verify(&bad, &keys), Err(VerifyError::Malformed(_))), "{bad:?}");
        }
        // Surrounding whitespace from a scanner is tolerated.
        assert!(verify(&format!(" {qr}\n"), &keys).is_ok());
    }

    #[test]
    fn size_stays_small() {
        let key = OrgSigningKey::generate();
        let qr = key.sign(&claims()).unwrap();
        assert_eq!(qr.len(), 197, "{qr}");
        let no_time = key.sign(&TicketClaims { valid_from: None, ..claims() }).unwrap();
        assert!(no_time.len() < 190, "{}", no_time.len());
        let longest = key.sign(&TicketClaims { code: "X".repeat(MAX_CODE_LEN), ..claims() }).unwrap();
        assert!(longest.len() < 270, "{}", longest.len());
        assert_eq!(key.sign(&TicketClaims { code: "X".repeat(MAX_CODE_LEN + 1), ..claims() }), Err(ClaimsError::CodeLength));
        assert_eq!(key.sign(&TicketClaims { code: String::new(), ..claims() }), Err(ClaimsError::CodeLength));
    }

    #[test]
    fn keys_serialize_and_publish() {
        let key = OrgSigningKey::generate();
        let restored = OrgSigningKey::from_bytes(&key.to_bytes());
        assert_eq!(restored.verifying_key(), key.verifying_key());
        assert!(OrgSigningKey::from_slice(&key.to_bytes()[..31]).is_none());
        assert_eq!(OrgSigningKey::from_slice(&key.to_bytes()).unwrap().key_id(), key.key_id());
        assert_eq!(key.key_id().len(), 16);
        assert!(!format!("{key:?}").contains(&hex::encode(key.to_bytes())));

        let jwk = key.public_jwk();
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(json["kty"], "OKP");
        assert_eq!(json["crv"], "Ed25519");
        assert_eq!(json["alg"], "EdDSA");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["kid"], key.key_id());
        assert_eq!(json["x"], key.public_key_b64());
        assert_eq!(key.public_key_b64().len(), 43);
        // A scanner rebuilds the key from the published JSON and verifies with it.
        let parsed: PublicJwk = serde_json::from_value(json).unwrap();
        let qr = key.sign(&claims()).unwrap();
        assert!(verify(&qr, &[parsed.verifying_key().unwrap()]).is_ok());
        assert!(PublicJwk { kid: "0000000000000000".into(), ..parsed.clone() }.verifying_key().is_none());
        assert!(PublicJwk { crv: "X25519".into(), ..parsed }.verifying_key().is_none());
    }
}
