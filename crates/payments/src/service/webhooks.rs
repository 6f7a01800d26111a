//! Stripe webhooks: verification, exactly-once recording, and applying each event.
//!
//! An event names our objects by Stripe's ids or by the ids in their metadata, never by
//! organization: the payment or subscription is found first (unscoped), and everything the
//! event then changes is done in that row's organization (`OrgScope::platform`).

use crate::provider::stripe::event::{
    CheckoutSession, Invoice, Metadata, PaymentIntent, Payout, Refund as StripeRefund, StripeEvent, StripeWebhook,
};

use super::*;

/// What applying an event did: the organization and payment it was about, and its outcome
/// (recorded on the event).
type Applied = (Option<OrgId>, Option<PaymentId>, &'static str);

impl PaymentsService {
    /// A Stripe webhook delivery: signature verified, recorded once, applied once.
    pub async fn stripe_webhook(&self, signature: Option<&str>, body: &[u8]) -> AppResult<WebhookAck> {
        let cfg = &self.config;
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
        let raw: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| AppError::bad_request("malformed_json", "not a JSON event"))?;
        let Some(hook) = StripeWebhook::parse(&raw) else {
            return Err(AppError::bad_request("malformed_event", "the event has no id or type"));
        };
        let (event_id, kind) = (hook.id.as_str(), hook.kind.as_str());
        let fetched = self.stripe_reads(&hook.event, hook.account.as_deref()).await?;
        // The event is kept as Stripe sent it, not as we read it.
        let payload = Json(raw);
        let mut tx = self.db().begin().await?;
        if store::insert_webhook_event(&mut tx, "stripe", event_id, kind, &payload, now()).await? == 0 {
            tracing::info!(event = event_id, kind, "duplicate Stripe webhook delivery ignored");
            return Ok(WebhookAck { received: true, duplicate: true });
        }
        match self.apply_stripe_event(&mut tx, &hook, &fetched).await {
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
                store::insert_webhook_event(&mut tx, "stripe", event_id, kind, &payload, now()).await?;
                store::finish_webhook_event(&mut tx, "stripe", event_id, None, None, &format!("rejected:{code}"), now()).await?;
                self.kernel.commit(tx).await?;
            }
            Err(e) => return Err(e),
        }
        Ok(WebhookAck { received: true, duplicate: false })
    }

    /// What an event needs from Stripe, read before the transaction opens so no database
    /// lock is held across a network call.
    pub(super) async fn stripe_reads(&self, event: &StripeEvent, account: Option<&str>) -> AppResult<StripeReads> {
        let Some(stripe) = &self.stripe else { return Ok(StripeReads::default()) };
        let stripe = stripe.on_account_opt(account);
        Ok(match event {
            StripeEvent::PaymentIntentSucceeded(pi) => {
                StripeReads { fee: stripe.charge_fee(pi.latest_charge.as_ref()).await, refunds: None }
            }
            StripeEvent::InvoicePaid(inv) => StripeReads { fee: stripe.charge_fee(inv.charge.as_ref()).await, refunds: None },
            StripeEvent::ChargeRefunded(charge) if charge.refunds.data.is_empty() => {
                let charge = charge.id.as_deref().unwrap_or_default();
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
    pub(super) async fn stripe_payment(
        &self,
        tx: &mut Tx<'_>,
        metadata: &Metadata,
        provider_ids: &[&str],
    ) -> AppResult<Option<PaymentRecord>> {
        if let Some(id) = metadata.payment_id
            && let Some(p) = store::locate_payment(tx, PaymentId(id)).await?
        {
            return Ok(Some(p));
        }
        for pid in provider_ids {
            if pid.is_empty() {
                continue;
            }
            if let Some(id) = store::payment_id_by_provider_id(tx, pid).await? {
                return store::locate_payment(tx, id).await.map_err(Into::into);
            }
        }
        Ok(None)
    }

    pub(super) async fn apply_stripe_event(
        &self,
        tx: &mut Tx<'_>,
        hook: &StripeWebhook,
        fetched: &StripeReads,
    ) -> AppResult<Applied> {
        match &hook.event {
            StripeEvent::PaymentIntentSucceeded(pi)
            | StripeEvent::PaymentIntentFailed(pi)
            | StripeEvent::PaymentIntentRequiresAction(pi) => self.apply_intent(tx, &hook.event, pi, fetched.fee).await,
            StripeEvent::CheckoutSessionCompleted(cs) => self.apply_checkout(tx, cs, true, fetched.fee).await,
            StripeEvent::CheckoutSessionFailed(cs) => self.apply_checkout(tx, cs, false, fetched.fee).await,
            StripeEvent::ChargeRefunded(charge) => {
                let pi = charge.payment_intent.as_deref().unwrap_or_default();
                let Some(p) = self.stripe_payment(tx, &charge.metadata, &[pi]).await? else {
                    return Ok((None, None, "unknown_payment"));
                };
                let scope = OrgScope::platform(p.org_id);
                let mut applied = false;
                // Each refund by its own id (`re_…`), listed in the event (older API
                // versions) or read from Stripe: the same refund's `refund.created` then finds
                // it booked. Without a Stripe client nothing can be read; the refund's own
                // events book it.
                let listed = Some(&charge.refunds.data).filter(|d| !d.is_empty());
                for r in listed.or(fetched.refunds.as_ref()).map(Vec::as_slice).unwrap_or_default() {
                    applied |= self.apply_stripe_refund(tx, &scope, p.id, r).await?;
                }
                Ok((Some(p.org_id), Some(p.id), if applied { "refunded" } else { "no_change" }))
            }
            StripeEvent::RefundUpdated(refund) => {
                let pi = refund.payment_intent.as_deref().unwrap_or_default();
                let Some(p) = self.stripe_payment(tx, &refund.metadata, &[pi]).await? else {
                    return Ok((None, None, "unknown_payment"));
                };
                let applied = self.apply_stripe_refund(tx, &OrgScope::platform(p.org_id), p.id, refund).await?;
                Ok((Some(p.org_id), Some(p.id), if applied { "refunded" } else { "no_change" }))
            }
            StripeEvent::SubscriptionUpdated(sub) | StripeEvent::SubscriptionDeleted(sub) => {
                let sid = sub.id.as_deref().unwrap_or_default();
                let Some(ours) = store::subscription_by_provider_id(tx, sid).await? else {
                    return Ok((None, None, "unknown_subscription"));
                };
                let status = match &hook.event {
                    StripeEvent::SubscriptionDeleted(_) => "canceled",
                    _ => sub.status.as_deref().unwrap_or_default(),
                };
                let scope = OrgScope::platform(ours.org_id);
                let updated = store::set_subscription_state(tx, &scope, ours.id, None, None, status, now()).await?;
                Ok((updated.map(|s| s.org_id), None, "subscription_updated"))
            }
            StripeEvent::InvoicePaid(inv) => self.apply_invoice(tx, inv, fetched.fee).await,
            StripeEvent::PayoutPaid(payout) => self.apply_payout(tx, payout, true, hook.account.as_deref()).await,
            StripeEvent::PayoutFailed(payout) => self.apply_payout(tx, payout, false, hook.account.as_deref()).await,
            StripeEvent::Ignored => Ok((None, None, "ignored")),
        }
    }

    /// `payment_intent.*`: the intent succeeded, failed, or waits for the buyer.
    async fn apply_intent(&self, tx: &mut Tx<'_>, event: &StripeEvent, pi: &PaymentIntent, fee: i64) -> AppResult<Applied> {
        let at = now();
        let pid = pi.id.as_deref().unwrap_or_default();
        let Some(p) = self.stripe_payment(tx, &pi.metadata, &[pid]).await? else { return Ok((None, None, "unknown_payment")) };
        let scope = OrgScope::platform(p.org_id);
        let outcome = match event {
            StripeEvent::PaymentIntentSucceeded(_) => match self.settle_success(tx, &scope, p.id, Some(pid), fee).await? {
                Some(_) => "succeeded",
                None => "no_change",
            },
            StripeEvent::PaymentIntentFailed(_) => {
                let err = &pi.last_payment_error;
                let code = err.decline_code.as_deref().or(err.code.as_deref()).unwrap_or("payment_failed");
                let message = err.message.as_deref().unwrap_or("the payment failed");
                match store::mark_failed(tx, &scope, p.id, Some(pid), code, message, at).await? {
                    Some(failed) => {
                        self.publish(tx, &PAYMENT_FAILED, &snapshot(&failed)).await?;
                        "failed"
                    }
                    None => "no_change",
                }
            }
            _ => {
                let next_action = Json(pi.next_action.clone());
                let pending = store::Pending {
                    status: PaymentStatus::RequiresAction,
                    provider_id: Some(pid),
                    next_action: Some(&next_action),
                    checkout_url: None,
                };
                match store::mark_pending(tx, &scope, p.id, pending, at).await? {
                    Some(_) => "requires_action",
                    None => "no_change",
                }
            }
        };
        Ok((Some(p.org_id), Some(p.id), outcome))
    }

    /// `checkout.session.*`: the buyer finished the hosted page (`completed`), or it failed
    /// or expired.
    async fn apply_checkout(&self, tx: &mut Tx<'_>, cs: &CheckoutSession, completed: bool, fee: i64) -> AppResult<Applied> {
        let at = now();
        let (id, pi) = (cs.id.as_deref().unwrap_or_default(), cs.payment_intent.as_deref().unwrap_or_default());
        let Some(p) = self.stripe_payment(tx, &cs.metadata, &[id, pi]).await? else {
            return Ok((None, None, "unknown_payment"));
        };
        let scope = OrgScope::platform(p.org_id);
        if !pi.is_empty() {
            store::set_provider_id(tx, &scope, p.id, pi, at).await?;
        }
        let outcome = if !completed {
            let why = "the checkout was not completed";
            match store::mark_failed(tx, &scope, p.id, None, "checkout_not_completed", why, at).await? {
                Some(failed) => {
                    self.publish(tx, &PAYMENT_FAILED, &snapshot(&failed)).await?;
                    "failed"
                }
                None => "no_change",
            }
        } else if cs.payment_status.as_deref() == Some("paid") {
            match self.settle_success(tx, &scope, p.id, None, fee).await? {
                Some(_) => "succeeded",
                None => "no_change",
            }
        } else {
            "awaiting_payment"
        };
        Ok((Some(p.org_id), Some(p.id), outcome))
    }

    /// `invoice.paid`: a subscription's invoice, booked as a payment of its own.
    async fn apply_invoice(&self, tx: &mut Tx<'_>, inv: &Invoice, fee: i64) -> AppResult<Applied> {
        let sub = match store::subscription_by_provider_id(tx, inv.subscription_id().unwrap_or_default()).await? {
            Some(sub) => Some(sub),
            None => match inv.our_subscription() {
                Some(id) => store::locate_subscription(tx, crate::domain::SubscriptionId(id)).await?,
                None => None,
            },
        };
        let Some(sub) = sub else { return Ok((None, None, "unknown_subscription")) };
        let amount = inv.amount_paid.unwrap_or(0);
        let invoice_id = inv.id.clone().unwrap_or_default();
        let pi = inv.payment_intent.clone().unwrap_or_default();
        let paid = InvoicePaid {
            provider_payment_id: if pi.is_empty() { invoice_id.clone() } else { pi },
            invoice_id,
            amount,
            currency: inv.currency.as_deref().unwrap_or_default().to_uppercase(),
            fee,
        };
        if amount <= 0 || domain::currency("currency", &paid.currency).is_err() {
            return Ok((Some(sub.org_id), None, "nothing_paid"));
        }
        let booked = self.record_invoice(tx, &OrgScope::platform(sub.org_id), &sub, &paid).await?;
        Ok((Some(sub.org_id), booked, if booked.is_some() { "invoice_paid" } else { "no_change" }))
    }

    /// `payout.*`: money moved from the Stripe balance to the bank (`paid`), or came back.
    async fn apply_payout(&self, tx: &mut Tx<'_>, payout: &Payout, paid: bool, account: Option<&str>) -> AppResult<Applied> {
        let Some(org) = self.payout_org(tx, account).await? else {
            tracing::warn!(
                payout = payout.id.as_deref().unwrap_or_default(),
                account,
                "a Stripe payout cannot be attributed: no organization has this connected account, or not exactly \
                 one organization takes payments on the server's own Stripe account"
            );
            return Ok((None, None, "unattributed_payout"));
        };
        let id = payout.id.as_deref().unwrap_or_default();
        let amount = payout.amount.unwrap_or(0);
        let currency = payout.currency.as_deref().unwrap_or_default().to_uppercase();
        if amount <= 0 || id.is_empty() || domain::currency("currency", &currency).is_err() {
            return Ok((Some(org), None, "ignored"));
        }
        let scope = OrgScope::platform(org);
        let of = EntryOf {
            scope: &scope,
            currency: &currency,
            payment_id: None,
            refund_id: None,
            event_id: None,
            test_mode: self.stripe_test_mode,
            offline: false,
            memo: format!("payout {id}"),
        };
        let forward = format!("payout:{id}");
        let outcome = if paid {
            post_ledger(tx, &of, EntryKind::Payout, amount, &forward).await?.then_some("payout_booked")
        } else {
            // Failed: paid and returned by the bank, or never paid. Either way the money is
            // at the provider: the payout (once) and its return net to zero, and a
            // `payout.paid` arriving after this one finds it booked already.
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

    /// The organization a payout belongs to: a connected account's organization; for the
    /// server's own account, the one organization taking payments on it. With several, the
    /// money in that account is theirs together and a payout cannot be split.
    pub(super) async fn payout_org(&self, tx: &mut Tx<'_>, account: Option<&str>) -> AppResult<Option<OrgId>> {
        if let Some(a) = account {
            return Ok(store::org_of_stripe_account(tx, a).await?);
        }
        let orgs = store::orgs_on_platform_stripe(tx, 2).await?;
        Ok(if orgs.len() == 1 { orgs.first().copied() } else { None })
    }

    /// Books a paid subscription invoice once: a `subscription`-flow payment of its own
    /// (reference `subscription:<id>`), succeeded, with its charge and fee in the ledger and
    /// `payment.succeeded` published. `None` when it was booked before.
    pub(super) async fn record_invoice(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        sub: &SubscriptionRecord,
        inv: &InvoicePaid,
    ) -> AppResult<Option<PaymentId>> {
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
        store::insert_payment(tx, scope, &record).await?;
        self.settle_success(tx, scope, record.id, None, inv.fee).await?;
        Ok(Some(record.id))
    }

    /// One Stripe refund object: ours when its metadata names our refund.
    pub(super) async fn apply_stripe_refund(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        payment: PaymentId,
        r: &StripeRefund,
    ) -> AppResult<bool> {
        if !matches!(r.status.as_deref(), Some("succeeded" | "pending") | None) {
            return Ok(false);
        }
        let Some(rid) = r.id.as_deref() else { return Ok(false) };
        let ours = r.metadata.refund_id.map(RefundId);
        let amount = r.amount.unwrap_or(0);
        if amount <= 0 {
            return Ok(false);
        }
        self.complete_refund(tx, scope, payment, ours, rid, amount).await
    }
}
