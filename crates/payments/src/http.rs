//! REST handlers for payments, refunds, history, subscriptions, the Stripe webhook, the
//! ledger, settlement reports, reconciliation and per-organization payment settings.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kernel::AppResult;
use kernel::auth::{Auth, MaybeAuth};
use kernel::error::{AppError, Problem};
use kernel::extract::{Json, Path, Query};
use kernel::id::OrgId;
use kernel::pagination::Page;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{PaymentId, SubscriptionId};
use crate::model::*;
use crate::service::PaymentsService;

type Svc = State<Arc<PaymentsService>>;

/// Create (or confirm) the payment of a reference (`booking:<id>`). Requires an
/// `Idempotency-Key` header (a retry with the same key gets the same answer and charges
/// once). Anyone who can see the reference may pay it (the buyer signed in, or with
/// `token`); `provider: offline` records money received outside the system (staff).
/// The answer is `201` with the payment in `succeeded`, `failed` (declined: see
/// `failure_code`), `requires_action` (see `next_action`) or `processing` (checkout: send
/// the buyer to `checkout_url`; the webhook settles it).
#[utoipa::path(post, path = "/api/payments/process", tag = "payments", request_body = ProcessPayment,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]+$",
        description = "Required: a unique key per payment attempt (1–255 visible ASCII characters)")),
    responses(
    (status = 201, body = Payment), (status = 404, description = "No such reference", body = Problem),
    (status = 409, description = "`already_paid`, `payment_in_progress`, `not_payable`", body = Problem),
    (status = 422, description = "Invalid field (amount or currency not those due, provider, payment_method, Idempotency-Key missing)", body = Problem),
    (status = 503, description = "Provider unavailable", body = Problem)),
    security((), ("bearer" = [])))]
async fn process(
    State(svc): Svc,
    auth: MaybeAuth,
    headers: HeaderMap,
    Json(req): Json<ProcessPayment>,
) -> AppResult<(StatusCode, Json<Payment>)> {
    if headers.get(kernel::idempotency::HEADER).is_none() {
        return Err(AppError::validation("Idempotency-Key", "this header is required to process a payment"));
    }
    Ok((StatusCode::CREATED, Json(svc.process(auth.0.as_ref(), req).await?)))
}

/// A payment with its refunds (members of its organization, its payer, or the buyer with
/// `?token=`).
#[utoipa::path(get, path = "/api/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "Payment id"), TokenQuery),
    responses((status = 200, body = Payment), (status = 404, body = Problem)), security((), ("bearer" = [])))]
async fn get_payment(
    State(svc): Svc,
    auth: MaybeAuth,
    Path(id): Path<PaymentId>,
    Query(t): Query<TokenQuery>,
) -> AppResult<Json<Payment>> {
    Ok(Json(svc.payment(auth.0.as_ref(), t.token.as_deref(), id).await?))
}

/// Refund a payment, fully or partly (staff and above). The refund is queued and executed
/// by a job with retries (`202`); `payment.refunded` follows when the provider confirms.
/// `items` names what is given back (for a booking: ticket ids, priced at what was paid
/// for them); those tickets are then cancelled and their seats freed.
#[utoipa::path(post, path = "/api/payments/{id}/refund", tag = "payments",
    params(("id" = String, Path, description = "Payment id")), request_body = CreateRefund, responses(
    (status = 202, body = Refund), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "Not refundable, nothing left, or an item already refunded", body = Problem),
    (status = 422, description = "Amount not positive, above what is left or above the items' price; an item that cannot be given back", body = Problem)),
    security(("bearer" = [])))]
async fn refund(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<PaymentId>,
    Json(req): Json<CreateRefund>,
) -> AppResult<(StatusCode, Json<Refund>)> {
    Ok((StatusCode::ACCEPTED, Json(svc.refund(&auth.0, id, req).await?)))
}

/// Payment history, newest first: an organization's (`org_id`, members) or your own.
#[utoipa::path(get, path = "/api/payments/history", tag = "payments", params(HistoryQuery),
    responses((status = 200, body = Page<Payment>), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn history(State(svc): Svc, auth: Auth, Query(q): Query<HistoryQuery>) -> AppResult<Json<Page<Payment>>> {
    Ok(Json(svc.history(&auth.0, q).await?))
}

/// Create a subscription (membership, season pass, fan-club tier) for a customer (staff
/// and above), through the organization's provider.
#[utoipa::path(post, path = "/api/payments/subscription", tag = "payments", request_body = CreateSubscription, responses(
    (status = 201, body = Subscription), (status = 404, body = Problem), (status = 409, description = "Card declined", body = Problem),
    (status = 422, body = Problem)), security(("bearer" = [])))]
async fn create_subscription(
    State(svc): Svc,
    auth: Auth,
    Json(req): Json<CreateSubscription>,
) -> AppResult<(StatusCode, Json<Subscription>)> {
    Ok((StatusCode::CREATED, Json(svc.create_subscription(&auth.0, req).await?)))
}

/// Cancel a subscription (staff and above).
#[utoipa::path(post, path = "/api/payments/subscription/{id}/cancel", tag = "payments",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = Subscription), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn cancel_subscription(State(svc): Svc, auth: Auth, Path(id): Path<SubscriptionId>) -> AppResult<Json<Subscription>> {
    Ok(Json(svc.cancel_subscription(&auth.0, id).await?))
}

/// Stripe webhook endpoint. Verifies `Stripe-Signature` (HMAC-SHA256 over `t.payload`,
/// tolerance window, every configured secret), records each event id once and applies it
/// once; a replay answers `200` with `duplicate: true`. The signature is the sender's
/// credential: a missing or bad one is a `401` (`invalid_signature`). A server without a
/// webhook secret has no such endpoint: `404`.
#[utoipa::path(post, path = "/api/payments/webhook/stripe", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<hex HMAC-SHA256>[,v1=…]`, as Stripe sends it")),
    request_body(content = Object, description = "A Stripe event", content_type = "application/json"),
    responses((status = 200, body = WebhookAck),
    (status = 400, description = "A correctly signed body that is not a Stripe event (`malformed_json`, `malformed_event`)", body = Problem),
    (status = 401, description = "Missing, malformed, stale or non-matching `Stripe-Signature` (`invalid_signature`)", body = Problem),
    (status = 404, description = "This server has no Stripe webhook secret configured", body = Problem)),
    security(()))]
async fn stripe_webhook(State(svc): Svc, headers: HeaderMap, body: Bytes) -> Result<Json<WebhookAck>, Response> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    svc.stripe_webhook(signature, &body).await.map(Json).map_err(IntoResponse::into_response)
}

/// The organization's money ledger, newest first (members): balanced double-entry lines
/// per transaction (debit positive, credit negative).
#[utoipa::path(get, path = "/api/payments/ledger", tag = "payments", params(LedgerQuery),
    responses((status = 200, body = Page<LedgerTransaction>), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn ledger(State(svc): Svc, auth: Auth, Query(q): Query<LedgerQuery>) -> AppResult<Json<Page<LedgerTransaction>>> {
    Ok(Json(svc.ledger(&auth.0, q).await?))
}

/// Settlement report (members): gross, refunds, fees, net, charges and payouts per
/// currency, for the organization or one event (`event_id`); test-mode money listed apart.
#[utoipa::path(get, path = "/api/payments/settlement", tag = "payments", params(SettlementQuery),
    responses((status = 200, body = Settlement), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn settlement(State(svc): Svc, auth: Auth, Query(q): Query<SettlementQuery>) -> AppResult<Json<Settlement>> {
    Ok(Json(svc.settlement(&auth.0, q).await?))
}

/// Run reconciliation now (organization admins with `org_id`; platform admins for all):
/// settles payments stuck in flight from the provider's view, re-publishes paid ones whose
/// order is still open, and reports mismatches.
#[utoipa::path(post, path = "/api/payments/reconcile", tag = "payments", params(ReconcileQuery),
    responses((status = 200, body = ReconcileReport), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn reconcile(State(svc): Svc, auth: Auth, Query(q): Query<ReconcileQuery>) -> AppResult<Json<ReconcileReport>> {
    Ok(Json(svc.reconcile(&auth.0, q.org_id).await?))
}

/// The organization's payment settings (owners and admins).
#[utoipa::path(get, path = "/api/orgs/{id}/payment-settings", tag = "payments",
    params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = PaymentSettings), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_settings(State(svc): Svc, auth: Auth, Path(id): Path<OrgId>) -> AppResult<Json<PaymentSettings>> {
    Ok(Json(svc.settings(&auth.0, id).await?))
}

/// Choose the organization's provider (`test` or `stripe`) and whether offline payments
/// are taken (owners and admins); give it a Stripe connected account (platform
/// administrators).
#[utoipa::path(put, path = "/api/orgs/{id}/payment-settings", tag = "payments",
    params(("id" = String, Path, description = "Organization id")), request_body = UpdatePaymentSettings,
    responses((status = 200, body = PaymentSettings), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "`stripe_account_taken`", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn update_settings(
    State(svc): Svc,
    auth: Auth,
    Path(id): Path<OrgId>,
    Json(req): Json<UpdatePaymentSettings>,
) -> AppResult<Json<PaymentSettings>> {
    Ok(Json(svc.update_settings(&auth.0, id, req).await?))
}

pub fn router(svc: Arc<PaymentsService>) -> OpenApiRouter {
    // Deduplicated by the provider's event id instead.
    svc.kernel.idempotency_exempt.add("/api/payments/webhook/*");

    OpenApiRouter::new()
        .routes(routes!(process))
        .routes(routes!(history))
        .routes(routes!(ledger))
        .routes(routes!(settlement))
        .routes(routes!(reconcile))
        .routes(routes!(create_subscription))
        .routes(routes!(cancel_subscription))
        .routes(routes!(stripe_webhook))
        .routes(routes!(get_payment))
        .routes(routes!(refund))
        .routes(routes!(get_settings, update_settings))
        .with_state(svc)
}
