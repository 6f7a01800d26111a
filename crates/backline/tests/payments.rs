//! Payments over HTTP: the test provider's flows (success, decline, insufficient funds,
//! authentication), refunds (partial, full, above what was paid, a job that retries and is
//! dead-lettered), the order ↔ payment state machine (late success after hold expiry, both
//! ways), Stripe webhooks (signatures, replays, concurrent duplicates, out of order) against
//! a local Stripe-format double, reconciliation, and full flows against localstripe (a
//! Stripe-compatible server, started here when installed). Every test checks that the
//! ledger balances.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestApp;
use common::sales::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

const WHSEC: &str = "whsec_test_current_secret";
const WHSEC_OLD: &str = "whsec_test_previous_secret";

// ---- helpers --------------------------------------------------------------------------------

struct Shop {
    owner: String,
    org: String,
    event: String,
    ticket_type: String,
    quota: String,
}

/// An organization with a published event and a ticket type at `price` cents (EUR) with
/// `capacity` seats.
async fn shop(app: &TestApp, email: &str, price: i64, capacity: i64) -> Shop {
    let (owner, org) = app.owner_with_org(email, &format!("Org of {email}")).await;
    let (s, e) = app
        .post(
            "/api/events",
            Some(&owner),
            json!({"org_id": org, "name": "Paid Gig", "time_zone": "Europe/Berlin", "status": "published",
                   "starts_at": "2030-06-01T18:00:00Z", "ends_at": "2030-06-01T23:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let event = e["id"].as_str().unwrap().to_string();
    let (s, t) = app
        .post(
            &format!("/api/events/{event}/ticket-types"),
            Some(&owner),
            json!({"name": "GA", "price": price, "currency": "EUR", "capacity": capacity}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    Shop {
        owner,
        org,
        event,
        ticket_type: t["id"].as_str().unwrap().to_string(),
        quota: t["quota_ids"][0].as_str().unwrap().to_string(),
    }
}

/// Books `qty` tickets anonymously: (booking id, booking token).
async fn book(app: &TestApp, shop: &Shop, qty: i64, email: &str) -> (String, String) {
    let (s, b) = app
        .post(
            "/api/bookings",
            None,
            json!({"event_id": shop.event, "positions": [{"ticket_type_id": shop.ticket_type, "quantity": qty}],
                   "buyer_email": email, "buyer_name": "Fan"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (b["id"].as_str().unwrap().to_string(), b["booking_token"].as_str().unwrap().to_string())
}

/// POST /api/payments/process with an Idempotency-Key.
async fn process(app: &TestApp, token: Option<&str>, key: &str, body: Value) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url("/api/payments/process")).header("idempotency-key", key).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Pays a booking with the test provider's good card (`Idempotency-Key: key`) and waits for
/// it to be confirmed: (the payment, the confirmed booking).
async fn pay_by_card(app: &TestApp, bid: &str, token: &str, key: &str) -> (Value, Value) {
    let (s, pay) = process(
        app,
        None,
        key,
        json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": "4242424242424242"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{pay}");
    (pay, wait_booking_status(app, bid, token, "confirmed").await)
}

async fn booking(app: &TestApp, id: &str, token: &str) -> Value {
    let (s, b) = app.get(&format!("/api/bookings/{id}?token={token}"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn quota_taken(app: &TestApp, shop: &Shop) -> i64 {
    let (_, qs) = app.get(&format!("/api/events/{}/quotas", shop.event), Some(&shop.owner)).await;
    qs.as_array().unwrap().iter().find(|q| q["id"] == shop.quota.as_str()).unwrap()["taken"].as_i64().unwrap()
}

async fn wait_booking_status(app: &TestApp, id: &str, token: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = booking(app, id, token).await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("booking {id} never became {status}: {last}");
}

async fn payment(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, p) = app.get(&format!("/api/payments/{id}"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    p
}

/// The ledger invariant: every transaction's lines sum to zero, in its currency. Returns
/// the transactions.
async fn assert_ledger_balances(app: &TestApp, token: &str, org: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/payments/ledger?org_id={org}&limit=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, page) = app.get(&path, Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for t in page["items"].as_array().unwrap() {
            let lines = t["lines"].as_array().unwrap();
            assert!(lines.len() >= 2, "a transaction has at least two lines: {t}");
            let sum: i64 = lines.iter().map(|l| l["amount"].as_i64().unwrap()).sum();
            assert_eq!(sum, 0, "unbalanced ledger transaction {t}");
            assert!(lines.iter().all(|l| l["currency"] == t["currency"]), "{t}");
            all.push(t.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    all
}

fn sign(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", payments::domain::stripe_signature(secret.as_bytes(), t, body.as_bytes()))
}

async fn webhook(app: &TestApp, signature: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url("/api/payments/webhook/stripe"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    let r = req.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn signed_webhook(app: &TestApp, event: &Value) -> (StatusCode, Value) {
    let body = event.to_string();
    let t = chrono::Utc::now().timestamp();
    webhook(app, Some(&sign(WHSEC, t, &body)), &body).await
}

fn stripe_event(id: &str, kind: &str, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": chrono::Utc::now().timestamp(), "livemode": false,
           "data": {"object": object}})
}

// ---- a local Stripe-format double ------------------------------------------------------------

/// What the double saw: path, Idempotency-Key, Stripe-Version, form fields.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    idempotency_key: Option<String>,
    stripe_version: Option<String>,
    stripe_account: Option<String>,
    form: HashMap<String, String>,
}

#[derive(Default)]
struct DoubleState {
    seen: Vec<Seen>,
    intents: HashMap<String, Value>,
    /// Refunds made outside the app (the dashboard), by charge: `GET /v1/refunds?charge=`.
    charge_refunds: HashMap<String, Vec<Value>>,
    fail_refunds: bool,
    /// The next PaymentIntent create answers only after this long, as if the connection had
    /// hung; `hang_creates`: whether the intent is made meanwhile (else the answer is a 500).
    hang: Option<(Duration, bool)>,
    next: u64,
}

/// A local HTTP server speaking Stripe's wire format for the parts these tests need:
/// PaymentIntents (create, retrieve), Refunds (optionally failing with 500), Checkout
/// Sessions. Payment method `pm_ok` succeeds, `pm_processing` stays processing,
/// `pm_action` requires action.
struct StripeDouble {
    url: String,
    state: Arc<Mutex<DoubleState>>,
}

impl StripeDouble {
    async fn start() -> StripeDouble {
        use axum::routing::{get, post};
        let state = Arc::new(Mutex::new(DoubleState::default()));
        let record = |state: &Arc<Mutex<DoubleState>>,
                      path: &str,
                      headers: &axum::http::HeaderMap,
                      body: &str|
         -> HashMap<String, String> {
            let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
            let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
            state.lock().unwrap().seen.push(Seen {
                path: path.to_string(),
                idempotency_key: h("idempotency-key"),
                stripe_version: h("stripe-version"),
                stripe_account: h("stripe-account"),
                form: form.clone(),
            });
            form
        };
        let s1 = state.clone();
        let s2 = state.clone();
        let s3 = state.clone();
        let s4 = state.clone();
        let s5 = state.clone();
        let s6 = state.clone();
        let app = axum::Router::new()
            .route(
                "/v1/payment_intents",
                post(move |headers: axum::http::HeaderMap, body: String| {
                    let state = s1.clone();
                    async move {
                        let form = record(&state, "/v1/payment_intents", &headers, &body);
                        let hang = state.lock().unwrap().hang.take();
                        if let Some((wait, false)) = hang {
                            tokio::time::sleep(wait).await;
                            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"message": "gone"}})));
                        }
                        let pi = {
                        let mut st = state.lock().unwrap();
                        st.next += 1;
                        let id = format!("pi_double_{}", st.next);
                        let status = match form.get("payment_method").map(String::as_str) {
                            Some("pm_ok") => "succeeded",
                            Some("pm_action") => "requires_action",
                            _ => "processing",
                        };
                        let pi = json!({"id": id, "object": "payment_intent", "status": status, "amount": form["amount"].parse::<i64>().unwrap(),
                            "currency": form["currency"], "livemode": false, "client_secret": format!("{id}_secret_x"),
                            "next_action": if status == "requires_action" { json!({"type": "use_stripe_sdk"}) } else { Value::Null },
                            "created": chrono::Utc::now().timestamp(),
                            "metadata": {"payment_id": form.get("metadata[payment_id]"), "reference": form.get("metadata[reference]")}});
                        st.intents.insert(id, pi.clone());
                        pi
                        };
                        if let Some((wait, true)) = hang {
                            tokio::time::sleep(wait).await;
                        }
                        (axum::http::StatusCode::OK, axum::Json(pi))
                    }
                })
                .get(move |axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| {
                    let state = s6.clone();
                    async move {
                        let since: i64 = q.get("created[gte]").and_then(|v| v.parse().ok()).unwrap_or(0);
                        let st = state.lock().unwrap();
                        let data: Vec<Value> =
                            st.intents.values().filter(|pi| pi["created"].as_i64().unwrap_or(0) >= since).cloned().collect();
                        axum::Json(json!({"object": "list", "has_more": false, "data": data}))
                    }
                }),
            )
            .route(
                "/v1/payment_intents/{id}",
                get(move |axum::extract::Path(id): axum::extract::Path<String>| {
                    let state = s2.clone();
                    async move {
                        let st = state.lock().unwrap();
                        match st.intents.get(&id) {
                            Some(pi) => (axum::http::StatusCode::OK, axum::Json(pi.clone())),
                            None => (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": "No such payment_intent"}}))),
                        }
                    }
                }),
            )
            .route(
                "/v1/refunds",
                post(move |headers: axum::http::HeaderMap, body: String| {
                    let state = s3.clone();
                    async move {
                        let form = record(&state, "/v1/refunds", &headers, &body);
                        let mut st = state.lock().unwrap();
                        if st.fail_refunds {
                            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"type": "api_error", "message": "boom"}})));
                        }
                        st.next += 1;
                        let id = format!("re_double_{}", st.next);
                        (axum::http::StatusCode::OK, axum::Json(json!({"id": id, "object": "refund", "status": "succeeded",
                            "amount": form["amount"].parse::<i64>().unwrap(), "payment_intent": form["payment_intent"],
                            "metadata": {"refund_id": form.get("metadata[refund_id]")}})))
                    }
                })
                .get(move |axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| {
                    let state = s5.clone();
                    async move {
                        let st = state.lock().unwrap();
                        let data = st.charge_refunds.get(q.get("charge").map(String::as_str).unwrap_or_default()).cloned();
                        axum::Json(json!({"object": "list", "has_more": false, "data": data.unwrap_or_default()}))
                    }
                }),
            )
            .route(
                "/v1/checkout/sessions",
                post(move |headers: axum::http::HeaderMap, body: String| {
                    let state = s4.clone();
                    async move {
                        let form = record(&state, "/v1/checkout/sessions", &headers, &body);
                        let mut st = state.lock().unwrap();
                        st.next += 1;
                        let id = format!("cs_double_{}", st.next);
                        axum::Json(json!({"id": id, "object": "checkout.session", "url": format!("https://checkout.stripe.test/c/pay/{id}"),
                            "payment_status": "unpaid", "status": "open", "livemode": false, "client_reference_id": form.get("client_reference_id"),
                            "amount_total": form.get("line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok()),
                            "metadata": {"payment_id": form.get("metadata[payment_id]")}}))
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        StripeDouble { url: format!("http://{addr}"), state }
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.state.lock().unwrap().seen.iter().filter(|s| s.path == path).cloned().collect()
    }

    fn set_intent_status(&self, id: &str, status: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(pi) = st.intents.get_mut(id) {
            pi["status"] = json!(status);
        }
    }
}

fn stripe_config(base: &str, attempts: i64) -> Value {
    json!({"payments": {"stripe_api_key": "sk_test_backline_double", "stripe_base_url": base,
                        "stripe_webhook_secrets": [WHSEC_OLD, WHSEC], "refund_max_attempts": attempts}})
}

async fn use_stripe(app: &TestApp, shop: &Shop) {
    let (s, v) =
        app.put(&format!("/api/orgs/{}/payment-settings", shop.org), Some(&shop.owner), json!({"provider": "stripe"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["provider"], "stripe");
}

// ---- the test provider -----------------------------------------------------------------------

#[tokio::test]
async fn test_provider_payment_confirms_the_booking_with_its_tickets() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@pay.org", 5000, 10).await;
    let (bid, token) = book(&app, &shop, 2, "fan@pay.org").await;
    let reference = format!("booking:{bid}");

    // The Idempotency-Key header is required.
    let (s, p) = app.post("/api/payments/process", None, json!({"reference": reference, "token": token})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["field"], "Idempotency-Key");

    let body = json!({"reference": reference, "token": token, "payment_method": "4242 4242 4242 4242", "amount": 10000, "currency": "eur"});
    let (s, pay) = process(&app, None, "pay-1", body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{pay}");
    assert_eq!(pay["status"], "succeeded");
    assert_eq!(pay["provider"], "test");
    assert_eq!(pay["test_mode"], true);
    assert_eq!((pay["amount"].as_i64(), pay["currency"].as_str()), (Some(10000), Some("EUR")));
    assert_eq!(pay["fee"], 175);
    let pid = pay["id"].as_str().unwrap().to_string();

    // A retry with the same key is answered from the first response: one payment.
    let r =
        app.client.post(app.url("/api/payments/process")).header("idempotency-key", "pay-1").json(&body).send().await.unwrap();
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["id"], pay["id"]);
    // A new attempt for a paid reference is refused.
    let (s, p) = process(&app, None, "pay-2", body.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["code"], "already_paid");

    // payment.succeeded → the booking is confirmed with one ticket per admission.
    let b = wait_booking_status(&app, &bid, &token, "confirmed").await;
    assert_eq!(b["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(b["paid_reference"], format!("payment:{pid}"));
    assert_eq!(quota_taken(&app, &shop).await, 2);

    // The buyer (token) and the organization see it; history lists it.
    let (s, seen) = app.get(&format!("/api/payments/{pid}?token={token}"), None).await;
    assert_eq!(s, StatusCode::OK, "{seen}");
    assert_eq!(seen["status"], "succeeded");
    let (s, h) = app.get(&format!("/api/payments/history?org_id={}&status=succeeded", shop.org), Some(&shop.owner)).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["items"].as_array().unwrap().len(), 1);

    // Test-mode money is in the ledger, balanced, and never counted as revenue.
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.len(), 2, "charge and fee: {ledger:?}");
    assert!(ledger.iter().all(|t| t["test_mode"] == true));
    let (s, st) =
        app.get(&format!("/api/payments/settlement?org_id={}&event_id={}", shop.org, shop.event), Some(&shop.owner)).await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(st["revenue"], json!([]));
    assert_eq!(
        st["test_mode"][0],
        json!({"currency": "EUR", "gross": 10000, "refunds": 0, "fees": 175, "net": 9825, "payments": 1, "payouts": 0})
    );
}

#[tokio::test]
async fn declines_insufficient_funds_and_authentication() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@decline.org", 2500, 10).await;
    let (bid, token) = book(&app, &shop, 1, "fan@decline.org").await;
    let body = |card: &str| json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": card});

    let (s, p) = process(&app, None, "d-1", body("4000000000000002")).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!((p["status"].as_str(), p["failure_code"].as_str()), (Some("failed"), Some("card_declined")));
    let (_, p) = process(&app, None, "d-2", body("4000000000009995")).await;
    assert_eq!((p["status"].as_str(), p["failure_code"].as_str()), (Some("failed"), Some("insufficient_funds")));
    assert_eq!(booking(&app, &bid, &token).await["status"], "pending_payment", "a decline leaves the hold");

    // 3-D Secure: the payment waits; a failed authentication fails it, a new attempt passes.
    let (_, p) = process(&app, None, "d-3", body("4000002500003155")).await;
    assert_eq!(p["status"], "requires_action", "{p}");
    assert_eq!(p["next_action"]["type"], "test_authentication");
    let (s, dup) = process(&app, None, "d-3b", body("4242424242424242")).await;
    assert_eq!((s, dup["code"].as_str()), (StatusCode::CONFLICT, Some("payment_in_progress")));
    let auth = |result: &str| json!({"reference": format!("booking:{bid}"), "token": token, "authentication": result});
    let (_, p) = process(&app, None, "d-4", auth("failed")).await;
    assert_eq!(p["status"], "failed", "{p}");
    let (_, p) = process(&app, None, "d-5", body("4000002500003155")).await;
    assert_eq!(p["status"], "requires_action");
    let (s, p) = process(&app, None, "d-6", auth("succeeded")).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["status"], "succeeded");
    wait_booking_status(&app, &bid, &token, "confirmed").await;
    let (_, h) = app.get(&format!("/api/payments/history?org_id={}", shop.org), Some(&shop.owner)).await;
    assert_eq!(h["items"].as_array().unwrap().len(), 4);
    let (_, h) = app.get(&format!("/api/payments/history?org_id={}&status=failed&limit=2", shop.org), Some(&shop.owner)).await;
    assert_eq!(h["items"].as_array().unwrap().len(), 2);
    let (_, h2) = app
        .get(
            &format!(
                "/api/payments/history?org_id={}&status=failed&limit=2&cursor={}",
                shop.org,
                h["next_cursor"].as_str().unwrap()
            ),
            Some(&shop.owner),
        )
        .await;
    assert_eq!(h2["items"].as_array().unwrap().len(), 1);
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "charge").count(), 1, "failed attempts write nothing");
}

#[tokio::test]
async fn partial_and_full_refunds_release_the_seats() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@refund.org", 4000, 5).await;
    let staff = app.member(&shop.owner, &shop.org, "staff@refund.org", "staff").await;
    let viewer = app.member(&shop.owner, &shop.org, "viewer@refund.org", "viewer").await;
    let (bid, token) = book(&app, &shop, 2, "fan@refund.org").await;
    let (pay, _) = pay_by_card(&app, &bid, &token, "r-1").await;
    let pid = pay["id"].as_str().unwrap().to_string();

    // Bad refunds.
    for (body, field) in
        [(json!({"amount": 0}), "amount"), (json!({"amount": -5}), "amount"), (json!({"amount": 8001}), "amount")]
    {
        let (s, p) = app.post(&format!("/api/payments/{pid}/refund"), Some(&staff), body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["field"], field);
    }
    assert_eq!(app.post(&format!("/api/payments/{pid}/refund"), Some(&viewer), json!({})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.post(&format!("/api/payments/{pid}/refund"), None, json!({})).await.0, StatusCode::UNAUTHORIZED);

    // Partial: a goodwill refund; the tickets stay valid.
    let (s, r) =
        app.post(&format!("/api/payments/{pid}/refund"), Some(&staff), json!({"amount": 1500, "reason": "late start"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["status"], "pending");
    eventually("partial refund", || async { payment(&app, &staff, &pid).await["status"] == "partially_refunded" }).await;
    let p = payment(&app, &staff, &pid).await;
    assert_eq!(p["refunded_amount"], 1500);
    assert_eq!(p["refunds"][0]["status"], "succeeded");
    assert_eq!(booking(&app, &bid, &token).await["status"], "confirmed");
    let (s, e) = app.post(&format!("/api/payments/{pid}/refund"), Some(&staff), json!({"amount": 6501})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("amount")), "{e}");

    // Full: the rest; the booking is refunded, its tickets void, its seats free.
    let (s, r) = app.post(&format!("/api/payments/{pid}/refund"), Some(&staff), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["amount"], 6500);
    eventually("full refund", || async { payment(&app, &staff, &pid).await["status"] == "refunded" }).await;
    let b = wait_booking_status(&app, &bid, &token, "refunded").await;
    assert!(b["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "cancelled"), "{b}");
    assert_eq!(quota_taken(&app, &shop).await, 0);
    let (s, e) = app.post(&format!("/api/payments/{pid}/refund"), Some(&staff), json!({})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_to_refund")));

    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "refund").count(), 2);
    let (_, st) = app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&viewer)).await;
    assert_eq!(st["test_mode"][0]["refunds"], 8000);
    assert_eq!(st["test_mode"][0]["gross"], 8000);
}

#[tokio::test]
async fn refunding_tickets_cancels_them_frees_their_seats_and_runs_the_waitlist() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@tickets-back.org", 4000, 3).await;
    let staff = app.member(&shop.owner, &shop.org, "staff@tickets-back.org", "staff").await;
    let (s, v) = app
        .post(
            &format!("/api/events/{}/vouchers", shop.event),
            Some(&shop.owner),
            json!({"code": "FIVE", "amount_off": 500, "currency": "EUR"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, b) = app
        .post(
            "/api/bookings",
            None,
            json!({"event_id": shop.event, "positions": [{"ticket_type_id": shop.ticket_type, "quantity": 3}],
                   "buyer_email": "fan@tickets-back.org", "buyer_name": "Fan", "voucher_code": "FIVE"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["total"], 11500);
    let (bid, token) = (b["id"].as_str().unwrap().to_string(), b["booking_token"].as_str().unwrap().to_string());
    let (pay, b) = pay_by_card(&app, &bid, &token, "tb-1").await;
    let pid = pay["id"].as_str().unwrap().to_string();
    let tickets: Vec<String> = b["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    let first_code = b["tickets"][0]["code"].as_str().unwrap().to_string();
    assert_eq!(tickets.len(), 3);
    assert_eq!(quota_taken(&app, &shop).await, 3);

    // Sold out: someone waits for a ticket.
    let (s, w) = app
        .post(
            &format!("/api/events/{}/waitlist", shop.event),
            None,
            json!({"ticket_type_id": shop.ticket_type, "email": "next@tickets-back.org", "name": "Next"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let entry = w["id"].as_str().unwrap().to_string();

    // Bad item lists.
    let refund = format!("/api/payments/{pid}/refund");
    for (body, field) in [
        (json!({"items": []}), "items"),
        (json!({"items": ["not-a-ticket"]}), "items[0]"),
        (json!({"items": [tickets[0], "00000000-0000-0000-0000-000000000000"]}), "items[1]"),
        (json!({"items": [tickets[0], tickets[0]]}), "items"),
        (json!({"items": [tickets[0], tickets[0].to_uppercase()]}), "items"),
        (json!({"items": [tickets[0]], "amount": 3834}), "amount"),
    ] {
        let (s, p) = app.post(&refund, Some(&staff), body.clone()).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body}: {p}");
    }

    // One ticket back (named in any spelling; stored canonical): worth its price less its
    // share of the discount (4000 − 500 × 1/3).
    let spelled = format!(" {} ", tickets[0].to_uppercase());
    let (s, r) = app.post(&refund, Some(&staff), json!({"items": [spelled], "reason": "cannot come"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!((r["amount"].as_i64(), r["items"].clone()), (Some(3833), json!([tickets[0]])));
    let (s, e) = app.post(&refund, Some(&staff), json!({"items": [tickets[0]]})).await;
    assert!(
        (s == StatusCode::CONFLICT && e["code"] == "already_refunded")
            || (s == StatusCode::UNPROCESSABLE_ENTITY && e["field"] == "items[0]"),
        "a ticket is given back once: {s} {e}"
    );
    eventually("the ticket cancelled", || async { booking(&app, &bid, &token).await["quantity"] == 2 }).await;
    let b = booking(&app, &bid, &token).await;
    assert_eq!(b["status"], "confirmed");
    assert_eq!(b["total"], 11500 - 3833);
    assert_eq!(b["positions"][0]["quantity"], 2);
    let states: Vec<&str> = b["tickets"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(states, ["cancelled", "valid", "valid"], "{b}");
    // Attendees now name the tickets that are left, in order.
    let (s, named) = app
        .put(&format!("/api/bookings/{bid}?token={token}"), None, json!({"attendees": [{"name": "Bea"}, {"name": "Cy"}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{named}");
    let names: Vec<Value> = named["tickets"].as_array().unwrap().iter().map(|t| t["attendee_name"].clone()).collect();
    assert_eq!(names, [Value::Null, json!("Bea"), json!("Cy")], "{named}");
    let (s, scan) = app.post("/api/checkins", Some(&staff), json!({"event_id": shop.event, "code": first_code})).await;
    assert_eq!((s, scan["result"].as_str()), (StatusCode::OK, Some("cancelled")), "{scan}");
    // The freed seat went to the waitlist.
    eventually("the waitlist offer", || async {
        app.get(&format!("/api/waitlist/{entry}"), Some(&shop.owner)).await.1["status"] == "offered"
    })
    .await;
    assert_eq!(quota_taken(&app, &shop).await, 3);
    assert_eq!(payment(&app, &staff, &pid).await["status"], "partially_refunded");

    // The last two back, keeping a fee: the booking is refunded and the fee stays kept.
    let (s, r) = app.post(&refund, Some(&staff), json!({"items": [tickets[1], tickets[2]], "amount": 7000})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let b = wait_booking_status(&app, &bid, &token, "refunded").await;
    assert!(b["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "cancelled"), "{b}");
    quiet(&app).await;
    let p = payment(&app, &staff, &pid).await;
    assert_eq!((p["status"].as_str(), p["refunded_amount"].as_i64()), (Some("partially_refunded"), Some(3833 + 7000)), "{p}");
    assert_eq!(quota_taken(&app, &shop).await, 1, "only the waitlist offer holds a seat");
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "refund").count(), 2);
    let (_, st) = app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&staff)).await;
    assert_eq!((st["test_mode"][0]["gross"].as_i64(), st["test_mode"][0]["refunds"].as_i64()), (Some(11500), Some(10833)));
}

#[tokio::test]
async fn ticket_refunds_keep_the_seats_of_quotas_whose_types_changed_since_the_sale() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@regroup.org", 4000, 5).await;
    let (s, vip) = app
        .post(
            &format!("/api/events/{}/ticket-types", shop.event),
            Some(&shop.owner),
            json!({"name": "VIP", "price": 4000, "currency": "EUR", "capacity": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{vip}");
    let vip_quota = vip["quota_ids"][0].as_str().unwrap().to_string();
    let (s, b) = app
        .post(
            "/api/bookings",
            None,
            json!({"event_id": shop.event, "positions": [{"ticket_type_id": shop.ticket_type, "quantity": 1},
                   {"ticket_type_id": vip["id"], "quantity": 1}], "buyer_email": "fan@regroup.org", "buyer_name": "Fan"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (bid, token) = (b["id"].as_str().unwrap().to_string(), b["booking_token"].as_str().unwrap().to_string());
    let (pay, b) = pay_by_card(&app, &bid, &token, "rg-1").await;
    let ga_ticket =
        b["tickets"].as_array().unwrap().iter().find(|t| t["ticket_type_id"] == shop.ticket_type.as_str()).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    // After the sale, GA also draws from the VIP quota (which this booking holds for its VIP ticket).
    let (s, q) = app
        .put(&format!("/api/quotas/{vip_quota}"), Some(&shop.owner), json!({"ticket_type_ids": [vip["id"], shop.ticket_type]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let (s, r) = app
        .post(&format!("/api/payments/{}/refund", pay["id"].as_str().unwrap()), Some(&shop.owner), json!({"items": [ga_ticket]}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    eventually("the GA ticket given back", || async { booking(&app, &bid, &token).await["quantity"] == 1 }).await;
    let taken = |id: String| {
        let app = &app;
        let owner = shop.owner.clone();
        let event = shop.event.clone();
        async move {
            let (_, qs) = app.get(&format!("/api/events/{event}/quotas"), Some(&owner)).await;
            qs.as_array().unwrap().iter().find(|q| q["id"] == id.as_str()).unwrap()["taken"].as_i64().unwrap()
        }
    };
    assert_eq!(taken(shop.quota.clone()).await, 0, "GA's own quota gets its seat back");
    assert_eq!(taken(vip_quota.clone()).await, 1, "the VIP quota keeps the seat the VIP ticket holds");
    // Cancelling the rest releases exactly what the booking still holds.
    let (s, _) = app.delete(&format!("/api/bookings/{bid}"), Some(&shop.owner)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((taken(shop.quota.clone()).await, taken(vip_quota.clone()).await), (0, 0));
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn staff_cancelling_a_paid_booking_refunds_it() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@cancel.org", 3000, 5).await;
    let (bid, token) = book(&app, &shop, 1, "fan@cancel.org").await;
    let (pay, _) = pay_by_card(&app, &bid, &token, "c-1").await;
    let pid = pay["id"].as_str().unwrap().to_string();
    let (s, b) = app.delete(&format!("/api/bookings/{bid}"), Some(&shop.owner)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    eventually("refund of the cancelled booking", || async { payment(&app, &shop.owner, &pid).await["status"] == "refunded" })
        .await;
    assert_eq!(booking(&app, &bid, &token).await["status"], "cancelled");
    assert_eq!(quota_taken(&app, &shop).await, 0);
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn bad_input_and_other_tenants_get_4xx() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@bad.org", 5000, 5).await;
    let other = app.owner_with_org("o@other.org", "Other").await;
    let (bid, token) = book(&app, &shop, 1, "fan@bad.org").await;
    let r = format!("booking:{bid}");
    for (body, field) in [
        (json!({"reference": r, "token": token, "payment_method": "4242424242424242", "amount": -1}), "amount"),
        (json!({"reference": r, "token": token, "payment_method": "4242424242424242", "amount": 0}), "amount"),
        (json!({"reference": r, "token": token, "payment_method": "4242424242424242", "amount": 4999}), "amount"),
        (json!({"reference": r, "token": token, "payment_method": "4242424242424242", "currency": "USD"}), "currency"),
        (json!({"reference": r, "token": token, "payment_method": "4242424242424242", "currency": "EURO"}), "currency"),
        (json!({"reference": r, "token": token}), "payment_method"),
        (json!({"reference": r, "token": token, "payment_method": "1234"}), "payment_method"),
        (json!({"reference": "order:1", "payment_method": "4242424242424242"}), "reference"),
        (json!({"reference": "nonsense", "payment_method": "4242424242424242"}), "reference"),
        (json!({"reference": r, "token": token, "payment_method": "4242424242424242", "provider": "stripe"}), "provider"),
        (
            json!({"reference": r, "token": token, "payment_method": "4242424242424242", "flow": "checkout", "success_url": "ftp://x"}),
            "success_url",
        ),
        (json!({"reference": r, "token": token, "authentication": "maybe"}), "authentication"),
    ] {
        let (s, p) = process(&app, None, &format!("bad-{field}-{}", uuid::Uuid::new_v4()), body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {p}");
        assert_eq!(p["field"], field, "{body}: {p}");
    }
    // Unknown fields are refused.
    let (s, p) = process(&app, None, "bad-x", json!({"reference": r, "amout": 5})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    // Without the token the booking does not exist for an anonymous caller, nor for others.
    let (s, _) = process(&app, None, "bad-y", json!({"reference": r, "payment_method": "4242424242424242"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = process(&app, Some(&other.0), "bad-z", json!({"reference": r, "payment_method": "4242424242424242"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Offline needs staff.
    let (s, _) = process(&app, None, "bad-off", json!({"reference": r, "token": token, "provider": "offline"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (_, pay) = process(&app, None, "ok", json!({"reference": r, "token": token, "payment_method": "4242424242424242"})).await;
    let pid = pay["id"].as_str().unwrap();
    // Another organization's owner: 404 everywhere.
    assert_eq!(app.get(&format!("/api/payments/{pid}"), Some(&other.0)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/payments/{pid}"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&format!("/api/payments/{pid}/refund"), Some(&other.0), json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/payments/history?org_id={}", shop.org), Some(&other.0)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/payments/ledger?org_id={}", shop.org), Some(&other.0)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&other.0)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/orgs/{}/payment-settings", shop.org), Some(&other.0)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&format!("/api/payments/reconcile?org_id={}", shop.org), Some(&other.0), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, p) = app.get("/api/payments/not-a-uuid", Some(&other.0)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("id")));
    let (s, p) = app.get("/api/payments/ledger", Some(&shop.owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("org_id")));
    let (s, p) = app.get(&format!("/api/payments/history?org_id={}&status=weird", shop.org), Some(&shop.owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
    // Stripe cannot be chosen without keys.
    let (s, p) =
        app.put(&format!("/api/orgs/{}/payment-settings", shop.org), Some(&shop.owner), json!({"provider": "stripe"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("provider")));
    // Subscriptions: bad amounts and intervals.
    for (body, field) in [
        (
            json!({"org_id": shop.org, "customer_email": "a@b.org", "name": "Gold", "amount": 0, "currency": "EUR", "interval": "month"}),
            "amount",
        ),
        (
            json!({"org_id": shop.org, "customer_email": "a@b.org", "name": "Gold", "amount": 500, "currency": "EUR", "interval": "fortnight"}),
            "interval",
        ),
        (
            json!({"org_id": shop.org, "customer_email": "nope", "name": "Gold", "amount": 500, "currency": "EUR", "interval": "month"}),
            "customer_email",
        ),
    ] {
        let (s, p) = app.post("/api/payments/subscription", Some(&shop.owner), body).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{p}");
    }
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn offline_payments_are_recorded_by_staff_and_booked_as_cash() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@offline.org", 2000, 5).await;
    let (bid, token) = book(&app, &shop, 1, "fan@offline.org").await;
    let (s, p) = process(
        &app,
        Some(&shop.owner),
        "off-1",
        json!({"reference": format!("booking:{bid}"), "provider": "offline", "offline_reference": "SEPA-42"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!((p["status"].as_str(), p["test_mode"].as_bool()), (Some("succeeded"), Some(false)));
    wait_booking_status(&app, &bid, &token, "confirmed").await;
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert!(ledger[0]["lines"].as_array().unwrap().iter().any(|l| l["account"] == "cash"));
    let (_, st) = app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&shop.owner)).await;
    assert_eq!(st["revenue"][0]["gross"], 2000, "{st}");

    // "Mark paid", ticketing's shortcut, records the same payment in the transaction that
    // confirms the booking; its listener leaves it be. A card payment the buyer left waiting
    // for authentication is superseded.
    let (bid3, token3) = book(&app, &shop, 2, "fan3@offline.org").await;
    let (s, waiting) = process(
        &app,
        None,
        "off-3ds",
        json!({"reference": format!("booking:{bid3}"), "token": token3, "payment_method": "4000002500003155"}),
    )
    .await;
    assert_eq!((s, waiting["status"].as_str()), (StatusCode::CREATED, Some("requires_action")), "{waiting}");
    let (s, b) = app.post(&format!("/api/bookings/{bid3}/mark-paid"), Some(&shop.owner), json!({"reference": "SEPA-43"})).await;
    assert_eq!((s, b["status"].as_str(), b["paid_reference"].as_str()), (StatusCode::OK, Some("confirmed"), Some("SEPA-43")));
    let history = format!("/api/payments/history?org_id={}&reference=booking:{bid3}", shop.org);
    let (_, h) = app.get(&history, Some(&shop.owner)).await;
    let paid = h["items"].as_array().unwrap().iter().find(|p| p["provider"] == "offline").unwrap().clone();
    assert_eq!(h["items"].as_array().unwrap().len(), 2, "{h}");
    let superseded = payment(&app, &shop.owner, waiting["id"].as_str().unwrap()).await;
    assert_eq!((superseded["status"].as_str(), superseded["failure_code"].as_str()), (Some("failed"), Some("superseded")));
    assert_eq!((paid["provider"].as_str(), paid["status"].as_str()), (Some("offline"), Some("succeeded")));
    assert_eq!((paid["amount"].as_i64(), paid["offline_reference"].as_str()), (Some(4000), Some("SEPA-43")));
    let pid3 = paid["id"].as_str().unwrap().to_string();
    let (_, st) = app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&shop.owner)).await;
    assert_eq!(st["revenue"][0]["gross"], 6000, "{st}");
    quiet(&app).await;
    assert_eq!(payment(&app, &shop.owner, &pid3).await["status"], "succeeded", "not refunded as a second payment");
    assert_eq!(booking(&app, &bid3, &token3).await["status"], "confirmed");
    // Cancelling it gives the money back, in cash.
    let (s, _) = app.delete(&format!("/api/bookings/{bid3}"), Some(&shop.owner)).await;
    assert_eq!(s, StatusCode::OK);
    eventually("the cash refund", || async { payment(&app, &shop.owner, &pid3).await["status"] == "refunded" }).await;
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    let refund = ledger.iter().find(|t| t["kind"] == "refund" && t["payment_id"] == pid3.as_str()).expect("the refund entry");
    assert!(refund["lines"].as_array().unwrap().iter().any(|l| l["account"] == "cash" && l["amount"] == -4000), "{refund}");

    // Turned off: refused.
    let (s, _) =
        app.put(&format!("/api/orgs/{}/payment-settings", shop.org), Some(&shop.owner), json!({"offline_enabled": false})).await;
    assert_eq!(s, StatusCode::OK);
    let (bid2, _) = book(&app, &shop, 1, "fan2@offline.org").await;
    let (s, p) =
        process(&app, Some(&shop.owner), "off-2", json!({"reference": format!("booking:{bid2}"), "provider": "offline"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("provider")));
    let (s, p) = app.post(&format!("/api/bookings/{bid2}/mark-paid"), Some(&shop.owner), json!({})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("offline_disabled")), "{p}");
}

// ---- order ↔ payment: late success after the hold expired -------------------------------------

#[tokio::test]
async fn late_success_after_hold_expiry_retakes_free_seats() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@late.org", 5000, 1).await;
    let (s, _) =
        app.put(&format!("/api/events/{}/ticketing-settings", shop.event), Some(&shop.owner), json!({"hold_seconds": 1})).await;
    assert_eq!(s, StatusCode::OK);
    let (bid, token) = book(&app, &shop, 1, "fan@late.org").await;
    let r = format!("booking:{bid}");
    let (_, p) = process(&app, None, "l-1", json!({"reference": r, "token": token, "payment_method": "4000002500003155"})).await;
    assert_eq!(p["status"], "requires_action");
    wait_booking_status(&app, &bid, &token, "expired").await;
    assert_eq!(quota_taken(&app, &shop).await, 0);
    // The buyer authenticates after the hold ran out; the seat is still free.
    let (_, p) = process(&app, None, "l-2", json!({"reference": r, "token": token, "authentication": "succeeded"})).await;
    assert_eq!(p["status"], "succeeded", "{p}");
    let b = wait_booking_status(&app, &bid, &token, "confirmed").await;
    assert_eq!(b["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(quota_taken(&app, &shop).await, 1);
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn late_success_after_the_seats_were_sold_is_refunded() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@sold.org", 5000, 1).await;
    app.put(&format!("/api/events/{}/ticketing-settings", shop.event), Some(&shop.owner), json!({"hold_seconds": 1})).await;
    let (bid, token) = book(&app, &shop, 1, "slow@sold.org").await;
    let r = format!("booking:{bid}");
    let (_, p) = process(&app, None, "s-1", json!({"reference": r, "token": token, "payment_method": "4000002500003155"})).await;
    let pid = p["id"].as_str().unwrap().to_string();
    wait_booking_status(&app, &bid, &token, "expired").await;
    // Someone else buys the last seat.
    let (bid2, token2) = book(&app, &shop, 1, "fast@sold.org").await;
    let (p2, _) = pay_by_card(&app, &bid2, &token2, "s-2").await;
    assert_eq!(p2["status"], "succeeded");
    // Now the first buyer's payment goes through: refunded in full, no tickets, buyer told.
    let (_, p) = process(&app, None, "s-3", json!({"reference": r, "token": token, "authentication": "succeeded"})).await;
    assert_eq!(p["status"], "succeeded");
    eventually("automatic refund", || async { payment(&app, &shop.owner, &pid).await["status"] == "refunded" }).await;
    let b = booking(&app, &bid, &token).await;
    assert_eq!(b["status"], "expired");
    assert!(b["tickets"].as_array().unwrap().is_empty());
    assert_eq!(quota_taken(&app, &shop).await, 1, "never more tickets than seats");
    app.wait_for_token("slow@sold.org", "booking ").await;
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

// ---- Stripe: signatures, exactly-once, out of order, refund retries ---------------------------

#[tokio::test]
async fn webhook_signatures_are_verified() {
    let app =
        TestApp::spawn_with(json!({"payments": {"stripe_webhook_secrets": [WHSEC_OLD, WHSEC], "webhook_tolerance_secs": 300}}))
            .await;
    let body = stripe_event("evt_sig_1", "customer.created", json!({"id": "cus_1"})).to_string();
    let now = chrono::Utc::now().timestamp();
    let (s, a) = webhook(&app, Some(&sign(WHSEC, now, &body)), &body).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a, json!({"received": true, "duplicate": false}));
    let cases = [
        ("expired timestamp", Some(sign(WHSEC, now - 301, &body)), body.clone()),
        ("future timestamp", Some(sign(WHSEC, now + 301, &body)), body.clone()),
        ("wrong secret", Some(sign("whsec_someone_else", now, &body)), body.clone()),
        ("tampered body", Some(sign(WHSEC, now, &body)), body.replace("cus_1", "cus_2")),
        ("no signature", None, body.clone()),
        ("garbage header", Some("t=abc,v1=zz".to_string()), body.clone()),
        ("no v1", Some(format!("t={now}")), body.clone()),
    ];
    for (what, sig, b) in cases {
        let (s, p) = webhook(&app, sig.as_deref(), &b).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what}: {p}");
        assert!(["invalid_signature"].contains(&p["code"].as_str().unwrap()), "{what}: {p}");
    }
    // Rotation: the previous secret still verifies, and a header carrying signatures under
    // two secrets (old and new) verifies with either.
    let body2 = stripe_event("evt_sig_2", "customer.created", json!({"id": "cus_2"})).to_string();
    let (s, _) = webhook(&app, Some(&sign(WHSEC_OLD, now, &body2)), &body2).await;
    assert_eq!(s, StatusCode::OK);
    let body3 = stripe_event("evt_sig_3", "customer.created", json!({"id": "cus_3"})).to_string();
    let both = format!(
        "t={now},v1={},v1={}",
        payments::domain::stripe_signature(b"whsec_retired", now, body3.as_bytes()),
        payments::domain::stripe_signature(WHSEC.as_bytes(), now, body3.as_bytes())
    );
    assert_eq!(webhook(&app, Some(&both), &body3).await.0, StatusCode::OK);
    // Not configured at all: the endpoint does not exist on this server.
    let bare = TestApp::spawn().await;
    let (s, p) = webhook(&bare, Some(&sign(WHSEC, now, &body)), &body).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{p}");
}

/// A shop on the Stripe double with a booking paid with `pm`; returns (shop, booking id,
/// token, payment).
async fn stripe_payment(app: &TestApp, email: &str, pm: &str, capacity: i64) -> (Shop, String, String, Value) {
    let shop = shop(app, email, 5000, capacity).await;
    use_stripe(app, &shop).await;
    let (bid, token) = book(app, &shop, 1, &format!("fan-{email}")).await;
    let (s, p) = process(
        app,
        None,
        &format!("k-{email}"),
        json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": pm}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    (shop, bid, token, p)
}

#[tokio::test]
async fn replayed_and_concurrent_duplicate_webhooks_have_one_effect() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let (shop, bid, token, p) = stripe_payment(&app, "o@dup.org", "pm_processing", 5).await;
    assert_eq!(p["status"], "processing");
    assert_eq!(p["test_mode"], true);
    assert!(p["client_secret"].as_str().unwrap().starts_with("pi_double_"));
    let pi = p["provider_payment_id"].as_str().unwrap().to_string();
    // The wire format: form fields, Stripe-Version, Idempotency-Key = our payment id.
    let seen = double.seen("/v1/payment_intents");
    assert_eq!(seen[0].idempotency_key.as_deref(), p["id"].as_str());
    assert_eq!(seen[0].stripe_version.as_deref(), Some("2024-06-20"));
    assert_eq!(seen[0].form["amount"], "5000");
    assert_eq!(seen[0].form["currency"], "eur");
    assert_eq!(seen[0].form["metadata[reference]"], format!("booking:{bid}"));

    let succeeded = stripe_event(
        "evt_dup_1",
        "payment_intent.succeeded",
        json!({"id": pi, "object": "payment_intent", "status": "succeeded", "amount": 5000, "metadata": {"payment_id": p["id"]}}),
    );
    let (s, a) = signed_webhook(&app, &succeeded).await;
    assert_eq!((s, a["duplicate"].as_bool()), (StatusCode::OK, Some(false)), "{a}");
    let (s, a) = signed_webhook(&app, &succeeded).await;
    assert_eq!((s, a["duplicate"].as_bool()), (StatusCode::OK, Some(true)), "a replay: {a}");
    wait_booking_status(&app, &bid, &token, "confirmed").await;

    // Eight concurrent deliveries of one partial refund event.
    let refunded = stripe_event(
        "evt_dup_2",
        "charge.refunded",
        json!({"id": "ch_1", "object": "charge", "payment_intent": pi,
        "amount_refunded": 1000, "refunds": {"data": [{"id": "re_dash_1", "amount": 1000, "status": "succeeded", "metadata": {}}]}}),
    );
    let results = futures::future::join_all((0..8).map(|_| signed_webhook(&app, &refunded))).await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK), "{results:?}");
    assert_eq!(results.iter().filter(|(_, a)| a["duplicate"] == false).count(), 1, "{results:?}");
    let pay = payment(&app, &shop.owner, p["id"].as_str().unwrap()).await;
    assert_eq!((pay["status"].as_str(), pay["refunded_amount"].as_i64()), (Some("partially_refunded"), Some(1000)));
    assert_eq!(pay["refunds"].as_array().unwrap().len(), 1);
    // The same refund under another event id is still one refund.
    let again = stripe_event(
        "evt_dup_3",
        "refund.updated",
        json!({"id": "re_dash_1", "object": "refund", "amount": 1000,
        "status": "succeeded", "payment_intent": pi, "metadata": {}}),
    );
    assert_eq!(signed_webhook(&app, &again).await.0, StatusCode::OK);
    assert_eq!(payment(&app, &shop.owner, p["id"].as_str().unwrap()).await["refunded_amount"], 1000);
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "charge").count(), 1);
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "refund").count(), 1);
}

/// A refund made in the Stripe dashboard is announced twice, by `charge.refunded` (which,
/// in the API versions we speak, no longer lists the refunds) and by `refund.created`. Both
/// orders book it once, under Stripe's id; a second dashboard refund books only itself; an
/// event that would refund more than was paid is kept, answered 200 and books nothing.
#[tokio::test]
async fn a_dashboard_refund_announced_twice_is_booked_once() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let (shop, bid, token, p) = stripe_payment(&app, "o@dashboard.org", "pm_ok", 5).await;
    assert_eq!(p["status"], "succeeded", "{p}");
    wait_booking_status(&app, &bid, &token, "confirmed").await;
    let (pid, pi) = (p["id"].as_str().unwrap(), p["provider_payment_id"].as_str().unwrap());
    let refund = |id: &str, amount: i64| {
        json!({"id": id, "object": "refund", "amount": amount, "status": "succeeded", "charge": "ch_dash",
               "payment_intent": pi, "metadata": {}})
    };
    let charge_refunded = |evt: &str, total: i64| {
        stripe_event(
            evt,
            "charge.refunded",
            json!({"id": "ch_dash", "object": "charge", "payment_intent": pi,
            "amount": 5000, "amount_refunded": total, "refunded": total == 5000}),
        )
    };
    let refunded_amount = || async { payment(&app, &shop.owner, pid).await["refunded_amount"].as_i64() };

    // charge.refunded first, then refund.created for the same refund.
    double.state.lock().unwrap().charge_refunds.insert("ch_dash".into(), vec![refund("re_dash_a", 1000)]);
    let (s, a) = signed_webhook(&app, &charge_refunded("evt_dash_1", 1000)).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(refunded_amount().await, Some(1000));
    let (s, a) = signed_webhook(&app, &stripe_event("evt_dash_2", "refund.created", refund("re_dash_a", 1000))).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(refunded_amount().await, Some(1000), "refund.created for a refund already booked");

    // A second dashboard refund, refund.created first this time.
    double.state.lock().unwrap().charge_refunds.get_mut("ch_dash").unwrap().push(refund("re_dash_b", 1500));
    assert_eq!(
        signed_webhook(&app, &stripe_event("evt_dash_3", "refund.created", refund("re_dash_b", 1500))).await.0,
        StatusCode::OK
    );
    assert_eq!(signed_webhook(&app, &charge_refunded("evt_dash_4", 2500)).await.0, StatusCode::OK);
    let pay = payment(&app, &shop.owner, pid).await;
    assert_eq!((pay["status"].as_str(), pay["refunded_amount"].as_i64()), (Some("partially_refunded"), Some(2500)), "{pay}");
    assert_eq!(pay["refunds"].as_array().unwrap().len(), 2, "{pay}");

    // An event refunding more than is left contradicts the books: kept (a redelivery is a
    // duplicate), answered 200 so Stripe stops retrying, nothing booked.
    let too_much = stripe_event("evt_dash_5", "refund.created", refund("re_dash_c", 4000));
    let (s, a) = signed_webhook(&app, &too_much).await;
    assert_eq!((s, a["duplicate"].as_bool()), (StatusCode::OK, Some(false)), "{a}");
    let (s, a) = signed_webhook(&app, &too_much).await;
    assert_eq!((s, a["duplicate"].as_bool()), (StatusCode::OK, Some(true)), "{a}");
    assert_eq!(refunded_amount().await, Some(2500));

    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    let refunds: Vec<i64> =
        ledger.iter().filter(|t| t["kind"] == "refund").map(|t| t["amount"].as_i64().unwrap_or_default()).collect();
    assert_eq!(refunds.len(), 2, "{ledger:?}");
}

#[tokio::test]
async fn a_card_payment_superseded_by_mark_paid_and_succeeding_late_is_refunded() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let (shop, bid, token, p) = stripe_payment(&app, "o@superseded.org", "pm_processing", 5).await;
    assert_eq!(p["status"], "processing");
    // The buyer paid by bank transfer after all; staff mark it paid.
    let (s, b) = app.post(&format!("/api/bookings/{bid}/mark-paid"), Some(&shop.owner), json!({"reference": "SEPA-9"})).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{b}");
    let pid = p["id"].as_str().unwrap();
    assert_eq!(payment(&app, &shop.owner, pid).await["failure_code"], "superseded");
    // Then the card payment goes through at Stripe: recorded (a duplicate), refunded in full.
    let pi = p["provider_payment_id"].as_str().unwrap();
    let intent = json!({"id": pi, "object": "payment_intent", "status": "succeeded", "amount": 5000, "currency": "eur",
                        "metadata": {"payment_id": pid}});
    let (s, a) = signed_webhook(&app, &stripe_event("evt_late_card", "payment_intent.succeeded", intent)).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    eventually("the duplicate refunded", || async { payment(&app, &shop.owner, pid).await["status"] == "refunded" }).await;
    let b = booking(&app, &bid, &token).await;
    assert_eq!((b["status"].as_str(), b["paid_reference"].as_str()), (Some("confirmed"), Some("SEPA-9")));
    assert_eq!(b["tickets"].as_array().unwrap().iter().filter(|t| t["status"] == "valid").count(), 1);
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "refund" && t["payment_id"] == pid).count(), 1);
}

#[tokio::test]
async fn a_refund_arriving_before_its_success_is_handled() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let (shop, bid, token, p) = stripe_payment(&app, "o@order.org", "pm_processing", 5).await;
    let pi = p["provider_payment_id"].as_str().unwrap().to_string();
    let refunded = stripe_event(
        "evt_ooo_1",
        "charge.refunded",
        json!({"id": "ch_9", "object": "charge", "payment_intent": pi,
        "amount_refunded": 5000, "refunds": {"data": [{"id": "re_ooo", "amount": 5000, "status": "succeeded"}]}}),
    );
    assert_eq!(signed_webhook(&app, &refunded).await.0, StatusCode::OK);
    let succeeded = stripe_event(
        "evt_ooo_2",
        "payment_intent.succeeded",
        json!({"id": pi, "object": "payment_intent", "status": "succeeded"}),
    );
    assert_eq!(signed_webhook(&app, &succeeded).await.0, StatusCode::OK);
    let pay = payment(&app, &shop.owner, p["id"].as_str().unwrap()).await;
    assert_eq!((pay["status"].as_str(), pay["refunded_amount"].as_i64()), (Some("refunded"), Some(5000)));
    // The booking ends refunded with its seat free, whichever listener ran first.
    wait_booking_status(&app, &bid, &token, "refunded").await;
    eventually("seat released", || async { quota_taken(&app, &shop).await == 0 }).await;
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.len(), 2);
}

#[tokio::test]
async fn refund_job_retries_after_provider_errors_then_dead_letters() {
    let double = StripeDouble::start().await;
    double.state.lock().unwrap().fail_refunds = true;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let (shop, bid, token, p) = stripe_payment(&app, "o@dead.org", "pm_ok", 5).await;
    assert_eq!(p["status"], "succeeded", "{p}");
    let b = wait_booking_status(&app, &bid, &token, "confirmed").await;
    let ticket = b["tickets"][0]["id"].as_str().unwrap().to_string();
    let pid = p["id"].as_str().unwrap().to_string();
    let (s, r) = app.post(&format!("/api/payments/{pid}/refund"), Some(&shop.owner), json!({"items": [ticket]})).await;
    assert_eq!((s, r["amount"].as_i64()), (StatusCode::ACCEPTED, Some(5000)), "{r}");
    eventually("refund failed after 3 attempts", || async {
        let p = payment(&app, &shop.owner, &pid).await;
        p["refunds"][0]["status"] == "failed"
    })
    .await;
    let p = payment(&app, &shop.owner, &pid).await;
    assert_eq!(p["refunds"][0]["attempts"], 3);
    assert!(p["refunds"][0]["last_error"].as_str().unwrap().contains("500"), "{p}");
    assert_eq!(p["status"], "succeeded", "nothing was refunded");
    let tries = double.seen("/v1/refunds");
    assert_eq!(tries.len(), 3);
    let rid = r["id"].as_str().unwrap();
    assert!(tries.iter().all(|t| t.idempotency_key.as_deref() == Some(rid) && t.form["amount"] == "5000"));
    // The job itself is dead-lettered.
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    let dead: Vec<(String, i64)> =
        kernel::read!(&db, |c| sqlx::query_as("SELECT status, attempts FROM jobs WHERE kind = 'payments.refund'")
            .fetch_all(c)
            .await)
        .unwrap();
    assert_eq!(dead, vec![("dead".to_string(), 3)]);
    assert_eq!(booking(&app, &bid, &token).await["status"], "confirmed");

    // A failed refund frees its items: the ticket is given back by a new refund, and the
    // dead job retried by hand afterwards does not pay it twice.
    double.state.lock().unwrap().fail_refunds = false;
    let (s, again) = app.post(&format!("/api/payments/{pid}/refund"), Some(&shop.owner), json!({"items": [ticket]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{again}");
    wait_booking_status(&app, &bid, &token, "refunded").await;
    let admin = promote(&app, "o@dead.org").await;
    let (job,): (uuid::Uuid,) =
        kernel::read!(&db, |c| sqlx::query_as("SELECT id FROM jobs WHERE kind = 'payments.refund' AND status = 'dead'")
            .fetch_one(c)
            .await)
        .unwrap();
    let (s, retried) = app.post(&format!("/api/admin/jobs/{job}/retry"), Some(&admin), json!({})).await;
    assert!(s.is_success(), "{s} {retried}");
    quiet(&app).await;
    let p = payment(&app, &shop.owner, &pid).await;
    let first = p["refunds"].as_array().unwrap().iter().find(|x| x["id"] == rid).unwrap();
    assert_eq!(first["status"], "failed", "{p}");
    assert!(first["last_error"].as_str().unwrap().contains("another refund"), "{p}");
    assert_eq!((p["status"].as_str(), p["refunded_amount"].as_i64()), (Some("refunded"), Some(5000)));
    assert_eq!(double.seen("/v1/refunds").len(), 4, "three failed tries and the second refund");
    db.close().await;
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn checkout_sessions_redirect_and_settle_by_webhook() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let shop = shop(&app, "o@checkout.org", 7000, 5).await;
    use_stripe(&app, &shop).await;
    let (bid, token) = book(&app, &shop, 1, "fan@checkout.org").await;
    let (s, p) = process(
        &app,
        None,
        "co-1",
        json!({"reference": format!("booking:{bid}"), "token": token, "flow": "checkout",
        "success_url": "https://tickets.example.org/thanks", "cancel_url": "https://tickets.example.org/cart"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["status"], "processing");
    assert!(p["checkout_url"].as_str().unwrap().starts_with("https://checkout.stripe.test/"));
    let seen = &double.seen("/v1/checkout/sessions")[0];
    assert_eq!(seen.form["mode"], "payment");
    assert_eq!(seen.form["line_items[0][price_data][unit_amount]"], "7000");
    assert_eq!(seen.form["success_url"], "https://tickets.example.org/thanks");
    assert_eq!(seen.idempotency_key.as_deref(), p["id"].as_str());
    let cs = p["provider_payment_id"].as_str().unwrap();
    let done = stripe_event(
        "evt_cs_1",
        "checkout.session.completed",
        json!({"id": cs, "object": "checkout.session",
        "payment_status": "paid", "payment_intent": "pi_from_checkout", "metadata": {"payment_id": p["id"]}}),
    );
    assert_eq!(signed_webhook(&app, &done).await.0, StatusCode::OK);
    wait_booking_status(&app, &bid, &token, "confirmed").await;
    let pay = payment(&app, &shop.owner, p["id"].as_str().unwrap()).await;
    assert_eq!((pay["status"].as_str(), pay["provider_payment_id"].as_str()), (Some("succeeded"), Some("pi_from_checkout")));
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn reconciliation_settles_payments_the_provider_saw_succeed() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(json!({"payments": {"stripe_api_key": "sk_test_x", "stripe_base_url": double.url,
        "stripe_webhook_secrets": [WHSEC], "reconcile_after_secs": 1, "reconcile_interval_secs": 0}}))
    .await;
    let (shop, bid, token, p) = stripe_payment(&app, "o@recon.org", "pm_processing", 5).await;
    let pi = p["provider_payment_id"].as_str().unwrap();
    // The webhook never comes; the provider says it succeeded.
    double.set_intent_status(pi, "succeeded");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, report) = app.post(&format!("/api/payments/reconcile?org_id={}", shop.org), Some(&shop.owner), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["fixed"], 1, "{report}");
    wait_booking_status(&app, &bid, &token, "confirmed").await;
    let (_, report) = app.post(&format!("/api/payments/reconcile?org_id={}", shop.org), Some(&shop.owner), json!({})).await;
    assert_eq!((report["fixed"].as_i64(), report["mismatches"].as_array().map(Vec::len)), (Some(0), Some(0)), "{report}");
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

/// A card payment whose server never heard Stripe's answer (it stopped mid-charge, or the
/// connection hung) is left `processing` without a provider id. Once stale it is settled:
/// found at Stripe by our payment id when the charge went through (reconciliation books the
/// success and the buyer is not charged again), or failed as `abandoned` when Stripe never
/// saw it, so the buyer's next attempt goes ahead instead of hearing `payment_in_progress`.
#[tokio::test]
async fn an_interrupted_card_payment_does_not_stay_processing() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(json!({"payments": {"stripe_api_key": "sk_test_x", "stripe_base_url": double.url,
        "stripe_webhook_secrets": [WHSEC], "reconcile_after_secs": 1, "reconcile_interval_secs": 0}}))
    .await;
    let shop = shop(&app, "o@interrupted.org", 5000, 5).await;
    use_stripe(&app, &shop).await;
    let pay_body =
        |bid: &str, token: &str| json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": "pm_ok"});
    let double = &double;
    let attempt_seen = |n: usize| async move {
        eventually("Stripe saw the attempt", || async { double.seen("/v1/payment_intents").len() == n }).await;
        double.seen("/v1/payment_intents")[n - 1].idempotency_key.clone().unwrap()
    };

    // 1. Stripe charged; the answer never arrived.
    let (bid, token) = book(&app, &shop, 1, "fan-charged@example.org").await;
    double.state.lock().unwrap().hang = Some((Duration::from_secs(5), true));
    let hung = process(&app, None, "k-hung-1", pay_body(&bid, &token));
    let meanwhile = async {
        let pid = attempt_seen(1).await;
        let stuck = payment(&app, &shop.owner, &pid).await;
        assert_eq!((stuck["status"].as_str(), stuck["provider_payment_id"].as_str()), (Some("processing"), None), "{stuck}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (s, report) = app.post(&format!("/api/payments/reconcile?org_id={}", shop.org), Some(&shop.owner), json!({})).await;
        assert_eq!((s, report["fixed"].as_i64()), (StatusCode::OK, Some(1)), "{report}");
        let found = payment(&app, &shop.owner, &pid).await;
        assert_eq!(found["status"], "succeeded", "{found}");
        assert!(found["provider_payment_id"].as_str().unwrap().starts_with("pi_double_"), "{found}");
        wait_booking_status(&app, &bid, &token, "confirmed").await;
        // The buyer, seeing no answer, tries again: told it is paid, not charged twice.
        let (s, again) = process(&app, None, "k-hung-2", pay_body(&bid, &token)).await;
        assert_eq!((s, again["code"].as_str()), (StatusCode::CONFLICT, Some("already_paid")), "{again}");
    };
    let ((s, _), ()) = tokio::join!(hung, meanwhile);
    assert_eq!(s, StatusCode::CREATED, "the hung request ends with the payment it made");
    assert_eq!(double.seen("/v1/payment_intents").len(), 1);

    // 2. The attempt never reached Stripe.
    let (bid, token) = book(&app, &shop, 1, "fan-lost@example.org").await;
    double.state.lock().unwrap().hang = Some((Duration::from_secs(5), false));
    let hung = process(&app, None, "k-hung-3", pay_body(&bid, &token));
    let meanwhile = async {
        let lost = attempt_seen(2).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (s, paid) = process(&app, None, "k-hung-4", pay_body(&bid, &token)).await;
        assert_eq!((s, paid["status"].as_str()), (StatusCode::CREATED, Some("succeeded")), "{paid}");
        assert_ne!(paid["id"].as_str(), Some(lost.as_str()));
        let lost = payment(&app, &shop.owner, &lost).await;
        assert_eq!((lost["status"].as_str(), lost["failure_code"].as_str()), (Some("failed"), Some("abandoned")), "{lost}");
        wait_booking_status(&app, &bid, &token, "confirmed").await;
    };
    let ((s, _), ()) = tokio::join!(hung, meanwhile);
    assert!(!s.is_success(), "the hung attempt failed: {s}");
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "charge").count(), 2, "{ledger:?}");
}

/// Kills (`SIGKILL`) a real `backline` process while it waits for Stripe's answer to a card
/// payment, once after Stripe made the charge and once before it saw anything. After the
/// restart neither attempt blocks its buyer: the charged one is found at Stripe and booked
/// (the buyer is told it is paid), the lost one fails as `abandoned` and the buyer pays.
#[tokio::test]
async fn a_card_payment_killed_mid_charge_is_resolved_after_restart() {
    let double = StripeDouble::start().await;
    let mut app = TestApp::spawn_with(json!({"payments": {"stripe_api_key": "sk_test_x", "stripe_base_url": double.url,
        "stripe_webhook_secrets": [WHSEC], "reconcile_after_secs": 1, "reconcile_interval_secs": 0}}))
    .await;
    let shop = shop(&app, "o@killed.org", 5000, 5).await;
    use_stripe(&app, &shop).await;
    let (charged, charged_token) = book(&app, &shop, 1, "fan-charged@example.org").await;
    let (lost, lost_token) = book(&app, &shop, 1, "fan-lost@example.org").await;
    app.stop().await;
    let pay_body =
        |bid: &str, token: &str| json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": "pm_ok"});

    // The same database, served by the binary, killed while the charge is in flight.
    let killed_mid_charge = |bid: String, token: String, creates: bool, nth: usize| {
        let (app, double) = (&app, &double);
        async move {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backline"))
                .env("DATABASE_URL", &app.database_url)
                .env("BACKLINE_DATA_DIR", app.dir.path())
                .env("BACKLINE_SERVER__BIND", format!("127.0.0.1:{port}"))
                .env("BACKLINE_PAYMENTS__STRIPE_API_KEY", "sk_test_x")
                .env("BACKLINE_PAYMENTS__STRIPE_BASE_URL", &double.url)
                .env("BACKLINE_PAYMENTS__RECONCILE_INTERVAL_SECS", "0")
                .env("BACKLINE_LOG__LEVEL", "warn")
                .spawn()
                .expect("start backline");
            let base = format!("http://127.0.0.1:{port}");
            eventually("the binary is up", || async { app.client.get(format!("{base}/healthz")).send().await.is_ok() }).await;
            double.state.lock().unwrap().hang = Some((Duration::from_secs(30), creates));
            let request = app
                .client
                .post(format!("{base}/api/payments/process"))
                .header("idempotency-key", format!("k-killed-{nth}"))
                .json(&pay_body(&bid, &token))
                .send();
            let in_flight = tokio::spawn(request);
            eventually("Stripe saw the attempt", || async { double.seen("/v1/payment_intents").len() == nth }).await;
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
            assert!(in_flight.await.unwrap().is_err(), "the connection died with the process");
            double.seen("/v1/payment_intents")[nth - 1].idempotency_key.clone().unwrap()
        }
    };
    let charged_pid = killed_mid_charge(charged.clone(), charged_token.clone(), true, 1).await;
    let lost_pid = killed_mid_charge(lost.clone(), lost_token.clone(), false, 2).await;

    let app = app.restart(json!({})).await;
    for pid in [&charged_pid, &lost_pid] {
        let p = payment(&app, &shop.owner, pid).await;
        assert_eq!((p["status"].as_str(), p["provider_payment_id"].as_str()), (Some("processing"), None), "{p}");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The buyers come back.
    let (s, again) = process(&app, None, "k-back-1", pay_body(&charged, &charged_token)).await;
    assert_eq!((s, again["code"].as_str()), (StatusCode::CONFLICT, Some("already_paid")), "{again}");
    assert_eq!(payment(&app, &shop.owner, &charged_pid).await["status"], "succeeded");
    wait_booking_status(&app, &charged, &charged_token, "confirmed").await;
    let (s, paid) = process(&app, None, "k-back-2", pay_body(&lost, &lost_token)).await;
    assert_eq!((s, paid["status"].as_str()), (StatusCode::CREATED, Some("succeeded")), "{paid}");
    let abandoned = payment(&app, &shop.owner, &lost_pid).await;
    assert_eq!((abandoned["status"].as_str(), abandoned["failure_code"].as_str()), (Some("failed"), Some("abandoned")));
    wait_booking_status(&app, &lost, &lost_token, "confirmed").await;
    // Stripe charged each buyer once.
    assert_eq!(double.seen("/v1/payment_intents").len(), 3);
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "charge").count(), 2, "{ledger:?}");
}

// ---- localstripe: the real wire format end to end --------------------------------------------

struct LocalStripe {
    child: std::process::Child,
    url: String,
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts localstripe on a free port; `None` (with a message) when it is not installed.
async fn localstripe() -> Option<LocalStripe> {
    use std::process::{Command, Stdio};
    let ok =
        Command::new("localstripe").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("localstripe not found: Stripe end-to-end tests skipped (pip install localstripe; CI installs it)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("localstripe")
        .args(["--port", &port.to_string(), "--from-scratch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localstripe");
    let server = LocalStripe { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{}/v1/customers", server.url)).bearer_auth("sk_test_x").send().await.is_ok() {
            return Some(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("localstripe did not come up");
}

/// What Stripe.js does in a browser: a PaymentMethod for a card number.
async fn payment_method(ls: &LocalStripe, card: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{}/v1/payment_methods", ls.url))
        .bearer_auth("sk_test_backline")
        .form(&[
            ("type", "card"),
            ("card[number]", card),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2034"),
            ("card[cvc]", "123"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_string()
}

async fn localstripe_app(ls: &LocalStripe) -> TestApp {
    let app = TestApp::spawn_with(json!({"payments": {"stripe_api_key": "sk_test_backline", "stripe_base_url": ls.url,
        "stripe_webhook_secrets": [WHSEC]}}))
    .await;
    // localstripe delivers webhooks to the app, signed with the secret.
    let r = reqwest::Client::new()
        .post(format!("{}/_config/webhooks/backline", ls.url))
        .form(&[("url", app.url("/api/payments/webhook/stripe").as_str()), ("secret", WHSEC)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    app
}

#[tokio::test]
async fn localstripe_pay_webhook_confirm_refund_and_decline() {
    let Some(ls) = localstripe().await else { return };
    let app = localstripe_app(&ls).await;
    let shop = shop(&app, "o@ls.org", 4500, 5).await;
    use_stripe(&app, &shop).await;

    // Pay → (synchronous answer and) webhook → order confirmed with tickets.
    let (bid, token) = book(&app, &shop, 2, "fan@ls.org").await;
    let pm = payment_method(&ls, "4242424242424242").await;
    let (s, p) =
        process(&app, None, "ls-1", json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": pm})).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["status"], "succeeded", "{p}");
    let pi = p["provider_payment_id"].as_str().unwrap().to_string();
    assert!(pi.starts_with("pi_"));
    let b = wait_booking_status(&app, &bid, &token, "confirmed").await;
    assert_eq!(b["tickets"].as_array().unwrap().len(), 2);
    let pid = p["id"].as_str().unwrap().to_string();
    // localstripe's own payment_intent.succeeded delivery arrives (about 1 s later) and is a no-op.
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    eventually("localstripe's webhook", || async {
        let n: Vec<(String,)> = kernel::read!(&db, |c| sqlx::query_as(
            "SELECT outcome FROM webhook_events WHERE event_type = 'payment_intent.succeeded'"
        )
        .fetch_all(c)
        .await)
        .unwrap();
        n.len() == 1
    })
    .await;
    db.close().await;

    // Partial, then full refund through Stripe's refunds API.
    let (s, _) = app.post(&format!("/api/payments/{pid}/refund"), Some(&shop.owner), json!({"amount": 1000})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    eventually("partial refund", || async { payment(&app, &shop.owner, &pid).await["refunded_amount"] == 1000 }).await;
    let (s, _) = app.post(&format!("/api/payments/{pid}/refund"), Some(&shop.owner), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    eventually("full refund", || async { payment(&app, &shop.owner, &pid).await["status"] == "refunded" }).await;
    let p = payment(&app, &shop.owner, &pid).await;
    assert!(p["refunds"].as_array().unwrap().iter().all(|r| r["provider_refund_id"].as_str().unwrap().starts_with("re_")), "{p}");
    wait_booking_status(&app, &bid, &token, "refunded").await;
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/v1/refunds?payment_intent={pi}", ls.url))
        .bearer_auth("sk_test_backline")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let amounts: i64 = listed["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).sum();
    assert_eq!(amounts, 9000, "Stripe holds exactly our refunds: {listed}");

    // Decline: Stripe answers 402 card_declined; the payment fails, the hold stays.
    let (bid2, token2) = book(&app, &shop, 1, "fan2@ls.org").await;
    let bad = payment_method(&ls, "4000000000000341").await;
    let (s, p) =
        process(&app, None, "ls-2", json!({"reference": format!("booking:{bid2}"), "token": token2, "payment_method": bad}))
            .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!((p["status"].as_str(), p["failure_code"].as_str()), (Some("failed"), Some("card_declined")), "{p}");
    assert_eq!(booking(&app, &bid2, &token2).await["status"], "pending_payment");
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn localstripe_subscription_create_and_cancel() {
    let Some(ls) = localstripe().await else { return };
    let app = localstripe_app(&ls).await;
    let shop = shop(&app, "o@sub.org", 1000, 5).await;
    use_stripe(&app, &shop).await;
    let pm = payment_method(&ls, "4242424242424242").await;
    let (s, sub) = app
        .post(
            "/api/payments/subscription",
            Some(&shop.owner),
            json!({"org_id": shop.org, "customer_email": "member@sub.org",
            "name": "Fan club gold", "amount": 999, "currency": "EUR", "interval": "month", "payment_method": pm}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    assert!(sub["provider_subscription_id"].as_str().unwrap().starts_with("sub_"), "{sub}");
    assert!(sub["provider_customer_id"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(sub["status"], "active", "{sub}");
    let id = sub["id"].as_str().unwrap();
    // localstripe's `invoice.payment_succeeded` for the first month books a payment.
    eventually("the first invoice", || async { subscription_payments(&app, &shop, id).await.len() == 1 }).await;
    let inv = &subscription_payments(&app, &shop, id).await[0];
    assert_eq!(
        (inv["amount"].as_i64(), inv["currency"].as_str(), inv["provider"].as_str()),
        (Some(999), Some("EUR"), Some("stripe"))
    );
    assert!(inv["description"].as_str().unwrap().contains("invoice in_"), "{inv}");
    let (s, c) = app.post(&format!("/api/payments/subscription/{id}/cancel"), Some(&shop.owner), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "canceled");
    assert!(c["canceled_at"].is_string());
    let remote: Value = reqwest::Client::new()
        .get(format!("{}/v1/subscriptions/{}", ls.url, sub["provider_subscription_id"].as_str().unwrap()))
        .bearer_auth("sk_test_backline")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(remote["status"], "canceled", "{remote}");
    assert_ledger_balances(&app, &shop.owner, &shop.org).await;
}

#[tokio::test]
async fn localstripe_payouts_are_booked_to_the_bank() {
    let Some(ls) = localstripe().await else { return };
    let app = localstripe_app(&ls).await;
    let shop = shop(&app, "o@payout.org", 1000, 5).await;
    use_stripe(&app, &shop).await;
    let payout: Value = reqwest::Client::new()
        .post(format!("{}/v1/payouts", ls.url))
        .bearer_auth("sk_test_backline")
        .form(&[("amount", "5000"), ("currency", "eur"), ("status", "paid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let po = payout["id"].as_str().unwrap_or_else(|| panic!("{payout}")).to_string();
    eventually("the payout in the ledger", || async {
        assert_ledger_balances(&app, &shop.owner, &shop.org).await.iter().any(|t| t["kind"] == "payout")
    })
    .await;
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    let t = ledger.iter().find(|t| t["kind"] == "payout").unwrap();
    assert!(t["memo"].as_str().unwrap().contains(&po), "{t}");
    let lines: Vec<(&str, i64)> =
        t["lines"].as_array().unwrap().iter().map(|l| (l["account"].as_str().unwrap(), l["amount"].as_i64().unwrap())).collect();
    assert!(lines.contains(&("bank", 5000)) && lines.contains(&("provider_balance", -5000)), "{lines:?}");
    let (_, st) = app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&shop.owner)).await;
    assert_eq!(st["test_mode"][0]["payouts"], 5000, "{st}");

    // The bank sends it back: reversed once, however often the event comes.
    let mut returned = payout.clone();
    returned["status"] = json!("failed");
    for _ in 0..2 {
        let (s, _) = signed_webhook(&app, &stripe_event(&format!("evt_ret_{po}"), "payout.failed", returned.clone())).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _) = signed_webhook(&app, &stripe_event(&format!("evt_ret2_{po}"), "payout.failed", returned.clone())).await;
    assert_eq!(s, StatusCode::OK);
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "payout").count(), 2, "{ledger:?}");
    let (_, st) = app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&shop.owner)).await;
    assert_eq!(st["test_mode"][0]["payouts"], 0, "{st}");
    // Its failure overtaking its payment: booked and returned at once, the late `paid` is a no-op.
    let mut early = payout.clone();
    early["id"] = json!(format!("{po}_early"));
    for (evt, kind) in [("evt_early_failed", "payout.failed"), ("evt_early_paid", "payout.paid")] {
        let (s, _) = signed_webhook(&app, &stripe_event(&format!("{evt}_{po}"), kind, early.clone())).await;
        assert_eq!(s, StatusCode::OK);
    }
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "payout").count(), 4, "{ledger:?}");
    let (_, st) = app.get(&format!("/api/payments/settlement?org_id={}", shop.org), Some(&shop.owner)).await;
    assert_eq!(st["test_mode"][0]["payouts"], 0, "{st}");

    // With a second organization on the same Stripe account, a payout cannot be split.
    let other = shop_on_stripe(&app, "o2@payout.org").await;
    let mut second = payout.clone();
    second["id"] = json!(format!("{po}_2"));
    let (s, _) = signed_webhook(&app, &stripe_event(&format!("evt_two_{po}"), "payout.paid", second)).await;
    assert_eq!(s, StatusCode::OK);
    for (owner, org, before) in [(&shop.owner, &shop.org, 4), (&other.owner, &other.org, 0)] {
        let n = assert_ledger_balances(&app, owner, org).await.iter().filter(|t| t["kind"] == "payout").count();
        assert_eq!(n, before, "an unattributable payout is booked nowhere");
    }
}

async fn shop_on_stripe(app: &TestApp, email: &str) -> Shop {
    let s = shop(app, email, 1000, 5).await;
    use_stripe(app, &s).await;
    s
}

/// Waits until every outbox event is dispatched and every job due now has run (hold
/// expiries wait for their time and do not count), so "nothing else happened" can be
/// asserted.
async fn quiet(app: &TestApp) {
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    eventually("the outbox and the jobs to settle", || async {
        let (pending,): (i64,) = kernel::read!(&db, |c| sqlx::query_as(
            "SELECT CAST((SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL) + \
             (SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running') AND kind <> 'ticketing.expire_hold') AS BIGINT)"
        )
        .fetch_one(c)
        .await)
        .unwrap();
        pending == 0
    })
    .await;
    db.close().await;
}

/// Makes a registered user a platform administrator; their new access token.
async fn promote(app: &TestApp, email: &str) -> String {
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    kernel::tx!(&mut tx, |c| sqlx::query("UPDATE users SET platform_admin = TRUE WHERE email = $1")
        .bind(email)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    let (s, body) = app.post("/api/auth/login", None, json!({"email": email, "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn stripe_connect_accounts_carry_payments_refunds_and_payouts() {
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let shop = shop(&app, "o@connect.org", 2500, 5).await;
    use_stripe(&app, &shop).await;
    let settings = format!("/api/orgs/{}/payment-settings", shop.org);

    // Organization admins may not connect an account; platform administrators do.
    let (s, e) = app.put(&settings, Some(&shop.owner), json!({"stripe_account": "acct_1Nightshift"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let admin = promote(&app, "o@connect.org").await;
    for bad in ["acct_", "cus_123", "acct_12 34"] {
        let (s, e) = app.put(&settings, Some(&admin), json!({"stripe_account": bad})).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("stripe_account")), "{bad}: {e}");
    }
    let (s, v) = app.put(&settings, Some(&admin), json!({"stripe_account": "acct_1Nightshift"})).await;
    assert_eq!((s, v["stripe_account"].as_str()), (StatusCode::OK, Some("acct_1Nightshift")), "{v}");
    let (s, org2) = app.post("/api/orgs", Some(&admin), json!({"name": "Second stage"})).await;
    assert_eq!(s, StatusCode::CREATED, "{org2}");
    let (s, e) = app
        .put(
            &format!("/api/orgs/{}/payment-settings", org2["id"].as_str().unwrap()),
            Some(&admin),
            json!({"provider": "stripe", "stripe_account": "acct_1Nightshift"}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("stripe_account_taken")), "{e}");

    // A payment and its refund are made on the connected account.
    let (bid, token) = book(&app, &shop, 1, "fan@connect.org").await;
    let (s, p) =
        process(&app, None, "cn-1", json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": "pm_ok"}))
            .await;
    assert_eq!((s, p["status"].as_str()), (StatusCode::CREATED, Some("succeeded")), "{p}");
    let intent = double.seen("/v1/payment_intents").pop().unwrap();
    assert_eq!(intent.stripe_account.as_deref(), Some("acct_1Nightshift"));
    wait_booking_status(&app, &bid, &token, "confirmed").await;
    // The organization changes its settings later: the refund still goes to the payment's account.
    let (s, _) = app.put(&settings, Some(&admin), json!({"stripe_account": ""})).await;
    assert_eq!(s, StatusCode::OK);
    let pid = p["id"].as_str().unwrap();
    let (s, _) = app.post(&format!("/api/payments/{pid}/refund"), Some(&shop.owner), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    eventually("the refund", || async { payment(&app, &shop.owner, pid).await["status"] == "refunded" }).await;
    let refund = double.seen("/v1/refunds").pop().unwrap();
    assert_eq!(refund.stripe_account.as_deref(), Some("acct_1Nightshift"));
    let (s, _) = app.put(&settings, Some(&admin), json!({"stripe_account": "acct_1Nightshift"})).await;
    assert_eq!(s, StatusCode::OK);

    // Payouts: a connected account's goes to its organization, although another one takes
    // payments on the server's own account; the server account's goes to that one.
    let other = shop_on_stripe(&app, "o2@connect.org").await;
    let payout =
        |id: &str, amount: i64| json!({"id": id, "object": "payout", "amount": amount, "currency": "eur", "status": "paid"});
    let mut connected = stripe_event("evt_po_c1", "payout.paid", payout("po_c1", 7000));
    connected["account"] = json!("acct_1Nightshift");
    let mut unknown = stripe_event("evt_po_u1", "payout.paid", payout("po_u1", 100));
    unknown["account"] = json!("acct_1Nobody");
    for e in [connected, stripe_event("evt_po_p1", "payout.paid", payout("po_p1", 3000)), unknown] {
        let (s, a) = signed_webhook(&app, &e).await;
        assert_eq!(s, StatusCode::OK, "{a}");
    }
    let payouts = |ledger: Vec<Value>| -> Vec<String> {
        ledger.iter().filter(|t| t["kind"] == "payout").map(|t| t["memo"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(payouts(assert_ledger_balances(&app, &shop.owner, &shop.org).await), ["payout po_c1"]);
    assert_eq!(payouts(assert_ledger_balances(&app, &other.owner, &other.org).await), ["payout po_p1"]);
}

#[tokio::test]
async fn test_provider_subscriptions_create_and_cancel() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@tsub.org", 1000, 5).await;
    let (s, sub) = app
        .post(
            "/api/payments/subscription",
            Some(&shop.owner),
            json!({"org_id": shop.org, "customer_email": "m@tsub.org",
            "name": "Season pass", "amount": 15000, "currency": "eur", "interval": "year", "payment_method": "4242424242424242"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    assert_eq!(
        (sub["status"].as_str(), sub["test_mode"].as_bool(), sub["currency"].as_str()),
        (Some("active"), Some(true), Some("EUR"))
    );
    let (s, c) = app
        .post(&format!("/api/payments/subscription/{}/cancel", sub["id"].as_str().unwrap()), Some(&shop.owner), json!({}))
        .await;
    assert_eq!((s, c["status"].as_str()), (StatusCode::OK, Some("canceled")));
    let (s, d) = app
        .post(
            "/api/payments/subscription",
            Some(&shop.owner),
            json!({"org_id": shop.org, "customer_email": "m@tsub.org",
            "name": "Season pass", "amount": 15000, "currency": "EUR", "interval": "year", "payment_method": "4000000000000002"}),
        )
        .await;
    assert_eq!((s, d["code"].as_str()), (StatusCode::CONFLICT, Some("card_declined")), "{d}");
    // The first year's invoice is a payment of its own, in the ledger with its fee.
    let invoices = subscription_payments(&app, &shop, sub["id"].as_str().unwrap()).await;
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    let inv = &invoices[0];
    assert_eq!(
        (inv["flow"].as_str(), inv["status"].as_str(), inv["amount"].as_i64()),
        (Some("subscription"), Some("succeeded"), Some(15000))
    );
    assert_eq!((inv["test_mode"].as_bool(), inv["fee"].as_i64()), (Some(true), Some(250)));
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    let kinds: Vec<&str> = ledger.iter().filter(|t| t["payment_id"] == inv["id"]).map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2, "charge and fee: {ledger:?}");
    assert!(kinds.contains(&"charge") && kinds.contains(&"fee"));
    // Members see it; it cannot be paid again through process.
    let (s, e) = process(&app, Some(&shop.owner), "sub-1", json!({"reference": inv["reference"]})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
}

/// The payments of a subscription's invoices.
async fn subscription_payments(app: &TestApp, shop: &Shop, id: &str) -> Vec<Value> {
    let (s, h) =
        app.get(&format!("/api/payments/history?org_id={}&reference=subscription:{id}", shop.org), Some(&shop.owner)).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    h["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn concurrent_payments_for_one_booking_charge_once() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "o@race.org", 3000, 5).await;
    let (bid, token) = book(&app, &shop, 1, "fan@race.org").await;
    let body = json!({"reference": format!("booking:{bid}"), "token": token, "payment_method": "4242424242424242"});
    let results = futures::future::join_all((0..8).map(|i| {
        let body = body.clone();
        let app = &app;
        async move { process(app, None, &format!("race-{i}"), body).await }
    }))
    .await;
    let ok: Vec<_> = results.iter().filter(|(s, p)| *s == StatusCode::CREATED && p["status"] == "succeeded").collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    assert!(
        results.iter().filter(|(s, _)| *s != StatusCode::CREATED).all(|(s, p)| *s == StatusCode::CONFLICT
            && ["already_paid", "payment_in_progress"].contains(&p["code"].as_str().unwrap_or_default())),
        "{results:?}"
    );
    let b = wait_booking_status(&app, &bid, &token, "confirmed").await;
    assert_eq!(b["tickets"].as_array().unwrap().len(), 1);
    let ledger = assert_ledger_balances(&app, &shop.owner, &shop.org).await;
    assert_eq!(ledger.iter().filter(|t| t["kind"] == "charge").count(), 1);
}
