-- Every message sent because of a domain event, once per (kind, subject, recipient): a
-- second delivery of the same event finds its row and sends nothing.
CREATE TABLE sent_messages (
    id UUID PRIMARY KEY,
    org_id UUID,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (kind, subject_id, recipient)
);
