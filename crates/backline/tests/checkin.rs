//! Tickets at the door over HTTP: signed QR codes and the published keys (including rotation
//! and tampering), ticket PDFs rendered by a job and downloaded through a signed link,
//! check-in lists and every scan result, undo, offline batch uploads that can be repeated,
//! concurrent scans of one ticket, and bad input.

mod common;

use std::sync::Arc;

use common::TestApp;
use common::sales::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use ticketing::signing::{self, PublicJwk, VerifyingKey};

/// An event with free GA and VIP types: (owner, staff, org, event, ga id, vip id).
async fn door_setup(app: &TestApp, email: &str) -> (String, String, String, String, String, String) {
    let (owner, org, event) = published_event(app, email).await;
    let staff = app.member(&owner, &org, &format!("door-{email}"), "staff").await;
    let ga = ticket_type(app, &owner, &event, json!({"name": "GA", "price": 0, "currency": "EUR", "capacity": 100})).await;
    let vip = ticket_type(app, &owner, &event, json!({"name": "VIP", "price": 0, "currency": "EUR", "capacity": 20})).await;
    (owner, staff, org, event, id(&ga), id(&vip))
}

/// A confirmed free booking of `quantity` tickets of one type; returns the booking.
async fn tickets(app: &TestApp, event: &str, ticket_type: &str, quantity: i64, email: &str) -> Value {
    let mut body = booking(event, json!([{"ticket_type_id": ticket_type, "quantity": quantity}]), email);
    body["attendees"] = json!([{"name": "Ann Attendee"}]);
    let b = book(app, body).await;
    assert_eq!(b["status"], "confirmed", "{b}");
    b
}

async fn keys_of(app: &TestApp, org: &str) -> Vec<VerifyingKey> {
    let (s, jwks) = app.get(&format!("/api/orgs/{org}/ticket-keys"), None).await;
    assert_eq!(s, StatusCode::OK, "{jwks}");
    let jwks: Vec<PublicJwk> = serde_json::from_value(jwks["keys"].clone()).unwrap();
    jwks.iter().map(|k| k.verifying_key().expect("a well-formed Ed25519 JWK")).collect()
}

async fn scan(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, r) = app.post("/api/checkins", Some(token), body).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r
}

/// Changes one base64url character of the payload part.
fn tamper(qr: &str) -> String {
    let mut b = qr.as_bytes().to_vec();
    let i = 10;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn tickets_carry_qr_codes_that_verify_with_the_published_keys() {
    let app = TestApp::spawn().await;
    let (owner, staff, org, event, ga, _) = door_setup(&app, "o@keys.org").await;
    let b = tickets(&app, &event, &ga, 2, "fan@keys.org").await;
    let t0 = &b["tickets"][0];
    let qr = t0["qr"].as_str().unwrap_or_else(|| panic!("valid tickets carry their QR text: {b}"));
    assert!(qr.starts_with("BL1."), "{qr}");
    assert!(qr.len() <= 213, "fits a version-10 QR code: {} characters", qr.len());
    assert_eq!(t0["code"].as_str().unwrap().len(), 16);

    // A scanner holding nothing but the published keys verifies it offline.
    let keys = keys_of(&app, &org).await;
    assert_eq!(keys.len(), 1);
    let claims = signing::verify(qr, &keys).expect("signature verifies");
    assert_eq!(claims.code, t0["code"].as_str().unwrap());
    assert_eq!(claims.ticket_id.to_string(), t0["id"].as_str().unwrap());
    assert_eq!(claims.event_id.to_string(), event);
    assert_eq!(claims.org_id.to_string(), org);

    // The same ticket shows the same QR text every time.
    let token = b["booking_token"].as_str().unwrap();
    let (_, again) = app.get(&format!("/api/bookings/{}?token={token}", id(&b)), None).await;
    assert_eq!(again["tickets"][0]["qr"], t0["qr"]);

    // A tampered code fails verification, and the door rejects it.
    let forged = tamper(qr);
    assert!(signing::verify(&forged, &keys).is_err());
    let r = scan(&app, &staff, json!({"event_id": event, "code": forged})).await;
    assert_eq!(r["result"], "invalid", "{r}");
    assert_eq!(r["admitted"], false);
    assert_eq!(r["ticket"], Value::Null);

    // Rotation: a new signing key; the old one stays published and old codes still verify.
    let (s, _) = app.post(&format!("/api/orgs/{org}/ticket-keys/rotate"), Some(&staff), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "staff may not rotate keys");
    let (s, rotated) = app.post(&format!("/api/orgs/{org}/ticket-keys/rotate"), Some(&owner), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let keys = keys_of(&app, &org).await;
    assert_eq!(keys.len(), 2);
    assert!(signing::verify(qr, &keys).is_ok(), "tickets signed before the rotation still verify");
    let (_, again) = app.get(&format!("/api/bookings/{}?token={token}", id(&b)), None).await;
    let new_qr = again["tickets"][0]["qr"].as_str().unwrap();
    assert_ne!(new_qr, qr, "shown tickets carry the new signature");
    let (_, kid_new) = signing::read_unverified(new_qr).unwrap();
    assert_eq!(kid_new, rotated["keys"][0]["kid"].as_str().unwrap());
    let r = scan(&app, &staff, json!({"event_id": event, "code": qr})).await;
    assert_eq!(r["result"], "valid", "a code signed with the retired key admits: {r}");

    // Another organization's keys do not verify this organization's tickets.
    let (_, other_org, _) = published_event(&app, "o@other-keys.org").await;
    let other = keys_of(&app, &other_org).await;
    assert!(matches!(signing::verify(new_qr, &other), Err(signing::VerifyError::UnknownKey(_))));
    let (s, _) = app.get(&format!("/api/orgs/{}/ticket-keys", uuid::Uuid::now_v7()), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn check_in_answers_every_case_and_undo_lets_a_ticket_in_again() {
    let app = TestApp::spawn().await;
    let (owner, staff, org, event, ga, vip) = door_setup(&app, "o@door.org").await;
    let viewer = app.member(&owner, &org, "viewer@door.org", "viewer").await;
    let ga_booking = tickets(&app, &event, &ga, 2, "a@fans.org").await;
    let vip_booking = tickets(&app, &event, &vip, 1, "b@fans.org").await;
    let ga_qr = ga_booking["tickets"][0]["qr"].as_str().unwrap().to_string();
    let ga_code2 = ga_booking["tickets"][1]["code"].as_str().unwrap().to_string();
    let vip_qr = vip_booking["tickets"][0]["qr"].as_str().unwrap().to_string();

    // Lists: the VIP lounge admits VIP only; an early door that is not open yet; a closed one.
    let (s, lounge) = app
        .post(
            &format!("/api/events/{event}/checkin-lists"),
            Some(&staff),
            json!({"name": "VIP lounge", "ticket_type_ids": [vip]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{lounge}");
    let lounge = id(&lounge);
    let (_, later) = app
        .post(
            &format!("/api/events/{event}/checkin-lists"),
            Some(&staff),
            json!({"name": "Late door", "opens_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let (_, closed) = app
        .post(
            &format!("/api/events/{event}/checkin-lists"),
            Some(&staff),
            json!({"name": "Matinee", "closes_at": "2020-01-01T00:00:00Z"}),
        )
        .await;

    // Valid, then already checked in with when and where.
    let first = scan(&app, &staff, json!({"event_id": event, "code": ga_qr, "gate": "North"})).await;
    assert_eq!(first["result"], "valid", "{first}");
    assert_eq!(first["admitted"], true);
    assert_eq!(first["ticket"]["ticket_type_name"], "GA");
    assert_eq!(first["ticket"]["attendee_name"], "Ann Attendee");
    assert_eq!(first["list_id"], event, "the default list carries the event's id");
    let second = scan(&app, &staff, json!({"list_id": event, "code": ga_qr, "gate": "South"})).await;
    assert_eq!(second["result"], "already_checked_in", "{second}");
    assert_eq!(second["admitted"], false);
    assert_eq!(second["previous"]["gate"], "North");
    assert_eq!(second["previous"]["checkin_id"], first["id"]);
    assert!(second["message"].as_str().unwrap().contains("North"), "{second}");

    // The ticket shows when it came in.
    let token = ga_booking["booking_token"].as_str().unwrap();
    let (_, b) = app.get(&format!("/api/bookings/{}?token={token}", id(&ga_booking)), None).await;
    assert!(b["tickets"][0]["checked_in_at"].is_string(), "{b}");
    assert_eq!(b["tickets"][1]["checked_in_at"], Value::Null);

    // Per list: the lounge admits VIP, turns GA away; a typed code with dashes and lower case works.
    let r = scan(&app, &staff, json!({"list_id": lounge, "code": ga_qr})).await;
    assert_eq!(r["result"], "wrong_ticket_type", "{r}");
    let r = scan(&app, &staff, json!({"list_id": lounge, "code": vip_qr})).await;
    assert_eq!(r["result"], "valid", "{r}");
    let typed = format!("{}-{}", &ga_code2[..8], &ga_code2[8..]).to_lowercase();
    let r = scan(&app, &staff, json!({"event_id": event, "code": typed})).await;
    assert_eq!(r["result"], "valid", "typed codes are normalized: {r}");

    // Opening hours.
    let r = scan(&app, &staff, json!({"list_id": id(&later), "code": vip_qr})).await;
    assert_eq!(r["result"], "not_yet_valid", "{r}");
    let r = scan(&app, &staff, json!({"list_id": id(&closed), "code": vip_qr})).await;
    assert_eq!(r["result"], "closed", "{r}");

    // Another event of the same organization; an unknown code; a cancelled ticket.
    let other_event = new_event(&app, &owner, &org, "published").await;
    let other_type =
        ticket_type(&app, &owner, &other_event, json!({"name": "Other", "price": 0, "currency": "EUR", "capacity": 5})).await;
    let other = tickets(&app, &other_event, &id(&other_type), 1, "c@fans.org").await;
    let r = scan(&app, &staff, json!({"event_id": event, "code": other["tickets"][0]["qr"]})).await;
    assert_eq!(r["result"], "wrong_event", "{r}");
    let r = scan(&app, &staff, json!({"event_id": event, "code": "0000000000000000"})).await;
    assert_eq!(r["result"], "unknown", "{r}");
    let cancelled = tickets(&app, &event, &ga, 1, "d@fans.org").await;
    let (s, _) = app.delete(&format!("/api/bookings/{}", id(&cancelled)), Some(&staff)).await;
    assert_eq!(s, StatusCode::OK);
    let r = scan(&app, &staff, json!({"event_id": event, "code": cancelled["tickets"][0]["qr"]})).await;
    assert_eq!(r["result"], "cancelled", "{r}");

    // Another organization's staff cannot scan into this event; a viewer cannot scan.
    let (other_owner, _) = app.owner_with_org("o@elsewhere.org", "Elsewhere").await;
    let (s, _) = app.post("/api/checkins", Some(&other_owner), json!({"event_id": event, "code": ga_code2})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.post("/api/checkins", Some(&viewer), json!({"event_id": event, "code": ga_code2})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.post(&format!("/api/checkins/{}/undo", id(&first)), Some(&viewer), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Undo: the ticket can come in again; undoing twice, or a non-admission, is a conflict.
    let (s, undone) = app.post(&format!("/api/checkins/{}/undo", id(&first)), Some(&staff), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{undone}");
    assert!(undone["undone_at"].is_string());
    assert_eq!(undone["admitted"], false);
    let (s, e) = app.post(&format!("/api/checkins/{}/undo", id(&first)), Some(&staff), json!({})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_undoable")));
    let (s, _) = app.post(&format!("/api/checkins/{}/undo", id(&second)), Some(&staff), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, b) = app.get(&format!("/api/bookings/{}?token={token}", id(&ga_booking)), None).await;
    assert_eq!(b["tickets"][0]["checked_in_at"], Value::Null, "undo clears the admission time");
    let again = scan(&app, &staff, json!({"event_id": event, "code": ga_qr})).await;
    assert_eq!(again["result"], "valid", "{again}");

    // Progress: GA 2 of 2 valid (one cancelled is not expected), VIP 0 of 1 on the default list.
    let (s, status) = app.get(&format!("/api/checkin-lists/{event}/status"), Some(&viewer)).await;
    assert_eq!(s, StatusCode::OK, "{status}");
    assert_eq!((status["expected"].as_i64(), status["checked_in"].as_i64()), (Some(3), Some(2)), "{status}");
    let (_, lounge_status) = app.get(&format!("/api/checkin-lists/{lounge}/status"), Some(&viewer)).await;
    assert_eq!((lounge_status["expected"].as_i64(), lounge_status["checked_in"].as_i64()), (Some(1), Some(1)));

    // The undo is in the audit trail.
    let (s, logs) = app.get(&format!("/api/audit/logs/checkin:{}", id(&first)), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK, "{logs}");
    assert!(logs["items"].as_array().unwrap().iter().any(|l| l["action"] == "checkin.undone"), "{logs}");

    // Lists: read, change, delete.
    let (s, lists) = app.get(&format!("/api/events/{event}/checkin-lists"), Some(&viewer)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(lists.as_array().unwrap().len(), 4, "{lists}");
    let (s, changed) =
        app.put(&format!("/api/checkin-lists/{lounge}"), Some(&staff), json!({"name": "Lounge", "ticket_type_ids": []})).await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["ticket_type_ids"], json!([]));
    let (s, _) = app.delete(&format!("/api/checkin-lists/{}", id(&closed)), Some(&staff)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/api/checkin-lists/{}", id(&closed)), Some(&staff)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_offline_batch_can_be_uploaded_again_without_a_second_effect() {
    let app = TestApp::spawn().await;
    let (_, staff, _, event, ga, _) = door_setup(&app, "o@offline.org").await;
    let b = tickets(&app, &event, &ga, 2, "a@offline.org").await;
    let (c1, c2) = (b["tickets"][0]["code"].as_str().unwrap(), b["tickets"][1]["code"].as_str().unwrap());
    let batch = json!({"scans": [
        {"event_id": event, "code": c1, "scan_id": "dev1-0001", "scanned_at": "2026-01-01T19:00:00Z", "gate": "Gate 1"},
        {"event_id": event, "code": c1, "scan_id": "dev2-0001", "scanned_at": "2026-01-01T19:05:00Z", "gate": "Gate 2"},
        {"event_id": event, "code": b["tickets"][1]["qr"], "scan_id": "dev1-0002", "scanned_at": "2026-01-01T19:06:00Z"},
    ]});
    let (s, first) = app.post("/api/checkins/batch", Some(&staff), batch.clone()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let results: Vec<&str> = first["results"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["valid", "already_checked_in", "valid"]);
    assert_eq!(first["results"][0]["scanned_at"], "2026-01-01T19:00:00Z");
    assert_eq!(first["results"][1]["previous"]["gate"], "Gate 1");

    // The upload is repeated (the scanner never saw the answer): same answers, nothing new.
    let (s, second) = app.post("/api/checkins/batch", Some(&staff), batch).await;
    assert_eq!(s, StatusCode::OK, "{second}");
    for (a, b) in first["results"].as_array().unwrap().iter().zip(second["results"].as_array().unwrap()) {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["result"], b["result"]);
        assert_eq!(b["replayed"], true);
    }
    let (_, status) = app.get(&format!("/api/checkin-lists/{event}/status"), Some(&staff)).await;
    assert_eq!(status["checked_in"], 2, "{status}");

    // The ticket list an offline scanner downloads shows who is in.
    let (s, page) = app.get(&format!("/api/checkin-lists/{event}/tickets?limit=1"), Some(&staff)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["items"][0]["checked_in_at"].is_string(), "{page}");
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, page2) = app.get(&format!("/api/checkin-lists/{event}/tickets?limit=1&cursor={cursor}"), Some(&staff)).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_ne!(page2["items"][0]["id"], page["items"][0]["id"]);

    // A scan id reused for another code is refused; a batch scan without an id is bad input.
    let (s, e) = app.post("/api/checkins", Some(&staff), json!({"event_id": event, "code": c2, "scan_id": "dev1-0001"})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("scan_id_reused")), "{e}");
    let (s, e) = app.post("/api/checkins/batch", Some(&staff), json!({"scans": [{"event_id": event, "code": c2}]})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("scans[0].scan_id")), "{e}");
    let (s, e) = app.post("/api/checkins/batch", Some(&staff), json!({"scans": []})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("scans")));
}

#[tokio::test]
async fn concurrent_scans_of_one_ticket_admit_it_once() {
    let app = Arc::new(TestApp::spawn().await);
    let (_, staff, _, event, ga, _) = door_setup(&app, "o@crowd.org").await;
    let b = tickets(&app, &event, &ga, 1, "a@crowd.org").await;
    let qr = b["tickets"][0]["qr"].as_str().unwrap().to_string();
    // Create the default list first, then let 20 doors scan at once.
    scan(&app, &staff, json!({"event_id": event, "code": "0000000000000000"})).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (app, staff, event, qr) = (app.clone(), staff.clone(), event.clone(), qr.clone());
        tasks.push(tokio::spawn(async move {
            let r = scan(&app, &staff, json!({"event_id": event, "code": qr, "gate": format!("door {i}")})).await;
            r["result"].as_str().unwrap().to_string()
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(results.iter().filter(|r| *r == "valid").count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| *r == "already_checked_in").count(), 19, "{results:?}");
}

#[tokio::test]
async fn the_ticket_pdf_is_rendered_by_a_job_and_downloaded_through_a_signed_link() {
    let app = TestApp::spawn().await;
    let (owner, staff, _, event, ga, _) = door_setup(&app, "o@pdf.org").await;
    let b = tickets(&app, &event, &ga, 2, "a@pdf.org").await;
    let token = b["booking_token"].as_str().unwrap();
    let path = format!("/api/bookings/{}/ticket", id(&b));
    let (s, _) = app.get(&format!("{path}?token={token}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing asked for yet");

    let (s, doc) = app.post(&format!("{path}?token={token}"), None, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{doc}");
    assert_eq!(doc["status"], "pending");
    let mut ready = Value::Null;
    for _ in 0..200 {
        let (_, d) = app.get(&format!("{path}?token={token}"), None).await;
        if d["status"] != "pending" {
            ready = d;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["pages"], 2);
    // The link is absolute on `server.public_url`; the test server listens on another port.
    let url = ready["url"].as_str().unwrap();
    let path_and_query = &url[url.find("/api/files/signed/").expect("a local signed link")..];
    let url = app.url(path_and_query);
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(bytes.len() as i64, ready["bytes"].as_i64().unwrap());
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Ann Attendee"), "the attendee is on the ticket");
    assert!(text.contains("(Europe/Berlin)"), "the time is in the event's zone");
    assert!(text.contains(b["tickets"][0]["code"].as_str().unwrap()));
    let tampered = url.replace("sig=", "sig=00");
    assert_eq!(app.client.get(&tampered).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // Staff may ask too; strangers and pending bookings may not.
    let (s, _) = app.post(&path, Some(&staff), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (stranger, _) = app.register("stranger@pdf.org").await;
    let (s, _) = app.post(&path, Some(&stranger), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let paid = ticket_type(&app, &owner, &event, json!({"name": "Paid", "price": 1500, "currency": "EUR", "capacity": 5})).await;
    let pending = book(&app, booking(&event, json!([{"ticket_type_id": id(&paid), "quantity": 1}]), "p@pdf.org")).await;
    let (s, e) = app
        .post(
            &format!("/api/bookings/{}/ticket?token={}", id(&pending), pending["booking_token"].as_str().unwrap()),
            None,
            json!({}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_confirmed")));
}

#[tokio::test]
async fn bad_check_in_input_gets_clear_4xx() {
    let app = TestApp::spawn().await;
    let (owner, staff, org, event, _, _) = door_setup(&app, "o@bad-door.org").await;
    let other_event = new_event(&app, &owner, &org, "published").await;
    let foreign =
        ticket_type(&app, &owner, &other_event, json!({"name": "X", "price": 0, "currency": "EUR", "capacity": 1})).await;
    let lists = format!("/api/events/{event}/checkin-lists");
    let cases = [
        (json!({"event_id": event, "code": "  "}), "code"),
        (json!({"event_id": event, "code": "not a code!"}), "code"),
        (json!({"event_id": event, "list_id": event, "code": "ABC"}), "event_id"),
        (json!({"code": "ABC"}), "list_id"),
        (json!({"event_id": event, "code": "ABC", "scanned_at": "2100-01-01T00:00:00Z"}), "scanned_at"),
        (json!({"event_id": event, "code": "ABC", "scan_id": "has space"}), "scan_id"),
        (json!({"event_id": event, "code": "ABC", "gate": "g".repeat(101)}), "gate"),
    ];
    for (body, field) in cases {
        let (s, e) = app.post("/api/checkins", Some(&staff), body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {e}");
        assert_eq!(e["field"], field, "{body} → {e}");
    }
    let (s, e) = app.post("/api/checkins", Some(&staff), json!({"event_id": "nope", "code": "ABC"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _) = app.post("/api/checkins", Some(&staff), json!({"list_id": uuid::Uuid::now_v7(), "code": "ABC"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let list_cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "Door", "ticket_type_ids": [id(&foreign)]}), "ticket_type_ids[0]"),
        (json!({"name": "Door", "session_id": uuid::Uuid::now_v7()}), "session_id"),
        (json!({"name": "Door", "opens_at": "2030-01-02T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"}), "closes_at"),
    ];
    for (body, field) in list_cases {
        let (s, e) = app.post(&lists, Some(&staff), body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {e}");
        assert_eq!(e["field"], field, "{body} → {e}");
    }
    let (s, _) = app.post(&lists, None, json!({"name": "Door"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
