//! Booking rules without I/O: the booking and ticket state machines, the checks a booking
//! request passes (its own shape, then against the event's catalog, the voucher and the
//! per-buyer cap), pricing with vouchers, giving tickets back, and the seats a booking takes
//! per quota.
//!
//! The service loads the facts (the cached catalog, the voucher, the settings), calls these
//! rules in the order their errors are reported, and writes what they decided.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use events::EventFacts;
use events::EventStatus;
use kernel::AppError;
use kernel::money::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::store::{TicketTypeRecord, VoucherRecord};
use crate::domain::{self, PositionId, QuotaId, TicketTypeId, Visibility};
use crate::model::{Attendee, CreateBooking, Position, PositionRequest};

/// Tickets in one booking, and the largest `max_per_order`.
pub const BOOKING_TICKETS_MAX: i64 = 100;
pub const POSITIONS_MAX: usize = 50;

/// Where a booking is in its life:
/// `pending_payment → confirmed → cancelled | refunded`, `pending_payment → expired`
/// (and `pending_payment → cancelled`). Only live bookings (pending or confirmed) hold seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Seats are held until `hold_expires_at`; paid offline, then marked paid by staff.
    PendingPayment,
    /// Paid (or free); tickets issued.
    Confirmed,
    /// Cancelled by the buyer or the organizer; seats released, tickets void.
    Cancelled,
    /// Refunded through a payment provider (a later issue); seats released, tickets void.
    Refunded,
    /// The hold ran out before payment; seats released.
    Expired,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::PendingPayment => "pending_payment",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Refunded => "refunded",
            BookingStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<BookingStatus> {
        Some(match s {
            "pending_payment" => BookingStatus::PendingPayment,
            "confirmed" => BookingStatus::Confirmed,
            "cancelled" => BookingStatus::Cancelled,
            "refunded" => BookingStatus::Refunded,
            "expired" => BookingStatus::Expired,
            _ => return None,
        })
    }

    /// Whether the booking holds seats (and voucher uses, and counts for the buyer cap).
    pub fn is_live(self) -> bool {
        matches!(self, BookingStatus::PendingPayment | BookingStatus::Confirmed)
    }
}

impl TryFrom<String> for BookingStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        BookingStatus::parse(&s).ok_or_else(|| format!("unknown booking status {s}"))
    }
}

/// A ticket's validity (check-in adds `checked_in_at`, not a status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    Valid,
    Cancelled,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Valid => "valid",
            TicketStatus::Cancelled => "cancelled",
        }
    }
}

impl TryFrom<String> for TicketStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "valid" => Ok(TicketStatus::Valid),
            "cancelled" => Ok(TicketStatus::Cancelled),
            _ => Err(format!("unknown ticket status {s}")),
        }
    }
}

// ---- pricing ------------------------------------------------------------------------------

/// What a voucher takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// Only unlocks hidden types.
    None,
    /// This many minor units off the booking, once (at most the value of the tickets it
    /// applies to).
    Fixed(i64),
    /// This share (0–100 %) off every ticket it applies to, rounded down to the minor unit.
    Percent(i64),
}

/// One position to price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub unit_price: i64,
    pub quantity: i64,
    /// Whether the voucher applies to this position's ticket type.
    pub discountable: bool,
}

/// The priced booking: discount per line, and the totals (never below zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub line_discounts: Vec<i64>,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
}

/// Prices `lines`, all in `currency`, with `discount`: the total is Σ unit price × quantity
/// − discount. The arithmetic is [`Money`]'s, checked: validated inputs (prices ≤ PRICE_MAX,
/// quantities ≤ BOOKING_TICKETS_MAX, at most POSITIONS_MAX lines) cannot overflow, and
/// anything else is an error rather than a wrong total.
pub fn price_booking(currency: Currency, lines: &[Line], discount: Discount) -> Result<Priced, MoneyError> {
    let mut remaining = match discount {
        Discount::Fixed(n) => n.max(0),
        _ => 0,
    };
    let mut line_discounts = Vec::with_capacity(lines.len());
    let mut subtotal = Money::zero(currency);
    for line in lines {
        let gross = Money::new(line.unit_price, currency).times(line.quantity)?;
        subtotal = subtotal.checked_add(gross)?;
        let off = if !line.discountable {
            0
        } else {
            match discount {
                Discount::None => 0,
                Discount::Percent(p) => gross.times(p.clamp(0, 100))?.amount / 100,
                Discount::Fixed(_) => {
                    let take = remaining.min(gross.amount);
                    remaining -= take;
                    take
                }
            }
        };
        line_discounts.push(off);
    }
    let discount = Money::sum(currency, line_discounts.iter().map(|&off| Money::new(off, currency)))?;
    let total = subtotal.checked_sub(discount)?;
    Ok(Priced { line_discounts, subtotal: subtotal.amount, discount: discount.amount, total: total.amount.max(0) })
}

/// Giving back `n` of a position's `quantity` tickets (a refund that names them): what they
/// are worth and the position's discount afterwards. The discount shrinks in proportion,
/// rounded down, so giving back every ticket, in any number of steps, returns exactly what
/// was paid for the position (`unit_price × quantity − discount`).
pub fn give_back(unit_price: i64, quantity: i64, discount: i64, n: i64) -> (i64, i64) {
    let n = n.clamp(0, quantity);
    let left = quantity - n;
    let discount_after = if quantity == 0 { 0 } else { discount * left / quantity };
    (unit_price * n - (discount - discount_after), discount_after)
}

/// Seats to take per quota: every requested type takes its quantity from each quota it
/// belongs to. Sorted by quota id, the order every transaction takes row locks in, so two
/// bookings can never wait on each other in a cycle (PostgreSQL deadlocks).
pub fn allocations<'a>(items: impl IntoIterator<Item = (&'a [QuotaId], i64)>) -> Vec<(QuotaId, i64)> {
    let mut per_quota: BTreeMap<QuotaId, i64> = BTreeMap::new();
    for (quotas, quantity) in items {
        for q in quotas {
            *per_quota.entry(*q).or_default() += quantity;
        }
    }
    per_quota.into_iter().collect()
}

// ---- booking requests ---------------------------------------------------------------------

/// A booking request after the checks that need nothing but the request.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingRequest {
    /// Tickets over all positions.
    pub quantity: i64,
    pub buyer_email: String,
    pub buyer_name: String,
    pub attendees: Vec<Attendee>,
    /// The voucher code given (a blank one counts as none).
    pub voucher_code: Option<String>,
}

/// Checks a request's own shape, before anything is read: 1–50 positions, each ticket type
/// once with 1–100 tickets, at most 100 tickets in all; a well-formed buyer, attendees and
/// voucher code.
pub fn booking_request(req: &CreateBooking) -> Result<BookingRequest, AppError> {
    if req.positions.is_empty() {
        return Err(AppError::validation("positions", "book at least one ticket type"));
    }
    if req.positions.len() > POSITIONS_MAX {
        return Err(AppError::validation("positions", format!("at most {POSITIONS_MAX} positions")));
    }
    let mut quantity = 0i64;
    for (i, pos) in req.positions.iter().enumerate() {
        if !(1..=BOOKING_TICKETS_MAX).contains(&pos.quantity) {
            return Err(AppError::validation(
                format!("positions[{i}].quantity"),
                format!("must be between 1 and {BOOKING_TICKETS_MAX}"),
            ));
        }
        if req.positions[..i].iter().any(|o| o.ticket_type_id == pos.ticket_type_id) {
            return Err(AppError::validation(
                format!("positions[{i}].ticket_type_id"),
                "listed twice; book it once with the total quantity",
            ));
        }
        quantity += pos.quantity;
    }
    if quantity > BOOKING_TICKETS_MAX {
        return Err(AppError::validation("positions", format!("at most {BOOKING_TICKETS_MAX} tickets per booking")));
    }
    let buyer_email = domain::email("buyer_email", &req.buyer_email)?;
    let buyer_name = domain::required_text("buyer_name", &req.buyer_name, domain::NAME_MAX)?;
    let attendees = validate_attendees("attendees", &req.attendees, quantity)?;
    let voucher_code = match req.voucher_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(domain::voucher_code("voucher_code", c)?),
        None => None,
    };
    Ok(BookingRequest { quantity, buyer_email, buyer_name, attendees, voucher_code })
}

/// At most one attendee per ticket, each with a name and, if given, a well-formed email.
pub fn validate_attendees(field: &str, raw: &[Attendee], quantity: i64) -> Result<Vec<Attendee>, AppError> {
    if raw.len() as i64 > quantity {
        return Err(AppError::validation(field, format!("at most one attendee per ticket ({quantity})")));
    }
    raw.iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(Attendee {
                name: domain::required_text(&format!("{field}[{i}].name"), &a.name, domain::NAME_MAX)?,
                email: a.email.as_deref().map(|e| domain::email(&format!("{field}[{i}].email"), e)).transpose()?,
            })
        })
        .collect()
}

/// Whether the event takes bookings: not deleted, and published. To a buyer, any other
/// event is one that does not exist.
pub fn bookable_event(e: &EventFacts) -> bool {
    !e.deleted && e.status == EventStatus::Published
}

/// Whether a voucher is valid at `at` (`[valid_from, valid_until)`).
pub(crate) fn voucher_usable(v: &VoucherRecord, at: DateTime<Utc>) -> Result<(), AppError> {
    if v.valid_from.is_some_and(|f| at < f) {
        return Err(AppError::validation("voucher_code", "the voucher is not valid yet"));
    }
    if v.valid_until.is_some_and(|u| at >= u) {
        return Err(AppError::validation("voucher_code", "the voucher has expired"));
    }
    Ok(())
}

/// An event's ticket types as booking sees them: each row with the quotas it draws from.
pub(crate) type CatalogTypes = HashMap<TicketTypeId, (TicketTypeRecord, Vec<QuotaId>)>;

/// A requested ticket type resolved against the catalog: its row, its quotas, how many.
pub(crate) type Chosen<'a> = (&'a TicketTypeRecord, &'a [QuotaId], i64);

/// What a booking request comes to against the catalog.
#[derive(Debug, Clone)]
pub(crate) struct Quote<'a> {
    /// The requested types, in request order.
    pub chosen: Vec<Chosen<'a>>,
    /// The one currency the booking is paid in.
    pub currency: String,
    pub priced: Priced,
    /// The booking's positions at today's prices, with their share of the discount.
    pub positions: Vec<Position>,
    /// Seats to take per quota, in lock order (see [`allocations`]).
    pub seats: Vec<(QuotaId, i64)>,
}

/// Prices a request (`quantity` tickets in `positions`, already checked by
/// [`booking_request`]) against the event's catalog at `at`, with the voucher if one was
/// given, and checks it against the event's per-buyer cap. Errors come in the order a
/// buyer fixes them: each position in turn, then the voucher, then the cap.
pub(crate) fn quote<'a>(
    positions: &[PositionRequest],
    quantity: i64,
    types: &'a CatalogTypes,
    voucher: Option<&VoucherRecord>,
    event_ends_at: DateTime<Utc>,
    max_per_buyer: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Quote<'a>, AppError> {
    let (chosen, lines, currency) = choose(positions, types, voucher, event_ends_at, at)?;
    let discount = match voucher {
        None => Discount::None,
        Some(v) => voucher_discount(v, &currency, &chosen, &lines)?,
    };
    // The catalog's currencies were validated when the types were saved.
    let priced = price_booking(Money::from_row(0, &currency)?.currency, &lines, discount)?;
    let positions: Vec<Position> = chosen
        .iter()
        .zip(&priced.line_discounts)
        .map(|((t, _, qty), off)| Position {
            id: PositionId::new(),
            ticket_type_id: t.id,
            ticket_type_name: t.name.clone(),
            quantity: *qty,
            unit_price: t.price,
            discount: *off,
            currency: currency.clone(),
        })
        .collect();
    let seats = allocations(chosen.iter().map(|(_, q, n)| (*q, *n)));
    within_buyer_cap(quantity, max_per_buyer)?;
    Ok(Quote { chosen, currency, priced, positions, seats })
}

/// Resolves each position against the catalog: a type the buyer may see (public, or
/// unlocked by the voucher), in a quota, on sale at `at`, within its per-booking limits,
/// and in the same currency as the others. Returns the chosen types, the lines to price
/// (whether the voucher applies to each) and the booking's currency.
pub(crate) fn choose<'a>(
    positions: &[PositionRequest],
    types: &'a CatalogTypes,
    voucher: Option<&VoucherRecord>,
    event_ends_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(Vec<Chosen<'a>>, Vec<Line>, String), AppError> {
    let mut lines = Vec::with_capacity(positions.len());
    let mut chosen: Vec<Chosen<'a>> = Vec::with_capacity(positions.len());
    let mut currency: Option<&str> = None;
    for (i, pos) in positions.iter().enumerate() {
        let field = format!("positions[{i}].ticket_type_id");
        let unlocked = |id: TicketTypeId| voucher.is_some_and(|v| v.unlock_ticket_type_ids.0.contains(&id));
        let (t, quotas) = match types.get(&pos.ticket_type_id) {
            Some((t, q)) if t.visibility == Visibility::Public || unlocked(t.id) => (t, q),
            _ => return Err(AppError::validation(field, "no such ticket type in this event")),
        };
        if quotas.is_empty() {
            return Err(AppError::validation(field, format!("{} is not on sale yet (it is in no quota)", t.name)));
        }
        if let Err(why) = domain::sales_open(at, t.sales_start, t.sales_end, event_ends_at) {
            return Err(AppError::conflict("sales_closed", format!("{}: {why}", t.name)));
        }
        if pos.quantity < t.min_per_order {
            return Err(AppError::validation(
                format!("positions[{i}].quantity"),
                format!("at least {} of {} per booking", t.min_per_order, t.name),
            ));
        }
        if let Some(max) = t.max_per_order
            && pos.quantity > max
        {
            return Err(AppError::validation(
                format!("positions[{i}].quantity"),
                format!("at most {max} of {} per booking", t.name),
            ));
        }
        match currency {
            None => currency = Some(&t.currency),
            Some(c) if c != t.currency => {
                return Err(AppError::validation(
                    field,
                    format!("one booking is paid in one currency; {} is in {}", t.name, t.currency),
                ));
            }
            Some(_) => {}
        }
        let applies = voucher.is_some_and(|v| v.ticket_type_ids.0.is_empty() || v.ticket_type_ids.0.contains(&t.id));
        lines.push(Line { unit_price: t.price, quantity: pos.quantity, discountable: applies });
        chosen.push((t, quotas, pos.quantity));
    }
    Ok((chosen, lines, currency.unwrap_or_default().to_string()))
}

/// What a voucher takes off a booking in `currency`: a fixed amount only in its own
/// currency, and only if it discounts or unlocks something the booking holds.
pub(crate) fn voucher_discount(
    v: &VoucherRecord,
    currency: &str,
    chosen: &[Chosen<'_>],
    lines: &[Line],
) -> Result<Discount, AppError> {
    let discount = match (v.amount_off, v.percent_off) {
        (Some(a), _) => Discount::Fixed(a),
        (None, Some(p)) => Discount::Percent(p),
        (None, None) => Discount::None,
    };
    if matches!(discount, Discount::Fixed(_)) && v.currency.as_deref() != Some(currency) {
        return Err(AppError::validation(
            "voucher_code",
            format!("this voucher is for bookings in {}", v.currency.as_deref().unwrap_or("another currency")),
        ));
    }
    let unlocks = chosen.iter().any(|(t, _, _)| v.unlock_ticket_type_ids.0.contains(&t.id));
    if !unlocks && (discount == Discount::None || !lines.iter().any(|l| l.discountable)) {
        return Err(AppError::validation("voucher_code", "the voucher does not apply to these tickets"));
    }
    Ok(discount)
}

/// A booking of `quantity` tickets on its own within the event's per-buyer cap (what the
/// buyer already holds is counted when the inventory is taken).
pub fn within_buyer_cap(quantity: i64, max_per_buyer: Option<i64>) -> Result<(), AppError> {
    if let Some(max) = max_per_buyer
        && quantity > max
    {
        return Err(AppError::conflict("buyer_limit", format!("at most {max} tickets per buyer for this event")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_states() {
        for s in ["pending_payment", "confirmed", "cancelled", "refunded", "expired"] {
            assert_eq!(BookingStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(BookingStatus::PendingPayment.is_live() && BookingStatus::Confirmed.is_live());
        assert!(!BookingStatus::Expired.is_live() && !BookingStatus::Cancelled.is_live());
    }

    #[test]
    fn pricing_with_vouchers() {
        let lines = [
            Line { unit_price: 5000, quantity: 2, discountable: true },
            Line { unit_price: 2000, quantity: 1, discountable: false },
        ];
        let eur = Currency::from_code("EUR").unwrap();
        let p = price_booking(eur, &lines, Discount::None).unwrap();
        assert_eq!((p.subtotal, p.discount, p.total), (12000, 0, 12000));
        let p = price_booking(eur, &lines, Discount::Percent(25)).unwrap();
        assert_eq!(p.line_discounts, vec![2500, 0]);
        assert_eq!(p.total, 9500);
        let p = price_booking(eur, &lines, Discount::Fixed(1500)).unwrap();
        assert_eq!((p.discount, p.total), (1500, 10500));
        // A fixed discount never exceeds what it applies to, and totals never go negative.
        let p = price_booking(eur, &lines, Discount::Fixed(1_000_000)).unwrap();
        assert_eq!(p.line_discounts, vec![10000, 0]);
        assert_eq!(p.total, 2000);
        let p = price_booking(eur, &[Line { unit_price: 333, quantity: 1, discountable: true }], Discount::Percent(50)).unwrap();
        assert_eq!(p.total, 167, "the discount is rounded down");
        let p = price_booking(eur, &[Line { unit_price: 0, quantity: 3, discountable: true }], Discount::Percent(100)).unwrap();
        assert_eq!(p.total, 0);
        let huge = [Line { unit_price: i64::MAX / 2, quantity: 3, discountable: false }];
        assert_eq!(price_booking(eur, &huge, Discount::None), Err(MoneyError::Overflow), "an overflow is an error, not a total");
    }

    #[test]
    fn giving_back_tickets_in_steps_returns_what_was_paid() {
        // 3 × 1000 with 500 off: 2500 paid.
        assert_eq!(give_back(1000, 3, 500, 3), (2500, 0));
        let (first, d) = give_back(1000, 3, 500, 1);
        assert_eq!((first, d), (833, 333));
        let (second, d) = give_back(1000, 2, d, 1);
        let (third, d) = give_back(1000, 1, d, 1);
        assert_eq!((first + second + third, d), (2500, 0));
        assert_eq!(give_back(1000, 2, 0, 1), (1000, 0));
        assert_eq!(give_back(1000, 2, 0, 5), (2000, 0), "never more than the position holds");
    }

    #[test]
    fn allocations_are_summed_and_sorted() {
        let (a, b) = (QuotaId::new(), QuotaId::new());
        let ga = [b, a];
        let vip = [a];
        let alloc = allocations([(&ga[..], 2), (&vip[..], 3)]);
        assert_eq!(alloc, vec![(a, 5), (b, 2)]);
    }

    fn field(e: AppError) -> String {
        match e {
            AppError::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn conflict(e: AppError) -> &'static str {
        match e {
            AppError::Conflict { code, .. } => code,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    fn at() -> DateTime<Utc> {
        "2026-05-01T12:00:00Z".parse().unwrap()
    }

    fn ends() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    fn ticket_type(name: &str, price: i64, currency: &str) -> TicketTypeRecord {
        TicketTypeRecord {
            id: TicketTypeId::new(),
            org_id: kernel::id::OrgId::new(),
            event_id: events::EventId::new(),
            session_id: None,
            name: name.into(),
            description: None,
            price,
            currency: currency.into(),
            sales_start: None,
            sales_end: None,
            min_per_order: 1,
            max_per_order: None,
            visibility: Visibility::Public,
            sort_order: 0,
            created_at: at(),
            updated_at: at(),
        }
    }

    fn voucher(amount_off: Option<i64>, percent_off: Option<i64>, currency: Option<&str>) -> VoucherRecord {
        VoucherRecord {
            id: domain::VoucherId::new(),
            org_id: kernel::id::OrgId::new(),
            event_id: events::EventId::new(),
            code: "EARLY".into(),
            code_norm: "EARLY".into(),
            amount_off,
            percent_off,
            currency: currency.map(str::to_string),
            max_uses: None,
            uses: 0,
            valid_from: None,
            valid_until: None,
            ticket_type_ids: sqlx::types::Json(Vec::new()),
            unlock_ticket_type_ids: sqlx::types::Json(Vec::new()),
            created_at: at(),
            updated_at: at(),
        }
    }

    fn request(positions: &[(TicketTypeId, i64)]) -> CreateBooking {
        CreateBooking {
            event_id: events::EventId::new(),
            positions: positions.iter().map(|&(ticket_type_id, quantity)| PositionRequest { ticket_type_id, quantity }).collect(),
            buyer_email: " Ann@Example.org ".into(),
            buyer_name: "Ann".into(),
            voucher_code: None,
            attendees: Vec::new(),
        }
    }

    /// A catalog of the given types, each in a quota of its own plus a shared one.
    fn catalog(types: Vec<TicketTypeRecord>, shared: QuotaId) -> CatalogTypes {
        types.into_iter().map(|t| (t.id, (t, vec![QuotaId::new(), shared]))).collect()
    }

    #[test]
    fn a_request_is_checked_before_anything_is_read() {
        let (a, b) = (TicketTypeId::new(), TicketTypeId::new());
        let ok = booking_request(&request(&[(a, 2), (b, 3)])).unwrap();
        assert_eq!((ok.quantity, ok.buyer_email.as_str(), ok.voucher_code), (5, "Ann@Example.org", None));

        assert_eq!(field(booking_request(&request(&[])).unwrap_err()), "positions");
        let many: Vec<(TicketTypeId, i64)> = (0..=POSITIONS_MAX).map(|_| (TicketTypeId::new(), 1)).collect();
        assert_eq!(field(booking_request(&request(&many)).unwrap_err()), "positions");
        assert_eq!(field(booking_request(&request(&[(a, 1), (b, 0)])).unwrap_err()), "positions[1].quantity");
        assert_eq!(field(booking_request(&request(&[(a, 1), (a, 1)])).unwrap_err()), "positions[1].ticket_type_id");
        assert_eq!(field(booking_request(&request(&[(a, 60), (b, 41)])).unwrap_err()), "positions", "101 tickets");

        let mut r = request(&[(a, 1)]);
        r.buyer_email = "ann".into();
        assert_eq!(field(booking_request(&r).unwrap_err()), "buyer_email");
        let mut r = request(&[(a, 1)]);
        r.attendees = vec![Attendee { name: "A".into(), email: None }, Attendee { name: "B".into(), email: None }];
        assert_eq!(field(booking_request(&r).unwrap_err()), "attendees", "more attendees than tickets");
        r.attendees = vec![Attendee { name: "A".into(), email: Some("nope".into()) }];
        assert_eq!(field(booking_request(&r).unwrap_err()), "attendees[0].email");
        let mut r = request(&[(a, 1)]);
        r.voucher_code = Some("  ".into());
        assert_eq!(booking_request(&r).unwrap().voucher_code, None, "blank: no voucher");
        r.voucher_code = Some("no spaces".into());
        assert_eq!(field(booking_request(&r).unwrap_err()), "voucher_code");
    }

    #[test]
    fn positions_are_checked_against_the_catalog() {
        let shared = QuotaId::new();
        let ga = ticket_type("GA", 5000, "EUR");
        let mut vip = ticket_type("VIP", 9000, "EUR");
        vip.visibility = Visibility::Hidden;
        let mut late = ticket_type("Late", 1000, "EUR");
        late.sales_start = Some(at() + chrono::TimeDelta::hours(1));
        let mut pairs = ticket_type("Pairs", 1000, "EUR");
        pairs.min_per_order = 2;
        pairs.max_per_order = Some(2);
        let usd = ticket_type("USD", 1000, "USD");
        let (ga_id, vip_id, late_id, pairs_id, usd_id) = (ga.id, vip.id, late.id, pairs.id, usd.id);
        let mut types = catalog(vec![ga, vip, late, pairs, usd], shared);
        let lonely = ticket_type("Lonely", 1000, "EUR");
        let lonely_id = lonely.id;
        types.insert(lonely.id, (lonely, Vec::new()));
        let pos = |items: &[(TicketTypeId, i64)]| request(items).positions;
        let choose_now = |items: &[(TicketTypeId, i64)], v: Option<&VoucherRecord>| choose(&pos(items), &types, v, ends(), at());

        let (chosen, lines, currency) = choose_now(&[(ga_id, 2), (pairs_id, 2)], None).unwrap();
        assert_eq!((chosen.len(), currency.as_str()), (2, "EUR"));
        assert_eq!(lines[0], Line { unit_price: 5000, quantity: 2, discountable: false });
        assert_eq!(field(choose_now(&[(TicketTypeId::new(), 1)], None).unwrap_err()), "positions[0].ticket_type_id");
        assert_eq!(field(choose_now(&[(ga_id, 1), (vip_id, 1)], None).unwrap_err()), "positions[1].ticket_type_id", "hidden");
        let mut unlock = voucher(None, None, None);
        unlock.unlock_ticket_type_ids = sqlx::types::Json(vec![vip_id]);
        assert!(choose_now(&[(vip_id, 1)], Some(&unlock)).is_ok(), "a voucher unlocks a hidden type");
        assert_eq!(field(choose_now(&[(lonely_id, 1)], None).unwrap_err()), "positions[0].ticket_type_id", "in no quota");
        assert_eq!(conflict(choose_now(&[(late_id, 1)], None).unwrap_err()), "sales_closed");
        assert_eq!(field(choose_now(&[(pairs_id, 1)], None).unwrap_err()), "positions[0].quantity");
        assert_eq!(field(choose_now(&[(pairs_id, 3)], None).unwrap_err()), "positions[0].quantity");
        assert_eq!(field(choose_now(&[(ga_id, 1), (usd_id, 1)], None).unwrap_err()), "positions[1].ticket_type_id", "currencies");
    }

    #[test]
    fn quotes_price_with_the_voucher_and_take_seats_per_quota() {
        let shared = QuotaId::new();
        let (ga, vip) = (ticket_type("GA", 5000, "EUR"), ticket_type("VIP", 2000, "EUR"));
        let (ga_id, vip_id) = (ga.id, vip.id);
        let types = catalog(vec![ga, vip], shared);
        let positions = request(&[(ga_id, 2), (vip_id, 1)]).positions;
        let quote_with = |v: Option<&VoucherRecord>, max: Option<i64>| quote(&positions, 3, &types, v, ends(), max, at());

        let q = quote_with(None, None).unwrap();
        assert_eq!((q.priced.subtotal, q.priced.total, q.currency.as_str()), (12000, 12000, "EUR"));
        assert_eq!(
            q.positions.iter().map(|p| (p.ticket_type_id, p.quantity, p.discount)).collect::<Vec<_>>(),
            [(ga_id, 2, 0), (vip_id, 1, 0)]
        );
        assert_eq!(q.seats.iter().find(|(id, _)| *id == shared), Some(&(shared, 3)), "both types draw from the shared quota");
        assert_eq!(q.seats.len(), 3);
        assert!(q.seats.windows(2).all(|w| w[0].0 < w[1].0), "in lock order");

        let mut quarter = voucher(None, Some(25), None);
        quarter.ticket_type_ids = sqlx::types::Json(vec![ga_id]);
        let q = quote_with(Some(&quarter), None).unwrap();
        assert_eq!((q.priced.discount, q.priced.total), (2500, 9500));
        assert_eq!(q.positions[0].discount, 2500);
        assert_eq!(field(quote_with(Some(&voucher(Some(500), None, Some("USD"))), None).unwrap_err()), "voucher_code");
        assert_eq!(quote_with(Some(&voucher(Some(500), None, Some("EUR"))), None).unwrap().priced.total, 11500);
        assert_eq!(field(quote_with(Some(&voucher(None, None, None)), None).unwrap_err()), "voucher_code", "applies to nothing");
        let mut elsewhere = voucher(None, Some(10), None);
        elsewhere.ticket_type_ids = sqlx::types::Json(vec![TicketTypeId::new()]);
        assert_eq!(field(quote_with(Some(&elsewhere), None).unwrap_err()), "voucher_code");

        assert_eq!(conflict(quote_with(None, Some(2)).unwrap_err()), "buyer_limit");
        assert!(quote_with(None, Some(3)).is_ok());
    }

    #[test]
    fn events_and_vouchers_open_and_close() {
        let mut e = EventFacts {
            id: events::EventId::new(),
            org_id: kernel::id::OrgId::new(),
            status: EventStatus::Published,
            deleted: false,
            name: "Gig".into(),
            starts_at: at(),
            ends_at: ends(),
            time_zone: "Europe/Berlin".into(),
            venue_name: None,
            venue_city: None,
            venue_address: None,
            venue_country: None,
        };
        assert!(bookable_event(&e));
        e.status = EventStatus::Draft;
        assert!(!bookable_event(&e));
        e.status = EventStatus::Published;
        e.deleted = true;
        assert!(!bookable_event(&e));

        let mut v = voucher(None, Some(10), None);
        assert!(voucher_usable(&v, at()).is_ok());
        v.valid_from = Some(at() + chrono::TimeDelta::seconds(1));
        assert_eq!(field(voucher_usable(&v, at()).unwrap_err()), "voucher_code");
        v.valid_from = None;
        v.valid_until = Some(at());
        assert_eq!(field(voucher_usable(&v, at()).unwrap_err()), "voucher_code", "until is exclusive");
    }
}
