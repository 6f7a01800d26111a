//! Stripe over its HTTP API, in its wire format: form-encoded bodies with bracketed keys
//! (`metadata[reference]=…`), a `Stripe-Version` header on every request, an
//! `Idempotency-Key` on every create (our payment, refund or subscription id, so a retried
//! create never charges twice), bearer authentication with the secret key.
//!
//! Connect: an organization with a connected account (`acct_…`) has every request made for
//! it carry `Stripe-Account` ([`StripeProvider::on_account`]).
//!
//! Used: PaymentIntents (API clients), Checkout Sessions (web checkout), Refunds, Customers,
//! Plans and Subscriptions, Charges / BalanceTransactions (fees). The base URL is
//! configurable (`payments.stripe_base_url`) so tests run against a Stripe-compatible
//! server. The webhook events Stripe sends back are read in [`event`].

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use self::event::{Expandable, Refund};
use super::*;

pub mod event;

#[derive(Clone)]
pub struct StripeProvider {
    client: reqwest::Client,
    base: String,
    key: SecretString,
    version: String,
    /// Connect: the connected account requests are made for (`Stripe-Account`).
    account: Option<String>,
}

type Form = Vec<(String, String)>;

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

impl StripeProvider {
    pub fn new(base: &str, key: SecretString, version: &str) -> anyhow::Result<StripeProvider> {
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).connect_timeout(Duration::from_secs(10)).build()?;
        Ok(StripeProvider {
            client,
            base: base.trim_end_matches('/').to_string(),
            key,
            version: version.to_string(),
            account: None,
        })
    }

    /// The same provider speaking for a connected account (Stripe Connect): every request
    /// carries `Stripe-Account: <account>`.
    pub fn on_account(&self, account: &str) -> StripeProvider {
        StripeProvider { account: Some(account.to_string()), ..self.clone() }
    }

    /// [`Self::on_account`] when there is an account, else the server's own.
    pub fn on_account_opt(&self, account: Option<&str>) -> StripeProvider {
        match account {
            Some(a) => self.on_account(a),
            None => self.clone(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> ProviderResult<Value> {
        let req = match &self.account {
            Some(a) => req.header("Stripe-Account", a),
            None => req,
        };
        let resp = req
            .bearer_auth(self.key.expose_secret())
            .header("Stripe-Version", &self.version)
            .send()
            .await
            .map_err(|e| ProviderError { retryable: true, status: None, message: e.without_url().to_string() })?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"].as_str().unwrap_or("no error message").to_string();
        let retryable = status.is_server_error() || status.as_u16() == 429;
        // Keep the whole error object for card errors (402): it names the decline.
        let message = if status.as_u16() == 402 { body["error"].to_string() } else { message };
        Err(ProviderError { retryable, status: Some(status.as_u16()), message })
    }

    async fn post(&self, path: &str, form: &Form, idempotency_key: Option<&str>) -> ProviderResult<Value> {
        let mut req = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        self.send(req).await
    }

    async fn get(&self, path: &str) -> ProviderResult<Value> {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    /// The fee of a PaymentIntent's charge, from its balance transaction (best effort: 0
    /// when the provider does not say).
    async fn fee_of(&self, intent: &Value) -> i64 {
        self.charge_fee(Expandable::of(&intent["latest_charge"]).as_ref()).await
    }

    /// The fee of a charge (its id, or the charge expanded), from its balance transaction.
    pub async fn charge_fee(&self, charge: Option<&Expandable>) -> i64 {
        let Some(charge) = self.expanded("/v1/charges", charge).await else { return 0 };
        let txn = self.expanded("/v1/balance_transactions", Expandable::of(&charge["balance_transaction"]).as_ref()).await;
        txn.and_then(|t| t["fee"].as_i64()).unwrap_or(0)
    }

    /// An expandable field's object: as expanded, or read from `collection` by its id.
    /// `None` when there is none or it cannot be read (fees are best effort).
    async fn expanded(&self, collection: &str, field: Option<&Expandable>) -> Option<Value> {
        match field? {
            Expandable::Id(id) => self.get(&format!("{collection}/{id}")).await.ok(),
            Expandable::Object(obj) => Some(obj.clone()),
        }
    }

    /// Every refund of a charge (`GET /v1/refunds?charge=…`, all pages). `charge.refunded`
    /// no longer lists them in the API versions we speak, and only their real ids let a
    /// refund announced twice (`charge.refunded` and `refund.created`) be booked once.
    pub async fn charge_refunds(&self, charge: &str) -> ProviderResult<Vec<Refund>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        // Bounded: a charge cannot have more refunds than its amount in minor units, and
        // 50 pages of 100 are far beyond any real one.
        for _ in 0..50 {
            let mut query = vec![kv("charge", charge), kv("limit", 100)];
            if let Some(a) = &after {
                query.push(kv("starting_after", a));
            }
            let page = self.send(self.client.get(format!("{}/v1/refunds", self.base)).query(&query)).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data.last().and_then(|r| r["id"].as_str()).map(str::to_string);
            all.extend(Refund::list_of(&data));
            if page["has_more"].as_bool() != Some(true) || after.is_none() {
                break;
            }
        }
        Ok(all)
    }

    /// Maps a PaymentIntent to our view of it.
    async fn intent_outcome(&self, pi: &Value) -> ChargeOutcome {
        let status = match pi["status"].as_str().unwrap_or_default() {
            "succeeded" => ChargeStatus::Succeeded,
            "requires_action" => ChargeStatus::RequiresAction { next_action: pi["next_action"].clone() },
            "canceled" => ChargeStatus::Failed { code: "canceled".into(), message: "the payment was canceled".into() },
            "requires_payment_method" if pi["last_payment_error"].is_object() => ChargeStatus::Failed {
                code: error_code(&pi["last_payment_error"]),
                message: pi["last_payment_error"]["message"].as_str().unwrap_or("declined").to_string(),
            },
            _ => ChargeStatus::Processing,
        };
        let fee = if status == ChargeStatus::Succeeded { self.fee_of(pi).await } else { 0 };
        ChargeOutcome {
            provider_payment_id: pi["id"].as_str().map(str::to_string),
            status,
            fee,
            checkout_url: None,
            test_mode: !pi["livemode"].as_bool().unwrap_or(false),
            client_data: pi["client_secret"].as_str().map(|s| json!({ "client_secret": s })),
        }
    }
}

/// The most specific code of a Stripe error object: `decline_code`, else `code`.
fn error_code(err: &Value) -> String {
    err["decline_code"].as_str().or_else(|| err["code"].as_str()).unwrap_or("card_declined").to_string()
}

fn metadata(form: &mut Form, prefix: &str, req: &ChargeRequest) {
    form.push(kv(&format!("{prefix}[payment_id]"), req.payment_id));
    form.push(kv(&format!("{prefix}[reference]"), &req.reference));
    form.push(kv(&format!("{prefix}[org_id]"), req.org_id));
}

#[async_trait::async_trait]
impl PaymentProvider for StripeProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Stripe
    }

    async fn charge(&self, req: &ChargeRequest) -> ProviderResult<ChargeOutcome> {
        let idem = req.payment_id.to_string();
        let currency = req.currency.to_ascii_lowercase();
        match req.flow {
            Flow::Checkout => {
                let mut form = vec![
                    kv("mode", "payment"),
                    kv("client_reference_id", req.payment_id),
                    kv("customer_email", &req.buyer_email),
                    kv("success_url", &req.success_url),
                    kv("cancel_url", &req.cancel_url),
                    kv("line_items[0][quantity]", 1),
                    kv("line_items[0][price_data][currency]", &currency),
                    kv("line_items[0][price_data][unit_amount]", req.amount),
                    kv("line_items[0][price_data][product_data][name]", &req.description),
                ];
                metadata(&mut form, "metadata", req);
                metadata(&mut form, "payment_intent_data[metadata]", req);
                let session = self.post("/v1/checkout/sessions", &form, Some(&idem)).await?;
                let paid = session["payment_status"].as_str() == Some("paid");
                Ok(ChargeOutcome {
                    provider_payment_id: session["id"].as_str().map(str::to_string),
                    status: if paid { ChargeStatus::Succeeded } else { ChargeStatus::Processing },
                    fee: 0,
                    checkout_url: session["url"].as_str().map(str::to_string),
                    test_mode: !session["livemode"].as_bool().unwrap_or(false),
                    client_data: None,
                })
            }
            Flow::Intent => {
                let mut form = vec![kv("amount", req.amount), kv("currency", &currency), kv("payment_method_types[0]", "card")];
                metadata(&mut form, "metadata", req);
                if let Some(pm) = &req.payment_method {
                    form.push(kv("payment_method", pm));
                    form.push(kv("confirm", "true"));
                }
                match self.post("/v1/payment_intents", &form, Some(&idem)).await {
                    Ok(pi) => Ok(self.intent_outcome(&pi).await),
                    // A card error: the intent exists and failed; Stripe answers 402.
                    Err(e) if e.status == Some(402) => {
                        let err: Value = serde_json::from_str(&e.message).unwrap_or(Value::Null);
                        Ok(ChargeOutcome {
                            provider_payment_id: err["payment_intent"]["id"].as_str().map(str::to_string),
                            status: ChargeStatus::Failed {
                                code: error_code(&err),
                                message: err["message"].as_str().unwrap_or("Your card was declined.").to_string(),
                            },
                            fee: 0,
                            checkout_url: None,
                            test_mode: true,
                            client_data: None,
                        })
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    async fn retrieve(&self, provider_payment_id: &str) -> ProviderResult<ChargeOutcome> {
        let pi_id = if provider_payment_id.starts_with("cs_") {
            let session = self.get(&format!("/v1/checkout/sessions/{provider_payment_id}")).await?;
            match session["payment_intent"].as_str() {
                Some(pi) => pi.to_string(),
                None => {
                    return Ok(ChargeOutcome {
                        provider_payment_id: Some(provider_payment_id.to_string()),
                        status: ChargeStatus::Processing,
                        fee: 0,
                        checkout_url: session["url"].as_str().map(str::to_string),
                        test_mode: !session["livemode"].as_bool().unwrap_or(false),
                        client_data: None,
                    });
                }
            }
        } else {
            provider_payment_id.to_string()
        };
        let pi = self.get(&format!("/v1/payment_intents/{pi_id}")).await?;
        Ok(self.intent_outcome(&pi).await)
    }

    async fn find(&self, payment_id: PaymentId, flow: &str, created_after: i64) -> ProviderResult<Option<ChargeOutcome>> {
        // Every object we create carries `metadata[payment_id]`. Lists (unlike Search) see an
        // object as soon as it exists, so walk the ones created since the attempt began.
        let path = if flow == Flow::Checkout.as_str() { "/v1/checkout/sessions" } else { "/v1/payment_intents" };
        let ours = payment_id.to_string();
        let mut after: Option<String> = None;
        for _ in 0..20 {
            let mut query = vec![kv("created[gte]", created_after), kv("limit", 100)];
            if let Some(a) = &after {
                query.push(kv("starting_after", a));
            }
            let page = self.send(self.client.get(format!("{}{path}", self.base)).query(&query)).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            if let Some(found) = data.iter().find(|o| o["metadata"]["payment_id"].as_str() == Some(ours.as_str())) {
                let id = found["id"].as_str().unwrap_or_default();
                return if id.starts_with("cs_") {
                    self.retrieve(id).await.map(Some)
                } else {
                    Ok(Some(self.intent_outcome(found).await))
                };
            }
            after = data.last().and_then(|o| o["id"].as_str()).map(str::to_string);
            if page["has_more"].as_bool() != Some(true) || after.is_none() {
                return Ok(None);
            }
        }
        // Too many objects to be sure it is not there: let the caller try again later.
        Err(ProviderError { retryable: true, status: None, message: "too many payments to search through".into() })
    }

    async fn refund(&self, req: &RefundRequest) -> ProviderResult<RefundOutcome> {
        let Some(pi) = req.provider_payment_id.as_deref().filter(|id| id.starts_with("pi_")) else {
            return Err(ProviderError::refused("the payment has no Stripe PaymentIntent to refund"));
        };
        let form = vec![
            kv("payment_intent", pi),
            kv("amount", req.amount),
            kv("metadata[refund_id]", req.refund_id),
            kv("metadata[payment_id]", req.payment_id),
        ];
        let refund = self.post("/v1/refunds", &form, Some(&req.refund_id.to_string())).await?;
        if refund["status"].as_str() == Some("failed") {
            return Err(ProviderError::refused(format!("refund failed: {}", refund["failure_reason"])));
        }
        let id = refund["id"].as_str().ok_or_else(|| ProviderError::refused("refund answer without an id"))?;
        Ok(RefundOutcome { provider_refund_id: id.to_string() })
    }

    async fn subscribe(&self, req: &SubscriptionRequest) -> ProviderResult<SubscriptionOutcome> {
        let base = req.subscription_id.to_string();
        let mut form = vec![kv("email", &req.customer_email), kv("metadata[org_id]", req.org_id)];
        if let Some(pm) = &req.payment_method {
            form.push(kv("payment_method", pm));
            form.push(kv("invoice_settings[default_payment_method]", pm));
        }
        let customer = self.post("/v1/customers", &form, Some(&format!("{base}-customer"))).await?;
        let customer_id = customer["id"].as_str().ok_or_else(|| ProviderError::refused("customer without an id"))?.to_string();
        let plan_form = vec![
            kv("amount", req.amount),
            kv("currency", req.currency.to_ascii_lowercase()),
            kv("interval", &req.interval),
            kv("product[name]", &req.name),
        ];
        let plan = self.post("/v1/plans", &plan_form, Some(&format!("{base}-plan"))).await?;
        let plan_id = plan["id"].as_str().ok_or_else(|| ProviderError::refused("plan without an id"))?;
        let sub_form = vec![
            kv("customer", &customer_id),
            kv("items[0][plan]", plan_id),
            kv("metadata[subscription_id]", req.subscription_id),
            kv("metadata[org_id]", req.org_id),
        ];
        let sub = self.post("/v1/subscriptions", &sub_form, Some(&base)).await?;
        Ok(SubscriptionOutcome {
            provider_subscription_id: sub["id"].as_str().unwrap_or_default().to_string(),
            provider_customer_id: Some(customer_id),
            status: sub["status"].as_str().unwrap_or("incomplete").to_string(),
            test_mode: !sub["livemode"].as_bool().unwrap_or(false),
            first_invoice: None,
        })
    }

    async fn cancel_subscription(&self, provider_subscription_id: &str) -> ProviderResult<SubscriptionOutcome> {
        let sub = self.send(self.client.delete(format!("{}/v1/subscriptions/{provider_subscription_id}", self.base))).await?;
        Ok(SubscriptionOutcome {
            provider_subscription_id: provider_subscription_id.to_string(),
            provider_customer_id: sub["customer"].as_str().map(str::to_string),
            status: sub["status"].as_str().unwrap_or("canceled").to_string(),
            test_mode: !sub["livemode"].as_bool().unwrap_or(false),
            first_invoice: None,
        })
    }
}
