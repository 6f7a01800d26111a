//! Subscriptions: creating, cancelling, and booking their invoices.

use super::*;

impl PaymentsService {
    pub async fn create_subscription(&self, p: &Principal, req: CreateSubscription) -> AppResult<Subscription> {
        let scope = self.access.require_for(p, req.org_id, Role::Staff, "organization").await?;
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
        let settings = self.org_provider(&scope).await?;
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
        store::insert_subscription(&mut tx, &scope, &record).await?;
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
                    &scope,
                    record.id,
                    Some(&o.provider_subscription_id),
                    o.provider_customer_id.as_deref(),
                    &o.status,
                    now(),
                )
                .await?;
                if let (Some(inv), Some(sub)) = (&o.first_invoice, &sub) {
                    self.record_invoice(&mut tx, &scope, sub, inv).await?;
                }
                sub
            }
            Err(e) => {
                store::set_subscription_state(&mut tx, &scope, record.id, None, None, "failed", now()).await?;
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
        let Some(sub) = store::find_subscription(self.db(), id).await? else { return Err(AppError::not_found("subscription")) };
        let scope = self.access.require_for(p, sub.org_id, Role::Staff, "subscription").await?;
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
        let updated = store::set_subscription_state(&mut tx, &scope, id, None, None, &outcome.status, now()).await?;
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
}
