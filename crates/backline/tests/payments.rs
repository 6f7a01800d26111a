//! Payments over HTTP with the test provider: success, decline, insufficient funds,
//! authentication, refunds (partial, full, above what was paid, of single tickets), offline
//! payments, the order ↔ payment state machine (late success after hold expiry, both ways),
//! subscriptions and concurrent attempts. Stripe is in tests/stripe.rs. Every test checks
//! that the ledger balances.

mod common;

use common::TestApp;
use common::payments::*;
use common::sales::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
