//! Payments through Stripe over HTTP against a local Stripe-format double: webhooks
//! (signatures, replays, concurrent duplicates, out of order, dashboard refunds), refund
//! retries, checkout sessions, reconciliation and interrupted attempts (a process killed
//! mid-charge). Full flows against localstripe are in `localstripe.rs`. Every test checks that
//! the ledger balances.

mod common;

use std::time::Duration;

use common::TestApp;
use common::payments::*;
use common::sales::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
