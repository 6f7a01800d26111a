//! Shorthands for the payments tests (tests/payments.rs, tests/stripe.rs): a shop with a
//! published event and one ticket type, bookings and card payments, the ledger invariant,
//! signed Stripe webhooks, and a local server speaking Stripe's wire format.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::TestApp;

pub const WHSEC: &str = "whsec_test_current_secret";
pub const WHSEC_OLD: &str = "whsec_test_previous_secret";

// ---- helpers --------------------------------------------------------------------------------

pub struct Shop {
    pub owner: String,
    pub org: String,
    pub event: String,
    pub ticket_type: String,
    pub quota: String,
}

/// An organization with a published event and a ticket type at `price` cents (EUR) with
/// `capacity` seats.
pub async fn shop(app: &TestApp, email: &str, price: i64, capacity: i64) -> Shop {
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
pub async fn book(app: &TestApp, shop: &Shop, qty: i64, email: &str) -> (String, String) {
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
pub async fn process(app: &TestApp, token: Option<&str>, key: &str, body: Value) -> (StatusCode, Value) {
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
pub async fn pay_by_card(app: &TestApp, bid: &str, token: &str, key: &str) -> (Value, Value) {
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

pub async fn booking(app: &TestApp, id: &str, token: &str) -> Value {
    let (s, b) = app.get(&format!("/api/bookings/{id}?token={token}"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

pub async fn quota_taken(app: &TestApp, shop: &Shop) -> i64 {
    let (_, qs) = app.get(&format!("/api/events/{}/quotas", shop.event), Some(&shop.owner)).await;
    qs.as_array().unwrap().iter().find(|q| q["id"] == shop.quota.as_str()).unwrap()["taken"].as_i64().unwrap()
}

pub async fn wait_booking_status(app: &TestApp, id: &str, token: &str, status: &str) -> Value {
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

pub async fn payment(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, p) = app.get(&format!("/api/payments/{id}"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    p
}

/// The ledger invariant: every transaction's lines sum to zero, in its currency. Returns
/// the transactions.
pub async fn assert_ledger_balances(app: &TestApp, token: &str, org: &str) -> Vec<Value> {
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

pub fn sign(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", payments::domain::stripe_signature(secret.as_bytes(), t, body.as_bytes()))
}

pub async fn webhook(app: &TestApp, signature: Option<&str>, body: &str) -> (StatusCode, Value) {
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

pub async fn signed_webhook(app: &TestApp, event: &Value) -> (StatusCode, Value) {
    let body = event.to_string();
    let t = chrono::Utc::now().timestamp();
    webhook(app, Some(&sign(WHSEC, t, &body)), &body).await
}

pub fn stripe_event(id: &str, kind: &str, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": chrono::Utc::now().timestamp(), "livemode": false,
           "data": {"object": object}})
}

// ---- a local Stripe-format double ------------------------------------------------------------

/// What the double saw: path, Idempotency-Key, Stripe-Version, form fields.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
    pub stripe_account: Option<String>,
    pub form: HashMap<String, String>,
}

#[derive(Default)]
pub struct DoubleState {
    pub seen: Vec<Seen>,
    pub intents: HashMap<String, Value>,
    /// Refunds made outside the app (the dashboard), by charge: `GET /v1/refunds?charge=`.
    pub charge_refunds: HashMap<String, Vec<Value>>,
    pub fail_refunds: bool,
    /// The next PaymentIntent create answers only after this long, as if the connection had
    /// hung; `hang_creates`: whether the intent is made meanwhile (else the answer is a 500).
    pub hang: Option<(Duration, bool)>,
    pub next: u64,
}

/// A local HTTP server speaking Stripe's wire format for the parts these tests need:
/// PaymentIntents (create, retrieve), Refunds (optionally failing with 500), Checkout
/// Sessions. Payment method `pm_ok` succeeds, `pm_processing` stays processing,
/// `pm_action` requires action.
pub struct StripeDouble {
    pub url: String,
    pub state: Arc<Mutex<DoubleState>>,
}

impl StripeDouble {
    pub async fn start() -> StripeDouble {
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

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.state.lock().unwrap().seen.iter().filter(|s| s.path == path).cloned().collect()
    }

    pub fn set_intent_status(&self, id: &str, status: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(pi) = st.intents.get_mut(id) {
            pi["status"] = json!(status);
        }
    }
}

pub fn stripe_config(base: &str, attempts: i64) -> Value {
    json!({"payments": {"stripe_api_key": "sk_test_backline_double", "stripe_base_url": base,
                        "stripe_webhook_secrets": [WHSEC_OLD, WHSEC], "refund_max_attempts": attempts}})
}

pub async fn use_stripe(app: &TestApp, shop: &Shop) {
    let (s, v) =
        app.put(&format!("/api/orgs/{}/payment-settings", shop.org), Some(&shop.owner), json!({"provider": "stripe"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["provider"], "stripe");
}

/// Waits until every outbox event is dispatched and every job due now has run (hold
/// expiries and event reminders wait for their time and do not count), so "nothing else
/// happened" can be asserted.
pub async fn quiet(app: &TestApp) {
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    super::sales::eventually("the outbox and the jobs to settle", || async {
        let (pending,): (i64,) = kernel::read!(&db, |c| sqlx::query_as(
            "SELECT CAST((SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL) + \
             (SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running') AND kind NOT IN ('ticketing.expire_hold', 'messaging.reminder')) AS BIGINT)"
        )
        .fetch_one(c)
        .await)
        .unwrap();
        pending == 0
    })
    .await;
    db.close().await;
}

/// The payments of a subscription's invoices.
pub async fn subscription_payments(app: &TestApp, shop: &Shop, id: &str) -> Vec<Value> {
    let (s, h) =
        app.get(&format!("/api/payments/history?org_id={}&reference=subscription:{id}", shop.org), Some(&shop.owner)).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    h["items"].as_array().unwrap().clone()
}

/// Makes the user with `email` a platform administrator and signs them in again, so the
/// new access token carries the flag (payout and dead-letter routes need it).
pub async fn promote(app: &TestApp, email: &str) -> String {
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
