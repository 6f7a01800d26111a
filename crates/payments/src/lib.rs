//! Payments: providers (Stripe, test, free, offline) behind one trait, payments against a
//! *reference*, refunds executed by a retrying job, incoming Stripe webhooks processed
//! exactly once, subscriptions, and a double-entry money ledger.
//!
//! This context knows payments, never orders: an owner of references (ticketing, for
//! `booking:<id>`) registers a [`Payables`] implementation that says what is due, and
//! listens for the events this context publishes ([`events`]: `payment.processed` /
//! `payment.succeeded`, `payment.failed`, `payment.refunded`, `payment.refund_failed`).
//! See `docs/payments.md`.

pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod model;
pub mod provider;
pub mod service;
mod store;

pub use config::PaymentsConfig;
pub use domain::{PaymentId, PaymentStatus, ProviderKind, RefundId, SubscriptionId};
pub use http::router;
pub use service::{Caller, Payable, PayableState, Payables, PaymentsService, REFUND_JOB, RefundJob};

/// The names of the topics this context publishes, for listeners not yet moved to the typed
/// [`events`] constants.
pub mod topics {
    use crate::events;

    /// A payment went through (R129's `payment-processed`); published with `payment.succeeded`.
    pub const PROCESSED: &str = events::PAYMENT_PROCESSED.name();
    pub const SUCCEEDED: &str = events::PAYMENT_SUCCEEDED.name();
    pub const FAILED: &str = events::PAYMENT_FAILED.name();
    pub const REFUNDED: &str = events::PAYMENT_REFUNDED.name();
    pub const REFUND_FAILED: &str = events::PAYMENT_REFUND_FAILED.name();
}
