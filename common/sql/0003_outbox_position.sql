-- The relay's side of the outbox. Sequence values are taken when rows are
-- inserted, so they can commit out of order; the relay therefore gives each
-- committed event its position in the service's event log, gap-free and in
-- the order it publishes them, once every transaction that could still add
-- an earlier event has ended (txid below the oldest running transaction).
-- The position is the event's sequence on the Redis stream and the feeds.
ALTER TABLE chuang_outbox ADD COLUMN position bigint UNIQUE;
CREATE INDEX chuang_outbox_unpublished ON chuang_outbox (txid, sequence)
    WHERE position IS NULL;

-- Wakes the relay (LISTEN chuang_outbox) when events are written; it also
-- polls, so a lost notification only delays.
CREATE FUNCTION chuang_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('chuang_outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
CREATE TRIGGER chuang_outbox_notify AFTER INSERT ON chuang_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION chuang_outbox_notify();
