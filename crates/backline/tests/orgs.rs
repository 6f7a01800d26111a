//! Organizations, members, roles, invitations, API keys — and the tenancy rule: a user of
//! org A gets 404 for anything of org B.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn org_lifecycle_members_and_roles() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("owner@a.org", "Nightshift Promotions").await;
    let (s, o) = app.get(&format!("/api/orgs/{org}"), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(o["slug"], "nightshift-promotions");
    assert_eq!(o["my_role"], "owner");

    // Slug conflict.
    let (s, p) = app.post("/api/orgs", Some(&owner), json!({"name": "Nightshift Promotions"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["code"], "slug_taken");

    let staff = app.member(&owner, &org, "staff@a.org", "staff").await;
    let viewer = app.member(&owner, &org, "viewer@a.org", "viewer").await;
    let admin = app.member(&owner, &org, "admin@a.org", "admin").await;

    let (s, members) = app.get(&format!("/api/orgs/{org}/members"), Some(&viewer)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(members.as_array().unwrap().len(), 4);

    // Viewers cannot change the org; staff cannot manage members; admins can.
    assert_eq!(app.put(&format!("/api/orgs/{org}"), Some(&viewer), json!({"name": "X"})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post(&format!("/api/orgs/{org}/invitations"), Some(&staff), json!({"email": "x@a.org", "role": "viewer"})).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, updated) = app.put(&format!("/api/orgs/{org}"), Some(&admin), json!({"description": "Club nights"})).await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["description"], "Club nights");

    // Admins cannot hand out ownership; owners can. The last owner cannot leave.
    let viewer_id = members.as_array().unwrap().iter().find(|m| m["email"] == "viewer@a.org").unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let owner_id = members.as_array().unwrap().iter().find(|m| m["email"] == "owner@a.org").unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/orgs/{org}/members/{viewer_id}");
    assert_eq!(app.put(&path, Some(&admin), json!({"role": "owner"})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.put(&path, Some(&admin), json!({"role": "staff"})).await.0, StatusCode::NO_CONTENT);
    let (s, p) = app.put(&path, Some(&admin), json!({"role": "emperor"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "role");
    let (s, p) = app.delete(&format!("/api/orgs/{org}/members/{owner_id}"), Some(&owner)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["code"], "last_owner");

    // Staff cannot remove others; an admin can; anyone can leave.
    assert_eq!(app.delete(&path, Some(&staff)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.delete(&path, Some(&admin)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/orgs/{org}"), Some(&viewer)).await.0, StatusCode::NOT_FOUND, "removed member sees nothing");

    let (s, mine) = app.get("/api/orgs", Some(&staff)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine[0]["my_role"], "staff");
}

#[tokio::test]
async fn invitations_expire_match_email_and_are_single_use() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("o@b.org", "Org B").await;
    let (invitee, _) = app.register("guest@b.org").await;
    let (stranger, _) = app.register("stranger@b.org").await;
    let (s, inv) =
        app.post(&format!("/api/orgs/{org}/invitations"), Some(&owner), json!({"email": "guest@b.org", "role": "staff"})).await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    assert!(inv.get("token").is_none(), "the token only travels by mail");
    let token = app.wait_for_token("guest@b.org", "invitation-token: ").await;

    let (s, _) = app.post("/api/invitations/accept", Some(&stranger), json!({"token": token})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "addressed to someone else");
    let (s, o) = app.post("/api/invitations/accept", Some(&invitee), json!({"token": token})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["my_role"], "staff");
    let (s, p) = app.post("/api/invitations/accept", Some(&invitee), json!({"token": token})).await;
    assert_eq!(s, StatusCode::CONFLICT, "single use");
    assert_eq!(p["code"], "invitation_closed");
    let (s, _) = app.post("/api/invitations/accept", Some(&invitee), json!({"token": "inv_no-such-token"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "unknown token");

    // Revoked invitations cannot be accepted.
    let (_, inv2) = app
        .post(&format!("/api/orgs/{org}/invitations"), Some(&owner), json!({"email": "stranger@b.org", "role": "viewer"}))
        .await;
    let token2 = app.wait_for_token("stranger@b.org", "invitation-token: ").await;
    let id2 = inv2["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/orgs/{org}/invitations/{id2}"), Some(&owner)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.post("/api/invitations/accept", Some(&stranger), json!({"token": token2})).await.0, StatusCode::CONFLICT);
    let (s, list) = app.get(&format!("/api/orgs/{org}/invitations"), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Expired invitations.
    let short = TestApp::spawn_with(json!({"auth": {"invitation_ttl_hours": 0}})).await;
    let (owner, org) = short.owner_with_org("o@c.org", "Org C").await;
    let (late, _) = short.register("late@c.org").await;
    short.post(&format!("/api/orgs/{org}/invitations"), Some(&owner), json!({"email": "late@c.org", "role": "viewer"})).await;
    let token = short.wait_for_token("late@c.org", "invitation-token: ").await;
    let (s, p) = short.post("/api/invitations/accept", Some(&late), json!({"token": token})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(p["code"], "invitation_expired");
}

#[tokio::test]
async fn api_keys_are_scoped_hashed_and_revocable() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("k@d.org", "Org D").await;
    let (_, other_org) = app.owner_with_org("k2@d.org", "Org E").await;
    let (s, created) =
        app.post(&format!("/api/orgs/{org}/api-keys"), Some(&owner), json!({"name": "box office", "role": "viewer"})).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("bk_"));

    let (s, v) = app.get("/api/auth/verify", Some(&key)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["kind"], "api_key");
    assert_eq!(v["role"], "viewer");
    assert_eq!(app.get(&format!("/api/orgs/{org}"), Some(&key)).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("/api/orgs/{other_org}"), Some(&key)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.put(&format!("/api/orgs/{org}"), Some(&key), json!({"name": "Hacked"})).await.0, StatusCode::FORBIDDEN);

    let (s, list) = app.get(&format!("/api/orgs/{org}/api-keys"), Some(&owner)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!list.to_string().contains(&key), "secret never listed");

    let (s, p) = app.post(&format!("/api/orgs/{org}/api-keys"), Some(&owner), json!({"name": "x", "role": "owner"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "role");

    let id = created["api_key"]["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/orgs/{org}/api-keys/{id}"), Some(&owner)).await.0, StatusCode::NO_CONTENT);
    let (s, p) = app.get("/api/auth/verify", Some(&key)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(p["code"], "invalid_api_key");
}

#[tokio::test]
async fn tenancy_matrix_identity_routes() {
    let app = TestApp::spawn().await;
    let (a, _org_a) = app.owner_with_org("a@tenant.org", "Tenant A").await;
    let (b, org_b) = app.owner_with_org("b@tenant.org", "Tenant B").await;
    let (_, key_b) = app.post(&format!("/api/orgs/{org_b}/api-keys"), Some(&b), json!({"name": "k", "role": "admin"})).await;
    let key_id = key_b["api_key"]["id"].as_str().unwrap();
    let (_, inv_b) =
        app.post(&format!("/api/orgs/{org_b}/invitations"), Some(&b), json!({"email": "z@tenant.org", "role": "viewer"})).await;
    let inv_id = inv_b["id"].as_str().unwrap();
    let (_, members) = app.get(&format!("/api/orgs/{org_b}/members"), Some(&b)).await;
    let b_user = members[0]["user_id"].as_str().unwrap();

    let cases = [
        ("GET", format!("/api/orgs/{org_b}"), None),
        ("PUT", format!("/api/orgs/{org_b}"), Some(json!({"name": "mine now"}))),
        ("GET", format!("/api/orgs/{org_b}/members"), None),
        ("PUT", format!("/api/orgs/{org_b}/members/{b_user}"), Some(json!({"role": "viewer"}))),
        ("DELETE", format!("/api/orgs/{org_b}/members/{b_user}"), None),
        ("GET", format!("/api/orgs/{org_b}/invitations"), None),
        ("POST", format!("/api/orgs/{org_b}/invitations"), Some(json!({"email": "x@y.org", "role": "viewer"}))),
        ("DELETE", format!("/api/orgs/{org_b}/invitations/{inv_id}"), None),
        ("GET", format!("/api/orgs/{org_b}/api-keys"), None),
        ("POST", format!("/api/orgs/{org_b}/api-keys"), Some(json!({"name": "x", "role": "viewer"}))),
        ("DELETE", format!("/api/orgs/{org_b}/api-keys/{key_id}"), None),
        ("GET", format!("/api/audit/logs?org_id={org_b}"), None),
    ];
    for (method, path, body) in cases {
        let (s, p) = app.request(method.parse().unwrap(), &path, Some(&a), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {p}");
    }
}

#[tokio::test]
async fn bad_input_on_identity_write_routes() {
    let app = TestApp::spawn().await;
    let (owner, org) = app.owner_with_org("bad@input.org", "Input Org").await;
    let t = Some(owner.as_str());
    let cases: Vec<(&str, String, Option<&str>, serde_json::Value, &str)> = vec![
        ("POST", "/api/orgs".into(), t, json!({"name": ""}), "name"),
        ("POST", "/api/orgs".into(), t, json!({"name": "Ok", "slug": "Not A Slug"}), "slug"),
        ("POST", "/api/orgs".into(), t, json!({"name": "Ok", "website": "not-a-url"}), "website"),
        ("PUT", format!("/api/orgs/{org}"), t, json!({"slug": "-bad-"}), "slug"),
        ("PUT", format!("/api/orgs/{org}"), t, json!({"name": 42}), "name"),
        ("POST", format!("/api/orgs/{org}/invitations"), t, json!({"email": "nope", "role": "viewer"}), "email"),
        ("POST", format!("/api/orgs/{org}/invitations"), t, json!({"email": "x@y.org", "role": "king"}), "role"),
        ("POST", format!("/api/orgs/{org}/api-keys"), t, json!({"name": "", "role": "viewer"}), "name"),
        (
            "POST",
            format!("/api/orgs/{org}/api-keys"),
            t,
            json!({"name": "k", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        ("POST", "/api/invitations/accept".into(), t, json!({}), "token"),
        ("POST", "/api/auth/refresh".into(), None, json!({"token": "x"}), "refresh_token"),
        ("POST", "/api/auth/password-reset".into(), None, json!({"email": "not an email"}), "email"),
        ("POST", "/api/auth/login".into(), None, json!({"email": "a@b.org"}), "password"),
    ];
    for (method, path, token, body, field) in cases {
        let (s, p) = app.request(method.parse().unwrap(), &path, token, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}: {p}");
        assert_eq!(p["field"], field, "{method} {path}: {p}");
    }
}

#[tokio::test]
async fn api_keys_of_one_org_see_nothing_of_another() {
    let app = TestApp::spawn().await;
    let (a, org_a) = app.owner_with_org("a@keys.org", "Keys A").await;
    let (b, org_b) = app.owner_with_org("b@keys.org", "Keys B").await;
    let (_, key) = app.post(&format!("/api/orgs/{org_a}/api-keys"), Some(&a), json!({"name": "ci", "role": "admin"})).await;
    let key = key["key"].as_str().unwrap().to_string();
    let (_, draft) = app
        .post("/api/events", Some(&b), json!({"org_id": org_b, "name": "B only", "time_zone": "UTC", "starts_at": "2026-12-01T19:00:00Z", "ends_at": "2026-12-01T20:00:00Z"}))
        .await;
    let d = draft["id"].as_str().unwrap();
    for (method, path, body) in [
        ("GET", format!("/api/events/{d}"), None),
        ("PUT", format!("/api/events/{d}"), Some(json!({"name": "x"}))),
        ("GET", format!("/api/orgs/{org_b}/venues"), None),
        ("GET", format!("/api/orgs/{org_b}/members"), None),
        ("GET", format!("/api/audit/logs?org_id={org_b}"), None),
        (
            "POST",
            "/api/events".to_string(),
            Some(
                json!({"org_id": org_b, "name": "x", "time_zone": "UTC", "starts_at": "2026-12-01T19:00:00Z", "ends_at": "2026-12-01T20:00:00Z"}),
            ),
        ),
    ] {
        let (s, p) = app.request(method.parse().unwrap(), &path, Some(&key), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {p}");
    }
    // In its own organization the key works with its role.
    let (s, e) = app
        .post("/api/events", Some(&key), json!({"org_id": org_a, "name": "By key", "time_zone": "UTC", "starts_at": "2026-12-01T19:00:00Z", "ends_at": "2026-12-01T20:00:00Z"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let (_, logs) = app.get(&format!("/api/audit/logs?org_id={org_a}&action=event.created"), Some(&a)).await;
    assert!(logs["items"][0]["actor"].as_str().unwrap().starts_with("api_key:"));
}
