//! The organizer pages over HTTP: an organizer builds an event (times typed in its zone,
//! two types sharing a quota), publishes it and sees the sale; every page walked as every
//! role answers what the API would (viewers read, staff edit, admins manage the team,
//! outsiders find nothing); and the event page and the orders list make a fixed number of
//! database queries however many bookings there are.

mod common;

use common::TestApp;
use common::browser::{Browser, unescape};
use common::sales::*;
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// A form, its fields, and the status for owner, admin, staff, viewer and outsider.
type FormCase<'a> = (&'a str, &'a [(&'a str, &'a str)], [u16; 5]);

async fn signed_in<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    b.open("/sign-in").await;
    let a = b.submit("/sign-in", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    b
}

#[tokio::test]
async fn an_organizer_builds_publishes_and_sees_the_sale() {
    let app = TestApp::spawn().await;
    app.register("maker@org.example").await;
    let mut b = signed_in(&app, "maker@org.example").await;
    assert!(b.open("/manage").await.contains("You are not in an organization yet."));
    let a = b.submit("/manage/orgs", &[("name", "Makers")]).await;
    let dashboard = a.location.clone().unwrap();
    b.open(&dashboard).await;
    let org = dashboard.trim_start_matches("/manage/orgs/").to_string();
    let a = b
        .submit(
            &format!("/manage/orgs/{org}/events"),
            &[
                ("name", "Roof Party"),
                ("starts_at", "2031-07-04T20:00"),
                ("ends_at", "2031-07-04T23:30"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    let editor = a.location.clone().unwrap_or_else(|| panic!("{}", a.body));
    let event = editor.trim_start_matches("/manage/events/").to_string();
    let (s, _) = app.get(&format!("/api/events/{event}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a draft is not public");
    b.open(&editor).await;
    for (name, price) in [("Early", "19.50"), ("Regular", "25")] {
        let a = b
            .submit(
                &format!("/manage/events/{event}/ticket-types"),
                &[("name", name), ("price", price), ("currency", "EUR"), ("capacity", "")],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        b.open(&editor).await;
    }
    let html = b.html.clone();
    assert!(html.contains("none — not bookable yet"), "types without a quota say so: {html}");
    let type_ids: Vec<String> = html.split("name=\"type.").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect();
    assert_eq!(type_ids.len(), 2);
    let mut fields = vec![("name".to_string(), "Roof".to_string()), ("capacity".to_string(), "80".to_string())];
    fields.extend(type_ids.iter().map(|t| (format!("type.{t}"), "on".to_string())));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = b.submit(&format!("/manage/events/{event}/quotas"), &pairs).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let html = b.open(&editor).await;
    assert!(html.contains("shared by Early, Regular"), "the shared pool is shown as such: {html}");
    let a = b.submit(&format!("/manage/events/{event}/status"), &[("status", "published")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let (_, e) = app.get(&format!("/api/events/{event}"), None).await;
    assert_eq!(e["status"], "published");
    assert_eq!(e["starts_at"], "2031-07-04T18:00:00Z", "20:00 in Berlin in summer");
    let (_, types) = app.get(&format!("/api/events/{event}/ticket-types"), None).await;
    let early = types.as_array().unwrap().iter().find(|t| t["name"] == "Early").unwrap().clone();
    assert_eq!(early["price"], 1950);

    // A fan buys; the dashboard shows today's sale and the event's numbers.
    let mut fan = Browser::new(&app);
    fan.open(&format!("/events/{event}")).await;
    let qty = format!("qty.{}", early["id"].as_str().unwrap());
    let a = fan
        .submit(&format!("/events/{event}/checkout"), &[(&qty, "2"), ("buyer_name", "Fan"), ("buyer_email", "fan@org.example")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let bid = unescape(a.location.as_deref().unwrap()).trim_start_matches("/bookings/").split('?').next().unwrap().to_string();
    b.open(&format!("/manage/bookings/{bid}")).await;
    let a = b.submit(&format!("/manage/bookings/{bid}/mark-paid"), &[("reference", "SEPA 42")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let html = b.open(&dashboard).await;
    assert!(html.contains("id=\"today-sales\">2<"), "{html}");
    assert!(html.contains("2 / 80"), "sold of capacity: {html}");
    assert!(html.contains("net revenue (EUR)"), "revenue per currency from the ledger: {html}");
    assert!(html.contains("<svg class=\"chart\""), "the sales chart is drawn on the server");

    // The orders page finds the booking; its CSV export is complete.
    let html = b.open(&format!("/manage/events/{event}/orders?q=fan%40org.example")).await;
    assert!(html.contains("fan@org.example"), "{html}");
    let csv = b.get(&format!("/manage/events/{event}/orders.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "a header and the one position: {}", csv.body);
    assert!(lines[1].contains("fan@org.example") && lines[1].contains("SEPA 42"), "{}", csv.body);

    // Cancelling the event needs the confirmation box.
    b.open(&editor).await;
    let a = b.submit(&format!("/manage/events/{event}/status"), &[("status", "cancelled")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("Tick the box to confirm the cancellation."), "{}", a.body);
    b.open(&editor).await;
    let a = b.submit(&format!("/manage/events/{event}/status"), &[("status", "cancelled"), ("confirm", "yes")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
}

/// What each role gets: (page or form, owner, admin, staff, viewer, outsider).
#[tokio::test]
async fn every_page_enforces_the_roles_the_api_enforces() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("owner@roles.example", "Roles").await;
    for (email, role) in [("admin@roles.example", "admin"), ("staff@roles.example", "staff"), ("viewer@roles.example", "viewer")]
    {
        app.member(&owner, &org, email, role).await;
    }
    app.register("outsider@roles.example").await;
    let event = new_event(&app, &owner, &org, "published").await;
    let tt = ticket_type(&app, &owner, &event, json!({"name": "GA", "price": 1000, "currency": "EUR", "capacity": 50})).await;
    let booking = book(&app, booking(&event, json!([{"ticket_type_id": id(&tt), "quantity": 1}]), "buyer@roles.example")).await;
    let bid = id(&booking);

    let mut browsers = Vec::new();
    for email in ["owner", "admin", "staff", "viewer", "outsider"] {
        browsers.push((email, signed_in(&app, &format!("{email}@roles.example")).await));
    }
    let gets = [
        (format!("/manage/orgs/{org}"), [200, 200, 200, 200, 404]),
        (format!("/manage/orgs/{org}/team"), [200, 200, 200, 200, 404]),
        (format!("/manage/events/{event}"), [200, 200, 200, 200, 404]),
        (format!("/manage/events/{event}/orders"), [200, 200, 200, 200, 404]),
        (format!("/manage/events/{event}/orders.csv"), [200, 200, 200, 200, 404]),
        (format!("/manage/bookings/{bid}"), [200, 200, 200, 200, 404]),
        (format!("/scan/{event}"), [200, 200, 200, 403, 404]),
        (format!("/scan/{event}/data"), [200, 200, 200, 403, 404]),
    ];
    for (path, expected) in &gets {
        for ((who, b), want) in browsers.iter_mut().zip(expected) {
            let a = b.get(path).await;
            assert_eq!(a.status.as_u16(), *want, "{who} GET {path}");
        }
    }
    // Controls a role may not use are not on its pages.
    let (_, viewer) = &mut browsers[3];
    let html = viewer.open(&format!("/manage/events/{event}")).await;
    assert!(!html.contains("/ticket-types\"") && html.contains("disabled"), "a viewer's editor is read-only");
    let team = viewer.open(&format!("/manage/orgs/{org}/team")).await;
    assert!(!team.contains("/team/invite") && team.contains("staff@roles.example"), "{team}");

    // Forms, posted as each role with that role's own CSRF token.
    let staff_edit = format!("/manage/events/{event}/ticket-types");
    let fields: &[(&str, &str)] = &[("name", "VIP"), ("price", "50"), ("currency", "EUR"), ("capacity", "5")];
    let posts: [FormCase; 3] = [
        (&staff_edit, fields, [303, 303, 303, 403, 404]),
        (
            &format!("/manage/orgs/{org}/team/invite"),
            &[("email", "x@roles.example"), ("role", "viewer")],
            [200, 200, 403, 403, 404],
        ),
        (&format!("/manage/orgs/{org}/api-keys"), &[("name", "door"), ("role", "staff")], [200, 200, 403, 403, 404]),
    ];
    for (path, fields, expected) in posts {
        for ((who, b), want) in browsers.iter_mut().zip(expected) {
            b.open("/").await;
            let csrf = common::browser::form_hidden(&b.html, "/sign-out").unwrap();
            let mut all: Vec<(&str, &str)> = csrf.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            all.extend_from_slice(fields);
            let a = b.post(path, &all).await;
            assert_eq!(a.status.as_u16(), want, "{who} POST {path}: {}", &a.body[a.body.find("<main").unwrap_or(0)..]);
        }
    }
    // An API key is shown once, to the admin who made it.
    let (_, admin) = &mut browsers[1];
    admin.open(&format!("/manage/orgs/{org}/team")).await;
    let a = admin.submit(&format!("/manage/orgs/{org}/api-keys"), &[("name", "scanner"), ("role", "staff")]).await;
    assert!(a.body.contains("id=\"created-key\">bk_"), "{}", a.body);
    let again = admin.open(&format!("/manage/orgs/{org}/team")).await;
    assert!(!again.contains("id=\"created-key\""));
    // Marking paid is staff work.
    let (_, viewer) = &mut browsers[3];
    viewer.open("/").await;
    let csrf = common::browser::form_hidden(&viewer.html, "/sign-out").unwrap();
    let a = viewer.post(&format!("/manage/bookings/{bid}/mark-paid"), &[("csrf", csrf[0].1.as_str())]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // An admin makes the viewer staff; the scanner opens for them now.
    let (_, members) = app.get(&format!("/api/orgs/{org}/members"), Some(&owner)).await;
    let viewer_id = members.as_array().unwrap().iter().find(|m| m["email"] == "viewer@roles.example").unwrap()["user_id"].clone();
    let viewer_id = viewer_id.as_str().unwrap();
    let (_, admin) = &mut browsers[1];
    admin.open(&format!("/manage/orgs/{org}/team")).await;
    let a = admin.submit(&format!("/manage/orgs/{org}/team/{viewer_id}/role"), &[("role", "staff")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(browsers[3].1.get(&format!("/scan/{event}")).await.status, StatusCode::OK);
    // Only owners make owners: the admin is refused, with the reason.
    let (_, admin) = &mut browsers[1];
    admin.open(&format!("/manage/orgs/{org}/team")).await;
    let a = admin.submit(&format!("/manage/orgs/{org}/team/{viewer_id}/role"), &[("role", "owner")]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
}

#[tokio::test]
async fn the_event_page_and_the_orders_list_make_a_fixed_number_of_queries() {
    let app = TestApp::spawn_with(json!({"server": {"count_queries": true}})).await;
    let (owner, org) = app.owner_with_org("counted@queries.example", "Counted").await;
    let event = new_event(&app, &owner, &org, "published").await;
    let mut types = Vec::new();
    for n in 0..3 {
        let tt =
            ticket_type(&app, &owner, &event, json!({"name": format!("T{n}"), "price": 500, "currency": "EUR", "capacity": 500}))
                .await;
        types.push(id(&tt));
    }
    let mut b = signed_in(&app, "counted@queries.example").await;
    let count = |a: &common::browser::Answer| -> u32 { a.headers["x-db-queries"].to_str().unwrap().parse().unwrap() };
    let mut event_counts = Vec::new();
    let mut orders_counts = Vec::new();
    for round in 0..3 {
        for n in 0..5 {
            let body =
                booking(&event, json!([{"ticket_type_id": types[n % 3], "quantity": 1}]), &format!("b{round}{n}@q.example"));
            book(&app, body).await;
        }
        // Warm caches first (the catalog is cached per event), then count.
        b.get(&format!("/events/{event}")).await;
        let a = b.get(&format!("/events/{event}")).await;
        assert_eq!(a.status, StatusCode::OK);
        event_counts.push(count(&a));
        let a = b.get(&format!("/manage/events/{event}/orders")).await;
        assert_eq!(a.status, StatusCode::OK);
        orders_counts.push(count(&a));
    }
    assert!(event_counts.windows(2).all(|w| w[0] == w[1]), "the event page's queries grow with bookings: {event_counts:?}");
    assert!(orders_counts.windows(2).all(|w| w[0] == w[1]), "the orders list's queries grow with bookings: {orders_counts:?}");
    assert!(event_counts[0] <= 8, "event page: {event_counts:?} queries");
    assert!(orders_counts[0] <= 10, "orders list: {orders_counts:?} queries");
    eprintln!("queries: event page {event_counts:?}, orders list {orders_counts:?}");
}

#[tokio::test]
async fn the_editor_sets_holds_limits_vouchers_and_the_programme() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("editor@org.example", "Editors").await;
    let event = new_event(&app, &owner, &org, "published").await;
    ticket_type(
        &app,
        &owner,
        &event,
        json!({"name": "Guest list", "price": 0, "currency": "EUR", "visibility": "hidden", "capacity": 10}),
    )
    .await;
    let mut b = signed_in(&app, "editor@org.example").await;
    let editor = format!("/manage/events/{event}");
    b.open(&editor).await;
    let a = b
        .submit(
            &format!("{editor}/settings"),
            &[
                ("hold_minutes", "15"),
                ("max_tickets_per_buyer", "4"),
                ("waitlist_offer_hours", "12"),
                ("waitlist_tiers", "crew, vip, standard"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let (_, s) = app.get(&format!("/api/events/{event}/ticketing-settings"), Some(&owner)).await;
    assert_eq!((s["hold_minutes"].as_i64(), s["max_tickets_per_buyer"].as_i64()), (Some(15), Some(4)), "{s}");
    assert_eq!(s["waitlist_tiers"], json!(["crew", "vip", "standard"]));

    let html = b.open(&editor).await;
    let hidden = html.split("name=\"unlock.").nth(1).unwrap().split('"').next().unwrap().to_string();
    let unlock = format!("unlock.{hidden}");
    let a = b
        .submit(&format!("{editor}/vouchers"), &[("code", "FRIENDS"), ("percent_off", "10"), ("max_uses", "5"), (&unlock, "on")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let html = b.open(&editor).await;
    assert!(html.contains("<code>FRIENDS</code>") && html.contains("10 %"), "{html}");
    // A bad amount is refused with the field named, not a 500.
    let a = b.submit(&format!("{editor}/vouchers"), &[("code", "BAD"), ("amount_off", "1,2,3")]).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("amount_off"), "{}", a.body);

    b.open(&editor).await;
    let a = b
        .submit(
            &format!("{editor}/sessions"),
            &[
                ("title", "Support act"),
                ("starts_at", "2030-06-01T20:00"),
                ("ends_at", "2030-06-01T20:45"),
                ("room", "Main stage"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    b.open(&editor).await;
    let a = b
        .submit(
            &format!("{editor}/venue"),
            &[
                ("name", "Lido"),
                ("address", "Cuvrystraße 7"),
                ("city", "Berlin"),
                ("country", "de"),
                ("capacity", "800"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let html = b.open(&editor).await;
    assert!(html.contains("selected>Lido, Berlin</option>"), "the new venue is the event's: {html}");
    // The public page shows the venue and the programme, and the voucher unlocks the hidden type.
    let mut fan = Browser::new(&app);
    let page = fan.open(&format!("/events/{event}")).await;
    assert!(page.contains("Support act") && page.contains("(Main stage)"), "{page}");
    assert!(page.contains("Lido, Cuvrystraße 7, Berlin (DE)"), "{page}");
    assert!(!page.contains("Guest list"));
    let page = fan.open(&format!("/events/{event}?voucher=friends")).await;
    assert!(page.contains("Guest list") && page.contains("Voucher friends applied."), "{page}");
}

#[tokio::test]
async fn staff_refund_one_ticket_of_a_paid_order_from_its_page() {
    let app = TestApp::spawn().await;
    let shop = common::payments::shop(&app, "refunds@org.example", 3000, 10).await;
    let (bid, token) = common::payments::book(&app, &shop, 2, "fan@refunds.example").await;
    common::payments::pay_by_card(&app, &bid, &token, "refund-page-1").await;
    let paid = common::payments::wait_booking_status(&app, &bid, &token, "confirmed").await;
    let first = paid["tickets"][0]["id"].as_str().unwrap().to_string();
    let mut b = signed_in(&app, "refunds@org.example").await;
    let html = b.open(&format!("/manage/bookings/{bid}")).await;
    assert!(html.contains("can still be refunded"), "{html}");
    let field = format!("ticket.{first}");
    let a = b.submit(&format!("/manage/bookings/{bid}/refund"), &[(&field, "on"), ("reason", "cannot come")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let mut cancelled = 0;
    for _ in 0..200 {
        let b = common::payments::booking(&app, &bid, &token).await;
        cancelled = b["tickets"].as_array().unwrap().iter().filter(|t| t["status"] == "cancelled").count();
        if cancelled == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(cancelled, 1, "the refunded ticket is cancelled, the other stays");
    let html = b.open(&format!("/manage/bookings/{bid}")).await;
    assert!(html.contains("Cancelled"), "{html}");
}
