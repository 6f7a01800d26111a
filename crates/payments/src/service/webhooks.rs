//! Stripe webhooks: verification, exactly-once recording, and applying each event.

use super::*;

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
    pub(super) async fn stripe_reads(&self, kind: &str, object: &Value, account: Option<&str>) -> AppResult<StripeReads> {
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
    pub(super) async fn stripe_payment(
        &self,
        tx: &mut Tx<'_>,
        object: &Value,
        provider_ids: &[&str],
    ) -> AppResult<Option<PaymentRecord>> {
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

    pub(super) async fn apply_stripe_event(
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
        store::insert_payment(tx, &record).await?;
        self.settle_success(tx, record.id, None, inv.fee).await?;
        Ok(Some(record.id))
    }

    /// One Stripe refund object: ours when its metadata names our refund.
    pub(super) async fn apply_stripe_refund(&self, tx: &mut Tx<'_>, payment: PaymentId, r: &Value) -> AppResult<bool> {
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
}
