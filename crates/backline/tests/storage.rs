//! Signed file downloads: `GET /api/files/signed/{key}` serves what the local store holds while
//! the link is genuine and fresh, and nothing else.

mod common;

use std::time::Duration;

use common::TestApp;
use kernel::storage::{LocalStore, ObjectStore};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The store the app under test uses (same directory, same generated secret), with links
/// pointing at the test server.
fn store_of(app: &TestApp) -> LocalStore {
    let config = kernel::Config::from_overrides(json!({ "data_dir": app.dir.path(), "server": { "public_url": app.base } }))
        .expect("config");
    LocalStore::open(&config).expect("local store")
}

async fn fetch(app: &TestApp, url: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let r = app.client.get(url).send().await.expect("request");
    (r.status(), r.headers().clone(), r.bytes().await.unwrap().to_vec())
}

fn problem_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).expect("problem+json");
    v["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn signed_links_serve_files_until_they_expire() {
    let app = TestApp::spawn().await;
    let store = store_of(&app);
    let pdf = b"%PDF-1.7\n% a ticket\n%%EOF\n".to_vec();
    store.put("tickets/org-1/ticket-1.pdf", pdf.clone(), "application/pdf").await.unwrap();

    let url = store.signed_url("tickets/org-1/ticket-1.pdf", Duration::from_secs(300)).await.unwrap();
    assert!(url.starts_with(&app.url("/api/files/signed/tickets%2Forg-1%2Fticket-1.pdf?expires=")), "{url}");
    let (s, headers, body) = fetch(&app, &url).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, pdf);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-disposition"], "inline; filename=\"ticket-1.pdf\"");
    assert_eq!(headers["cache-control"], "private, no-store");

    // Other types download rather than display.
    store.put("exports/e.csv", b"a,b\n".to_vec(), "text/csv; charset=utf-8").await.unwrap();
    let (s, headers, body) = fetch(&app, &store.signed_url("exports/e.csv", Duration::from_secs(60)).await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, b"a,b\n");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment"));

    // Tampering with the signature, the key or the expiry: 403.
    let (base, sig) = url.rsplit_once("&sig=").unwrap();
    let flipped = format!("{}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    let expires: i64 = base.rsplit_once("expires=").unwrap().1.parse().unwrap();
    for bad in [
        format!("{base}&sig={flipped}"),
        format!("{base}&sig=not-hex"),
        base.to_string(),
        url.replace("ticket-1.pdf", "ticket-2.pdf"),
        url.replace(&format!("expires={expires}"), &format!("expires={}", expires + 3600)),
        url.replace(&format!("expires={expires}"), "expires=soon"),
    ] {
        let (s, _, body) = fetch(&app, &bad).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{bad}");
        assert_eq!(problem_code(&body), "invalid_signature", "{bad}");
    }

    // A genuine link past its expiry: 410.
    let now = chrono::Utc::now().timestamp();
    let stale = store.signer().link(&app.base, "tickets/org-1/ticket-1.pdf", now - 1);
    let (s, _, body) = fetch(&app, &stale).await;
    assert_eq!(s, StatusCode::GONE);
    assert_eq!(problem_code(&body), "link_expired");

    // Genuine links to files that are not there (deleted, never written, or outside the
    // store): 404.
    store.delete("exports/e.csv").await.unwrap();
    for key in ["exports/e.csv", "tickets/none.pdf", "../storage.key", "objects/../../storage.key"] {
        let link = store.signer().link(&app.base, key, now + 60);
        let (s, _, body) = fetch(&app, &link).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{key}");
        assert_eq!(problem_code(&body), "not_found", "{key}");
    }

    // The route is in the OpenAPI description.
    let (s, spec) = app.get("/api/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(spec["paths"]["/api/files/signed/{key}"]["get"].is_object());
}

#[tokio::test]
async fn links_signed_with_another_secret_are_refused() {
    let app = TestApp::spawn().await;
    let store = store_of(&app);
    store.put("tickets/t.pdf", b"%PDF-".to_vec(), "application/pdf").await.unwrap();
    let foreign = kernel::storage::UrlSigner::new(b"some-other-deployment-secret-0123456789");
    let link = foreign.link(&app.base, "tickets/t.pdf", chrono::Utc::now().timestamp() + 60);
    let (s, _, body) = fetch(&app, &link).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(problem_code(&body), "invalid_signature");
}
