//! Ticketing inventory over HTTP, under concurrency: sold-out answers leave nothing locked,
//! rushes never oversell (also with two app instances on one PostgreSQL database), voucher
//! use limits and per-buyer caps hold, expired holds free their seats.

mod common;

use std::collections::HashSet;

use common::TestApp;
use common::sales::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_sold_out_answer_leaves_nothing_locked_behind() {
    // The booking writer keeps its connection between batches. A booking that finds no room
    // has already counted its buyer (a row lock on the buyer's counter) when the quota says
    // no; its transaction must be rolled back now, not when the next booking comes, or the
    // buyer's cancellation below waits for a booking that never comes.
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@locks.org").await;
    let one = ticket_type(&app, &owner, &event, json!({"name": "Last", "price": 0, "currency": "EUR", "capacity": 1})).await;
    let req = booking(&event, json!([{"ticket_type_id": id(&one), "quantity": 1}]), "same@locks.org");
    let first = book(&app, req.clone()).await;
    let (s, p) = app.post("/api/bookings", None, req).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("sold_out")), "{p}");
    let path = format!("/api/bookings/{}?token={}", id(&first), first["booking_token"].as_str().unwrap());
    let (s, c) = tokio::time::timeout(std::time::Duration::from_secs(5), app.delete(&path, None))
        .await
        .expect("the cancellation waited for a lock the sold-out booking kept");
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "cancelled");
    assert_eq!(quota_taken(&app, &owner, &event, one["quota_ids"][0].as_str().unwrap()).await, 0);
}

/// `buyers` concurrent anonymous buyers of one ticket each, spread over `bases` (app
/// instances) and `types`. Returns (confirmed booking ids, sold-out count).
async fn rush(client: &reqwest::Client, bases: &[String], event: &str, types: &[String], buyers: usize) -> (Vec<String>, usize) {
    let mut tasks = Vec::with_capacity(buyers);
    for i in 0..buyers {
        let client = client.clone();
        let url = format!("{}/api/bookings", bases[i % bases.len()]);
        let body =
            booking(event, json!([{"ticket_type_id": types[i % types.len()], "quantity": 1}]), &format!("buyer{i}@rush.org"));
        tasks.push(tokio::spawn(async move {
            let resp = client.post(url).json(&body).send().await.expect("request");
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, body)
        }));
    }
    let mut confirmed = Vec::new();
    let mut sold_out = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => {
                assert_eq!(body["status"], "confirmed");
                assert_eq!(body["tickets"].as_array().unwrap().len(), 1, "{body}");
                confirmed.push(id(&body));
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "sold_out", "{body}");
                sold_out += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    (confirmed, sold_out)
}

/// After a rush: exactly `capacity` sold, and every confirmed booking has exactly its ticket.
async fn check_sold_exactly(app: &TestApp, owner: &str, event: &str, quota: &str, confirmed: &[String], capacity: i64) {
    assert_eq!(confirmed.len() as i64, capacity);
    assert_eq!(quota_taken(app, owner, event, quota).await, capacity);
    let (_, stats) = app.get(&format!("/api/bookings/stats?event_id={event}"), Some(owner)).await;
    let sold: i64 = stats["ticket_types"].as_array().unwrap().iter().map(|t| t["sold"].as_i64().unwrap()).sum();
    assert_eq!(sold, capacity, "{stats}");
    let mut codes = HashSet::new();
    for b in confirmed {
        let (s, body) = app.get(&format!("/api/bookings/{b}"), Some(owner)).await;
        assert_eq!(s, StatusCode::OK);
        let tickets = body["tickets"].as_array().unwrap();
        assert_eq!(tickets.len() as i64, body["quantity"].as_i64().unwrap());
        for t in tickets {
            assert!(codes.insert(t["code"].as_str().unwrap().to_string()), "ticket codes are unique");
        }
    }
    assert_eq!(codes.len() as i64, capacity);
}

#[tokio::test]
async fn a_rush_of_500_buyers_for_100_seats_never_oversells() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@rush.org").await;
    let mut types = Vec::new();
    for name in ["Early", "Regular", "Late"] {
        types.push(id(&ticket_type(&app, &owner, &event, json!({"name": name, "price": 0, "currency": "EUR"})).await));
    }
    let q = quota(&app, &owner, &event, json!({"name": "House", "capacity": 100, "ticket_type_ids": types})).await;
    let (confirmed, sold_out) = rush(&app.client, std::slice::from_ref(&app.base), &event, &types, 500).await;
    assert_eq!(sold_out, 400);
    check_sold_exactly(&app, &owner, &event, &id(&q), &confirmed, 100).await;
}

#[tokio::test]
async fn two_instances_on_one_postgres_database_never_oversell() {
    if !common::is_postgres() {
        eprintln!("TEST_DATABASE_URL not set: the two-instance rush runs in the PostgreSQL pass");
        return;
    }
    let app = TestApp::spawn().await;
    // A second Backline process-equivalent on the same database.
    let config = kernel::Config::from_overrides(json!({
        "data_dir": app.dir.path().join("second"),
        "database": { "url": app.database_url, "max_connections": 8 },
        "auth": { "argon2_memory_kib": 64, "jwt_keys": [{ "kid": "test-1", "secret": "test-secret-that-is-long-enough-0123456789" }] },
        "jobs": { "poll_interval_ms": 25 },
        "rate_limit": { "per_ip_per_min": 100000, "per_user_per_min": 100000 },
        "log": { "level": "warn" },
    }))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(backline::run(config, listener, shutdown.clone()));
    eventually("the second instance", || async { app.client.get(format!("{second}/healthz")).send().await.is_ok() }).await;

    let (owner, _, event) = published_event(&app, "o@two.org").await;
    let mut types = Vec::new();
    for name in ["Early", "Regular", "Late"] {
        types.push(id(&ticket_type(&app, &owner, &event, json!({"name": name, "price": 0, "currency": "EUR"})).await));
    }
    let q = quota(&app, &owner, &event, json!({"name": "House", "capacity": 100, "ticket_type_ids": types})).await;
    let (confirmed, sold_out) = rush(&app.client, &[app.base.clone(), second.clone()], &event, &types, 500).await;
    assert_eq!(sold_out, 400);
    check_sold_exactly(&app, &owner, &event, &id(&q), &confirmed, 100).await;
    // Cancelling through one instance frees a seat the other can sell.
    let (s, _) = app.delete(&format!("/api/bookings/{}", confirmed[0]), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = app
        .client
        .post(format!("{second}/api/bookings"))
        .json(&booking(&event, json!([{"ticket_type_id": types[0], "quantity": 1}]), "late@two.org"))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(s, StatusCode::CREATED, "{:?}", b.text().await);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn voucher_max_uses_hold_under_concurrency_and_come_back_on_cancel() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@vouch.org").await;
    let ga = ticket_type(&app, &owner, &event, json!({"name": "GA", "price": 2000, "currency": "EUR", "capacity": 1000})).await;
    let hidden = ticket_type(
        &app,
        &owner,
        &event,
        json!({"name": "Backstage", "price": 9000, "currency": "EUR", "capacity": 5, "visibility": "hidden"}),
    )
    .await;
    let (s, v) = app
        .post(
            &format!("/api/events/{event}/vouchers"),
            Some(&owner),
            json!({"code": "Half-Off", "percent_off": 50, "max_uses": 5, "unlock_ticket_type_ids": [id(&hidden)]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, dup) = app
        .post(
            &format!("/api/events/{event}/vouchers"),
            Some(&owner),
            json!({"code": "half-off", "amount_off": 100, "currency": "EUR"}),
        )
        .await;
    assert_eq!((s, dup["code"].as_str()), (StatusCode::CONFLICT, Some("voucher_code_taken")), "codes ignore case");

    // The hidden type shows up with the code only.
    let (_, listed) = app.get(&format!("/api/events/{event}/ticket-types"), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, listed) = app.get(&format!("/api/events/{event}/ticket-types?voucher=HALF-OFF"), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (s, p) = app
        .post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&hidden), "quantity": 1}]), "x@v.org"))
        .await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("positions[0].ticket_type_id")), "{p}");

    // 40 buyers race for 5 uses.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = app.client.clone();
        let url = app.url("/api/bookings");
        let mut body = booking(&event, json!([{"ticket_type_id": id(&ga), "quantity": 1}]), &format!("b{i}@v.org"));
        body["voucher_code"] = json!("half-off");
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            StatusCode::CREATED => {
                assert_eq!((body["total"].as_i64(), body["discount"].as_i64()), (Some(1000), Some(1000)));
                assert_eq!(body["voucher_code"], "Half-Off");
                won.push(body);
            }
            StatusCode::CONFLICT => assert_eq!(body["code"], "voucher_used_up", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(won.len(), 5);
    let (_, vs) = app.get(&format!("/api/events/{event}/vouchers"), Some(&owner)).await;
    assert_eq!(vs["items"][0]["uses"], 5);
    // Seats the losers tried to take were rolled back with them.
    let (_, listed) = app.get(&format!("/api/events/{event}/ticket-types"), None).await;
    assert_eq!(listed[0]["available"], 995);

    // max_uses cannot drop below the uses; a cancelled booking gives its use back.
    let (s, p) = app.put(&format!("/api/vouchers/{}", id(&v)), Some(&owner), json!({"max_uses": 4})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("voucher_in_use")));
    let token = won[0]["booking_token"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/bookings/{}?token={token}", id(&won[0])), None).await.0, StatusCode::OK);
    let mut body = booking(&event, json!([{"ticket_type_id": id(&hidden), "quantity": 1}]), "late@v.org");
    body["voucher_code"] = json!("HALF-OFF");
    let (s, b) = app.post("/api/bookings", None, body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["total"], 4500, "unlocked and discounted");
    let (s, p) = app.delete(&format!("/api/vouchers/{}", id(&v)), Some(&owner)).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("voucher_in_use")));

    // A fixed voucher takes its amount once, never below zero; a voucher in its window only.
    let (s, _) = app
        .post(
            &format!("/api/events/{event}/vouchers"),
            Some(&owner),
            json!({"code": "TENNER", "amount_off": 1000, "currency": "EUR", "ticket_type_ids": [id(&ga)]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut body = booking(&event, json!([{"ticket_type_id": id(&ga), "quantity": 3}]), "f@v.org");
    body["voucher_code"] = json!("tenner");
    let (_, b) = app.post("/api/bookings", None, body).await;
    assert_eq!(
        (b["subtotal"].as_i64(), b["discount"].as_i64(), b["total"].as_i64()),
        (Some(6000), Some(1000), Some(5000)),
        "{b}"
    );
    let (s, _) = app
        .post(
            &format!("/api/events/{event}/vouchers"),
            Some(&owner),
            json!({"code": "LATER", "percent_off": 10, "valid_from": "2029-01-01T00:00:00Z", "valid_until": "2040-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut body = booking(&event, json!([{"ticket_type_id": id(&ga), "quantity": 1}]), "g@v.org");
    body["voucher_code"] = json!("later");
    let (s, p) = app.post("/api/bookings", None, body).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("voucher_code")), "{p}");
}

#[tokio::test]
async fn expired_holds_free_their_seats() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@hold.org").await;
    let s = settings(&app, &owner, &event, json!({"hold_seconds": 1})).await;
    assert_eq!((s["hold_seconds"].as_i64(), s["waitlist_offer_hours"].as_i64()), (Some(1), Some(24)));
    assert_eq!(s["waitlist_tiers"], json!(["vip", "standard"]));
    let t = ticket_type(&app, &owner, &event, json!({"name": "GA", "price": 3000, "currency": "EUR", "capacity": 2})).await;
    let q = t["quota_ids"][0].as_str().unwrap().to_string();
    let (s, first) =
        app.post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 2}]), "h@hold.org")).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let (s, p) =
        app.post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 1}]), "i@hold.org")).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("sold_out")));

    // The hold runs out: the job expires the booking and the seats come back.
    let bid = id(&first);
    eventually("the hold to expire", || async {
        app.get(&format!("/api/bookings/{bid}"), Some(&owner)).await.1["status"] == "expired"
    })
    .await;
    assert_eq!(quota_taken(&app, &owner, &event, &q).await, 0);
    let (_, expired) = app.get(&format!("/api/bookings/{bid}"), Some(&owner)).await;
    assert!(expired["expired_at"].is_string());
    let (s, second) =
        app.post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 1}]), "j@hold.org")).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    // Expired, but staff can still mark it paid if its seats are free — they are not (1 of
    // 2 is held again, the booking needs 2).
    let (s, p) = app.post(&format!("/api/bookings/{bid}/mark-paid"), Some(&owner), json!({})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("sold_out")), "{p}");
    // Cancel the second; now the late payment goes through and re-takes the seats.
    let token = second["booking_token"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/bookings/{}?token={token}", id(&second)), None).await.0, StatusCode::OK);
    let (s, paid) = app.post(&format!("/api/bookings/{bid}/mark-paid"), Some(&owner), json!({"reference": "late"})).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(paid["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(quota_taken(&app, &owner, &event, &q).await, 2);
    // Cancelled and expired bookings cannot be changed.
    let (s, p) = app.put(&format!("/api/bookings/{}?token={token}", id(&second)), None, json!({"buyer_name": "X"})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("booking_closed")));
}

#[tokio::test]
async fn the_per_buyer_cap_holds_under_concurrency() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@cap.org").await;
    settings(&app, &owner, &event, json!({"max_tickets_per_buyer": 4})).await;
    let t = ticket_type(&app, &owner, &event, json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": 100})).await;
    let (s, p) =
        app.post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 5}]), "s@cap.org")).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("buyer_limit")));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = app.client.clone();
        let url = app.url("/api/bookings");
        // The same buyer, spelled in different cases.
        let email = if i % 2 == 0 { "Scalper@Cap.org" } else { "scalper@cap.org" };
        let body = booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 1}]), email);
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut ok = Vec::new();
    for task in tasks {
        let (s, body) = task.await.unwrap();
        match s {
            StatusCode::CREATED => ok.push(body),
            StatusCode::CONFLICT => assert_eq!(body["code"], "buyer_limit", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(ok.len(), 4);
    // Cancelling one frees room for that buyer again; changing the email moves the count.
    let token = ok[0]["booking_token"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/bookings/{}?token={token}", id(&ok[0])), None).await.0, StatusCode::OK);
    let (s, b) = app
        .post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 1}]), "scalper@cap.org"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let token = ok[1]["booking_token"].as_str().unwrap();
    let (s, moved) =
        app.put(&format!("/api/bookings/{}?token={token}", id(&ok[1])), None, json!({"buyer_email": "friend@cap.org"})).await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    let (s, b) = app
        .post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 1}]), "scalper@cap.org"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}
