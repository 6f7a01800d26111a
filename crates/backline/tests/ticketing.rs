//! Ticketing over HTTP: ticket types, quotas, vouchers, settings, bookings and their life
//! (hold → paid → cancelled, hold → expired), bad input, tenancy, listings and CSV export.
//! Inventory under concurrency has its own suite (`inventory.rs`).

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::TestApp;
use common::sales::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn catalog_and_booking_lifecycle() {
    let app = TestApp::spawn().await;
    let (owner, org, event) = published_event(&app, "o@life.org").await;
    let staff = app.member(&owner, &org, "staff@life.org", "staff").await;

    let ga = ticket_type(&app, &staff, &event, json!({"name": "GA", "price": 5000, "currency": "eur", "max_per_order": 6})).await;
    assert_eq!(ga["currency"], "EUR");
    assert_eq!(ga["available"], Value::Null, "in no quota yet");
    assert_eq!(ga["on_sale"], false);
    let vip = ticket_type(&app, &staff, &event, json!({"name": "VIP", "price": 12000, "currency": "EUR", "sort_order": 1})).await;
    let crew = ticket_type(
        &app,
        &staff,
        &event,
        json!({"name": "Crew", "price": 0, "currency": "EUR", "visibility": "hidden", "capacity": 10}),
    )
    .await;
    assert_eq!(crew["available"], 10, "capacity creates a quota of its own");
    let q = quota(&app, &staff, &event, json!({"name": "Floor", "capacity": 500, "ticket_type_ids": [id(&ga), id(&vip)]})).await;
    assert_eq!(q["available"], 500);

    // The public sees public types only, with availability.
    let (s, public) = app.get(&format!("/api/events/{event}/ticket-types"), None).await;
    assert_eq!(s, StatusCode::OK, "{public}");
    let names: Vec<&str> = public.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["GA", "VIP"]);
    assert_eq!(public[0]["available"], 500);
    assert_eq!(public[0]["on_sale"], true);
    let (_, all) = app.get(&format!("/api/events/{event}/ticket-types"), Some(&owner)).await;
    assert_eq!(all.as_array().unwrap().len(), 3, "members see hidden types");

    // A priced booking holds its seats, waiting for payment.
    let mut body = booking(
        &event,
        json!([{"ticket_type_id": id(&ga), "quantity": 2}, {"ticket_type_id": id(&vip), "quantity": 1}]),
        "ann@fans.org",
    );
    body["attendees"] = json!([{"name": "Ann"}, {"name": "Ben", "email": "ben@fans.org"}]);
    let (s, b) = app.post("/api/bookings", None, body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "pending_payment");
    assert_eq!(b["total"], 22000);
    assert_eq!(b["quantity"], 3);
    assert_eq!(b["code"].as_str().unwrap().len(), 10);
    assert!(b["hold_expires_at"].is_string());
    assert!(b["tickets"].as_array().unwrap().is_empty());
    assert_eq!(b["positions"][0]["unit_price"], 5000);
    let bid = id(&b);
    let token = b["booking_token"].as_str().unwrap().to_string();
    assert_eq!(quota_taken(&app, &owner, &event, &id(&q)).await, 3);

    // The buyer reaches it with the token, nobody else without it.
    assert_eq!(app.get(&format!("/api/bookings/{bid}"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/bookings/{bid}?token=nope"), None).await.0, StatusCode::NOT_FOUND);
    let (stranger, _) = app.register("stranger@life.org").await;
    assert_eq!(app.get(&format!("/api/bookings/{bid}"), Some(&stranger)).await.0, StatusCode::NOT_FOUND);
    let (s, mine) = app.get(&format!("/api/bookings/{bid}?token={token}"), None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert!(mine.get("booking_token").is_none());
    let (s, renamed) = app
        .put(
            &format!("/api/bookings/{bid}?token={token}"),
            None,
            json!({"buyer_name": "Ann Example", "attendees": [{"name": "Ann"}, {"name": "Bea"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["buyer_name"], "Ann Example");

    // A buyer cannot mark their own booking paid; staff can, which issues the tickets.
    assert_eq!(
        app.post(&format!("/api/bookings/{bid}/mark-paid?token={token}"), None, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, paid) = app.post(&format!("/api/bookings/{bid}/mark-paid"), Some(&staff), json!({"reference": "SEPA-4711"})).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "confirmed");
    assert_eq!(paid["paid_reference"], "SEPA-4711");
    assert_eq!(paid["hold_expires_at"], Value::Null);
    let tickets = paid["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 3);
    assert_eq!(tickets[0]["attendee_name"], "Ann");
    assert_eq!(tickets[1]["attendee_name"], "Bea");
    assert_eq!(tickets[2]["ticket_type_id"], id(&vip));
    for t in tickets {
        let code = t["code"].as_str().unwrap();
        assert_eq!(code.len(), 16);
        assert_eq!(t["status"], "valid");
    }
    let (s, again) = app.post(&format!("/api/bookings/{bid}/mark-paid"), Some(&staff), json!({})).await;
    assert_eq!((s, again["code"].as_str()), (StatusCode::CONFLICT, Some("already_confirmed")));
    // Paid: the buyer can no longer cancel; renaming an attendee renames the ticket.
    assert_eq!(app.delete(&format!("/api/bookings/{bid}?token={token}"), None).await.0, StatusCode::FORBIDDEN);
    let (_, renamed) = app
        .put(
            &format!("/api/bookings/{bid}"),
            Some(&staff),
            json!({"attendees": [{"name": "Ann"}, {"name": "Bo"}, {"name": "Cy"}]}),
        )
        .await;
    assert_eq!(renamed["tickets"][1]["attendee_name"], "Bo");
    assert_eq!(renamed["tickets"][2]["attendee_name"], "Cy");

    // Statistics.
    let (s, stats) = app.get(&format!("/api/bookings/stats?event_id={event}"), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK, "{stats}");
    let ga_stats = stats["ticket_types"].as_array().unwrap().iter().find(|t| t["name"] == "GA").unwrap();
    assert_eq!(
        (ga_stats["sold"].as_i64(), ga_stats["held"].as_i64(), ga_stats["gross"].as_i64()),
        (Some(2), Some(0), Some(10000))
    );
    assert_eq!(ga_stats["capacity"], 500);
    assert_eq!(stats["gross"][0], json!({"currency": "EUR", "bookings": 1, "tickets": 3, "gross": 22000}));
    assert_eq!(stats["sales_per_day"].as_array().unwrap().len(), 1);
    assert_eq!(stats["time_zone"], "Europe/Berlin");

    // Staff cancel: seats back, tickets void.
    let (s, cancelled) = app.delete(&format!("/api/bookings/{bid}"), Some(&staff)).await;
    assert_eq!(s, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "cancelled"));
    assert_eq!(quota_taken(&app, &owner, &event, &id(&q)).await, 0);
    let (s, twice) = app.delete(&format!("/api/bookings/{bid}"), Some(&staff)).await;
    assert_eq!((s, twice["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));

    // Lowering a quota below what is taken is refused; raising works.
    let (_, b2) =
        app.post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&ga), "quantity": 4}]), "c@fans.org")).await;
    assert_eq!(b2["status"], "pending_payment");
    let (s, p) = app.put(&format!("/api/quotas/{}", id(&q)), Some(&staff), json!({"capacity": 3})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("capacity_below_taken")), "{p}");
    let (s, p) = app.put(&format!("/api/quotas/{}", id(&q)), Some(&staff), json!({"capacity": 4, "name": "Main floor"})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!((p["available"].as_i64(), p["name"].as_str()), (Some(0), Some("Main floor")));
    let (s, p) = app
        .post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&vip), "quantity": 1}]), "d@fans.org"))
        .await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("sold_out")), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("VIP"), "{p}");
    assert_eq!(app.put(&format!("/api/quotas/{}", id(&q)), Some(&staff), json!({"capacity": 600})).await.0, StatusCode::OK);
    // Deleting what is in use is refused.
    let (s, p) = app.delete(&format!("/api/quotas/{}", id(&q)), Some(&staff)).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("quota_in_use")));
    let (s, p) = app.delete(&format!("/api/ticket-types/{}", id(&ga)), Some(&staff)).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("ticket_type_in_use")));
    // A type that never sold can go.
    let spare = ticket_type(&app, &staff, &event, json!({"name": "Spare", "price": 100, "currency": "EUR"})).await;
    assert_eq!(app.delete(&format!("/api/ticket-types/{}", id(&spare)), Some(&staff)).await.0, StatusCode::NO_CONTENT);
    // Update a type.
    let (s, t) = app
        .put(&format!("/api/ticket-types/{}", id(&vip)), Some(&staff), json!({"price": 15000, "description": "Balcony"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!((t["price"].as_i64(), t["description"].as_str()), (Some(15000), Some("Balcony")));

    // The audit trail has the story.
    let (_, trail) = app.get(&format!("/api/audit/logs/booking:{bid}"), Some(&owner)).await;
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for a in ["booking.created", "booking.updated", "booking.confirmed", "booking.cancelled"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let (_, logs) = app.get(&format!("/api/audit/logs?org_id={org}&action=quota.updated"), Some(&owner)).await;
    assert!(!logs["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn free_bookings_confirm_at_once_and_idempotent_retries_return_the_same_booking() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@free.org").await;
    let free = ticket_type(&app, &owner, &event, json!({"name": "Free", "price": 0, "currency": "EUR", "capacity": 50})).await;
    let (user, body) = app.register("fan@free.org").await;
    let uid = body["user"]["id"].as_str().map(str::to_string);
    let req = booking(&event, json!([{"ticket_type_id": id(&free), "quantity": 2}]), "fan@free.org");
    let send =
        || app.client.post(app.url("/api/bookings")).bearer_auth(&user).header("idempotency-key", "checkout-1").json(&req).send();
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "confirmed");
    assert_eq!(first["tickets"].as_array().unwrap().len(), 2);
    let replay = send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(replay["tickets"], first["tickets"]);
    // One booking, two seats.
    let (_, q) = app.get(&format!("/api/events/{event}/ticket-types"), None).await;
    assert_eq!(q[0]["available"], 48);

    // The signed-in buyer sees it without a token and in their own list, and may cancel a
    // free booking themselves.
    let bid = id(&first);
    assert_eq!(app.get(&format!("/api/bookings/{bid}"), Some(&user)).await.0, StatusCode::OK);
    if let Some(uid) = uid {
        let (s, list) = app.get(&format!("/api/bookings/user/{uid}"), Some(&user)).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
    }
    let (s, c) = app.delete(&format!("/api/bookings/{bid}"), Some(&user)).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let (_, q) = app.get(&format!("/api/events/{event}/ticket-types"), None).await;
    assert_eq!(q[0]["available"], 50);
}

#[tokio::test]
async fn bad_input_gets_clear_4xx() {
    let app = TestApp::spawn().await;
    let (owner, org, event) = published_event(&app, "o@bad.org").await;
    let other_event = new_event(&app, &owner, &org, "published").await;
    let draft = new_event(&app, &owner, &org, "draft").await;
    let ga = ticket_type(
        &app,
        &owner,
        &event,
        json!({"name": "GA", "price": 1000, "currency": "EUR", "capacity": 100, "min_per_order": 2, "max_per_order": 4}),
    )
    .await;
    let usd = ticket_type(&app, &owner, &event, json!({"name": "US", "price": 1000, "currency": "USD", "capacity": 100})).await;
    let unquoted = ticket_type(&app, &owner, &event, json!({"name": "Loose", "price": 1000, "currency": "EUR"})).await;
    let closed = ticket_type(
        &app,
        &owner,
        &event,
        json!({"name": "Closed", "price": 1000, "currency": "EUR", "capacity": 10, "sales_end": "2024-01-01T00:00:00Z"}),
    )
    .await;
    let later = ticket_type(
        &app,
        &owner,
        &event,
        json!({"name": "Later", "price": 1000, "currency": "EUR", "capacity": 10, "sales_start": "2029-12-01T00:00:00Z"}),
    )
    .await;
    let elsewhere =
        ticket_type(&app, &owner, &other_event, json!({"name": "Else", "price": 1000, "currency": "EUR", "capacity": 10})).await;
    let in_draft =
        ticket_type(&app, &owner, &draft, json!({"name": "Draft", "price": 1000, "currency": "EUR", "capacity": 10})).await;
    let pos = |t: &Value, n: i64| json!([{"ticket_type_id": id(t), "quantity": n}]);

    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (booking(&event, pos(&ga, 0), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0].quantity"),
        (booking(&event, pos(&ga, -3), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0].quantity"),
        (booking(&event, pos(&ga, 1), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0].quantity"),
        (booking(&event, pos(&ga, 5), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0].quantity"),
        (booking(&event, pos(&ga, 101), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0].quantity"),
        (
            booking(&event, json!([{"ticket_type_id": "00000000-0000-7000-8000-000000000000", "quantity": 1}]), "a@b.org"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "positions[0].ticket_type_id",
        ),
        (booking(&event, pos(&elsewhere, 1), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0].ticket_type_id"),
        (booking(&event, pos(&unquoted, 1), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0].ticket_type_id"),
        (
            booking(
                &event,
                json!([{"ticket_type_id": id(&ga), "quantity": 2}, {"ticket_type_id": id(&usd), "quantity": 1}]),
                "a@b.org",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "positions[1].ticket_type_id",
        ),
        (
            booking(
                &event,
                json!([{"ticket_type_id": id(&ga), "quantity": 2}, {"ticket_type_id": id(&ga), "quantity": 2}]),
                "a@b.org",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "positions[1].ticket_type_id",
        ),
        (booking(&event, json!([]), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions"),
        (
            booking(&event, json!([{"ticket_type_id": id(&ga), "quantity": 1.5}]), "a@b.org"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "positions[0].quantity",
        ),
        (booking(&event, json!([{"quantity": 1}]), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "positions[0]"),
        (booking(&event, pos(&ga, 2), "not-an-email"), StatusCode::UNPROCESSABLE_ENTITY, "buyer_email"),
        (
            json!({"event_id": event, "positions": pos(&ga, 2), "buyer_email": "a@b.org", "buyer_name": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "buyer_name",
        ),
        (
            json!({"event_id": event, "positions": pos(&ga, 2), "buyer_email": "a@b.org"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "buyer_name",
        ),
        (booking(&draft, pos(&in_draft, 1), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "event_id"),
        (booking("00000000-0000-7000-8000-000000000000", pos(&ga, 2), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "event_id"),
        (booking("not-a-uuid", pos(&ga, 2), "a@b.org"), StatusCode::UNPROCESSABLE_ENTITY, "event_id"),
        (booking(&event, pos(&closed, 1), "a@b.org"), StatusCode::CONFLICT, "sales_closed"),
        (booking(&event, pos(&later, 1), "a@b.org"), StatusCode::CONFLICT, "sales_closed"),
        (
            json!({"event_id": event, "positions": pos(&ga, 2), "buyer_email": "a@b.org", "buyer_name": "A", "voucher_code": "NOPE"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "voucher_code",
        ),
        (
            json!({"event_id": event, "positions": pos(&ga, 2), "buyer_email": "a@b.org", "buyer_name": "A", "voucher_code": "bad code!"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "voucher_code",
        ),
        (
            json!({"event_id": event, "positions": pos(&ga, 2), "buyer_email": "a@b.org", "buyer_name": "A", "attendees": [{"name": "1"}, {"name": "2"}, {"name": "3"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "attendees",
        ),
        (
            json!({"event_id": event, "positions": pos(&ga, 2), "buyer_email": "a@b.org", "buyer_name": "A", "attendees": [{"name": "1", "email": "x"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "attendees[0].email",
        ),
    ];
    for (body, status, what) in cases {
        let (s, p) = app.post("/api/bookings", None, body.clone()).await;
        assert_eq!(s, status, "{body} → {p}");
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(p["field"], what, "{body} → {p}");
        } else {
            assert_eq!(p["code"], what, "{body} → {p}");
        }
    }
    let (s, p) = app.post("/api/bookings", None, booking(&event, pos(&closed, 1), "a@b.org")).await;
    assert!(p["detail"].as_str().unwrap().contains("Closed"), "{s} {p}");

    // Catalog input.
    let type_cases = [
        (json!({"name": "", "price": 1, "currency": "EUR"}), "name"),
        (json!({"name": "X", "price": -1, "currency": "EUR"}), "price"),
        (json!({"name": "X", "price": 1, "currency": "EURO"}), "currency"),
        (json!({"name": "X", "price": 1, "currency": "XYZ"}), "currency"),
        (json!({"name": "X", "price": 1, "currency": "EUR", "min_per_order": 0}), "min_per_order"),
        (json!({"name": "X", "price": 1, "currency": "EUR", "min_per_order": 3, "max_per_order": 2}), "max_per_order"),
        (
            json!({"name": "X", "price": 1, "currency": "EUR", "sales_start": "2030-01-02T00:00:00Z", "sales_end": "2030-01-01T00:00:00Z"}),
            "sales_end",
        ),
        (json!({"name": "X", "price": 1, "currency": "EUR", "visibility": "secret"}), "visibility"),
        (json!({"name": "X", "price": 1, "currency": "EUR", "capacity": -5}), "capacity"),
        (json!({"name": "X", "price": 1, "currency": "EUR", "session_id": "00000000-0000-7000-8000-000000000000"}), "session_id"),
        (json!({"name": "X", "price": "ten", "currency": "EUR"}), "price"),
    ];
    for (body, field) in type_cases {
        let (s, p) = app.post(&format!("/api/events/{event}/ticket-types"), Some(&owner), body.clone()).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body} → {p}");
    }
    let (s, p) = app
        .post(
            &format!("/api/events/{event}/quotas"),
            Some(&owner),
            json!({"name": "Q", "capacity": 5, "ticket_type_ids": [id(&elsewhere)]}),
        )
        .await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ticket_type_ids[0]")), "{p}");
    let (s, p) =
        app.post(&format!("/api/events/{event}/quotas"), Some(&owner), json!({"name": "Q", "capacity": 20_000_000})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("capacity")));
    let voucher_cases = [
        (json!({"code": "A", "amount_off": 100}), "currency"),
        (json!({"code": "A", "amount_off": 100, "percent_off": 10, "currency": "EUR"}), "percent_off"),
        (json!({"code": "A", "percent_off": 101}), "percent_off"),
        (json!({"code": "A", "percent_off": 10, "max_uses": 0}), "max_uses"),
        (json!({"code": "A b", "percent_off": 10}), "code"),
        (json!({"code": "A", "percent_off": 10, "ticket_type_ids": [id(&elsewhere)]}), "ticket_type_ids[0]"),
    ];
    for (body, field) in voucher_cases {
        let (s, p) = app.post(&format!("/api/events/{event}/vouchers"), Some(&owner), body.clone()).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body} → {p}");
    }
    for (body, field) in [
        (json!({"hold_seconds": 0}), "hold_seconds"),
        (json!({"hold_minutes": 5, "hold_seconds": 5}), "hold_seconds"),
        (json!({"max_tickets_per_buyer": 0}), "max_tickets_per_buyer"),
        (json!({"waitlist_tiers": []}), "waitlist_tiers"),
        (json!({"waitlist_tiers": ["vip", "VIP"]}), "waitlist_tiers[1]"),
    ] {
        let (s, p) = app.put(&format!("/api/events/{event}/ticketing-settings"), Some(&owner), body.clone()).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body} → {p}");
    }
    let (s, p) = app.get(&format!("/api/events/{event}/bookings?status=lost"), Some(&owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")), "{p}");
    let (s, p) = app.get(&format!("/api/events/{event}/bookings?format=xml"), Some(&owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("format")), "{p}");
    let (s, p) = app.get("/api/bookings/stats", Some(&owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("event_id")), "{p}");
    let (s, _) = app.get("/api/bookings/not-a-uuid", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn other_tenants_get_404_on_every_ticketing_route() {
    let app = TestApp::spawn().await;
    let (a, _) = app.owner_with_org("a@tt.org", "Tenant A").await;
    let (b, org_b, event) = published_event(&app, "b@tt.org").await;
    let draft = new_event(&app, &b, &org_b, "draft").await;
    let viewer = app.member(&b, &org_b, "viewer@tt.org", "viewer").await;
    let t = ticket_type(&app, &b, &event, json!({"name": "GA", "price": 1000, "currency": "EUR", "capacity": 10})).await;
    let q = t["quota_ids"][0].as_str().unwrap().to_string();
    let (_, v) = app.post(&format!("/api/events/{event}/vouchers"), Some(&b), json!({"code": "B", "percent_off": 10})).await;
    let (_, bk) =
        app.post("/api/bookings", None, booking(&event, json!([{"ticket_type_id": id(&t), "quantity": 1}]), "fan@tt.org")).await;
    let (tid, vid, bid) = (id(&t), id(&v), id(&bk));
    let (fan, body) = app.register("buyer@tt.org").await;
    let (_, fan_booking) = app
        .post("/api/bookings", Some(&fan), booking(&event, json!([{"ticket_type_id": tid, "quantity": 1}]), "buyer@tt.org"))
        .await;
    assert_eq!(fan_booking["status"], "pending_payment");
    let uid = body["user"]["id"].as_str().unwrap().to_string();

    let cases = [
        ("GET", format!("/api/events/{draft}/ticket-types"), None),
        ("POST", format!("/api/events/{event}/ticket-types"), Some(json!({"name": "X", "price": 1, "currency": "EUR"}))),
        ("PUT", format!("/api/ticket-types/{tid}"), Some(json!({"name": "mine"}))),
        ("DELETE", format!("/api/ticket-types/{tid}"), None),
        ("GET", format!("/api/events/{event}/quotas"), None),
        ("POST", format!("/api/events/{event}/quotas"), Some(json!({"name": "Q", "capacity": 1}))),
        ("PUT", format!("/api/quotas/{q}"), Some(json!({"capacity": 1000}))),
        ("DELETE", format!("/api/quotas/{q}"), None),
        ("GET", format!("/api/events/{event}/vouchers"), None),
        ("POST", format!("/api/events/{event}/vouchers"), Some(json!({"code": "MINE", "percent_off": 100}))),
        ("PUT", format!("/api/vouchers/{vid}"), Some(json!({"percent_off": 100}))),
        ("DELETE", format!("/api/vouchers/{vid}"), None),
        ("GET", format!("/api/events/{event}/ticketing-settings"), None),
        ("PUT", format!("/api/events/{event}/ticketing-settings"), Some(json!({"hold_minutes": 60}))),
        ("GET", format!("/api/events/{event}/bookings"), None),
        ("GET", format!("/api/events/{event}/bookings?format=csv"), None),
        ("GET", format!("/api/bookings/stats?event_id={event}"), None),
        ("GET", format!("/api/bookings/{bid}"), None),
        ("PUT", format!("/api/bookings/{bid}"), Some(json!({"buyer_name": "x"}))),
        ("DELETE", format!("/api/bookings/{bid}"), None),
        ("POST", format!("/api/bookings/{bid}/mark-paid"), Some(json!({}))),
        ("GET", format!("/api/bookings/user/{uid}"), None),
    ];
    for (method, path, body) in &cases {
        let (s, problem) = app.request(method.parse().unwrap(), path, Some(&a), body.clone()).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }
    // Anonymous callers: management routes need a sign-in, the draft does not exist.
    assert_eq!(app.get(&format!("/api/events/{draft}/ticket-types"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/events/{event}/quotas"), None).await.0, StatusCode::UNAUTHORIZED);
    // Viewers read but do not change.
    assert_eq!(app.get(&format!("/api/events/{event}/quotas"), Some(&viewer)).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("/api/bookings/{bid}"), Some(&viewer)).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("/api/bookings/user/{uid}"), Some(&viewer)).await.0, StatusCode::OK);
    assert_eq!(app.put(&format!("/api/quotas/{q}"), Some(&viewer), json!({"capacity": 1000})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.post(&format!("/api/bookings/{bid}/mark-paid"), Some(&viewer), json!({})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.delete(&format!("/api/bookings/{bid}"), Some(&viewer)).await.0, StatusCode::FORBIDDEN);
    // Nothing changed.
    assert_eq!(quota_taken(&app, &b, &event, &q).await, 2);
    let (_, still) = app.get(&format!("/api/bookings/{bid}"), Some(&b)).await;
    assert_eq!(still["status"], "pending_payment");
    // What is public stays public.
    assert_eq!(app.get(&format!("/api/events/{event}/ticket-types"), Some(&a)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn booking_lists_search_paging_and_csv_export() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "o@list.org").await;
    let t =
        ticket_type(&app, &owner, &event, json!({"name": "GA, \"standing\"", "price": 0, "currency": "EUR", "capacity": 5000}))
            .await;
    let paid = ticket_type(&app, &owner, &event, json!({"name": "Paid", "price": 100, "currency": "EUR", "capacity": 10})).await;
    // More than one export chunk (1,000 positions), booked 32 at a time.
    let n = 1005;
    let client = Arc::new(app.client.clone());
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, sem) = (client.clone(), sem.clone());
        let url = app.url("/api/bookings");
        let body = json!({"event_id": event, "positions": [{"ticket_type_id": id(&t), "quantity": 1}],
                          "buyer_email": format!("fan{i}@list.org"), "buyer_name": format!("=Fan {i}")});
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let r = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, pending) = app
        .post(
            "/api/bookings",
            None,
            booking(&event, json!([{"ticket_type_id": id(&paid), "quantity": 1}]), "Pending.Person@list.org"),
        )
        .await;

    // Paging, newest first, without gaps or repeats.
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/events/{event}/bookings?limit=100&cursor={c}"),
            None => format!("/api/events/{event}/bookings?limit=100"),
        };
        let (s, page) = app.get(&path, Some(&owner)).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for b in page["items"].as_array().unwrap() {
            assert!(seen.insert(id(b)));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), n + 1);
    let (_, first) = app.get(&format!("/api/events/{event}/bookings?limit=1"), Some(&owner)).await;
    assert_eq!(first["items"][0]["id"], pending["id"]);

    // Filters and search.
    let (_, pend) = app.get(&format!("/api/events/{event}/bookings?status=pending_payment"), Some(&owner)).await;
    assert_eq!(pend["items"].as_array().unwrap().len(), 1);
    let (_, by_mail) = app.get(&format!("/api/events/{event}/bookings?q=PENDING.person"), Some(&owner)).await;
    assert_eq!(by_mail["items"].as_array().unwrap().len(), 1);
    let code = pending["code"].as_str().unwrap().to_lowercase();
    let (_, by_code) = app.get(&format!("/api/events/{event}/bookings?q={code}"), Some(&owner)).await;
    assert_eq!(by_code["items"][0]["id"], pending["id"]);
    let (_, some) = app.get(&format!("/api/events/{event}/bookings?q=fan100%40"), Some(&owner)).await;
    assert_eq!(some["items"].as_array().unwrap().len(), 1, "{some}");
    let (_, none) = app.get(&format!("/api/events/{event}/bookings?q=%25%25"), Some(&owner)).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "wildcards are literal");
    // A NUL cannot be stored, so cannot be searched for (PostgreSQL would refuse the query).
    let (s, p) = app.get(&format!("/api/events/{event}/bookings?q=fan%00"), Some(&owner)).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("q")), "{p}");
    let (_, one) = app.get(&format!("/api/events/{event}/bookings?limit=1&status=confirmed"), Some(&owner)).await;
    let bid = one["items"][0]["id"].as_str().unwrap();
    let (_, full) = app.get(&format!("/api/bookings/{bid}"), Some(&owner)).await;
    let ticket = full["tickets"][0]["code"].as_str().unwrap();
    let (_, by_ticket) = app.get(&format!("/api/events/{event}/bookings?q={ticket}"), Some(&owner)).await;
    assert_eq!(by_ticket["items"][0]["id"], bid);

    // CSV: every position, quoted, formulas defused.
    let resp =
        app.client.get(app.url(&format!("/api/events/{event}/bookings?format=csv"))).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("booking_code,status,buyer_name"));
    assert_eq!(lines.len(), n + 2, "header + every position");
    assert!(lines[2].contains("\"'=Fan "), "{}", lines[2]);
    assert!(lines[2].contains("\"GA, \"\"standing\"\"\""), "{}", lines[2]);
    let codes: HashSet<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(codes.len(), n + 1);
    // What browsers send: the gzip encoder polls the stream past its end, which once panicked
    // mid-transfer and cut the download short.
    let resp = app
        .client
        .get(app.url(&format!("/api/events/{event}/bookings?format=csv")))
        .bearer_auth(&owner)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let zipped = resp.bytes().await.expect("the whole compressed body arrives");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut unzipped).expect("valid gzip");
    assert_eq!(unzipped, text, "compressed and plain exports carry the same CSV");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("backline_panics_total{site=\"body\"} 0"), "{metrics}");
    let resp = app
        .client
        .get(app.url(&format!("/api/events/{event}/bookings?format=csv&status=pending_payment")))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap().split("\r\n").filter(|l| !l.is_empty()).count(), 2);

    // Stats add up.
    let (_, stats) = app.get(&format!("/api/bookings/stats?event_id={event}"), Some(&owner)).await;
    let by_status = stats["bookings_by_status"].as_array().unwrap();
    assert!(by_status.contains(&json!({"status": "confirmed", "bookings": n})));
    assert!(by_status.contains(&json!({"status": "pending_payment", "bookings": 1})));
    let ga = stats["ticket_types"].as_array().unwrap().iter().find(|x| x["ticket_type_id"] == id(&t)).unwrap();
    assert_eq!((ga["sold"].as_i64(), ga["available"].as_i64()), (Some(n as i64), Some(5000 - n as i64)));
}
