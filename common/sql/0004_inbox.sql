-- The inbox every consuming service has in its own schema: each event it
-- applied, recorded in the transaction of its effect, so that an event
-- delivered again changes nothing.
CREATE TABLE chuang_inbox (
    event_id    uuid PRIMARY KEY,
    stream      text NOT NULL,
    position    bigint NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chuang_inbox_position ON chuang_inbox (stream, position);
