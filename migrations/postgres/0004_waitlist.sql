-- Waitlist (PostgreSQL). Keep in step with migrations/sqlite/0004_waitlist.sql (a test compares
-- them).
--
-- One row per person waiting for one ticket type or one session of an event. The entry's
-- life is a chain of conditional updates (`… WHERE id = $1 AND status = 'waiting'`): an
-- entry goes `waiting → offered` once, in the transaction that writes its offer booking and
-- takes that booking's seats, so it can never be offered twice. `booking_id` is the offer
-- (a normal booking, pending until accepted/paid).

CREATE TABLE waitlist_entries (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    ticket_type_id UUID REFERENCES ticket_types (id) ON DELETE CASCADE,
    session_id UUID REFERENCES event_sessions (id) ON DELETE CASCADE,
    tier TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    user_id UUID REFERENCES users (id) ON DELETE SET NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    status TEXT NOT NULL,
    token_hash TEXT,
    booking_id UUID REFERENCES bookings (id) ON DELETE SET NULL,
    offered_at TIMESTAMPTZ,
    offer_expires_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK ((ticket_type_id IS NULL) <> (session_id IS NULL))
);
-- Picking the next entry: an event's waiting entries in id (join) order; tiers are ranked
-- in the query from the event's settings.
CREATE INDEX waitlist_entries_queue ON waitlist_entries (event_id, status, id);
CREATE INDEX waitlist_entries_booking ON waitlist_entries (booking_id);
-- The sweep for offers whose booking moved on (paid before accepting, or a lost job).
CREATE INDEX waitlist_entries_offered ON waitlist_entries (id) WHERE status = 'offered';
CREATE INDEX waitlist_entries_user ON waitlist_entries (user_id, id);
-- One live entry per person (lower-cased email) and ticket type or session.
CREATE UNIQUE INDEX waitlist_entries_live_type ON waitlist_entries (ticket_type_id, email)
    WHERE status IN ('waiting', 'offered') AND ticket_type_id IS NOT NULL;
CREATE UNIQUE INDEX waitlist_entries_live_session ON waitlist_entries (session_id, email)
    WHERE status IN ('waiting', 'offered') AND session_id IS NOT NULL;

-- How long a waitlist offer stays open, in seconds (the source of truth from now on;
-- `waitlist_offer_hours` is kept as its whole hours). Seconds let tests and short events use
-- offers under an hour, like `hold_seconds`.
ALTER TABLE ticketing_settings ADD COLUMN waitlist_offer_seconds BIGINT NOT NULL DEFAULT 86400;
UPDATE ticketing_settings SET waitlist_offer_seconds = waitlist_offer_hours * 3600;
