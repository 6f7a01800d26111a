-- Every domain event records the schema version of its payload, so listeners and (later)
-- outgoing webhooks can tell an old payload from a new one. Rows written before this
-- migration were all version 1.
ALTER TABLE outbox ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
