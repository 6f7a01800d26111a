//! Shorthands for tests that sell tickets: an organization with a published event, ticket
//! types, quotas, bookings, settings, and bounded polling.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::TestApp;

/// An organization with a published event: (owner token, org id, event id).
pub async fn published_event(app: &TestApp, email: &str) -> (String, String, String) {
    let (token, org) = app.owner_with_org(email, &format!("Org of {email}")).await;
    let event = new_event(app, &token, &org, "published").await;
    (token, org, event)
}

pub async fn new_event(app: &TestApp, token: &str, org: &str, status: &str) -> String {
    let (s, e) = app
        .post(
            "/api/events",
            Some(token),
            json!({"org_id": org, "name": "On Sale", "time_zone": "Europe/Berlin", "status": status,
                   "starts_at": "2030-06-01T18:00:00Z", "ends_at": "2030-06-01T23:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    e["id"].as_str().unwrap().to_string()
}

pub async fn ticket_type(app: &TestApp, token: &str, event: &str, body: Value) -> Value {
    let (s, t) = app.post(&format!("/api/events/{event}/ticket-types"), Some(token), body).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t
}

pub async fn quota(app: &TestApp, token: &str, event: &str, body: Value) -> Value {
    let (s, q) = app.post(&format!("/api/events/{event}/quotas"), Some(token), body).await;
    assert_eq!(s, StatusCode::CREATED, "{q}");
    q
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// A booking request body.
pub fn booking(event: &str, positions: Value, email: &str) -> Value {
    json!({"event_id": event, "positions": positions, "buyer_email": email, "buyer_name": "Buyer"})
}

/// Books and expects `201`; returns the booking.
pub async fn book(app: &TestApp, body: Value) -> Value {
    let (s, b) = app.post("/api/bookings", None, body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

pub async fn settings(app: &TestApp, token: &str, event: &str, body: Value) -> Value {
    let (s, v) = app.put(&format!("/api/events/{event}/ticketing-settings"), Some(token), body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

pub async fn quota_taken(app: &TestApp, token: &str, event: &str, quota: &str) -> i64 {
    let (s, qs) = app.get(&format!("/api/events/{event}/quotas"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{qs}");
    qs.as_array().unwrap().iter().find(|q| q["id"] == quota).unwrap()["taken"].as_i64().unwrap()
}

/// Polls (bounded: 15 s) until `f` is true.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
