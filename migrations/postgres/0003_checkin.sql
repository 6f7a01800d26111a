-- Tickets at the door (PostgreSQL): organizations' ticket-signing keys, ticket PDFs, check-in
-- lists and check-ins. Keep in step with migrations/sqlite/0003_checkin.sql.

-- Ed25519 keys that sign ticket QR payloads. One `active` key per organization signs; retired
-- keys stay published so tickets signed before a rotation still verify.
CREATE TABLE ticket_signing_keys (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kid TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    secret_key BYTEA NOT NULL,
    status TEXT NOT NULL,
    retired_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX ticket_signing_keys_active ON ticket_signing_keys (org_id) WHERE status = 'active';

-- A booking's rendered tickets (one PDF, a page per ticket) in the object store.
CREATE TABLE ticket_documents (
    booking_id UUID PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    storage_key TEXT,
    pages BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    requested_at TIMESTAMPTZ NOT NULL,
    rendered_at TIMESTAMPTZ,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Which tickets a door admits: an event (optionally one of its sessions), all ticket types or
-- some, open from / until.
CREATE TABLE checkin_lists (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    session_id UUID REFERENCES event_sessions (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    ticket_type_ids JSONB NOT NULL,
    opens_at TIMESTAMPTZ,
    closes_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX checkin_lists_event ON checkin_lists (event_id, id);

-- Every scan, whatever its result, keyed by the scanner's scan id so an upload can be
-- repeated. A ticket is admitted once per list: at most one live `valid` scan per
-- (list, ticket), enforced by the partial unique index.
CREATE TABLE checkins (
    id UUID PRIMARY KEY,
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    list_id UUID NOT NULL REFERENCES checkin_lists (id) ON DELETE CASCADE,
    ticket_id UUID REFERENCES tickets (id) ON DELETE CASCADE,
    scan_id TEXT NOT NULL,
    result TEXT NOT NULL,
    code TEXT NOT NULL,
    gate TEXT,
    scanned_at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    undone_at TIMESTAMPTZ,
    undone_by TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX checkins_scan ON checkins (org_id, scan_id);
CREATE UNIQUE INDEX checkins_admitted ON checkins (list_id, ticket_id) WHERE result = 'valid' AND undone_at IS NULL;
CREATE INDEX checkins_ticket ON checkins (ticket_id, id);
CREATE INDEX checkins_list ON checkins (list_id, id);
