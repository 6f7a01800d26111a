-- Tickets at the door (SQLite): organizations' ticket-signing keys, ticket PDFs, check-in
-- lists and check-ins. Keep in step with migrations/postgres/0003_checkin.sql.

-- Ed25519 keys that sign ticket QR payloads. One `active` key per organization signs; retired
-- keys stay published so tickets signed before a rotation still verify.
CREATE TABLE ticket_signing_keys (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kid TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    secret_key BLOB NOT NULL,
    status TEXT NOT NULL,
    retired_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX ticket_signing_keys_active ON ticket_signing_keys (org_id) WHERE status = 'active';

-- A booking's rendered tickets (one PDF, a page per ticket) in the object store.
CREATE TABLE ticket_documents (
    booking_id BLOB PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id BLOB NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    storage_key TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    requested_at TEXT NOT NULL,
    rendered_at TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Which tickets a door admits: an event (optionally one of its sessions), all ticket types or
-- some, open from / until.
CREATE TABLE checkin_lists (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id BLOB NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    session_id BLOB REFERENCES event_sessions (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    ticket_type_ids TEXT NOT NULL,
    opens_at TEXT,
    closes_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX checkin_lists_event ON checkin_lists (event_id, id);

-- Every scan, whatever its result, keyed by the scanner's scan id so an upload can be
-- repeated. A ticket is admitted once per list: at most one live `valid` scan per
-- (list, ticket), enforced by the partial unique index.
CREATE TABLE checkins (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id BLOB NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    list_id BLOB NOT NULL REFERENCES checkin_lists (id) ON DELETE CASCADE,
    ticket_id BLOB REFERENCES tickets (id) ON DELETE CASCADE,
    scan_id TEXT NOT NULL,
    result TEXT NOT NULL,
    code TEXT NOT NULL,
    gate TEXT,
    scanned_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    undone_at TEXT,
    undone_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX checkins_scan ON checkins (org_id, scan_id);
CREATE UNIQUE INDEX checkins_admitted ON checkins (list_id, ticket_id) WHERE result = 'valid' AND undone_at IS NULL;
CREATE INDEX checkins_ticket ON checkins (ticket_id, id);
CREATE INDEX checkins_list ON checkins (list_id, id);
