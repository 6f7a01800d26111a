//! Payment providers behind one trait. The service picks one per payment: the
//! organization's configured provider (`stripe` or `test`), `free` for zero amounts, and
//! `offline` when staff record money received outside the system.
//!
//! Providers are stateless adapters: the payment row (written before the provider is called,
//! with its id as the provider's idempotency key) is the source of truth on our side.

pub mod stripe;
pub mod test;

use kernel::id::OrgId;
use serde_json::Value;

use crate::domain::{PaymentId, ProviderKind, RefundId, SubscriptionId};

/// How the buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// API clients: a payment (Stripe PaymentIntent) confirmed with a payment method.
    Intent,
    /// Web checkout: the buyer is redirected to a hosted page (Stripe Checkout Session).
    Checkout,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Intent => "intent",
            Flow::Checkout => "checkout",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub payment_id: PaymentId,
    pub org_id: OrgId,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub buyer_email: String,
    /// A card number (test provider) or a provider payment-method id (`pm_…`).
    pub payment_method: Option<String>,
    pub flow: Flow,
    pub success_url: String,
    pub cancel_url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChargeStatus {
    Succeeded,
    Failed {
        code: String,
        message: String,
    },
    RequiresAction {
        next_action: Value,
    },
    /// Waiting: for the provider, or for the buyer (hosted checkout, client-side confirmation).
    Processing,
}

#[derive(Debug, Clone)]
pub struct ChargeOutcome {
    pub provider_payment_id: Option<String>,
    pub status: ChargeStatus,
    /// The provider's fee, when known (minor units).
    pub fee: i64,
    pub checkout_url: Option<String>,
    /// Test-mode money: never counted as revenue.
    pub test_mode: bool,
    /// Extra data for the client (Stripe: the PaymentIntent's client secret).
    pub client_data: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    pub provider_payment_id: Option<String>,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone)]
pub struct RefundOutcome {
    pub provider_refund_id: String,
}

#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    pub subscription_id: SubscriptionId,
    pub org_id: OrgId,
    pub customer_email: String,
    pub name: String,
    pub amount: i64,
    pub currency: String,
    pub interval: String,
    pub payment_method: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SubscriptionOutcome {
    pub provider_subscription_id: String,
    pub provider_customer_id: Option<String>,
    pub status: String,
    pub test_mode: bool,
    /// The first period's invoice, when the provider says at once that it was paid (the
    /// test provider). Stripe's invoices arrive as `invoice.paid` webhooks.
    pub first_invoice: Option<InvoicePaid>,
}

/// A paid subscription invoice: booked as a payment of its own (flow `subscription`).
#[derive(Debug, Clone)]
pub struct InvoicePaid {
    /// The provider's id for the money (Stripe: the invoice's PaymentIntent, else the
    /// invoice); one payment per id.
    pub provider_payment_id: String,
    pub invoice_id: String,
    pub amount: i64,
    pub currency: String,
    pub fee: i64,
}

/// A provider call that did not work. `retryable`: a transport error or a provider 5xx /
/// 429 (the same idempotency key may be sent again); otherwise the request was refused.
#[derive(Debug, Clone)]
pub struct ProviderError {
    pub retryable: bool,
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "provider answered {s}: {}", self.message),
            None => write!(f, "provider unreachable: {}", self.message),
        }
    }
}

impl std::error::Error for ProviderError {}

impl ProviderError {
    pub fn refused(message: impl Into<String>) -> ProviderError {
        ProviderError { retryable: false, status: None, message: message.into() }
    }
}

pub type ProviderResult<T> = Result<T, ProviderError>;

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Creates (and, with a payment method, confirms) a payment.
    async fn charge(&self, req: &ChargeRequest) -> ProviderResult<ChargeOutcome>;

    /// Completes a payment waiting for the buyer's authentication. Only the test provider
    /// does this server-side; Stripe's buyers authenticate with Stripe.js.
    async fn authenticate(&self, _provider_payment_id: &str, _success: bool) -> ProviderResult<ChargeOutcome> {
        Err(ProviderError::refused("this provider completes authentication in the buyer's browser"))
    }

    /// The provider's current view of a payment (reconciliation).
    async fn retrieve(&self, provider_payment_id: &str) -> ProviderResult<ChargeOutcome>;

    /// A payment whose provider id we never learnt (the process stopped between recording
    /// the attempt and hearing the provider's answer), found by our payment id. `None`: the
    /// provider has no such payment, so the charge never reached it. `created_after`: a Unix
    /// time before the attempt began, bounding the search.
    async fn find(&self, _payment_id: PaymentId, _flow: &str, _created_after: i64) -> ProviderResult<Option<ChargeOutcome>> {
        // Providers that charge in-process (free, offline, test) have nothing outside us to
        // ask: an attempt that left no answer did not charge.
        Ok(None)
    }

    async fn refund(&self, req: &RefundRequest) -> ProviderResult<RefundOutcome>;

    async fn subscribe(&self, _req: &SubscriptionRequest) -> ProviderResult<SubscriptionOutcome> {
        Err(ProviderError::refused("this provider has no subscriptions"))
    }

    async fn cancel_subscription(&self, _provider_subscription_id: &str) -> ProviderResult<SubscriptionOutcome> {
        Err(ProviderError::refused("this provider has no subscriptions"))
    }
}

/// Zero-amount payments: succeed at once, move no money.
pub struct FreeProvider;

#[async_trait::async_trait]
impl PaymentProvider for FreeProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Free
    }
    async fn charge(&self, req: &ChargeRequest) -> ProviderResult<ChargeOutcome> {
        if req.amount != 0 {
            return Err(ProviderError::refused("the free provider takes zero amounts only"));
        }
        Ok(ChargeOutcome {
            provider_payment_id: None,
            status: ChargeStatus::Succeeded,
            fee: 0,
            checkout_url: None,
            test_mode: false,
            client_data: None,
        })
    }
    async fn retrieve(&self, _id: &str) -> ProviderResult<ChargeOutcome> {
        Err(ProviderError::refused("nothing to retrieve"))
    }
    async fn refund(&self, _req: &RefundRequest) -> ProviderResult<RefundOutcome> {
        Err(ProviderError::refused("nothing to refund"))
    }
}

/// Money received outside the system (bank transfer, cash at the door), recorded by staff.
/// Refunds are paid back outside the system too; recording one succeeds at once.
pub struct OfflineProvider;

#[async_trait::async_trait]
impl PaymentProvider for OfflineProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Offline
    }
    async fn charge(&self, _req: &ChargeRequest) -> ProviderResult<ChargeOutcome> {
        Ok(ChargeOutcome {
            provider_payment_id: None,
            status: ChargeStatus::Succeeded,
            fee: 0,
            checkout_url: None,
            test_mode: false,
            client_data: None,
        })
    }
    async fn retrieve(&self, _id: &str) -> ProviderResult<ChargeOutcome> {
        Err(ProviderError::refused("offline payments are recorded, not retrieved"))
    }
    async fn refund(&self, req: &RefundRequest) -> ProviderResult<RefundOutcome> {
        Ok(RefundOutcome { provider_refund_id: format!("offline_{}", req.refund_id.0.simple()) })
    }
}
