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
use kernel::auth::{OrgAccess, Principal, Role};
use kernel::id::OrgId;
use kernel::jobs::{JobHandler, publish};
use kernel::pagination::{Page, PageParams};
use kernel::time::{Timestamp, now};
use kernel::{AppError, AppResult, Db, Kernel, Tx};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::types::Json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{self, EntryKind, LedgerTransactionId, PaymentId, PaymentStatus, ProviderKind, RefundId, RefundStatus};
use crate::model::*;
use crate::provider::stripe::StripeProvider;
use crate::provider::test::TestProvider;
use crate::provider::{
    ChargeOutcome, ChargeRequest, ChargeStatus, FreeProvider, InvoicePaid, OfflineProvider, PaymentProvider, ProviderError,
    RefundRequest, SubscriptionRequest,
};
use crate::store::{self, PaymentRecord, RefundRecord, SubscriptionRecord};
use crate::topics;

/// The reference kind (and payment flow) of subscription invoices.
pub const SUBSCRIPTION: &str = "subscription";

/// Job kind that executes one refund with its provider.
pub const REFUND_JOB: &str = "payments.refund";

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
    kernel: Arc<Kernel>,
    access: Arc<dyn OrgAccess>,
    payables: RwLock<HashMap<String, Arc<dyn Payables>>>,
    test: Arc<dyn PaymentProvider>,
    stripe: Option<Arc<StripeProvider>>,
    stripe_test_mode: bool,
}

struct RefundJob(Weak<PaymentsService>);

/// `subscription:<id>` references, the payments context's own: what its invoices were paid
/// for. Settled while the subscription runs; never paid through `process` (the provider
/// bills it), so requests see nothing.
struct SubscriptionPayables(Weak<PaymentsService>);

#[async_trait::async_trait]
impl Payables for SubscriptionPayables {
    async fn resolve(&self, caller: Caller<'_>, id: &str) -> AppResult<Option<Payable>> {
        let (Caller::System, Ok(id), Some(svc)) = (caller, id.parse::<Uuid>(), self.0.upgrade()) else { return Ok(None) };
        let Some(sub) = store::subscription(svc.db(), crate::domain::SubscriptionId(id)).await? else { return Ok(None) };
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
    refunds: Option<Vec<Value>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RefundJobPayload {
    refund_id: RefundId,
}

#[async_trait::async_trait]
impl JobHandler for RefundJob {
    async fn run(&self, payload: Value) -> anyhow::Result<()> {
        let p: RefundJobPayload = serde_json::from_value(payload)?;
        let svc = self.0.upgrade().ok_or_else(|| anyhow::anyhow!("payments service stopped"))?;
        svc.execute_refund(p.refund_id).await
    }
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

/// The payload of every `payment.*` event.
fn payment_event(p: &PaymentRecord) -> Value {
    json!({
        "payment_id": p.id, "org_id": p.org_id, "reference": p.reference, "event_id": p.event_id,
        "provider": p.provider, "status": p.status, "amount": p.amount, "currency": p.currency,
        "refunded_amount": p.refunded_amount, "fee": p.fee, "test_mode": p.test_mode, "buyer_email": p.buyer_email,
        "duplicate": p.duplicate,
    })
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
    org_id: OrgId,
    currency: &'a str,
    payment_id: Option<PaymentId>,
    refund_id: Option<RefundId>,
    event_id: Option<Uuid>,
    test_mode: bool,
    /// Money held as cash (offline payments) rather than at the provider.
    offline: bool,
    memo: String,
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
        org_id: of.org_id,
        kind: kind.as_str().to_string(),
        currency: of.currency.to_string(),
        payment_id: of.payment_id,
        refund_id: of.refund_id,
        event_id: of.event_id,
        test_mode: of.test_mode,
        memo: of.memo.clone(),
        created_at: at,
    };
    if !store::insert_ledger_tx(tx, &t, source).await? {
        return Ok(false);
    }
    for (account, signed) in domain::entry_lines(kind, amount, of.offline) {
        store::insert_ledger_line(tx, of.org_id, t.id, account, signed, of.currency, at).await?;
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
        let cfg = &kernel.config.payments;
        let stripe = match &cfg.stripe_api_key {
            Some(key) => Some(Arc::new(StripeProvider::new(&cfg.stripe_base_url, key.clone(), &cfg.stripe_version)?)),
            None => None,
        };
        let stripe_test_mode = cfg.stripe_api_key.as_ref().is_some_and(|k| k.expose_secret().contains("_test_"));
        Ok(Arc::new_cyclic(|me: &Weak<PaymentsService>| {
            kernel.jobs.register(REFUND_JOB, Arc::new(RefundJob(me.clone())));
            let own: Arc<dyn Payables> = Arc::new(SubscriptionPayables(me.clone()));
            PaymentsService {
                kernel,
                access,
                payables: RwLock::new(HashMap::from([(SUBSCRIPTION.to_string(), own)])),
                test: Arc::new(TestProvider),
                stripe,
                stripe_test_mode,
            }
        }))
    }

    /// Registers the owner of references of `kind` (`booking`).
    pub fn register_payables(&self, kind: &str, payables: Arc<dyn Payables>) {
        self.payables.write().expect("payables lock").insert(kind.to_string(), payables);
    }

    /// Starts the periodic reconciliation sweep (`payments.reconcile_interval_secs`).
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        let secs = self.kernel.config.payments.reconcile_interval_secs;
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

    async fn role(&self, p: Option<&Principal>, org: OrgId) -> AppResult<Option<Role>> {
        match p {
            Some(p) => self.access.role_in(p, org).await,
            None => Ok(None),
        }
    }

    /// Requires `min` in `org`; outsiders learn only that `resource` does not exist.
    async fn require(&self, p: &Principal, org: OrgId, min: Role, resource: &'static str) -> AppResult<Role> {
        self.access.require(p, org, min).await.map_err(|e| match e {
            AppError::NotFound { .. } => AppError::not_found(resource),
            other => other,
        })
    }

    // ---- settings -------------------------------------------------------------------------

    async fn org_provider(&self, org: OrgId) -> AppResult<OrgPayments> {
        Ok(match store::settings(self.db(), org).await? {
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

    pub async fn settings(&self, p: &Principal, org: OrgId) -> AppResult<PaymentSettings> {
        self.require(p, org, Role::Admin, "organization").await?;
        Ok(self.settings_view(org, self.org_provider(org).await?))
    }

    pub async fn update_settings(&self, p: &Principal, org: OrgId, req: UpdatePaymentSettings) -> AppResult<PaymentSettings> {
        self.require(p, org, Role::Admin, "organization").await?;
        let current = self.org_provider(org).await?;
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
                ProviderKind::Test if !self.kernel.config.payments.test_provider => {
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
        match store::save_settings(&mut tx, org, provider, offline, account.as_deref(), at).await {
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

    // ---- processing -----------------------------------------------------------------------

    /// Creates (or, with `authentication`, completes) the payment of a reference.
    pub async fn process(&self, p: Option<&Principal>, req: ProcessPayment) -> AppResult<Payment> {
        let reference = req.reference.trim().to_string();
        domain::reference("reference", &reference)?;
        let caller = Caller::Request { principal: p, token: req.token.as_deref() };
        let Some(payable) = self.resolve(caller, &reference).await? else { return Err(AppError::not_found("reference")) };

        if let Some(auth) = req.authentication.as_deref() {
            let success = match auth {
                "succeeded" => true,
                "failed" => false,
                _ => return Err(AppError::validation("authentication", "must be succeeded or failed")),
            };
            return self.authenticate(&reference, success).await;
        }

        if let Some(a) = req.amount {
            domain::amount("amount", a)?;
            if a != payable.amount {
                return Err(AppError::validation("amount", format!("does not match the amount due ({})", payable.amount)));
            }
        }
        if let Some(c) = req.currency.as_deref() {
            let c = domain::currency("currency", c)?;
            if c != payable.currency {
                return Err(AppError::validation("currency", format!("the order is paid in {}", payable.currency)));
            }
        }
        match payable.state {
            PayableState::Open => {}
            PayableState::Settled => return Err(AppError::conflict("already_paid", "this reference is paid already")),
            PayableState::Closed => {
                return Err(AppError::conflict("not_payable", "this reference can no longer be paid (expired or cancelled)"));
            }
        }
        let mut live = store::live_payment(self.db(), &reference).await?;
        // An attempt stuck in flight (its process stopped mid-charge) is settled now rather
        // than blocking the buyer until the next reconciliation run.
        if let Some(stuck) = live.as_ref().filter(|l| !l.status.captured() && l.updated_at < self.stale_cutoff())
            && self.settle_stale(stuck).await?
        {
            live = store::live_payment(self.db(), &reference).await?;
        }
        if let Some(live) = live {
            return Err(if live.status.captured() {
                AppError::conflict("already_paid", format!("payment {} has paid this reference", live.id))
            } else {
                AppError::conflict(
                    "payment_in_progress",
                    format!("payment {} for this reference is {}", live.id, live.status.as_str()),
                )
            });
        }

        let settings = self.org_provider(payable.org_id).await?;
        let (org_provider, offline_enabled) = (settings.provider, settings.offline_enabled);
        let kind = match req.provider {
            Some(ProviderKind::Offline) => {
                let Some(principal) = p else { return Err(AppError::not_found("reference")) };
                self.require(principal, payable.org_id, Role::Staff, "reference").await?;
                if !offline_enabled {
                    return Err(AppError::validation("provider", "offline payments are turned off for this organization"));
                }
                ProviderKind::Offline
            }
            _ if payable.amount == 0 => ProviderKind::Free,
            Some(ProviderKind::Free) => return Err(AppError::validation("provider", "only zero amounts are free")),
            Some(other) if other != org_provider => {
                return Err(AppError::validation(
                    "provider",
                    format!("this organization takes payments through {}", org_provider.as_str()),
                ));
            }
            _ => org_provider,
        };
        if kind == ProviderKind::Test && !self.kernel.config.payments.test_provider {
            return Err(AppError::conflict("provider_unavailable", "the test provider is turned off on this server"));
        }
        let flow = req.flow.unwrap_or(crate::provider::Flow::Intent);
        let payment_method = domain::text("payment_method", req.payment_method.as_deref(), 255)?;
        if kind == ProviderKind::Test && flow == crate::provider::Flow::Intent {
            match payment_method.as_deref() {
                None => return Err(AppError::validation("payment_method", "give a test card number, e.g. 4242424242424242")),
                Some(pm) if domain::test_card(pm).is_none() => {
                    return Err(AppError::validation("payment_method", "not a test card number (try 4242424242424242)"));
                }
                _ => {}
            }
        }
        let public = self.kernel.config.server.public_url.trim_end_matches('/').to_string();
        let url = |field: &str, v: Option<&str>, default: String| -> AppResult<String> {
            match v {
                None => Ok(default),
                Some(u) => match url_ok(u) {
                    true => Ok(u.to_string()),
                    false => Err(AppError::validation(field, "must be an absolute http(s) URL")),
                },
            }
        };
        let id = PaymentId::new();
        let success_url = url("success_url", req.success_url.as_deref(), format!("{public}/payments/{id}/done"))?;
        let cancel_url = url("cancel_url", req.cancel_url.as_deref(), format!("{public}/payments/{id}/cancelled"))?;
        let offline_reference = domain::text("offline_reference", req.offline_reference.as_deref(), domain::REFERENCE_MAX)?;

        let at = now();
        let record = PaymentRecord {
            id,
            event_id: payable.event_id,
            test_mode: match kind {
                ProviderKind::Test => true,
                ProviderKind::Stripe => self.stripe_test_mode,
                _ => false,
            },
            description: payable.description.clone(),
            buyer_email: payable.buyer_email.clone(),
            payer: actor_of(p),
            payer_user_id: p.and_then(Principal::user_id),
            offline_reference,
            provider_account: if kind == ProviderKind::Stripe { settings.stripe_account.clone() } else { None },
            ..PaymentRecord::processing(
                payable.org_id,
                reference.clone(),
                kind,
                flow.as_str(),
                payable.amount,
                payable.currency.clone(),
                at,
            )
        };
        let mut tx = self.db().begin().await?;
        match store::insert_payment(&mut tx, &record).await {
            Ok(_) => {}
            Err(e) if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()) => {
                return Err(AppError::conflict("payment_in_progress", "another payment for this reference is in progress"));
            }
            Err(e) => return Err(e.into()),
        }
        audit::record_as(
            &mut tx,
            &record.payer,
            AuditEntry {
                org_id: Some(record.org_id),
                action: "payment.created",
                resource_type: "payment",
                resource_id: id.to_string(),
                changes: json!({ "reference": reference, "amount": record.amount, "currency": record.currency, "provider": kind }),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;

        let charge = ChargeRequest {
            payment_id: id,
            org_id: record.org_id,
            reference: reference.clone(),
            amount: record.amount,
            currency: record.currency.clone(),
            description: record.description.clone(),
            buyer_email: record.buyer_email.clone(),
            payment_method,
            flow,
            success_url,
            cancel_url,
        };
        let outcome = match self.provider(kind, record.provider_account.as_deref())?.charge(&charge).await {
            Ok(o) => o,
            Err(e) => {
                // The provider refused or could not be reached: the attempt failed; the
                // buyer may try again (a new payment). An unreachable provider that did
                // charge is found by reconciliation through the idempotency key.
                let mut tx = self.db().begin().await?;
                if let Some(failed) = store::mark_failed(
                    &mut tx,
                    id,
                    None,
                    "provider_error",
                    &e.message.chars().take(500).collect::<String>(),
                    now(),
                )
                .await?
                {
                    publish(&mut tx, topics::FAILED, &payment_event(&failed)).await?;
                }
                self.kernel.commit(tx).await?;
                return Err(provider_error(e));
            }
        };
        let client_secret = outcome.client_data.as_ref().and_then(|d| d["client_secret"].as_str()).map(str::to_string);
        let mut view = self.apply_outcome(id, outcome).await?;
        view.client_secret = client_secret;
        Ok(view)
    }

    /// Completes a payment waiting for authentication.
    async fn authenticate(&self, reference: &str, success: bool) -> AppResult<Payment> {
        let Some(live) = store::live_payment(self.db(), reference).await?.filter(|p| p.status == PaymentStatus::RequiresAction)
        else {
            return Err(AppError::conflict("nothing_to_authenticate", "no payment of this reference waits for authentication"));
        };
        let pid = live.provider_payment_id.clone().unwrap_or_default();
        let mut outcome = self
            .provider(live.provider, live.provider_account.as_deref())?
            .authenticate(&pid, success)
            .await
            .map_err(provider_error)?;
        if outcome.fee < 0 {
            outcome.fee = if live.provider == ProviderKind::Test { domain::test_fee(live.amount) } else { 0 };
        }
        self.apply_outcome(live.id, outcome).await
    }

    /// Records what the provider said about a payment (conditionally: a webhook may have
    /// been first).
    async fn apply_outcome(&self, id: PaymentId, outcome: ChargeOutcome) -> AppResult<Payment> {
        let at = now();
        let pid = outcome.provider_payment_id.as_deref();
        let mut tx = self.db().begin().await?;
        match &outcome.status {
            ChargeStatus::Succeeded => {
                self.settle_success(&mut tx, id, pid, outcome.fee).await?;
            }
            ChargeStatus::Failed { code, message } => {
                if let Some(failed) = store::mark_failed(&mut tx, id, pid, code, message, at).await? {
                    publish(&mut tx, topics::FAILED, &payment_event(&failed)).await?;
                }
            }
            ChargeStatus::RequiresAction { next_action } => {
                store::mark_pending(&mut tx, id, PaymentStatus::RequiresAction, pid, Some(&Json(next_action.clone())), None, at)
                    .await?;
            }
            ChargeStatus::Processing => {
                store::mark_pending(&mut tx, id, PaymentStatus::Processing, pid, None, outcome.checkout_url.as_deref(), at)
                    .await?;
            }
        }
        self.kernel.commit(tx).await?;
        let p = store::payment(self.db(), id).await?.ok_or_else(|| AppError::not_found("payment"))?;
        let refunds = store::refunds_of(self.db(), id).await?;
        Ok(payment_view(p, refunds))
    }

    /// Whether `p` may record offline money for `org` (staff and above, offline payments on:
    /// `409 offline_disabled` otherwise). Reads through the pool, so call it before the
    /// transaction that records it ([`Self::record_offline_in`]).
    pub async fn check_offline(&self, p: &Principal, org: OrgId) -> AppResult<()> {
        self.require(p, org, Role::Staff, "reference").await?;
        if !self.org_provider(org).await?.offline_enabled {
            return Err(AppError::conflict("offline_disabled", "offline payments are turned off for this organization"));
        }
        Ok(())
    }

    /// Money the owner of a reference took outside the system (ticketing's "mark paid": a
    /// bank transfer, cash at the door), recorded **inside the owner's transaction** as it
    /// settles the reference (check [`Self::check_offline`] first): an `offline` payment that
    /// succeeded, its `cash` ledger lines and `payment.succeeded` (marked `owner_settled`). A
    /// payment of the reference still in flight (a card payment the buyer walked away from)
    /// is superseded: marked `failed` (`superseded`); should it succeed at the provider after
    /// all, the owner's listener refunds it as a second payment. `409 already_paid` when a
    /// payment holds money for the reference. `None` for a zero amount (nothing moved).
    pub async fn record_offline_in(
        &self,
        tx: &mut Tx<'_>,
        p: &Principal,
        reference: &str,
        payable: &Payable,
        offline_reference: Option<&str>,
    ) -> AppResult<Option<PaymentId>> {
        if payable.amount == 0 {
            return Ok(None);
        }
        let at = now();
        if let Some(live) = store::live_payment_tx(tx, reference).await? {
            if live.status.captured() {
                return Err(AppError::conflict("already_paid", format!("payment {} has paid this reference", live.id)));
            }
            let why = "superseded by a payment recorded offline";
            if let Some(failed) = store::mark_failed(tx, live.id, None, "superseded", why, at).await? {
                publish(tx, topics::FAILED, &payment_event(&failed)).await?;
            }
        }
        let record = PaymentRecord {
            event_id: payable.event_id,
            description: payable.description.clone(),
            buyer_email: payable.buyer_email.clone(),
            payer: p.actor(),
            payer_user_id: p.user_id(),
            offline_reference: offline_reference.map(str::to_string),
            ..PaymentRecord::processing(
                payable.org_id,
                reference.to_string(),
                ProviderKind::Offline,
                crate::provider::Flow::Intent.as_str(),
                payable.amount,
                payable.currency.clone(),
                at,
            )
        };
        match store::insert_payment(tx, &record).await {
            Ok(_) => {}
            Err(e) if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()) => {
                return Err(AppError::conflict("payment_in_progress", "another payment for this reference is live"));
            }
            Err(e) => return Err(e.into()),
        }
        audit::record_as(
            tx,
            &record.payer,
            AuditEntry {
                org_id: Some(record.org_id),
                action: "payment.created",
                resource_type: "payment",
                resource_id: record.id.to_string(),
                changes: json!({ "reference": reference, "amount": record.amount, "currency": record.currency,
                                 "provider": ProviderKind::Offline, "offline_reference": offline_reference }),
            },
        )
        .await?;
        self.settle_success_as(tx, record.id, None, 0, true).await?;
        Ok(Some(record.id))
    }

    /// Marks a payment succeeded once: its ledger lines (charge, fee) and `payment.processed`
    /// + `payment.succeeded`. `None` if it had succeeded already.
    async fn settle_success(
        &self,
        tx: &mut Tx<'_>,
        id: PaymentId,
        provider_id: Option<&str>,
        fee: i64,
    ) -> AppResult<Option<PaymentRecord>> {
        self.settle_success_as(tx, id, provider_id, fee, false).await
    }

    /// [`Self::settle_success`]; `owner_settled`: the owner of the reference settled it in
    /// this same transaction (its listener has nothing to do).
    async fn settle_success_as(
        &self,
        tx: &mut Tx<'_>,
        id: PaymentId,
        provider_id: Option<&str>,
        fee: i64,
        owner_settled: bool,
    ) -> AppResult<Option<PaymentRecord>> {
        let at = now();
        // Succeeding late, after another payment paid the reference: a duplicate (left out of
        // the one-live-payment rule), which the reference's owner refunds.
        if let Some(cur) = store::lock_payment(tx, id).await?
            && !cur.status.captured()
            && store::other_captured(tx, &cur.reference, id).await?
        {
            tracing::warn!(payment = %id, reference = %cur.reference, "a payment succeeded after another paid its reference");
            store::mark_duplicate(tx, id).await?;
        }
        let Some(p) = store::mark_succeeded(tx, id, provider_id, fee.max(0), at).await? else { return Ok(None) };
        self.post_entry(tx, &p, EntryKind::Charge, p.amount, None, &format!("payment:{}", p.id), "charge").await?;
        if p.fee > 0 {
            self.post_entry(tx, &p, EntryKind::Fee, p.fee, None, &format!("payment:{}", p.id), "provider fee").await?;
        }
        audit::record_as(
            tx,
            "system",
            AuditEntry {
                org_id: Some(p.org_id),
                action: "payment.succeeded",
                resource_type: "payment",
                resource_id: p.id.to_string(),
                changes: json!({ "status": "succeeded", "provider_payment_id": p.provider_payment_id }),
            },
        )
        .await?;
        let mut payload = payment_event(&p);
        if owner_settled {
            payload["owner_settled"] = json!(true);
        }
        publish(tx, topics::PROCESSED, &payload).await?;
        publish(tx, topics::SUCCEEDED, &payload).await?;
        Ok(Some(p))
    }

    /// Writes one balanced ledger transaction for a payment (once per kind and source).
    #[expect(clippy::too_many_arguments)]
    async fn post_entry(
        &self,
        tx: &mut Tx<'_>,
        p: &PaymentRecord,
        kind: EntryKind,
        amount: i64,
        refund: Option<RefundId>,
        source: &str,
        memo: &str,
    ) -> AppResult<()> {
        let of = EntryOf {
            org_id: p.org_id,
            currency: &p.currency,
            payment_id: Some(p.id),
            refund_id: refund,
            event_id: p.event_id,
            test_mode: p.test_mode,
            offline: p.provider == ProviderKind::Offline,
            memo: format!("{memo}: {}", p.reference),
        };
        post_ledger(tx, &of, kind, amount, source).await.map(|_| ())
    }

    // ---- reading --------------------------------------------------------------------------

    /// A payment the caller may see: members of its organization, its payer, or whoever
    /// can see its reference (`token`).
    async fn visible_payment(&self, p: Option<&Principal>, token: Option<&str>, id: PaymentId) -> AppResult<PaymentRecord> {
        let Some(pay) = store::payment(self.db(), id).await? else { return Err(AppError::not_found("payment")) };
        if self.role(p, pay.org_id).await?.is_some() {
            return Ok(pay);
        }
        if let (Some(u), Some(payer)) = (p.and_then(Principal::user_id), pay.payer_user_id)
            && u == payer
        {
            return Ok(pay);
        }
        if (p.is_some() || token.is_some())
            && let Some(payable) = self.resolve(Caller::Request { principal: p, token }, &pay.reference).await?
            && payable.org_id == pay.org_id
        {
            return Ok(pay);
        }
        Err(AppError::not_found("payment"))
    }

    pub async fn payment(&self, p: Option<&Principal>, token: Option<&str>, id: PaymentId) -> AppResult<Payment> {
        let pay = self.visible_payment(p, token, id).await?;
        let refunds = store::refunds_of(self.db(), id).await?;
        Ok(payment_view(pay, refunds))
    }

    /// Payment history: an organization's (members), or the caller's own.
    pub async fn history(&self, p: &Principal, q: HistoryQuery) -> AppResult<Page<Payment>> {
        let page = PageParams { cursor: q.cursor.clone(), limit: q.limit };
        let limit = page.limit()?;
        let before: Option<PaymentId> = page.decode()?;
        if let Some(s) = &q.status
            && PaymentStatus::parse(s).is_none()
        {
            return Err(AppError::validation("status", "unknown payment status"));
        }
        if let Some(pr) = &q.provider
            && ProviderKind::parse(pr).is_none()
        {
            return Err(AppError::validation("provider", "unknown provider"));
        }
        let (org, payer) = match q.org_id {
            Some(org) => {
                self.require(p, org, Role::Viewer, "organization").await?;
                (Some(org), None)
            }
            None => {
                (None, Some(p.user_id().ok_or_else(|| AppError::validation("org_id", "API keys must name an organization"))?))
            }
        };
        let filter = store::HistoryFilter {
            org,
            payer,
            status: q.status,
            reference: q.reference,
            provider: q.provider,
            test_mode: q.test_mode,
            before,
            limit,
        };
        let rows = store::history(self.db(), &filter).await?;
        let page = Page::from_rows(rows, limit, |r| r.id);
        let mut items = Vec::with_capacity(page.items.len());
        for r in page.items {
            let refunds = store::refunds_of(self.db(), r.id).await?;
            items.push(payment_view(r, refunds));
        }
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    // ---- refunds --------------------------------------------------------------------------

    /// Requests a refund (staff and above): written now, executed by the refund job.
    pub async fn refund(&self, p: &Principal, id: PaymentId, req: CreateRefund) -> AppResult<Refund> {
        let Some(pay) = store::payment(self.db(), id).await? else { return Err(AppError::not_found("payment")) };
        self.require(p, pay.org_id, Role::Staff, "payment").await?;
        if let Some(a) = req.amount {
            domain::amount("amount", a)?;
        }
        let reason = domain::text("reason", req.reason.as_deref(), domain::TEXT_MAX)?;
        let items = match req.items {
            Some(items) if !items.is_empty() => {
                let (price, items) = self.price_items(&pay.reference, &items).await?;
                if price <= 0 {
                    return Err(AppError::validation("items", "nothing was paid for these items: cancel them without a refund"));
                }
                match req.amount {
                    Some(a) if a > price => {
                        return Err(AppError::validation("amount", format!("at most {price}, the price of the items")));
                    }
                    _ => Some((items, price)),
                }
            }
            Some(_) => return Err(AppError::validation("items", "name at least one item, or leave items out")),
            None => None,
        };
        let (amount, items) = match items {
            Some((items, price)) => (Some(req.amount.unwrap_or(price)), items),
            None => (req.amount, Vec::new()),
        };
        self.request_refund(id, amount, items, reason, &p.actor()).await.map(refund_view)
    }

    /// Asks the owner of `reference` what `items` cost; the items come back canonical, and
    /// an item named twice (in any spelling) is a `422`.
    async fn price_items(&self, reference: &str, items: &[String]) -> AppResult<(i64, Vec<String>)> {
        if items.len() > domain::REFUND_ITEMS_MAX {
            return Err(AppError::validation("items", format!("at most {} items per refund", domain::REFUND_ITEMS_MAX)));
        }
        let owner = domain::reference("reference", reference).and_then(|(kind, id)| Ok((self.payables_for(&kind)?, id)));
        let (price, canonical) = match owner {
            Ok((o, id)) => o.price_items(&id, items).await?,
            Err(_) => return Err(AppError::validation("items", "this kind of reference has no items to give back")),
        };
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = canonical.iter().find(|i| !seen.insert(i.as_str())) {
            return Err(AppError::validation("items", format!("{dup} is named twice")));
        }
        Ok((price, canonical))
    }

    /// Requests a refund on behalf of the system (ticketing: a paid order that cannot get
    /// its tickets, a paid booking cancelled). `amount` `None`: everything left.
    /// `Ok(None)`: nothing left to refund.
    pub async fn refund_for_system(&self, id: PaymentId, amount: Option<i64>, reason: &str) -> AppResult<Option<RefundId>> {
        match self.request_refund(id, amount, Vec::new(), Some(reason.to_string()), "system").await {
            Ok(r) => Ok(Some(r.id)),
            Err(AppError::Conflict { code: "nothing_to_refund", .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Refunds everything left of every captured payment of `reference` (system).
    pub async fn refund_reference(&self, reference: &str, reason: &str) -> AppResult<Vec<RefundId>> {
        let mut tx = self.db().begin().await?;
        let paid = store::captured_payments(&mut tx, reference).await?;
        drop(tx);
        let mut out = Vec::new();
        for p in paid {
            if let Some(r) = self.refund_for_system(p.id, None, reason).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn request_refund(
        &self,
        id: PaymentId,
        amount: Option<i64>,
        items: Vec<String>,
        reason: Option<String>,
        actor: &str,
    ) -> AppResult<RefundRecord> {
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(pay) = store::lock_payment(&mut tx, id).await? else { return Err(AppError::not_found("payment")) };
        if !pay.status.captured() {
            return Err(AppError::conflict("not_refundable", format!("the payment is {}", pay.status.as_str())));
        }
        if pay.provider == ProviderKind::Free {
            return Err(AppError::conflict("not_refundable", "a free payment moved no money"));
        }
        let pending = store::pending_refunds(&mut tx, id).await?;
        let left = pay.amount - pay.refunded_amount - pending;
        if left <= 0 {
            return Err(AppError::conflict("nothing_to_refund", "the payment is refunded in full (or refunds are pending)"));
        }
        let amount = amount.unwrap_or(left);
        if amount > left {
            return Err(AppError::validation("amount", format!("at most {left} is left to refund")));
        }
        if !items.is_empty() {
            let given_back = store::refunded_items(&mut tx, id, None).await?;
            if let Some(again) = items.iter().find(|i| given_back.contains(*i)) {
                return Err(AppError::conflict("already_refunded", format!("{again} is already refunded or being refunded")));
            }
        }
        let r = RefundRecord {
            id: RefundId::new(),
            org_id: pay.org_id,
            payment_id: id,
            amount,
            currency: pay.currency.clone(),
            status: RefundStatus::Pending,
            reason,
            items: Json(items),
            requested_by: actor.to_string(),
            provider_refund_id: None,
            attempts: 0,
            last_error: None,
            succeeded_at: None,
            created_at: at,
            updated_at: at,
        };
        store::insert_refund(&mut tx, &r).await?;
        let max = self.kernel.config.payments.refund_max_attempts;
        self.kernel.jobs.enqueue_with(&mut tx, REFUND_JOB, &RefundJobPayload { refund_id: r.id }, at, max).await?;
        audit::record_as(
            &mut tx,
            actor,
            AuditEntry {
                org_id: Some(pay.org_id),
                action: "refund.requested",
                resource_type: "payment",
                resource_id: id.to_string(),
                changes: json!({ "refund_id": r.id, "amount": amount, "reason": r.reason, "items": r.items }),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        Ok(r)
    }

    /// The refund job: one attempt with the provider. Retryable failures return an error
    /// (the job system retries with backoff, then dead-letters); the refund is marked
    /// `failed` on the last attempt or on a refusal.
    pub async fn execute_refund(&self, id: RefundId) -> anyhow::Result<()> {
        let at = now();
        let mut tx = self.db().begin().await?;
        // The payment first (the lock order of every refund change).
        let Some(queued) = store::refund_tx(&mut tx, id).await? else { return Ok(()) };
        store::lock_payment(&mut tx, queued.payment_id).await?;
        let Some(r) = store::begin_refund_attempt(&mut tx, id, at).await? else { return Ok(()) };
        if !r.items.0.is_empty() {
            // A failed refund retried by hand: its items may have been given back since.
            let elsewhere = store::refunded_items(&mut tx, r.payment_id, Some(r.id)).await?;
            if r.items.0.iter().any(|i| elsewhere.contains(i)) {
                store::refund_failed_attempt(&mut tx, r.id, "its items were refunded by another refund", true, at).await?;
                tx.commit().await?;
                tracing::warn!(refund = %id, "refund not retried: its items were refunded by another refund");
                return Ok(());
            }
        }
        tx.commit().await?;
        let pay =
            store::payment(self.db(), r.payment_id).await?.ok_or_else(|| anyhow::anyhow!("payment of refund {id} is gone"))?;
        let provider = self.provider(pay.provider, pay.provider_account.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let req = RefundRequest {
            refund_id: r.id,
            payment_id: pay.id,
            provider_payment_id: pay.provider_payment_id.clone(),
            amount: r.amount,
            currency: r.currency.clone(),
        };
        match provider.refund(&req).await {
            Ok(outcome) => {
                let mut tx = self.db().begin().await?;
                self.complete_refund(&mut tx, pay.id, Some(r.id), &outcome.provider_refund_id, r.amount).await?;
                self.kernel.commit(tx).await?;
                Ok(())
            }
            Err(e) => {
                let give_up = !e.retryable || r.attempts >= self.kernel.config.payments.refund_max_attempts;
                let error = e.to_string().chars().take(500).collect::<String>();
                let mut tx = self.db().begin().await?;
                store::refund_failed_attempt(&mut tx, r.id, &error, give_up, now()).await?;
                if give_up {
                    let mut payload = payment_event(&pay);
                    payload["refund_id"] = json!(r.id);
                    payload["refund_amount"] = json!(r.amount);
                    payload["error"] = json!(error);
                    publish(&mut tx, topics::REFUND_FAILED, &payload).await?;
                }
                self.kernel.commit(tx).await?;
                if e.retryable {
                    Err(anyhow::anyhow!("refund {id}: {e}"))
                } else {
                    tracing::error!(refund = %id, error = %e, "refund refused by the provider");
                    Ok(())
                }
            }
        }
    }

    /// Records a refund that went through at the provider, once: ours (`refund`) or one
    /// made outside the app (a new row). A refund for a payment not yet marked succeeded
    /// (events out of order) settles the success first.
    async fn complete_refund(
        &self,
        tx: &mut Tx<'_>,
        payment: PaymentId,
        refund: Option<RefundId>,
        provider_refund_id: &str,
        amount: i64,
    ) -> AppResult<bool> {
        let at = now();
        let Some(mut pay) = store::lock_payment(tx, payment).await? else { return Ok(false) };
        if !pay.status.captured() {
            if let Some(p) = self.settle_success(tx, pay.id, None, pay.fee).await? {
                pay = p;
            } else {
                return Ok(false);
            }
        }
        let ours = match refund {
            Some(id) => store::refund_tx(tx, id).await?,
            None => None,
        };
        let record = match ours {
            Some(r) if r.status == RefundStatus::Succeeded => return Ok(false),
            Some(r) => match store::mark_refund_succeeded(tx, r.id, provider_refund_id, at).await? {
                Some(r) => r,
                None => return Ok(false),
            },
            None => {
                if store::refund_by_provider_id(tx, provider_refund_id).await?.is_some() {
                    return Ok(false);
                }
                let r = RefundRecord {
                    id: RefundId::new(),
                    org_id: pay.org_id,
                    payment_id: pay.id,
                    amount,
                    currency: pay.currency.clone(),
                    status: RefundStatus::Succeeded,
                    reason: Some("refunded at the provider".into()),
                    items: Json(Vec::new()),
                    requested_by: "provider".into(),
                    provider_refund_id: Some(provider_refund_id.to_string()),
                    attempts: 0,
                    last_error: None,
                    succeeded_at: Some(at),
                    created_at: at,
                    updated_at: at,
                };
                store::insert_refund(tx, &r).await?;
                r
            }
        };
        let Some(updated) = store::add_refunded(tx, pay.id, record.amount, at).await? else {
            tracing::error!(payment = %pay.id, refund = %record.id, "refund exceeds what is left of the payment; not booked");
            return Err(AppError::conflict("refund_exceeds_payment", "the refund exceeds what is left of the payment"));
        };
        self.post_entry(
            tx,
            &updated,
            EntryKind::Refund,
            record.amount,
            Some(record.id),
            &format!("refund:{}", record.id),
            "refund",
        )
        .await?;
        audit::record_as(
            tx,
            "system",
            AuditEntry {
                org_id: Some(updated.org_id),
                action: "refund.succeeded",
                resource_type: "payment",
                resource_id: updated.id.to_string(),
                changes: json!({ "refund_id": record.id, "amount": record.amount, "status": updated.status }),
            },
        )
        .await?;
        let mut payload = payment_event(&updated);
        payload["refund_id"] = json!(record.id);
        payload["refund_amount"] = json!(record.amount);
        payload["fully_refunded"] = json!(updated.status == PaymentStatus::Refunded);
        payload["items"] = json!(record.items.0);
        publish(tx, topics::REFUNDED, &payload).await?;
        Ok(true)
    }

    // ---- webhooks -------------------------------------------------------------------------

    /// A Stripe webhook delivery: signature verified, recorded once, applied once.
    pub async fn stripe_webhook(&self, signature: Option<&str>, body: &[u8]) -> AppResult<WebhookAck> {
        let cfg = &self.kernel.config.payments;
        if signature.is_none() {
            return Err(AppError::unauthorized("invalid_signature", "the Stripe-Signature header is missing"));
        }
        if cfg.stripe_webhook_secrets.is_empty() {
            // Without a secret nothing can be verified: to a sender the endpoint does not exist.
            tracing::warn!("Stripe webhook received but payments.stripe_webhook_secrets is not configured");
            return Err(AppError::not_found("Stripe webhook endpoint"));
        }
        let secrets: Vec<&[u8]> = cfg.stripe_webhook_secrets.iter().map(|s| s.expose_secret().as_bytes()).collect();
        if let Err(e) = domain::verify_stripe_signature(signature, body, &secrets, cfg.webhook_tolerance_secs, now()) {
            // The signature is the sender's credential.
            tracing::warn!(reason = %e, bytes = body.len(), "rejected a Stripe webhook with a bad signature");
            return Err(AppError::unauthorized("invalid_signature", e.to_string()));
        }
        let event: Value =
            serde_json::from_slice(body).map_err(|_| AppError::bad_request("malformed_json", "not a JSON event"))?;
        let (Some(event_id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
            return Err(AppError::bad_request("malformed_event", "the event has no id or type"));
        };
        let object = &event["data"]["object"];
        // Connect: events of a connected account name it.
        let account = event["account"].as_str().filter(|a| !a.is_empty());
        let fetched = self.stripe_reads(kind, object, account).await?;
        let mut tx = self.db().begin().await?;
        if store::insert_webhook_event(&mut tx, "stripe", event_id, kind, &Json(event.clone()), now()).await? == 0 {
            tracing::info!(event = event_id, kind, "duplicate Stripe webhook delivery ignored");
            return Ok(WebhookAck { received: true, duplicate: true });
        }
        match self.apply_stripe_event(&mut tx, kind, object, account, &fetched).await {
            Ok((org, payment, outcome)) => {
                store::finish_webhook_event(&mut tx, "stripe", event_id, org, payment, outcome, now()).await?;
                self.kernel.commit(tx).await?;
            }
            Err(AppError::Conflict { code, message }) => {
                // The event contradicts our books (e.g. more refunded than was paid). Stripe
                // would redeliver a non-2xx answer for three days and get the same result:
                // keep the event, marked rejected, for an operator to look at, and answer 200.
                drop(tx);
                tracing::error!(event = event_id, kind, code, %message, "a Stripe event was rejected; it is recorded, nothing was booked");
                let mut tx = self.db().begin().await?;
                store::insert_webhook_event(&mut tx, "stripe", event_id, kind, &Json(event.clone()), now()).await?;
                store::finish_webhook_event(&mut tx, "stripe", event_id, None, None, &format!("rejected:{code}"), now()).await?;
                self.kernel.commit(tx).await?;
            }
            Err(e) => return Err(e),
        }
        Ok(WebhookAck { received: true, duplicate: false })
    }

    /// What an event needs from Stripe, read before the transaction opens so no database
    /// lock is held across a network call.
    async fn stripe_reads(&self, kind: &str, object: &Value, account: Option<&str>) -> AppResult<StripeReads> {
        let Some(stripe) = &self.stripe else { return Ok(StripeReads::default()) };
        let stripe = stripe.on_account_opt(account);
        Ok(match kind {
            "payment_intent.succeeded" => StripeReads { fee: stripe.fee_of(object).await, refunds: None },
            "invoice.paid" | "invoice.payment_succeeded" => {
                StripeReads { fee: stripe.charge_fee(&object["charge"]).await, refunds: None }
            }
            "charge.refunded" if object["refunds"]["data"].as_array().is_none_or(|d| d.is_empty()) => {
                let charge = object["id"].as_str().unwrap_or_default();
                let refunds = stripe.charge_refunds(charge).await.map_err(|e| {
                    // Answering 503 makes Stripe deliver the event again later.
                    tracing::warn!(charge, error = %e.message, "cannot list the refunds of a refunded charge");
                    AppError::Unavailable { message: "Stripe could not be asked for the charge's refunds".into() }
                })?;
                StripeReads { fee: 0, refunds: Some(refunds) }
            }
            _ => StripeReads::default(),
        })
    }

    /// Finds our payment for a Stripe object: `metadata.payment_id`, else its provider id.
    async fn stripe_payment(&self, tx: &mut Tx<'_>, object: &Value, provider_ids: &[&str]) -> AppResult<Option<PaymentRecord>> {
        if let Some(id) = object["metadata"]["payment_id"].as_str().and_then(|s| s.parse::<Uuid>().ok())
            && let Some(p) = store::lock_payment(tx, PaymentId(id)).await?
        {
            return Ok(Some(p));
        }
        for pid in provider_ids {
            if pid.is_empty() {
                continue;
            }
            if let Some(id) = store::payment_id_by_provider_id(tx, pid).await? {
                return store::lock_payment(tx, id).await.map_err(Into::into);
            }
        }
        Ok(None)
    }

    async fn apply_stripe_event(
        &self,
        tx: &mut Tx<'_>,
        kind: &str,
        object: &Value,
        account: Option<&str>,
        fetched: &StripeReads,
    ) -> AppResult<(Option<OrgId>, Option<PaymentId>, &'static str)> {
        let at = now();
        let fee = fetched.fee;
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        match kind {
            "payment_intent.succeeded" | "payment_intent.payment_failed" | "payment_intent.requires_action" => {
                let pi = s(&object["id"]);
                let Some(p) = self.stripe_payment(tx, object, &[&pi]).await? else { return Ok((None, None, "unknown_payment")) };
                let outcome = match kind {
                    "payment_intent.succeeded" => match self.settle_success(tx, p.id, Some(&pi), fee).await? {
                        Some(_) => "succeeded",
                        None => "no_change",
                    },
                    "payment_intent.payment_failed" => {
                        let err = &object["last_payment_error"];
                        let code = err["decline_code"].as_str().or_else(|| err["code"].as_str()).unwrap_or("payment_failed");
                        let message = err["message"].as_str().unwrap_or("the payment failed");
                        match store::mark_failed(tx, p.id, Some(&pi), code, message, at).await? {
                            Some(failed) => {
                                publish(tx, topics::FAILED, &payment_event(&failed)).await?;
                                "failed"
                            }
                            None => "no_change",
                        }
                    }
                    _ => {
                        let next = Json(object["next_action"].clone());
                        match store::mark_pending(tx, p.id, PaymentStatus::RequiresAction, Some(&pi), Some(&next), None, at)
                            .await?
                        {
                            Some(_) => "requires_action",
                            None => "no_change",
                        }
                    }
                };
                Ok((Some(p.org_id), Some(p.id), outcome))
            }
            "checkout.session.completed"
            | "checkout.session.async_payment_succeeded"
            | "checkout.session.async_payment_failed"
            | "checkout.session.expired" => {
                let (cs, pi) = (s(&object["id"]), s(&object["payment_intent"]));
                let Some(p) = self.stripe_payment(tx, object, &[&cs, &pi]).await? else {
                    return Ok((None, None, "unknown_payment"));
                };
                if !pi.is_empty() {
                    store::set_provider_id(tx, p.id, &pi, at).await?;
                }
                let paid = object["payment_status"].as_str() == Some("paid");
                let outcome = if kind.ends_with("failed") || kind.ends_with("expired") {
                    match store::mark_failed(tx, p.id, None, "checkout_not_completed", "the checkout was not completed", at)
                        .await?
                    {
                        Some(failed) => {
                            publish(tx, topics::FAILED, &payment_event(&failed)).await?;
                            "failed"
                        }
                        None => "no_change",
                    }
                } else if paid {
                    match self.settle_success(tx, p.id, None, fee).await? {
                        Some(_) => "succeeded",
                        None => "no_change",
                    }
                } else {
                    "awaiting_payment"
                };
                Ok((Some(p.org_id), Some(p.id), outcome))
            }
            "charge.refunded" => {
                let pi = s(&object["payment_intent"]);
                let Some(p) = self.stripe_payment(tx, object, &[&pi]).await? else { return Ok((None, None, "unknown_payment")) };
                let mut applied = false;
                // Each refund by its own id (`re_…`), listed in the event (older API
                // versions) or read from Stripe: the same refund's `refund.created` then finds
                // it booked. Without a Stripe client nothing can be read; the refund's own
                // events book it.
                let listed = object["refunds"]["data"].as_array().filter(|d| !d.is_empty());
                let refunds = listed.or(fetched.refunds.as_ref()).cloned().unwrap_or_default();
                for r in refunds {
                    applied |= self.apply_stripe_refund(tx, p.id, &r).await?;
                }
                Ok((Some(p.org_id), Some(p.id), if applied { "refunded" } else { "no_change" }))
            }
            "refund.created" | "refund.updated" | "charge.refund.updated" => {
                let pi = s(&object["payment_intent"]);
                let Some(p) = self.stripe_payment(tx, object, &[&pi]).await? else { return Ok((None, None, "unknown_payment")) };
                let applied = self.apply_stripe_refund(tx, p.id, object).await?;
                Ok((Some(p.org_id), Some(p.id), if applied { "refunded" } else { "no_change" }))
            }
            "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
                let sid = s(&object["id"]);
                let Some(id) = store::subscription_by_provider_id(tx, &sid).await? else {
                    return Ok((None, None, "unknown_subscription"));
                };
                let status = if kind.ends_with("deleted") { "canceled".to_string() } else { s(&object["status"]) };
                let sub = store::set_subscription_state(tx, id, None, None, &status, at).await?;
                Ok((sub.map(|s| s.org_id), None, "subscription_updated"))
            }
            "invoice.paid" | "invoice.payment_succeeded" => {
                // The subscription: `subscription` (older API versions) or
                // `parent.subscription_details.subscription`.
                let sid = object["subscription"]
                    .as_str()
                    .or_else(|| object["parent"]["subscription_details"]["subscription"].as_str())
                    .unwrap_or_default();
                // Our id, in the subscription's metadata: the first invoice is paid while the
                // subscription is created, so its event may come before we know Stripe's id.
                let ours = [&object["subscription_details"], &object["parent"]["subscription_details"]]
                    .iter()
                    .find_map(|d| d["metadata"]["subscription_id"].as_str().and_then(|s| s.parse::<Uuid>().ok()))
                    .map(crate::domain::SubscriptionId);
                let id = match store::subscription_by_provider_id(tx, sid).await? {
                    Some(id) => Some(id),
                    None => ours,
                };
                let Some(id) = id else { return Ok((None, None, "unknown_subscription")) };
                let Some(sub) = store::subscription_tx(tx, id).await? else { return Ok((None, None, "unknown_subscription")) };
                let amount = object["amount_paid"].as_i64().unwrap_or(0);
                let invoice_id = s(&object["id"]);
                let pi = s(&object["payment_intent"]);
                let inv = InvoicePaid {
                    provider_payment_id: if pi.is_empty() { invoice_id.clone() } else { pi },
                    invoice_id,
                    amount,
                    currency: s(&object["currency"]).to_uppercase(),
                    fee,
                };
                if amount <= 0 || domain::currency("currency", &inv.currency).is_err() {
                    return Ok((Some(sub.org_id), None, "nothing_paid"));
                }
                let paid = self.record_invoice(tx, &sub, &inv).await?;
                Ok((Some(sub.org_id), paid, if paid.is_some() { "invoice_paid" } else { "no_change" }))
            }
            "payout.paid" | "payout.failed" => {
                let Some(org) = self.payout_org(tx, account).await? else {
                    tracing::warn!(
                        payout = object["id"].as_str().unwrap_or_default(),
                        account,
                        "a Stripe payout cannot be attributed: no organization has this connected account, or not exactly \
                         one organization takes payments on the server's own Stripe account"
                    );
                    return Ok((None, None, "unattributed_payout"));
                };
                let id = s(&object["id"]);
                let amount = object["amount"].as_i64().unwrap_or(0);
                let currency = s(&object["currency"]).to_uppercase();
                if amount <= 0 || id.is_empty() || domain::currency("currency", &currency).is_err() {
                    return Ok((Some(org), None, "ignored"));
                }
                let of = EntryOf {
                    org_id: org,
                    currency: &currency,
                    payment_id: None,
                    refund_id: None,
                    event_id: None,
                    test_mode: self.stripe_test_mode,
                    offline: false,
                    memo: format!("payout {id}"),
                };
                let forward = format!("payout:{id}");
                let outcome = if kind == "payout.paid" {
                    post_ledger(tx, &of, EntryKind::Payout, amount, &forward).await?.then_some("payout_booked")
                } else {
                    // Failed: paid and returned by the bank, or never paid. Either way the
                    // money is at the provider: the payout (once) and its return net to zero,
                    // and a `payout.paid` arriving after this one finds it booked already.
                    let booked = post_ledger(tx, &of, EntryKind::Payout, amount, &forward).await?;
                    let of = EntryOf { memo: format!("payout {id} returned"), ..of };
                    let returned = post_ledger(tx, &of, EntryKind::Payout, -amount, &format!("payout-returned:{id}")).await?;
                    match (booked, returned) {
                        (_, false) => None,
                        (true, true) => Some("payout_failed"),
                        (false, true) => Some("payout_returned"),
                    }
                };
                Ok((Some(org), None, outcome.unwrap_or("no_change")))
            }
            _ => Ok((None, None, "ignored")),
        }
    }

    /// The organization a payout belongs to: a connected account's organization; for the
    /// server's own account, the one organization taking payments on it. With several, the
    /// money in that account is theirs together and a payout cannot be split.
    async fn payout_org(&self, tx: &mut Tx<'_>, account: Option<&str>) -> AppResult<Option<OrgId>> {
        if let Some(a) = account {
            return Ok(store::org_of_stripe_account(tx, a).await?);
        }
        let orgs = store::orgs_on_platform_stripe(tx, 2).await?;
        Ok(if orgs.len() == 1 { orgs.first().copied() } else { None })
    }

    /// Books a paid subscription invoice once: a `subscription`-flow payment of its own
    /// (reference `subscription:<id>`), succeeded, with its charge and fee in the ledger and
    /// `payment.succeeded` published. `None` when it was booked before.
    async fn record_invoice(&self, tx: &mut Tx<'_>, sub: &SubscriptionRecord, inv: &InvoicePaid) -> AppResult<Option<PaymentId>> {
        if store::payment_id_by_provider_id(tx, &inv.provider_payment_id).await?.is_some() {
            return Ok(None);
        }
        let at = now();
        let record = PaymentRecord {
            test_mode: sub.test_mode,
            description: format!("{}: invoice {}", sub.name, inv.invoice_id),
            buyer_email: sub.customer_email.clone(),
            payer: "provider".into(),
            provider_payment_id: Some(inv.provider_payment_id.clone()),
            provider_account: sub.provider_account.clone(),
            ..PaymentRecord::processing(
                sub.org_id,
                format!("{SUBSCRIPTION}:{}", sub.id),
                sub.provider,
                SUBSCRIPTION,
                inv.amount,
                inv.currency.clone(),
                at,
            )
        };
        store::insert_payment(tx, &record).await?;
        self.settle_success(tx, record.id, None, inv.fee).await?;
        Ok(Some(record.id))
    }

    /// One Stripe refund object: ours when its metadata names our refund.
    async fn apply_stripe_refund(&self, tx: &mut Tx<'_>, payment: PaymentId, r: &Value) -> AppResult<bool> {
        if !matches!(r["status"].as_str(), Some("succeeded" | "pending") | None) {
            return Ok(false);
        }
        let Some(rid) = r["id"].as_str() else { return Ok(false) };
        let ours = r["metadata"]["refund_id"].as_str().and_then(|s| s.parse::<Uuid>().ok()).map(RefundId);
        let amount = r["amount"].as_i64().unwrap_or(0);
        if amount <= 0 {
            return Ok(false);
        }
        self.complete_refund(tx, payment, ours, rid, amount).await
    }

    // ---- ledger and settlement --------------------------------------------------------------

    fn org_param(org: Option<OrgId>) -> AppResult<OrgId> {
        org.ok_or_else(|| AppError::validation("org_id", "required"))
    }

    pub async fn ledger(&self, p: &Principal, q: LedgerQuery) -> AppResult<Page<LedgerTransaction>> {
        let org = Self::org_param(q.org_id)?;
        self.require(p, org, Role::Viewer, "organization").await?;
        let page = PageParams { cursor: q.cursor.clone(), limit: q.limit };
        let limit = page.limit()?;
        let before: Option<LedgerTransactionId> = page.decode()?;
        let currency = q.currency.as_deref().map(|c| domain::currency("currency", c)).transpose()?;
        let rows = store::ledger(self.db(), org, currency.as_deref(), q.event_id, before, limit).await?;
        let page = Page::from_rows(rows, limit, |r| r.id);
        let ids: Vec<LedgerTransactionId> = page.items.iter().map(|t| t.id).collect();
        let mut lines: HashMap<LedgerTransactionId, Vec<LedgerLine>> = HashMap::new();
        for l in store::ledger_lines(self.db(), org, &ids).await? {
            lines.entry(l.transaction_id).or_default().push(LedgerLine {
                account: l.account,
                amount: l.amount,
                currency: l.currency,
            });
        }
        Ok(page.map(|t| LedgerTransaction {
            id: t.id,
            org_id: t.org_id,
            kind: match t.kind.as_str() {
                "fee" => EntryKind::Fee,
                "refund" => EntryKind::Refund,
                "payout" => EntryKind::Payout,
                _ => EntryKind::Charge,
            },
            currency: t.currency,
            payment_id: t.payment_id,
            refund_id: t.refund_id,
            event_id: t.event_id,
            test_mode: t.test_mode,
            memo: t.memo,
            lines: lines.remove(&t.id).unwrap_or_default(),
            created_at: t.created_at,
        }))
    }

    /// Gross, refunds, fees and net per currency, of an organization or one event; test-mode
    /// money apart.
    pub async fn settlement(&self, p: &Principal, q: SettlementQuery) -> AppResult<Settlement> {
        let org = Self::org_param(q.org_id)?;
        self.require(p, org, Role::Viewer, "organization").await?;
        let sums = store::account_sums(self.db(), org, q.event_id).await?;
        let counts = store::charge_counts(self.db(), org, q.event_id).await?;
        let mut lines: std::collections::BTreeMap<(bool, String), SettlementLine> = Default::default();
        for (currency, test, account, sum) in sums {
            let l = lines.entry((test, currency.clone())).or_insert(SettlementLine {
                currency,
                gross: 0,
                refunds: 0,
                fees: 0,
                net: 0,
                payments: 0,
                payouts: 0,
            });
            match account.as_str() {
                domain::account::SALES => l.gross = -sum,
                domain::account::REFUNDS => l.refunds = sum,
                domain::account::FEES => l.fees = sum,
                domain::account::BANK => l.payouts = sum,
                _ => {}
            }
        }
        for (currency, test, n) in counts {
            if let Some(l) = lines.get_mut(&(test, currency)) {
                l.payments = n;
            }
        }
        let (mut revenue, mut test_mode) = (Vec::new(), Vec::new());
        for ((test, _), mut l) in lines {
            l.net = l.gross - l.refunds - l.fees;
            if test { test_mode.push(l) } else { revenue.push(l) }
        }
        Ok(Settlement { org_id: org, event_id: q.event_id, revenue, test_mode })
    }

    // ---- subscriptions ----------------------------------------------------------------------

    pub async fn create_subscription(&self, p: &Principal, req: CreateSubscription) -> AppResult<Subscription> {
        self.require(p, req.org_id, Role::Staff, "organization").await?;
        let email = req.customer_email.trim().to_string();
        if email.len() > 254 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
            return Err(AppError::validation("customer_email", "not an email address"));
        }
        let name = domain::text("name", Some(&req.name), 200)?.ok_or_else(|| AppError::validation("name", "required"))?;
        let amount = domain::amount("amount", req.amount)?;
        let currency = domain::currency("currency", &req.currency)?;
        if !matches!(req.interval.as_str(), "day" | "week" | "month" | "year") {
            return Err(AppError::validation("interval", "must be day, week, month or year"));
        }
        let reference = match req.reference.as_deref() {
            Some(r) => Some(domain::reference("reference", r).map(|_| r.trim().to_string())?),
            None => None,
        };
        let settings = self.org_provider(req.org_id).await?;
        let kind = settings.provider;
        let at = now();
        let record = SubscriptionRecord {
            id: crate::domain::SubscriptionId::new(),
            org_id: req.org_id,
            provider: kind,
            provider_subscription_id: None,
            provider_customer_id: None,
            customer_email: email.clone(),
            name: name.clone(),
            amount,
            currency: currency.clone(),
            billing_interval: req.interval.clone(),
            status: "incomplete".into(),
            reference,
            test_mode: kind == ProviderKind::Test || self.stripe_test_mode,
            provider_account: if kind == ProviderKind::Stripe { settings.stripe_account.clone() } else { None },
            canceled_at: None,
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.db().begin().await?;
        store::insert_subscription(&mut tx, &record).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(req.org_id),
                action: "subscription.created",
                resource_type: "subscription",
                resource_id: record.id.to_string(),
                changes: json!({ "name": name, "amount": amount, "currency": currency, "interval": req.interval }),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        let sreq = SubscriptionRequest {
            subscription_id: record.id,
            org_id: req.org_id,
            customer_email: email,
            name,
            amount,
            currency,
            interval: req.interval,
            payment_method: domain::text("payment_method", req.payment_method.as_deref(), 255)?,
        };
        let outcome = self.provider(kind, record.provider_account.as_deref())?.subscribe(&sreq).await;
        let mut tx = self.db().begin().await?;
        let sub = match outcome {
            Ok(o) => {
                let sub = store::set_subscription_state(
                    &mut tx,
                    record.id,
                    Some(&o.provider_subscription_id),
                    o.provider_customer_id.as_deref(),
                    &o.status,
                    now(),
                )
                .await?;
                if let (Some(inv), Some(sub)) = (&o.first_invoice, &sub) {
                    self.record_invoice(&mut tx, sub, inv).await?;
                }
                sub
            }
            Err(e) => {
                store::set_subscription_state(&mut tx, record.id, None, None, "failed", now()).await?;
                self.kernel.commit(tx).await?;
                return Err(if e.status == Some(402) {
                    AppError::conflict("card_declined", e.message)
                } else {
                    provider_error(e)
                });
            }
        };
        self.kernel.commit(tx).await?;
        sub.map(subscription_view).ok_or_else(|| AppError::not_found("subscription"))
    }

    pub async fn cancel_subscription(&self, p: &Principal, id: crate::domain::SubscriptionId) -> AppResult<Subscription> {
        let Some(sub) = store::subscription(self.db(), id).await? else { return Err(AppError::not_found("subscription")) };
        self.require(p, sub.org_id, Role::Staff, "subscription").await?;
        if sub.status == "canceled" {
            return Ok(subscription_view(sub));
        }
        let Some(pid) = sub.provider_subscription_id.clone() else {
            return Err(AppError::conflict("not_active", "the subscription never started"));
        };
        let outcome = self
            .provider(sub.provider, sub.provider_account.as_deref())?
            .cancel_subscription(&pid)
            .await
            .map_err(provider_error)?;
        let mut tx = self.db().begin().await?;
        let updated = store::set_subscription_state(&mut tx, id, None, None, &outcome.status, now()).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(sub.org_id),
                action: "subscription.canceled",
                resource_type: "subscription",
                resource_id: id.to_string(),
                changes: json!({ "status": outcome.status }),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        updated.map(subscription_view).ok_or_else(|| AppError::not_found("subscription"))
    }

    // ---- reconciliation ---------------------------------------------------------------------

    /// Reconciliation for one organization (admins) or all (platform admins).
    pub async fn reconcile(&self, p: &Principal, org: Option<OrgId>) -> AppResult<ReconcileReport> {
        match org {
            Some(o) => {
                self.require(p, o, Role::Admin, "organization").await?;
            }
            None => {
                if !p.is_platform_admin() {
                    return Err(AppError::validation("org_id", "required (all organizations: platform administrators)"));
                }
            }
        }
        self.reconcile_all(org).await
    }

    /// Attempts last updated before this are stale.
    fn stale_cutoff(&self) -> chrono::DateTime<chrono::Utc> {
        now() - TimeDelta::seconds(self.kernel.config.payments.reconcile_after_secs)
    }

    /// Settles an attempt in flight for longer than `payments.reconcile_after_secs`; true
    /// when it changed. With a provider id, the provider says how it ended. Without one the
    /// process stopped between recording the attempt and hearing back: the provider is
    /// searched by our payment id (Stripe: the `metadata[payment_id]` every object carries),
    /// and an attempt it never saw failed (`abandoned`), so the buyer can pay again.
    async fn settle_stale(&self, p: &PaymentRecord) -> AppResult<bool> {
        let Ok(provider) = self.provider(p.provider, p.provider_account.as_deref()) else { return Ok(false) };
        let found = match &p.provider_payment_id {
            Some(pid) if p.provider == ProviderKind::Stripe => provider.retrieve(pid).await.map(Some),
            // The test provider's in-flight payments stay so until a test says otherwise.
            Some(_) => return Ok(false),
            None => provider.find(p.id, &p.flow, (p.created_at - TimeDelta::minutes(5)).timestamp()).await,
        };
        match found {
            Ok(Some(o)) if matches!(o.status, ChargeStatus::Succeeded | ChargeStatus::Failed { .. }) => {
                self.apply_outcome(p.id, o).await?;
                Ok(true)
            }
            // Still under way at the provider: at least learn its id.
            Ok(Some(o)) if p.provider_payment_id.is_none() && o.provider_payment_id.is_some() => {
                self.apply_outcome(p.id, o).await?;
                Ok(true)
            }
            Ok(Some(_)) => Ok(false),
            Ok(None) => {
                let mut tx = self.db().begin().await?;
                let failed = store::mark_failed(
                    &mut tx,
                    p.id,
                    None,
                    "abandoned",
                    "the payment attempt was interrupted before the provider charged anything",
                    now(),
                )
                .await?;
                if let Some(failed) = &failed {
                    tracing::warn!(payment = %p.id, reference = %p.reference, "an interrupted payment attempt was marked failed");
                    publish(&mut tx, topics::FAILED, &payment_event(failed)).await?;
                }
                self.kernel.commit(tx).await?;
                Ok(failed.is_some())
            }
            Err(e) => {
                tracing::warn!(payment = %p.id, error = %e, "reconciliation could not reach the provider");
                Ok(false)
            }
        }
    }

    /// (1) Payments in flight longer than `payments.reconcile_after_secs`: settled with their
    /// provider ([`Self::settle_stale`]). (2) Recently paid payments whose reference is not
    /// settled: re-publishes `payment.succeeded` (its listener confirms, re-takes seats or
    /// refunds); a reference that is closed with no refund under way is a mismatch.
    pub async fn reconcile_all(&self, org: Option<OrgId>) -> AppResult<ReconcileReport> {
        let mut report = ReconcileReport::default();
        for p in store::stale_in_flight(self.db(), org, self.stale_cutoff()).await? {
            report.checked += 1;
            if self.settle_stale(&p).await? {
                report.fixed += 1;
            }
        }
        let since = now() - TimeDelta::days(7);
        for p in store::recent_captured(self.db(), org, since).await? {
            report.checked += 1;
            if p.flow == SUBSCRIPTION {
                // Invoices the provider billed: nothing of ours waits for them.
                continue;
            }
            let Some(payable) = self.resolve(Caller::System, &p.reference).await.ok().flatten() else { continue };
            match payable.state {
                PayableState::Settled => {}
                PayableState::Open => {
                    let mut tx = self.db().begin().await?;
                    let payload = payment_event(&p);
                    publish(&mut tx, topics::SUCCEEDED, &payload).await?;
                    self.kernel.commit(tx).await?;
                    report.republished += 1;
                }
                PayableState::Closed => {
                    let mut tx = self.db().begin().await?;
                    let pending = store::pending_refunds(&mut tx, p.id).await?;
                    drop(tx);
                    if pending + p.refunded_amount < p.amount {
                        report.mismatches.push(Mismatch {
                            payment_id: p.id,
                            reference: p.reference.clone(),
                            payment_status: p.status,
                            detail: "paid, but the reference is closed and no refund covers it".into(),
                        });
                    }
                }
            }
        }
        Ok(report)
    }
}

fn url_ok(u: &str) -> bool {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    u.len() <= 2000 && rest.is_some_and(|r| !r.is_empty())
}
