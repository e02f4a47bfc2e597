-- The relay is woken through Redis (event_stream_wake after the commit)
-- instead of by NOTIFY: a transaction that notifies takes a lock at commit
-- that every other notifying transaction of the cluster waits for, so the
-- outbox's trigger made the commits of all writers take turns.
DROP TRIGGER chuang_outbox_notify ON chuang_outbox;
DROP FUNCTION chuang_outbox_notify();
