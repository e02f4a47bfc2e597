-- The idempotency store every service has in its own schema: the first
-- successful reply to each idempotency key, so that a retried request gets
-- that reply again instead of being applied twice.
CREATE TABLE chuang_idempotency (
    key          text PRIMARY KEY,
    method       text NOT NULL,
    request_hash text NOT NULL,       -- md5 of the method's input, to catch a reused key
    reply        bytea,               -- the packed chuang.Reply
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chuang_idempotency_created_at ON chuang_idempotency (created_at);
