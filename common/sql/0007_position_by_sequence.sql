-- The relay numbers committed events in sequence order, and the audit
-- sealer committed rows in id order, without waiting for older transactions
-- (relay.c says why that keeps causal order): the indexes of what is still
-- to be numbered follow that order. The order holds only while nextval is
-- taken at the insert, one value at a time: the sequences must stay
-- uncached (CACHE 1, the default).
DROP INDEX chuang_outbox_unpublished;
CREATE INDEX chuang_outbox_unpublished ON chuang_outbox (sequence) WHERE position IS NULL;
DROP INDEX chuang_outbox_txid;
DROP INDEX chuang_audit_unsealed;
CREATE INDEX chuang_audit_unsealed ON chuang_audit (id) WHERE position IS NULL;
