//! The waitlist over HTTP: joining (validation, tiers, tenancy), offers made when seats free
//! up (cancellation, hold or offer expiry, capacity raised), accept/decline/leave, tier and
//! FIFO order, and offers under concurrency never overselling nor offering an entry twice.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::TestApp;
use common::sales::{eventually, id, new_event, published_event, settings, ticket_type};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Books `quantity` of `ticket_type` anonymously; returns the booking (with its token).
async fn book(app: &TestApp, event: &str, ticket_type: &str, email: &str, quantity: i64) -> Value {
    let body = json!({"event_id": event, "positions": [{"ticket_type_id": ticket_type, "quantity": quantity}],
                      "buyer_email": email, "buyer_name": "Buyer"});
    let (s, b) = app.post("/api/bookings", None, body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

async fn cancel(app: &TestApp, booking: &Value) {
    let token = booking["booking_token"].as_str().unwrap();
    let (s, b) = app.delete(&format!("/api/bookings/{}?token={token}", id(booking)), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// Joins anonymously; returns (entry id, waitlist token).
async fn join(app: &TestApp, event: &str, body: Value) -> (String, String) {
    let (s, e) = app.post(&format!("/api/events/{event}/waitlist"), None, body).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    (id(&e), e["waitlist_token"].as_str().unwrap().to_string())
}

async fn quota(app: &TestApp, token: &str, event: &str, quota: &str) -> Value {
    let (s, qs) = app.get(&format!("/api/events/{event}/quotas"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{qs}");
    qs.as_array().unwrap().iter().find(|q| q["id"] == quota).unwrap().clone()
}

async fn entry(app: &TestApp, token: &str, entry: &str) -> Value {
    let (s, e) = app.get(&format!("/api/waitlist/{entry}"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    e
}

async fn wait_status(app: &TestApp, token: &str, e: &str, status: &str) -> Value {
    eventually(&format!("entry {e} to be {status}"), || async { entry(app, token, e).await["status"] == status }).await;
    entry(app, token, e).await
}

/// Every booking of the event (all pages).
async fn all_bookings(app: &TestApp, token: &str, event: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/events/{event}/bookings?limit=100&cursor={c}"),
            None => format!("/api/events/{event}/bookings?limit=100"),
        };
        let (s, page) = app.get(&path, Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// Every entry of the event's waitlist in one status, in queue order (all pages).
async fn waitlist(app: &TestApp, token: &str, event: &str, status: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/events/{event}/waitlist?status={status}&limit=7&cursor={c}"),
            None => format!("/api/events/{event}/waitlist?status={status}&limit=7"),
        };
        let (s, page) = app.get(&path, Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// Outbox payloads of `topic`, read straight from the app's database.
async fn outbox(app: &TestApp, topic: &str) -> Vec<Value> {
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    let rows: Vec<(sqlx::types::Json<Value>,)> =
        kernel::read!(&db, |c| sqlx::query_as("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id")
            .bind(topic)
            .fetch_all(c)
            .await)
        .unwrap();
    db.close().await;
    rows.into_iter().map(|r| r.0.0).collect()
}

#[tokio::test]
async fn joining_validates_input_tiers_and_tenancy() {
    let app = TestApp::spawn().await;
    let (owner, org, event) = published_event(&app, "o@wl-join.org").await;
    let staff = app.member(&owner, &org, "staff@wl-join.org", "staff").await;
    let viewer = app.member(&owner, &org, "viewer@wl-join.org", "viewer").await;
    let draft = new_event(&app, &owner, &org, "draft").await;
    let other_event = new_event(&app, &owner, &org, "published").await;
    let ga = ticket_type(
        &app,
        &owner,
        &event,
        json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": 2, "max_per_order": 4}),
    )
    .await;
    let elsewhere =
        ticket_type(&app, &owner, &other_event, json!({"name": "Else", "price": 0, "currency": "EUR", "capacity": 0})).await;
    let ga_id = id(&ga);
    let path = format!("/api/events/{event}/waitlist");

    // Tickets left: book them instead.
    let (s, p) = app.post(&path, None, json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A"})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("tickets_available")), "{p}");
    book(&app, &event, &ga_id, "early@fans.org", 2).await;

    let nil = "00000000-0000-7000-8000-000000000000";
    let cases = [
        (json!({"email": "a@fans.org", "name": "A"}), "ticket_type_id"),
        (json!({"ticket_type_id": ga_id, "session_id": nil, "email": "a@fans.org", "name": "A"}), "session_id"),
        (json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A", "quantity": 0}), "quantity"),
        (json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A", "quantity": 11}), "quantity"),
        (json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A", "quantity": 5}), "quantity"),
        (json!({"ticket_type_id": ga_id, "email": "not-an-email", "name": "A"}), "email"),
        (json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "  "}), "name"),
        (json!({"ticket_type_id": ga_id, "email": "a@fans.org"}), "name"),
        (json!({"ticket_type_id": nil, "email": "a@fans.org", "name": "A"}), "ticket_type_id"),
        (json!({"ticket_type_id": id(&elsewhere), "email": "a@fans.org", "name": "A"}), "ticket_type_id"),
        (json!({"ticket_type_id": "not-a-uuid", "email": "a@fans.org", "name": "A"}), "ticket_type_id"),
        (json!({"session_id": nil, "email": "a@fans.org", "name": "A"}), "session_id"),
        (json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A", "tier": "vip"}), "tier"),
    ];
    for (body, field) in cases {
        let (s, p) = app.post(&path, None, body.clone()).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body} → {p}");
    }
    let (s, p) =
        app.post(&path, Some(&staff), json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A", "tier": "gold"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("tier")), "{p}");
    let unknown = format!("/api/events/{nil}/waitlist");
    assert_eq!(
        app.post(&unknown, None, json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A"})).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, _) = app
        .post(
            &format!("/api/events/{draft}/waitlist"),
            None,
            json!({"ticket_type_id": ga_id, "email": "a@fans.org", "name": "A"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The public joins the last tier, anonymously with a token.
    let (s, a) =
        app.post(&path, None, json!({"ticket_type_id": ga_id, "email": "Ann@Fans.org", "name": "Ann", "quantity": 2})).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!((a["status"].as_str(), a["tier"].as_str(), a["position"].as_i64()), (Some("waiting"), Some("standard"), Some(1)));
    assert_eq!(a["email"], "ann@fans.org");
    assert_eq!(a["quantity"], 2);
    let a_token = a["waitlist_token"].as_str().unwrap().to_string();
    let a_id = id(&a);
    let (s, p) = app.post(&path, None, json!({"ticket_type_id": ga_id, "email": "ANN@fans.org", "name": "Ann again"})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("already_waiting")), "{p}");
    // Naming the last tier is fine; a signed-in fan is the entry's owner, without a token.
    let (fan, _) = app.register("fan@wl-join.org").await;
    let (s, b) = app
        .post(&path, Some(&fan), json!({"ticket_type_id": ga_id, "email": "fan@wl-join.org", "name": "Fan", "tier": "Standard"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b.get("waitlist_token").is_none() && b["user_id"].is_string(), "{b}");
    assert_eq!(b["position"], 2);
    // Staff place someone in a tier, on their behalf.
    let (s, c) = app
        .post(&path, Some(&staff), json!({"ticket_type_id": ga_id, "email": "vip@fans.org", "name": "Vip", "tier": "vip"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!((c["tier"].as_str(), c["position"].as_i64()), (Some("vip"), Some(1)));
    assert!(c["user_id"].is_null() && c["waitlist_token"].is_string(), "{c}");

    // Queue order: tier, then join order; positions follow.
    let (s, list) = app.get(&path, Some(&viewer)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let order: Vec<(&str, i64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["position"].as_i64().unwrap()))
        .collect();
    assert_eq!(order, [("Vip", 1), ("Ann", 2), ("Fan", 3)]);
    assert!(list["items"][0].get("token_hash").is_none());
    let (s, p) = app.get(&format!("{path}?limit=0"), Some(&owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")));
    let (s, p) = app.get(&format!("{path}?status=lost"), Some(&owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));

    // Reaching an entry: its person (token or sign-in) and members; nobody else.
    let a_path = format!("/api/waitlist/{a_id}");
    assert_eq!(app.get(&a_path, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("{a_path}?token=nope"), None).await.0, StatusCode::NOT_FOUND);
    let (s, mine) = app.get(&format!("{a_path}?token={a_token}"), None).await;
    assert_eq!((s, mine["position"].as_i64()), (StatusCode::OK, Some(2)), "{mine}");
    assert_eq!(app.get(&format!("/api/waitlist/{}", id(&b)), Some(&fan)).await.0, StatusCode::OK);
    assert_eq!(app.get(&a_path, Some(&fan)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&a_path, Some(&viewer)).await.0, StatusCode::OK);
    let (outsider, _) = app.owner_with_org("x@other.org", "Other").await;
    let c_id = id(&c);
    for (method, p, body) in [
        ("GET", path.clone(), None),
        ("GET", a_path.clone(), None),
        ("PUT", a_path.clone(), Some(json!({"tier": "vip"}))),
        ("DELETE", a_path.clone(), None),
        ("POST", format!("{a_path}/accept"), Some(json!({}))),
        ("POST", format!("{a_path}/decline"), Some(json!({}))),
        ("GET", format!("/api/waitlist/{nil}"), None),
    ] {
        let (s, problem) = app.request(method.parse().unwrap(), &p, Some(&outsider), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {p}: {problem}");
    }
    assert_eq!(app.get(&path, None).await.0, StatusCode::UNAUTHORIZED);

    // Tiers are changed by staff, to one of the event's tiers.
    assert_eq!(app.put(&a_path, Some(&viewer), json!({"tier": "vip"})).await.0, StatusCode::FORBIDDEN);
    let (s, p) = app.put(&a_path, Some(&staff), json!({"tier": "gold"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("tier")), "{p}");
    let (s, moved) = app.put(&a_path, Some(&staff), json!({"tier": "vip"})).await;
    // Ann joined before Vip: same tier now, so Ann is first.
    assert_eq!((s, moved["tier"].as_str(), moved["position"].as_i64()), (StatusCode::OK, Some("vip"), Some(1)), "{moved}");
    let (_, trail) = app.get(&format!("/api/audit/logs/waitlist_entry:{a_id}"), Some(&owner)).await;
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"waitlist_entry.joined") && actions.contains(&"waitlist_entry.updated"), "{actions:?}");

    // Leaving: the person, or staff removing someone; viewers cannot. Leaving twice is a 409;
    // one can join again after leaving.
    assert_eq!(app.delete(&format!("/api/waitlist/{c_id}"), Some(&viewer)).await.0, StatusCode::FORBIDDEN);
    let (s, left) = app.delete(&format!("{a_path}?token={a_token}"), None).await;
    assert_eq!((s, left["status"].as_str()), (StatusCode::OK, Some("left")), "{left}");
    let (s, p) = app.delete(&format!("{a_path}?token={a_token}"), None).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));
    let (s, removed) = app.delete(&format!("/api/waitlist/{c_id}"), Some(&staff)).await;
    assert_eq!((s, removed["status"].as_str()), (StatusCode::OK, Some("left")));
    let (s, again) = app.post(&path, None, json!({"ticket_type_id": ga_id, "email": "ann@fans.org", "name": "Ann"})).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    assert_eq!(again["position"], 2, "behind the fan who stayed");
    // Nothing to accept or decline yet.
    let (s, p) = app.post(&format!("/api/waitlist/{}/accept", id(&b)), Some(&fan), json!({})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("no_offer")));
    let (_, list) = app.get(&path, Some(&owner)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, left_list) = app.get(&format!("{path}?status=left"), Some(&owner)).await;
    assert_eq!(left_list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn offer_chain_offer_expire_next_accept() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@wl-chain.org").await;
    let t = ticket_type(&app, &owner, &event, json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": 2})).await;
    let q = t["quota_ids"][0].as_str().unwrap().to_string();
    let first = book(&app, &event, &id(&t), "b1@fans.org", 1).await;
    book(&app, &event, &id(&t), "b2@fans.org", 1).await;

    // Offers of a few seconds (validated like hold_seconds).
    for (body, field) in [
        (json!({"waitlist_offer_seconds": 0}), "waitlist_offer_seconds"),
        (json!({"waitlist_offer_seconds": 1_209_601}), "waitlist_offer_seconds"),
        (json!({"waitlist_offer_hours": 2, "waitlist_offer_seconds": 5}), "waitlist_offer_seconds"),
        (json!({"waitlist_offer_hours": 0}), "waitlist_offer_hours"),
    ] {
        let (s, p) = app.put(&format!("/api/events/{event}/ticketing-settings"), Some(&owner), body.clone()).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body} → {p}");
    }
    let s = settings(&app, &owner, &event, json!({"waitlist_offer_seconds": 4})).await;
    assert_eq!((s["waitlist_offer_seconds"].as_i64(), s["waitlist_offer_hours"].as_i64()), (Some(4), Some(0)));

    let ga = json!(id(&t));
    let (w1, w1_token) = join(&app, &event, json!({"ticket_type_id": ga, "email": "w1@fans.org", "name": "W One"})).await;
    let (w2, _) = join(&app, &event, json!({"ticket_type_id": ga, "email": "w2@fans.org", "name": "W Two"})).await;

    // A cancellation frees a seat: #1 gets an offer — a pending booking in their name whose
    // hold is the offer's expiry; the seat stays taken (by the offer).
    cancel(&app, &first).await;
    let offered = wait_status(&app, &owner, &w1, "offered").await;
    let bid = offered["booking_id"].as_str().unwrap().to_string();
    let expires: chrono::DateTime<chrono::Utc> = offered["offer_expires_at"].as_str().unwrap().parse().unwrap();
    let (s, b) = app.get(&format!("/api/bookings/{bid}"), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["buyer_email"].as_str(), b["quantity"].as_i64()), (Some("w1@fans.org"), Some(1)));
    let hold: chrono::DateTime<chrono::Utc> = b["hold_expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(hold, expires, "the offer's hold is its expiry");
    assert!(b["status"] == "pending_payment" || b["status"] == "expired", "{b}");
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 2, "the freed seat is held by the offer");
    assert_eq!(entry(&app, &owner, &w2).await["position"], 1);
    // The entry's token reaches it; the offer mail carries the offer token.
    let (s, mine) = app.get(&format!("/api/waitlist/{w1}?token={w1_token}"), None).await;
    assert_eq!((s, mine["booking_id"].as_str()), (StatusCode::OK, Some(bid.as_str())));
    let offer_token = app.wait_for_token("w1@fans.org", "offer-token: ").await;
    assert!(offer_token.len() >= 43);
    let events = outbox(&app, "waitlist.offered").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0]["entry_id"].as_str(), events[0]["booking_id"].as_str()), (Some(w1.as_str()), Some(bid.as_str())));
    assert_eq!(events[0]["email"], "w1@fans.org");
    assert_eq!(events[0]["ticket_type_id"], ga);
    assert!(events[0]["offer_expires_at"].is_string());
    assert!(!events[0].to_string().contains(&offer_token), "no token in events");
    assert_eq!(outbox(&app, "waitlist.joined").await.len(), 2);

    // Later offers are long again; #1 lets theirs expire, so #2 gets the seat.
    settings(&app, &owner, &event, json!({"waitlist_offer_hours": 24})).await;
    wait_status(&app, &owner, &w1, "expired").await;
    let (_, b) = app.get(&format!("/api/bookings/{bid}"), Some(&owner)).await;
    assert_eq!(b["status"], "expired");
    let second = wait_status(&app, &owner, &w2, "offered").await;
    let second_expiry: chrono::DateTime<chrono::Utc> = second["offer_expires_at"].as_str().unwrap().parse().unwrap();
    assert!(second_expiry - chrono::Utc::now() > chrono::TimeDelta::hours(23));
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 2);
    let (s, p) = app.post(&format!("/api/waitlist/{w1}/accept?token={offer_token}"), None, json!({})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("offer_expired")), "{p}");
    assert_eq!(outbox(&app, "waitlist.expired").await.len(), 1);

    // #2 accepts with the token from their mail: a free offer is confirmed with its tickets.
    let w2_offer = app.wait_for_token("w2@fans.org", "offer-token: ").await;
    assert_eq!(app.post(&format!("/api/waitlist/{w2}/accept"), Some(&owner), json!({})).await.0, StatusCode::FORBIDDEN);
    let (s, acc) = app.post(&format!("/api/waitlist/{w2}/accept?token={w2_offer}"), None, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{acc}");
    assert_eq!(acc["entry"]["status"], "accepted");
    assert_eq!(acc["booking"]["status"], "confirmed");
    assert_eq!(acc["booking"]["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(acc["booking_token"].as_str(), Some(w2_offer.as_str()));
    let (s, own) = app.get(&format!("/api/bookings/{}?token={w2_offer}", acc["booking"]["id"].as_str().unwrap()), None).await;
    assert_eq!((s, own["status"].as_str()), (StatusCode::OK, Some("confirmed")));
    let (s, p) = app.post(&format!("/api/waitlist/{w2}/accept?token={w2_offer}"), None, json!({})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("already_accepted")));
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 2);
    assert_eq!(outbox(&app, "waitlist.accepted").await.len(), 1);
    let (_, trail) = app.get(&format!("/api/audit/logs/waitlist_entry:{w2}"), Some(&owner)).await;
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for a in ["waitlist_entry.joined", "waitlist_entry.offered", "waitlist_entry.accepted"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[tokio::test]
async fn vip_tier_first_then_fifo_and_decline_passes_the_offer_on() {
    let app = TestApp::spawn().await;
    let (owner, org, event) = published_event(&app, "o@wl-tier.org").await;
    let staff = app.member(&owner, &org, "staff@wl-tier.org", "staff").await;
    let t = ticket_type(&app, &owner, &event, json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": 1})).await;
    let ga = json!(id(&t));
    let mut sold = vec![book(&app, &event, &id(&t), "x@fans.org", 1).await];
    let (a, _) = join(&app, &event, json!({"ticket_type_id": ga, "email": "a@fans.org", "name": "A"})).await;
    let (b, b_token) = join(&app, &event, json!({"ticket_type_id": ga, "email": "b@fans.org", "name": "B"})).await;
    let (c, _) = join(&app, &event, json!({"ticket_type_id": ga, "email": "c@fans.org", "name": "C"})).await;
    // C joined last but is moved to the VIP tier.
    let (s, moved) = app.put(&format!("/api/waitlist/{c}"), Some(&staff), json!({"tier": "vip"})).await;
    assert_eq!((s, moved["position"].as_i64()), (StatusCode::OK, Some(1)), "{moved}");

    // Each freed seat goes to the first in line: C (vip), then A, then B (FIFO).
    cancel(&app, &sold.pop().unwrap()).await;
    wait_status(&app, &owner, &c, "offered").await;
    for (e, pos) in [(&a, 1), (&b, 2)] {
        let v = entry(&app, &owner, e).await;
        assert_eq!((v["status"].as_str(), v["position"].as_i64()), (Some("waiting"), Some(pos)), "{v}");
    }
    let c_token = app.wait_for_token("c@fans.org", "offer-token: ").await;
    let (s, acc) = app.post(&format!("/api/waitlist/{c}/accept?token={c_token}"), None, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{acc}");
    // C gives the ticket back: A is next.
    let booking = json!({"id": acc["booking"]["id"], "booking_token": acc["booking_token"]});
    cancel(&app, &booking).await;
    wait_status(&app, &owner, &a, "offered").await;
    assert_eq!(entry(&app, &owner, &b).await["status"], "waiting");
    assert_eq!(entry(&app, &owner, &c).await["status"], "accepted", "a fulfilled entry stays accepted");

    // A declines (staff may decline on someone's behalf; B may not decline A's offer): the
    // offer booking is cancelled and B gets the seat.
    let (s, p) = app.post(&format!("/api/waitlist/{a}/decline?token={b_token}"), None, json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
    let a_offer = app.wait_for_token("a@fans.org", "offer-token: ").await;
    let a_booking = entry(&app, &owner, &a).await["booking_id"].as_str().unwrap().to_string();
    let (s, declined) = app.post(&format!("/api/waitlist/{a}/decline?token={a_offer}"), None, json!({})).await;
    assert_eq!((s, declined["status"].as_str()), (StatusCode::OK, Some("declined")), "{declined}");
    let (_, ab) = app.get(&format!("/api/bookings/{a_booking}"), Some(&owner)).await;
    assert_eq!(ab["status"], "cancelled");
    let b_view = wait_status(&app, &owner, &b, "offered").await;
    let (s, p) = app.post(&format!("/api/waitlist/{a}/decline?token={a_offer}"), None, json!({})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("no_offer")));
    // Staff decline B's offer on B's behalf: nobody is left waiting, the seat is free.
    let (s, _) = app.post(&format!("/api/waitlist/{b}/decline"), Some(&staff), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let q = t["quota_ids"][0].as_str().unwrap().to_string();
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 0);
    assert!(b_view["booking_id"].is_string());
    let declined_events = outbox(&app, "waitlist.declined").await;
    assert!(declined_events.iter().any(|e| e["entry_id"] == a.as_str()), "{declined_events:?}");
}

#[tokio::test]
async fn priced_offers_wait_for_payment_and_leaving_with_an_offer_passes_it_on() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@wl-paid.org").await;
    let t = ticket_type(&app, &owner, &event, json!({"name": "Seat", "price": 2500, "currency": "EUR", "capacity": 1})).await;
    let ga = json!(id(&t));
    let held = book(&app, &event, &id(&t), "x@fans.org", 1).await;
    assert_eq!(held["status"], "pending_payment");
    let (w1, w1_token) = join(&app, &event, json!({"ticket_type_id": ga, "email": "w1@fans.org", "name": "W1"})).await;
    let (fan, _) = app.register("w2@fans.org").await;
    let (s, w2) = app
        .post(
            &format!("/api/events/{event}/waitlist"),
            Some(&fan),
            json!({"ticket_type_id": ga, "email": "w2@fans.org", "name": "W2"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w2}");
    let w2 = id(&w2);

    cancel(&app, &held).await;
    wait_status(&app, &owner, &w1, "offered").await;
    let mail_token = app.wait_for_token("w1@fans.org", "offer-token: ").await;
    assert_ne!(mail_token, w1_token);
    // Leaving with an open offer cancels it; the next in line gets the seat.
    let (s, left) = app.delete(&format!("/api/waitlist/{w1}?token={w1_token}"), None).await;
    assert_eq!((s, left["status"].as_str()), (StatusCode::OK, Some("left")), "{left}");
    let offered = wait_status(&app, &owner, &w2, "offered").await;

    // The signed-in person accepts: the booking stays pending (priced), holding the seat
    // until the offer expiry, and is paid like any booking.
    let (s, acc) = app.post(&format!("/api/waitlist/{w2}/accept"), Some(&fan), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{acc}");
    assert!(acc.get("booking_token").is_none(), "{acc}");
    assert_eq!((acc["booking"]["status"].as_str(), acc["booking"]["total"].as_i64()), (Some("pending_payment"), Some(2500)));
    assert_eq!(acc["booking"]["hold_expires_at"], offered["offer_expires_at"]);
    assert!(acc["booking"]["tickets"].as_array().unwrap().is_empty());
    let bid = acc["booking"]["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/bookings/{bid}"), Some(&fan)).await.0, StatusCode::OK, "the user's own booking");
    let (s, paid) = app.post(&format!("/api/bookings/{bid}/mark-paid"), Some(&owner), json!({"reference": "wl-1"})).await;
    assert_eq!((s, paid["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{paid}");
    assert_eq!(paid["tickets"].as_array().unwrap().len(), 1);
    let q = t["quota_ids"][0].as_str().unwrap().to_string();
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 1);

    // The organizer cancels it; the next offer is paid before its person accepts (the offer
    // booking went through the payment path): accepting records it.
    let (w3, w3_token) = join(&app, &event, json!({"ticket_type_id": ga, "email": "w3@fans.org", "name": "W3"})).await;
    assert_eq!(app.delete(&format!("/api/bookings/{bid}"), Some(&owner)).await.0, StatusCode::OK);
    let o3 = wait_status(&app, &owner, &w3, "offered").await;
    let b3 = o3["booking_id"].as_str().unwrap();
    let (s, paid) = app.post(&format!("/api/bookings/{b3}/mark-paid"), Some(&owner), json!({})).await;
    assert_eq!((s, paid["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{paid}");
    let (s, p) = app.post(&format!("/api/waitlist/{w3}/decline?token={w3_token}"), None, json!({})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("already_paid")), "{p}");
    let (s, acc) = app.post(&format!("/api/waitlist/{w3}/accept?token={w3_token}"), None, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{acc}");
    assert_eq!((acc["entry"]["status"].as_str(), acc["booking"]["status"].as_str()), (Some("accepted"), Some("confirmed")));
    assert_eq!(acc["booking"]["tickets"].as_array().unwrap().len(), 1);
    // Accepting with the entry's own token hands over a fresh booking token.
    let bt = acc["booking_token"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/bookings/{b3}?token={bt}"), None).await.0, StatusCode::OK);
    assert_eq!(entry(&app, &owner, &w2).await["status"], "accepted");
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 1);
}

#[tokio::test]
async fn raised_capacity_is_offered_in_strict_order_and_sessions_have_waitlists() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@wl-cap.org").await;
    let t = ticket_type(&app, &owner, &event, json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": 1})).await;
    let q = t["quota_ids"][0].as_str().unwrap().to_string();
    book(&app, &event, &id(&t), "x@fans.org", 1).await;
    let ga = json!(id(&t));
    let (w1, _) = join(&app, &event, json!({"ticket_type_id": ga, "email": "w1@fans.org", "name": "W1", "quantity": 2})).await;
    let (w2, _) = join(&app, &event, json!({"ticket_type_id": ga, "email": "w2@fans.org", "name": "W2"})).await;
    let raise = |capacity: i64| {
        let (app, owner, q) = (&app, &owner, &q);
        async move {
            let (s, body) = app.put(&format!("/api/quotas/{q}"), Some(owner), json!({"capacity": capacity})).await;
            assert_eq!(s, StatusCode::OK, "{body}");
        }
    };
    // One seat more: not enough for #1 (2 seats), and #2 does not jump the queue.
    raise(2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(entry(&app, &owner, &w1).await["status"], "waiting");
    assert_eq!(entry(&app, &owner, &w2).await["status"], "waiting");
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 1);
    // Room for two: #1's offer; one more: #2's.
    raise(3).await;
    let o1 = wait_status(&app, &owner, &w1, "offered").await;
    let (_, b1) = app.get(&format!("/api/bookings/{}", o1["booking_id"].as_str().unwrap()), Some(&owner)).await;
    assert_eq!(b1["quantity"], 2);
    assert_eq!(entry(&app, &owner, &w2).await["status"], "waiting");
    raise(4).await;
    wait_status(&app, &owner, &w2, "offered").await;
    assert_eq!(quota(&app, &owner, &event, &q).await["taken"], 4);

    // A session's waitlist is served by any public ticket type of that session.
    let (s, sess) = app
        .post(
            &format!("/api/events/{event}/sessions"),
            Some(&owner),
            json!({"title": "Late set", "starts_at": "2030-06-01T21:00:00Z", "ends_at": "2030-06-01T22:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sess}");
    let sid = id(&sess);
    let late = ticket_type(
        &app,
        &owner,
        &event,
        json!({"name": "Late set", "price": 0, "currency": "EUR", "capacity": 1, "session_id": sid}),
    )
    .await;
    let (s, p) = app
        .post(&format!("/api/events/{event}/waitlist"), None, json!({"session_id": sid, "email": "s@fans.org", "name": "S"}))
        .await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("tickets_available")), "{p}");
    let sold = book(&app, &event, &id(&late), "y@fans.org", 1).await;
    let (ws, _) = join(&app, &event, json!({"session_id": sid, "email": "s@fans.org", "name": "S"})).await;
    cancel(&app, &sold).await;
    let offered = wait_status(&app, &owner, &ws, "offered").await;
    let (_, b) = app.get(&format!("/api/bookings/{}", offered["booking_id"].as_str().unwrap()), Some(&owner)).await;
    assert_eq!(b["positions"][0]["ticket_type_id"], id(&late).as_str());
}

#[tokio::test]
async fn offers_racing_cancellations_a_capacity_raise_and_buyers_never_oversell() {
    let app = TestApp::spawn().await;
    race(&app, std::slice::from_ref(&app.base)).await;
}

#[tokio::test]
async fn two_instances_on_one_postgres_database_offer_each_seat_once() {
    if !common::is_postgres() {
        eprintln!("TEST_DATABASE_URL not set: the two-instance waitlist race runs in the PostgreSQL pass");
        return;
    }
    let app = TestApp::spawn().await;
    // A second Backline process-equivalent on the same database: both run waitlist jobs.
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
    race(&app, &[app.base.clone(), second]).await;
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// Sold out (10), 30 waiting; then 10 cancellations and a capacity raise (→ 15) race 20
/// public buyers, spread over the app instances at `bases`. Afterwards: never oversold,
/// every seat with a buyer or an offer, no entry offered twice, offers in queue order.
async fn race(app: &TestApp, bases: &[String]) {
    let url = |i: usize, path: &str| format!("{}{path}", bases[i % bases.len()]);
    let (owner, _, event) = published_event(app, "o@wl-race.org").await;
    let t = ticket_type(app, &owner, &event, json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": 10})).await;
    let q = t["quota_ids"][0].as_str().unwrap().to_string();
    let ga = id(&t);
    let mut sold = Vec::new();
    for i in 0..10 {
        sold.push(book(app, &event, &ga, &format!("early{i}@race.org"), 1).await);
    }
    // 30 waiters, joining concurrently.
    let mut joins = Vec::new();
    for i in 0..30 {
        let (client, url) = (app.client.clone(), url(i, &format!("/api/events/{event}/waitlist")));
        let body = json!({"ticket_type_id": ga, "email": format!("w{i}@race.org"), "name": format!("W{i}")});
        joins.push(tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() }));
    }
    for j in joins {
        assert_eq!(j.await.unwrap(), StatusCode::CREATED);
    }

    // 10 cancellations and a capacity raise (10 → 15) race 20 public buyers.
    let mut tasks = Vec::new();
    for (i, b) in sold.iter().enumerate() {
        let (client, url) =
            (app.client.clone(), url(i, &format!("/api/bookings/{}?token={}", id(b), b["booking_token"].as_str().unwrap())));
        tasks.push(tokio::spawn(async move { ("cancel", client.delete(url).send().await.unwrap().status()) }));
    }
    {
        let (client, url, owner) = (app.client.clone(), url(1, &format!("/api/quotas/{q}")), owner.clone());
        tasks.push(tokio::spawn(async move {
            ("raise", client.put(url).bearer_auth(owner).json(&json!({"capacity": 15})).send().await.unwrap().status())
        }));
    }
    for i in 0..20 {
        let (client, url) = (app.client.clone(), url(i, "/api/bookings"));
        let body = json!({"event_id": event, "positions": [{"ticket_type_id": ga, "quantity": 1}],
                          "buyer_email": format!("buyer{i}@race.org"), "buyer_name": "Buyer"});
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            let status = r.status();
            if status != StatusCode::CREATED {
                let p: Value = r.json().await.unwrap();
                assert_eq!(p["code"], "sold_out", "{p}");
            }
            ("buy", status)
        }));
    }
    let mut bought = 0;
    for task in tasks {
        match task.await.unwrap() {
            ("buy", StatusCode::CREATED) => bought += 1,
            ("buy", StatusCode::CONFLICT) => {}
            (what, s) => assert_eq!(s, StatusCode::OK, "{what}"),
        }
    }

    // Every freed seat ends up with a buyer or an offer; wait until that settles.
    let last = std::cell::Cell::new((-1, -1));
    eventually("offers to settle", || async {
        let taken = quota(app, &owner, &event, &q).await["taken"].as_i64().unwrap();
        let offered = waitlist(app, &owner, &event, "offered").await.len() as i64;
        let settled = taken == 15 && (taken, offered) == last.get();
        last.set((taken, offered));
        settled
    })
    .await;

    let quota = quota(app, &owner, &event, &q).await;
    assert_eq!(quota["capacity"], 15);
    assert!(quota["taken"].as_i64().unwrap() <= 15);
    let bookings = all_bookings(app, &owner, &event).await;
    let live: Vec<&Value> = bookings.iter().filter(|b| b["status"] == "pending_payment" || b["status"] == "confirmed").collect();
    let live_seats: i64 = live.iter().map(|b| b["quantity"].as_i64().unwrap()).sum();
    assert_eq!(live_seats, quota["taken"].as_i64().unwrap(), "live bookings hold exactly the seats taken");

    // No entry was offered twice: one booking at most per waiter, each offer its own
    // pending booking in the waiter's name.
    let mut per_buyer: HashMap<&str, usize> = HashMap::new();
    for b in &bookings {
        *per_buyer.entry(b["buyer_email"].as_str().unwrap()).or_default() += 1;
    }
    let offered = waitlist(app, &owner, &event, "offered").await;
    let waiting = waitlist(app, &owner, &event, "waiting").await;
    assert_eq!(offered.len() + waiting.len(), 30);
    let by_id: HashMap<&str, &Value> = bookings.iter().map(|b| (b["id"].as_str().unwrap(), b)).collect();
    let mut offer_bookings = HashSet::new();
    for e in &offered {
        let email = e["email"].as_str().unwrap();
        assert_eq!(per_buyer.get(email), Some(&1), "{email} has exactly one booking");
        let bid = e["booking_id"].as_str().unwrap();
        assert!(offer_bookings.insert(bid), "two entries share booking {bid}");
        let b = by_id[bid];
        assert_eq!((b["status"].as_str(), b["buyer_email"].as_str()), (Some("pending_payment"), Some(email)));
    }
    for e in &waiting {
        assert!(!per_buyer.contains_key(e["email"].as_str().unwrap()), "a waiting entry has no booking: {e}");
        assert!(e["booking_id"].is_null());
    }
    assert_eq!(offered.len() + bought, 15, "every seat went to a buyer or an offer");
    // Positions of those still waiting are 1…n in queue order.
    let positions: Vec<i64> = waiting.iter().map(|e| e["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, (1..=waiting.len() as i64).collect::<Vec<_>>());
    // FIFO: every offered entry joined before every waiting one (one tier).
    if let (Some(last_offered), Some(first_waiting)) =
        (offered.iter().map(|e| e["id"].as_str().unwrap()).max(), waiting.first().map(|e| e["id"].as_str().unwrap()))
    {
        assert!(last_offered < first_waiting, "offers follow the queue");
    }
    assert_eq!(outbox(app, "waitlist.offered").await.len(), offered.len());
}
