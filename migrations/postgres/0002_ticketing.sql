-- Ticketing (PostgreSQL): ticket types, quotas, vouchers, bookings, their positions, tickets.
-- Keep in step with migrations/sqlite/0002_ticketing.sql (a test compares them).
--
-- Inventory lives in `quotas.taken` (held + sold seats), changed only by conditional updates
-- (`taken + n <= capacity`); the CHECK constraints are a second line of defence.

CREATE TABLE ticketing_settings (
    event_id UUID PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    hold_seconds BIGINT NOT NULL,
    max_tickets_per_buyer BIGINT,
    waitlist_offer_hours BIGINT NOT NULL,
    waitlist_tiers JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE ticket_types (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    session_id UUID REFERENCES event_sessions (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    description TEXT,
    price BIGINT NOT NULL CHECK (price >= 0),
    currency TEXT NOT NULL,
    sales_start TIMESTAMPTZ,
    sales_end TIMESTAMPTZ,
    min_per_order BIGINT NOT NULL,
    max_per_order BIGINT,
    visibility TEXT NOT NULL,
    sort_order BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_types_event ON ticket_types (event_id, sort_order, id);

CREATE TABLE quotas (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    taken BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (taken >= 0 AND taken <= capacity)
);
CREATE INDEX quotas_event ON quotas (event_id, id);

CREATE TABLE quota_ticket_types (
    quota_id UUID NOT NULL REFERENCES quotas (id) ON DELETE CASCADE,
    ticket_type_id UUID NOT NULL REFERENCES ticket_types (id) ON DELETE CASCADE,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (quota_id, ticket_type_id)
);
CREATE INDEX quota_ticket_types_type ON quota_ticket_types (ticket_type_id);

CREATE TABLE vouchers (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    code_norm TEXT NOT NULL,
    amount_off BIGINT,
    percent_off BIGINT,
    currency TEXT,
    max_uses BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    valid_from TIMESTAMPTZ,
    valid_until TIMESTAMPTZ,
    ticket_type_ids JSONB NOT NULL,
    unlock_ticket_type_ids JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses))
);
CREATE UNIQUE INDEX vouchers_code ON vouchers (event_id, code_norm);

CREATE TABLE bookings (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    buyer_email TEXT NOT NULL,
    buyer_name TEXT NOT NULL,
    user_id UUID REFERENCES users (id) ON DELETE SET NULL,
    voucher_id UUID,
    voucher_code TEXT,
    currency TEXT NOT NULL,
    subtotal BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    total BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    attendees JSONB NOT NULL,
    allocations JSONB NOT NULL,
    token_hash TEXT NOT NULL,
    hold_expires_at TIMESTAMPTZ,
    confirmed_at TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    expired_at TIMESTAMPTZ,
    paid_reference TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX bookings_event ON bookings (event_id, id);
CREATE INDEX bookings_user ON bookings (user_id, id);
CREATE INDEX bookings_holds ON bookings (hold_expires_at) WHERE status = 'pending_payment';

CREATE TABLE booking_positions (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    ticket_type_id UUID NOT NULL REFERENCES ticket_types (id),
    ticket_type_name TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX booking_positions_booking ON booking_positions (booking_id, id);
CREATE INDEX booking_positions_type ON booking_positions (ticket_type_id);

CREATE TABLE tickets (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    ticket_type_id UUID NOT NULL REFERENCES ticket_types (id),
    seq BIGINT NOT NULL,
    attendee_name TEXT,
    attendee_email TEXT,
    code TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    checked_in_at TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX tickets_booking ON tickets (booking_id, seq);
CREATE INDEX tickets_event ON tickets (event_id, id);

-- Tickets per buyer (lower-cased email) per event in live bookings: the anti-scalping cap
-- is a conditional upsert on this row.
CREATE TABLE buyer_counters (
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    buyer_email TEXT NOT NULL,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tickets BIGINT NOT NULL CHECK (tickets >= 0),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, buyer_email)
);
