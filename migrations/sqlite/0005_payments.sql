-- Payments (SQLite): per-organization provider settings, payments against a reference,
-- refunds, received provider webhooks (exactly-once), the double-entry money ledger and
-- subscriptions. Keep in step with migrations/postgres/0005_payments.sql (a test compares them).
--
-- Money is integer minor units plus an ISO 4217 code. Ledger lines are signed (debit > 0,
-- credit < 0); the lines of one ledger transaction sum to zero.

CREATE TABLE payment_settings (
    org_id BLOB PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    offline_enabled INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE payments (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    reference TEXT NOT NULL,
    event_id BLOB,
    provider TEXT NOT NULL,
    flow TEXT NOT NULL,
    status TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    currency TEXT NOT NULL,
    refunded_amount INTEGER NOT NULL DEFAULT 0,
    fee INTEGER NOT NULL DEFAULT 0,
    test_mode INTEGER NOT NULL,
    description TEXT NOT NULL,
    buyer_email TEXT NOT NULL,
    payer TEXT NOT NULL,
    payer_user_id BLOB,
    provider_payment_id TEXT,
    checkout_url TEXT,
    next_action TEXT,
    failure_code TEXT,
    failure_message TEXT,
    offline_reference TEXT,
    succeeded_at TEXT,
    failed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (refunded_amount >= 0 AND refunded_amount <= amount)
);
CREATE INDEX payments_org ON payments (org_id, id);
CREATE INDEX payments_reference ON payments (reference, id);
CREATE INDEX payments_payer ON payments (payer_user_id, id);
CREATE INDEX payments_in_flight ON payments (status, updated_at);
CREATE UNIQUE INDEX payments_provider_id ON payments (provider, provider_payment_id);
-- At most one payment per reference is in flight or holds money.
CREATE UNIQUE INDEX payments_live_reference ON payments (reference)
    WHERE status IN ('processing', 'requires_action', 'succeeded', 'partially_refunded');

CREATE TABLE refunds (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    payment_id BLOB NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    requested_by TEXT NOT NULL,
    provider_refund_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    succeeded_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, id);
CREATE UNIQUE INDEX refunds_provider_id ON refunds (provider_refund_id);

CREATE TABLE webhook_events (
    id BLOB PRIMARY KEY,
    org_id BLOB REFERENCES organizations (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    payment_id BLOB,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX webhook_events_once ON webhook_events (provider, event_id);

CREATE TABLE ledger_transactions (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    currency TEXT NOT NULL,
    payment_id BLOB,
    refund_id BLOB,
    event_id BLOB,
    test_mode INTEGER NOT NULL,
    memo TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ledger_transactions_org ON ledger_transactions (org_id, id);
CREATE INDEX ledger_transactions_event ON ledger_transactions (event_id);
-- A charge, fee or refund is written once however often its trigger is delivered.
CREATE UNIQUE INDEX ledger_transactions_once ON ledger_transactions (kind, source);

CREATE TABLE ledger_lines (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    transaction_id BLOB NOT NULL REFERENCES ledger_transactions (id) ON DELETE CASCADE,
    account TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ledger_lines_transaction ON ledger_lines (transaction_id);

CREATE TABLE subscriptions (
    id BLOB PRIMARY KEY,
    org_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    provider_subscription_id TEXT,
    provider_customer_id TEXT,
    customer_email TEXT NOT NULL,
    name TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    billing_interval TEXT NOT NULL,
    status TEXT NOT NULL,
    reference TEXT,
    test_mode INTEGER NOT NULL,
    canceled_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX subscriptions_org ON subscriptions (org_id, id);
CREATE UNIQUE INDEX subscriptions_provider_id ON subscriptions (provider, provider_subscription_id);
