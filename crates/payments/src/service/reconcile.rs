//! Reconciliation: settling stale attempts with their provider and re-publishing what was paid.

use super::*;

impl PaymentsService {
    /// Reconciliation for one organization (admins) or all (platform admins).
    pub async fn reconcile(&self, p: &Principal, org: Option<OrgId>) -> AppResult<ReconcileReport> {
        match org {
            Some(o) => {
                let scope = self.access.require_for(p, o, Role::Admin, "organization").await?;
                self.reconcile_all(Some(&scope)).await
            }
            None => {
                if !p.is_platform_admin() {
                    return Err(AppError::validation("org_id", "required (all organizations: platform administrators)"));
                }
                self.reconcile_all(None).await
            }
        }
    }

    /// Attempts last updated before this are stale.
    pub(super) fn stale_cutoff(&self) -> chrono::DateTime<chrono::Utc> {
        now() - TimeDelta::seconds(self.config.reconcile_after_secs)
    }

    /// Settles an attempt in flight for longer than `payments.reconcile_after_secs`; true
    /// when it changed. With a provider id, the provider says how it ended. Without one the
    /// process stopped between recording the attempt and hearing back: the provider is
    /// searched by our payment id (Stripe: the `metadata[payment_id]` every object carries),
    /// and an attempt it never saw failed (`abandoned`), so the buyer can pay again.
    pub(super) async fn settle_stale(&self, p: &PaymentRecord) -> AppResult<bool> {
        let scope = OrgScope::platform(p.org_id);
        let Ok(provider) = self.provider(p.provider, p.provider_account.as_deref()) else { return Ok(false) };
        let found = match &p.provider_payment_id {
            Some(pid) if p.provider == ProviderKind::Stripe => provider.retrieve(pid).await.map(Some),
            // The test provider's in-flight payments stay so until a test says otherwise.
            Some(_) => return Ok(false),
            None => provider.find(p.id, &p.flow, (p.created_at - TimeDelta::minutes(5)).timestamp()).await,
        };
        match found {
            Ok(Some(o)) if matches!(o.status, ChargeStatus::Succeeded | ChargeStatus::Failed { .. }) => {
                self.apply_outcome(&scope, p.id, o).await?;
                Ok(true)
            }
            // Still under way at the provider: at least learn its id.
            Ok(Some(o)) if p.provider_payment_id.is_none() && o.provider_payment_id.is_some() => {
                self.apply_outcome(&scope, p.id, o).await?;
                Ok(true)
            }
            Ok(Some(_)) => Ok(false),
            Ok(None) => {
                let mut tx = self.db().begin().await?;
                let failed = store::mark_failed(
                    &mut tx,
                    &scope,
                    p.id,
                    None,
                    "abandoned",
                    "the payment attempt was interrupted before the provider charged anything",
                    now(),
                )
                .await?;
                if let Some(failed) = &failed {
                    tracing::warn!(payment = %p.id, reference = %p.reference, "an interrupted payment attempt was marked failed");
                    self.publish(&mut tx, &PAYMENT_FAILED, &snapshot(failed)).await?;
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
    /// `scope`: one organization; `None`: all (the periodic sweep, platform administrators).
    pub async fn reconcile_all(&self, scope: Option<&OrgScope>) -> AppResult<ReconcileReport> {
        let mut report = ReconcileReport::default();
        for p in store::stale_in_flight(self.db(), scope, self.stale_cutoff()).await? {
            report.checked += 1;
            if self.settle_stale(&p).await? {
                report.fixed += 1;
            }
        }
        let since = now() - TimeDelta::days(7);
        for p in store::recent_captured(self.db(), scope, since).await? {
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
                    self.publish(&mut tx, &PAYMENT_SUCCEEDED, &snapshot(&p)).await?;
                    self.kernel.commit(tx).await?;
                    report.republished += 1;
                }
                PayableState::Closed => {
                    let mut tx = self.db().begin().await?;
                    let pending = store::pending_refunds(&mut tx, &OrgScope::platform(p.org_id), p.id).await?;
                    drop(tx);
                    if domain::left_of(&p.currency, p.amount, &[p.refunded_amount, pending])? > 0 {
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
