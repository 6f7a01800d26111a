-- Payments, second part (SQLite). Keep in step with migrations/postgres/0006_refunds_invoices_accounts.sql.
--
-- A refund may name what it gives back (for a booking: ticket ids); the owner of the
-- reference cancels those once the refund went through.
ALTER TABLE refunds ADD COLUMN items TEXT NOT NULL DEFAULT '[]';

-- A payment that succeeds late, after another one paid its reference (a card payment that
-- "mark paid" superseded, one that failed and then went through after all), is recorded as
-- a `duplicate`, so that it can be refunded; the one-live-payment-per-reference rule
-- leaves duplicates out. So do subscription invoices (flow 'subscription'), each a payment
-- of its own.
ALTER TABLE payments ADD COLUMN duplicate BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX payments_live_reference;
CREATE UNIQUE INDEX payments_live_reference ON payments (reference)
    WHERE status IN ('processing', 'requires_action', 'succeeded', 'partially_refunded') AND flow <> 'subscription'
      AND NOT duplicate;

-- Stripe Connect: an organization may take payments into its own connected account
-- (`acct_…`, set by a platform administrator; one organization per account). Each payment
-- and subscription keeps the account it was made on, so refunds, lookups and cancellations
-- go to the same account whatever the settings say later.
ALTER TABLE payment_settings ADD COLUMN stripe_account TEXT;
CREATE UNIQUE INDEX payment_settings_stripe_account ON payment_settings (stripe_account);
ALTER TABLE payments ADD COLUMN provider_account TEXT;
ALTER TABLE subscriptions ADD COLUMN provider_account TEXT;
