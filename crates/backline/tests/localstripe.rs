//! Payments through Stripe's real wire format: full flows against localstripe (a
//! Stripe-compatible server, started here when installed) — pay, webhook, confirm, refund,
//! decline, subscriptions, payouts — and Connect accounts against the Stripe double. Every
//! test checks that the ledger balances.

mod common;

use std::time::Duration;

use common::TestApp;
use common::payments::*;
use common::sales::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
