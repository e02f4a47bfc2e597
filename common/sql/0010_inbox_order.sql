-- Per-aggregate order for consumers (consumer.c): an event whose handler
-- failed blocks the later events of its aggregate until it succeeds or an
-- operator releases the aggregate (consumer_release, chuangctl consumer
-- release); those later events wait here, in PostgreSQL, not in Redis.
CREATE TABLE chuang_inbox_blocks (
    stream       text NOT NULL,
    aggregate_id text NOT NULL,
    position     bigint NOT NULL,        -- the failed event, the earliest known
    event_id     uuid NOT NULL,
    failures     int NOT NULL DEFAULT 1,
    error        text NOT NULL,
    dead         boolean NOT NULL DEFAULT false, -- moved to the dead letters; waits for a release
    blocked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, aggregate_id)
);

CREATE TABLE chuang_inbox_held (
    stream       text NOT NULL,
    position     bigint NOT NULL,
    aggregate_id text NOT NULL,
    event        bytea NOT NULL,          -- the packed chuang.Event
    held_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, position)
);
CREATE INDEX chuang_inbox_held_aggregate ON chuang_inbox_held (stream, aggregate_id, position);
