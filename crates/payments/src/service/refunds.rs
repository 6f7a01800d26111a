//! Refunds: requests, the refund job, and booking what the provider refunded.

use kernel::jobs::JobKind;

use super::*;

/// Executes one refund with its provider; retried with backoff, dead-lettered after
/// `payments.refund_max_attempts`.
pub const REFUND_JOB: JobKind<RefundJob> = JobKind::new("payments.refund");

/// The payload of a [`REFUND_JOB`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefundJob {
    /// The refund row, written with the job; it says the payment, amount and attempts.
    pub refund_id: RefundId,
}

impl PaymentsService {
    /// Requests a refund (staff and above): written now, executed by the refund job.
    pub async fn refund(&self, p: &Principal, id: PaymentId, req: CreateRefund) -> AppResult<Refund> {
        let Some(pay) = store::find_payment(self.db(), id).await? else { return Err(AppError::not_found("payment")) };
        let scope = self.access.require_for(p, pay.org_id, Role::Staff, "payment").await?;
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
        self.request_refund(&scope, id, amount, items, reason, &p.actor()).await.map(refund_view)
    }

    /// Asks the owner of `reference` what `items` cost; the items come back canonical, and
    /// an item named twice (in any spelling) is a `422`.
    pub(super) async fn price_items(&self, reference: &str, items: &[String]) -> AppResult<(i64, Vec<String>)> {
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
        let Some(pay) = store::find_payment(self.db(), id).await? else { return Err(AppError::not_found("payment")) };
        self.system_refund(&OrgScope::platform(pay.org_id), id, amount, reason).await
    }

    /// Refunds everything left of every captured payment of `reference` (system).
    pub async fn refund_reference(&self, reference: &str, reason: &str) -> AppResult<Vec<RefundId>> {
        let mut tx = self.db().begin().await?;
        let paid = store::captured_payments(&mut tx, reference).await?;
        drop(tx);
        let mut out = Vec::new();
        for p in paid {
            if let Some(r) = self.system_refund(&OrgScope::platform(p.org_id), p.id, None, reason).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// [`Self::refund_for_system`] of a payment of `scope`'s organization.
    async fn system_refund(
        &self,
        scope: &OrgScope,
        id: PaymentId,
        amount: Option<i64>,
        reason: &str,
    ) -> AppResult<Option<RefundId>> {
        match self.request_refund(scope, id, amount, Vec::new(), Some(reason.to_string()), "system").await {
            Ok(r) => Ok(Some(r.id)),
            Err(AppError::Conflict { code: "nothing_to_refund", .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn request_refund(
        &self,
        scope: &OrgScope,
        id: PaymentId,
        amount: Option<i64>,
        items: Vec<String>,
        reason: Option<String>,
        actor: &str,
    ) -> AppResult<RefundRecord> {
        let at = now();
        let mut tx = self.db().begin().await?;
        let Some(pay) = store::lock_payment(&mut tx, scope, id).await? else { return Err(AppError::not_found("payment")) };
        if !pay.status.captured() {
            return Err(AppError::conflict("not_refundable", format!("the payment is {}", pay.status.as_str())));
        }
        if pay.provider == ProviderKind::Free {
            return Err(AppError::conflict("not_refundable", "a free payment moved no money"));
        }
        let pending = store::pending_refunds(&mut tx, scope, id).await?;
        let left = domain::left_of(&pay.currency, pay.amount, &[pay.refunded_amount, pending])?;
        if left <= 0 {
            return Err(AppError::conflict("nothing_to_refund", "the payment is refunded in full (or refunds are pending)"));
        }
        let amount = amount.unwrap_or(left);
        if amount > left {
            return Err(AppError::validation("amount", format!("at most {left} is left to refund")));
        }
        if !items.is_empty() {
            let given_back = store::refunded_items(&mut tx, scope, id, None).await?;
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
        store::insert_refund(&mut tx, scope, &r).await?;
        let max = self.config.refund_max_attempts;
        self.kernel.jobs.enqueue_with(&mut tx, &REFUND_JOB, &RefundJob { refund_id: r.id }, at, max).await?;
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
        let Some(queued) = store::find_refund(&mut tx, id).await? else { return Ok(()) };
        let scope = OrgScope::platform(queued.org_id);
        store::lock_payment(&mut tx, &scope, queued.payment_id).await?;
        let Some(r) = store::begin_refund_attempt(&mut tx, &scope, id, at).await? else { return Ok(()) };
        if !r.items.0.is_empty() {
            // A failed refund retried by hand: its items may have been given back since.
            let elsewhere = store::refunded_items(&mut tx, &scope, r.payment_id, Some(r.id)).await?;
            if r.items.0.iter().any(|i| elsewhere.contains(i)) {
                let why = "its items were refunded by another refund";
                store::refund_failed_attempt(&mut tx, &scope, r.id, why, true, at).await?;
                tx.commit().await?;
                tracing::warn!(refund = %id, "refund not retried: its items were refunded by another refund");
                return Ok(());
            }
        }
        tx.commit().await?;
        let pay = store::payment(self.db(), &scope, r.payment_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("payment of refund {id} is gone"))?;
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
                self.complete_refund(&mut tx, &scope, pay.id, Some(r.id), &outcome.provider_refund_id, r.amount).await?;
                self.kernel.commit(tx).await?;
                Ok(())
            }
            Err(e) => {
                let give_up = !e.retryable || r.attempts >= self.config.refund_max_attempts;
                let error = e.to_string().chars().take(500).collect::<String>();
                let mut tx = self.db().begin().await?;
                store::refund_failed_attempt(&mut tx, &scope, r.id, &error, give_up, now()).await?;
                if give_up {
                    let payload = RefundFailed { payment: snapshot(&pay), refund_id: r.id, refund_amount: r.amount, error };
                    self.publish(&mut tx, &PAYMENT_REFUND_FAILED, &payload).await?;
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
    pub(super) async fn complete_refund(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        payment: PaymentId,
        refund: Option<RefundId>,
        provider_refund_id: &str,
        amount: i64,
    ) -> AppResult<bool> {
        let at = now();
        let Some(mut pay) = store::lock_payment(tx, scope, payment).await? else { return Ok(false) };
        if !pay.status.captured() {
            if let Some(p) = self.settle_success(tx, scope, pay.id, None, pay.fee).await? {
                pay = p;
            } else {
                return Ok(false);
            }
        }
        let ours = match refund {
            Some(id) => store::refund_tx(tx, scope, id).await?,
            None => None,
        };
        let record = match ours {
            Some(r) if r.status == RefundStatus::Succeeded => return Ok(false),
            Some(r) => match store::mark_refund_succeeded(tx, scope, r.id, provider_refund_id, at).await? {
                Some(r) => r,
                None => return Ok(false),
            },
            None => {
                if store::refund_by_provider_id(tx, scope, provider_refund_id).await?.is_some() {
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
                store::insert_refund(tx, scope, &r).await?;
                r
            }
        };
        let Some(updated) = store::add_refunded(tx, scope, pay.id, record.amount, at).await? else {
            tracing::error!(payment = %pay.id, refund = %record.id, "refund exceeds what is left of the payment; not booked");
            return Err(AppError::conflict("refund_exceeds_payment", "the refund exceeds what is left of the payment"));
        };
        let source = format!("refund:{}", record.id);
        let entry =
            Entry { kind: EntryKind::Refund, amount: record.amount, refund: Some(record.id), source: &source, memo: "refund" };
        self.post_entry(tx, scope, &updated, entry).await?;
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
        let payload = PaymentRefunded {
            payment: snapshot(&updated),
            refund_id: record.id,
            refund_amount: record.amount,
            fully_refunded: updated.status == PaymentStatus::Refunded,
            items: record.items.0,
        };
        self.publish(tx, &PAYMENT_REFUNDED, &payload).await?;
        Ok(true)
    }
}
