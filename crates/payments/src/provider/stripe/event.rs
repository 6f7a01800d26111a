//! Stripe webhook events, typed: the event types Backline acts on, each with the fields of
//! its object that are read, and [`StripeEvent::Ignored`] for every other type.
//!
//! Stripe's objects grow fields and change shapes between API versions, and an event we
//! cannot fully read must still be recorded and answered `200` (else Stripe redelivers it
//! for days). So decoding is lenient field by field: a field that is missing or of another
//! type reads as absent, exactly as a JSON lookup would, instead of failing the whole event.
//! Only a body without an `id` or `type` is refused ([`StripeWebhook::parse`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use uuid::Uuid;

/// A verified delivery: the envelope, and what the event says.
#[derive(Debug, Clone, PartialEq)]
pub struct StripeWebhook {
    /// Stripe's event id (`evt_…`): each is applied once.
    pub id: String,
    /// The event type as Stripe names it (`payment_intent.succeeded`), as recorded.
    pub kind: String,
    /// Connect: the connected account the event happened on (`None`: the server's own).
    pub account: Option<String>,
    pub event: StripeEvent,
}

impl StripeWebhook {
    /// Reads a Stripe event; `None` when it has no `id` or no `type`.
    pub fn parse(raw: &Value) -> Option<StripeWebhook> {
        let (id, kind) = (raw["id"].as_str()?, raw["type"].as_str()?);
        let object = &raw["data"]["object"];
        Some(StripeWebhook {
            id: id.to_string(),
            kind: kind.to_string(),
            account: raw["account"].as_str().filter(|a| !a.is_empty()).map(str::to_string),
            event: StripeEvent::of(kind, object),
        })
    }
}

/// What an event says, by type. Several Stripe types that mean the same to us share a variant.
#[derive(Debug, Clone, PartialEq)]
pub enum StripeEvent {
    /// `payment_intent.succeeded`
    PaymentIntentSucceeded(PaymentIntent),
    /// `payment_intent.payment_failed`
    PaymentIntentFailed(PaymentIntent),
    /// `payment_intent.requires_action`: the buyer must authenticate (3-D Secure).
    PaymentIntentRequiresAction(PaymentIntent),
    /// `checkout.session.completed`, `checkout.session.async_payment_succeeded`: the buyer
    /// finished the hosted page (paid, or a delayed method still under way).
    CheckoutSessionCompleted(CheckoutSession),
    /// `checkout.session.async_payment_failed`, `checkout.session.expired`.
    CheckoutSessionFailed(CheckoutSession),
    /// `charge.refunded`: some or all of a charge went back.
    ChargeRefunded(Charge),
    /// `refund.created`, `refund.updated`, `charge.refund.updated`.
    RefundUpdated(Refund),
    /// `customer.subscription.created`, `customer.subscription.updated`.
    SubscriptionUpdated(Subscription),
    /// `customer.subscription.deleted`: cancelled.
    SubscriptionDeleted(Subscription),
    /// `invoice.paid`, `invoice.payment_succeeded`.
    InvoicePaid(Invoice),
    /// `payout.paid`: money left the Stripe balance for the bank.
    PayoutPaid(Payout),
    /// `payout.failed`: the bank sent it back, or it never left.
    PayoutFailed(Payout),
    /// Any other type: recorded, nothing done.
    Ignored,
}

impl StripeEvent {
    /// The event of type `kind` about `object` (`data.object`).
    pub fn of(kind: &str, object: &Value) -> StripeEvent {
        use StripeEvent::*;
        match kind {
            "payment_intent.succeeded" => PaymentIntentSucceeded(lenient_object(object)),
            "payment_intent.payment_failed" => PaymentIntentFailed(lenient_object(object)),
            "payment_intent.requires_action" => PaymentIntentRequiresAction(lenient_object(object)),
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                CheckoutSessionCompleted(lenient_object(object))
            }
            "checkout.session.async_payment_failed" | "checkout.session.expired" => CheckoutSessionFailed(lenient_object(object)),
            "charge.refunded" => ChargeRefunded(lenient_object(object)),
            "refund.created" | "refund.updated" | "charge.refund.updated" => RefundUpdated(lenient_object(object)),
            "customer.subscription.created" | "customer.subscription.updated" => SubscriptionUpdated(lenient_object(object)),
            "customer.subscription.deleted" => SubscriptionDeleted(lenient_object(object)),
            "invoice.paid" | "invoice.payment_succeeded" => InvoicePaid(lenient_object(object)),
            "payout.paid" => PayoutPaid(lenient_object(object)),
            "payout.failed" => PayoutFailed(lenient_object(object)),
            _ => Ignored,
        }
    }
}

/// Our ids in a Stripe object's `metadata`: every object we create carries the ids of ours
/// it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Metadata {
    #[serde(default, deserialize_with = "lenient")]
    pub payment_id: Option<Uuid>,
    #[serde(default, deserialize_with = "lenient")]
    pub refund_id: Option<Uuid>,
    #[serde(default, deserialize_with = "lenient")]
    pub subscription_id: Option<Uuid>,
}

/// A field that holds an object's id, or the object itself when the request expanded it.
#[derive(Debug, Clone, PartialEq)]
pub enum Expandable {
    Id(String),
    Object(Value),
}

impl Expandable {
    /// An id or an object; `None` for anything else (absent, `null`).
    pub fn of(value: &Value) -> Option<Expandable> {
        match value {
            Value::String(id) => Some(Expandable::Id(id.clone())),
            Value::Object(_) => Some(Expandable::Object(value.clone())),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Expandable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Expandable::of(&value).ok_or_else(|| serde::de::Error::custom("neither an id nor an object"))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PaymentIntent {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub metadata: Metadata,
    /// Why the last attempt failed.
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub last_payment_error: PaymentError,
    /// What the buyer must do (`requires_action`), kept as Stripe sends it for the client.
    #[serde(default)]
    pub next_action: Value,
    /// The charge, whose balance transaction says the fee.
    #[serde(default, deserialize_with = "lenient")]
    pub latest_charge: Option<Expandable>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PaymentError {
    /// The issuer's reason for a card decline (`insufficient_funds`): the most specific code.
    #[serde(default, deserialize_with = "lenient")]
    pub decline_code: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CheckoutSession {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// The session's PaymentIntent (`pi_…`), once there is one.
    #[serde(default, deserialize_with = "lenient")]
    pub payment_intent: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default, deserialize_with = "lenient")]
    pub payment_status: Option<String>,
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Charge {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub metadata: Metadata,
    /// The charge's refunds, as older API versions list them; newer ones leave this empty.
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub refunds: RefundList,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RefundList {
    #[serde(default, deserialize_with = "lenient_list")]
    pub data: Vec<Refund>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Refund {
    /// `re_…`: the key that books a refund once, however many events announce it.
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// `pending`, `succeeded`, `failed`, `canceled`, `requires_action`.
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub payment_intent: Option<String>,
    /// Ours carry our refund's and payment's ids.
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub metadata: Metadata,
}

impl Refund {
    /// Refunds listed by the API (`GET /v1/refunds`), read as leniently as an event's.
    pub fn list_of(values: &[Value]) -> Vec<Refund> {
        values.iter().map(lenient_object).collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Subscription {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// `active`, `past_due`, `canceled`, `incomplete`, …
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Invoice {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// The subscription's id, in older API versions (newer: under `parent`).
    #[serde(default, deserialize_with = "lenient")]
    pub subscription: Option<String>,
    /// Older API versions: the subscription's metadata.
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub subscription_details: SubscriptionDetails,
    /// Newer API versions: what the invoice bills for.
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub parent: InvoiceParent,
    /// Minor units.
    #[serde(default, deserialize_with = "lenient")]
    pub amount_paid: Option<i64>,
    /// Lower case, as Stripe writes currency codes.
    #[serde(default, deserialize_with = "lenient")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub payment_intent: Option<String>,
    /// The charge, whose balance transaction says the fee.
    #[serde(default, deserialize_with = "lenient")]
    pub charge: Option<Expandable>,
}

impl Invoice {
    /// The Stripe subscription billed: `subscription` (older API versions) or
    /// `parent.subscription_details.subscription`.
    pub fn subscription_id(&self) -> Option<&str> {
        self.subscription.as_deref().or(self.parent.subscription_details.subscription.as_deref())
    }

    /// Our subscription id, from the subscription's metadata: the first invoice is paid while
    /// the subscription is created, so its event may come before we know Stripe's id.
    pub fn our_subscription(&self) -> Option<Uuid> {
        self.subscription_details.metadata.subscription_id.or(self.parent.subscription_details.metadata.subscription_id)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvoiceParent {
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub subscription_details: SubscriptionDetails,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default, deserialize_with = "lenient")]
    pub subscription: Option<String>,
    #[serde(default, deserialize_with = "lenient_object_field")]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Payout {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// Minor units.
    #[serde(default, deserialize_with = "lenient")]
    pub amount: Option<i64>,
    /// Lower case, as Stripe writes currency codes.
    #[serde(default, deserialize_with = "lenient")]
    pub currency: Option<String>,
}

/// A field that reads as `None` when its value is not a `T` (a number where a string was
/// expected, a string that is not a UUID).
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

/// A nested object field: its default when the value is not an object.
fn lenient_object_field<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(d: D) -> Result<T, D::Error> {
    Ok(lenient_object(&Value::deserialize(d)?))
}

/// A list field whose items are read one by one: an item that is not an object reads as an
/// empty one rather than dropping the list.
fn lenient_list<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.iter().map(lenient_object).collect(),
        _ => Vec::new(),
    })
}

/// An object of ours from a JSON value; its default when the value is not an object. (Serde
/// would read a struct from an array too, by position, which no Stripe object is.)
fn lenient_object<T: DeserializeOwned + Default>(value: &Value) -> T {
    match value {
        Value::Object(_) => T::deserialize(value).unwrap_or_default(),
        _ => T::default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_are_read_by_type_and_others_ignored() {
        let pid = Uuid::now_v7();
        let raw = json!({"id": "evt_1", "type": "payment_intent.payment_failed", "account": "acct_1",
            "data": {"object": {"id": "pi_1", "metadata": {"payment_id": pid.to_string()},
                "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "no"},
                "latest_charge": {"id": "ch_1"}}}});
        let hook = StripeWebhook::parse(&raw).unwrap();
        assert_eq!(
            (hook.id.as_str(), hook.kind.as_str(), hook.account.as_deref()),
            ("evt_1", "payment_intent.payment_failed", Some("acct_1"))
        );
        let StripeEvent::PaymentIntentFailed(pi) = hook.event else { panic!("{:?}", hook.event) };
        assert_eq!((pi.id.as_deref(), pi.metadata.payment_id), (Some("pi_1"), Some(pid)));
        assert_eq!(pi.last_payment_error.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(pi.latest_charge, Some(Expandable::Object(json!({"id": "ch_1"}))));
        assert_eq!(pi.next_action, Value::Null);

        let other = StripeWebhook::parse(&json!({"id": "evt_2", "type": "customer.created", "account": ""})).unwrap();
        assert_eq!((other.event, other.account), (StripeEvent::Ignored, None));
        assert!(StripeWebhook::parse(&json!({"id": "evt_3"})).is_none());
        assert!(StripeWebhook::parse(&json!({"type": "x", "id": 3})).is_none());
    }

    /// What a JSON lookup would read as absent reads as absent; the rest of the event stays.
    #[test]
    fn fields_of_another_shape_read_as_absent() {
        let event = StripeEvent::of(
            "charge.refunded",
            &json!({"id": 7, "payment_intent": "pi_1", "metadata": ["x"],
                "refunds": {"data": ["re_x", {"id": "re_1", "amount": 100.5, "metadata": {"refund_id": "not-a-uuid"}},
                                    {"id": "re_2", "amount": 300, "status": "succeeded"}]}}),
        );
        let StripeEvent::ChargeRefunded(charge) = event else { panic!() };
        assert_eq!((charge.id, charge.payment_intent.as_deref()), (None, Some("pi_1")));
        assert_eq!(charge.metadata, Metadata::default());
        let ids: Vec<Option<&str>> = charge.refunds.data.iter().map(|r| r.id.as_deref()).collect();
        assert_eq!(ids, [None, Some("re_1"), Some("re_2")]);
        assert_eq!((charge.refunds.data[1].amount, charge.refunds.data[1].metadata.refund_id), (None, None));
        assert_eq!(charge.refunds.data[2].amount, Some(300));

        // No object at all: every field absent, the type still known.
        assert_eq!(StripeEvent::of("payout.paid", &Value::Null), StripeEvent::PayoutPaid(Payout::default()));
        let StripeEvent::InvoicePaid(inv) = StripeEvent::of(
            "invoice.paid",
            &json!({"subscription": {"id": "sub_x"}, "parent": {"subscription_details": {"subscription": "sub_1"}}}),
        ) else {
            panic!()
        };
        assert_eq!(inv.subscription_id(), Some("sub_1"));
    }
}
