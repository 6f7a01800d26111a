//! Payment use cases. Every change runs in one transaction with its audit record, its
//! ledger lines and its domain events; provider calls happen outside transactions, between
//! a write that records the intent (the payment or refund row, whose id is the provider's
//! idempotency key) and a conditional write that records the outcome.
//!
//! Access: a payment is visible to members of its organization (viewer and above) and to
//! whoever can see its reference (the buyer: signed in, or with the booking token).
//! Refunds, offline payments, subscriptions and settings need staff (settings: admin).
//! Anything a caller may not see is a `404`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use chrono::TimeDelta;
use kernel::audit::{self, AuditEntry};
use kernel::auth::{OrgAccess, OrgScope, Principal, Role};
use kernel::id::OrgId;
use kernel::jobs::Topic;
use kernel::pagination::{Page, PageParams};
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Db, Kernel, Tx};
use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::types::Json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::PaymentsConfig;
use crate::domain::{self, EntryKind, LedgerTransactionId, PaymentId, PaymentStatus, ProviderKind, RefundId, RefundStatus};
use crate::events::{
    PAYMENT_FAILED, PAYMENT_PROCESSED, PAYMENT_REFUND_FAILED, PAYMENT_REFUNDED, PAYMENT_SUCCEEDED, PaymentRefunded,
    PaymentSnapshot, RefundFailed,
};
use crate::model::*;
use crate::provider::stripe::StripeProvider;
use crate::provider::test::TestProvider;
use crate::provider::{
    ChargeOutcome, ChargeRequest, ChargeStatus, FreeProvider, InvoicePaid, OfflineProvider, PaymentProvider, ProviderError,
    RefundRequest, SubscriptionRequest,
};
use crate::store::{self, PaymentRecord, RefundRecord, SubscriptionRecord};

mod ledger;
mod process;
mod reconcile;
mod refunds;
mod subscriptions;
mod webhooks;

/// The reference kind (and payment flow) of subscription invoices.
pub const SUBSCRIPTION: &str = "subscription";

pub use refunds::{REFUND_JOB, RefundJob};

/// Whether a reference can be paid now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayableState {
    /// Waiting for payment.
    Open,
    /// Paid (confirmed).
    Settled,
    /// Can no longer be paid (expired, cancelled).
    Closed,
}

/// What the owner of a reference says is due.
#[derive(Debug, Clone)]
pub struct Payable {
    pub org_id: OrgId,
    pub amount: i64,
    pub currency: String,
    pub state: PayableState,
    pub description: String,
    pub buyer_email: String,
    /// The event the money belongs to, for the settlement report.
    pub event_id: Option<Uuid>,
}

/// Who is asking about a reference.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A job or sweep: no access check.
    System,
    /// A request, with its principal and the booking token it carried.
    Request { principal: Option<&'a Principal>, token: Option<&'a str> },
}

/// Implemented by the context that owns a kind of reference (ticketing: `booking`).
#[async_trait::async_trait]
pub trait Payables: Send + Sync {
    /// What is due for `id` (the part after `kind:`); `None` if there is no such thing or the
    /// caller may not see it.
    async fn resolve(&self, caller: Caller<'_>, id: &str) -> AppResult<Option<Payable>>;

    /// The price of some items of `id` (for a booking: ticket ids) for a refund that gives
    /// them back, with the items in their canonical spelling (what is stored, compared and
    /// sent back in `payment.refunded`); a `422` naming `items` or `items[i]` when one
    /// cannot be given back.
    async fn price_items(&self, _id: &str, _items: &[String]) -> AppResult<(i64, Vec<String>)> {
        Err(AppError::validation("items", "this kind of reference has no items to give back"))
    }
}

pub struct PaymentsService {
    pub(crate) kernel: Arc<Kernel>,
    access: Arc<dyn OrgAccess>,
    payables: RwLock<HashMap<String, Arc<dyn Payables>>>,
    test: Arc<dyn PaymentProvider>,
    stripe: Option<Arc<StripeProvider>>,
    stripe_test_mode: bool,
    pub(crate) config: PaymentsConfig,
}

/// `subscription:<id>` references, the payments context's own: what its invoices were paid
/// for. Settled while the subscription runs; never paid through `process` (the provider
/// bills it), so requests see nothing.
struct SubscriptionPayables(Weak<PaymentsService>);

#[async_trait::async_trait]
impl Payables for SubscriptionPayables {
    async fn resolve(&self, caller: Caller<'_>, id: &str) -> AppResult<Option<Payable>> {
        let (Caller::System, Ok(id), Some(svc)) = (caller, id.parse::<Uuid>(), self.0.upgrade()) else { return Ok(None) };
        let Some(sub) = store::find_subscription(svc.db(), crate::domain::SubscriptionId(id)).await? else { return Ok(None) };
        Ok(Some(Payable {
            org_id: sub.org_id,
            amount: sub.amount,
            currency: sub.currency,
            state: if sub.status == "canceled" { PayableState::Closed } else { PayableState::Settled },
            description: sub.name,
            buyer_email: sub.customer_email,
            event_id: None,
        }))
    }
}

/// What a Stripe event needs read from Stripe before it is applied ([`PaymentsService::stripe_reads`]).
#[derive(Default)]
struct StripeReads {
    /// The provider's fee of the charge an event settles.
    fee: i64,
    /// A refunded charge's refunds, when the event does not list them.
    refunds: Option<Vec<crate::provider::stripe::event::Refund>>,
}

fn payment_view(p: PaymentRecord, refunds: Vec<RefundRecord>) -> Payment {
    Payment {
        id: p.id,
        org_id: p.org_id,
        reference: p.reference,
        event_id: p.event_id,
        provider: p.provider,
        flow: p.flow,
        status: p.status,
        amount: p.amount,
        currency: p.currency,
        refunded_amount: p.refunded_amount,
        fee: p.fee,
        test_mode: p.test_mode,
        description: p.description,
        buyer_email: p.buyer_email,
        provider_payment_id: p.provider_payment_id,
        checkout_url: p.checkout_url,
        next_action: p.next_action.map(|j| j.0),
        client_secret: None,
        failure_code: p.failure_code,
        failure_message: p.failure_message,
        offline_reference: p.offline_reference,
        duplicate: p.duplicate,
        refunds: refunds.into_iter().map(refund_view).collect(),
        succeeded_at: p.succeeded_at,
        failed_at: p.failed_at,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

fn refund_view(r: RefundRecord) -> Refund {
    Refund {
        id: r.id,
        payment_id: r.payment_id,
        amount: r.amount,
        currency: r.currency,
        status: r.status,
        reason: r.reason,
        items: r.items.0,
        provider_refund_id: r.provider_refund_id,
        attempts: r.attempts,
        last_error: r.last_error,
        succeeded_at: r.succeeded_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn subscription_view(s: SubscriptionRecord) -> Subscription {
    Subscription {
        id: s.id,
        org_id: s.org_id,
        provider: s.provider,
        provider_subscription_id: s.provider_subscription_id,
        provider_customer_id: s.provider_customer_id,
        customer_email: s.customer_email,
        name: s.name,
        amount: s.amount,
        currency: s.currency,
        interval: s.billing_interval,
        status: s.status,
        reference: s.reference,
        test_mode: s.test_mode,
        canceled_at: s.canceled_at,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// The payment as every `payment.*` event carries it.
fn snapshot(p: &PaymentRecord) -> PaymentSnapshot {
    PaymentSnapshot {
        payment_id: p.id,
        org_id: p.org_id,
        reference: p.reference.clone(),
        event_id: p.event_id,
        provider: p.provider,
        status: p.status,
        amount: p.amount,
        currency: p.currency.clone(),
        refunded_amount: p.refunded_amount,
        fee: p.fee,
        test_mode: p.test_mode,
        buyer_email: p.buyer_email.clone(),
        duplicate: p.duplicate,
        owner_settled: false,
    }
}

/// An organization's payment settings.
struct OrgPayments {
    provider: ProviderKind,
    offline_enabled: bool,
    stripe_account: Option<String>,
    updated_at: Option<Timestamp>,
}

/// What a ledger transaction belongs to.
struct EntryOf<'a> {
    scope: &'a OrgScope,
    currency: &'a str,
    payment_id: Option<PaymentId>,
    refund_id: Option<RefundId>,
    event_id: Option<Uuid>,
    test_mode: bool,
    /// Money held as cash (offline payments) rather than at the provider.
    offline: bool,
    memo: String,
}

/// One ledger transaction of a payment: what it records, and the `source` that makes it
/// written once.
struct Entry<'a> {
    kind: EntryKind,
    amount: i64,
    refund: Option<RefundId>,
    source: &'a str,
    memo: &'a str,
}

/// Writes one balanced ledger transaction, once per kind and `source`; `false` when it
/// was written before (or the amount is 0).
async fn post_ledger(tx: &mut Tx<'_>, of: &EntryOf<'_>, kind: EntryKind, amount: i64, source: &str) -> AppResult<bool> {
    if amount == 0 {
        return Ok(false);
    }
    let at = now();
    let t = store::LedgerTxRecord {
        id: LedgerTransactionId::new(),
        org_id: of.scope.org(),
        kind: kind.as_str().to_string(),
        currency: of.currency.to_string(),
        payment_id: of.payment_id,
        refund_id: of.refund_id,
        event_id: of.event_id,
        test_mode: of.test_mode,
        memo: of.memo.clone(),
        created_at: at,
    };
    if !store::insert_ledger_tx(tx, of.scope, &t, source).await? {
        return Ok(false);
    }
    for (account, signed) in domain::entry_lines(kind, amount, of.offline) {
        store::insert_ledger_line(tx, of.scope, t.id, account, signed, of.currency, at).await?;
    }
    Ok(true)
}

fn actor_of(p: Option<&Principal>) -> String {
    p.map(Principal::actor).unwrap_or_else(|| "anonymous".into())
}

fn provider_error(e: ProviderError) -> AppError {
    if e.retryable {
        tracing::warn!(error = %e, "payment provider unavailable");
        AppError::Unavailable { message: "the payment provider is unavailable; try again".into() }
    } else {
        AppError::bad_request("provider_refused", format!("the payment provider refused: {}", e.message))
    }
}

impl PaymentsService {
    /// Builds the service and registers its refund job handler.
    pub fn new(kernel: Arc<Kernel>, access: Arc<dyn OrgAccess>) -> anyhow::Result<Arc<PaymentsService>> {
        let cfg: PaymentsConfig = kernel.config.section()?;
        let stripe = match &cfg.stripe_api_key {
            Some(key) => Some(Arc::new(StripeProvider::new(&cfg.stripe_base_url, key.clone(), &cfg.stripe_version)?)),
            None => None,
        };
        let stripe_test_mode = cfg.stripe_api_key.as_ref().is_some_and(|k| k.expose_secret().contains("_test_"));
        Ok(Arc::new_cyclic(|me: &Weak<PaymentsService>| {
            let svc = me.clone();
            kernel.jobs.handle(&REFUND_JOB, move |job: RefundJob| {
                let svc = svc.clone();
                async move {
                    let svc = svc.upgrade().ok_or_else(|| anyhow::anyhow!("payments service stopped"))?;
                    svc.execute_refund(job.refund_id).await
                }
            });
            let own: Arc<dyn Payables> = Arc::new(SubscriptionPayables(me.clone()));
            PaymentsService {
                kernel,
                access,
                payables: RwLock::new(HashMap::from([(SUBSCRIPTION.to_string(), own)])),
                test: Arc::new(TestProvider),
                stripe,
                stripe_test_mode,
                config: cfg,
            }
        }))
    }

    /// Registers the owner of references of `kind` (`booking`).
    pub fn register_payables(&self, kind: &str, payables: Arc<dyn Payables>) {
        self.payables.write().expect("payables lock").insert(kind.to_string(), payables);
    }

    /// Starts the periodic reconciliation sweep (`payments.reconcile_interval_secs`).
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        let secs = self.config.reconcile_interval_secs;
        if secs == 0 {
            return;
        }
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(secs));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        let Some(svc) = me.upgrade() else { break };
                        match svc.reconcile_all(None).await {
                            Ok(r) if r.fixed + r.republished > 0 || !r.mismatches.is_empty() => {
                                tracing::warn!(fixed = r.fixed, republished = r.republished, mismatches = r.mismatches.len(), "payment reconciliation found work")
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "payment reconciliation failed"),
                        }
                    }
                }
            }
        });
    }

    fn db(&self) -> &Db {
        &self.kernel.db
    }

    /// Writes a domain event in `tx`.
    async fn publish<T: serde::Serialize + Sync>(&self, tx: &mut Tx<'_>, topic: &Topic<T>, data: &T) -> AppResult<()> {
        self.publish_all(tx, &[(topic, data)]).await
    }

    /// Writes several domain events of one payload type in `tx`, in this order, with one insert.
    async fn publish_all<T: serde::Serialize + Sync>(&self, tx: &mut Tx<'_>, events: &[(&Topic<T>, &T)]) -> AppResult<()> {
        self.kernel.jobs.publish_many(tx, events).await.map(|_| ())
    }

    /// The provider of `kind`; for Stripe, speaking for the connected `account` when given
    /// (`Stripe-Account`), else for the server's own account.
    fn provider(&self, kind: ProviderKind, account: Option<&str>) -> AppResult<Arc<dyn PaymentProvider>> {
        Ok(match kind {
            ProviderKind::Test => self.test.clone(),
            ProviderKind::Free => Arc::new(FreeProvider),
            ProviderKind::Offline => Arc::new(OfflineProvider),
            ProviderKind::Stripe => match (&self.stripe, account) {
                (Some(s), Some(a)) => Arc::new(s.on_account(a)),
                (Some(s), None) => s.clone(),
                (None, _) => {
                    return Err(AppError::conflict("stripe_not_configured", "this server has no Stripe keys configured"));
                }
            },
        })
    }

    fn payables_for(&self, kind: &str) -> AppResult<Arc<dyn Payables>> {
        self.payables
            .read()
            .expect("payables lock")
            .get(kind)
            .cloned()
            .ok_or_else(|| AppError::validation("reference", format!("unknown reference kind `{kind}` (expected booking:<id>)")))
    }

    async fn resolve(&self, caller: Caller<'_>, reference: &str) -> AppResult<Option<Payable>> {
        let (kind, id) = domain::reference("reference", reference)?;
        self.payables_for(&kind)?.resolve(caller, &id).await
    }

    // ---- settings -------------------------------------------------------------------------

    async fn org_provider(&self, scope: &OrgScope) -> AppResult<OrgPayments> {
        Ok(match store::settings(self.db(), scope).await? {
            Some(s) => OrgPayments {
                provider: ProviderKind::parse(&s.provider).unwrap_or(ProviderKind::Test),
                offline_enabled: s.offline_enabled,
                stripe_account: s.stripe_account,
                updated_at: Some(s.updated_at),
            },
            None => OrgPayments { provider: ProviderKind::Test, offline_enabled: true, stripe_account: None, updated_at: None },
        })
    }

    fn settings_view(&self, org: OrgId, s: OrgPayments) -> PaymentSettings {
        PaymentSettings {
            org_id: org,
            provider: s.provider,
            offline_enabled: s.offline_enabled,
            stripe_account: s.stripe_account,
            stripe_available: self.stripe.is_some(),
            updated_at: s.updated_at,
        }
    }

    /// How buyers pay `org`: the provider its checkout uses and whether it takes bank
    /// transfers. Public facts of a shop, shown on a booking's page to whoever may see the
    /// booking; `org` comes from that stored booking, not from request input.
    pub async fn checkout_options(&self, org: OrgId) -> AppResult<(ProviderKind, bool)> {
        let s = self.org_provider(&OrgScope::platform(org)).await?;
        Ok((s.provider, s.offline_enabled))
    }

    pub async fn settings(&self, p: &Principal, org: OrgId) -> AppResult<PaymentSettings> {
        let scope = self.access.require_for(p, org, Role::Admin, "organization").await?;
        Ok(self.settings_view(org, self.org_provider(&scope).await?))
    }

    pub async fn update_settings(&self, p: &Principal, org: OrgId, req: UpdatePaymentSettings) -> AppResult<PaymentSettings> {
        let scope = self.access.require_for(p, org, Role::Admin, "organization").await?;
        let current = self.org_provider(&scope).await?;
        let (mut provider, mut offline, mut account) = (current.provider, current.offline_enabled, current.stripe_account);
        if let Some(raw) = req.stripe_account.as_deref() {
            let new = domain::stripe_account("stripe_account", raw)?;
            if new != account {
                if !p.is_platform_admin() {
                    return Err(AppError::forbidden("only platform administrators connect Stripe accounts"));
                }
                account = new;
            }
        }
        if let Some(new) = req.provider {
            match new {
                ProviderKind::Stripe if self.stripe.is_none() => {
                    return Err(AppError::validation("provider", "this server has no Stripe keys (payments.stripe_api_key)"));
                }
                ProviderKind::Test if !self.config.test_provider => {
                    return Err(AppError::validation("provider", "the test provider is turned off on this server"));
                }
                ProviderKind::Free | ProviderKind::Offline => {
                    return Err(AppError::validation("provider", "choose stripe or test; free and offline are used per payment"));
                }
                _ => provider = new,
            }
        }
        if let Some(o) = req.offline_enabled {
            offline = o;
        }
        let at = now();
        let mut tx = self.db().begin().await?;
        match store::save_settings(&mut tx, &scope, provider, offline, account.as_deref(), at).await {
            Ok(_) => {}
            Err(e) if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()) => {
                return Err(AppError::conflict("stripe_account_taken", "another organization uses this Stripe account"));
            }
            Err(e) => return Err(e.into()),
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(org),
                action: "payment_settings.updated",
                resource_type: "organization",
                resource_id: org.to_string(),
                changes: json!({ "provider": provider, "offline_enabled": offline, "stripe_account": account }),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        let saved = OrgPayments { provider, offline_enabled: offline, stripe_account: account, updated_at: Some(at) };
        Ok(self.settings_view(org, saved))
    }
}

fn url_ok(u: &str) -> bool {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    u.len() <= 2000 && rest.is_some_and(|r| !r.is_empty())
}
