//! Accounts in the browser: the session cookie (flags, the same session rows as bearer
//! clients, revocation from either side), CSRF refusals, and the pages every emailed
//! account link opens — password reset and invitations — followed from the mail itself.

mod common;

use common::TestApp;
use common::browser::{Browser, unescape};
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// Registers through the page; the browser is signed in afterwards.
async fn register<'a>(app: &'a TestApp, email: &str, name: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    b.open("/register").await;
    let a = b.submit("/register", &[("name", name), ("email", email), ("password", PASSWORD)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location.as_deref(), Some("/"));
    b
}

/// The first link in the newest mail to `to` starting with `prefix`.
async fn mailed_link(app: &TestApp, to: &str, prefix: &str) -> String {
    let token = app.wait_for_token(to, &format!("{prefix}?token=")).await;
    format!("{prefix}?token={token}")
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_behind_tls() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    let first = b.get("/").await;
    let csrf =
        first.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with("bl_csrf="));
    let csrf = csrf.expect("the first page sets the CSRF cookie");
    assert!(csrf.contains("HttpOnly") && csrf.contains("SameSite=Lax") && !csrf.contains("Secure"), "{csrf}");
    b.open("/register").await;
    let a = b.submit("/register", &[("name", "Ada"), ("email", "ada@cookie.example"), ("password", PASSWORD)]).await;
    let session = a.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(session.starts_with("bl_session=ws_"), "{session}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session.contains(flag), "{flag} missing: {session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: no Secure flag");
    let html = b.open("/account").await;
    assert!(html.contains("ada@cookie.example") && html.contains("value=\"Ada\""), "{html}");

    let tls = TestApp::spawn_with(json!({"server": {"behind_tls": true}})).await;
    let mut b = Browser::new(&tls);
    b.open("/sign-in").await;
    tls.register("tls@cookie.example").await;
    let a = b.submit("/sign-in", &[("email", "tls@cookie.example"), ("password", PASSWORD), ("next", "/tickets")]).await;
    assert_eq!(a.location.as_deref(), Some("/tickets"));
    let session = a.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(session.contains("; Secure"), "{session}");
}

#[tokio::test]
async fn browser_and_bearer_sessions_are_one_table_and_revoke_each_other() {
    let app = TestApp::spawn().await;
    let (token, _) = app.register("both@session.example").await;
    let mut b = Browser::new(&app);
    b.open("/sign-in").await;
    let a = b.submit("/sign-in", &[("email", "both@session.example"), ("password", PASSWORD)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    // The bearer client sees the browser's session, and ends it.
    let (_, sessions) = app.get("/api/auth/sessions", Some(&token)).await;
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let browser = sessions.iter().find(|s| s["current"] == false).unwrap();
    let (s, _) = app.delete(&format!("/api/auth/sessions/{}", browser["id"].as_str().unwrap()), Some(&token)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let a = b.get("/account").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "a revoked cookie is anonymous");
    assert_eq!(a.location.as_deref(), Some("/sign-in?next=%2Faccount"));

    // And the other way: "sign out everywhere else" from the browser ends the bearer session.
    b.open("/sign-in").await;
    b.submit("/sign-in", &[("email", "both@session.example"), ("password", PASSWORD)]).await;
    let html = b.open("/account/sessions").await;
    assert!(html.contains("This browser"), "{html}");
    let a = b.submit("/account/sessions/revoke-others", &[]).await;
    assert_eq!(a.location.as_deref(), Some("/account/sessions"));
    let (s, body) = app.get("/api/auth/sessions", Some(&token)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    b.open("/account").await;

    // Signing out revokes the row, not just the cookie: replaying the old cookie is anonymous.
    let old = b.cookies.get("bl_session").cloned().unwrap();
    let a = b.submit("/sign-out", &[]).await;
    assert_eq!(a.location.as_deref(), Some("/"));
    assert!(!b.cookies.contains_key("bl_session"));
    b.cookies.insert("bl_session".into(), old);
    assert_eq!(b.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_another_site_are_refused() {
    let app = TestApp::spawn().await;
    app.register("csrf@example.org").await;
    let mut b = Browser::new(&app);
    b.open("/sign-in").await;
    let a = b.post("/sign-in", &[("email", "csrf@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("expired or did not come from this site"), "{}", a.body);
    assert!(!b.cookies.contains_key("bl_session"));
    let a = b.post("/sign-in", &[("csrf", "0000"), ("email", "csrf@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // The right token from another origin is refused too.
    b.open("/sign-in").await;
    let token = common::browser::form_hidden(&b.html, "/sign-in").unwrap().into_iter().find(|(k, _)| k == "csrf").unwrap().1;
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/sign-in"))
        .header("cookie", format!("bl_csrf={}", b.cookies["bl_csrf"]))
        .header("origin", "https://evil.example")
        .form(&[("csrf", token.as_str()), ("email", "csrf@example.org"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // The API does not take the cookie without the CSRF header.
    let a = b.submit("/sign-in", &[("email", "csrf@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let cookie = format!("bl_session={}; bl_csrf={}", b.cookies["bl_session"], b.cookies["bl_csrf"]);
    let me = |csrf: Option<String>| {
        let mut req = app.client.get(app.url("/api/users/me")).header("cookie", cookie.clone());
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.send()
    };
    assert_eq!(me(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me(Some(token)).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_passwords_say_so_and_login_throttling_applies_to_the_page() {
    let app = TestApp::spawn_with(json!({"rate_limit": {"login_per_account_per_min": 2}})).await;
    app.register("slow@example.org").await;
    let mut b = Browser::new(&app);
    b.language = "de".into();
    for _ in 0..2 {
        b.open("/sign-in").await;
        let a = b.submit("/sign-in", &[("email", "slow@example.org"), ("password", "not the password")]).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.body.contains("E-Mail oder Passwort ist falsch."), "{}", a.body);
        assert!(a.body.contains("value=\"slow@example.org\""), "the address stays filled in");
    }
    b.open("/sign-in").await;
    let a = b.submit("/sign-in", &[("email", "slow@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.body.contains("Zu viele Versuche"), "{}", a.body);
}

#[tokio::test]
async fn the_reset_link_in_the_email_opens_a_page_that_changes_the_password() {
    let app = TestApp::spawn().await;
    let mut b = register(&app, "forgetful@example.org", "Fred").await;
    b.open("/").await;
    b.submit("/sign-out", &[]).await;
    b.open("/forgot-password").await;
    let a = b.submit("/forgot-password", &[("email", "forgetful@example.org")]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("an email with a link is on its way"));
    // An unknown address gets the same answer.
    b.open("/forgot-password").await;
    let a = b.submit("/forgot-password", &[("email", "nobody@example.org")]).await;
    assert!(a.body.contains("an email with a link is on its way"));

    let link = mailed_link(&app, "forgetful@example.org", "/reset-password").await;
    let html = b.open(&link).await;
    assert!(html.contains("Choose a new password"), "{html}");
    let a = b.submit("/reset-password", &[("password", "a brand new secret")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Your password is changed"));
    // The link works once.
    b.open(&link).await;
    let a = b.submit("/reset-password", &[("password", "yet another secret")]).await;
    assert_eq!(a.status.as_u16() / 100, 4);
    assert!(a.body.contains("invalid or has expired"), "{}", a.body);
    b.open("/sign-in").await;
    let a = b.submit("/sign-in", &[("email", "forgetful@example.org"), ("password", "a brand new secret")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    // Without a token the page says where to get one.
    assert!(b.open("/reset-password").await.contains("needs the link from the email"));
}

#[tokio::test]
async fn the_invitation_link_in_the_email_brings_the_invitee_into_the_team() {
    let app = TestApp::spawn().await;
    let mut owner = register(&app, "boss@team.example", "Boss").await;
    owner.open("/manage").await;
    let a = owner.submit("/manage/orgs", &[("name", "Team Org")]).await;
    let dashboard = a.location.clone().unwrap();
    let org = dashboard.trim_start_matches("/manage/orgs/").to_string();
    owner.open(&format!("/manage/orgs/{org}/team")).await;
    let a = owner.submit(&format!("/manage/orgs/{org}/team/invite"), &[("email", "new@team.example"), ("role", "staff")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Invitation sent to new@team.example"));

    let link = mailed_link(&app, "new@team.example", "/invitations/accept").await;
    let mut invitee = Browser::new(&app);
    let html = invitee.open(&link).await;
    assert!(html.contains("Sign in (or create an account"), "{html}");
    let register_link = unescape(html.split("href=\"/register?next=").nth(1).unwrap().split('"').next().unwrap());
    invitee.open(&format!("/register?next={register_link}")).await;
    let a = invitee.submit("/register", &[("name", "Newbie"), ("email", "new@team.example"), ("password", PASSWORD)]).await;
    let back = a.location.clone().unwrap();
    assert_eq!(back, link, "registering comes back to the invitation");
    invitee.open(&back).await;
    let a = invitee.submit("/invitations/accept", &[]).await;
    assert_eq!(a.location.as_deref(), Some(dashboard.as_str()), "{}", &a.body[a.body.find("<main").unwrap_or(0)..]);
    let team = owner.open(&format!("/manage/orgs/{org}/team")).await;
    assert!(team.contains("new@team.example") && team.contains("Staff"), "{team}");
    // A second acceptance says why it cannot.
    invitee.open(&back).await;
    let a = invitee.submit("/invitations/accept", &[]).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.body.contains("already accepted or revoked"), "{}", a.body);
}
