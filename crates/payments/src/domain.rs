//! Payment rules without I/O: money and currency checks, payment and refund states, references,
//! the test provider's card numbers, Stripe webhook signatures, and the ledger's double entries.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use kernel::AppError;
use kernel::money::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

kernel::typed_id!(
    /// A payment against a reference.
    PaymentId
);
kernel::typed_id!(
    /// A refund of (part of) a payment.
    RefundId
);
kernel::typed_id!(
    /// A ledger transaction (balanced lines).
    LedgerTransactionId
);
kernel::typed_id!(
    /// A recurring payment (membership, season pass, fan-club tier).
    SubscriptionId
);

/// The largest amount accepted in one payment, in minor units (10 million in major units).
pub const AMOUNT_MAX: i64 = 1_000_000_000;
pub const REFERENCE_MAX: usize = 200;
pub const TEXT_MAX: usize = 500;
/// A Stripe connected account id: `acct_` and letters or digits; `""` (blank) is none.
pub fn stripe_account(field: &str, raw: &str) -> Result<Option<String>, AppError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let ok =
        s.len() <= 255 && s.strip_prefix("acct_").is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok { Ok(Some(s.to_string())) } else { Err(AppError::validation(field, "must be a Stripe account id (acct_…)")) }
}

/// Most items one refund may name.
pub const REFUND_ITEMS_MAX: usize = 500;

/// Which provider moves the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Stripe, over its HTTP API.
    Stripe,
    /// The development provider: Stripe-like test cards, always test mode, never revenue.
    Test,
    /// Zero-price orders.
    Free,
    /// Bank transfer or pay at the door: staff record the payment received.
    Offline,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Stripe => "stripe",
            ProviderKind::Test => "test",
            ProviderKind::Free => "free",
            ProviderKind::Offline => "offline",
        }
    }
    pub fn parse(s: &str) -> Option<ProviderKind> {
        Some(match s {
            "stripe" => ProviderKind::Stripe,
            "test" => ProviderKind::Test,
            "free" => ProviderKind::Free,
            "offline" => ProviderKind::Offline,
            _ => return None,
        })
    }
}

impl TryFrom<String> for ProviderKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ProviderKind::parse(&s).ok_or_else(|| format!("unknown provider {s}"))
    }
}

/// The life of a payment:
/// `processing` → `succeeded` | `failed` | `requires_action`; `requires_action` →
/// `succeeded` | `failed`; `succeeded` → `partially_refunded` → `refunded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Created; waiting for the provider (or for the buyer at a hosted checkout).
    Processing,
    /// The buyer must authenticate (3-D Secure) before the charge can go through.
    RequiresAction,
    Succeeded,
    Failed,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Processing => "processing",
            PaymentStatus::RequiresAction => "requires_action",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
        }
    }
    pub fn parse(s: &str) -> Option<PaymentStatus> {
        Some(match s {
            "processing" => PaymentStatus::Processing,
            "requires_action" => PaymentStatus::RequiresAction,
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "partially_refunded" => PaymentStatus::PartiallyRefunded,
            "refunded" => PaymentStatus::Refunded,
            _ => return None,
        })
    }
    /// Money has not (yet) arrived: the provider may still report success.
    pub fn in_flight(self) -> bool {
        matches!(self, PaymentStatus::Processing | PaymentStatus::RequiresAction)
    }
    /// The charge went through (whatever was refunded since).
    pub fn captured(self) -> bool {
        matches!(self, PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded)
    }
    /// The status after `refunded` of `amount` has gone back.
    pub fn after_refunds(amount: i64, refunded: i64) -> PaymentStatus {
        if refunded >= amount {
            PaymentStatus::Refunded
        } else if refunded > 0 {
            PaymentStatus::PartiallyRefunded
        } else {
            PaymentStatus::Succeeded
        }
    }
}

impl TryFrom<String> for PaymentStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PaymentStatus::parse(&s).ok_or_else(|| format!("unknown payment status {s}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Queued; the refund job is (re)trying with the provider.
    Pending,
    Succeeded,
    /// The job ran out of attempts (it is dead-lettered; an operator can retry it).
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }
}

impl TryFrom<String> for RefundStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(match s.as_str() {
            "pending" => RefundStatus::Pending,
            "succeeded" => RefundStatus::Succeeded,
            "failed" => RefundStatus::Failed,
            _ => return Err(format!("unknown refund status {s}")),
        })
    }
}

/// An amount in minor units: positive and bounded.
pub fn amount(field: &str, v: i64) -> Result<i64, AppError> {
    if v <= 0 {
        return Err(AppError::validation(field, "must be a positive amount in minor units (cents)"));
    }
    if v > AMOUNT_MAX {
        return Err(AppError::validation(field, format!("must be at most {AMOUNT_MAX}")));
    }
    Ok(v)
}

/// A currency code: three letters, upper-cased. Not checked against the ISO 4217 list
/// ([`kernel::money::Currency`]): the API's schema promises only `^[A-Za-z]{3}$`, and a
/// request that matches its schema is not refused for its shape.
pub fn currency(field: &str, v: &str) -> Result<String, AppError> {
    let c = v.trim().to_ascii_uppercase();
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(AppError::validation(field, "must be a three-letter ISO 4217 currency code"));
    }
    Ok(c)
}

/// What is left of `amount` once `taken` has gone (`amount − taken…`), all in `currency`:
/// the refundable remainder of a payment, a settlement's net. Computed as [`Money`], so it
/// overflows into an error rather than wrapping. A code outside the kernel's ISO list (a
/// subscription may be billed in any three letters, see [`currency`]) has no `Money`; its
/// amounts are subtracted as checked integers with the same error.
pub fn left_of(currency: &str, amount: i64, taken: &[i64]) -> Result<i64, AppError> {
    let left = match Currency::from_code(currency) {
        Some(c) => Money::sum(c, taken.iter().map(|&t| Money::new(t, c)))
            .and_then(|t| Money::new(amount, c).checked_sub(t))
            .map(|left| left.amount),
        None => taken.iter().try_fold(amount, |left, &t| left.checked_sub(t)).ok_or(MoneyError::Overflow),
    };
    Ok(left?)
}

/// A reference `<kind>:<id>` naming what is paid for (e.g. `booking:0190…`).
pub fn reference(field: &str, v: &str) -> Result<(String, String), AppError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > REFERENCE_MAX {
        return Err(AppError::validation(field, format!("must be `<kind>:<id>`, at most {REFERENCE_MAX} characters")));
    }
    match v.split_once(':') {
        Some((kind, id)) if !kind.is_empty() && !id.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
            Ok((kind.to_string(), id.to_string()))
        }
        _ => Err(AppError::validation(field, "must be `<kind>:<id>`, e.g. `booking:<uuid>`")),
    }
}

/// Optional free text, trimmed and bounded.
pub fn text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(AppError::validation(field, format!("at most {max} characters"))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

// ---- the test provider ----------------------------------------------------------------------

/// What the test provider does with a card number (Stripe's documented test numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCard {
    Succeeds,
    Declined,
    InsufficientFunds,
    RequiresAction,
}

pub const TEST_CARD_SUCCESS: &str = "4242424242424242";
pub const TEST_CARD_DECLINED: &str = "4000000000000002";
pub const TEST_CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";
pub const TEST_CARD_REQUIRES_ACTION: &str = "4000002500003155";

pub fn test_card(number: &str) -> Option<TestCard> {
    let digits: String = number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    Some(match digits.as_str() {
        TEST_CARD_SUCCESS | "5555555555554444" | "pm_card_visa" => TestCard::Succeeds,
        TEST_CARD_DECLINED | "pm_card_chargeDeclined" => TestCard::Declined,
        TEST_CARD_INSUFFICIENT_FUNDS | "pm_card_chargeDeclinedInsufficientFunds" => TestCard::InsufficientFunds,
        TEST_CARD_REQUIRES_ACTION | "4000002760003184" | "pm_card_authenticationRequired" => TestCard::RequiresAction,
        _ => return None,
    })
}

/// The fee the test provider pretends to charge: 1.5 % + 25 minor units, rounded half up.
pub fn test_fee(amount: i64) -> i64 {
    if amount == 0 { 0 } else { (amount * 15 + 500) / 1000 + 25 }
}

// ---- Stripe webhook signatures ----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    OutsideTolerance,
    NoMatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "missing Stripe-Signature header",
            SignatureError::Malformed => "malformed Stripe-Signature header",
            SignatureError::OutsideTolerance => "signature timestamp outside the tolerance window",
            SignatureError::NoMatch => "no signature matches the payload",
        })
    }
}

/// The `v1` HMAC-SHA256 of `t.payload` under `secret`, hex-encoded (what Stripe sends).
pub fn stripe_signature(secret: &[u8], timestamp: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies a `Stripe-Signature` header (`t=…,v1=…[,v1=…]`): the timestamp within
/// `tolerance_secs` of `now`, and any `v1` matching any of `secrets` (rotation: several
/// secrets, several signatures). Comparison is constant-time.
pub fn verify_stripe_signature(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[&[u8]],
    tolerance_secs: i64,
    now: DateTime<Utc>,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else { return Err(SignatureError::Malformed) };
        match k {
            "t" => timestamp = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {} // v0 and future schemes are ignored
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // Checked: a forged `t` near i64::MIN/MAX must be refused, not overflow.
    match now.timestamp().checked_sub(t).map(i64::unsigned_abs) {
        Some(skew) if skew <= tolerance_secs.unsigned_abs() => {}
        _ => return Err(SignatureError::OutsideTolerance),
    }
    for secret in secrets {
        for sig in &signatures {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(payload);
            // `verify_slice` compares in constant time.
            if mac.verify_slice(sig).is_ok() {
                return Ok(t);
            }
        }
    }
    Err(SignatureError::NoMatch)
}

// ---- the ledger -------------------------------------------------------------------------------

/// Ledger accounts. Debits are positive, credits negative.
pub mod account {
    /// Money held for the organization at the provider (asset).
    pub const PROVIDER_BALANCE: &str = "provider_balance";
    /// Money received offline (cash, bank transfer) (asset).
    pub const CASH: &str = "cash";
    /// Sales (income; credit balance).
    pub const SALES: &str = "sales";
    /// Refunds given (contra-income; debit balance).
    pub const REFUNDS: &str = "refunds";
    /// Provider fees (expense).
    pub const FEES: &str = "fees";
    /// The organization's bank account (asset): payouts land here.
    pub const BANK: &str = "bank";
}

/// What a ledger transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Charge,
    Fee,
    Refund,
    Payout,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "charge",
            EntryKind::Fee => "fee",
            EntryKind::Refund => "refund",
            EntryKind::Payout => "payout",
        }
    }
}

/// The balanced lines of one entry: (account, signed amount).
pub fn entry_lines(kind: EntryKind, amount: i64, offline: bool) -> Vec<(&'static str, i64)> {
    let holding = if offline { account::CASH } else { account::PROVIDER_BALANCE };
    match kind {
        EntryKind::Charge => vec![(holding, amount), (account::SALES, -amount)],
        EntryKind::Fee => vec![(account::FEES, amount), (holding, -amount)],
        EntryKind::Refund => vec![(account::REFUNDS, amount), (holding, -amount)],
        EntryKind::Payout => vec![(account::BANK, amount), (account::PROVIDER_BALANCE, -amount)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_references_are_validated() {
        assert!(amount("amount", 0).is_err());
        assert!(amount("amount", -5).is_err());
        assert_eq!(amount("amount", 5).unwrap(), 5);
        assert_eq!(currency("currency", "eur").unwrap(), "EUR");
        assert!(currency("currency", "EURO").is_err());
        assert_eq!(reference("reference", "booking:abc").unwrap(), ("booking".into(), "abc".into()));
        assert!(reference("reference", "nope").is_err());
        assert!(reference("reference", ":x").is_err());
        // The limit counts characters, not bytes.
        assert!(reference("reference", &format!("booking:{}", "é".repeat(REFERENCE_MAX - 8))).is_ok());
        assert!(reference("reference", &format!("booking:{}", "é".repeat(REFERENCE_MAX - 7))).is_err());
    }

    #[test]
    fn what_is_left_is_checked() {
        assert_eq!(left_of("EUR", 5000, &[1000, 1500]).unwrap(), 2500);
        assert_eq!(left_of("EUR", 0, &[-300]).unwrap(), 300);
        // Payments takes any three letters; the kernel's list does not know this one.
        assert_eq!(left_of("ABC", 100, &[40]).unwrap(), 60);
        for code in ["EUR", "ABC"] {
            assert!(left_of(code, i64::MIN, &[1]).is_err(), "{code}");
        }
    }

    #[test]
    fn stripe_accounts_are_validated() {
        assert_eq!(stripe_account("a", " acct_1Abc ").unwrap().as_deref(), Some("acct_1Abc"));
        assert_eq!(stripe_account("a", "  ").unwrap(), None);
        for bad in ["acct_", "acct_a-b", "cus_1", "acct_1 2"] {
            assert!(stripe_account("a", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_entry_balances() {
        for kind in [EntryKind::Charge, EntryKind::Fee, EntryKind::Refund, EntryKind::Payout] {
            for offline in [false, true] {
                assert_eq!(entry_lines(kind, 1234, offline).iter().map(|l| l.1).sum::<i64>(), 0);
            }
        }
        assert_eq!(test_fee(5000), 100);
    }

    #[test]
    fn status_after_refunds() {
        assert_eq!(PaymentStatus::after_refunds(100, 0), PaymentStatus::Succeeded);
        assert_eq!(PaymentStatus::after_refunds(100, 40), PaymentStatus::PartiallyRefunded);
        assert_eq!(PaymentStatus::after_refunds(100, 100), PaymentStatus::Refunded);
    }

    #[test]
    fn stripe_signatures_verify_with_tolerance_and_rotation() {
        let now = Utc::now();
        let t = now.timestamp();
        let body = br#"{"id":"evt_1"}"#;
        let good = stripe_signature(b"whsec_new", t, body);
        let old = stripe_signature(b"whsec_old", t, body);
        let header = format!("t={t},v1={good}");
        assert_eq!(verify_stripe_signature(Some(&header), body, &[b"whsec_new"], 300, now), Ok(t));
        // Rotation: the header carries both signatures, the server knows either secret.
        let both = format!("t={t},v1={old},v1={good}");
        assert!(verify_stripe_signature(Some(&both), body, &[b"whsec_old"], 300, now).is_ok());
        assert!(verify_stripe_signature(Some(&header), body, &[b"whsec_old", b"whsec_new"], 300, now).is_ok());
        assert_eq!(verify_stripe_signature(Some(&header), body, &[b"whsec_other"], 300, now), Err(SignatureError::NoMatch));
        assert_eq!(
            verify_stripe_signature(Some(&header), br#"{"id":"evt_2"}"#, &[b"whsec_new"], 300, now),
            Err(SignatureError::NoMatch)
        );
        let stale = format!("t={},v1={}", t - 301, stripe_signature(b"whsec_new", t - 301, body));
        assert_eq!(verify_stripe_signature(Some(&stale), body, &[b"whsec_new"], 300, now), Err(SignatureError::OutsideTolerance));
        assert_eq!(verify_stripe_signature(None, body, &[b"x"], 300, now), Err(SignatureError::Missing));
        assert_eq!(verify_stripe_signature(Some("garbage"), body, &[b"x"], 300, now), Err(SignatureError::Malformed));
        // Timestamps at the ends of the range are refused, not overflowed.
        for t in [i64::MIN, i64::MAX] {
            let extreme = format!("t={t},v1={good}");
            assert_eq!(
                verify_stripe_signature(Some(&extreme), body, &[b"whsec_new"], 300, now),
                Err(SignatureError::OutsideTolerance)
            );
        }
    }
}
