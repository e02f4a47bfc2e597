-- The outbox every service has in its own schema: each event is written in
-- the same transaction as the state change it reports, so nothing is
-- published that was not committed and nothing committed is lost. The relay
-- reads rows in sequence order, only below the oldest running transaction
-- (txid), because sequence values can commit out of order.
CREATE TABLE chuang_outbox (
    sequence      bigserial PRIMARY KEY,
    id            uuid NOT NULL UNIQUE,
    txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    agency        text NOT NULL,
    type          text NOT NULL,
    aggregate_id  text NOT NULL,
    visibility    smallint NOT NULL CHECK (visibility BETWEEN 0 AND 3),
    payload_type  text NOT NULL,
    payload       bytea NOT NULL,
    trace_id      text NOT NULL DEFAULT '',
    occurred_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chuang_outbox_txid ON chuang_outbox (txid);
