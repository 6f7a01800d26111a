-- Every domain event records the schema version of its payload, so listeners and (later)
-- outgoing webhooks can tell an old payload from a new one. Rows written before this
-- migration were all version 1.
ALTER TABLE outbox ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
