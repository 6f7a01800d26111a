//! Payments: providers (Stripe, test, free, offline) behind one trait, payments against a
//! *reference*, refunds executed by a retrying job, incoming Stripe webhooks processed
//! exactly once, subscriptions, and a double-entry money ledger.
//!
//! This context knows payments, never orders: an owner of references (ticketing, for
//! `booking:<id>`) registers a [`Payables`] implementation that says what is due, and
//! listens for the events this context publishes (`payment.processed` /
//! `payment.succeeded`, `payment.failed`, `payment.refunded`, `payment.refund_failed`).
//! See `docs/payments.md`.

pub mod config;
pub mod domain;
pub mod http;
pub mod model;
pub mod provider;
pub mod service;
mod store;

pub use config::PaymentsConfig;
pub use domain::{PaymentId, PaymentStatus, ProviderKind, RefundId, SubscriptionId};
pub use http::router;
pub use service::{Caller, Payable, PayableState, Payables, PaymentsService, REFUND_JOB};

/// Topics this context publishes.
pub mod topics {
    /// A payment went through (R129's `payment-processed`); published with `payment.succeeded`.
    pub const PROCESSED: &str = "payment.processed";
    pub const SUCCEEDED: &str = "payment.succeeded";
    pub const FAILED: &str = "payment.failed";
    pub const REFUNDED: &str = "payment.refunded";
    pub const REFUND_FAILED: &str = "payment.refund_failed";
}
