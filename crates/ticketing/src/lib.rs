//! Ticketing: ticket types, quotas, holds, bookings, tickets, check-in, waitlist, vouchers.

// Pure building blocks (no I/O): QR payload signing and ticket PDF rendering.
pub mod pdf;
pub mod signing;

// Modules with I/O and the public API follow.
