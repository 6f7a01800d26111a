//! Request and response types of the payments API.

use chrono::{DateTime, Utc};
use kernel::id::OrgId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{
    EntryKind, LedgerTransactionId, PaymentId, PaymentStatus, ProviderKind, RefundId, RefundStatus, SubscriptionId,
};
use crate::provider::Flow;

// The patterns below mirror the server's checks and are valid in both ECMA-262 and Python
// `re`. `[^\s\x85]` is "not whitespace": the server trims what Rust calls whitespace, which
// is ECMA's `\s` plus U+0085. Texts the server counts in bytes (URLs, emails) are limited to
// ASCII so that `maxLength` (characters) bounds the bytes too.

/// Create (or confirm) a payment for a reference. `Idempotency-Key` header required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessPayment {
    /// What is paid for: `booking:<booking id>` (`subscription:` references exist but are
    /// never paid here: `404`).
    #[schema(min_length = 1, max_length = 200, pattern = "^(booking|subscription):[\\s\\S]*[^\\s\\x85]")]
    pub reference: String,
    /// The amount due in minor units; optional, but when given it must match.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub amount: Option<i64>,
    /// ISO 4217 (any case); optional, but when given it must match the order's currency.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    pub currency: Option<String>,
    /// `offline` records money received outside the system (staff and above); otherwise
    /// the organization's provider is used (and `free` for zero amounts).
    pub provider: Option<ProviderKind>,
    /// `intent` (default; API clients) or `checkout` (redirect to a hosted page).
    pub flow: Option<Flow>,
    /// Test provider: a test card number. Stripe: a PaymentMethod id (`pm_…`) from Stripe.js.
    #[schema(max_length = 255)]
    pub payment_method: Option<String>,
    /// Completes a payment waiting for authentication (test provider): `succeeded` or `failed`.
    #[schema(value_type = Option<PaymentAuthentication>)]
    pub authentication: Option<String>,
    /// The booking token, for buyers who are not signed in.
    pub token: Option<String>,
    /// Checkout: where the hosted page sends the buyer back (an absolute `http(s)` URL).
    #[schema(max_length = 2000, pattern = "^https?://[\\x20-\\x7e]+$")]
    pub success_url: Option<String>,
    /// Checkout: where the hosted page sends a buyer who gives up (an absolute `http(s)` URL).
    #[schema(max_length = 2000, pattern = "^https?://[\\x20-\\x7e]+$")]
    pub cancel_url: Option<String>,
    /// Offline: the bank-transfer or receipt reference.
    #[schema(max_length = 200)]
    pub offline_reference: Option<String>,
}

/// How the buyer's authentication (3-D Secure) ended (test provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentAuthentication {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub amount: i64,
    pub currency: String,
    pub status: RefundStatus,
    pub reason: Option<String>,
    /// What the refund gives back (ticket ids for a booking); empty for a money-only refund.
    pub items: Vec<String>,
    pub provider_refund_id: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub org_id: OrgId,
    pub reference: String,
    pub event_id: Option<Uuid>,
    pub provider: ProviderKind,
    pub flow: String,
    pub status: PaymentStatus,
    pub amount: i64,
    pub currency: String,
    pub refunded_amount: i64,
    pub fee: i64,
    /// Test-mode money (test provider, Stripe test keys): never counted as revenue.
    pub test_mode: bool,
    pub description: String,
    pub buyer_email: String,
    pub provider_payment_id: Option<String>,
    /// Checkout flow: send the buyer here.
    pub checkout_url: Option<String>,
    /// `requires_action`: what the buyer must do.
    #[schema(value_type = Option<Object>)]
    pub next_action: Option<serde_json::Value>,
    /// Stripe intents: the client secret for Stripe.js (only in the answer that created it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub offline_reference: Option<String>,
    /// Money taken for a reference another payment had already paid (a card payment that
    /// succeeded after "mark paid" superseded it): refunded automatically.
    pub duplicate: bool,
    pub refunds: Vec<Refund>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Refund a payment, fully (no amount) or partly.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// Minor units; at most what is left to refund. Absent: everything left, or with
    /// `items` their price.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub amount: Option<i64>,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// What is given back, as the reference's owner names it: for a `booking:` reference,
    /// ticket ids. Those tickets are cancelled and their seats freed once the refund went
    /// through. `amount` defaults to their price and may be lower (keeping a fee), never
    /// higher. Without items a partial refund is money only (goodwill, a price change).
    /// Absent rather than empty; each named once.
    #[schema(value_type = Option<std::collections::BTreeSet<String>>, min_items = 1, max_items = 500)]
    pub items: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// An organization (members see its payments); absent: your own payments.
    pub org_id: Option<OrgId>,
    #[param(value_type = Option<PaymentStatus>)]
    pub status: Option<String>,
    pub reference: Option<String>,
    #[param(value_type = Option<ProviderKind>)]
    pub provider: Option<String>,
    pub test_mode: Option<bool>,
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The booking token, for buyers who are not signed in.
    pub token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerLine {
    pub account: String,
    /// Debit positive, credit negative; the lines of a transaction sum to zero.
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerTransaction {
    pub id: LedgerTransactionId,
    pub org_id: OrgId,
    pub kind: EntryKind,
    pub currency: String,
    pub payment_id: Option<PaymentId>,
    pub refund_id: Option<RefundId>,
    pub event_id: Option<Uuid>,
    pub test_mode: bool,
    pub memo: String,
    pub lines: Vec<LedgerLine>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Required.
    #[param(required = true)]
    pub org_id: Option<OrgId>,
    /// ISO 4217 (any case).
    #[param(pattern = "^[A-Za-z]{3}$")]
    pub currency: Option<String>,
    pub event_id: Option<Uuid>,
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SettlementQuery {
    /// Required.
    #[param(required = true)]
    pub org_id: Option<OrgId>,
    /// One event; absent: the whole organization.
    pub event_id: Option<Uuid>,
}

/// Money of one currency: gross sales, refunds, provider fees, net (gross − refunds − fees),
/// the number of charges, and what the provider paid out to the bank (organization-wide
/// only: payouts belong to no event).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SettlementLine {
    pub currency: String,
    pub gross: i64,
    pub refunds: i64,
    pub fees: i64,
    pub net: i64,
    pub payments: i64,
    pub payouts: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Settlement {
    pub org_id: OrgId,
    pub event_id: Option<Uuid>,
    /// Real money, per currency.
    pub revenue: Vec<SettlementLine>,
    /// Test-mode money (never revenue), per currency.
    pub test_mode: Vec<SettlementLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentSettings {
    pub org_id: OrgId,
    /// `test` or `stripe`.
    pub provider: ProviderKind,
    pub offline_enabled: bool,
    /// Stripe Connect: the organization's connected account (`acct_…`); payments, refunds
    /// and subscriptions are made on it and its payouts are booked to this organization.
    /// `null`: the server's own Stripe account.
    pub stripe_account: Option<String>,
    /// Whether this server has Stripe keys configured.
    pub stripe_available: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePaymentSettings {
    /// `stripe` or `test` (`free` and `offline` are chosen per payment).
    #[schema(value_type = Option<SettingsProvider>)]
    pub provider: Option<ProviderKind>,
    pub offline_enabled: Option<bool>,
    /// A Stripe connected account id (`acct_…`), `""` to go back to the server's own
    /// account. Platform administrators only (they onboard the accounts); one organization
    /// per account.
    #[schema(max_length = 255, pattern = "^(acct_[A-Za-z0-9]+)?$")]
    pub stripe_account: Option<String>,
}

/// The providers an organization can choose for its payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SettingsProvider {
    Stripe,
    Test,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    pub org_id: OrgId,
    /// An address with an `@` inside (ASCII).
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = "^[\\x21-\\x3f\\x41-\\x7e][\\x20-\\x7e]*@[\\x20-\\x7e]*[\\x21-\\x3f\\x41-\\x7e]$"
    )]
    pub customer_email: String,
    /// The tier: `Fan club gold`, `Season pass 2030`.
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\x85]")]
    pub name: String,
    /// Minor units, per interval.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub amount: i64,
    /// ISO 4217 (any case).
    #[schema(pattern = "^[A-Za-z]{3}$")]
    pub currency: String,
    /// `day`, `week`, `month` or `year`.
    #[schema(value_type = SubscriptionInterval)]
    pub interval: String,
    #[schema(max_length = 255)]
    pub payment_method: Option<String>,
    /// What the subscription is for, `<kind>:<id>` (`kind`: lowercase letters and `_`).
    #[schema(min_length = 1, max_length = 200, pattern = "^[a-z_]+:[\\s\\S]*[^\\s\\x85]")]
    pub reference: Option<String>,
}

/// How often a subscription is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionInterval {
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub org_id: OrgId,
    pub provider: ProviderKind,
    pub provider_subscription_id: Option<String>,
    pub provider_customer_id: Option<String>,
    pub customer_email: String,
    pub name: String,
    pub amount: i64,
    pub currency: String,
    pub interval: String,
    pub status: String,
    pub reference: Option<String>,
    pub test_mode: bool,
    pub canceled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// The event was delivered before; it had no second effect.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconcileQuery {
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Mismatch {
    pub payment_id: PaymentId,
    pub reference: String,
    pub payment_status: PaymentStatus,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ReconcileReport {
    /// Payments looked at.
    pub checked: i64,
    /// In-flight payments the provider reported succeeded (or failed) and were settled.
    pub fixed: i64,
    /// Paid payments whose reference was not settled: `payment.succeeded` re-published.
    pub republished: i64,
    pub mismatches: Vec<Mismatch>,
}
