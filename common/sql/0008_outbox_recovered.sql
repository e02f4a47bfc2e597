-- Events that relay reconciliation (relay_reconcile.h) took back into the
-- outbox from the stream after a database restore or failover: they were
-- published, but the change each reports is not in this database's state,
-- so an officer must enter it again or confirm it. NULL for every event the
-- service wrote itself.
ALTER TABLE chuang_outbox ADD COLUMN recovered_at timestamptz;
