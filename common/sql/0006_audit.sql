-- The audit log: every accepted write, who made it (the authenticated
-- principal and the person it acted for), what (the method, the aggregates
-- its events name, a hash of its input), when and with what outcome, written
-- in the write's own transaction. Committed rows are sealed later (audit.c):
-- numbered 1, 2, 3... once no running transaction can precede them, each
-- hash chained to the one before, so that a row edited or removed by hand
-- breaks the chain; checkpoints sign a position and its hash with the
-- agency's key, so that rewriting the whole chain is caught too.
CREATE TABLE chuang_audit (
    id           bigserial PRIMARY KEY,
    txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at           timestamptz NOT NULL DEFAULT now(),
    agency       text NOT NULL,
    principal    text NOT NULL,
    kind         text NOT NULL,
    person       text NOT NULL,
    method       text NOT NULL,
    aggregates   text[] NOT NULL,
    request_hash text NOT NULL,
    outcome      text NOT NULL,
    position     bigint UNIQUE,
    hash         text
);
CREATE INDEX chuang_audit_unsealed ON chuang_audit (txid, id) WHERE position IS NULL;
CREATE INDEX chuang_audit_aggregates ON chuang_audit USING gin (aggregates);

CREATE TABLE chuang_audit_checkpoints (
    position  bigint PRIMARY KEY,
    hash      text NOT NULL,
    signed_at timestamptz NOT NULL DEFAULT now(),
    key_id    text NOT NULL,
    signature text NOT NULL
);
