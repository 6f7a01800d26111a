//! The domain events the payments context publishes: their topics and payloads.
//!
//! The owner of a reference (ticketing, for `booking:<id>`) listens to them: it confirms a
//! booking on `payment.succeeded` and gives tickets back on `payment.refunded`. Payloads are
//! a snapshot of the payment after the change; the refund topics add the refund.

use kernel::id::OrgId;
use kernel::jobs::{Topic, TopicInfo};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{PaymentId, PaymentStatus, ProviderKind, RefundId};

/// A payment went through (R129's `payment-processed`); published with `payment.succeeded`.
pub const PAYMENT_PROCESSED: Topic<PaymentSnapshot> = Topic::new("payment.processed", 1);
/// A payment went through: its reference is paid (unless `duplicate`).
pub const PAYMENT_SUCCEEDED: Topic<PaymentSnapshot> = Topic::new("payment.succeeded", 1);
/// An attempt failed: declined, abandoned, superseded by an offline payment, or the provider
/// refused it. The reference may be paid again.
pub const PAYMENT_FAILED: Topic<PaymentSnapshot> = Topic::new("payment.failed", 1);
/// A refund went through at the provider (ours, or one made in the provider's dashboard).
pub const PAYMENT_REFUNDED: Topic<PaymentRefunded> = Topic::new("payment.refunded", 1);
/// A refund was given up: refused by the provider, or out of attempts.
pub const PAYMENT_REFUND_FAILED: Topic<RefundFailed> = Topic::new("payment.refund_failed", 1);

/// Every topic this context publishes, for the event catalogue.
pub fn topics() -> Vec<TopicInfo> {
    vec![
        PAYMENT_PROCESSED.info(),
        PAYMENT_SUCCEEDED.info(),
        PAYMENT_FAILED.info(),
        PAYMENT_REFUNDED.info(),
        PAYMENT_REFUND_FAILED.info(),
    ]
}

/// A payment as it is after the change an event announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSnapshot {
    pub payment_id: PaymentId,
    pub org_id: OrgId,
    /// What was paid for: `booking:<id>`, `subscription:<id>`.
    pub reference: String,
    /// The event the money belongs to (settlement reports); `null` for none.
    pub event_id: Option<Uuid>,
    pub provider: ProviderKind,
    pub status: PaymentStatus,
    /// Minor units (cents) of `currency`.
    pub amount: i64,
    /// The currency code, upper case (`EUR`).
    pub currency: String,
    /// How much of `amount` has gone back so far.
    pub refunded_amount: i64,
    /// The provider's fee, in minor units.
    pub fee: i64,
    /// Test-mode money: never revenue.
    pub test_mode: bool,
    pub buyer_email: String,
    /// Money taken for a reference another payment had paid: the reference's owner refunds it
    /// rather than settling the reference a second time.
    pub duplicate: bool,
    /// `payment.processed` / `payment.succeeded` of money the reference's owner recorded itself
    /// ("mark paid"), in the transaction that settled the reference: its listener has nothing
    /// to do. Present only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub owner_settled: bool,
}

/// `payment.refunded`: the payment after the refund, and the refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    #[serde(flatten)]
    pub payment: PaymentSnapshot,
    pub refund_id: RefundId,
    /// What this refund gave back, in minor units of the payment's currency.
    pub refund_amount: i64,
    /// Nothing of the payment is left (`status` is `refunded`).
    pub fully_refunded: bool,
    /// What the refund gave back, as the reference's owner names it (ticket ids for a
    /// booking); empty for a money-only refund.
    pub items: Vec<String>,
}

/// `payment.refund_failed`: the payment, and the refund that was given up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundFailed {
    #[serde(flatten)]
    pub payment: PaymentSnapshot,
    pub refund_id: RefundId,
    /// What the refund would have given back, in minor units.
    pub refund_amount: i64,
    /// The provider's last answer (at most 500 characters).
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> PaymentSnapshot {
        PaymentSnapshot {
            payment_id: PaymentId::new(),
            org_id: OrgId::new(),
            reference: "booking:b1".into(),
            event_id: None,
            provider: ProviderKind::Test,
            status: PaymentStatus::PartiallyRefunded,
            amount: 5000,
            currency: "EUR".into(),
            refunded_amount: 1000,
            fee: 100,
            test_mode: true,
            buyer_email: "ann@example.org".into(),
            duplicate: false,
            owner_settled: false,
        }
    }

    /// The payloads keep the shape of the `json!` objects they replaced: every field of the
    /// snapshot, `event_id` as `null` when unset, `owner_settled` only when true, refund
    /// fields flat beside the payment's.
    #[test]
    fn payloads_keep_their_json_shape() {
        let p = snapshot();
        let legacy = serde_json::json!({
            "payment_id": p.payment_id, "org_id": p.org_id, "reference": "booking:b1", "event_id": null,
            "provider": "test", "status": "partially_refunded", "amount": 5000, "currency": "EUR",
            "refunded_amount": 1000, "fee": 100, "test_mode": true, "buyer_email": "ann@example.org", "duplicate": false,
        });
        assert_eq!(serde_json::to_value(&p).unwrap(), legacy);
        let settled = PaymentSnapshot { owner_settled: true, ..p.clone() };
        let mut with_flag = legacy.clone();
        with_flag["owner_settled"] = serde_json::json!(true);
        assert_eq!(serde_json::to_value(&settled).unwrap(), with_flag);

        let refund_id = RefundId::new();
        let refunded = PaymentRefunded {
            payment: p.clone(),
            refund_id,
            refund_amount: 1000,
            fully_refunded: false,
            items: vec!["t1".into()],
        };
        let mut expected = legacy.clone();
        expected["refund_id"] = serde_json::json!(refund_id);
        expected["refund_amount"] = serde_json::json!(1000);
        expected["fully_refunded"] = serde_json::json!(false);
        expected["items"] = serde_json::json!(["t1"]);
        let value = serde_json::to_value(&refunded).unwrap();
        assert_eq!(value, expected);
        assert_eq!(serde_json::from_value::<PaymentRefunded>(value).unwrap(), refunded);

        let failed = RefundFailed { payment: p, refund_id, refund_amount: 1000, error: "refused".into() };
        let mut expected = legacy;
        expected["refund_id"] = serde_json::json!(refund_id);
        expected["refund_amount"] = serde_json::json!(1000);
        expected["error"] = serde_json::json!("refused");
        assert_eq!(serde_json::to_value(&failed).unwrap(), expected);
    }

    #[test]
    fn the_catalogue_lists_every_topic_once() {
        let names: Vec<&str> = topics().iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            ["payment.processed", "payment.succeeded", "payment.failed", "payment.refunded", "payment.refund_failed"]
        );
        assert_eq!(topics()[3].payload, "PaymentRefunded");
    }
}
