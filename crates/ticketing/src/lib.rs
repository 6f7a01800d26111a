//! Ticketing (being written): ticket types, quotas, holds, bookings, tickets, check-in,
//! waitlist, vouchers.
