-- Webhooks: HTTP receivers of the event log's changes (SPEC §6), each following the log from
-- its own position (`delivered_seq`: the last event handled, delivered or not selected). A
-- webhook starts at the log's head when it is created. Times are Unix milliseconds.

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    -- The selected event types, comma-separated (`status,phone`).
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    delivered_seq INTEGER NOT NULL,
    -- Since when the event after `delivered_seq` has failed, and how many attempts failed.
    failing_since INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL
);

-- The last attempts of each webhook (ctid keeps the newest ones).
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL CONSTRAINT webhook_deliveries_webhook_fk REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- Work that one instance of a cluster does at a time: the holder renews its lease before it
-- expires; another instance takes an expired one.
CREATE TABLE leases (
    name TEXT NOT NULL CONSTRAINT leases_pk PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

INSERT INTO leases (name, holder, expires_at) VALUES ('webhooks', '', 0);
