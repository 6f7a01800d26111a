//! Messages from the booking's life: a confirmed booking's buyer gets one confirmation —
//! plain text and HTML, the tickets as a PDF, the event as an `.ics` — whether the booking
//! was free or paid, and still one when the `booking.confirmed` event is delivered twice.

mod common;

use common::TestApp;
use common::sales::*;
use serde_json::json;

/// The mails in the dev sink addressed to `to`, as written.
fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(app.mail_dir()) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|m| m.contains(&format!("To: {to}")))
        .collect()
}

async fn wait_for_mail(app: &TestApp, to: &str) -> String {
    wait_for(app, to, "Subject: ").await
}

#[tokio::test]
async fn a_confirmed_booking_mails_its_tickets_once_even_when_the_event_arrives_twice() {
    let app = TestApp::spawn().await;
    let (owner, _, event) = published_event(&app, "owner@mail.example").await;
    let free = ticket_type(&app, &owner, &event, json!({"name": "Stream", "price": 0, "currency": "EUR", "capacity": 50})).await;
    let booked = book(&app, booking(&event, json!([{"ticket_type_id": id(&free), "quantity": 2}]), "fan@mail.example")).await;
    let code = booked["code"].as_str().unwrap();

    let mail = wait_for_mail(&app, "fan@mail.example").await;
    assert!(mail.contains(&format!("Subject: Your tickets for On Sale (order {code})")), "{mail}");
    for part in ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf", "text/calendar"] {
        assert!(mail.contains(part), "{part} missing:\n{mail}");
    }
    assert!(mail.contains(&format!("filename=\"tickets-{code}.pdf\"")), "{mail}");
    assert!(mail.contains("event.ics"), "{mail}");

    // The outbox delivers at least once: hand the same event to the listeners again.
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let copied = kernel::tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO outbox (id, topic, payload, created_at, updated_at, version) \
         SELECT $1, topic, payload, created_at, updated_at, version FROM outbox WHERE topic = 'booking.confirmed'"
    )
    .bind(uuid::Uuid::now_v7())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(copied, 1);
    db.close().await;
    common::payments::quiet(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    common::payments::quiet(&app).await;
    assert_eq!(mails_to(&app, "fan@mail.example").len(), 1, "one confirmation per booking");
}

#[tokio::test]
async fn a_paid_booking_is_confirmed_by_mail_after_the_payment() {
    let app = TestApp::spawn().await;
    let shop = common::payments::shop(&app, "owner@paidmail.example", 2500, 10).await;
    let (bid, token) = common::payments::book(&app, &shop, 1, "payer@paidmail.example").await;
    common::payments::quiet(&app).await;
    assert!(mails_to(&app, "payer@paidmail.example").is_empty(), "no confirmation before the payment");
    common::payments::pay_by_card(&app, &bid, &token, "mail-pay-1").await;
    let mail = wait_for_mail(&app, "payer@paidmail.example").await;
    assert!(mail.contains("25.00 EUR"), "the total is in the mail: {mail}");
    assert!(mail.contains("application/pdf"));
}

#[tokio::test]
async fn cancellations_and_refunds_are_told_to_the_buyer_with_the_amounts() {
    let app = TestApp::spawn().await;
    // A free booking cancelled by its buyer: nothing to refund, and they are told so.
    let (owner, _, event) = published_event(&app, "owner@notice.example").await;
    let free = ticket_type(&app, &owner, &event, json!({"name": "Stream", "price": 0, "currency": "EUR", "capacity": 50})).await;
    let booked = book(&app, booking(&event, json!([{"ticket_type_id": id(&free), "quantity": 1}]), "free@notice.example")).await;
    let (bid, token) = (id(&booked), booked["booking_token"].as_str().unwrap().to_string());
    wait_for_mail(&app, "free@notice.example").await;
    let (s, _) = app.delete(&format!("/api/bookings/{bid}?token={token}"), None).await;
    assert_eq!(s, reqwest::StatusCode::OK);
    let cancelled = wait_for(&app, "free@notice.example", "was cancelled").await;
    assert!(cancelled.contains("nothing to refund"), "{cancelled}");

    // A paid booking: one ticket of two refunded by staff; the buyer learns the amount.
    let shop = common::payments::shop(&app, "owner@refundnotice.example", 2500, 10).await;
    let (bid, token) = common::payments::book(&app, &shop, 2, "paid@notice.example").await;
    let (pay, paid) = common::payments::pay_by_card(&app, &bid, &token, "notice-pay-1").await;
    let ticket = paid["tickets"][0]["id"].as_str().unwrap();
    let (s, r) = app
        .post(
            &format!("/api/payments/{}/refund", pay["id"].as_str().unwrap()),
            Some(&shop.owner),
            json!({"items": [ticket], "reason": "cannot come"}),
        )
        .await;
    assert!(s.is_success(), "{r}");
    let refund = wait_for(&app, "paid@notice.example", "refunded for order").await;
    assert!(refund.contains("25.00 EUR") && refund.contains("one ticket"), "{refund}");
    assert!(refund.contains("test-mode"), "a test payment says so: {refund}");
    common::payments::quiet(&app).await;
    let notices = mails_to(&app, "paid@notice.example");
    assert_eq!(notices.iter().filter(|m| m.contains("refunded for order")).count(), 1, "one notice per refund");
    assert_eq!(notices.iter().filter(|m| m.contains("was cancelled")).count(), 0, "a partial refund cancels no order");
}

/// The first mail to `to` whose text contains `marker` (quoted-printable soft breaks undone).
async fn wait_for(app: &TestApp, to: &str, marker: &str) -> String {
    for _ in 0..400 {
        let found = mails_to(app, to).into_iter().map(|m| m.replace("=\r\n", "").replace("=\n", "")).find(|m| m.contains(marker));
        if let Some(m) = found {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no mail to {to} with {marker:?}");
}

/// An event of its own organization starting `in_secs` from now, with a free type.
async fn event_starting_in(app: &TestApp, owner_email: &str, in_secs: i64) -> (String, String, String) {
    let (owner, org) = app.owner_with_org(owner_email, &format!("Reminders of {owner_email}")).await;
    let starts = chrono::Utc::now() + chrono::TimeDelta::seconds(in_secs);
    let (s, e) = app
        .post(
            "/api/events",
            Some(&owner),
            json!({"org_id": org, "name": "Soon", "time_zone": "Europe/Berlin", "status": "published",
                   "starts_at": starts.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                   "ends_at": (starts + chrono::TimeDelta::hours(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{e}");
    let event = id(&e);
    let free = ticket_type(app, &owner, &event, json!({"name": "Door", "price": 0, "currency": "EUR", "capacity": 50})).await;
    (owner, event, id(&free))
}

/// `messaging.reminder` jobs: (payload, run_at) in due order.
async fn reminder_jobs(app: &TestApp) -> Vec<(serde_json::Value, chrono::DateTime<chrono::Utc>)> {
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> = kernel::read!(&db, |c| sqlx::query_as(
        "SELECT CAST(payload AS TEXT), run_at FROM jobs WHERE kind = 'messaging.reminder' ORDER BY run_at"
    )
    .fetch_all(c)
    .await)
    .unwrap();
    db.close().await;
    rows.into_iter().map(|(p, at)| (serde_json::from_str(&p).unwrap(), at)).collect()
}

/// Waits until every reminder that is due has run.
async fn due_reminders_ran(app: &TestApp) {
    let db = kernel::Db::connect(&app.database_url, 2).await.unwrap();
    eventually("the due reminders to run", || async {
        let (n,): (i64,) = kernel::read!(&db, |c| sqlx::query_as(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'messaging.reminder' AND status IN ('queued', 'running') AND run_at <= $1"
        )
        .bind(chrono::Utc::now())
        .fetch_one(c)
        .await)
        .unwrap();
        n == 0
    })
    .await;
    db.close().await;
}

#[tokio::test]
async fn reminders_are_scheduled_a_day_and_two_hours_before_the_start() {
    let app = TestApp::spawn().await;
    let (_, event, free) = event_starting_in(&app, "owner@later.example", 30 * 3600).await;
    book(&app, booking(&event, json!([{"ticket_type_id": free, "quantity": 1}]), "later@fan.example")).await;
    wait_for_mail(&app, "later@fan.example").await;
    let jobs = reminder_jobs(&app).await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let start: chrono::DateTime<chrono::Utc> = jobs[0].0["starts_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(jobs[0].1, start - chrono::TimeDelta::hours(24));
    assert_eq!(jobs[1].1, start - chrono::TimeDelta::hours(2));
}

#[tokio::test]
async fn a_due_reminder_reaches_confirmed_buyers_only_and_moves_with_the_event() {
    let app = TestApp::spawn().await;
    // Two hours and a few seconds ahead: the two-hour reminder is due in a moment.
    let (owner, event, free) = event_starting_in(&app, "owner@soon.example", 2 * 3600 + 3).await;
    book(&app, booking(&event, json!([{"ticket_type_id": free, "quantity": 1}]), "going@fan.example")).await;
    let gone = book(&app, booking(&event, json!([{"ticket_type_id": free, "quantity": 1}]), "gone@fan.example")).await;
    wait_for_mail(&app, "gone@fan.example").await;
    let (s, _) =
        app.delete(&format!("/api/bookings/{}?token={}", id(&gone), gone["booking_token"].as_str().unwrap()), None).await;
    assert_eq!(s, reqwest::StatusCode::OK);
    let reminder = wait_for(&app, "going@fan.example", "starts in 2 hours").await;
    assert!(reminder.contains("Subject: Soon starts in 2 hours"), "{reminder}");
    due_reminders_ran(&app).await;
    assert!(
        mails_to(&app, "gone@fan.example").iter().all(|m| !m.contains("starts in 2 hours")),
        "no reminder for a cancelled booking"
    );

    // An event moved a day later: its pending reminder follows it instead of going out now.
    let (owner2, moved, free2) = event_starting_in(&app, "owner@moved.example", 2 * 3600 + 3).await;
    book(&app, booking(&moved, json!([{"ticket_type_id": free2, "quantity": 1}]), "moved@fan.example")).await;
    wait_for_mail(&app, "moved@fan.example").await;
    let (_, e) = app.get(&format!("/api/events/{moved}"), None).await;
    let old: chrono::DateTime<chrono::Utc> = e["starts_at"].as_str().unwrap().parse().unwrap();
    let new = old + chrono::TimeDelta::days(1);
    let (s, body) = app
        .put(
            &format!("/api/events/{moved}"),
            Some(&owner2),
            json!({"starts_at": new.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "ends_at": (new + chrono::TimeDelta::hours(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{body}");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    due_reminders_ran(&app).await;
    assert!(
        mails_to(&app, "moved@fan.example").iter().all(|m| !m.contains("starts in 2 hours")),
        "the old time's reminder is not sent"
    );
    let jobs = reminder_jobs(&app).await;
    let rescheduled = jobs
        .iter()
        .find(|(p, _)| p["starts_at"].as_str().and_then(|s| s.parse::<chrono::DateTime<chrono::Utc>>().ok()) == Some(new));
    let (_, due) = rescheduled.expect("a reminder for the new start");
    assert_eq!(*due, new - chrono::TimeDelta::hours(2));
    let _ = owner;
}
