//! Typed ids of every ticketing entity (UUIDv7, see [`kernel::typed_id`]), in one place
//! because every feature refers to the others' rows by them.

kernel::typed_id!(
    /// A kind of admission sold for an event (GA, VIP, early bird …).
    TicketTypeId
);
kernel::typed_id!(
    /// A capacity pool shared by one or more ticket types.
    QuotaId
);
kernel::typed_id!(
    /// An order: one buyer, one or more positions, then its tickets.
    BookingId
);
kernel::typed_id!(
    /// One line of a booking: a ticket type × quantity at a price.
    PositionId
);
kernel::typed_id!(
    /// One admission.
    TicketId
);
kernel::typed_id!(
    /// A discount or unlock code for an event.
    VoucherId
);
kernel::typed_id!(
    /// A door's list: which tickets it admits, and from when to when.
    CheckinListId
);
kernel::typed_id!(
    /// One scan at a door, whatever it found.
    CheckinId
);
kernel::typed_id!(
    /// One of an organization's ticket-signing keys.
    SigningKeyId
);
kernel::typed_id!(
    /// One person waiting for a ticket type or a session of an event.
    WaitlistEntryId
);
