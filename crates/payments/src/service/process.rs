//! Processing a payment: validation, the attempt row, the provider call and its outcome; reading payments.

use super::*;

impl PaymentsService {
    /// Creates (or, with `authentication`, completes) the payment of a reference.
    pub async fn process(&self, p: Option<&Principal>, req: ProcessPayment) -> AppResult<Payment> {
        let reference = req.reference.trim().to_string();
        domain::reference("reference", &reference)?;
        let caller = Caller::Request { principal: p, token: req.token.as_deref() };
        let Some(payable) = self.resolve(caller, &reference).await? else { return Err(AppError::not_found("reference")) };
        // The payer is usually no member of the organization paid: the reference's owner
        // vouched for the caller (`resolve`) and named the organization from its own row.
        let payee = OrgScope::platform(payable.org_id);

        if let Some(auth) = req.authentication.as_deref() {
            let success = match auth {
                "succeeded" => true,
                "failed" => false,
                _ => return Err(AppError::validation("authentication", "must be succeeded or failed")),
            };
            return self.authenticate(&payee, &reference, success).await;
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
        let mut live = store::live_payment(self.db(), &payee, &reference).await?;
        // An attempt stuck in flight (its process stopped mid-charge) is settled now rather
        // than blocking the buyer until the next reconciliation run.
        if let Some(stuck) = live.as_ref().filter(|l| !l.status.captured() && l.updated_at < self.stale_cutoff())
            && self.settle_stale(stuck).await?
        {
            live = store::live_payment(self.db(), &payee, &reference).await?;
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

        let settings = self.org_provider(&payee).await?;
        let (org_provider, offline_enabled) = (settings.provider, settings.offline_enabled);
        let kind = match req.provider {
            Some(ProviderKind::Offline) => {
                let Some(principal) = p else { return Err(AppError::not_found("reference")) };
                self.access.require_for(principal, payable.org_id, Role::Staff, "reference").await?;
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
        if kind == ProviderKind::Test && !self.config.test_provider {
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
        match store::insert_payment(&mut tx, &payee, &record).await {
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
                let why = e.message.chars().take(500).collect::<String>();
                if let Some(failed) = store::mark_failed(&mut tx, &payee, id, None, "provider_error", &why, now()).await? {
                    self.publish(&mut tx, &PAYMENT_FAILED, &snapshot(&failed)).await?;
                }
                self.kernel.commit(tx).await?;
                return Err(provider_error(e));
            }
        };
        let client_secret = outcome.client_data.as_ref().and_then(|d| d["client_secret"].as_str()).map(str::to_string);
        let mut view = self.apply_outcome(&payee, id, outcome).await?;
        view.client_secret = client_secret;
        Ok(view)
    }

    /// Completes a payment waiting for authentication.
    pub(super) async fn authenticate(&self, scope: &OrgScope, reference: &str, success: bool) -> AppResult<Payment> {
        let Some(live) =
            store::live_payment(self.db(), scope, reference).await?.filter(|p| p.status == PaymentStatus::RequiresAction)
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
        self.apply_outcome(scope, live.id, outcome).await
    }

    /// Records what the provider said about a payment (conditionally: a webhook may have
    /// been first).
    pub(super) async fn apply_outcome(&self, scope: &OrgScope, id: PaymentId, outcome: ChargeOutcome) -> AppResult<Payment> {
        let at = now();
        let pid = outcome.provider_payment_id.as_deref();
        let mut tx = self.db().begin().await?;
        match &outcome.status {
            ChargeStatus::Succeeded => {
                self.settle_success(&mut tx, scope, id, pid, outcome.fee).await?;
            }
            ChargeStatus::Failed { code, message } => {
                if let Some(failed) = store::mark_failed(&mut tx, scope, id, pid, code, message, at).await? {
                    self.publish(&mut tx, &PAYMENT_FAILED, &snapshot(&failed)).await?;
                }
            }
            ChargeStatus::RequiresAction { next_action } => {
                let next_action = Json(next_action.clone());
                let pending = store::Pending {
                    status: PaymentStatus::RequiresAction,
                    provider_id: pid,
                    next_action: Some(&next_action),
                    checkout_url: None,
                };
                store::mark_pending(&mut tx, scope, id, pending, at).await?;
            }
            ChargeStatus::Processing => {
                let pending = store::Pending {
                    status: PaymentStatus::Processing,
                    provider_id: pid,
                    next_action: None,
                    checkout_url: outcome.checkout_url.as_deref(),
                };
                store::mark_pending(&mut tx, scope, id, pending, at).await?;
            }
        }
        self.kernel.commit(tx).await?;
        let p = store::payment(self.db(), scope, id).await?.ok_or_else(|| AppError::not_found("payment"))?;
        let refunds = store::refunds_of(self.db(), scope, id).await?;
        Ok(payment_view(p, refunds))
    }

    /// Whether `p` may record offline money for `org` (staff and above, offline payments on:
    /// `409 offline_disabled` otherwise). Reads through the pool, so call it before the
    /// transaction that records it ([`Self::record_offline_in`]).
    pub async fn check_offline(&self, p: &Principal, org: OrgId) -> AppResult<()> {
        let scope = self.access.require_for(p, org, Role::Staff, "reference").await?;
        if !self.org_provider(&scope).await?.offline_enabled {
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
        // `check_offline` required staff in this organization before the owner opened `tx`
        // (a membership read here would go through the pool in the middle of it).
        let scope = OrgScope::platform(payable.org_id);
        let at = now();
        if let Some(live) = store::live_payment_tx(tx, &scope, reference).await? {
            if live.status.captured() {
                return Err(AppError::conflict("already_paid", format!("payment {} has paid this reference", live.id)));
            }
            let why = "superseded by a payment recorded offline";
            if let Some(failed) = store::mark_failed(tx, &scope, live.id, None, "superseded", why, at).await? {
                self.publish(tx, &PAYMENT_FAILED, &snapshot(&failed)).await?;
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
        match store::insert_payment(tx, &scope, &record).await {
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
        self.settle_success_as(tx, &scope, record.id, None, 0, true).await?;
        Ok(Some(record.id))
    }

    /// Marks a payment succeeded once: its ledger lines (charge, fee) and `payment.processed`
    /// + `payment.succeeded`. `None` if it had succeeded already.
    pub(super) async fn settle_success(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        id: PaymentId,
        provider_id: Option<&str>,
        fee: i64,
    ) -> AppResult<Option<PaymentRecord>> {
        self.settle_success_as(tx, scope, id, provider_id, fee, false).await
    }

    /// [`Self::settle_success`]; `owner_settled`: the owner of the reference settled it in
    /// this same transaction (its listener has nothing to do).
    pub(super) async fn settle_success_as(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        id: PaymentId,
        provider_id: Option<&str>,
        fee: i64,
        owner_settled: bool,
    ) -> AppResult<Option<PaymentRecord>> {
        let at = now();
        // Succeeding late, after another payment paid the reference: a duplicate (left out of
        // the one-live-payment rule), which the reference's owner refunds.
        if let Some(cur) = store::lock_payment(tx, scope, id).await?
            && !cur.status.captured()
            && store::other_captured(tx, scope, &cur.reference, id).await?
        {
            tracing::warn!(payment = %id, reference = %cur.reference, "a payment succeeded after another paid its reference");
            store::mark_duplicate(tx, scope, id).await?;
        }
        let Some(p) = store::mark_succeeded(tx, scope, id, provider_id, fee.max(0), at).await? else { return Ok(None) };
        let source = format!("payment:{}", p.id);
        let charge = Entry { kind: EntryKind::Charge, amount: p.amount, refund: None, source: &source, memo: "charge" };
        self.post_entry(tx, scope, &p, charge).await?;
        if p.fee > 0 {
            let fee = Entry { kind: EntryKind::Fee, amount: p.fee, refund: None, source: &source, memo: "provider fee" };
            self.post_entry(tx, scope, &p, fee).await?;
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
        let payload = PaymentSnapshot { owner_settled, ..snapshot(&p) };
        self.publish_all(tx, &[(&PAYMENT_PROCESSED, &payload), (&PAYMENT_SUCCEEDED, &payload)]).await?;
        Ok(Some(p))
    }

    /// Writes one balanced ledger transaction for a payment (once per kind and source).
    pub(super) async fn post_entry(
        &self,
        tx: &mut Tx<'_>,
        scope: &OrgScope,
        p: &PaymentRecord,
        entry: Entry<'_>,
    ) -> AppResult<()> {
        let of = EntryOf {
            scope,
            currency: &p.currency,
            payment_id: Some(p.id),
            refund_id: entry.refund,
            event_id: p.event_id,
            test_mode: p.test_mode,
            offline: p.provider == ProviderKind::Offline,
            memo: format!("{}: {}", entry.memo, p.reference),
        };
        post_ledger(tx, &of, entry.kind, entry.amount, entry.source).await.map(|_| ())
    }

    // ---- reading --------------------------------------------------------------------------

    /// A payment the caller may see: members of its organization, its payer, or whoever
    /// can see its reference (`token`).
    pub(super) async fn visible_payment(
        &self,
        p: Option<&Principal>,
        token: Option<&str>,
        id: PaymentId,
    ) -> AppResult<PaymentRecord> {
        let Some(pay) = store::find_payment(self.db(), id).await? else { return Err(AppError::not_found("payment")) };
        if self.access.role_of(p, pay.org_id).await?.is_some() {
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
        // Its refunds, in the organization of the payment the caller was shown to see.
        let refunds = store::refunds_of(self.db(), &OrgScope::platform(pay.org_id), id).await?;
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
        let scope = match q.org_id {
            Some(org) => Some(self.access.require_for(p, org, Role::Viewer, "organization").await?),
            None => None,
        };
        let filter = store::HistoryFilter {
            status: q.status,
            reference: q.reference,
            provider: q.provider,
            test_mode: q.test_mode,
            before,
            limit,
        };
        let rows = match &scope {
            Some(scope) => store::org_history(self.db(), scope, &filter).await?,
            None => {
                let payer = p.user_id().ok_or_else(|| AppError::validation("org_id", "API keys must name an organization"))?;
                store::payer_history(self.db(), payer, &filter).await?
            }
        };
        let page = Page::from_rows(rows, limit, |r| r.id);
        let mut items = Vec::with_capacity(page.items.len());
        for r in page.items {
            // A payer's own payment is read in the organization it was paid to.
            let scope = scope.unwrap_or_else(|| OrgScope::platform(r.org_id));
            let refunds = store::refunds_of(self.db(), &scope, r.id).await?;
            items.push(payment_view(r, refunds));
        }
        Ok(Page { items, next_cursor: page.next_cursor })
    }
}
