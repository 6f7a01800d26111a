-- Foreign keys that only repeat what another key of the same row already guarantees, on the
-- tables every booking writes to. A booking's event belongs to its organization, and a
-- position or ticket belongs to its booking, so `bookings.event_id` and `*.booking_id` (with
-- ON DELETE CASCADE) already tie every row to an existing event and organization, and remove
-- it with them. Each of these keys cost PostgreSQL a lookup and a KEY SHARE lock on the
-- parent row for every row inserted — the same few event and organization rows, locked by
-- every booking of a rush (MultiXacts once several writers share them). Kept: bookings →
-- events, users; positions → bookings, ticket types; tickets → bookings; buyer counters →
-- events. SQLite keeps them all: its key checks are in-process index lookups without locks.
ALTER TABLE bookings DROP CONSTRAINT bookings_org_id_fkey;
ALTER TABLE booking_positions DROP CONSTRAINT booking_positions_org_id_fkey;
ALTER TABLE booking_positions DROP CONSTRAINT booking_positions_event_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT tickets_org_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT tickets_event_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT tickets_ticket_type_id_fkey;
ALTER TABLE buyer_counters DROP CONSTRAINT buyer_counters_org_id_fkey;

-- Bookings are looked up by user only for signed-in buyers (`user_id = $1`, which implies
-- NOT NULL): anonymous bookings, most of an on-sale rush, need no entry in this index.
DROP INDEX bookings_user;
CREATE INDEX bookings_user ON bookings (user_id, id) WHERE user_id IS NOT NULL;
