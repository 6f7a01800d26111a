//! Waitlist rules without I/O: the entry id, the entry's state machine, tier ranking.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

kernel::typed_id!(
    /// One person waiting for a ticket type or a session of an event.
    WaitlistEntryId
);

/// Most tickets one waitlist entry may ask for.
pub const WAITLIST_QUANTITY_MAX: i64 = 10;
/// Shortest and longest waitlist offer in seconds (1 s … 14 days).
pub const WAITLIST_OFFER_SECONDS_MAX: i64 = super::WAITLIST_OFFER_HOURS_MAX * 3600;

/// Where a waitlist entry is in its life:
/// `waiting → offered → accepted | declined | expired`, `waiting | offered → left`
/// (and `accepted → expired` when an accepted priced offer is not paid in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitlistStatus {
    /// In the queue.
    Waiting,
    /// Seats are held for the entry (its offer booking) until `offer_expires_at`.
    Offered,
    /// The offer was taken: a free offer is confirmed, a priced one awaits payment.
    Accepted,
    /// The person (or staff) turned the offer down; the seats went to the next in line.
    Declined,
    /// The offer ran out; the seats went to the next in line.
    Expired,
    /// The person left the waitlist, or staff removed them.
    Left,
}

impl WaitlistStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitlistStatus::Waiting => "waiting",
            WaitlistStatus::Offered => "offered",
            WaitlistStatus::Accepted => "accepted",
            WaitlistStatus::Declined => "declined",
            WaitlistStatus::Expired => "expired",
            WaitlistStatus::Left => "left",
        }
    }

    pub fn parse(s: &str) -> Option<WaitlistStatus> {
        Some(match s {
            "waiting" => WaitlistStatus::Waiting,
            "offered" => WaitlistStatus::Offered,
            "accepted" => WaitlistStatus::Accepted,
            "declined" => WaitlistStatus::Declined,
            "expired" => WaitlistStatus::Expired,
            "left" => WaitlistStatus::Left,
            _ => return None,
        })
    }

    /// Waiting or holding an offer: the entry still counts as the person's place in line.
    pub fn is_live(self) -> bool {
        matches!(self, WaitlistStatus::Waiting | WaitlistStatus::Offered)
    }
}

impl TryFrom<String> for WaitlistStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        WaitlistStatus::parse(&s).ok_or_else(|| format!("unknown waitlist status {s}"))
    }
}

/// A tier's rank among the event's tiers (their index; a tier no longer configured ranks
/// after all of them). Lower ranks are served first; within a rank, join order.
pub fn tier_rank(tier: &str, tiers: &[String]) -> i64 {
    tiers.iter().position(|t| t == tier).unwrap_or(tiers.len()) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_tiers_rank() {
        for s in ["waiting", "offered", "accepted", "declined", "expired", "left"] {
            assert_eq!(WaitlistStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(WaitlistStatus::Waiting.is_live() && WaitlistStatus::Offered.is_live());
        assert!(!WaitlistStatus::Accepted.is_live() && !WaitlistStatus::Left.is_live());
        let tiers = vec!["vip".to_string(), "standard".to_string()];
        assert_eq!(tier_rank("vip", &tiers), 0);
        assert_eq!(tier_rank("standard", &tiers), 1);
        assert_eq!(tier_rank("press", &tiers), 2, "unknown tiers last");
    }
}
