-- Payments, second part (PostgreSQL). Keep in step with migrations/sqlite/0006_refund_items.sql.
--
-- A refund may name what it gives back (for a booking: ticket ids); the owner of the
-- reference cancels those once the refund went through.
ALTER TABLE refunds ADD COLUMN items JSONB NOT NULL DEFAULT '[]';

-- Each paid invoice of a subscription is a payment of its own (flow 'subscription'), so the
-- one-live-payment-per-reference rule holds for one-off payments only.
DROP INDEX payments_live_reference;
CREATE UNIQUE INDEX payments_live_reference ON payments (reference)
    WHERE status IN ('processing', 'requires_action', 'succeeded', 'partially_refunded') AND flow <> 'subscription';
