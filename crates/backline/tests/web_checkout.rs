//! Buying in the browser: the event page's form starts a booking (free ones confirm at
//! once), the booking page holds, counts down, takes names and the test card, and shows the
//! tickets as inline SVG QR codes; a double submit books and charges once; declined cards,
//! expired holds and sold-out types each say so and offer a way on; the waitlist offer link
//! from the email opens a page that accepts it.

mod common;

use common::TestApp;
use common::browser::{Browser, unescape};
use common::sales::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A published event with a priced type (capacity `seats`) and a free one; (owner, event,
/// paid type, free type).
async fn shop(app: &TestApp, seats: i64) -> (String, String, String, String) {
    let (owner, _, event) = published_event(app, "owner@checkout.example").await;
    let paid = ticket_type(app, &owner, &event, json!({"name": "Standing", "price": 2500, "currency": "EUR"})).await;
    quota(app, &owner, &event, json!({"name": "Floor", "capacity": seats, "ticket_type_ids": [id(&paid)]})).await;
    let free = ticket_type(app, &owner, &event, json!({"name": "Stream", "price": 0, "currency": "EUR", "capacity": 100})).await;
    (owner, event, id(&paid), id(&free))
}

/// Chooses tickets on the event page and submits; the answer to the checkout form.
async fn checkout(b: &mut Browser<'_>, event: &str, picks: &[(&str, &str)], email: &str) -> common::browser::Answer {
    b.open(&format!("/events/{event}")).await;
    let mut fields: Vec<(String, String)> = picks.iter().map(|(t, n)| (format!("qty.{t}"), n.to_string())).collect();
    fields.push(("buyer_name".into(), "Robin Fan".into()));
    fields.push(("buyer_email".into(), email.into()));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.submit(&format!("/events/{event}/checkout"), &pairs).await
}

async fn bookings_of(app: &TestApp, owner: &str, event: &str) -> Vec<Value> {
    let (s, page) = app.get(&format!("/api/events/{event}/bookings"), Some(owner)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_free_ticket_is_confirmed_at_once_with_its_qr_code() {
    let app = TestApp::spawn().await;
    let (owner, event, _, free) = shop(&app, 10).await;
    let mut b = Browser::new(&app);
    let a = checkout(&mut b, &event, &[(&free, "2")], "free@fan.example").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let html = b.follow(&a).await;
    assert!(html.contains("You're in!") || html.contains("You&#x27;re in!"), "{html}");
    assert_eq!(html.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=").count(), 2, "one QR per admission");
    let booked = bookings_of(&app, &owner, &event).await;
    assert_eq!(booked.len(), 1);
    let (_, full) = app.get(&format!("/api/bookings/{}", booked[0]["id"].as_str().unwrap()), Some(&owner)).await;
    for t in full["tickets"].as_array().unwrap() {
        let code = t["code"].as_str().unwrap();
        assert!(html.contains(&format!("aria-label=\"QR code of ticket {code}\"")), "{code} is shown");
    }
    // The buyer may give a free booking back.
    let a = b.submit(&format!("/bookings/{}/cancel", booked[0]["id"].as_str().unwrap()), &[]).await;
    let html = b.follow(&a).await;
    assert!(html.contains("This order was cancelled."), "{html}");
}

#[tokio::test]
async fn a_paid_booking_holds_takes_names_declines_a_bad_card_then_confirms_once() {
    let app = TestApp::spawn().await;
    let (owner, event, paid, _) = shop(&app, 10).await;
    let mut b = Browser::new(&app);
    let a = checkout(&mut b, &event, &[(&paid, "2")], "paid@fan.example").await;
    // The same form sent twice (a double click) makes one booking, and lands on the same page.
    let form = common::browser::form_hidden(&b.html, &format!("/events/{event}/checkout")).unwrap();
    let again = {
        let mut fields = form.clone();
        fields.push((format!("qty.{paid}"), "2".into()));
        fields.push(("buyer_name".into(), "Robin Fan".into()));
        fields.push(("buyer_email".into(), "paid@fan.example".into()));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        b.post(&format!("/events/{event}/checkout"), &pairs).await
    };
    assert_eq!(again.location, a.location, "a replay answers the first redirect");
    assert_eq!(bookings_of(&app, &owner, &event).await.len(), 1);

    let booking_url = unescape(a.location.as_deref().unwrap());
    let html = b.open(&booking_url).await;
    assert!(html.contains("Your tickets are held for you.") && html.contains("class=\"countdown\" data-until="), "{html}");
    assert!(html.contains("Test mode — no real money is charged."), "the test provider is marked");
    let bid = booking_url.trim_start_matches("/bookings/").split('?').next().unwrap().to_string();

    let a = b.submit(&format!("/bookings/{bid}/details"), &[("attendee.0", "Robin"), ("attendee.1", "Sam")]).await;
    let html = b.follow(&a).await;
    assert!(html.contains("value=\"Robin\"") && html.contains("value=\"Sam\""), "{html}");

    let a = b.submit(&format!("/bookings/{bid}/pay"), &[("card", "4000 0000 0000 0002")]).await;
    assert!(a.location.as_deref().unwrap().contains("problem=card_declined"), "{:?}", a.location);
    let html = b.follow(&a).await;
    assert!(html.contains("The card was declined. Try another card."), "{html}");

    let pay_form = common::browser::form_hidden(&b.html, &format!("/bookings/{bid}/pay")).unwrap();
    let a = b.submit(&format!("/bookings/{bid}/pay"), &[("card", "4242 4242 4242 4242")]).await;
    assert!(a.location.as_deref().unwrap().contains("paid=1"), "{:?}", a.location);
    // The pay form sent again is answered from the first attempt: one charge.
    let pairs: Vec<(String, String)> =
        pay_form.into_iter().chain([("card".to_string(), "4242 4242 4242 4242".to_string())]).collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replay = b.post(&format!("/bookings/{bid}/pay"), &pairs).await;
    assert_eq!(replay.location, a.location);
    let to = unescape(a.location.as_deref().unwrap());
    // While the confirmation is on its way the page refreshes itself; it then shows the tickets.
    let mut html = b.open(&to).await;
    for _ in 0..200 {
        if html.contains("Your tickets are below") {
            break;
        }
        assert!(html.contains("http-equiv=\"refresh\""), "the confirming page reloads itself: {html}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        html = b.open(&to).await;
    }
    assert_eq!(html.matches("role=\"img\" aria-label=\"QR code of ticket").count(), 2, "{html}");
    let (_, booked) = app.get(&format!("/api/bookings/{bid}"), Some(&owner)).await;
    let org = booked["org_id"].as_str().unwrap();
    let (_, payments) = app.get(&format!("/api/payments/history?org_id={org}&reference=booking:{bid}"), Some(&owner)).await;
    let succeeded: Vec<_> = payments["items"].as_array().unwrap().iter().filter(|p| p["status"] == "succeeded").collect();
    assert_eq!(succeeded.len(), 1, "{payments}");
    // The PDF button leads to the file once it is rendered.
    let mut link = None;
    for _ in 0..100 {
        let a = b.submit(&format!("/bookings/{bid}/pdf"), &[]).await;
        if a.status == StatusCode::SEE_OTHER {
            link = a.location;
            break;
        }
        assert_eq!(a.status, StatusCode::ACCEPTED);
        b.open(&to).await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let link = link.expect("the PDF is ready");
    // The link is absolute on `server.public_url`, which tests leave at its default.
    let link = app.url(&link[link.find("/api/").unwrap()..]);
    let pdf = reqwest::get(link).await.unwrap().bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
}

#[tokio::test]
async fn an_expired_hold_says_so_and_cannot_be_paid() {
    let app = TestApp::spawn().await;
    let (owner, event, paid, _) = shop(&app, 10).await;
    settings(&app, &owner, &event, json!({"hold_seconds": 1})).await;
    let mut b = Browser::new(&app);
    let a = checkout(&mut b, &event, &[(&paid, "1")], "late@fan.example").await;
    let url = unescape(a.location.as_deref().unwrap());
    let html = b.open(&url).await;
    let bid = url.trim_start_matches("/bookings/").split('?').next().unwrap().to_string();
    let token = url.split("token=").nth(1).unwrap().to_string();
    common::payments::wait_booking_status(&app, &bid, &token, "expired").await;
    let form = common::browser::form_hidden(&html, &format!("/bookings/{bid}/pay")).unwrap();
    let html = b.open(&url).await;
    assert!(html.contains("ran out before payment"), "{html}");
    assert!(html.contains("Choose tickets again") && !html.contains("Card number"), "{html}");
    // A pay form still open in another tab gets a clear answer, not a charge.
    let fields: Vec<(String, String)> = form.into_iter().chain([("card".to_string(), "4242424242424242".to_string())]).collect();
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = b.post(&format!("/bookings/{bid}/pay"), &pairs).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.body.contains("can no longer be paid"), "{}", a.body);
    assert!(unescape(&a.body).contains(&format!("href=\"/bookings/{bid}?token=")), "a way back");
}

#[tokio::test]
async fn sold_out_types_say_so_offer_the_waitlist_and_the_emailed_offer_link_works() {
    let app = TestApp::spawn().await;
    let (owner, event, paid, _) = shop(&app, 1).await;
    let mut first = Browser::new(&app);
    let a = checkout(&mut first, &event, &[(&paid, "1")], "first@fan.example").await;
    let first_url = unescape(a.location.as_deref().unwrap());
    let mut second = Browser::new(&app);
    second.open(&format!("/events/{event}")).await;
    let html = second.html.clone();
    assert!(html.contains("Sold out — join the waitlist"), "{html}");
    assert!(!html.contains(&format!("name=\"qty.{paid}\"")), "a sold-out type has no quantity field");
    // A form opened before the last seat went says why it failed, with a way back.
    let a = checkout(&mut Browser::new(&app), &event, &[], "nobody@fan.example").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("<p>Choose at least one ticket.</p>"), "{}", a.body);

    let a = second.submit(&format!("/events/{event}/waitlist"), &[("name", "Second"), ("email", "second@fan.example")]).await;
    let wait_url = unescape(a.location.as_deref().unwrap());
    let html = second.open(&wait_url).await;
    assert!(html.contains("You are on the waitlist: number 1 in line."), "{html}");

    // The first buyer gives up; the seat is offered to the waitlist by email.
    first.open(&first_url).await;
    let bid = first_url.trim_start_matches("/bookings/").split('?').next().unwrap().to_string();
    let a = first.submit(&format!("/bookings/{bid}/cancel"), &[]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let marker = "/waitlist/";
    let entry_and_token = app.wait_for_token("second@fan.example", "Accept or decline here: ").await;
    assert!(entry_and_token.starts_with("http"), "{entry_and_token}");
    let mail = std::fs::read_dir(app.mail_dir())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap().replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
        .find(|m| m.contains("Accept or decline here:"))
        .unwrap();
    let link = mail.split("Accept or decline here: ").nth(1).unwrap().split_whitespace().next().unwrap();
    let path = &link[link.find(marker).unwrap()..];
    let html = second.open(path).await;
    assert!(html.contains("A ticket is held for you."), "{html}");
    let a = second.submit(&format!("{}/accept", path.split('?').next().unwrap()), &[]).await;
    let html = second.follow(&a).await;
    assert!(html.contains("Your tickets are held for you."), "the accepted offer is a held booking: {html}");
    let _ = owner;
}

#[tokio::test]
async fn with_stripe_the_booking_page_sends_the_buyer_to_stripe_checkout_and_back() {
    use common::payments::{StripeDouble, stripe_config, use_stripe};
    let double = StripeDouble::start().await;
    let app = TestApp::spawn_with(stripe_config(&double.url, 3)).await;
    let shop = common::payments::shop(&app, "stripe@checkout.example", 4500, 5).await;
    // The admin picks Stripe on the payment settings page (it is offered: the server has keys).
    let mut admin = Browser::new(&app);
    admin.open("/sign-in").await;
    admin.submit("/sign-in", &[("email", "stripe@checkout.example"), ("password", "correct horse battery")]).await;
    let settings = admin.open(&format!("/manage/orgs/{}/payments", shop.org)).await;
    assert!(!settings.contains("has no Stripe keys"), "{settings}");
    let a =
        admin.submit(&format!("/manage/orgs/{}/payments", shop.org), &[("provider", "stripe"), ("offline_enabled", "yes")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let (_, s) = app.get(&format!("/api/orgs/{}/payment-settings", shop.org), Some(&shop.owner)).await;
    assert_eq!((s["provider"].as_str(), s["offline_enabled"].as_bool()), (Some("stripe"), Some(true)), "{s}");
    use_stripe(&app, &shop).await;

    let mut b = Browser::new(&app);
    let a = checkout(&mut b, &shop.event, &[(&shop.ticket_type, "1")], "card@checkout.example").await;
    let url = unescape(a.location.as_deref().unwrap());
    let html = b.open(&url).await;
    assert!(html.contains("securely with Stripe") && !html.contains("Card number"), "{html}");
    assert!(html.contains("Or pay by bank transfer"), "bank transfer is offered too: {html}");
    let bid = url.trim_start_matches("/bookings/").split('?').next().unwrap().to_string();
    let a = b.submit(&format!("/bookings/{bid}/pay"), &[]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(a.location.as_deref().unwrap().starts_with("https://checkout.stripe.test/"), "{:?}", a.location);
    let seen = &double.seen("/v1/checkout/sessions")[0];
    // `server.public_url` is left at its default in tests.
    assert_eq!(
        seen.form["success_url"],
        format!("http://127.0.0.1:8080{url}"),
        "Stripe sends the buyer back to the booking page"
    );
}

#[tokio::test]
async fn a_ticket_qr_code_downloads_as_an_image_for_its_buyer_only() {
    let app = TestApp::spawn().await;
    let (_, event, _, free) = shop(&app, 10).await;
    let mut b = Browser::new(&app);
    let a = checkout(&mut b, &event, &[(&free, "1")], "image@fan.example").await;
    let html = b.follow(&a).await;
    let link = unescape(html.split("href=\"/bookings/").nth(1).map(|s| s.split('"').next().unwrap()).unwrap());
    let link = format!("/bookings/{link}");
    assert!(link.contains("/qr/") && link.contains("token="), "{link}");
    let img = b.get(&link).await;
    assert_eq!(img.status, StatusCode::OK);
    assert_eq!(img.headers["content-type"], "image/svg+xml");
    assert!(img.headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"ticket-"));
    assert!(img.body.starts_with("<svg"));
    // Without the token it is nobody's business.
    let anonymous = Browser::new(&app).get(link.split('?').next().unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_calendar_entry_links_to_the_event_page() {
    let app = TestApp::spawn().await;
    let (_, event, _, _) = shop(&app, 10).await;
    let ical = app.client.get(app.url(&format!("/api/events/{event}/ical"))).send().await.unwrap().text().await.unwrap();
    let unfolded = ical.replace("\r\n ", "");
    let url = unfolded.lines().find_map(|l| l.strip_prefix("URL:")).expect("the entry has a URL").trim().to_string();
    let path = &url[url.find("/events/").expect("it is the event page")..];
    let html = Browser::new(&app).open(path).await;
    assert!(html.contains("<h1>On Sale</h1>"), "{html}");
}
