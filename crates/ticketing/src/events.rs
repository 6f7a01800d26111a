//! The domain events ticketing publishes: their topics and payloads, as other contexts (and
//! ticketing's own listeners: the waitlist, the refund of a cancelled booking) read them. The
//! JSON of each payload is part of the public contract; a change an existing consumer would
//! misread bumps the topic's version.
//!
//! Bookings publish the booking as it is after the change ([`BookingSnapshot`]; a partial
//! refund adds what it gave back, [`TicketsRefunded`]); a raised quota says how much room it
//! has now ([`CapacityRaised`]); check-in publishes the scan ([`CheckinSnapshot`]); the
//! waitlist publishes the entry ([`EntrySnapshot`]; an offer adds what it holds,
//! [`WaitlistOffer`]). No payload carries a token.

use chrono::{DateTime, Utc};
use events::{EventId, EventSessionId};
use kernel::id::{OrgId, UserId};
use kernel::jobs::{Topic, TopicInfo};
use serde::{Deserialize, Serialize};

use crate::domain::{
    BookingId, BookingStatus, CheckinId, CheckinListId, QuotaId, TicketId, TicketTypeId, WaitlistEntryId, WaitlistStatus,
};

/// A booking was made: `pending_payment` holding its seats, or `confirmed` at once when it
/// is free (then `booking.confirmed` follows in the same transaction).
pub const BOOKING_CREATED: Topic<BookingSnapshot> = Topic::new("booking.created", 1);
/// A booking was confirmed: free, marked paid, paid through a provider, or a free waitlist
/// offer accepted. Its tickets exist.
pub const BOOKING_CONFIRMED: Topic<BookingSnapshot> = Topic::new("booking.confirmed", 1);
/// A live booking ended and gave its seats back: cancelled by its buyer or the organizer
/// (`status: cancelled`), or refunded in full (`status: refunded`).
pub const BOOKING_CANCELLED: Topic<BookingSnapshot> = Topic::new("booking.cancelled", 1);
/// A pending booking's hold ran out before it was paid; its seats are free again.
pub const BOOKING_EXPIRED: Topic<BookingSnapshot> = Topic::new("booking.expired", 1);
/// A partial refund gave back some tickets of a confirmed booking; their seats are free.
pub const BOOKING_TICKETS_REFUNDED: Topic<TicketsRefunded> = Topic::new("booking.tickets_refunded", 1);
/// A quota's capacity went up.
pub const QUOTA_CAPACITY_RAISED: Topic<CapacityRaised> = Topic::new("quota.capacity_raised", 1);
/// A ticket was admitted at a door.
pub const TICKET_CHECKED_IN: Topic<CheckinSnapshot> = Topic::new("ticket.checked_in", 1);
/// An admission was undone (the ticket may be admitted again).
pub const TICKET_CHECKIN_UNDONE: Topic<CheckinSnapshot> = Topic::new("ticket.checkin_undone", 1);
/// Someone joined a waitlist.
pub const WAITLIST_JOINED: Topic<EntrySnapshot> = Topic::new("waitlist.joined", 1);
/// Freed seats are held for an entry (an offer booking) until `offer_expires_at`.
pub const WAITLIST_OFFERED: Topic<WaitlistOffer> = Topic::new("waitlist.offered", 1);
/// An offer was taken: by its person, or by paying its booking.
pub const WAITLIST_ACCEPTED: Topic<EntrySnapshot> = Topic::new("waitlist.accepted", 1);
/// An offer was turned down (by its person or staff), or its booking was cancelled.
pub const WAITLIST_DECLINED: Topic<EntrySnapshot> = Topic::new("waitlist.declined", 1);
/// An offer ran out (an accepted priced offer that was not paid in time, too).
pub const WAITLIST_EXPIRED: Topic<EntrySnapshot> = Topic::new("waitlist.expired", 1);
/// Someone left the waitlist, or staff removed them.
pub const WAITLIST_LEFT: Topic<EntrySnapshot> = Topic::new("waitlist.left", 1);

/// Every topic ticketing publishes, for the event catalogue.
pub fn topics() -> Vec<TopicInfo> {
    vec![
        BOOKING_CREATED.info(),
        BOOKING_CONFIRMED.info(),
        BOOKING_CANCELLED.info(),
        BOOKING_EXPIRED.info(),
        BOOKING_TICKETS_REFUNDED.info(),
        QUOTA_CAPACITY_RAISED.info(),
        TICKET_CHECKED_IN.info(),
        TICKET_CHECKIN_UNDONE.info(),
        WAITLIST_JOINED.info(),
        WAITLIST_OFFERED.info(),
        WAITLIST_ACCEPTED.info(),
        WAITLIST_DECLINED.info(),
        WAITLIST_EXPIRED.info(),
        WAITLIST_LEFT.info(),
    ]
}

/// A booking as it is after the change an event announces (`booking.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingSnapshot {
    pub booking_id: BookingId,
    pub org_id: OrgId,
    pub event_id: EventId,
    /// The order code the buyer reads out (10 characters).
    pub code: String,
    pub status: BookingStatus,
    pub buyer_email: String,
    pub buyer_name: String,
    /// The signed-in buyer; `null` for a buyer who was not signed in.
    pub user_id: Option<UserId>,
    /// The one currency the booking is paid in (upper case).
    pub currency: String,
    /// What the booking costs, in minor units of `currency`, after the voucher.
    pub total: i64,
    /// Tickets over all positions.
    pub quantity: i64,
    /// Tickets per ticket type, in position order.
    pub positions: Vec<BookedPosition>,
}

/// How many tickets of one type a booking holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedPosition {
    pub ticket_type_id: TicketTypeId,
    pub quantity: i64,
}

/// `booking.tickets_refunded`: the booking after the refund, and what the refund gave back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketsRefunded {
    #[serde(flatten)]
    pub booking: BookingSnapshot,
    /// The tickets given back (now cancelled).
    pub tickets: Vec<TicketId>,
    /// How many tickets the booking gave back (the length of `tickets`).
    pub refunded_quantity: i64,
}

/// `quota.capacity_raised`: the quota after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityRaised {
    pub quota_id: QuotaId,
    pub event_id: EventId,
    pub org_id: OrgId,
    pub capacity: i64,
    pub previous_capacity: i64,
    /// Seats neither held nor sold, now.
    pub available: i64,
    /// The ticket types drawing from the quota.
    pub ticket_type_ids: Vec<TicketTypeId>,
}

/// One scan at a door (`ticket.checked_in`, `ticket.checkin_undone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinSnapshot {
    pub checkin_id: CheckinId,
    /// The ticket scanned; `null` when the scan found none.
    pub ticket_id: Option<TicketId>,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub list_id: CheckinListId,
    /// The door or scanner, as the scanner named it.
    pub gate: Option<String>,
    /// When the ticket was scanned (the scanner's clock, for offline uploads).
    pub scanned_at: DateTime<Utc>,
    /// When the admission was undone; `null` while it stands.
    pub undone_at: Option<DateTime<Utc>>,
}

/// A waitlist entry as it is after the change an event announces (`waitlist.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntrySnapshot {
    pub entry_id: WaitlistEntryId,
    pub org_id: OrgId,
    pub event_id: EventId,
    /// What the entry waits for: a ticket type, or any public type of `session_id`.
    pub ticket_type_id: Option<TicketTypeId>,
    pub session_id: Option<EventSessionId>,
    pub tier: String,
    /// Where offers go (lower case).
    pub email: String,
    pub name: String,
    /// The signed-in person who joined; `null` for someone who was not signed in (or was
    /// placed by staff).
    pub user_id: Option<UserId>,
    pub quantity: i64,
    pub status: WaitlistStatus,
    /// The offer booking, once offered.
    pub booking_id: Option<BookingId>,
    pub offer_expires_at: Option<DateTime<Utc>>,
}

/// `waitlist.offered`: the entry with what its offer holds. `ticket_type_id` is the type
/// the offer books (for an entry waiting for a session, the first of its types with room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistOffer {
    #[serde(flatten)]
    pub entry: EntrySnapshot,
    /// What the offer booking costs, in minor units of `currency`.
    pub total: i64,
    pub currency: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sqlx::types::Json;

    use super::*;
    use crate::bookings::booking_event;
    use crate::bookings::store::{Allocation, BookingRecord};
    use crate::checkin::checkin_event;
    use crate::checkin::store::CheckinRecord;
    use crate::domain::{CheckinResult, PositionId};
    use crate::model::{Attendee, Position};
    use crate::waitlist::entry_event;
    use crate::waitlist::store::EntryRecord;

    fn at() -> DateTime<Utc> {
        "2026-05-01T12:00:00.123456Z".parse().unwrap()
    }

    fn booking(user_id: Option<UserId>) -> BookingRecord {
        BookingRecord {
            id: BookingId::new(),
            org_id: OrgId::new(),
            event_id: EventId::new(),
            code: "ABCDE12345".into(),
            status: BookingStatus::PendingPayment,
            buyer_email: "ann@example.org".into(),
            buyer_name: "Ann".into(),
            user_id,
            voucher_id: None,
            voucher_code: None,
            currency: "EUR".into(),
            subtotal: 10000,
            discount: 500,
            total: 9500,
            quantity: 2,
            attendees: Json(vec![Attendee { name: "Bo".into(), email: None }]),
            allocations: Json(vec![Allocation { quota_id: QuotaId::new(), quantity: 2 }]),
            token_hash: "secret".into(),
            hold_expires_at: Some(at()),
            confirmed_at: None,
            cancelled_at: None,
            expired_at: None,
            paid_reference: None,
            created_at: at(),
            updated_at: at(),
        }
    }

    fn position(quantity: i64) -> Position {
        Position {
            id: PositionId::new(),
            ticket_type_id: TicketTypeId::new(),
            ticket_type_name: "GA".into(),
            quantity,
            unit_price: 5000,
            discount: 500,
            currency: "EUR".into(),
        }
    }

    /// What `booking_event` was as a `json!` literal, before it was a type.
    fn legacy_booking(b: &BookingRecord, positions: &[Position]) -> serde_json::Value {
        json!({
            "booking_id": b.id, "org_id": b.org_id, "event_id": b.event_id, "code": b.code, "status": b.status,
            "buyer_email": b.buyer_email, "buyer_name": b.buyer_name, "user_id": b.user_id,
            "currency": b.currency, "total": b.total, "quantity": b.quantity,
            "positions": positions.iter().map(|p| json!({ "ticket_type_id": p.ticket_type_id, "quantity": p.quantity })).collect::<Vec<_>>(),
        })
    }

    fn entry(ticket_type_id: Option<TicketTypeId>, booking_id: Option<BookingId>) -> EntryRecord {
        EntryRecord {
            id: WaitlistEntryId::new(),
            org_id: OrgId::new(),
            event_id: EventId::new(),
            ticket_type_id,
            session_id: ticket_type_id.is_none().then(EventSessionId::new),
            tier: "standard".into(),
            email: "ann@example.org".into(),
            name: "Ann".into(),
            user_id: None,
            quantity: 2,
            status: if booking_id.is_some() { WaitlistStatus::Offered } else { WaitlistStatus::Waiting },
            token_hash: Some("secret".into()),
            booking_id,
            offered_at: booking_id.map(|_| at()),
            offer_expires_at: booking_id.map(|_| at()),
            closed_at: None,
            created_at: at(),
            updated_at: at(),
        }
    }

    /// What `entry_event` was as a `json!` literal.
    fn legacy_entry(e: &EntryRecord) -> serde_json::Value {
        json!({
            "entry_id": e.id, "org_id": e.org_id, "event_id": e.event_id, "ticket_type_id": e.ticket_type_id,
            "session_id": e.session_id, "tier": e.tier, "email": e.email, "name": e.name, "user_id": e.user_id,
            "quantity": e.quantity, "status": e.status, "booking_id": e.booking_id, "offer_expires_at": e.offer_expires_at,
        })
    }

    fn round_trips<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(payload: &T) {
        let value = serde_json::to_value(payload).unwrap();
        assert_eq!(&serde_json::from_value::<T>(value).unwrap(), payload);
    }

    // The payloads were `json!` literals before they were types; their JSON must not change:
    // every field present, `null` for what is unset, typed ids as strings.
    #[test]
    fn booking_payloads_keep_their_json() {
        for user in [None, Some(UserId::new())] {
            let (b, positions) = (booking(user), vec![position(2), position(1)]);
            let snapshot = booking_event(&b, &positions);
            assert_eq!(serde_json::to_value(&snapshot).unwrap(), legacy_booking(&b, &positions));
            round_trips(&snapshot);

            let ids = vec![TicketId::new(), TicketId::new()];
            let refunded = TicketsRefunded { booking: snapshot, tickets: ids.clone(), refunded_quantity: 2 };
            let mut legacy = legacy_booking(&b, &positions);
            legacy["tickets"] = json!(ids);
            legacy["refunded_quantity"] = json!(2);
            assert_eq!(serde_json::to_value(&refunded).unwrap(), legacy);
            round_trips(&refunded);
        }
    }

    #[test]
    fn quota_payload_keeps_its_json() {
        let (id, e, org, types) = (QuotaId::new(), EventId::new(), OrgId::new(), vec![TicketTypeId::new()]);
        let raised = CapacityRaised {
            quota_id: id,
            event_id: e,
            org_id: org,
            capacity: 120,
            previous_capacity: 100,
            available: 20,
            ticket_type_ids: types.clone(),
        };
        let legacy = json!({
            "quota_id": id, "event_id": e, "org_id": org, "capacity": 120, "previous_capacity": 100,
            "available": 20, "ticket_type_ids": types,
        });
        assert_eq!(serde_json::to_value(&raised).unwrap(), legacy);
        round_trips(&raised);
    }

    #[test]
    fn checkin_payloads_keep_their_json() {
        for (ticket, gate, undone) in [(None, None, None), (Some(TicketId::new()), Some("North".to_string()), Some(at()))] {
            let k = CheckinRecord {
                id: CheckinId::new(),
                org_id: OrgId::new(),
                event_id: EventId::new(),
                list_id: CheckinListId::new(),
                ticket_id: ticket,
                scan_id: "scan-1".into(),
                result: CheckinResult::Valid,
                code: "CODE".into(),
                gate,
                scanned_at: at(),
                actor: "user:1".into(),
                undone_at: undone,
                undone_by: None,
                created_at: at(),
                updated_at: at(),
            };
            let legacy = json!({
                "checkin_id": k.id, "ticket_id": k.ticket_id, "org_id": k.org_id, "event_id": k.event_id,
                "list_id": k.list_id, "gate": k.gate, "scanned_at": k.scanned_at, "undone_at": k.undone_at,
            });
            let snapshot = checkin_event(&k);
            assert_eq!(serde_json::to_value(&snapshot).unwrap(), legacy);
            round_trips(&snapshot);
        }
    }

    #[test]
    fn waitlist_payloads_keep_their_json() {
        for e in [entry(Some(TicketTypeId::new()), None), entry(None, Some(BookingId::new()))] {
            let snapshot = entry_event(&e);
            assert_eq!(serde_json::to_value(&snapshot).unwrap(), legacy_entry(&e));
            round_trips(&snapshot);

            // The offer named the type it books in place of the entry's own `ticket_type_id`.
            let offered_type = TicketTypeId::new();
            let offer = WaitlistOffer {
                entry: EntrySnapshot { ticket_type_id: Some(offered_type), ..snapshot },
                total: 10000,
                currency: "EUR".into(),
            };
            let mut legacy = legacy_entry(&e);
            legacy["ticket_type_id"] = json!(offered_type);
            legacy["total"] = json!(10000);
            legacy["currency"] = json!("EUR");
            assert_eq!(serde_json::to_value(&offer).unwrap(), legacy);
            round_trips(&offer);
        }
    }

    #[test]
    fn the_catalogue_lists_every_topic_once() {
        let names: Vec<&str> = topics().iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "booking.created",
                "booking.confirmed",
                "booking.cancelled",
                "booking.expired",
                "booking.tickets_refunded",
                "quota.capacity_raised",
                "ticket.checked_in",
                "ticket.checkin_undone",
                "waitlist.joined",
                "waitlist.offered",
                "waitlist.accepted",
                "waitlist.declined",
                "waitlist.expired",
                "waitlist.left",
            ]
        );
        assert!(topics().iter().all(|t| t.version == 1));
        assert_eq!(topics()[4].payload, "TicketsRefunded");
        assert_eq!(topics()[9].payload, "WaitlistOffer");
    }
}
