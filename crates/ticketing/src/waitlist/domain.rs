//! Waitlist rules without I/O: the entry's state machine, what an entry waits for, the
//! tier a person joins, tier ranking, and how an offer states its price.

use events::EventSessionId;
use kernel::AppError;
use kernel::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::store::TicketTypeRecord;
use crate::domain::TicketTypeId;

/// Most tickets one waitlist entry may ask for.
pub const WAITLIST_QUANTITY_MAX: i64 = 10;
/// Shortest and longest waitlist offer in seconds (1 s … 14 days).
pub const WAITLIST_OFFER_SECONDS_MAX: i64 = crate::domain::WAITLIST_OFFER_HOURS_MAX * 3600;

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

/// What an entry waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Type(TicketTypeId),
    Session(EventSessionId),
}

impl Target {
    /// The target of an entry's two columns (exactly one of them is set).
    pub fn of(ticket_type: Option<TicketTypeId>, session: Option<EventSessionId>) -> Option<Target> {
        match (ticket_type, session) {
            (Some(t), None) => Some(Target::Type(t)),
            (None, Some(s)) => Some(Target::Session(s)),
            _ => None,
        }
    }

    /// What a join request asks to wait for.
    pub fn requested(ticket_type: Option<TicketTypeId>, session: Option<EventSessionId>) -> Result<Target, AppError> {
        match (ticket_type, session) {
            (Some(_), Some(_)) => Err(AppError::validation("session_id", "give ticket_type_id or session_id, not both")),
            (None, None) => Err(AppError::validation("ticket_type_id", "give the ticket type (or session_id) to wait for")),
            (Some(t), None) => Ok(Target::Type(t)),
            (None, Some(s)) => Ok(Target::Session(s)),
        }
    }

    /// The entry's columns (`ticket_type_id`, `session_id`).
    pub fn columns(self) -> (Option<TicketTypeId>, Option<EventSessionId>) {
        match self {
            Target::Type(t) => (Some(t), None),
            Target::Session(s) => (None, Some(s)),
        }
    }
}

/// Whether a booking of `quantity` fits the type's per-booking limits.
pub(crate) fn fits(t: &TicketTypeRecord, quantity: i64) -> bool {
    quantity >= t.min_per_order && t.max_per_order.is_none_or(|m| quantity <= m)
}

/// The tier a person joins, and whether staff join on someone's behalf: everyone joins the
/// event's last tier (and may name only that one); staff may name any of the event's tiers
/// (ignoring case), and then act for the person whose email they give.
pub fn join_tier(requested: Option<&str>, tiers: &[String], staff: bool) -> Result<(String, bool), AppError> {
    let last = tiers.last().cloned().unwrap_or_else(|| "standard".to_string());
    match requested.map(|t| t.trim().to_ascii_lowercase()) {
        None => Ok((last, false)),
        Some(t) if staff => {
            if !tiers.contains(&t) {
                return Err(AppError::validation("tier", format!("must be one of the event's tiers: {}", tiers.join(", "))));
            }
            Ok((t, true))
        }
        Some(t) if t == last => Ok((last, false)),
        Some(_) => {
            Err(AppError::validation("tier", format!("only the organizer places people in a tier; everyone joins {last}")))
        }
    }
}

/// Minor units as an amount in the currency's usual decimals (`5000 EUR` → `50.00 EUR`), as
/// [`Money`] prints it; a code outside the ISO list (never stored) shows the bare number.
pub fn money(minor: i64, currency: &str) -> String {
    match Currency::from_code(currency) {
        Some(c) => Money::new(minor, c).to_string(),
        None => format!("{minor} {currency}"),
    }
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

    #[test]
    fn joining_picks_the_target_and_the_tier() {
        let (t, s) = (TicketTypeId::new(), EventSessionId::new());
        assert_eq!(Target::requested(Some(t), None).unwrap(), Target::Type(t));
        assert_eq!(Target::requested(None, Some(s)).unwrap().columns(), (None, Some(s)));
        assert!(Target::requested(Some(t), Some(s)).is_err());
        assert!(Target::requested(None, None).is_err());
        assert_eq!(Target::of(None, None), None);

        let tiers = vec!["vip".to_string(), "standard".to_string()];
        assert_eq!(join_tier(None, &tiers, false).unwrap(), ("standard".to_string(), false));
        assert_eq!(join_tier(Some(" Standard "), &tiers, false).unwrap(), ("standard".to_string(), false));
        assert!(join_tier(Some("vip"), &tiers, false).is_err(), "only staff place people in a tier");
        assert_eq!(join_tier(Some("VIP"), &tiers, true).unwrap(), ("vip".to_string(), true));
        assert!(join_tier(Some("press"), &tiers, true).is_err());
    }

    #[test]
    fn money_in_the_currency_s_decimals() {
        assert_eq!(money(5000, "EUR"), "50.00 EUR");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(5000, "JPY"), "5000 JPY");
        assert_eq!(money(1234, "KWD"), "1.234 KWD");
    }
}
