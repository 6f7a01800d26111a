//! Inventory: the seats of quotas (`quotas.taken`), the uses of vouchers (`vouchers.uses`)
//! and the tickets each buyer holds per event (`buyer_counters`) — what a booking takes
//! while it is live and gives back when it ends. Every change of those counters goes
//! through here: the group-commit writer's batches, single bookings, late payments of
//! expired holds, waitlist offers, cancellations, expiries and refunds.
//!
//! **Conditional updates, never count-then-insert.** A seat is taken by
//! `UPDATE quotas SET taken = taken + n … WHERE id = $1 AND taken + n <= capacity`, a voucher
//! use and a buyer's tickets the same way; `rows_affected` says whether there was room. The
//! mirrors give back exactly what was taken and never go below zero. Callers run both inside
//! the transaction that writes the booking, or that changes its status with a conditional
//! update (`… WHERE id = $1 AND status = $2`), so a release happens once however many
//! cancels, expiry jobs and sweeps race for it.
//!
//! **One lock order.** After the booking's row (and a waitlist entry's before that), every
//! transaction that changes inventory takes buyer counters in key order, then vouchers in
//! id order, then quotas in id order — hottest rows last, so PostgreSQL holds a quota's row
//! lock only from its update to the commit. [`take`] and [`release`] work on a batch stage
//! by stage in that order, so batches on several nodes and concurrent cancellations wait
//! for each other but never deadlock. A single booking is a batch of one, and costs the
//! same statements as ever: one per buyer counter, voucher and quota.
//!
//! **Batches.** For each quota one conditional update takes everything the batch wants from
//! it (`taken + total <= capacity`); only if that does not fit, one per booking, so the
//! remaining seats go to the earliest bookings that fit. Without a per-buyer cap, one
//! multi-row upsert counts every buyer of the batch.
//!
//! The statements themselves are in [`store`]; the rest of the crate calls [`take`],
//! [`release`] and [`move_buyer`] (and their one-booking forms).

use events::EventId;
use kernel::AppResult;
use kernel::Tx;
use kernel::id::OrgId;
use kernel::time::{Timestamp, now};

use crate::bookings::store::{Allocation, BookingRecord};
use crate::domain::{self, BookingId, QuotaId, VoucherId};

mod store;

pub(crate) use store::quota_room;
use store::{count_buyer, count_buyers_uncapped, release_seats, release_voucher, take_seats, uncount_buyer, use_voucher};

/// Why a booking's inventory could not be taken.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shortfall {
    Quota(QuotaId),
    Voucher,
    Buyer,
}

/// What a booking holds of the inventory while it is live.
#[derive(Debug, Clone)]
pub(crate) struct Holding<'a> {
    /// Named when a release finds fewer seats than it gives back.
    pub booking: BookingId,
    pub org_id: OrgId,
    pub event_id: EventId,
    /// The buyer's [`domain::buyer_key`].
    pub buyer: String,
    /// Tickets counted for the buyer.
    pub tickets: i64,
    pub voucher: Option<VoucherId>,
    pub seats: &'a [Allocation],
}

impl<'a> Holding<'a> {
    /// Everything a booking holds: its buyer's tickets, its voucher use, its seats.
    pub fn of(b: &'a BookingRecord) -> Holding<'a> {
        Holding {
            booking: b.id,
            org_id: b.org_id,
            event_id: b.event_id,
            buyer: domain::buyer_key(&b.buyer_email),
            tickets: b.quantity,
            voucher: b.voucher_id,
            seats: &b.allocations.0,
        }
    }
}

/// A booking about to take what it holds, under the event's per-buyer cap.
#[derive(Debug, Clone)]
pub(crate) struct Claim<'a> {
    pub holding: Holding<'a>,
    pub max_per_buyer: Option<i64>,
}

impl<'a> Claim<'a> {
    pub fn of(b: &'a BookingRecord, max_per_buyer: Option<i64>) -> Claim<'a> {
        Claim { holding: Holding::of(b), max_per_buyer }
    }
}

/// What happens to the rest of a batch when one booking finds no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnShortfall {
    /// Stop at once; the caller drops the transaction, which gives everything back.
    Abort,
    /// That booking gives back what it took so far, in the same transaction, and the others
    /// go on (the writer commits the bookings that fit).
    GiveBack,
}

/// Takes what every claim needs, stage by stage in lock order. Returns each claim's
/// shortfall (`None`: taken). With [`OnShortfall::Abort`] the first shortfall ends the
/// taking, and only it is reported.
pub(crate) async fn take(
    tx: &mut Tx<'_>,
    claims: &[Claim<'_>],
    on_short: OnShortfall,
    at: Timestamp,
) -> AppResult<Vec<Option<Shortfall>>> {
    let n = claims.len();
    let held: Vec<&Holding> = claims.iter().map(|c| &c.holding).collect();
    let mut short: Vec<Option<Shortfall>> = vec![None; n];
    let mut seats: Vec<Vec<(QuotaId, i64)>> = vec![Vec::new(); n];

    // Buyer counts: a batch without a cap (the usual case) adds every buyer's tickets with one
    // statement; otherwise — and for a booking on its own, where that one statement is its
    // own upsert anyway — each booking is a conditional upsert of its own.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| (held[a].event_id, &held[a].buyer).cmp(&(held[b].event_id, &held[b].buyer)));
    if n > 1 && claims.iter().all(|c| c.max_per_buyer.is_none()) {
        let mut counts: Vec<(OrgId, EventId, &str, i64)> = Vec::with_capacity(n);
        for &i in &order {
            let h = held[i];
            match counts.last_mut() {
                Some(last) if last.1 == h.event_id && last.2 == h.buyer => last.3 += h.tickets,
                _ => counts.push((h.org_id, h.event_id, h.buyer.as_str(), h.tickets)),
            }
        }
        count_buyers_uncapped(tx, &counts, at).await?;
    } else {
        for &i in &order {
            let (h, max) = (held[i], claims[i].max_per_buyer.unwrap_or(i64::MAX));
            if count_buyer(tx, h.org_id, h.event_id, &h.buyer, h.tickets, max, at).await? == 0 {
                short[i] = Some(Shortfall::Buyer);
                if on_short == OnShortfall::Abort {
                    return Ok(short);
                }
            }
        }
    }
    let mut with_voucher: Vec<(VoucherId, usize)> =
        (0..n).filter(|&i| short[i].is_none()).filter_map(|i| held[i].voucher.map(|v| (v, i))).collect();
    with_voucher.sort();
    for (v, i) in with_voucher {
        if use_voucher(tx, v, at).await? == 0 {
            short[i] = Some(Shortfall::Voucher);
            if on_short == OnShortfall::Abort {
                return Ok(short);
            }
            give_back(tx, held[i], false, &[], at).await?;
        }
    }
    // Seats, quota by quota in id order: first everything the batch wants from the quota in
    // one conditional update; if that does not fit, booking by booking.
    let mut takes: Vec<(QuotaId, usize, i64)> = (0..n)
        .filter(|&i| short[i].is_none())
        .flat_map(|i| held[i].seats.iter().map(move |a| (a.quota_id, i, a.quantity)))
        .collect();
    takes.sort();
    for group in takes.chunk_by(|a, b| a.0 == b.0) {
        let q = group[0].0;
        let wanted: Vec<(usize, i64)> =
            group.iter().filter(|(_, i, _)| short[*i].is_none()).map(|&(_, i, qty)| (i, qty)).collect();
        let total: i64 = wanted.iter().map(|(_, qty)| qty).sum();
        if wanted.len() > 1 && take_seats(tx, q, total, at).await? == 1 {
            for (i, qty) in wanted {
                seats[i].push((q, qty));
            }
            continue;
        }
        for (i, qty) in wanted {
            if take_seats(tx, q, qty, at).await? == 0 {
                short[i] = Some(Shortfall::Quota(q));
                if on_short == OnShortfall::Abort {
                    return Ok(short);
                }
                give_back(tx, held[i], true, &seats[i], at).await?;
            } else {
                seats[i].push((q, qty));
            }
        }
    }
    Ok(short)
}

/// Takes one booking's buyer count, voucher use and seats, in lock order. `Some(shortfall)`
/// when one had no room; the caller drops the transaction.
pub(crate) async fn take_one(tx: &mut Tx<'_>, b: &BookingRecord, max_per_buyer: Option<i64>) -> AppResult<Option<Shortfall>> {
    let short = take(tx, &[Claim::of(b, max_per_buyer)], OnShortfall::Abort, now()).await?;
    Ok(short.into_iter().flatten().next())
}

/// Gives back what a booking of a batch took before it found no room: rows this
/// transaction has locked already, so their order does not matter.
async fn give_back(tx: &mut Tx<'_>, h: &Holding<'_>, voucher: bool, seats: &[(QuotaId, i64)], at: Timestamp) -> AppResult<()> {
    for (q, n) in seats {
        release_seats(tx, *q, *n, at).await?;
    }
    if voucher && let Some(v) = h.voucher {
        release_voucher(tx, v, at).await?;
    }
    uncount_buyer(tx, h.event_id, &h.buyer, h.tickets, at).await?;
    Ok(())
}

/// Gives back what bookings hold, stage by stage in the lock order of [`take`]. Runs only
/// after a conditional state change from a live status affected each booking's row (or a
/// refund cancelled its tickets), so once per booking.
pub(crate) async fn release(tx: &mut Tx<'_>, holdings: &[Holding<'_>], at: Timestamp) -> AppResult<()> {
    let mut buyers: Vec<&Holding> = holdings.iter().collect();
    buyers.sort_by(|a, b| (a.event_id, &a.buyer).cmp(&(b.event_id, &b.buyer)));
    for h in buyers {
        uncount_buyer(tx, h.event_id, &h.buyer, h.tickets, at).await?;
    }
    let mut vouchers: Vec<VoucherId> = holdings.iter().filter_map(|h| h.voucher).collect();
    vouchers.sort();
    for v in vouchers {
        release_voucher(tx, v, at).await?;
    }
    let mut seats: Vec<(QuotaId, usize, i64)> =
        holdings.iter().enumerate().flat_map(|(i, h)| h.seats.iter().map(move |a| (a.quota_id, i, a.quantity))).collect();
    seats.sort();
    for (q, i, n) in seats {
        if release_seats(tx, q, n, at).await? == 0 {
            tracing::warn!(booking = %holdings[i].booking, quota = %q, "released seats of a quota that no longer has them");
        }
    }
    Ok(())
}

/// Gives back everything one booking holds (see [`release`]).
pub(crate) async fn release_one(tx: &mut Tx<'_>, b: &BookingRecord) -> AppResult<()> {
    release(tx, &[Holding::of(b)], now()).await
}

/// Moves a live booking's tickets from its buyer's count to `to` (the buyer's address
/// changed), within the event's cap. `false`: the new buyer would go over it; the caller
/// drops the transaction. The two counter rows are locked in key order, so two bookings
/// swapping addresses cannot deadlock.
pub(crate) async fn move_buyer(
    tx: &mut Tx<'_>,
    b: &BookingRecord,
    to: &str,
    max_per_buyer: Option<i64>,
    at: Timestamp,
) -> AppResult<bool> {
    let from = domain::buyer_key(&b.buyer_email);
    let cap = max_per_buyer.unwrap_or(i64::MAX);
    if from.as_str() < to {
        uncount_buyer(tx, b.event_id, &from, b.quantity, at).await?;
        Ok(count_buyer(tx, b.org_id, b.event_id, to, b.quantity, cap, at).await? != 0)
    } else {
        if count_buyer(tx, b.org_id, b.event_id, to, b.quantity, cap, at).await? == 0 {
            return Ok(false);
        }
        uncount_buyer(tx, b.event_id, &from, b.quantity, at).await?;
        Ok(true)
    }
}
