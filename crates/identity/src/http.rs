//! REST handlers for auth, users, organizations, members, invitations and API keys.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use kernel::AppResult;
use kernel::auth::{Auth, OrgAccess, Principal, Role};
use kernel::context::RequestContext;
use kernel::error::Problem;
use kernel::extract::{Json, Path};
use kernel::id::{ApiKeyId, OrgId, SessionId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::model::*;
use crate::service::{ClientInfo, IdentityService};

type Svc = State<Arc<IdentityService>>;

fn client(headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: RequestContext::current().and_then(|c| c.ip),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}

/// Create an account; returns a signed-in session.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, body = TokenPair), (status = 409, description = "Email taken", body = Problem),
    (status = 422, description = "Invalid field", body = Problem)))]
async fn register(
    State(svc): Svc,
    headers: HeaderMap,
    Json(req): Json<RegisterRequest>,
) -> AppResult<(StatusCode, Json<TokenPair>)> {
    Ok((StatusCode::CREATED, Json(svc.register(req, client(&headers)).await?)))
}

/// Sign in with email and password (throttled per account and per IP).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenPair), (status = 401, description = "Wrong email or password", body = Problem),
    (status = 429, description = "Too many attempts", body = Problem)))]
async fn login(State(svc): Svc, headers: HeaderMap, Json(req): Json<LoginRequest>) -> AppResult<Json<TokenPair>> {
    Ok(Json(svc.login(req, client(&headers)).await?))
}

/// Exchange a refresh token for a new token pair (rotation with reuse detection).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair), (status = 401, description = "Invalid, expired or reused token", body = Problem)))]
async fn refresh(State(svc): Svc, Json(req): Json<RefreshRequest>) -> AppResult<Json<TokenPair>> {
    Ok(Json(svc.refresh(req).await?))
}

/// End the current session (its refresh token and access tokens stop working).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", responses((status = 204, description = "Signed out")), security(("bearer" = [])))]
async fn logout(State(svc): Svc, auth: Auth) -> AppResult<StatusCode> {
    svc.logout(&auth.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check the presented credential and describe it.
#[utoipa::path(get, path = "/api/auth/verify", tag = "auth", responses(
    (status = 200, body = VerifyResponse), (status = 401, description = "Invalid credential", body = Problem)), security(("bearer" = [])))]
async fn verify(auth: Auth) -> Json<VerifyResponse> {
    Json(match auth.0 {
        Principal::User { user_id, session_id, platform_admin } => VerifyResponse {
            valid: true,
            kind: "user".into(),
            user_id: Some(user_id),
            session_id: Some(session_id),
            org_id: None,
            role: None,
            platform_admin,
        },
        Principal::ApiKey { org_id, role, .. } => VerifyResponse {
            valid: true,
            kind: "api_key".into(),
            user_id: None,
            session_id: None,
            org_id: Some(org_id),
            role: Some(role),
            platform_admin: false,
        },
    })
}

/// Ask for a password-reset email. Always 202, whether or not the address has an account.
#[utoipa::path(post, path = "/api/auth/password-reset", tag = "auth", request_body = PasswordResetRequest, responses((status = 202, description = "If the account exists, an email is on its way")))]
async fn password_reset(State(svc): Svc, Json(req): Json<PasswordResetRequest>) -> AppResult<StatusCode> {
    svc.request_password_reset(req).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the emailed token (single use, expires); ends all sessions.
#[utoipa::path(post, path = "/api/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirm, responses(
    (status = 204, description = "Password changed"), (status = 400, description = "Used or expired token (`invalid_reset_token`)", body = Problem),
    (status = 404, description = "No reset token like this was issued", body = Problem)))]
async fn password_reset_confirm(State(svc): Svc, Json(req): Json<PasswordResetConfirm>) -> AppResult<StatusCode> {
    svc.confirm_password_reset(req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user's active sessions.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth", responses((status = 200, body = Vec<Session>)), security(("bearer" = [])))]
async fn list_sessions(State(svc): Svc, auth: Auth) -> AppResult<Json<Vec<Session>>> {
    let current = match &auth.0 {
        Principal::User { session_id, .. } => Some(*session_id),
        Principal::ApiKey { .. } => None,
    };
    Ok(Json(svc.sessions(auth.user()?, current).await?))
}

/// Revoke one of the signed-in user's sessions.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth", params(("id" = String, Path)), responses(
    (status = 204, description = "Revoked"), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn revoke_session(State(svc): Svc, auth: Auth, Path(id): Path<SessionId>) -> AppResult<StatusCode> {
    svc.revoke_own_session(auth.user()?, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/users/me", tag = "users", responses((status = 200, body = User)), security(("bearer" = [])))]
async fn me(State(svc): Svc, auth: Auth) -> AppResult<Json<User>> {
    Ok(Json(svc.user(auth.user()?).await?))
}

/// Update the signed-in user's profile.
#[utoipa::path(put, path = "/api/users/me", tag = "users", request_body = UpdateProfile, responses(
    (status = 200, body = User), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn update_me(State(svc): Svc, auth: Auth, Json(req): Json<UpdateProfile>) -> AppResult<Json<User>> {
    Ok(Json(svc.update_profile(auth.user()?, req).await?))
}

/// A user's public profile.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = String, Path)), responses(
    (status = 200, body = PublicUser), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_user(State(svc): Svc, _auth: Auth, Path(id): Path<UserId>) -> AppResult<Json<PublicUser>> {
    let u = svc.user(id).await?;
    Ok(Json(PublicUser { id: u.id, name: u.name, avatar_url: u.avatar_url, bio: u.bio }))
}

/// Create an organization; the caller becomes its owner.
#[utoipa::path(post, path = "/api/orgs", tag = "organizations", request_body = CreateOrg, responses(
    (status = 201, body = Organization), (status = 409, description = "Slug taken", body = Problem)), security(("bearer" = [])))]
async fn create_org(State(svc): Svc, auth: Auth, Json(req): Json<CreateOrg>) -> AppResult<(StatusCode, Json<Organization>)> {
    Ok((StatusCode::CREATED, Json(svc.create_org(auth.user()?, req).await?)))
}

/// Organizations the signed-in user belongs to.
#[utoipa::path(get, path = "/api/orgs", tag = "organizations", responses((status = 200, body = Vec<Organization>)), security(("bearer" = [])))]
async fn list_orgs(State(svc): Svc, auth: Auth) -> AppResult<Json<Vec<Organization>>> {
    match &auth.0 {
        Principal::ApiKey { org_id, .. } => {
            let scope = svc.require(&auth.0, *org_id, Role::Viewer).await?;
            Ok(Json(vec![svc.org(&scope).await?]))
        }
        Principal::User { user_id, .. } => Ok(Json(svc.my_orgs(*user_id).await?)),
    }
}

/// An organization (members only).
#[utoipa::path(get, path = "/api/orgs/{id}", tag = "organizations", params(("id" = String, Path)), responses(
    (status = 200, body = Organization), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_org(State(svc): Svc, auth: Auth, Path(id): Path<OrgId>) -> AppResult<Json<Organization>> {
    let scope = svc.require(&auth.0, id, Role::Viewer).await?;
    Ok(Json(svc.org(&scope).await?))
}

/// Update an organization (admins).
#[utoipa::path(put, path = "/api/orgs/{id}", tag = "organizations", params(("id" = String, Path)), request_body = UpdateOrg, responses(
    (status = 200, body = Organization), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Slug taken", body = Problem)), security(("bearer" = [])))]
async fn update_org(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<OrgId>,
    Json(req): Json<UpdateOrg>,
) -> AppResult<Json<Organization>> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    Ok(Json(svc.update_org(&scope, req).await?))
}

/// Members and their roles.
#[utoipa::path(get, path = "/api/orgs/{id}/members", tag = "organizations", params(("id" = String, Path)), responses(
    (status = 200, body = Vec<Member>)), security(("bearer" = [])))]
async fn list_members(State(svc): Svc, auth: Auth, Path(id): Path<OrgId>) -> AppResult<Json<Vec<Member>>> {
    let scope = svc.require(&auth.0, id, Role::Viewer).await?;
    Ok(Json(svc.members(&scope).await?))
}

/// Change a member's role (admins; only owners touch the owner role).
#[utoipa::path(put, path = "/api/orgs/{id}/members/{user_id}", tag = "organizations", params(("id" = String, Path), ("user_id" = String, Path)),
    request_body = ChangeRole, responses((status = 204, description = "Changed"), (status = 403, body = Problem), (status = 409, description = "Last owner", body = Problem)),
    security(("bearer" = [])))]
async fn change_member(
    State(svc): Svc,
    auth: Auth,
    Path((id, user)): Path<(OrgId, UserId)>,
    Json(req): Json<ChangeRole>,
) -> AppResult<StatusCode> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    svc.change_role(&scope, user, req.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member (admins), or leave (any member, for themselves).
#[utoipa::path(delete, path = "/api/orgs/{id}/members/{user_id}", tag = "organizations", params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 403, body = Problem), (status = 409, description = "Last owner", body = Problem)),
    security(("bearer" = [])))]
async fn remove_member(State(svc): Svc, auth: Auth, Path((id, user)): Path<(OrgId, UserId)>) -> AppResult<StatusCode> {
    let scope = svc.require(&auth.0, id, Role::Viewer).await?;
    svc.remove_member(&scope, &auth.0, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invite someone by email (admins). The token goes only to the invitee's mailbox.
#[utoipa::path(post, path = "/api/orgs/{id}/invitations", tag = "organizations", params(("id" = String, Path)), request_body = CreateInvitation,
    responses((status = 201, body = Invitation), (status = 409, description = "Already a member", body = Problem)), security(("bearer" = [])))]
async fn create_invitation(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<OrgId>,
    Json(req): Json<CreateInvitation>,
) -> AppResult<(StatusCode, Json<Invitation>)> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    Ok((StatusCode::CREATED, Json(svc.invite(&scope, auth.user()?, req).await?)))
}

/// Invitations of an organization (admins).
#[utoipa::path(get, path = "/api/orgs/{id}/invitations", tag = "organizations", params(("id" = String, Path)),
    responses((status = 200, body = Vec<Invitation>)), security(("bearer" = [])))]
async fn list_invitations(State(svc): Svc, auth: Auth, Path(id): Path<OrgId>) -> AppResult<Json<Vec<Invitation>>> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    Ok(Json(svc.invitations(&scope).await?))
}

/// Revoke a pending invitation (admins).
#[utoipa::path(delete, path = "/api/orgs/{id}/invitations/{invitation_id}", tag = "organizations",
    params(("id" = String, Path), ("invitation_id" = String, Path)), responses((status = 204, description = "Revoked"),
    (status = 409, description = "Already accepted or revoked (`invitation_closed`)", body = Problem)), security(("bearer" = [])))]
async fn revoke_invitation(State(svc): Svc, auth: Auth, Path((id, inv)): Path<(OrgId, Uuid)>) -> AppResult<StatusCode> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    svc.revoke_invitation(&scope, inv).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation sent to the signed-in user's email.
#[utoipa::path(post, path = "/api/invitations/accept", tag = "organizations", request_body = AcceptInvitation, responses(
    (status = 200, body = Organization), (status = 400, description = "The invitation has expired (`invitation_expired`)", body = Problem),
    (status = 403, description = "Sent to another email", body = Problem),
    (status = 404, description = "No invitation has this token", body = Problem),
    (status = 409, description = "Already accepted or revoked (`invitation_closed`), or already a member (`already_member`)", body = Problem)),
    security(("bearer" = [])))]
async fn accept_invitation(State(svc): Svc, auth: Auth, Json(req): Json<AcceptInvitation>) -> AppResult<Json<Organization>> {
    Ok(Json(svc.accept_invitation(auth.user()?, &req.token).await?))
}

/// Create an API key (admins). The key is shown once.
#[utoipa::path(post, path = "/api/orgs/{id}/api-keys", tag = "organizations", params(("id" = String, Path)), request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey)), security(("bearer" = [])))]
async fn create_api_key(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<OrgId>,
    Json(req): Json<CreateApiKey>,
) -> AppResult<(StatusCode, Json<CreatedApiKey>)> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    Ok((StatusCode::CREATED, Json(svc.create_api_key(&scope, auth.user()?, req).await?)))
}

/// API keys of an organization (admins); secrets are never shown again.
#[utoipa::path(get, path = "/api/orgs/{id}/api-keys", tag = "organizations", params(("id" = String, Path)),
    responses((status = 200, body = Vec<ApiKey>)), security(("bearer" = [])))]
async fn list_api_keys(State(svc): Svc, auth: Auth, Path(id): Path<OrgId>) -> AppResult<Json<Vec<ApiKey>>> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    Ok(Json(svc.api_keys(&scope).await?))
}

/// Revoke an API key (admins).
#[utoipa::path(delete, path = "/api/orgs/{id}/api-keys/{key_id}", tag = "organizations", params(("id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 409, description = "Already revoked (`api_key_revoked`)", body = Problem)),
    security(("bearer" = [])))]
async fn revoke_api_key(State(svc): Svc, auth: Auth, Path((id, key)): Path<(OrgId, ApiKeyId)>) -> AppResult<StatusCode> {
    let scope = svc.require(&auth.0, id, Role::Admin).await?;
    svc.revoke_api_key(&scope, key).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router(svc: Arc<IdentityService>) -> OpenApiRouter {
    // Their answers carry credentials (tokens, key secrets), which must not be stored.
    svc.kernel.idempotency_exempt.add("/api/auth/*");
    svc.kernel.idempotency_exempt.add("/api/orgs/{id}/api-keys");

    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify))
        .routes(routes!(password_reset))
        .routes(routes!(password_reset_confirm))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(me, update_me))
        .routes(routes!(get_user))
        .routes(routes!(create_org, list_orgs))
        .routes(routes!(get_org, update_org))
        .routes(routes!(list_members))
        .routes(routes!(change_member, remove_member))
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(revoke_api_key))
        .with_state(svc)
}
