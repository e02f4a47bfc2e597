-- finance_pay_tx.sql - pgbench script: every statement finance sends for
-- one PayAward of an awarded application (as PostgreSQL's log shows them
-- with log_statement = all), in one transaction: the framework's
-- idempotency claim, the handler's read (the application locked, with its
-- programme's kind and fund), the payment recorded on the application, the
-- journal entry (committed to cash) and its read-back, the
-- finance.EntryPosted event in the outbox, the audit record and the reply
-- kept for a retry.
--
-- Variables (pgbench -D; run with -M prepared, as finance's statements are
-- prepared once per connection):
--   apps   how many applications bench_finance made (ids first .. first+apps-1)
--   first  the first application's id
--   k      0 at the start; counted up per transaction for the request key
-- and search_path finance (PGOPTIONS='-c search_path=finance'). pgbench
-- takes every ":name" as a variable, even in a string: the account codes
-- are spelt with chr(58).
\set k :k + 1
\set app :first + (:client_id % :apps)
BEGIN;
INSERT INTO chuang_idempotency (scope, key, method, request_hash) VALUES ('bench-agency' || E'\n' || 'bench', 'pgbench-' || :client_id || '-' || :k, 'PayAward', md5('PayAward' || :k)) ON CONFLICT (scope, key) DO NOTHING RETURNING 1;
SELECT a.status, a.awarded_fen - a.paid_fen, p.fund, p.kind FROM applications a JOIN programmes p ON p.agency = a.agency AND p.code = a.programme WHERE a.agency = 'bench-agency' AND a.id = :app FOR UPDATE OF a;
UPDATE applications SET paid_fen = paid_fen + 1, status = CASE WHEN paid_fen + 1 = awarded_fen THEN 'paid' ELSE status END WHERE agency = 'bench-agency' AND id = :app AND status = 'awarded' RETURNING status;
WITH locked AS MATERIALIZED (SELECT id, code FROM accounts WHERE agency = 'bench-agency' AND code = ANY (ARRAY['bench' || chr(58) || 'committed', 'bench' || chr(58) || 'cash']) ORDER BY id FOR UPDATE), e AS (INSERT INTO journal_entries (agency, booked_on, kind, cause, memo, recorded_by, reverses) VALUES ('bench-agency', chuang_today('bench-agency'), 'payment', 'application:' || :app, 'bench', 'bench', NULL) RETURNING id), lines AS (INSERT INTO postings (entry_id, account_id, amount) SELECT e.id, a.id, u.amount FROM e, unnest(ARRAY['bench' || chr(58) || 'committed', 'bench' || chr(58) || 'cash'], '{1,-1}'::bigint[]) AS u (code, amount) JOIN locked a ON a.code = u.code RETURNING 1) SELECT (SELECT id FROM e) AS entry_id, (SELECT count(*) FROM lines) AS lines \gset
SELECT e.id, e.booked_on::text AS booked_on, (extract(epoch FROM e.recorded_at) * 1000)::bigint AS recorded_ms, e.kind, e.cause, e.memo, e.recorded_by, coalesce(e.reverses, 0) AS reverses, coalesce(r.id, 0) AS reversed_by FROM journal_entries e LEFT JOIN journal_entries r ON r.reverses = e.id WHERE e.agency = 'bench-agency' AND e.id = :entry_id;
SELECT a.code AS account, p.amount AS amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = :entry_id AND a.agency = 'bench-agency' ORDER BY p.amount DESC, a.code;
INSERT INTO chuang_outbox (id, agency, type, aggregate_id, visibility, payload_type, payload, trace_id) VALUES (gen_random_uuid(), 'bench-agency', 'finance.EntryPosted', 'bench', 1, 'chuang.finance.Entry', '\x080d120a323032362d31322d3032189d82f5baa33422077061796d656e742a0d6170706c69636174696f6e3a383209e7acace4b880e7ac943a086b65657065722d3352180a12687a2d6a6f696e743a636f6d6d697474656410a08d06521a0a0d687a2d6a6f696e743a6361736810e0f2f9ffffffffffff01'::bytea, 'pgbench');
INSERT INTO chuang_audit (agency, principal, kind, person, method, aggregates, request_hash, outcome) VALUES ('bench-agency', 'bench', 'plain', 'bench', 'PayAward', '{bench}'::text[], encode(sha256('\x0808'::bytea), 'hex'), 'ok');
UPDATE chuang_idempotency SET reply = '\x0a20'::bytea WHERE scope = 'bench-agency' || E'\n' || 'bench' AND key = 'pgbench-' || :client_id || '-' || :k;
COMMIT;
