-- Bookings are looked up by user only for signed-in buyers (`user_id = $1`, which implies
-- NOT NULL): anonymous bookings, most of an on-sale rush, need no entry in this index.
-- (PostgreSQL's 0007 also drops foreign keys that repeat another key of the same row;
-- SQLite keeps them: its key checks are in-process index lookups without locks.)
DROP INDEX bookings_user;
CREATE INDEX bookings_user ON bookings (user_id, id) WHERE user_id IS NOT NULL;
