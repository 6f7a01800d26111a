//! Identity over HTTP: registration, login, tokens, refresh rotation and reuse detection,
//! logout, sessions, password reset, login throttling.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_login_me_and_verify() {
    let app = TestApp::spawn().await;
    let (token, body) = app.register("Ann@Example.org").await;
    assert_eq!(body["user"]["email"], "ann@example.org");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);

    let (s, me) = app.get("/api/users/me", Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["email"], "ann@example.org");
    let (s, v) = app.get("/api/auth/verify", Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["kind"], "user");
    assert_eq!(v["user_id"], me["id"]);

    let (s, body) =
        app.post("/api/auth/login", None, json!({"email": "ann@example.org", "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = app.post("/api/auth/login", None, json!({"email": "ann@example.org", "password": "wrong password!"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_credentials");
    let (s, body) = app.post("/api/auth/login", None, json!({"email": "nobody@example.org", "password": "whatever123"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_credentials");

    // Duplicate email → 409.
    let (s, body) = app
        .post("/api/auth/register", None, json!({"email": "ANN@example.org", "password": "another good one", "name": "A"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["code"], "email_taken");

    // The welcome mail went through the job queue to the dev sink.
    let _ = app.wait_for_token("ann@example.org", "Welcome").await;
}

#[tokio::test]
async fn bad_registration_input_names_the_field() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"email": "nope", "password": "correct horse battery", "name": "A"}), "email"),
        (json!({"email": "a@b.org", "password": "short", "name": "A"}), "password"),
        (json!({"email": "a@b.org", "password": "correct horse battery", "name": "  "}), "name"),
        (json!({"email": "a@b.org", "password": "correct horse battery"}), "name"),
        (json!({"email": 5, "password": "correct horse battery", "name": "A"}), "email"),
    ] {
        let (s, problem) = app.post("/api/auth/register", None, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
        assert_eq!(problem["code"], "validation_failed");
    }
}

#[tokio::test]
async fn tampered_expired_and_wrong_key_tokens_are_rejected() {
    let app = TestApp::spawn().await;
    let (token, _) = app.register("t@example.org").await;
    // Tampered payload.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let (s, body) = app.get("/api/users/me", Some(&parts.join("."))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_token");
    // Garbage.
    let (s, _) = app.get("/api/users/me", Some("not-a-jwt")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Even public routes refuse a bad credential instead of silently going anonymous.
    let (s, _) = app.get("/api/events", Some("not-a-jwt")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // No credential on a protected route.
    let (s, body) = app.get("/api/users/me", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");

    // A token signed by a key the server does not have (same kid, other secret).
    let other = TestApp::spawn_with(
        json!({"auth": {"jwt_keys": [{"kid": "test-1", "secret": "a-completely-different-secret-0123456789"}]}}),
    )
    .await;
    let (foreign, _) = other.register("t@example.org").await;
    let (s, body) = app.get("/api/users/me", Some(&foreign)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_token");

    // Expired: a 30-second token on an app whose clock we cannot move is checked through a
    // key rotation instead — an old key id that is no longer configured is rejected.
    let rotated = TestApp::spawn_with(
        json!({"auth": {"jwt_keys": [{"kid": "test-2", "secret": "rotated-secret-that-is-long-enough-0123456789"}]}}),
    )
    .await;
    let (s, _) = rotated.get("/api/users/me", Some(&token)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_access_token_says_so() {
    let app = TestApp::spawn_with(json!({"auth": {"access_ttl_secs": 30}})).await;
    let (_, body) = app.register("exp@example.org").await;
    // Build a token with the same key but an expiry in the past.
    let claims = json!({"sub": body["user"]["id"], "sid": body["session_id"], "adm": false, "iss": "backline", "iat": 1_000_000, "exp": 1_000_030});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("test-1".into());
    let expired = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret-that-is-long-enough-0123456789"),
    )
    .unwrap();
    let (s, problem) = app.get("/api/users/me", Some(&expired)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "token_expired");
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_while_the_old_key_is_listed() {
    let app = TestApp::spawn().await;
    let (token, _) = app.register("rot@example.org").await;
    // Another app whose key list puts a new signing key first but still lists the old one:
    // the old token's signature verifies (the error is about the session, which lives in the
    // first app's database, not about the signature).
    let rotated = TestApp::spawn_with(json!({"auth": {"jwt_keys": [
        {"kid": "test-2", "secret": "rotated-secret-that-is-long-enough-0123456789"},
        {"kid": "test-1", "secret": "test-secret-that-is-long-enough-0123456789"}
    ]}}))
    .await;
    // Signature verifies, but this session does not exist in the other database.
    let (s, problem) = rotated.get("/api/users/me", Some(&token)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "session_revoked");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let (_, first) = app.register("r@example.org").await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();

    let (s, second) = app.post("/api/auth/refresh", None, json!({"refresh_token": rt1})).await;
    assert_eq!(s, StatusCode::OK, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let access2 = second["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/users/me", Some(&access2)).await.0, StatusCode::OK);

    // Reusing the first token: reuse detected, the whole session ends.
    let (s, problem) = app.post("/api/auth/refresh", None, json!({"refresh_token": rt1})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "refresh_token_reused");
    let (s, _) = app.post("/api/auth/refresh", None, json!({"refresh_token": rt2})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "descendant token dies with the family");
    let (s, problem) = app.get("/api/users/me", Some(&access2)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "session_revoked");

    let (s, _) = app.post("/api/auth/refresh", None, json!({"refresh_token": "rt_made_up"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn concurrent_refresh_with_one_token_succeeds_once() {
    let app = TestApp::spawn().await;
    let (_, first) = app.register("race@example.org").await;
    let rt = first["refresh_token"].as_str().unwrap().to_string();
    let attempts = (0..8).map(|_| app.post("/api/auth/refresh", None, json!({"refresh_token": rt})));
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(ok <= 1, "at most one rotation wins, got {ok}");
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn logout_and_session_management() {
    let app = TestApp::spawn().await;
    let (t1, b1) = app.register("s@example.org").await;
    let (s, b2) = app.post("/api/auth/login", None, json!({"email": "s@example.org", "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::OK);
    let t2 = b2["access_token"].as_str().unwrap().to_string();

    let (s, sessions) = app.get("/api/auth/sessions", Some(&t1)).await;
    assert_eq!(s, StatusCode::OK);
    let list = sessions.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);

    // Revoke the second session from the first.
    let sid2 = b2["session_id"].as_str().unwrap();
    let (s, _) = app.delete(&format!("/api/auth/sessions/{sid2}"), Some(&t1)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/users/me", Some(&t2)).await.0, StatusCode::UNAUTHORIZED);

    // Another user cannot see or revoke it.
    let (other, _) = app.register("o@example.org").await;
    let sid1 = b1["session_id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/auth/sessions/{sid1}"), Some(&other)).await.0, StatusCode::NOT_FOUND);

    // Logout ends the session and its refresh token.
    let (s, _) = app.post("/api/auth/logout", Some(&t1), json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/users/me", Some(&t1)).await.0, StatusCode::UNAUTHORIZED);
    let (s, _) = app.post("/api/auth/refresh", None, json!({"refresh_token": b1["refresh_token"]})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_reset_is_single_use_and_ends_sessions() {
    let app = TestApp::spawn().await;
    let (token, _) = app.register("pw@example.org").await;
    // Unknown emails get the same answer.
    let (s, _) = app.post("/api/auth/password-reset", None, json!({"email": "ghost@example.org"})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = app.post("/api/auth/password-reset", None, json!({"email": "pw@example.org"})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let reset = app.wait_for_token("pw@example.org", "reset-token: ").await;
    assert!(reset.starts_with("pr_"));

    let (s, p) = app.post("/api/auth/password-reset/confirm", None, json!({"token": reset, "new_password": "short"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "new_password");
    let (s, _) =
        app.post("/api/auth/password-reset/confirm", None, json!({"token": reset, "new_password": "a brand new secret"})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, p) =
        app.post("/api/auth/password-reset/confirm", None, json!({"token": reset, "new_password": "yet another secret"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "single use");
    assert_eq!(p["code"], "invalid_reset_token");

    assert_eq!(app.get("/api/users/me", Some(&token)).await.0, StatusCode::UNAUTHORIZED, "sessions ended");
    let (s, _) = app.post("/api/auth/login", None, json!({"email": "pw@example.org", "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.post("/api/auth/login", None, json!({"email": "pw@example.org", "password": "a brand new secret"})).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn reset_tokens_expire() {
    // A zero-minute lifetime makes every token expired on arrival.
    let app = TestApp::spawn_with(json!({"auth": {"reset_ttl_mins": 0}})).await;
    app.register("exp-reset@example.org").await;
    app.post("/api/auth/password-reset", None, json!({"email": "exp-reset@example.org"})).await;
    let reset = app.wait_for_token("exp-reset@example.org", "reset-token: ").await;
    let (s, p) =
        app.post("/api/auth/password-reset/confirm", None, json!({"token": reset, "new_password": "a brand new secret"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(p["code"], "invalid_reset_token");
}

#[tokio::test]
async fn login_is_throttled_per_account_and_per_ip() {
    let app = TestApp::spawn_with(json!({"rate_limit": {"login_per_account_per_min": 3, "login_per_ip_per_min": 7}})).await;
    app.register("th@example.org").await;
    let attempt = |email: &'static str| app.post("/api/auth/login", None, json!({"email": email, "password": "wrong password!"}));
    for _ in 0..3 {
        assert_eq!(attempt("th@example.org").await.0, StatusCode::UNAUTHORIZED);
    }
    let resp = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "th@example.org", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(resp.headers().get("retry-after").is_some());
    // Other accounts from the same IP still have budget until the IP limit.
    for _ in 0..3 {
        assert_eq!(attempt("other@example.org").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt("third@example.org").await.0, StatusCode::TOO_MANY_REQUESTS, "per-IP budget spent");
}

#[tokio::test]
async fn profile_update_validates() {
    let app = TestApp::spawn().await;
    let (token, _) = app.register("p@example.org").await;
    let (s, u) = app.put("/api/users/me", Some(&token), json!({"name": "Pat", "time_zone": "Asia/Tokyo", "locale": "ja"})).await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["time_zone"], "Asia/Tokyo");
    let (s, p) = app.put("/api/users/me", Some(&token), json!({"time_zone": "Moon/Base"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "time_zone");
    let (s, p) = app.put("/api/users/me", Some(&token), json!({"avatar_url": "javascript:alert(1)"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "avatar_url");
    let id = u["id"].as_str().unwrap();
    let (other, _) = app.register("q@example.org").await;
    let (s, public) = app.get(&format!("/api/users/{id}"), Some(&other)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(public["name"], "Pat");
    assert!(public.get("email").is_none(), "email is private");
}
