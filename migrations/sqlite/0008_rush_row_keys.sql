-- Nothing to do on SQLite. PostgreSQL's 0008 drops the foreign keys of positions and tickets
-- to their booking and of bookings and buyer counters to their event, each a trigger, a
-- parent lookup and a lock record per inserted row there; SQLite keeps them: its key checks
-- are in-process index lookups without locks.
SELECT 1;
