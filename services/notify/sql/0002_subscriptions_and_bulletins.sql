-- Per-recipient rate limits, subscriptions to event topics and to policy
-- bulletin categories, and the bulletins officers publish.

-- E-mails or webhooks a recipient receives a minute at most, per channel;
-- 0 takes notify.rate_per_minute. Deliveries over it wait, they are not lost.
ALTER TABLE recipients ADD COLUMN rate_per_minute int NOT NULL DEFAULT 0
    CHECK (rate_per_minute >= 0);

-- kind 'topic': events whose type starts with value; kind 'category':
-- bulletins of that category for region (a division code; '' for all).
CREATE TABLE subscriptions (
    recipient text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('topic', 'category')),
    value     text NOT NULL,
    region    text NOT NULL DEFAULT '',
    PRIMARY KEY (recipient, kind, value, region)
);
CREATE INDEX subscriptions_value ON subscriptions (kind, value);

CREATE TABLE bulletins (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency       text NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL,
    categories   text[] NOT NULL,
    region       text NOT NULL DEFAULT '',
    published_by text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX deliveries_rate ON deliveries (recipient, channel, sent_at);
