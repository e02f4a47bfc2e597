-- registry_tx_full.sql - pgbench script: every statement chuang-registry
-- sends PostgreSQL for one RegisterEntity, in its order, in one transaction
-- (common/service_worker.c, common/idempotency.c, services/registry/
-- handlers_entities.c handle_register, store_names.c
-- store_reservation_take and store_entities.c, common/outbox.c,
-- common/audit.c):
--   BEGIN (sent with the claim); the idempotency claim; the reservation
--   taken (UPDATE ... RETURNING); the organisation number drawn; the entity;
--   the 2 founders in one INSERT from arrays; the domicile and the business
--   address in one statement; the history started; the entity read back in
--   one statement; the event into chuang_outbox; the audit record and the
--   reply recorded under the idempotency key (sent with the COMMIT); COMMIT.
--   14 statements in 10 round trips, as the registry sends them.
-- The credit code is made from n, not from the organisation number (the
-- registry computes it in C; the nextval is kept for its cost).
--
-- Variables (pgbench -D), besides run, k and payload of registry_tx.sql:
--   input    the packed RegisterRequest as bytea text ("\x...")
--   reply    the packed chuang.Reply recorded under the key ("\x...")
-- Run with -M prepared (each statement parsed once per connection, as the
-- registry's db_query does) and search_path registry, as registry_tx.sql.
\set k :k + 1
\set n :run * 100000000 + :client_id * 100000 + :k
BEGIN;
INSERT INTO chuang_idempotency (scope, key, method, request_hash) VALUES (E'330106\nbench\n\n', md5('key' || :n), 'RegisterEntity', md5(convert_to('RegisterEntity' || E'\n' || 'officer,' || E'\n', 'UTF8') || :input::bytea)) ON CONFLICT (scope, key) DO NOTHING RETURNING 1;
UPDATE name_reservations SET status = 'used' WHERE agency = '330106' AND id = ('bbbbbbbb-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid AND status = 'reserved' RETURNING name, trade_name, industry, form, 'reserved', expires_on, expires_on < chuang_today('330106'), applicant_id_number;
SELECT nextval('organisation_numbers');
INSERT INTO entities (credit_code, agency, name, trade_name, industry, entity_type, legal_rep_name, legal_rep_id_number, legal_rep_phone, registered_capital_fen, business_scope, industry_code, reservation_id, registered_on) VALUES ('P' || lpad(:n::text, 17, '0'), '330106', '杭州P' || :n || '网络科技有限公司', 'P' || :n, '网络科技', 1::smallint, '李四', '330106199003071236', '13812345678', 100000000::bigint, '网络技术开发、技术服务', 'I6513', ('bbbbbbbb-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid, chuang_today('330106'));
INSERT INTO founders (credit_code, position, name, id_number, phone, categories, subscribed_capital_fen) SELECT 'P' || lpad(:n::text, 17, '0'), f.i - 1, f.name, f.id_number, f.phone, f.categories::smallint[], f.subscribed FROM unnest('{"李四","王五"}'::text[], '{"330106199003071236","330106200001014567"}'::text[], '{"13900001111","13900001111"}'::text[], '{"{1,2}","{1,2}"}'::text[], '{"50000000","50000000"}'::bigint[]) WITH ORDINALITY AS f (name, id_number, phone, categories, subscribed, i);
WITH wanted AS (SELECT * FROM unnest(ARRAY['330106', '330106']::text[], ARRAY['文三路 P' || :n || ' 号 1 幢 501 室', '西溪路 P' || :n || ' 号']::text[], '{domicile,business}'::text[], '{0,0}'::int[]) AS w (division_code, detail, kind, position)), inserted AS (INSERT INTO addresses (division_code, detail) SELECT DISTINCT w.division_code, w.detail FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM addresses a WHERE a.division_code = w.division_code AND a.detail = w.detail) ON CONFLICT (division_code, detail) DO NOTHING RETURNING id, division_code, detail), known AS (SELECT a.id, a.division_code, a.detail FROM addresses a WHERE EXISTS (SELECT 1 FROM wanted w WHERE w.division_code = a.division_code AND w.detail = a.detail) UNION ALL SELECT id, division_code, detail FROM inserted) INSERT INTO entity_addresses (credit_code, address_id, kind, position) SELECT 'P' || lpad(:n::text, 17, '0'), k.id, w.kind, w.position FROM wanted w JOIN LATERAL (SELECT id FROM known k WHERE k.division_code = w.division_code AND k.detail = w.detail LIMIT 1) k ON true ON CONFLICT (credit_code, kind, position) DO NOTHING;
INSERT INTO entity_history (credit_code, field, value, valid_from) SELECT e.credit_code, f.field, f.value, now() FROM entities e CROSS JOIN LATERAL (VALUES ('name', e.name), ('legal_representative.name', e.legal_rep_name), ('legal_representative.id_number', e.legal_rep_id_number), ('legal_representative.phone', e.legal_rep_phone), ('registered_capital_fen', e.registered_capital_fen::text), ('business_scope', e.business_scope), ('industry_code', e.industry_code), ('domicile', (SELECT a.division_code || ' ' || a.detail FROM entity_addresses ea JOIN addresses a ON a.id = ea.address_id WHERE ea.credit_code = e.credit_code AND ea.kind = 'domicile'))) AS f (field, value) WHERE e.credit_code = 'P' || lpad(:n::text, 17, '0');
WITH e AS (SELECT * FROM entities WHERE credit_code = 'P' || lpad(:n::text, 17, '0')) SELECT 0 AS part, 0 AS o, 0 AS p, credit_code, name, entity_type::text, legal_rep_name, legal_rep_id_number, legal_rep_phone, registered_capital_fen::text, business_scope, industry_code, registered_on::text, status, agency FROM e UNION ALL SELECT 1, 0, f.position, f.name, f.id_number, f.phone, f.categories::text, f.subscribed_capital_fen::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM founders f JOIN e USING (credit_code) UNION ALL SELECT 2, CASE WHEN ea.kind = 'domicile' THEN 0 ELSE 1 END, ea.position, a.division_code, a.detail, ea.kind, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM entity_addresses ea JOIN e USING (credit_code) JOIN addresses a ON a.id = ea.address_id ORDER BY part, o, p;
INSERT INTO chuang_outbox (id, agency, type, aggregate_id, visibility, payload_type, payload, trace_id) VALUES (gen_random_uuid(), '330106', 'registry.EntityRegistered', 'P' || lpad(:n::text, 17, '0'), 2, 'chuang.registry.Entity', :payload::bytea, md5('trace' || :n));
INSERT INTO chuang_audit (agency, principal, kind, person, method, aggregates, request_hash, outcome) VALUES ('330106', 'bench', 'plain', '', 'RegisterEntity', ARRAY['P' || lpad(:n::text, 17, '0')]::text[], encode(sha256(:input::bytea), 'hex'), 'ok');
UPDATE chuang_idempotency SET reply = :reply::bytea WHERE scope = E'330106\nbench\n\n' AND key = md5('key' || :n);
COMMIT;
